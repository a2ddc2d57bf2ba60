"""<family>.train: CycleGAN (Zhu et al., ICCV 2017) through the shared engine.

Two ResNet generators (A -> B, B -> A) and two PatchGANs (:mod:`..networks`), LSGAN, cycle L1 x 10
each way, identity L1 (``loss_weights.identity`` read through ``identity_convention``: the
reference's ``times_cycle`` makes 0.5 an effective 5), the discriminators' loss halved and
trained on 50-image history buffers (:mod:`..tasks`); Adam 2e-4 (0.5, 0.999) for both optimisers,
constant then linearly decaying lr (``training.scheduler: linear``, ``lr_constant_epochs``); each
domain's picture resized to ``load_size``, randomly cropped back and flipped, independently of
the other domain's. The reference keeps its last epoch (``training.monitor: null``): a GAN's
losses do not say which epoch is best.

The model input's ``train`` split holds the two domains' pictures under disjoint names; an epoch
goes through ``max(n_A, n_B)`` (A, B) couples, B drawn in a new order every epoch
(:class:`~gan_pipelines.training.data.UnpairedImageDataset`). ``val`` measures the cycle and
identity L1 per epoch (it has no pairs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.unpaired.config import TrainParams, train_problems
from gan_pipelines.image_folders import content_hash, folder_version, stack_split
from gan_pipelines.params import ParameterError
from gan_pipelines.stages.training_setup import checkpoint_bundle, history_frame, log_kept_epoch, run_training

logger = logging.getLogger(__name__)

KINDS = {"A": "rgb", "B": "rgb"}


def load_domains(model_input: Mapping[str, Callable[[], np.ndarray]], split: str) -> dict[str, np.ndarray]:
    """``{"A": (n_A, H, W, 3), "B": (n_B, H, W, 3)}`` uint8: each domain's pictures of ``split``
    (each stacked on its own names). Raises ValueError when a domain is missing, or the two
    domains differ in size."""
    arrays = {}
    for domain in KINDS:
        _, stacked = stack_split(model_input, split, [domain], anchor_kind=domain)
        arrays[domain] = stacked[domain]
    sizes = {domain: array.shape[1:3] for domain, array in arrays.items()}
    if sizes["A"] != sizes["B"]:
        raise ValueError(f"The {split} pictures of domain A are {sizes['A']} and of domain B {sizes['B']}; the "
                         "preprocess stage resizes both to one resolution")
    return arrays


def train_unpaired_model(model_input: Mapping[str, Callable[[], np.ndarray]], params: TrainParams, *,
                         family: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train CycleGAN on the model input's train split (val: its val split) and return
    ``(bundle, history)``.

    Args:
        model_input: the image folder (``<split>/<A|B>/<name>.png`` -> loader), pictures of both
            domains at one resolution (a multiple of 4, at least 8 px).
        params: ``<family>.train`` (:class:`~gan_pipelines.families.unpaired.config.TrainParams`
            or a dict, validated here).
        family: the namespace (bound by the pipeline).

    Returns:
        The checkpoint bundle (:func:`~gan_pipelines.stages.training_setup.checkpoint_bundle`):
        ``state_dicts`` ``{"G_AB", "G_BA"}`` of the kept epoch (the last with ``monitor: null``),
        ``model_config`` ``{"model": "cyclegan", "generator": {...}, "discriminator": {...},
        "resolution": R}``, ``meta`` (family, network "generator", the loss weights with the
        effective identity weight and its convention, pool size, data version and hash, ...);
        and the per-epoch history (train losses, val cycle/identity L1, lr, img/s).

    Raises:
        ParameterError: a parameter does not suit the model input (crop, network depth), named.
        ValueError: a domain or split is missing from the model input.
    """
    section = f"{family}.train"
    train = TrainParams.parse(params, section)
    train_arrays = load_domains(model_input, "train")
    val_arrays = load_domains(model_input, "val")
    resolution = int(train_arrays["A"].shape[1])
    if train_arrays["A"].shape[1] != train_arrays["A"].shape[2]:
        raise ValueError(f"The model input's pictures are {train_arrays['A'].shape[1:3]}, not square; the preprocess "
                         "stage makes them resolution x resolution")
    problems = train_problems(train, resolution, family)
    if problems:
        raise ParameterError("; ".join(problems))
    config = train.training.trainer_config(section)
    # plain values for the workers of a data-parallel run (spawned interpreters unpickle them)
    result, info = run_training(fit_cyclegan, (train_arrays, val_arrays, train.model_dump(), section, config), config)
    log_kept_epoch(logger, section, result, config)
    meta = {
        "family": family,
        "network": "generator",
        "stage": "train",
        "resolution": resolution,
        "model_input_version": folder_version(model_input) or "unversioned",
        "data_hash": content_hash(model_input, sorted(KINDS), ("train", "val")),
        "data_hash_kinds": sorted(KINDS),
        "train_counts": {domain: int(len(array)) for domain, array in train_arrays.items()},
        "test_time_mode": "eval (instance norm: per-picture statistics in train and eval mode)",
        **info,
    }
    bundle = checkpoint_bundle(
        result, modules=("G_AB", "G_BA"),
        model_config={"model": "cyclegan", "generator": info["generator"], "discriminator": info["discriminator"],
                      "resolution": resolution},
        meta=meta,
    )
    return bundle, history_frame(result)


def _loaders(train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray], train: TrainParams,
             resolution: int, seed: int, section: str):
    """Train loader (each domain's picture jittered on its own: resize, random crop, flip) and
    val loader (as stored); ``batch_size`` is the global batch, shared out over data-parallel
    workers."""
    import torch

    from gan_pipelines.training import ResizeCropFlip, UnpairedImageDataset, make_loader
    from gan_pipelines.training.distributed import current_group, per_device_batch_size

    group = current_group()
    rank, world_size = (group.rank, group.world_size) if group is not None else (0, 1)
    batch_size = per_device_batch_size(train.batch_size, world_size, section)
    jitter = train.augmentation
    recipe = ResizeCropFlip(crop_size=jitter.crop_size or resolution, load_size=jitter.load_size,
                            hflip_p=jitter.hflip_p)
    train_set = UnpairedImageDataset({"A": train_arrays["A"]}, {"B": train_arrays["B"]}, KINDS, augment=recipe,
                                     seed=seed)
    val_set = UnpairedImageDataset({"A": val_arrays["A"]}, {"B": val_arrays["B"]}, KINDS, seed=seed)
    shared = dict(seed=seed, num_workers=train.num_workers, rank=rank, world_size=world_size,
                  pin_memory=torch.cuda.is_available() and train.training.device != "cpu")
    return (make_loader(train_set, batch_size, shuffle=True, **shared),
            make_loader(val_set, batch_size, shuffle=False, **shared))


def fit_cyclegan(train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray],
                 params: TrainParams | Mapping[str, Any], section: str, config):
    """Build the networks, the loss, the loaders and the task, and train (in this process or in
    each data-parallel worker). ``params``: the stage's parameters (validated here when a dict).
    Returns ``(FitResult, what the checkpoint's meta records)``."""
    from gan_pipelines.families.unpaired.networks import build_cyclegan
    from gan_pipelines.families.unpaired.tasks import CycleGANTask
    from gan_pipelines.models import count_parameters
    from gan_pipelines.models.gan_losses import GANLoss
    from gan_pipelines.training import fit, seed_everything

    train = TrainParams.parse(params, section)
    resolution = int(train_arrays["A"].shape[1])
    generator_cfg, discriminator_cfg = train.network_configs(resolution)
    seed_everything(config.seed)
    networks = build_cyclegan(generator_cfg, discriminator_cfg)
    weights = train.loss_weights
    identity = train.effective_identity_weight()
    train_loader, val_loader = _loaders(train_arrays, val_arrays, train, resolution, config.seed, section)
    task = CycleGANTask(
        {name: networks[name] for name in ("G_AB", "G_BA")}, {name: networks[name] for name in ("D_A", "D_B")},
        GANLoss("lsgan"), adversarial_weight=weights.adversarial, cycle_weight=weights.cycle,
        identity_weight=identity, pool_size=train.pool_size, pool_seed=config.seed, lr=train.lr,
        betas=tuple(train.betas),
        hparams={"identity": {"given": weights.identity, "convention": train.identity_convention},
                 "augmentation": train.augmentation.model_dump(), "generator": generator_cfg,
                 "discriminator": discriminator_cfg},
    )
    logger.info(
        "%s: generators %.3fM parameters each (ngf %d, %d blocks), discriminators %.3fM each (ndf %d, %d layers, "
        "%dx%d patches); LSGAN x %g, cycle L1 x %g, identity L1 x %g (loss_weights.identity %g, %s), history buffer %d",
        section, count_parameters(networks["G_AB"]) / 1e6, generator_cfg["ngf"], generator_cfg["n_blocks"],
        count_parameters(networks["D_A"]) / 1e6, discriminator_cfg["ndf"], discriminator_cfg["n_layers"],
        9 * 2 ** discriminator_cfg["n_layers"] - 2, 9 * 2 ** discriminator_cfg["n_layers"] - 2,
        weights.adversarial, weights.cycle, identity, weights.identity, train.identity_convention, train.pool_size,
    )
    result = fit(task, train_loader, val_loader, config)
    info = {
        "generator": generator_cfg,
        "discriminator": discriminator_cfg,
        "parameters": {"generator": count_parameters(networks["G_AB"]),
                       "discriminator": count_parameters(networks["D_A"])},
        "loss_weights": {"adversarial": weights.adversarial, "cycle": weights.cycle, "identity": weights.identity,
                         "identity_effective": identity},
        "identity_convention": train.identity_convention,
        "gan_mode": "lsgan",
        "pool_size": train.pool_size,
    }
    return result, info
