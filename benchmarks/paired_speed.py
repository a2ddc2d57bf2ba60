"""Speed of pix2pix training: the project's path against a plain eager loop written like the
reference (junyanz/pytorch-CycleGAN-and-pix2pix), same data, same networks.

Prints figures; asserts nothing. Both sides train the shared ``UNetGenerator`` (``num_downs`` =
log2(resolution), ngf 64, batch norm, dropout) and the conditional ``NLayerPatchDiscriminator``
(70x70, ndf 64, batch norm) with random weights, on label-map / picture pairs drawn here
(coloured rectangles on a textured ground; nothing is read or downloaded), with pix2pix's
jitter: resize to 286/256 of the resolution (bicubic), random crop back, random flip.

* reference-style: the pairs stored as aligned ``A|B`` PNGs; every sample is decoded with PIL
  in ``__getitem__`` and transformed with torchvision (``Resize`` bicubic, crop, flip,
  ``ToTensor``, ``Normalize``) separately for A and B; default ``DataLoader``; eager fp32, no
  channels_last; one step = G forward, D step on the detached fake (BCE, halved), then the G
  step with D's ``requires_grad`` off (BCE + 100 L1), as the reference's ``optimize_parameters``.
* project: the decoded pairs cached as uint8 in a :class:`PairedImageDataset` with the
  :class:`ResizeCropFlip` recipe, batches moved as uint8 and made floats on the device,
  :class:`PairedGANTask` (the same losses) under the engine's step context: channels_last,
  autocast at the selected precision (bf16 where the device has it), fused Adam.

Example::

    python benchmarks/paired_speed.py --resolutions 64 --batches 1 8 --steps 8
    python benchmarks/paired_speed.py --resolutions 256 --batches 1 8 --steps 3 --warmup 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Measured, add_timing_options, apply_timing_options, measure_training  # noqa: E402
from shadow_speed import project_step_context  # noqa: E402

from gan_pipelines.models.discriminators import NLayerPatchDiscriminator  # noqa: E402
from gan_pipelines.models.gan_losses import GANLoss  # noqa: E402
from gan_pipelines.models.generators import build_generator  # noqa: E402
from gan_pipelines.training import (  # noqa: E402
    PairedGANTask, PairedImageDataset, ResizeCropFlip, batch_to_device, make_loader,
)

NUM_CLASSES = 6
PALETTE = np.array([[128, 64, 128], [70, 70, 70], [220, 20, 60], [0, 0, 142], [107, 142, 35], [70, 130, 180]], np.uint8)


def make_pairs(count: int, resolution: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` uint8 (count, R, R, 3): colour-coded label maps (pix2pix takes them as RGB
    images) and pictures with per-class colours, shading and noise."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((count, resolution, resolution), np.int64)
    labels[:, : resolution // 3] = 5  # sky
    for index in range(count):
        for _ in range(6):
            cls = int(rng.integers(1, NUM_CLASSES - 1))
            y, x = rng.integers(0, resolution - resolution // 4, 2)
            h, w = rng.integers(resolution // 10, resolution // 3, 2)
            labels[index, y : y + h, x : x + w] = cls
    ramp = np.linspace(0.7, 1.1, resolution)[None, :, None, None]
    pictures = PALETTE[labels] * ramp + rng.normal(0, 10, (count, resolution, resolution, 3))
    return PALETTE[labels], np.clip(pictures, 0, 255).astype(np.uint8)


def generator_config(resolution: int) -> dict[str, Any]:
    """The U-Net both sides train (``build_generator``'s config): as deep as the resolution allows."""
    return {"type": "unet", "num_downs": int(round(np.log2(resolution))), "ngf": 64, "norm": "batch", "use_dropout": True}


def networks(resolution: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    generator = build_generator(generator_config(resolution))
    discriminator = NLayerPatchDiscriminator(6, ndf=64, n_layers=3, norm="batch")
    return generator, discriminator


def load_size(resolution: int) -> int:
    return resolution * 286 // 256


def _l1(fake: torch.Tensor, target: torch.Tensor, batch: Any) -> torch.Tensor:
    return F.l1_loss(fake, target)


# --------------------------------------------------------------------------------------------
# The project's path
# --------------------------------------------------------------------------------------------


def project_loader(a: np.ndarray, b: np.ndarray, resolution: int, batch: int, workers: int, device) -> DataLoader:
    recipe = ResizeCropFlip(crop_size=resolution, load_size=load_size(resolution))
    dataset = PairedImageDataset({"input": a, "target": b}, {"input": "rgb", "target": "rgb"}, augment=recipe, seed=0)
    return make_loader(dataset, batch, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda", drop_last=True)


def project_step_fn(resolution: int, device, precision, channels_last: bool, compile_: bool) -> Callable[[Any], None]:
    torch.manual_seed(0)
    generator, discriminator = networks(resolution)
    task = PairedGANTask(generator, discriminator, GANLoss("vanilla"), conditional=True, extra_losses={"l1": (100.0, _l1)})
    return task_step_fn(task, device, precision, channels_last, compile_)


def task_step_fn(task, device, precision, channels_last: bool, compile_: bool) -> Callable[[Any], None]:
    """One training step of a paired task under the engine's step context (channels_last,
    autocast, fused Adam), on a batch from the project's loader."""
    step = project_step_context(task.modules, task.optimizers, device, precision, channels_last, compile_)

    def run(batch):
        step.global_step += 1
        task.train_step(batch_to_device(batch, device, channels_last), step)
        step._end_iteration()

    return run


# --------------------------------------------------------------------------------------------
# The reference-style path
# --------------------------------------------------------------------------------------------


class AlignedPNGDataset(Dataset):
    """The reference's ``AlignedDataset``: one ``A|B`` PNG per pair, decoded and transformed on
    every access."""

    def __init__(self, root: Path, count: int, resolution: int) -> None:
        import torchvision.transforms as T

        self.paths = [root / f"{index:05d}.png" for index in range(count)]
        self.resolution, self.load = resolution, load_size(resolution)
        self.T = T

    def __len__(self) -> int:
        return len(self.paths)

    def _transform(self, image: Image.Image, x: int, y: int, flip: bool) -> torch.Tensor:
        T = self.T
        steps = [
            T.Resize([self.load, self.load], T.InterpolationMode.BICUBIC),
            T.Lambda(lambda im: im.crop((x, y, x + self.resolution, y + self.resolution))),
        ]
        if flip:
            steps.append(T.Lambda(lambda im: im.transpose(Image.FLIP_LEFT_RIGHT)))
        steps += [T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
        return T.Compose(steps)(image)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ab = Image.open(self.paths[index]).convert("RGB")
        width, height = ab.size
        a, b = ab.crop((0, 0, width // 2, height)), ab.crop((width // 2, 0, width, height))
        x, y = (int(v) for v in np.random.randint(0, self.load - self.resolution + 1, 2))
        flip = bool(np.random.random() > 0.5)
        return {"A": self._transform(a, x, y, flip), "B": self._transform(b, x, y, flip)}


def write_aligned(root: Path, a: np.ndarray, b: np.ndarray) -> None:
    for index, (left, right) in enumerate(zip(a, b)):
        Image.fromarray(np.concatenate([left, right], axis=1)).save(root / f"{index:05d}.png")


def reference_step_fn(resolution: int, device) -> Callable[[Any], None]:
    torch.manual_seed(0)
    generator, discriminator = networks(resolution)
    generator, discriminator = generator.to(device).train(), discriminator.to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = torch.nn.BCEWithLogitsLoss()

    def set_requires_grad(net: torch.nn.Module, flag: bool) -> None:
        for parameter in net.parameters():
            parameter.requires_grad = flag

    def run(batch):
        real_a, real_b = batch["A"].to(device), batch["B"].to(device)
        fake_b = generator(real_a)
        set_requires_grad(discriminator, True)
        opt_d.zero_grad()
        pred_fake = discriminator(torch.cat((real_a, fake_b), 1).detach())
        pred_real = discriminator(torch.cat((real_a, real_b), 1))
        loss_d = 0.5 * (bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real)))
        loss_d.backward()
        opt_d.step()
        set_requires_grad(discriminator, False)
        opt_g.zero_grad()
        pred_fake = discriminator(torch.cat((real_a, fake_b), 1))
        loss_g = bce(pred_fake, torch.ones_like(pred_fake)) + 100.0 * F.l1_loss(fake_b, real_b)
        loss_g.backward()
        opt_g.step()

    return run


# --------------------------------------------------------------------------------------------


def compare(root: Path, a: np.ndarray, b: np.ndarray, resolution: int, batch: int, args, device, precision,
            channels_last: bool) -> dict[str, Measured]:
    """Both paths' training, ``{"reference": Measured, "project": Measured}``, on the pairs ``a``,
    ``b`` (:func:`make_pairs`), stored under ``root`` by :func:`write_aligned` for the
    reference-style side. ``args``: the timing flags (steps, warmup, workers, compile)."""

    def reference():
        loader = DataLoader(AlignedPNGDataset(root, len(a), resolution), batch_size=batch, shuffle=True, drop_last=True,
                            num_workers=args.workers)
        return reference_step_fn(resolution, device), loader

    def project():
        loader = project_loader(a, b, resolution, batch, args.workers, device)
        return project_step_fn(resolution, device, precision, channels_last, args.compile), loader

    return {side: measure_training(make, device, args.warmup, args.steps, batch)
            for side, make in (("reference", reference), ("project", project))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--pairs", type=int, default=32, help="pairs drawn for the benchmark data")
    add_timing_options(parser, workers_help="DataLoader workers (both paths)")
    args = parser.parse_args(argv)

    device, precision, channels_last = apply_timing_options(args)
    print(
        f"device={device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
        f"precision={precision.name}, channels_last={channels_last}, compile={args.compile}, workers={args.workers}, "
        f"ngf=ndf=64, torch {torch.__version__}",
        flush=True,
    )
    labels = {"reference": "reference-style eager fp32", "project": f"project ({precision.name})"}
    rows: list[tuple[str, str]] = []
    for resolution in args.resolutions:
        a, b = make_pairs(args.pairs, resolution)
        with tempfile.TemporaryDirectory(prefix="paired_bench_") as tmp:
            write_aligned(Path(tmp), a, b)
            for batch in args.batches:
                if batch > args.pairs:
                    continue
                measured = compare(Path(tmp), a, b, resolution, batch, args, device, precision, channels_last)
                for side, result in measured.items():
                    name = f"{resolution} px, batch {batch}: {labels[side]}"
                    rows.append((name, f"{result.img_s:.1f} img/s, peak {result.memory.text()}"))
                    print(f"  {name}: {result.img_s:.1f} img/s ({result.seconds:.0f} s)", flush=True)
                rows.append((f"{resolution} px, batch {batch}: ratio project / reference",
                             f"{measured['project'].img_s / measured['reference'].img_s:.2f}x"))

    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
