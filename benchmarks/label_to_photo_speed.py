"""Speed of pix2pixHD and SPADE training: the project's path against plain eager loops written
the way the references train (NVIDIA/pix2pixHD, NVlabs/SPADE), same data, same networks, one
process. ``--profile spade`` says instead where a SPADE training step spends its time.

Prints figures; asserts nothing. Networks and losses come from the paired family's parameters:
``--widths cpu`` reads conf/base + conf/local (what ``kedro run`` trains by default: pix2pixHD
ngf 16, 3 downs, 4 blocks; SPADE ngf 8, hidden 32), ``--widths reference`` reads conf/base +
conf/paper (the papers' widths: pix2pixHD ngf 64, 4 downs, 9 blocks, 3 D scales; SPADE ngf 64,
hidden 128, 5 upsamplings), merged as Kedro merges them. Weights are random. The data are
label map / instance map / picture triples from the project's synthetic renderer (nothing is
downloaded), written as PNGs to a temporary folder for the reference-style side and kept in
memory for the project's side. A resolution the networks refuse (e.g. the reference pix2pixHD's
third D scale at 64 px) is reported as skipped, with the project's reason.

The VGG19 perceptual term (10 x in both papers) is OFF on both sides: no VGG19 weights are on
disk here, and it would add the same cost to both paths. Everything else of the loss recipes is
on.

* reference-style (eager fp32, contiguous tensors, no autocast, default ``DataLoader`` and
  ``Adam``): per sample, PIL opens the label PNG (and the instance PNG for pix2pixHD) and the
  picture, ``ToTensor() * 255`` gives class ids, the picture gets ``ToTensor`` + ``Normalize``;
  the one-hot map is built per batch on the device with ``scatter_`` and the instance boundaries
  with the references' ``get_edges``.

  - pix2pixHD (``Pix2PixHDModel.forward`` + ``train.py``): G forward; D on the detached fake,
    D on the real, D on the fake again for G; LSGAN summed over the scales, 10 x feature
    matching (weights ``4 / (n_layers + 1)`` per layer and ``1 / num_D`` per scale); G's
    backward (which also fills D's gradients, D is not frozen), G step, then D's backward and
    step.
  - SPADE (``Pix2PixModel`` + ``Pix2PixTrainer``): generator step = G forward, ONE D call on
    ``cat([fake, real])``, hinge + 10 x feature matching (``1 / num_D`` per scale), backward,
    step; discriminator step = G forward AGAIN under ``no_grad`` (the reference regenerates the
    fake there; each step also builds the one-hot map again), one D call on ``cat([fake, real])``,
    hinge, backward, step.

* project: the paired family's train node itself (``fit_generator``) builds the networks,
  losses, task (:class:`PairedTranslationTask`: one-hot + instance boundaries on the device,
  :class:`PairedGANTask` with feature matching and, for the spectral-norm SPADE D, one joint D
  pass) and the train loader over the cached uint8 dataset; it is stopped where it would call
  the engine's ``fit`` (that call is replaced by one that hands back the task and the loader).
  The steps then run under the engine's step context: channels_last, autocast at the selected
  precision (bf16 where the device has it), fused Adam. Its D step reuses G's fake of the same
  step (no second G forward) and the generator pass freezes D's weights; for the feature
  matching it scores the real input again in that pass (pix2pixHD: 4 D calls per step against
  the reference's 3).

``--profile spade`` runs torch.profiler on a few project-path SPADE steps (warm-up first) and
prints the time per step of the SPADE layers' convolutions (``shared``, ``gamma``, ``beta``, the
reference's mlp_shared / mlp_gamma / mlp_beta) per resolution, the rest of the SPADE layers
(parameter-free norm, label-map resize, modulation), the residual blocks' own convolutions, the
rest of the generator, the discriminator, the losses, the optimisers and what is left. Backward
time is attributed to the module whose forward op created the autograd node (the profiler's
sequence numbers), so each share is forward + backward. On CPU the figures are CPU time (run it
with ``--threads 1`` for a clean split); on CUDA they are GPU kernel time.

Examples::

    python benchmarks/label_to_photo_speed.py --models pix2pixhd spade --widths cpu reference --resolutions 64 --batches 1 8
    python benchmarks/label_to_photo_speed.py --models pix2pixhd --widths reference --resolutions 256 --batches 1 --steps 3 --warmup 1
    python benchmarks/label_to_photo_speed.py --profile spade --widths cpu --resolutions 64 --batches 8
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from unittest import mock

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROJECT, Measured, Timer, add_timing_options, apply_timing_options, cycle, measure_training  # noqa: E402
from paired_speed import task_step_fn  # noqa: E402

from gan_pipelines.families.paired.networks import build_paired_generator, check_resolution  # noqa: E402
from gan_pipelines.families.paired.nodes.train import (  # noqa: E402
    check_train_params, fit_generator, with_ingest_class_count,
)
from gan_pipelines.models import count_parameters  # noqa: E402
from gan_pipelines.models.discriminators import build_discriminator  # noqa: E402

MODELS = ("pix2pixhd", "spade")
# --widths -> Kedro environment merged over conf/base ("local" is what a plain `kedro run` reads).
WIDTH_ENVS = {"cpu": "local", "reference": "paper"}
KINDS = ("label_map", "instance_map", "picture")
VGG_NOTE = ("VGG19 perceptual term off on both sides (no VGG19 weights on disk; it would add the same "
            "cost to both paths)")


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _parameters(env: str) -> dict[str, Any]:
    from kedro.config import OmegaConfigLoader

    from gan_pipelines.settings import CONFIG_LOADER_ARGS

    return dict(OmegaConfigLoader(conf_source=str(PROJECT / "conf"), env=env, **CONFIG_LOADER_ARGS)["parameters"])


def train_params(model: str, width: str, batch: int, workers: int) -> dict[str, Any]:
    """``<model>.train`` as Kedro reads it for ``width``, with the class count of
    ``<model>.ingest`` (as the pipeline gives it), the benchmark's batch size and workers, the VGG19 term off and no resume (the engine's ``fit``, which would write, is never
    called: :func:`project_task`)."""
    parameters = _parameters(WIDTH_ENVS[width])[model]
    params, _ = with_ingest_class_count(copy.deepcopy(parameters["train"]), parameters["ingest"], model)
    params["batch_size"] = batch
    params["num_workers"] = workers
    params["loss_weights"] = {**dict(params.get("loss_weights") or {}), "vgg19": 0.0}
    params["training"] = {**dict(params["training"]), "resume": False}
    return params


def render_triples(count: int, resolution: int) -> dict[str, np.ndarray]:
    """``count`` scenes of the label-to-photo families' synthetic data: ``label_map`` and
    ``instance_map`` uint8 (count, R, R), ``picture`` uint8 (count, R, R, 3)."""
    from gan_pipelines.families.paired.synthetic import render_split, synthetic_config

    config, _ = synthetic_config({"resolution": resolution, "num_train": count, "num_test": 1, "seed": 0}, "benchmark")
    samples = [images for _, images in render_split(config, "spade", "train")][:count]
    return {kind: np.stack([sample[kind] for sample in samples]) for kind in KINDS}


def write_pngs(root: Path, arrays: dict[str, np.ndarray]) -> None:
    for kind in KINDS:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(arrays[kind]):
            Image.fromarray(image).save(root / kind / f"{index:05d}.png")


def describe(model: str, settings: dict[str, Any]) -> str:
    g, d = settings["generator"], settings["discriminator"]
    nested = d.get("discriminator") or {}
    if model == "pix2pixhd":
        shape = f"ngf {g['ngf']}, {g['n_downsampling']} downs, {g['n_blocks']} blocks"
    else:
        shape = f"ngf {g['ngf']}, hidden {g['spade_hidden']}, {g['num_upsampling_layers']} upsamplings"
    return (f"{shape}; D {d.get('num_D', 1)} scales ndf {nested.get('ndf', d.get('ndf'))}"
            f"{' spectral norm' if nested.get('spectral_norm') else ''}")


# --------------------------------------------------------------------------------------------
# The project's path: what the paired family's train node builds
# --------------------------------------------------------------------------------------------


def project_task(params: dict[str, Any], arrays: dict[str, np.ndarray], section: str):
    """``(task, train_loader, info)`` exactly as the train node's ``fit_generator`` builds them:
    it runs up to its call of the engine's ``fit``, which hands them back instead of training."""
    import gan_pipelines.training as training

    captured: dict[str, Any] = {}

    def capture(task, train_loader, val_loader, config, **kwargs):
        captured.update(task=task, loader=train_loader)
        return None

    val_arrays = {kind: array[:2] for kind, array in arrays.items()}
    with mock.patch.object(training, "fit", capture):
        _, info = fit_generator(arrays, val_arrays, params, section)
    return captured["task"], captured["loader"], info


# --------------------------------------------------------------------------------------------
# The reference-style path, written plainly on purpose
# --------------------------------------------------------------------------------------------


class LabelPhotoPNGDataset(Dataset):
    """The references' datasets (pix2pixHD ``AlignedDataset``, SPADE ``Pix2pixDataset``), without
    resize or flip (the project's configs train on the full pictures, unflipped): every access
    opens the label PNG with PIL, ``ToTensor() * 255`` gives the class ids as floats (SPADE then
    maps 255 to its don't-care id), the instance PNG (pix2pixHD) the same way, and the picture
    ``convert('RGB')`` + ``ToTensor`` + ``Normalize((0.5,) * 3, (0.5,) * 3)``."""

    def __init__(self, root: Path, count: int, label_nc: int, instances: bool) -> None:
        import torchvision.transforms as T

        self.root, self.count, self.label_nc, self.instances = root, count, label_nc, instances
        self.to_tensor = T.ToTensor()
        self.image_transform = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = f"{index:05d}.png"
        label = self.to_tensor(Image.open(self.root / "label_map" / name)) * 255.0
        label[label == 255] = self.label_nc
        image = self.image_transform(Image.open(self.root / "picture" / name).convert("RGB"))
        instance: Any = 0
        if self.instances:
            instance = self.to_tensor(Image.open(self.root / "instance_map" / name))
        return {"label": label, "instance": instance, "image": image}


def reference_edges(t: torch.Tensor) -> torch.Tensor:
    """The references' ``get_edges``: 1 where the instance id differs from a 4-neighbour."""
    edge = torch.zeros(t.size(), dtype=torch.uint8, device=t.device)
    edge[:, :, :, 1:] = edge[:, :, :, 1:] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, :, :-1] = edge[:, :, :, :-1] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, 1:, :] = edge[:, :, 1:, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    edge[:, :, :-1, :] = edge[:, :, :-1, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    return edge.float()


def reference_input(batch: dict[str, Any], label_nc: int, instance_edges: bool, device):
    """``(input_semantics, real_image)`` as the references' ``encode_input`` / ``preprocess_input``."""
    label_map = batch["label"].long().to(device)
    n, _, h, w = label_map.size()
    semantics = torch.zeros(n, label_nc, h, w, device=device).scatter_(1, label_map, 1.0)
    if instance_edges:
        semantics = torch.cat((semantics, reference_edges(batch["instance"].to(device))), dim=1)
    return semantics, batch["image"].to(device)


def _reference_networks(settings: dict[str, Any], device):
    torch.manual_seed(0)
    generator = build_paired_generator(settings["generator"]).to(device).train()
    discriminator = build_discriminator(settings["discriminator"]).to(device).train()
    betas = tuple(settings["betas"])
    opt_g = torch.optim.Adam(generator.parameters(), lr=settings["lr_generator"], betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=settings["lr_discriminator"], betas=betas)
    return generator, discriminator, opt_g, opt_d


def reference_pix2pixhd_step_fn(settings: dict[str, Any], device) -> Callable[[Any], None]:
    generator, discriminator, opt_g, opt_d = _reference_networks(settings, device)
    label_nc, edges = settings["input"]["label_nc"], settings["input"]["instance_edges"]
    lambda_feat = settings["loss_weights"]["feature_matching"]

    def lsgan(prediction, target_is_real: bool) -> torch.Tensor:  # pix2pixHD GANLoss: summed over scales
        loss = 0
        for scale in prediction:
            logits = scale[-1]
            loss = loss + F.mse_loss(logits, torch.full_like(logits, 1.0 if target_is_real else 0.0))
        return loss

    def run(batch):
        input_label, real_image = reference_input(batch, label_nc, edges, device)
        fake_image = generator(input_label)
        pred_fake_pool = discriminator(torch.cat((input_label, fake_image.detach()), dim=1))
        loss_d_fake = lsgan(pred_fake_pool, False)
        pred_real = discriminator(torch.cat((input_label, real_image), dim=1))
        loss_d_real = lsgan(pred_real, True)
        pred_fake = discriminator(torch.cat((input_label, fake_image), dim=1))
        loss_g_gan = lsgan(pred_fake, True)
        loss_g_feat = 0
        d_weights = 1.0 / len(pred_fake)
        for i in range(len(pred_fake)):
            feat_weights = 4.0 / (len(pred_fake[i]) - 1)  # 4 / (n_layers_D + 1)
            for j in range(len(pred_fake[i]) - 1):
                loss_g_feat = loss_g_feat + d_weights * feat_weights * F.l1_loss(
                    pred_fake[i][j], pred_real[i][j].detach()) * lambda_feat
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        loss_g = loss_g_gan + loss_g_feat
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

    return run


def reference_spade_step_fn(settings: dict[str, Any], device) -> Callable[[Any], None]:
    generator, discriminator, opt_g, opt_d = _reference_networks(settings, device)
    label_nc, edges = settings["input"]["label_nc"], settings["input"]["instance_edges"]
    lambda_feat = settings["loss_weights"]["feature_matching"]

    def discriminate(semantics, fake_image, real_image):
        fake_concat = torch.cat([semantics, fake_image], dim=1)
        real_concat = torch.cat([semantics, real_image], dim=1)
        out = discriminator(torch.cat([fake_concat, real_concat], dim=0))
        fake = [[t[: t.size(0) // 2] for t in scale] for scale in out]
        real = [[t[t.size(0) // 2:] for t in scale] for scale in out]
        return fake, real

    def hinge(prediction, target_is_real: bool, for_discriminator: bool) -> torch.Tensor:  # mean over scales
        loss = 0
        for scale in prediction:
            x = scale[-1]
            if not for_discriminator:
                new = -torch.mean(x)
            elif target_is_real:
                new = -torch.mean(torch.min(x - 1, torch.zeros_like(x)))
            else:
                new = -torch.mean(torch.min(-x - 1, torch.zeros_like(x)))
            loss = loss + new
        return loss / len(prediction)

    def run(batch):
        semantics, real_image = reference_input(batch, label_nc, edges, device)
        # run_generator_one_step
        opt_g.zero_grad()
        fake_image = generator(semantics)
        pred_fake, pred_real = discriminate(semantics, fake_image, real_image)
        g_gan = hinge(pred_fake, True, for_discriminator=False)
        num_d = len(pred_fake)
        g_feat = torch.zeros(1, device=device)
        for i in range(num_d):
            for j in range(len(pred_fake[i]) - 1):
                g_feat += F.l1_loss(pred_fake[i][j], pred_real[i][j].detach()) * lambda_feat / num_d
        g_loss = (g_gan + g_feat).mean()
        g_loss.backward()
        opt_g.step()
        # run_discriminator_one_step: the reference preprocesses the batch again
        semantics, real_image = reference_input(batch, label_nc, edges, device)
        opt_d.zero_grad()
        with torch.no_grad():
            fake_image = generator(semantics).detach()
            fake_image.requires_grad_()
        pred_fake, pred_real = discriminate(semantics, fake_image, real_image)
        d_loss = hinge(pred_fake, False, for_discriminator=True) + hinge(pred_real, True, for_discriminator=True)
        d_loss.backward()
        opt_d.step()

    return run


REFERENCE_STEPS = {"pix2pixhd": reference_pix2pixhd_step_fn, "spade": reference_spade_step_fn}


# --------------------------------------------------------------------------------------------
# Where SPADE's time goes
# --------------------------------------------------------------------------------------------

RANGE = "bench:"  # prefix of the profiler ranges the hooks below open
EVALUATE = "autograd::engine::evaluate_function"


def _label_modules(task) -> list[Any]:
    """Forward hooks that wrap the interesting modules in profiler ranges ``bench:<part>@<side>``
    (``<side>``: the height of the module's input). The innermost range wins, so the SPADE
    layer's own range keeps only its norm, resize and modulation."""
    from torch.autograd.profiler import record_function

    labels: dict[torch.nn.Module, str] = {task.generator: "G other", task.discriminator: "D",
                                           task.encoder: "one-hot encoding"}
    if isinstance(task.gan_loss, torch.nn.Module):
        labels[task.gan_loss] = "GAN loss"
    for block in task.generator.blocks:
        for name in ("norm_0", "norm_1", "norm_shortcut"):
            layer = getattr(block, name, None)
            if layer is None:
                continue
            labels[layer] = "SPADE norm+resize+modulation"
            labels[layer.shared[0]] = "SPADE shared conv"
            labels[layer.gamma] = "SPADE gamma conv"
            labels[layer.beta] = "SPADE beta conv"
        for conv in block.block_convs():
            labels[conv] = "res-block conv"
    per_resolution = ("SPADE", "res-block")
    handles = []

    def pre(module, args):
        label = labels[module]
        if label.startswith(per_resolution) and args and isinstance(args[0], torch.Tensor):
            label = f"{label}@{args[0].shape[-2]}"
        module._bench_range = record_function(RANGE + label)
        module._bench_range.__enter__()

    def post(module, args, output):
        module._bench_range.__exit__(None, None, None)

    for module in labels:
        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    return handles


def attribute(events, device_time: bool = False) -> dict[str, float]:
    """Self time (us) per part, CPU time or with ``device_time`` the GPU kernels' time: an op
    belongs to its innermost ``bench:`` range; a backward op to the range of the forward op that
    created its autograd node (same sequence number)."""

    def own(event) -> float:
        return event.self_device_time_total if device_time else event.self_cpu_time_total

    label_of: dict[int, str | None] = {}
    forward_label: dict[int, str | None] = {}

    def find(event) -> str | None:
        key = id(event)
        if key in label_of:
            return label_of[key]
        if event.name.startswith(RANGE):
            label = event.name[len(RANGE):]
        elif event.name.startswith(EVALUATE):
            label = forward_label.get(event.sequence_nr) or "autograd (unlabelled backward)"
        elif event.name.startswith("Optimizer."):
            label = "optimizers (fused Adam)"
        elif event.cpu_parent is not None:
            label = find(event.cpu_parent)
        else:
            label = None
        label_of[key] = label
        return label

    def in_backward(event) -> bool:
        while event is not None:
            if event.name.startswith(EVALUATE):
                return True
            event = event.cpu_parent
        return False

    for event in events:  # forward ops first: sequence number -> innermost range
        if event.sequence_nr >= 0 and not event.name.startswith(EVALUATE) and not in_backward(event):
            label = find(event)
            if label is not None:
                forward_label.setdefault(event.sequence_nr, label)
    label_of.clear()
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        if event.name == "bench step":
            totals["rest (data to device, Python, other ops)"] += own(event)
            continue
        label = find(event)
        totals[label if label is not None else "rest (data to device, Python, other ops)"] += own(event)
    return totals


def profile_spade(args, device, precision, channels_last: bool) -> int:
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    for width in args.widths:
        for resolution in args.resolutions:
            arrays = render_triples(args.pairs, resolution)
            for batch in args.batches:
                params = train_params("spade", width, batch, args.workers)
                settings = check_train_params(params, "spade.train", resolution)
                try:
                    check_resolution(resolution, settings["generator"], settings["discriminator"], "spade.train")
                except ValueError as exc:
                    print(f"spade {width}, {resolution} px: skipped ({exc})")
                    continue
                task, loader, _ = project_task(params, arrays, "spade.train")
                run = task_step_fn(task, device, precision, channels_last, args.compile)
                batches = iter(cycle(loader))
                for _ in range(max(args.warmup, 1)):
                    run(next(batches))
                handles = _label_modules(task)
                prepared = [next(batches) for _ in range(args.profile_steps)]
                Timer(device).sync()
                started = time.perf_counter()
                with profile(activities=activities) as prof:
                    for item in prepared:
                        with record_function("bench step"):
                            run(item)
                    Timer(device).sync()
                wall = (time.perf_counter() - started) / args.profile_steps
                for handle in handles:
                    handle.remove()
                events = prof.events()
                on_gpu = device.type == "cuda"
                totals = attribute(events, device_time=on_gpu)
                step_total = sum(totals.values()) if on_gpu else sum(
                    e.cpu_time_total for e in events if e.name == "bench step")
                print_profile(width, resolution, batch, settings, precision, totals, step_total, wall, args)
    return 0


def print_profile(width, resolution, batch, settings, precision, totals, step_total, wall, args) -> None:
    steps = args.profile_steps
    per_step = {label: value / steps / 1000.0 for label, value in totals.items()}  # ms per step
    total = step_total / steps / 1000.0
    resolutions = sorted({int(label.rsplit("@", 1)[1]) for label in per_step if "@" in label}, reverse=True)
    rows: list[tuple[str, float, bool]] = []  # (name, ms per step, indented)
    spade_convs = 0.0
    for side in resolutions:
        parts = [per_step.get(f"SPADE {p} conv@{side}", 0.0) for p in ("shared", "gamma", "beta")]
        spade_convs += sum(parts)
        detail = f"shared {parts[0]:.1f} / gamma {parts[1]:.1f} / beta {parts[2]:.1f} ms"
        rows.append((f"at {side} px ({detail})", sum(parts), True))
    rows.insert(0, ("SPADE layers' convs (shared, gamma, beta), all resolutions", spade_convs, False))
    spade_rest = sum(v for k, v in per_step.items() if k.startswith("SPADE norm"))
    rows.append(("SPADE layers' norm + label resize + modulation", spade_rest, False))
    block_convs = sum(v for k, v in per_step.items() if k.startswith("res-block"))
    rows.append(("res-block convs (conv_0, conv_1, shortcut, with spectral norm)", block_convs, False))
    for side in resolutions:
        rows.append((f"at {side} px", per_step.get(f"res-block conv@{side}", 0.0), True))
    named = {
        "G other": "generator, other (first conv, upsampling, LeakyReLU, output conv, adds)",
        "D": f"discriminator ({settings['discriminator'].get('num_D', 1)} scales; D step + G pass, fwd + bwd)",
        "one-hot encoding": "one-hot encoding",
        "GAN loss": "GAN loss",
        "optimizers (fused Adam)": "optimizers (fused Adam)",
    }
    for key, name in named.items():
        rows.append((name, per_step.get(key, 0.0), False))
    rest = sum(v for k, v in per_step.items() if k not in named and not k.startswith(("SPADE", "res-block")))
    rows.append(("rest (feature matching, autograd bookkeeping, data to device, Python)", rest, False))
    g = settings["generator"]
    unit = "GPU kernel" if torch.cuda.is_available() and args.device != "cpu" else "CPU"
    print()
    print(f"SPADE profile: {width} width (ngf {g['ngf']}, hidden {g['spade_hidden']}, {g['num_upsampling_layers']} "
          f"upsamplings), {resolution} px, batch {batch}, {precision.name}, "
          f"{torch.get_num_threads()} CPU thread(s), {steps} profiled steps: {total:.0f} ms {unit} time per step "
          f"({wall * 1000:.0f} ms wall with the profiler on)")
    name_width = max(len(name) + 2 * indented for name, _, indented in rows)
    for name, value, indented in rows:
        name = ("  " if indented else "") + name
        print(f"{name:<{name_width}}  {value:8.1f} ms  {100.0 * value / total:5.1f} %")
    spade_all = spade_convs + spade_rest
    print(f"SPADE layers in all (convs + norm + modulation): {spade_all:.1f} ms, {100.0 * spade_all / total:.1f} % "
          "of the step (forward + backward)")


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--widths", nargs="+", default=list(WIDTH_ENVS), choices=list(WIDTH_ENVS),
                        help="cpu: conf/base (+ conf/local); reference: conf/base + conf/paper")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--pairs", type=int, default=16, help="scenes rendered for the benchmark data")
    add_timing_options(parser, workers_help="DataLoader workers (both paths)")
    parser.add_argument("--profile", choices=["spade"], default=None,
                        help="profile project-path SPADE steps instead of comparing the two paths")
    parser.add_argument("--profile-steps", type=int, default=3)
    args = parser.parse_args(argv)

    device, precision, channels_last = apply_timing_options(args)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(
        f"device={device} ({where}), "
        f"precision={precision.name} (project), channels_last={channels_last}, compile={args.compile}, "
        f"workers={args.workers}, torch {torch.__version__}\n{VGG_NOTE}",
        flush=True,
    )
    if args.profile:
        return profile_spade(args, device, precision, channels_last)

    rows: list[tuple[str, str]] = []
    described: set[tuple[str, str]] = set()
    for resolution in args.resolutions:
        arrays = render_triples(args.pairs, resolution)
        with tempfile.TemporaryDirectory(prefix="label_photo_bench_") as tmp:
            write_pngs(Path(tmp), arrays)
            for model in args.models:
                for width in args.widths:
                    for batch in args.batches:
                        if batch <= args.pairs:
                            rows += compare(model, width, resolution, batch, arrays, Path(tmp), args, described,
                                            device, precision, channels_last)

    name_width = max(len(name) for name, _ in rows) if rows else 0
    print()
    for name, value in rows:
        print(f"{name:<{name_width}}  {value}")
    return 0


def settings_for(model: str, width: str, resolution: int, batch: int, workers: int = 0):
    """``(train parameters, resolved settings)`` of ``model`` at ``width`` (:func:`train_params`),
    for ``resolution``; ValueError (the project's reason) for a resolution the networks refuse."""
    section = f"{model}.train"
    params = train_params(model, width, batch, workers)
    settings = check_train_params(params, section, resolution)
    check_resolution(resolution, settings["generator"], settings["discriminator"], section)
    return params, settings


def compare_sides(model: str, params, settings, resolution: int, batch: int, arrays, png_root: Path, args, device,
                  precision, channels_last: bool) -> tuple[dict[str, Measured], dict[str, Any]]:
    """``({"reference": Measured, "project": Measured}, the train node's recipe info)`` of one
    configuration (:func:`settings_for`) on the scenes of :func:`render_triples` (``arrays``),
    written under ``png_root`` by :func:`write_pngs`. ``args``: the timing flags."""
    info: dict[str, Any] = {}

    def reference():
        dataset = LabelPhotoPNGDataset(png_root, len(arrays["picture"]), settings["input"]["label_nc"],
                                       settings["input"]["instance_edges"])
        loader = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, num_workers=args.workers)
        return REFERENCE_STEPS[model](settings, device), loader

    def project():
        task, loader, recipe = project_task(params, arrays, f"{model}.train")
        info.update(recipe)
        return task_step_fn(task, device, precision, channels_last, args.compile), loader

    measured = {side: measure_training(make, device, args.warmup, args.steps, batch)
                for side, make in (("reference", reference), ("project", project))}
    return measured, info


def compare(model, width, resolution, batch, arrays, png_root: Path, args, described: set, device, precision,
            channels_last: bool) -> list[tuple[str, str]]:
    """Rows of one comparison: both paths' img/s and peak memory, and their ratio."""
    name = f"{model} {width}, {resolution} px, batch {batch}"
    try:
        params, settings = settings_for(model, width, resolution, batch, args.workers)
    except ValueError as exc:
        print(f"  {name}: skipped ({exc})", flush=True)
        return [(name, f"skipped: {str(exc).split(';')[0]}")]
    first = (model, width) not in described
    if first:
        described.add((model, width))
        generator = build_paired_generator(settings["generator"])
        discriminator = build_discriminator(settings["discriminator"])
        print(f"{model} {width} width: {describe(model, settings)}; G {count_parameters(generator) / 1e6:.2f}M, "
              f"D {count_parameters(discriminator) / 1e6:.2f}M parameters", flush=True)
    measured, info = compare_sides(model, params, settings, resolution, batch, arrays, png_root, args, device,
                                   precision, channels_last)
    if first:
        joint = "; one joint D pass on cat([fake, real])" if info["joint_discriminator_pass"] else ""
        print(f"  project recipe (train node): {info['gan_mode']}, loss weights {info['loss_weights']}{joint}",
              flush=True)
    rows = []
    labels = {"reference": "reference-style eager fp32", "project": f"project ({precision.name})"}
    for side, result in measured.items():
        rows.append((f"{name}: {labels[side]}", f"{result.img_s:.2f} img/s, peak {result.memory.text()}"))
        print(f"  {name}: {labels[side]}: {result.img_s:.2f} img/s ({result.seconds:.0f} s)", flush=True)
    rows.append((f"{name}: ratio project / reference",
                 f"{measured['project'].img_s / measured['reference'].img_s:.2f}x"))
    return rows


if __name__ == "__main__":
    sys.exit(main())
