"""Speed and training memory of U-GAT-IT and MUNIT: the project's path against plain eager loops
written the way znxlwm/UGATIT-pytorch and NVlabs/MUNIT train, same data, same networks with the
same weights, one process; and (``--memory-only``) the training memory of one step of U-GAT-IT's
full and light generators at 64, 128 and 256 px.

Prints figures; asserts nothing. ``--widths cpu`` reads ``<model>.train`` from conf/base (+
conf/local), what ``kedro run --pipeline <model>`` trains; ``--widths reference`` reads conf/paper
(or, where it has no folder for the model, puts the papers' widths over conf/base): U-GAT-IT ngf
64, 4 blocks, ndf 64; MUNIT dim 64, style code 8, 2 down-samplings, 4 residual blocks, MLP 256,
discriminator dim 64, 4 layers, 3 scales. U-GAT-IT's global / local discriminator depths are
chosen from the size at both widths (the paper's 7 / 5 from 128 px up, 6 / 4 at 64 px: a 7-layer
one has no patch map left at 64 px). U-GAT-IT's generator is the parameters' choice (full in conf/base and
in the paper) unless ``--light``. Both sides build the networks with the family's builders
(``families/unpaired/networks.py``: ``build_ugatit`` / ``build_munit``) after
``torch.manual_seed(0)``, so they start from identical weights (checked: a sum over every
floating-point tensor of the state dicts, in the ``--json`` file, must match on both sides, else
a warning is printed), and the ratio
measures the loop, not the network. The data are two domains of pictures drawn here (coloured
shapes on a textured ground, two palettes; nothing is read or downloaded), each picture jittered
(resize to 286/256 of the resolution, random crop back, random flip), independently per domain;
both sides use the same sizes.

* reference-style (eager fp32, contiguous tensors, no autocast, default ``DataLoader`` and
  ``Adam`` with the papers' weight decay 1e-4): each domain's pictures stored as PNGs and read
  by its own shuffled ``DataLoader`` (both references keep one loader per domain), each sample
  decoded with PIL and transformed with torchvision (``RandomHorizontalFlip``, ``Resize``,
  ``RandomCrop``, ``ToTensor``, ``Normalize``).

  - U-GAT-IT (``UGATIT.train``): D update: both generators translate with a graph (the fakes
    are not detached, so the D loss backpropagates into the generators too; their gradients are
    zeroed before the G update), then each of the four discriminators scores the real and the
    fake picture in separate calls; ``MSELoss`` against ``ones_like`` / ``zeros_like`` on patch
    and CAM logits; one D step. G update: six generator calls (A2B, B2A, A2B2A, B2A2B, A2A, B2B),
    four D calls on the fakes (D not frozen), ``MSELoss``, ``L1Loss``, ``BCEWithLogitsLoss``
    modules; one G step; the reference's ``RhoClipper`` applied to both generators with
    ``Module.apply``.
  - MUNIT (``train.py`` calling ``MUNIT_Trainer.dis_update`` then ``gen_update``): D update:
    random style codes, full ``encode`` of both domains (content and style) and cross-domain
    ``decode`` with a graph, ``calc_dis_loss`` on ``x.detach()`` (separate D calls on fake and
    real, LSGAN summed over the scales); G update: new random codes, separate ``encode`` /
    ``decode`` calls for the within-domain reconstructions, the translations and the
    re-encodings (and the cycle when its weight is above 0), ``calc_gen_loss`` (D not frozen);
    ``recon_criterion`` = ``mean(abs(x - y))``.

* project: the task the train node builds (``nodes/train.py``: ``TASK_BUILDERS[model]`` with
  the stage parameters, validated by ``TRAIN_MODELS[model]``) over the cached uint8 dataset
  (:class:`UnpairedImageDataset` with :class:`ResizeCropFlip`), batches moved as uint8 and made
  floats on the device, stepped under the engine's step context: channels_last, autocast at the
  selected precision (bf16 where the device has it), fused Adam. The tasks judge real and fake
  pictures in one discriminator call, run the generators without a graph for the D update, and
  freeze the discriminators in the G update (``families/unpaired/tasks.py``).

Training memory, per measurement (building the networks, warm-up and timed steps): on CUDA
``torch.cuda.max_memory_allocated`` after a reset (weights, gradients, optimiser state,
activations); on the CPU the process's peak resident set size above its size before the
networks were built (freed heap returned with ``malloc_trim`` first, the kernel's high-water
mark reset through ``/proc/self/clear_refs``), which counts the same things.

``--memory-only``: for each model of ``--models`` (U-GAT-IT twice: full and light generator) at
``--widths`` (default: reference) and each of ``--resolutions`` (default 64 128 256), batch 1:
the generator's parameter count and the training memory of ONE training step of each side of
``--sides``, each in a fresh interpreter (so that nothing earlier is counted). On the CPU a step
whose estimated memory (:func:`estimated_step_bytes`) does not fit in ``MemAvailable``
(/proc/meminfo) less 2 GiB is skipped with a message, and the child process's address space is
capped at that, so that a wrong estimate fails the step instead of calling the OOM killer on
other processes.

img/s: (A, B) couples per second, each a full step over both directions (D update and G update).

Examples::

    python benchmarks/unpaired_speed.py --resolutions 64 --batches 1 4 --threads 2
    python benchmarks/unpaired_speed.py --models ugatit --light --widths reference --resolutions 128 \
        --batches 1 --steps 2 --warmup 1
    python benchmarks/unpaired_speed.py --memory-only --sides project --threads 2 --json memory.json
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PROJECT, Measured, Timer, TrainingMemory, _meminfo_bytes, _status_bytes, add_timing_options, apply_timing_options,
    environment, measure_training,
)
from cyclegan_speed import _parameters, draw_domain, load_size, project_loader, write_pngs  # noqa: E402
from paired_speed import task_step_fn  # noqa: E402

from gan_pipelines.families.unpaired.config import TRAIN_MODELS, UnpairedTrainParams  # noqa: E402
from gan_pipelines.families.unpaired.networks import (  # noqa: E402
    build_munit, build_munit_discriminator, build_munit_generator, build_ugatit, build_ugatit_discriminator,
    build_ugatit_generator,
)
from gan_pipelines.families.unpaired.nodes.train import TASK_BUILDERS  # noqa: E402
from gan_pipelines.models import count_parameters  # noqa: E402

MODELS = ("ugatit", "munit")
# --widths -> Kedro environment merged over conf/base ("local" is what a plain `kedro run` reads).
WIDTH_ENVS = {"cpu": "local", "reference": "paper"}
# The papers' widths, put over conf/base's <model>.train for --widths reference while conf/paper
# has no <model> folder. None: chosen from the size by the family's config functions.
REFERENCE_WIDTHS: dict[str, dict[str, dict[str, Any]]] = {
    "ugatit": {"model": {"ngf": 64, "n_blocks": 4},
               "discriminator": {"ndf": 64, "global_layers": None, "local_layers": None}},
    "munit": {"model": {"dim": 64, "style_dim": 8, "n_downsample": 2, "n_res": 4, "mlp_dim": 256},
              "discriminator": {"dim": 64, "n_layers": 4, "num_scales": 3}},
}
BUILDERS = {"ugatit": build_ugatit, "munit": build_munit}
MEMORY_RESERVE = 2 * 2**30  # bytes left to the other processes when deciding whether a step fits
CHILD_PREFIX = "MEMORY_RESULT "


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


def train_params(model: str, width: str, resolution: int, batch: int, light: bool | None = None) -> UnpairedTrainParams:
    """``<model>.train`` as Kedro reads it for ``width`` (see the module docstring), at
    ``resolution`` (crop; load size 286/256 of it) with the benchmark's batch size, U-GAT-IT's
    ``model.light`` set when ``light`` is not None, validated (ValueError naming the key when the
    networks cannot take the size)."""
    params = copy.deepcopy(dict(_parameters(WIDTH_ENVS[width])[model]["train"]))
    if width == "reference":
        if not (PROJECT / "conf" / "paper" / model).is_dir():
            for block, values in REFERENCE_WIDTHS[model].items():
                params[block] = {**dict(params.get(block) or {}), **values}
        if model == "ugatit":
            # conf/paper pins the paper's 7 / 5 layers for 256 px; at other sizes the depths
            # come from the size (7 / 5 from 128 px up, 6 / 4 at 64 px)
            params["discriminator"] = {**dict(params.get("discriminator") or {}), "global_layers": None,
                                       "local_layers": None}
    if model == "ugatit" and light is not None:
        params["model"] = {**dict(params.get("model") or {}), "light": light}
    params["batch_size"] = batch
    params["augmentation"] = {**dict(params.get("augmentation") or {}), "crop_size": resolution,
                              "load_size": load_size(resolution)}
    return TRAIN_MODELS[model].parse(params, f"{model}.train")


def generator_kind(model: str, settings: UnpairedTrainParams) -> str:
    return ("light" if settings.model.light else "full") if model == "ugatit" else "autoencoder"


def parameter_counts(model: str, settings: UnpairedTrainParams, resolution: int) -> dict[str, int]:
    """Parameters of one generator (MUNIT: one domain's auto-encoder) and of each discriminator,
    counted on torch's meta device (nothing allocated: the full U-GAT-IT generator is 279 M
    parameters at 256 px)."""
    g_cfg, d_cfg = settings.network_configs(resolution)
    with torch.device("meta"):
        if model == "ugatit":
            counts = {"generator": count_parameters(build_ugatit_generator(g_cfg)),
                      "discriminator_global": count_parameters(build_ugatit_discriminator(d_cfg, "global")),
                      "discriminator_local": count_parameters(build_ugatit_discriminator(d_cfg, "local"))}
        else:
            counts = {"generator": count_parameters(build_munit_generator(g_cfg)),
                      "discriminator": count_parameters(build_munit_discriminator(d_cfg))}
    return counts


def trained_parameters(model: str, counts: dict[str, int]) -> int:
    """Every parameter a step updates: two generators and the discriminators (U-GAT-IT: a global
    and a local one per domain, MUNIT: one per domain)."""
    if model == "ugatit":
        return 2 * (counts["generator"] + counts["discriminator_global"] + counts["discriminator_local"])
    return 2 * (counts["generator"] + counts["discriminator"])


def networks(model: str, settings: UnpairedTrainParams, resolution: int) -> dict[str, nn.Module]:
    """The model's networks as the train node builds them (same seed, same order)."""
    torch.manual_seed(0)
    return BUILDERS[model](*settings.network_configs(resolution))


def weights_fingerprint(modules: dict[str, nn.Module]) -> float:
    """A sum over every floating-point tensor of the modules' state dicts (parameters and the
    spectral norms' vectors): equal on both sides when they start from the same weights."""
    total = 0.0
    with torch.no_grad():
        for name in sorted(modules):
            for tensor in modules[name].state_dict().values():
                if tensor.is_floating_point():
                    total += float(tensor.sum(dtype=torch.float64))
    return total


def shape_text(model: str, settings: UnpairedTrainParams, resolution: int, counts: dict[str, int]) -> str:
    g_cfg, d_cfg = settings.network_configs(resolution)
    if model == "ugatit":
        return (f"{generator_kind(model, settings)} G ngf {g_cfg['ngf']}, {g_cfg['n_blocks']} blocks "
                f"({counts['generator'] / 1e6:.2f} M), D ndf {d_cfg['ndf']}, {d_cfg['global_layers']}/"
                f"{d_cfg['local_layers']} layers")
    return (f"G dim {g_cfg['dim']}, mlp {g_cfg['mlp_dim']}, {g_cfg['n_res']} res ({counts['generator'] / 1e6:.2f} M), "
            f"D dim {d_cfg['dim']}, {d_cfg['n_layers']} layers x {d_cfg['num_scales']} scales")


# --------------------------------------------------------------------------------------------
# Training memory (measured by common.TrainingMemory)
# --------------------------------------------------------------------------------------------


def estimated_step_bytes(model: str, counts: dict[str, int], resolution: int, batch: int, side: str,
                         precision_name: str) -> int:
    """A guess of one training step's memory on the CPU, in bytes: 16 per trained parameter
    (fp32 weights, gradients, Adam's two moments), on the project side (bf16/fp16) 2 per
    generator parameter (the half-precision copies autocast makes), + 0.5 GiB, + the larger of
    the activations (per picture at 256 px, scaled with the area: 4 GiB on the project side,
    6 GiB on the reference side, which keeps the generators' graphs through its D update and runs
    every network call on its own) and the optimiser's temporaries (reference side: the default
    ``foreach`` Adam's weight-decayed gradients and square roots of the second moments, 8 per
    generator parameter; the project's fused Adam makes none): they are not live at once.
    Calibrated on U-GAT-IT at ngf 64 on the CPU, batch 1 (measured / estimated GiB): project bf16
    full 1.7 / 2.1, 5.1 / 5.8, 13.5 / 15.5 and light 1.2 / 1.5, 3.4 / 3.5, 6.4 / 6.5 at 64, 128
    and 256 px; reference fp32 full 1.7 / 2.1, 6.0 / 6.0, 18.0 / 16.5 and light 1.1 / 1.6,
    4.0 / 4.0, 8.2 / 8.5. It decides whether to try a step; the child process's address-space
    cap (:func:`memory_child`) is what keeps a step that needs more from hurting others."""
    generators = 2 * counts["generator"]
    total = 16 * trained_parameters(model, counts) + 2**29
    if side == "project" and precision_name in ("bf16", "fp16"):
        total += 2 * generators
    activations = (4 if side == "project" else 6) * 2**30 * batch * (resolution / 256) ** 2
    temporaries = 8 * generators if side == "reference" else 0
    return total + int(max(activations, temporaries))


# --------------------------------------------------------------------------------------------
# The project's path
# --------------------------------------------------------------------------------------------


def project_step_fn(model: str, settings: UnpairedTrainParams, resolution: int, device, precision,
                    channels_last: bool, compile_: bool, fingerprint: bool = True,
                    ) -> tuple[Callable[[Any], None], float | None]:
    """One step of the task the train node builds (``TASK_BUILDERS[model]`` with the stage's
    parameters and seed 0), and the weights' fingerprint before any step."""
    g_cfg, d_cfg = settings.network_configs(resolution)
    torch.manual_seed(0)
    task, _info = TASK_BUILDERS[model](settings, g_cfg, d_cfg, 0)
    start = weights_fingerprint(task.modules) if fingerprint else None
    return task_step_fn(task, device, precision, channels_last, compile_), start


# --------------------------------------------------------------------------------------------
# The reference-style path
# --------------------------------------------------------------------------------------------


class DomainPNGDataset(Dataset):
    """One domain's folder as both references read it (an ``ImageFolder``): the PNG decoded
    with PIL and transformed on every access."""

    def __init__(self, folder: Path, count: int, resolution: int) -> None:
        import torchvision.transforms as T

        self.paths = [folder / f"{index:05d}.png" for index in range(count)]
        load = load_size(resolution)
        # UGATIT-pytorch and MUNIT's get_data_loader_folder: flip, resize, random crop, to [-1, 1]
        self.transform = T.Compose([
            T.RandomHorizontalFlip(), T.Resize((load, load)), T.RandomCrop(resolution), T.ToTensor(),
            T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        with open(self.paths[index], "rb") as handle:
            image = Image.open(handle).convert("RGB")
        return self.transform(image)


class TwoDomainLoader:
    """``{"A": ..., "B": ...}`` batches from one shuffled loader per domain, each restarted when
    it runs out (UGATIT-pytorch's ``try: next(...) except: iter(...)``)."""

    def __init__(self, loaders: dict[str, DataLoader]) -> None:
        self.loaders = loaders

    def __iter__(self):
        iterators = {domain: iter(loader) for domain, loader in self.loaders.items()}
        while True:
            batch = {}
            for domain, loader in self.loaders.items():
                try:
                    batch[domain] = next(iterators[domain])
                except StopIteration:
                    iterators[domain] = iter(loader)
                    batch[domain] = next(iterators[domain])
            yield batch


def reference_loader(root: Path, counts: dict[str, int], resolution: int, batch: int, workers: int) -> TwoDomainLoader:
    return TwoDomainLoader({
        domain: DataLoader(DomainPNGDataset(root / domain, count, resolution), batch_size=batch, shuffle=True,
                           drop_last=True, num_workers=workers)
        for domain, count in counts.items()
    })


class RhoClipper:
    """UGATIT-pytorch's ``RhoClipper`` (``networks.py``), applied with ``Module.apply``."""

    def __init__(self, clip_min: float, clip_max: float) -> None:
        self.clip_min, self.clip_max = clip_min, clip_max

    def __call__(self, module: nn.Module) -> None:
        if hasattr(module, "rho"):
            w = module.rho.data
            w = w.clamp(self.clip_min, self.clip_max)
            module.rho.data = w


def reference_ugatit_step_fn(settings, resolution: int, device) -> tuple[Callable[[Any], None], float]:
    """``UGATIT.train``'s loop body (znxlwm/UGATIT-pytorch), on the family's networks."""
    nets = {k: v.to(device).train() for k, v in networks("ugatit", settings, resolution).items()}
    fingerprint = weights_fingerprint(nets)
    gen_a2b, gen_b2a = nets["G_AB"], nets["G_BA"]
    dis_ga, dis_la, dis_gb, dis_lb = nets["D_A_global"], nets["D_A_local"], nets["D_B_global"], nets["D_B_local"]
    l1_loss, mse_loss, bce_loss = nn.L1Loss().to(device), nn.MSELoss().to(device), nn.BCEWithLogitsLoss().to(device)
    adam = {"lr": settings.lr, "betas": tuple(settings.betas), "weight_decay": settings.weight_decay}
    g_optim = torch.optim.Adam(itertools.chain(gen_a2b.parameters(), gen_b2a.parameters()), **adam)
    d_optim = torch.optim.Adam(itertools.chain(dis_ga.parameters(), dis_gb.parameters(), dis_la.parameters(),
                                               dis_lb.parameters()), **adam)
    rho_clipper = RhoClipper(0, 1)
    w = settings.loss_weights

    def ones(x):
        return torch.ones_like(x).to(device)

    def zeros(x):
        return torch.zeros_like(x).to(device)

    def run(batch):
        real_a, real_b = batch["A"].to(device), batch["B"].to(device)

        # Update D (the fakes keep their graph: the D loss also backpropagates into G, as the reference)
        d_optim.zero_grad()
        fake_a2b, _, _ = gen_a2b(real_a, return_attention=True)
        fake_b2a, _, _ = gen_b2a(real_b, return_attention=True)

        real_ga_logit, real_ga_cam_logit, _ = dis_ga(real_a)
        real_la_logit, real_la_cam_logit, _ = dis_la(real_a)
        real_gb_logit, real_gb_cam_logit, _ = dis_gb(real_b)
        real_lb_logit, real_lb_cam_logit, _ = dis_lb(real_b)

        fake_ga_logit, fake_ga_cam_logit, _ = dis_ga(fake_b2a)
        fake_la_logit, fake_la_cam_logit, _ = dis_la(fake_b2a)
        fake_gb_logit, fake_gb_cam_logit, _ = dis_gb(fake_a2b)
        fake_lb_logit, fake_lb_cam_logit, _ = dis_lb(fake_a2b)

        d_ad_loss_ga = mse_loss(real_ga_logit, ones(real_ga_logit)) + mse_loss(fake_ga_logit, zeros(fake_ga_logit))
        d_ad_cam_loss_ga = (mse_loss(real_ga_cam_logit, ones(real_ga_cam_logit))
                            + mse_loss(fake_ga_cam_logit, zeros(fake_ga_cam_logit)))
        d_ad_loss_la = mse_loss(real_la_logit, ones(real_la_logit)) + mse_loss(fake_la_logit, zeros(fake_la_logit))
        d_ad_cam_loss_la = (mse_loss(real_la_cam_logit, ones(real_la_cam_logit))
                            + mse_loss(fake_la_cam_logit, zeros(fake_la_cam_logit)))
        d_ad_loss_gb = mse_loss(real_gb_logit, ones(real_gb_logit)) + mse_loss(fake_gb_logit, zeros(fake_gb_logit))
        d_ad_cam_loss_gb = (mse_loss(real_gb_cam_logit, ones(real_gb_cam_logit))
                            + mse_loss(fake_gb_cam_logit, zeros(fake_gb_cam_logit)))
        d_ad_loss_lb = mse_loss(real_lb_logit, ones(real_lb_logit)) + mse_loss(fake_lb_logit, zeros(fake_lb_logit))
        d_ad_cam_loss_lb = (mse_loss(real_lb_cam_logit, ones(real_lb_cam_logit))
                            + mse_loss(fake_lb_cam_logit, zeros(fake_lb_cam_logit)))

        d_loss_a = w.adversarial * (d_ad_loss_ga + d_ad_cam_loss_ga + d_ad_loss_la + d_ad_cam_loss_la)
        d_loss_b = w.adversarial * (d_ad_loss_gb + d_ad_cam_loss_gb + d_ad_loss_lb + d_ad_cam_loss_lb)
        discriminator_loss = d_loss_a + d_loss_b
        discriminator_loss.backward()
        d_optim.step()

        # Update G
        g_optim.zero_grad()
        fake_a2b, fake_a2b_cam_logit, _ = gen_a2b(real_a, return_attention=True)
        fake_b2a, fake_b2a_cam_logit, _ = gen_b2a(real_b, return_attention=True)
        fake_a2b2a, _, _ = gen_b2a(fake_a2b, return_attention=True)
        fake_b2a2b, _, _ = gen_a2b(fake_b2a, return_attention=True)
        fake_a2a, fake_a2a_cam_logit, _ = gen_b2a(real_a, return_attention=True)
        fake_b2b, fake_b2b_cam_logit, _ = gen_a2b(real_b, return_attention=True)

        fake_ga_logit, fake_ga_cam_logit, _ = dis_ga(fake_b2a)
        fake_la_logit, fake_la_cam_logit, _ = dis_la(fake_b2a)
        fake_gb_logit, fake_gb_cam_logit, _ = dis_gb(fake_a2b)
        fake_lb_logit, fake_lb_cam_logit, _ = dis_lb(fake_a2b)

        g_ad_loss_ga = mse_loss(fake_ga_logit, ones(fake_ga_logit))
        g_ad_cam_loss_ga = mse_loss(fake_ga_cam_logit, ones(fake_ga_cam_logit))
        g_ad_loss_la = mse_loss(fake_la_logit, ones(fake_la_logit))
        g_ad_cam_loss_la = mse_loss(fake_la_cam_logit, ones(fake_la_cam_logit))
        g_ad_loss_gb = mse_loss(fake_gb_logit, ones(fake_gb_logit))
        g_ad_cam_loss_gb = mse_loss(fake_gb_cam_logit, ones(fake_gb_cam_logit))
        g_ad_loss_lb = mse_loss(fake_lb_logit, ones(fake_lb_logit))
        g_ad_cam_loss_lb = mse_loss(fake_lb_cam_logit, ones(fake_lb_cam_logit))

        g_recon_loss_a = l1_loss(fake_a2b2a, real_a)
        g_recon_loss_b = l1_loss(fake_b2a2b, real_b)
        g_identity_loss_a = l1_loss(fake_a2a, real_a)
        g_identity_loss_b = l1_loss(fake_b2b, real_b)
        g_cam_loss_a = (bce_loss(fake_b2a_cam_logit, ones(fake_b2a_cam_logit))
                        + bce_loss(fake_a2a_cam_logit, zeros(fake_a2a_cam_logit)))
        g_cam_loss_b = (bce_loss(fake_a2b_cam_logit, ones(fake_a2b_cam_logit))
                        + bce_loss(fake_b2b_cam_logit, zeros(fake_b2b_cam_logit)))

        g_loss_a = (w.adversarial * (g_ad_loss_ga + g_ad_cam_loss_ga + g_ad_loss_la + g_ad_cam_loss_la)
                    + w.cycle * g_recon_loss_a + w.identity * g_identity_loss_a + w.cam * g_cam_loss_a)
        g_loss_b = (w.adversarial * (g_ad_loss_gb + g_ad_cam_loss_gb + g_ad_loss_lb + g_ad_cam_loss_lb)
                    + w.cycle * g_recon_loss_b + w.identity * g_identity_loss_b + w.cam * g_cam_loss_b)
        generator_loss = g_loss_a + g_loss_b
        generator_loss.backward()
        g_optim.step()

        # clip parameter of AdaILN and ILN, applied after optimizer step
        gen_a2b.apply(rho_clipper)
        gen_b2a.apply(rho_clipper)

    return run, fingerprint


def _munit_outputs(prediction) -> list[torch.Tensor]:
    """The family's MUNIT discriminator output (one ``[logits]`` per scale) as the reference's
    ``MsImageDis.forward`` list of per-scale logits."""
    return [scale[-1] if isinstance(scale, (list, tuple)) else scale for scale in prediction]


def reference_munit_step_fn(settings, resolution: int, device) -> tuple[Callable[[Any], None], float]:
    """``train.py``'s loop body (NVlabs/MUNIT): ``dis_update`` then ``gen_update`` of
    ``MUNIT_Trainer``, on the family's networks."""
    nets = {k: v.to(device).train() for k, v in networks("munit", settings, resolution).items()}
    fingerprint = weights_fingerprint(nets)
    gen_a, gen_b, dis_a, dis_b = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]
    style_dim = gen_a.style_dim
    adam = {"lr": settings.lr, "betas": tuple(settings.betas), "weight_decay": settings.weight_decay}
    dis_params = list(dis_a.parameters()) + list(dis_b.parameters())
    gen_params = list(gen_a.parameters()) + list(gen_b.parameters())
    dis_opt = torch.optim.Adam([p for p in dis_params if p.requires_grad], **adam)
    gen_opt = torch.optim.Adam([p for p in gen_params if p.requires_grad], **adam)
    w = settings.loss_weights
    hyperparameters = {"gan_w": w.adversarial, "recon_x_w": w.image, "recon_s_w": w.style, "recon_c_w": w.content,
                       "recon_x_cyc_w": w.cycle}

    def recon_criterion(input, target):  # noqa: A002 (the reference's names)
        return torch.mean(torch.abs(input - target))

    def calc_dis_loss(dis, input_fake, input_real):
        outs0 = _munit_outputs(dis(input_fake))
        outs1 = _munit_outputs(dis(input_real))
        loss = 0
        for out0, out1 in zip(outs0, outs1):
            loss += torch.mean((out0 - 0) ** 2) + torch.mean((out1 - 1) ** 2)  # LSGAN
        return loss

    def calc_gen_loss(dis, input_fake):
        outs0 = _munit_outputs(dis(input_fake))
        loss = 0
        for out0 in outs0:
            loss += torch.mean((out0 - 1) ** 2)  # LSGAN
        return loss

    def dis_update(x_a, x_b):
        dis_opt.zero_grad()
        s_a = torch.randn(x_a.size(0), style_dim, 1, 1, device=device)
        s_b = torch.randn(x_b.size(0), style_dim, 1, 1, device=device)
        c_a, _ = gen_a.encode(x_a)
        c_b, _ = gen_b.encode(x_b)
        x_ba = gen_a.decode(c_b, s_a)
        x_ab = gen_b.decode(c_a, s_b)
        loss_dis_a = calc_dis_loss(dis_a, x_ba.detach(), x_a)
        loss_dis_b = calc_dis_loss(dis_b, x_ab.detach(), x_b)
        loss_dis_total = hyperparameters["gan_w"] * loss_dis_a + hyperparameters["gan_w"] * loss_dis_b
        loss_dis_total.backward()
        dis_opt.step()

    def gen_update(x_a, x_b):
        gen_opt.zero_grad()
        s_a = torch.randn(x_a.size(0), style_dim, 1, 1, device=device)
        s_b = torch.randn(x_b.size(0), style_dim, 1, 1, device=device)
        # encode
        c_a, s_a_prime = gen_a.encode(x_a)
        c_b, s_b_prime = gen_b.encode(x_b)
        # decode (within domain)
        x_a_recon = gen_a.decode(c_a, s_a_prime)
        x_b_recon = gen_b.decode(c_b, s_b_prime)
        # decode (cross domain)
        x_ba = gen_a.decode(c_b, s_a)
        x_ab = gen_b.decode(c_a, s_b)
        # encode again
        c_b_recon, s_a_recon = gen_a.encode(x_ba)
        c_a_recon, s_b_recon = gen_b.encode(x_ab)
        # decode again (if needed)
        cycle = hyperparameters["recon_x_cyc_w"] > 0
        x_aba = gen_a.decode(c_a_recon, s_a_prime) if cycle else None
        x_bab = gen_b.decode(c_b_recon, s_b_prime) if cycle else None
        loss_gen_total = (
            hyperparameters["gan_w"] * calc_gen_loss(dis_a, x_ba)
            + hyperparameters["gan_w"] * calc_gen_loss(dis_b, x_ab)
            + hyperparameters["recon_x_w"] * recon_criterion(x_a_recon, x_a)
            + hyperparameters["recon_s_w"] * recon_criterion(s_a_recon, s_a)
            + hyperparameters["recon_c_w"] * recon_criterion(c_a_recon, c_a)
            + hyperparameters["recon_x_w"] * recon_criterion(x_b_recon, x_b)
            + hyperparameters["recon_s_w"] * recon_criterion(s_b_recon, s_b)
            + hyperparameters["recon_c_w"] * recon_criterion(c_b_recon, c_b)
        )
        if cycle:
            loss_gen_total = loss_gen_total + (hyperparameters["recon_x_cyc_w"] * recon_criterion(x_aba, x_a)
                                               + hyperparameters["recon_x_cyc_w"] * recon_criterion(x_bab, x_b))
        loss_gen_total.backward()
        gen_opt.step()

    def run(batch):
        images_a, images_b = batch["A"].to(device), batch["B"].to(device)
        dis_update(images_a, images_b)
        gen_update(images_a, images_b)

    return run, fingerprint


REFERENCE_STEPS = {"ugatit": reference_ugatit_step_fn, "munit": reference_munit_step_fn}


# --------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------


def compare(model: str, settings: UnpairedTrainParams, root: Path, a, b, resolution: int, batch: int, args, device,
            precision, channels_last: bool, sides=("reference", "project")) -> tuple[dict[str, Measured], dict[str, float]]:
    """``({side: Measured}, {side: weights fingerprint})`` of each of ``sides``: training on the
    domains ``a``, ``b`` (:func:`~cyclegan_speed.draw_domain`), stored under ``root/A`` and
    ``root/B`` by :func:`~cyclegan_speed.write_pngs` for the reference-style side. ``args``: the
    timing flags (steps, warmup, workers, compile). Warns when the sides start from different
    weights."""
    prints: dict[str, float] = {}

    def reference():
        loader = reference_loader(root, {"A": len(a), "B": len(b)}, resolution, batch, args.workers)
        fn, prints["reference"] = REFERENCE_STEPS[model](settings, resolution, device)
        return fn, loader

    def project():
        loader = project_loader(a, b, resolution, batch, args.workers, device)
        fn, prints["project"] = project_step_fn(model, settings, resolution, device, precision, channels_last,
                                                args.compile)
        return fn, loader

    makers = {"reference": reference, "project": project}
    measured = {side: measure_training(makers[side], device, args.warmup, args.steps, batch) for side in sides}
    if len(prints) == 2 and abs(prints["project"] - prints["reference"]) > 1e-9 * max(1.0, abs(prints["reference"])):
        print(f"  WARNING {model}, {resolution} px: the two sides' weights differ (fingerprints "
              f"{prints['reference']!r} and {prints['project']!r})", flush=True)
    return measured, prints


def run_speed(args, device, precision, channels_last) -> dict[str, Any]:
    rows: list[tuple[str, str]] = []
    records: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    light = True if args.light else None
    for resolution in args.resolutions:
        a = draw_domain("A", args.pictures, resolution, 0)
        b = draw_domain("B", args.pictures + 3, resolution, 1)  # the domains differ in size, as real ones do
        with tempfile.TemporaryDirectory(prefix="unpaired_bench_") as tmp:
            write_pngs(Path(tmp), "A", a)
            write_pngs(Path(tmp), "B", b)
            for model, width, batch in itertools.product(args.models, args.widths, args.batches):
                where = f"{model}, {resolution} px, {width} width, batch {batch}"
                try:
                    settings = train_params(model, width, resolution, batch, light)
                except ValueError as exc:
                    print(f"  {where}: skipped ({exc})", flush=True)
                    rows.append((where, f"skipped: {str(exc).splitlines()[0][:120]}"))
                    records.append({"model": model, "width": width, "resolution": resolution, "batch": batch,
                                    "skipped": str(exc)})
                    continue
                counts = parameter_counts(model, settings, resolution)
                kind = generator_kind(model, settings)
                name = f"{model} ({kind}), {resolution} px, {width} width, batch {batch}"
                measured, prints = compare(model, settings, Path(tmp), a, b, resolution, batch, args, device, precision,
                                           channels_last, args.sides)
                for side, result in measured.items():
                    label = "reference-style eager fp32" if side == "reference" else f"project ({precision.name})"
                    memory = result.memory
                    rows.append((f"{name}: {label}", f"{result.img_s:.3g} img/s, peak {memory.text()}"))
                    records.append({"model": model, "generator": kind, "width": width, "resolution": resolution,
                                    "batch": batch, "side": side,
                                    "precision": "fp32" if side == "reference" else precision.name,
                                    "img_per_s": result.img_s, "peak_memory_bytes": memory.peak,
                                    "memory_measure": memory.kind, "seconds": result.seconds, "parameters": counts,
                                    "weights_fingerprint": prints[side]})
                    print(f"  {name}: {label} [{shape_text(model, settings, resolution, counts)}]: "
                          f"{result.img_s:.3g} img/s, peak {memory.text()} ({result.seconds:.0f} s)", flush=True)
                if len(measured) == 2:
                    ratio = measured["project"].img_s / measured["reference"].img_s
                    rows.append((f"{name}: ratio project / reference", f"{ratio:.2f}x"))
                    ratios.append({"model": model, "generator": kind, "width": width, "resolution": resolution,
                                   "batch": batch, "ratio": ratio})
                rows.append((f"{name}: parameters", ", ".join(f"{k} {v:,}" for k, v in counts.items())))
    width = max(len(name) for name, _ in rows) if rows else 0
    print("\n(img/s: (A, B) couples per second, each a full step over both directions; peak: training memory, "
          + ("CUDA max_memory_allocated" if device.type == "cuda" else
             "peak RSS above the size before the networks were built") + ")")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return {"speed": records, "ratios": ratios}


def memory_child(spec: dict[str, Any], args, device, precision, channels_last) -> dict[str, Any]:
    """One training step of one side in this (fresh) process: its training memory and time."""
    model, resolution, side, batch = spec["model"], spec["resolution"], spec["side"], spec["batch"]
    settings = train_params(model, spec["width"], resolution, batch, spec.get("light"))
    if device.type == "cpu":
        import resource

        # A wrong estimate must fail this step (MemoryError / RuntimeError) rather than wake the
        # OOM killer, which might pick another process: cap the address space at what is free
        # less the reserve (virtual size grows at least as fast as the resident size).
        limit = _status_bytes("VmSize") + _meminfo_bytes("MemAvailable") - MEMORY_RESERVE
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    a = draw_domain("A", max(2, batch), resolution, 0)
    b = draw_domain("B", max(2, batch), resolution, 1)
    with tempfile.TemporaryDirectory(prefix="unpaired_memory_") as tmp:
        write_pngs(Path(tmp), "A", a)
        write_pngs(Path(tmp), "B", b)
        if side == "reference":
            batches = reference_loader(Path(tmp), {"A": len(a), "B": len(b)}, resolution, batch, 0)
        else:
            batches = project_loader(a, b, resolution, batch, 0, device)
        first = next(iter(batches))
        with TrainingMemory(device) as memory:
            if side == "reference":
                fn, _ = REFERENCE_STEPS[model](settings, resolution, device)
            else:
                fn, _ = project_step_fn(model, settings, resolution, device, precision, channels_last, args.compile,
                                        fingerprint=False)
            started = time.perf_counter()
            fn(first)
            Timer(device).sync()
            seconds = time.perf_counter() - started
    return {"peak_memory_bytes": memory.peak, "memory_measure": memory.kind, "step_seconds": seconds}


def run_memory(args, device, precision) -> dict[str, Any]:
    """``--memory-only``: one step per (model, generator, width, resolution, side), batch 1 by
    default, each in a child interpreter."""
    passthrough = []
    for flag in ("--device", "--precision", "--threads"):
        value = getattr(args, flag[2:])
        if value is not None:
            passthrough += [flag, str(value)]
    if args.no_channels_last:
        passthrough.append("--no-channels-last")
    if args.compile:
        passthrough.append("--compile")
    records, rows = [], []
    for model in args.models:
        variants = [False, True] if model == "ugatit" else [None]
        for light, width, resolution, batch in itertools.product(variants, args.widths, args.resolutions, args.batches):
            kind = "autoencoder" if light is None else ("light" if light else "full")
            name = f"{model} ({kind}), {width} width, {resolution} px, batch {batch}"
            base = {"model": model, "generator": kind, "width": width, "resolution": resolution, "batch": batch}
            try:
                settings = train_params(model, width, resolution, batch, light)
            except ValueError as exc:
                print(f"  {name}: skipped ({exc})", flush=True)
                records.append({**base, "skipped": str(exc)})
                rows.append((name, "skipped (size)"))
                continue
            counts = parameter_counts(model, settings, resolution)
            rows.append((f"{name}: generator parameters", f"{counts['generator']:,}"))
            for side in args.sides:
                entry = {**base, "side": side, "precision": "fp32" if side == "reference" else precision.name,
                         "parameters": counts}
                label = f"{name}: {side} ({entry['precision']}) one step"
                if device.type == "cpu":
                    needed = estimated_step_bytes(model, counts, resolution, batch, side, precision.name)
                    available = _meminfo_bytes("MemAvailable")
                    entry["estimated_bytes"], entry["available_bytes"] = needed, available
                    if needed > available - MEMORY_RESERVE:
                        reason = (f"needs about {needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB available "
                                  f"(keeping {MEMORY_RESERVE / 2**30:.0f} GiB for others)")
                        print(f"  {label}: skipped, {reason}", flush=True)
                        records.append({**entry, "skipped": reason})
                        rows.append((label, f"skipped: {reason}"))
                        continue
                spec = {"model": model, "width": width, "resolution": resolution, "batch": batch, "side": side,
                        "light": light}
                command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", json.dumps(spec),
                           *passthrough]
                started = time.perf_counter()
                try:
                    done = subprocess.run(command, capture_output=True, text=True, timeout=args.child_timeout)
                except subprocess.TimeoutExpired:
                    result, error = None, f"timed out after {args.child_timeout} s"
                else:
                    lines = [line for line in done.stdout.splitlines() if line.startswith(CHILD_PREFIX)]
                    result = json.loads(lines[-1][len(CHILD_PREFIX):]) if done.returncode == 0 and lines else None
                    error = None if result else (f"exit {done.returncode}: "
                                                 + (done.stderr.strip().splitlines() or ["no output"])[-1][:300])
                if result is None:
                    print(f"  {label}: failed ({error})", flush=True)
                    records.append({**entry, "failed": error})
                    rows.append((label, f"failed: {error}"))
                    continue
                entry.update(result)
                records.append(entry)
                peak = result["peak_memory_bytes"]
                text = "n/a" if peak is None else f"{peak / 2**30:.2f} GiB"
                rows.append((label, f"peak {text}, step {result['step_seconds']:.1f} s"))
                print(f"  {label}: peak {text}, step {result['step_seconds']:.1f} s "
                      f"({time.perf_counter() - started:.0f} s with start-up)", flush=True)
    width = max(len(name) for name, _ in rows) if rows else 0
    print("\n(training memory of one step: " + ("CUDA max_memory_allocated" if device.type == "cuda" else
          "peak RSS above the process's size before the networks were built") + ", fresh process each)")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return {"memory": records}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--resolutions", type=int, nargs="+", default=None,
                        help="default: 64 256; with --memory-only 64 128 256")
    parser.add_argument("--batches", type=int, nargs="+", default=None, help="default: 1 4; with --memory-only 1")
    parser.add_argument("--widths", nargs="+", default=None, choices=list(WIDTH_ENVS),
                        help="default: cpu; with --memory-only reference")
    parser.add_argument("--light", action="store_true",
                        help="U-GAT-IT's light generator (default: the parameters' choice, full)")
    parser.add_argument("--pictures", type=int, default=24, help="pictures drawn per domain")
    parser.add_argument("--sides", nargs="+", default=["reference", "project"], choices=["reference", "project"])
    parser.add_argument("--memory-only", action="store_true",
                        help="training memory of one step (U-GAT-IT: full and light generators), batch 1")
    parser.add_argument("--child-timeout", type=int, default=1800, help="seconds per --memory-only step")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    add_timing_options(parser, workers_help="DataLoader workers (both paths)")
    args = parser.parse_args(argv)
    memory_mode = args.memory_only or args.memory_child is not None
    args.resolutions = args.resolutions or ([64, 128, 256] if memory_mode else [64, 256])
    args.batches = args.batches or ([1] if memory_mode else [1, 4])
    args.widths = args.widths or (["reference"] if memory_mode else ["cpu"])

    device, precision, channels_last = apply_timing_options(args)
    random.seed(0)
    if args.memory_child is not None:
        result = memory_child(json.loads(args.memory_child), args, device, precision, channels_last)
        print(CHILD_PREFIX + json.dumps(result), flush=True)
        return 0

    info = environment(device)
    where = info.get("gpu") or f"{info['cpu']}, {torch.get_num_threads()} threads"
    print(
        f"device={device} ({where}), "
        f"precision={precision.name}, channels_last={channels_last}, compile={args.compile}, workers={args.workers}, "
        f"torch {torch.__version__}, load average {info.get('load_average_at_start')}",
        flush=True,
    )
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()
                if key not in ("memory_child", "json")}
    settings["precision"] = precision.name
    if args.memory_only:
        figures = run_memory(args, device, precision)
    else:
        figures = run_speed(args, device, precision, channels_last)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"environment": info, "settings": settings, **figures}, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
