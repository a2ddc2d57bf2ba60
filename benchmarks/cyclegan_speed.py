"""Speed of CycleGAN training: the project's path against a plain eager loop written the way
junyanz/pytorch-CycleGAN-and-pix2pix trains, same data, same networks, one process.

Prints figures; asserts nothing. Both sides train two shared ``ResnetGenerator`` and two
``NLayerPatchDiscriminator`` (instance norm) with random weights, at the widths of
``--widths``: ``cpu`` reads conf/base (+ conf/local), what ``kedro run`` trains by default;
``reference`` reads conf/paper (ngf 64, 9 residual blocks, 70x70 PatchGAN, ndf 64). The data are
two domains of pictures drawn here (coloured shapes on a textured ground, two palettes; nothing
is read or downloaded), each picture jittered like the reference: resize to 286/256 of the
resolution (bicubic), random crop back, random flip, independently per domain.

* reference-style: each domain's pictures stored as PNGs; every sample decodes one A and one
  (random) B picture with PIL in ``__getitem__`` and transforms each with torchvision (``Resize``
  bicubic, ``RandomCrop``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``), as the
  reference's ``UnalignedDataset``; default ``DataLoader``; eager fp32, no channels_last, no
  autocast; one step is the reference's ``optimize_parameters``: the four generator passes, both
  D frozen, the G step (LSGAN as ``MSELoss`` against an expanded target, cycle L1 x 10,
  identity L1 x 5), then D_A and D_B on a Python-``random`` image pool (50), each halved loss
  backpropagated on its own, one D step; plain Adam (``foreach``, the default).
* project: the decoded pictures cached as uint8 in an :class:`UnpairedImageDataset` with the
  :class:`ResizeCropFlip` recipe, batches moved as uint8 and made floats on the device,
  :class:`~gan_pipelines.families.unpaired.tasks.CycleGANTask` (the same losses, built from
  the same parameters as the train node) under the engine's step context: channels_last,
  autocast at the selected precision (bf16 where the device has it), fused Adam.

Example::

    python benchmarks/cyclegan_speed.py --resolutions 64 --batches 1 4 --threads 2
    python benchmarks/cyclegan_speed.py --widths reference --resolutions 256 --batches 1 --steps 2 --warmup 1
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import random
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROJECT, Measured, add_timing_options, apply_timing_options, measure_training  # noqa: E402
from paired_speed import task_step_fn  # noqa: E402

from gan_pipelines.families.unpaired.config import CycleGANTrainParams as TrainParams  # noqa: E402
from gan_pipelines.families.unpaired.networks import build_cyclegan  # noqa: E402
from gan_pipelines.families.unpaired.tasks import CycleGANTask  # noqa: E402
from gan_pipelines.models import count_parameters  # noqa: E402
from gan_pipelines.models.gan_losses import GANLoss  # noqa: E402
from gan_pipelines.training import ResizeCropFlip, UnpairedImageDataset, make_loader  # noqa: E402

# --widths -> Kedro environment merged over conf/base ("local" is what a plain `kedro run` reads).
WIDTH_ENVS = {"cpu": "local", "reference": "paper"}
PALETTES = {
    "A": np.array([[200, 60, 40], [40, 160, 60], [50, 80, 200], [220, 200, 60]], np.uint8),
    "B": np.array([[90, 30, 120], [20, 90, 90], [150, 110, 60], [230, 140, 180]], np.uint8),
}


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _parameters(env: str) -> dict[str, Any]:
    from kedro.config import OmegaConfigLoader

    from gan_pipelines.settings import CONFIG_LOADER_ARGS

    return dict(OmegaConfigLoader(conf_source=str(PROJECT / "conf"), env=env, **CONFIG_LOADER_ARGS)["parameters"])


def train_params(width: str, resolution: int, batch: int) -> TrainParams:
    """``cyclegan.train`` as Kedro reads it for ``width``, at ``resolution`` (crop) with the
    benchmark's batch size, validated."""
    params = copy.deepcopy(dict(_parameters(WIDTH_ENVS[width])["cyclegan"]["train"]))
    params["batch_size"] = batch
    params["augmentation"] = {**dict(params.get("augmentation") or {}), "crop_size": resolution,
                              "load_size": load_size(resolution)}
    return TrainParams.parse(params, "cyclegan.train")


def load_size(resolution: int) -> int:
    return resolution * 286 // 256


def draw_domain(domain: str, count: int, resolution: int, seed: int) -> np.ndarray:
    """uint8 (count, R, R, 3): shapes in the domain's palette on a noisy ramp."""
    rng = np.random.default_rng(seed)
    palette = PALETTES[domain]
    ramp = np.linspace(60, 140, resolution)[None, :, None]
    pictures = np.empty((count, resolution, resolution, 3), np.uint8)
    for index in range(count):
        canvas = np.broadcast_to(ramp, (resolution, resolution, 3)) + rng.normal(0, 12, (resolution, resolution, 3))
        for _ in range(5):
            y, x = rng.integers(0, resolution - resolution // 4, 2)
            h, w = rng.integers(resolution // 8, resolution // 3, 2)
            canvas[y:y + h, x:x + w] = palette[rng.integers(len(palette))]
        pictures[index] = np.clip(canvas, 0, 255).astype(np.uint8)
    return pictures


def networks(settings: TrainParams, resolution: int) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return build_cyclegan(*settings.network_configs(resolution))


# --------------------------------------------------------------------------------------------
# The project's path
# --------------------------------------------------------------------------------------------


def project_loader(a: np.ndarray, b: np.ndarray, resolution: int, batch: int, workers: int, device) -> DataLoader:
    recipe = ResizeCropFlip(crop_size=resolution, load_size=load_size(resolution), hflip_p=0.5)
    dataset = UnpairedImageDataset({"A": a}, {"B": b}, {"A": "rgb", "B": "rgb"}, augment=recipe, seed=0)
    return make_loader(dataset, batch, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda",
                       drop_last=True)


def project_step_fn(settings: TrainParams, resolution: int, device, precision, channels_last: bool,
                    compile_: bool) -> Callable[[Any], None]:
    """One step of the task the train node builds (same weights, pool and loss settings)."""
    nets = networks(settings, resolution)
    weights = settings.loss_weights
    task = CycleGANTask(
        {k: nets[k] for k in ("G_AB", "G_BA")}, {k: nets[k] for k in ("D_A", "D_B")}, GANLoss("lsgan"),
        adversarial_weight=weights.adversarial, cycle_weight=weights.cycle,
        identity_weight=settings.effective_identity_weight(), pool_size=settings.pool_size, lr=settings.lr,
        betas=tuple(settings.betas),
    )
    return task_step_fn(task, device, precision, channels_last, compile_)


# --------------------------------------------------------------------------------------------
# The reference-style path
# --------------------------------------------------------------------------------------------


class UnalignedPNGDataset(Dataset):
    """The reference's ``UnalignedDataset``: A picture ``index % n_A`` and a random B picture,
    each decoded from its PNG and transformed (its own crop and flip) on every access."""

    def __init__(self, root: Path, counts: dict[str, int], resolution: int) -> None:
        import torchvision.transforms as T

        self.paths = {d: [root / d / f"{i:05d}.png" for i in range(n)] for d, n in counts.items()}
        load = load_size(resolution)
        self.transform = T.Compose([
            T.Resize([load, load], T.InterpolationMode.BICUBIC), T.RandomCrop(resolution),
            T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ])

    def __len__(self) -> int:
        return max(len(self.paths["A"]), len(self.paths["B"]))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        a_path = self.paths["A"][index % len(self.paths["A"])]
        b_path = self.paths["B"][random.randint(0, len(self.paths["B"]) - 1)]
        a, b = Image.open(a_path).convert("RGB"), Image.open(b_path).convert("RGB")
        return {"A": self.transform(a), "B": self.transform(b)}


def write_pngs(root: Path, domain: str, pictures: np.ndarray) -> None:
    (root / domain).mkdir(parents=True, exist_ok=True)
    for index, picture in enumerate(pictures):
        Image.fromarray(picture).save(root / domain / f"{index:05d}.png")


class ReferenceImagePool:
    """The reference's ``util/image_pool.py`` ``ImagePool``."""

    def __init__(self, pool_size: int) -> None:
        self.pool_size, self.num_imgs, self.images = pool_size, 0, []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        return_images = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                return_images.append(image)
            elif random.uniform(0, 1) > 0.5:
                random_id = random.randint(0, self.pool_size - 1)
                tmp = self.images[random_id].clone()
                self.images[random_id] = image
                return_images.append(tmp)
            else:
                return_images.append(image)
        return torch.cat(return_images, 0)


def reference_step_fn(settings: TrainParams, resolution: int, device) -> Callable[[Any], None]:
    nets = {k: v.to(device).train() for k, v in networks(settings, resolution).items()}
    g_a, g_b, d_a, d_b = nets["G_AB"], nets["G_BA"], nets["D_B"], nets["D_A"]  # the reference's names
    opt_g = torch.optim.Adam(itertools.chain(g_a.parameters(), g_b.parameters()), lr=settings.lr,
                             betas=tuple(settings.betas))
    opt_d = torch.optim.Adam(itertools.chain(d_a.parameters(), d_b.parameters()), lr=settings.lr,
                             betas=tuple(settings.betas))
    mse = torch.nn.MSELoss()
    weights = settings.loss_weights
    lambda_a = lambda_b = weights.cycle
    lambda_idt = settings.effective_identity_weight() / weights.cycle if weights.cycle else 0.0
    fake_a_pool, fake_b_pool = ReferenceImagePool(settings.pool_size), ReferenceImagePool(settings.pool_size)

    def gan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
        return mse(prediction, torch.tensor(1.0 if real else 0.0, device=device).expand_as(prediction))

    def set_requires_grad(modules, flag: bool) -> None:
        for module in modules:
            for parameter in module.parameters():
                parameter.requires_grad = flag

    def backward_d_basic(net, real, fake):
        loss = (gan(net(real), True) + gan(net(fake.detach()), False)) * 0.5
        loss.backward()
        return loss

    def run(batch):
        real_a, real_b = batch["A"].to(device), batch["B"].to(device)
        fake_b = g_a(real_a)
        rec_a = g_b(fake_b)
        fake_a = g_b(real_b)
        rec_b = g_a(fake_a)
        set_requires_grad([d_a, d_b], False)
        opt_g.zero_grad()
        loss_idt = 0.0
        if lambda_idt > 0:
            loss_idt = (F.l1_loss(g_a(real_b), real_b) * lambda_b * lambda_idt
                        + F.l1_loss(g_b(real_a), real_a) * lambda_a * lambda_idt)
        loss_g = (gan(d_a(fake_b), True) * weights.adversarial + gan(d_b(fake_a), True) * weights.adversarial
                  + F.l1_loss(rec_a, real_a) * lambda_a + F.l1_loss(rec_b, real_b) * lambda_b + loss_idt)
        loss_g.backward()
        opt_g.step()
        set_requires_grad([d_a, d_b], True)
        opt_d.zero_grad()
        backward_d_basic(d_a, real_b, fake_b_pool.query(fake_b))
        backward_d_basic(d_b, real_a, fake_a_pool.query(fake_a))
        opt_d.step()

    return run


# --------------------------------------------------------------------------------------------


def compare(root: Path, a: np.ndarray, b: np.ndarray, settings: TrainParams, resolution: int, batch: int, args,
            device, precision, channels_last: bool, sides=("reference", "project")) -> dict[str, Measured]:
    """``{side: Measured}`` of each of ``sides``: training on the domains ``a``, ``b``
    (:func:`draw_domain`), stored under ``root/A`` and ``root/B`` by :func:`write_pngs` for the
    reference-style side. ``args``: the timing flags (steps, warmup, workers, compile)."""

    def reference():
        loader = DataLoader(UnalignedPNGDataset(root, {"A": len(a), "B": len(b)}, resolution), batch_size=batch,
                            shuffle=True, drop_last=True, num_workers=args.workers)
        return reference_step_fn(settings, resolution, device), loader

    def project():
        loader = project_loader(a, b, resolution, batch, args.workers, device)
        return project_step_fn(settings, resolution, device, precision, channels_last, args.compile), loader

    makers = {"reference": reference, "project": project}
    return {side: measure_training(makers[side], device, args.warmup, args.steps, batch) for side in sides}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--widths", nargs="+", default=["cpu"], choices=list(WIDTH_ENVS))
    parser.add_argument("--pictures", type=int, default=24, help="pictures drawn per domain")
    parser.add_argument("--sides", nargs="+", default=["reference", "project"], choices=["reference", "project"])
    add_timing_options(parser, workers_help="DataLoader workers (both paths)")
    args = parser.parse_args(argv)

    device, precision, channels_last = apply_timing_options(args)
    print(
        f"device={device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
        f"precision={precision.name}, channels_last={channels_last}, compile={args.compile}, workers={args.workers}, "
        f"torch {torch.__version__}",
        flush=True,
    )
    random.seed(0)
    labels = {"reference": "reference-style eager fp32", "project": f"project ({precision.name})"}
    rows: list[tuple[str, str]] = []
    for resolution in args.resolutions:
        a = draw_domain("A", args.pictures, resolution, 0)
        b = draw_domain("B", args.pictures + 3, resolution, 1)  # the domains differ in size, as real ones do
        with tempfile.TemporaryDirectory(prefix="cyclegan_bench_") as tmp:
            write_pngs(Path(tmp), "A", a)
            write_pngs(Path(tmp), "B", b)
            for width in args.widths:
                for batch in args.batches:
                    settings = train_params(width, resolution, batch)
                    g_cfg, d_cfg = settings.network_configs(resolution)
                    nets = networks(settings, resolution)
                    shape = (f"ngf {g_cfg['ngf']}, {g_cfg['n_blocks']} blocks ({count_parameters(nets['G_AB']) / 1e6:.2f} M), "
                             f"ndf {d_cfg['ndf']}, {d_cfg['n_layers']} layers")
                    measured = compare(Path(tmp), a, b, settings, resolution, batch, args, device, precision,
                                       channels_last, args.sides)
                    for side, result in measured.items():
                        name = f"{resolution} px, {width} width, batch {batch}: {labels[side]}"
                        rows.append((name, f"{result.img_s:.3g} img/s, peak {result.memory.text()}"))
                        print(f"  {name} [{shape}]: {result.img_s:.3g} img/s ({result.seconds:.0f} s)", flush=True)
                    if len(measured) == 2:
                        rows.append((f"{resolution} px, {width} width, batch {batch}: ratio project / reference",
                                     f"{measured['project'].img_s / measured['reference'].img_s:.2f}x"))

    width = max(len(name) for name, _ in rows)
    print("\n(img/s: (A, B) couples per second, each a full CycleGAN step over both directions)")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
