"""<family>.train: the namespace's model (CycleGAN, U-GAT-IT or MUNIT:
:data:`~gan_pipelines.families.unpaired.layout.NAMESPACE_MODELS`) through the shared engine.

* CycleGAN (Zhu et al., ICCV 2017): two ResNet generators (A -> B, B -> A) and two PatchGANs,
  LSGAN, cycle L1 x 10 each way, identity L1 (``loss_weights.identity`` read through
  ``identity_convention``: the reference's ``times_cycle`` makes 0.5 an effective 5), the
  discriminators' loss halved and trained on 50-image history buffers; Adam 2e-4 (0.5, 0.999).
* U-GAT-IT (Kim et al., ICLR 2020): two generators with CAM attention and AdaLIN, per domain a
  global and a local PatchGAN with a CAM head, LSGAN, cycle 10, identity 10, CAM 1000; Adam 1e-4
  (0.5, 0.999), weight decay 1e-4; rho clipped to [0, 1] after every generator step.
* MUNIT (Huang et al., ECCV 2018): per domain a content encoder, a style encoder and an AdaIN
  decoder; multi-scale discriminators; image 10, style 1, content 1 reconstruction (+ the
  optional style-augmented cycle); Adam 1e-4 (0.5, 0.999), weight decay 1e-4.

Networks in :mod:`..networks` and :mod:`gan_pipelines.models`, training steps in :mod:`..tasks`.
Each domain's picture is resized to ``load_size``, randomly cropped back and flipped,
independently of the other domain's. The references keep their last iteration
(``training.monitor: null``): a GAN's losses do not say which epoch is best.

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

from gan_pipelines.families.unpaired.config import UnpairedTrainParams, stage_model, train_problems
from gan_pipelines.families.unpaired.layout import MODEL_TITLES, model_of
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


def train_unpaired_model(model_input: Mapping[str, Callable[[], np.ndarray]], params: UnpairedTrainParams, *,
                         family: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the namespace's model on the model input's train split (val: its val split) and
    return ``(bundle, history)``.

    Args:
        model_input: the image folder (``<split>/<A|B>/<name>.png`` -> loader), pictures of both
            domains at one resolution (a multiple of 4, at least 8 px).
        params: ``<family>.train`` (the model's
            :class:`~gan_pipelines.families.unpaired.config.UnpairedTrainParams` or a dict,
            validated here).
        family: the namespace (bound by the pipeline).

    Returns:
        The checkpoint bundle (:func:`~gan_pipelines.stages.training_setup.checkpoint_bundle`):
        ``state_dicts`` of the generators (:data:`~..networks.GENERATOR_MODULES`: ``G_AB``,
        ``G_BA`` for CycleGAN and U-GAT-IT, the two autoencoders ``G_A``, ``G_B`` for MUNIT) of the
        kept epoch (the last with ``monitor: null``), ``model_config`` ``{"model": <model>,
        "generator": {...}, "discriminator": {...}, "resolution": R}``, ``meta`` (family, network
        "generator", the loss weights, parameter counts, data version and hash, ...);
        and the per-epoch history (train losses, val cycle/identity L1, lr, img/s).

    Raises:
        ParameterError: a parameter does not suit the model input (crop, network depth), named.
        ValueError: a domain or split is missing from the model input.
    """
    section = f"{family}.train"
    model = model_of(family)
    train = stage_model(family, "train").parse(params, section)
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
    result, info = run_training(fit_unpaired, (model, train_arrays, val_arrays, train.model_dump(), section, config),
                                config)
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
    from gan_pipelines.families.unpaired.networks import GENERATOR_MODULES

    bundle = checkpoint_bundle(
        result, modules=GENERATOR_MODULES[model],
        model_config={"model": model, "generator": info["generator"], "discriminator": info["discriminator"],
                      "resolution": resolution, **({"style_dim": info["style_dim"]} if "style_dim" in info else {})},
        meta=meta,
    )
    return bundle, history_frame(result)


def _loaders(train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray], train: UnpairedTrainParams,
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


def fit_unpaired(model: str, train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray],
                 params: UnpairedTrainParams | Mapping[str, Any], section: str, config):
    """Build ``model``'s networks, losses, loaders and task, and train (in this process or in
    each data-parallel worker). ``params``: the stage's parameters (validated here when a dict).
    Returns ``(FitResult, what the checkpoint's meta records)``."""
    from gan_pipelines.families.unpaired.config import TRAIN_MODELS
    from gan_pipelines.training import fit, seed_everything

    train = TRAIN_MODELS[model].parse(params, section)
    resolution = int(train_arrays["A"].shape[1])
    generator_cfg, discriminator_cfg = train.network_configs(resolution)
    seed_everything(config.seed)
    task, info = TASK_BUILDERS[model](train, generator_cfg, discriminator_cfg, config.seed)
    info = {"generator": generator_cfg, "discriminator": discriminator_cfg, **info}
    logger.info("%s: %s, generator %.3fM parameters, discriminator %.3fM (each of two); %s", section,
                MODEL_TITLES[model], info["parameters"]["generator"] / 1e6, info["parameters"]["discriminator"] / 1e6,
                info["described"])
    train_loader, val_loader = _loaders(train_arrays, val_arrays, train, resolution, config.seed, section)
    result = fit(task, train_loader, val_loader, config)
    return result, info


def _parameters(generator, discriminator=None):
    """``{"generator": n, "discriminator": n}`` (one network's count when given one)."""
    from gan_pipelines.models import count_parameters

    if discriminator is None:
        return count_parameters(generator)
    return {"generator": count_parameters(generator), "discriminator": count_parameters(discriminator)}


def _common_hparams(train: UnpairedTrainParams, generator_cfg, discriminator_cfg) -> dict[str, Any]:
    return {"augmentation": train.augmentation.model_dump(), "generator": generator_cfg,
            "discriminator": discriminator_cfg}


def _cyclegan_task(train, generator_cfg, discriminator_cfg, seed: int):
    from gan_pipelines.families.unpaired.networks import build_cyclegan
    from gan_pipelines.families.unpaired.tasks import CycleGANTask
    from gan_pipelines.models.gan_losses import GANLoss

    networks = build_cyclegan(generator_cfg, discriminator_cfg)
    weights = train.loss_weights
    identity = train.effective_identity_weight()
    task = CycleGANTask(
        {name: networks[name] for name in ("G_AB", "G_BA")}, {name: networks[name] for name in ("D_A", "D_B")},
        GANLoss("lsgan"), adversarial_weight=weights.adversarial, cycle_weight=weights.cycle,
        identity_weight=identity, pool_size=train.pool_size, pool_seed=seed, lr=train.lr,
        betas=tuple(train.betas),
        hparams={"identity": {"given": weights.identity, "convention": train.identity_convention},
                 **_common_hparams(train, generator_cfg, discriminator_cfg)},
    )
    info = {
        "parameters": _parameters(networks["G_AB"], networks["D_A"]),
        "loss_weights": {"adversarial": weights.adversarial, "cycle": weights.cycle, "identity": weights.identity,
                         "identity_effective": identity},
        "identity_convention": train.identity_convention,
        "gan_mode": "lsgan",
        "pool_size": train.pool_size,
        "described": (f"ngf {generator_cfg['ngf']}, {generator_cfg['n_blocks']} blocks; PatchGAN ndf "
                      f"{discriminator_cfg['ndf']}, {discriminator_cfg['n_layers']} layers; LSGAN x {weights.adversarial:g}, "
                      f"cycle L1 x {weights.cycle:g}, identity L1 x {identity:g} (loss_weights.identity "
                      f"{weights.identity:g}, {train.identity_convention}), history buffer {train.pool_size}"),
    }
    return task, info


def _ugatit_task(train, generator_cfg, discriminator_cfg, seed: int):
    from gan_pipelines.families.unpaired.networks import build_ugatit
    from gan_pipelines.families.unpaired.tasks import UGATITTask

    networks = build_ugatit(generator_cfg, discriminator_cfg)
    weights = train.loss_weights
    task = UGATITTask(
        {name: networks[name] for name in ("G_AB", "G_BA")},
        {name: networks[name] for name in ("D_A_global", "D_A_local", "D_B_global", "D_B_local")},
        adversarial_weight=weights.adversarial, cycle_weight=weights.cycle, identity_weight=weights.identity,
        cam_weight=weights.cam, lr=train.lr, betas=tuple(train.betas), weight_decay=train.weight_decay,
        hparams=_common_hparams(train, generator_cfg, discriminator_cfg),
    )
    info = {
        "parameters": {**_parameters(networks["G_AB"], networks["D_A_global"]),
                       "discriminator_local": _parameters(networks["D_A_local"])},
        "loss_weights": weights.model_dump(),
        "gan_mode": "lsgan",
        "described": (f"{'light' if generator_cfg.get('light') else 'full'} generator ngf {generator_cfg['ngf']}, "
                      f"{generator_cfg['n_blocks']} AdaLIN blocks; global/local PatchGANs of "
                      f"{discriminator_cfg['global_layers']}/{discriminator_cfg['local_layers']} layers; LSGAN x "
                      f"{weights.adversarial:g}, cycle x {weights.cycle:g}, identity x {weights.identity:g}, CAM x "
                      f"{weights.cam:g}; weight decay {train.weight_decay:g}"),
    }
    return task, info


def _munit_task(train, generator_cfg, discriminator_cfg, seed: int):
    from gan_pipelines.families.unpaired.networks import build_munit
    from gan_pipelines.families.unpaired.tasks import MUNITTask

    networks = build_munit(generator_cfg, discriminator_cfg)
    weights = train.loss_weights
    task = MUNITTask(
        {name: networks[name] for name in ("G_A", "G_B")}, {name: networks[name] for name in ("D_A", "D_B")},
        adversarial_weight=weights.adversarial, image_weight=weights.image, style_weight=weights.style,
        content_weight=weights.content, cycle_weight=weights.cycle, mean_style_p=train.mean_style_p, lr=train.lr, betas=tuple(train.betas),
        weight_decay=train.weight_decay, hparams=_common_hparams(train, generator_cfg, discriminator_cfg),
    )
    info = {
        "parameters": _parameters(networks["G_A"], networks["D_A"]),
        "loss_weights": weights.model_dump(),
        "gan_mode": "lsgan",
        "style_dim": int(generator_cfg["style_dim"]),
        "described": (f"autoencoders dim {generator_cfg['dim']}, style code {generator_cfg['style_dim']}-d; "
                      f"{discriminator_cfg['num_scales']}-scale D of {discriminator_cfg['n_layers']} layers; LSGAN x "
                      f"{weights.adversarial:g}, image x {weights.image:g}, style x {weights.style:g}, content x "
                      f"{weights.content:g}, style-augmented cycle x {weights.cycle:g}; weight decay "
                      f"{train.weight_decay:g}"),
    }
    return task, info


# model -> (train params, generator config, discriminator config, seed) -> (task, what meta records)
TASK_BUILDERS = {"cyclegan": _cyclegan_task, "ugatit": _ugatit_task, "munit": _munit_task}
