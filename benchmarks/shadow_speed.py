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
from typing import Any, Callable

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
from gan_pipelines.synthetic import SyntheticConfig, render_scene, scene_seed  # noqa: E402
from gan_pipelines.training import (  # noqa: E402
    AugmentConfig, PairedImageDataset, StepContext, batch_to_device, configure_cpu_threads, make_loader, select_device,
    select_precision,
)
from gan_pipelines.training.data import build_paired_transform  # noqa: E402
from gan_pipelines.training.engine import use_fused_kernels  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
KINDS_RGB = ("noshadow", "shadow")
KINDS_MASK = ("mask", "robject", "rshadow", "shadow_mask")


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


def random_vgg_perceptual() -> PerceptualLoss:
    from torchvision.models import vgg16

    return PerceptualLoss(vgg16(weights=None).features[:16])


class Timer:
    """Images per second over timed steps, after warm-up steps."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, step: Callable[[Any], None], batches, warmup: int, steps: int, batch_size: int) -> float:
        iterator = iter(_cycle(batches))
        for _ in range(warmup):
            step(next(iterator))
        self.sync()
        started = time.perf_counter()
        for _ in range(steps):
            step(next(iterator))
        self.sync()
        return steps * batch_size / (time.perf_counter() - started)


def _cycle(iterable):
    epoch = 0
    while True:
        epoch += 1
        for part in (getattr(iterable, "sampler", None), getattr(iterable, "dataset", None)):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        yield from iterable


def peak_memory(device: torch.device) -> str:
    if device.type != "cuda":
        return "n/a"
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"


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
    loss = random_vgg_perceptual().to(device) if perceptual else None
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


def bench_inference(params, device, precision, channels_last, compile_, resolution, batch, steps) -> list[tuple[str, str]]:
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
        timer = Timer(device)

        def run(_):
            with torch.inference_mode(), torch.autocast(device.type, dtype=precision.autocast_dtype or torch.float32, enabled=precision.autocast_dtype is not None):
                model(image, mask)

        per_second = timer.run(run, [None], warmup=2, steps=steps, batch_size=size)
        rows.append((f"inference batch {size}", f"{1000.0 / per_second:.1f} ms/image"))
    return rows


def add_timing_options(parser: argparse.ArgumentParser, *, workers_help: str) -> None:
    """The timing flags every benchmark script shares: --steps, --warmup, --device, --precision,
    --no-channels-last, --compile, --workers, --threads."""
    parser.add_argument("--steps", type=int, default=6, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="auto, bf16, fp16 or fp32 (the project's path)")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the modules (project's path)")
    parser.add_argument("--workers", type=int, default=0, help=workers_help)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def apply_timing_options(args: argparse.Namespace):
    """(device, precision, channels_last) from the flags of :func:`add_timing_options`; on the CPU
    also sets torch's thread count (--threads)."""
    device = select_device(args.device)
    precision = select_precision(device, args.precision)
    if device.type == "cpu":
        configure_cpu_threads(args.threads)
    return device, precision, not args.no_channels_last


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
        timer = Timer(device)
        gen_keys = (KINDS_RGB, KINDS_MASK)
        att_keys = (("noshadow",), ("mask", "robject", "rshadow"))

        def measure(name: str, fn, loader) -> float:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            value = timer.run(fn, loader, args.warmup, args.steps, args.batch)
            rows.append((name, f"{value:.1f} img/s, peak {peak_memory(device)}"))
            print(f"  {name}: {value:.1f} img/s", flush=True)
            return value

        if "data" in args.mode:
            cached = project_loader(arrays, *gen_keys, args.batch, args.workers, device)
            decoded = DataLoader(DecodeEveryTimeDataset(Path(tmp), args.scenes, *gen_keys), batch_size=args.batch, shuffle=True, drop_last=True)
            measure("data: cached uint8 + augmentation (project)", lambda b: None, cached)
            measure("data: PNG decode + float augmentation per sample (reference-style)", lambda b: None, decoded)
        if "attention" in args.mode:
            loader = project_loader(arrays, *att_keys, args.batch, args.workers, device)
            measure("train attention (project)", project_attention_step_fn(params, device, precision, channels_last, args.compile), loader)
        if "generator" in args.mode:
            loader = project_loader(arrays, *gen_keys, args.batch, args.workers, device)
            measure("train generator G+D+perceptual (project)", project_generator_step_fn(params, device, precision, channels_last, args.compile, perceptual), loader)
        if "inference" in args.mode:
            rows += bench_inference(params, device, precision, channels_last, args.compile, args.resolution, args.batch, args.steps)
        if "compare" in args.mode:
            seconds_per_image = {"reference": 0.0, "project": 0.0}
            for block in ("attention", "generator"):
                keys = att_keys if block == "attention" else gen_keys
                reference_loader = DataLoader(DecodeEveryTimeDataset(Path(tmp), args.scenes, *keys), batch_size=args.batch, shuffle=True, drop_last=True)
                project = project_loader(arrays, *keys, args.batch, args.workers, device)
                if block == "attention":
                    reference_fn = reference_attention_step_fn(params, device)
                    project_fn = project_attention_step_fn(params, device, precision, channels_last, args.compile)
                else:
                    reference_fn = reference_generator_step_fn(params, device, perceptual)
                    project_fn = project_generator_step_fn(params, device, precision, channels_last, args.compile, perceptual)
                slow = measure(f"compare {block}: reference-style eager fp32 loop", reference_fn, reference_loader)
                fast = measure(f"compare {block}: project path ({precision.name})", project_fn, project)
                rows.append((f"compare {block}: ratio project / reference", f"{fast / slow:.2f}x"))
                seconds_per_image["reference"] += 1.0 / slow
                seconds_per_image["project"] += 1.0 / fast
            # The pipeline trains both blocks on every image: the ratio of the summed time per image.
            rows.append((
                "compare both blocks (attention + generator per image): ratio",
                f"{seconds_per_image['reference'] / seconds_per_image['project']:.2f}x",
            ))

    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
