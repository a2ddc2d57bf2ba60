"""Speed of the shadow model: training img/s, inference ms/image, data-loading img/s.

Prints figures; asserts nothing. Models are built from the project's parameter files
(``--env base`` or ``--env paper``) with random weights, on scenes rendered into a temporary
folder by the synthetic renderer (nothing downloads). The perceptual loss uses a randomly
initialised VGG16 relu3_3 extractor: the weights do not change its cost, and real ImageNet
weights are usually not on disk.

Modes (``--mode``; several may be given):

* ``attention``  training img/s of the attention block (forward + Dice + backward + Adam);
* ``generator``  training img/s of one full generator step: G + perceptual + LSGAN, then D;
* ``inference``  ms per image of the two-block model (attention -> threshold -> generator);
* ``data``       img/s of the training data loader alone;
* ``compare``    the same generator and attention steps on the same data, twice: once as a plain
  eager fp32 loop written the way the reference tutorial trains (per-sample PNG decode and
  float augmentation in ``__getitem__``, default DataLoader, no channels_last, no autocast, D
  receiving weight gradients in the generator's pass, perceptual loss run separately on each
  output with the target's features recomputed each time), once through the project's path
  (decoded images cached in memory, uint8 augmentation, channels_last, automatic precision, D
  frozen in the generator's pass, one VGG pass for both outputs). Prints both and the ratio.

Examples::

    python benchmarks/shadow_speed.py --mode compare --resolution 64 --batch 16
    python benchmarks/shadow_speed.py --mode attention generator inference data --resolution 256 --batch 8
    python benchmarks/shadow_speed.py --env paper --resolution 256 --batch 18 --precision bf16 --compile
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import yaml  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from gan_pipelines.families.shadow.inference import ShadowInference  # noqa: E402
from gan_pipelines.families.shadow.networks import (  # noqa: E402
    build_attention_net, build_shadow_generator,
)
from gan_pipelines.models.discriminators import build_discriminator  # noqa: E402
from gan_pipelines.families.shadow.synthetic import shadow_ar_images  # noqa: E402
from gan_pipelines.families.shadow.tasks import AttentionTask, GeneratorLossWeights, ShadowGANTask, to_signed  # noqa: E402
from gan_pipelines.models.losses import PerceptualLoss, dice_loss  # noqa: E402
from gan_pipelines.models.pretrained import PERCEPTUAL_DEFAULTS  # noqa: E402
from gan_pipelines.synthetic import SyntheticConfig, render_scene, scene_seed  # noqa: E402
from gan_pipelines.training import AugmentConfig, PairedImageDataset, StepContext, batch_to_device, make_loader  # noqa: E402
from gan_pipelines.training.data import build_paired_transform  # noqa: E402
from gan_pipelines.training.engine import use_fused_kernels  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROJECT, Measured, Timer, add_timing_options, apply_timing_options, inference_ms, measure_training  # noqa: E402

KINDS_RGB = ("noshadow", "shadow")
KINDS_MASK = ("mask", "robject", "rshadow", "shadow_mask")
# (image keys, mask keys) each block trains on
BLOCK_KEYS = {"attention": (("noshadow",), ("mask", "robject", "rshadow")), "generator": (KINDS_RGB, KINDS_MASK)}


def _lsgan(prediction: torch.Tensor, label: float) -> torch.Tensor:
    """LSGAN as a plain loop writes it (the reference-style side of the comparison)."""
    return F.mse_loss(prediction.float(), torch.full_like(prediction.float(), label))


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


def load_params(env: str) -> dict[str, Any]:
    """conf/base parameters, with conf/<env> merged over them (the way Kedro merges them)."""

    def merge(base: dict, override: dict) -> dict:
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    params: dict[str, Any] = {}
    for folder in ["base"] + ([env] if env != "base" else []):
        for path in sorted((PROJECT / "conf" / folder / "shadow").glob("parameters*.yml")):
            params = merge(params, yaml.safe_load(path.read_text()) or {})
    return params["shadow"]


def render_dataset(root: Path, count: int, resolution: int) -> dict[str, np.ndarray]:
    """Render ``count`` scenes, write them as PNGs in the Shadow-AR layout under ``root`` (for
    the per-sample-decode path) and return them stacked (for the cached path)."""
    config = SyntheticConfig.from_params({"resolution": resolution, "num_train": count, "num_test": 1}, section="benchmark")
    stacks: dict[str, list[np.ndarray]] = {k: [] for k in KINDS_RGB + KINDS_MASK}
    for kind in stacks:
        (root / kind).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        images = shadow_ar_images(render_scene(config, scene_seed(config, "train", index)))
        for kind, image in images.items():
            stacks[kind].append(image)
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
            cv2.imwrite(str(root / kind / f"{index:05d}.png"), bgr)
    return {k: np.stack(v) for k, v in stacks.items()}


def random_vgg_perceptual(precision: str = "fp32") -> PerceptualLoss:
    """VGG16 to relu3_3 with random weights (nothing downloads): the same work as the real one.
    ``precision``: the project's ``perceptual.precision`` (the reference-style side: fp32)."""
    from torchvision.models import vgg16

    return PerceptualLoss(vgg16(weights=None).features[:16], precision=precision)


# --------------------------------------------------------------------------------------------
# The project's path
# --------------------------------------------------------------------------------------------


def project_loader(arrays, keys_rgb, keys_mask, batch: int, workers: int, device: torch.device) -> DataLoader:
    dataset = PairedImageDataset(arrays, image_keys=keys_rgb, mask_keys=keys_mask, augment=AugmentConfig(), seed=0)
    return make_loader(dataset, batch, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda", drop_last=True)


def project_step_context(modules: dict[str, torch.nn.Module], optimizers, device, precision, channels_last, compile_):
    for module in modules.values():
        module.to(device=device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        module.train()
        if compile_:
            module.compile()
    use_fused_kernels(optimizers)  # what the engine does by default on CPU and CUDA
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_grad_scaler)
    step = StepContext(device, precision, scaler, optimizers, grad_clip_norm=None)
    step._training_modules = dict(modules)
    return step


def project_generator_step_fn(params, device, precision, channels_last, compile_, perceptual: bool):
    gen_params = params["train_generator"]
    generator = build_shadow_generator(dict(gen_params["model"], encoder_weights=None))
    discriminator = build_discriminator(dict(gen_params["discriminator"]))
    precision_of_vgg = {**PERCEPTUAL_DEFAULTS, **(gen_params.get("perceptual") or {})}["precision"]
    loss = random_vgg_perceptual(precision_of_vgg).to(device) if perceptual else None
    task = ShadowGANTask(
        generator, discriminator, lr_generator=1e-4, lr_discriminator=1e-6,
        weights=GeneratorLossWeights(), perceptual=loss, attention=None, attention_masks="ground_truth",
    )
    step = project_step_context(task.modules, task.optimizers, device, precision, channels_last, compile_)

    def run(batch):
        task.train_step(batch_to_device(batch, device, channels_last), step)
        step._end_iteration()

    return run


def project_attention_step_fn(params, device, precision, channels_last, compile_):
    net = build_attention_net(dict(params["train_attention"]["model"], encoder_weights=None))
    task = AttentionTask(net, lr=1e-4)
    step = project_step_context(task.modules, task.optimizers, device, precision, channels_last, compile_)

    def run(batch):
        task.train_step(batch_to_device(batch, device, channels_last), step)
        step._end_iteration()

    return run


# --------------------------------------------------------------------------------------------
# The reference-style path (the baseline to beat), written plainly on purpose
# --------------------------------------------------------------------------------------------


class DecodeEveryTimeDataset(Dataset):
    """Reads every PNG of a sample from disk in ``__getitem__``, turns images to float and
    augments the float arrays, then normalises in numpy: the tutorial's data path (it used
    float64; albumentations 2 takes float32 for float images)."""

    def __init__(self, root: Path, count: int, keys_rgb, keys_mask) -> None:
        self.root, self.count = root, count
        self.keys_rgb, self.keys_mask = keys_rgb, keys_mask
        self.transform = build_paired_transform(
            AugmentConfig(), image_targets=[f"image_{i}" for i in range(1, len(keys_rgb))],
            mask_targets=[f"mask_{i}" for i in range(len(keys_mask))],
        )

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        name = f"{index:05d}.png"
        rgb = [cv2.cvtColor(cv2.imread(str(self.root / k / name)), cv2.COLOR_BGR2RGB).astype("float") for k in self.keys_rgb]
        masks = [cv2.imread(str(self.root / k / name), 0).astype("float") for k in self.keys_mask]
        rgb = [(image / 255.0).astype(np.float32) for image in rgb]
        targets = {"image": rgb[0], **{f"image_{i}": im for i, im in enumerate(rgb[1:], 1)}}
        targets.update({f"mask_{i}": m for i, m in enumerate(masks)})
        out = self.transform(**targets)
        sample = {}
        for i, key in enumerate(self.keys_rgb):
            image = out["image" if i == 0 else f"image_{i}"].astype(np.float64) * 2.0 - 1.0
            sample[key] = torch.from_numpy(image.transpose(2, 0, 1).copy()).float()
        for i, key in enumerate(self.keys_mask):
            mask = out[f"mask_{i}"]
            mask = np.where(mask >= 128, 1.0, 0.0)
            sample[key] = torch.from_numpy(mask[None].copy()).float()
        return sample


def reference_generator_step_fn(params, device, perceptual: bool):
    gen_params = params["train_generator"]
    generator = build_shadow_generator(dict(gen_params["model"], encoder_weights=None)).to(device).train()
    discriminator = build_discriminator(dict(gen_params["discriminator"])).to(device).train()
    loss_fn = random_vgg_perceptual().to(device) if perceptual else None
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-6)
    w = GeneratorLossWeights()

    def run(batch):
        batch = {k: v.to(device) for k, v in batch.items()}
        target = batch["shadow"]
        output = generator(batch["noshadow"], to_signed(batch["mask"]), to_signed(batch["robject"]), to_signed(batch["rshadow"]))
        l2 = F.mse_loss(output.coarse, target) + F.mse_loss(output.refined, target)
        loss = w.l2 * l2 + w.adversarial * _lsgan(discriminator(output.refined), 1.0)
        if loss_fn is not None:
            loss = loss + w.perceptual * (loss_fn(output.coarse, target) + loss_fn(output.refined, target))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        opt_d.zero_grad()
        d_loss = 0.5 * (_lsgan(discriminator(target), 1.0) + _lsgan(discriminator(output.refined.detach()), 0.0))
        d_loss.backward()
        opt_d.step()

    return run


def reference_attention_step_fn(params, device):
    net = build_attention_net(dict(params["train_attention"]["model"], encoder_weights=None)).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def run(batch):
        batch = {k: v.to(device) for k, v in batch.items()}
        probs = torch.sigmoid(net(batch["noshadow"], to_signed(batch["mask"])))
        loss = dice_loss(probs, torch.cat([batch["robject"], batch["rshadow"]], dim=1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return run


# --------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------


def step_fn(block: str, side: str, params, device, precision, channels_last: bool, compile_: bool, perceptual: bool):
    """The training step of ``block`` (attention or generator) on ``side`` (reference or project)."""
    if side == "reference":
        if block == "attention":
            return reference_attention_step_fn(params, device)
        return reference_generator_step_fn(params, device, perceptual)
    if block == "attention":
        return project_attention_step_fn(params, device, precision, channels_last, compile_)
    return project_generator_step_fn(params, device, precision, channels_last, compile_, perceptual)


def compare_blocks(params, root: Path, arrays: dict[str, np.ndarray], batch: int, args, device, precision,
                   channels_last: bool, perceptual: bool = True) -> dict[str, dict[str, Measured]]:
    """Both blocks' training, ``{block: {"reference": Measured, "project": Measured}}``, on the
    scenes :func:`render_dataset` wrote under ``root`` (read per sample by the reference-style
    side) and returned as ``arrays`` (cached by the project's side). ``args``: the timing flags
    (steps, warmup, workers, compile)."""
    scenes = len(arrays["mask"])
    results: dict[str, dict[str, Measured]] = {}
    for block, keys in BLOCK_KEYS.items():
        results[block] = {}
        for side in ("reference", "project"):
            def make(block=block, side=side, keys=keys):
                if side == "reference":
                    loader = DataLoader(DecodeEveryTimeDataset(root, scenes, *keys), batch_size=batch, shuffle=True, drop_last=True)
                else:
                    loader = project_loader(arrays, *keys, batch, args.workers, device)
                return step_fn(block, side, params, device, precision, channels_last, args.compile, perceptual), loader

            results[block][side] = measure_training(make, device, args.warmup, args.steps, batch)
    return results


def both_blocks_img_s(blocks: dict[str, dict[str, Measured]], side: str) -> float:
    """Images per second through both blocks' steps: the pipeline trains both on every image."""
    return 1.0 / sum(1.0 / block[side].img_s for block in blocks.values())


def bench_inference(params, device, precision, channels_last, compile_, resolution, batch, warmup, steps) -> list[tuple[str, str]]:
    attention = build_attention_net(dict(params["train_attention"]["model"], encoder_weights=None))
    generator = build_shadow_generator(dict(params["train_generator"]["model"], encoder_weights=None))
    model = ShadowInference(attention, generator).to(device).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile_:
        model.compile()
    rows = []
    for size in sorted({1, batch}):
        image = torch.rand(size, 3, resolution, resolution, device=device) * 2 - 1
        mask = (torch.rand(size, 1, resolution, resolution, device=device) > 0.9).float() * 2 - 1
        if channels_last:
            image, mask = image.contiguous(memory_format=torch.channels_last), mask.contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode(), torch.autocast(device.type, dtype=precision.autocast_dtype or torch.float32, enabled=precision.autocast_dtype is not None):
                model(image, mask)

        rows.append((f"inference batch {size}", f"{inference_ms(run, device, warmup, steps, size):.1f} ms/image"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", nargs="+", default=["compare"], choices=["attention", "generator", "inference", "data", "compare"])
    parser.add_argument("--env", default="base", help="parameter environment for the model sizes: base or paper")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--scenes", type=int, default=64, help="scenes rendered for the benchmark data")
    add_timing_options(parser, workers_help="DataLoader workers (project's path)")
    parser.add_argument("--no-perceptual", action="store_true")
    args = parser.parse_args(argv)

    device, precision, channels_last = apply_timing_options(args)
    perceptual = not args.no_perceptual
    params = load_params(args.env)
    torch.manual_seed(0)

    print(
        f"device={device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
        f"precision={precision.name}, resolution={args.resolution}, batch={args.batch}, env={args.env}, "
        f"channels_last={channels_last}, compile={args.compile}, workers={args.workers}, perceptual={perceptual}, "
        f"torch {torch.__version__}",
        flush=True,
    )
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="shadow_bench_") as tmp:
        started = time.perf_counter()
        arrays = render_dataset(Path(tmp), args.scenes, args.resolution)
        print(f"rendered {args.scenes} scenes in {time.perf_counter() - started:.1f} s", flush=True)

        def show(name: str, measured: Measured) -> None:
            rows.append((name, f"{measured.img_s:.1f} img/s, peak {measured.memory.text()}"))
            print(f"  {name}: {measured.img_s:.1f} img/s", flush=True)

        def measure(name: str, make) -> None:
            show(name, measure_training(make, device, args.warmup, args.steps, args.batch))

        def loader(block: str):
            return project_loader(arrays, *BLOCK_KEYS[block], args.batch, args.workers, device)

        if "data" in args.mode:
            decoded = DataLoader(DecodeEveryTimeDataset(Path(tmp), args.scenes, *BLOCK_KEYS["generator"]), batch_size=args.batch, shuffle=True, drop_last=True)
            measure("data: cached uint8 + augmentation (project)", lambda: (lambda b: None, loader("generator")))
            measure("data: PNG decode + float augmentation per sample (reference-style)", lambda: (lambda b: None, decoded))
        for block, name in (("attention", "train attention (project)"), ("generator", "train generator G+D+perceptual (project)")):
            if block in args.mode:
                measure(name, lambda block=block: (
                    step_fn(block, "project", params, device, precision, channels_last, args.compile, perceptual), loader(block)))
        if "inference" in args.mode:
            rows += bench_inference(params, device, precision, channels_last, args.compile, args.resolution, args.batch, args.warmup, args.steps)
        if "compare" in args.mode:
            blocks = compare_blocks(params, Path(tmp), arrays, args.batch, args, device, precision, channels_last, perceptual)
            for block, measured in blocks.items():
                show(f"compare {block}: reference-style eager fp32 loop", measured["reference"])
                show(f"compare {block}: project path ({precision.name})", measured["project"])
                rows.append((f"compare {block}: ratio project / reference", f"{measured['project'].img_s / measured['reference'].img_s:.2f}x"))
            rows.append((
                "compare both blocks (attention + generator per image): ratio",
                f"{both_blocks_img_s(blocks, 'project') / both_blocks_img_s(blocks, 'reference'):.2f}x",
            ))

    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
