"""<family>.train: the paired GAN (generator + conditional PatchGAN) through the shared engine.

pix2pix: non-saturating GAN (or LSGAN) + 100 x L1, Adam 2e-4 (0.5, 0.999), linear decay.
Sketch2Color: the same plus VGG16 feature L2 (local weights only; recorded when off), total
variation, one-sided label smoothing (real 0.9) and D every 2nd batch. All are parameters; the
sketch2color namespace also trains plain pix2pix on the same sketches (``train_plain``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import KIND_TYPES, TARGET_KIND
from gan_pipelines.image_folders import folder_version, stack_split
from gan_pipelines.params import check_known_keys
from gan_pipelines.stages.training_setup import (
    COMMON_KEYS, build_loaders, check_learning_rate, checkpoint_bundle, history_frame, run_training, trainer_config,
)

logger = logging.getLogger(__name__)

KEYS = COMMON_KEYS | {
    "input_kind", "target_kind", "label_nc", "instance_edges", "instance_kind", "discriminator",
    "gan_mode", "real_label", "loss_weights", "perceptual", "d_every", "lr_generator", "lr_discriminator", "betas",
}


def check_train_params(params: Mapping[str, Any], section: str) -> dict[str, Any]:
    """Validate ``<family>.train`` parameters; return the resolved settings (raises ValueError
    naming the parameter)."""
    from gan_pipelines.families.paired.networks import GAN_MODES, LOSS_TERMS, input_config, network_configs
    from gan_pipelines.models.discriminators import build_discriminator
    from gan_pipelines.models.generators import build_generator

    check_known_keys(params, KEYS, section)
    trainer_config(params, section)
    input_cfg = input_config(params, KIND_TYPES, section)
    target_kind = params.get("target_kind", TARGET_KIND)
    if KIND_TYPES.get(target_kind) != "rgb":
        raise ValueError(f"{section}.target_kind must be an RGB kind; got {target_kind!r}")
    generator_cfg, discriminator_cfg = network_configs(params, input_cfg, section)
    try:
        build_generator(generator_cfg, section=f"{section}.model")
        build_discriminator(discriminator_cfg, section=f"{section}.discriminator")
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    gan_mode = params.get("gan_mode", "vanilla")
    if gan_mode not in GAN_MODES:
        raise ValueError(f"{section}.gan_mode must be one of {', '.join(GAN_MODES)}; got {gan_mode!r}")
    real_label = params.get("real_label", 1.0)
    if isinstance(real_label, bool) or not isinstance(real_label, (int, float)) or not 0.5 < real_label <= 1.0:
        raise ValueError(f"{section}.real_label must be in (0.5, 1]; got {real_label!r}")
    weights = dict(params.get("loss_weights") or {})
    check_known_keys(weights, LOSS_TERMS, f"{section}.loss_weights")
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{section}.loss_weights.{key} must be a non-negative number; got {value!r}")
    d_every = params.get("d_every", 1)
    if isinstance(d_every, bool) or not isinstance(d_every, int) or d_every < 1:
        raise ValueError(f"{section}.d_every must be a positive integer; got {d_every!r}")
    lr_g = check_learning_rate(params.get("lr_generator", 2e-4), f"{section}.lr_generator")
    lr_d = check_learning_rate(params.get("lr_discriminator", 2e-4), f"{section}.lr_discriminator")
    betas = params.get("betas", [0.5, 0.999])
    if not (isinstance(betas, (list, tuple)) and len(betas) == 2 and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
        raise ValueError(f"{section}.betas must be two numbers in [0, 1); got {betas!r}")
    return {
        "section": section, "input": input_cfg, "target_kind": target_kind, "generator": generator_cfg,
        "discriminator": discriminator_cfg, "gan_mode": gan_mode, "real_label": float(real_label),
        "loss_weights": {"adversarial": 1.0, "l1": 100.0, "perceptual": 0.0, "tv": 0.0,
                         **{k: float(v) for k, v in weights.items()}},
        "d_every": d_every, "lr_generator": lr_g, "lr_discriminator": lr_d, "betas": [float(b) for b in betas],
    }


def training_kinds(settings: Mapping[str, Any]) -> dict[str, str]:
    kinds = {settings["input"]["kind"]: settings["input"]["type"], settings["target_kind"]: "rgb"}
    if settings["input"]["instance_kind"]:
        kinds[settings["input"]["instance_kind"]] = "labels"
    return kinds


def load_split(model_input: Mapping[str, Callable[[], np.ndarray]], split: str, kinds, *, required: bool = True):
    """Stacked arrays of ``split`` (samples named by their target picture)."""
    return stack_split(model_input, split, list(kinds), anchor_kind=TARGET_KIND, required=required)


def train_generator(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: dict[str, Any], *, family: str, stage: str = "train",
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the generator on train, choose the best epoch on val; return (bundle, history).
    ``family``/``stage`` (bound by the pipeline) name the namespace and parameter group."""
    from gan_pipelines.families.paired.networks import check_resolution

    section = f"{family}.{stage}"
    settings = check_train_params(params, section)
    config = trainer_config(params, section)
    kinds = training_kinds(settings)
    _, train_arrays = load_split(model_input, "train", kinds)
    _, val_arrays = load_split(model_input, "val", kinds)
    resolution = int(train_arrays[settings["target_kind"]].shape[1])
    augmentation = params.get("augmentation") or {}
    crop = augmentation.get("crop_size", resolution) if augmentation else resolution
    if crop != resolution:
        raise ValueError(
            f"{section}.augmentation.crop_size is {crop} but the model input is {resolution} px; train and test "
            "must see the same size (set load_size above it for the resize-and-crop jitter)"
        )
    check_resolution(resolution, settings["generator"], settings["discriminator"], section)
    result, info = run_training(fit_generator, (train_arrays, val_arrays, params, section), config)
    logger.info("%s: best epoch %d, val %s", section, result.best_epoch,
                ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items()))
    bundle = checkpoint_bundle(
        result, modules=("generator",),
        model_config={"generator": settings["generator"], "discriminator": settings["discriminator"],
                      "input": settings["input"], "target_kind": settings["target_kind"]},
        meta={
            "family": family,
            "network": "generator",
            "stage": stage,
            "resolution": resolution,
            "model_input_version": folder_version(model_input) or "unversioned",
            "test_time_mode": "eval (BatchNorm running statistics, no dropout)",
            **info,
        },
    )
    return bundle, history_frame(result)


def fit_generator(train_arrays, val_arrays, params: dict[str, Any], section: str):
    """Build networks, losses, loaders and the task, and train (in this process or in each
    data-parallel worker). Returns (FitResult, what the checkpoint's meta records)."""
    from gan_pipelines.families.paired.networks import (
        FeatureL2, PairedTranslationTask, encoder_from_config, l1_loss, tv_loss,
    )
    from gan_pipelines.models import build_perceptual_loss, count_parameters
    from gan_pipelines.models.discriminators import build_discriminator
    from gan_pipelines.models.gan_losses import GANLoss
    from gan_pipelines.models.generators import build_generator
    from gan_pipelines.training import ResizeCropFlip, fit, seed_everything

    settings = check_train_params(params, section)
    config = trainer_config(params, section)
    seed_everything(config.seed)
    generator = build_generator(settings["generator"])
    discriminator = build_discriminator(settings["discriminator"])
    weights = settings["loss_weights"]
    extra: dict[str, tuple[float, Any]] = {}
    if weights["l1"] > 0:
        extra["l1"] = (weights["l1"], l1_loss)
    perceptual_status = "off (loss_weights.perceptual is 0)"
    if weights["perceptual"] > 0:
        perceptual, perceptual_status = build_perceptual_loss({"reduction": "mean", **dict(params.get("perceptual") or {})})
        if perceptual is not None:
            extra["perceptual"] = (weights["perceptual"], FeatureL2(perceptual))
        logger.info("%s: VGG16 feature loss %s", section, perceptual_status)
    if weights["tv"] > 0:
        extra["tv"] = (weights["tv"], tv_loss)
    augmentation = params.get("augmentation")
    recipe = ResizeCropFlip.from_params(augmentation) if augmentation else None
    train_loader, val_loader = build_loaders(
        train_arrays, val_arrays, params, section, kinds=training_kinds(settings), augment=recipe, seed=config.seed,
    )
    task = PairedTranslationTask(
        encoder_from_config(settings["input"]), settings["input"]["kind"], settings["input"]["instance_kind"],
        generator, discriminator, GANLoss(settings["gan_mode"], real_label=settings["real_label"]),
        conditional=True, target_key=settings["target_kind"], extra_losses=extra,
        adversarial_weight=weights["adversarial"], d_every=settings["d_every"],
        lr_generator=settings["lr_generator"], lr_discriminator=settings["lr_discriminator"],
        betas_generator=tuple(settings["betas"]), betas_discriminator=tuple(settings["betas"]),
        hparams={"augmentation": dict(augmentation or {}), "input": settings["input"],
                 "generator": settings["generator"], "discriminator": settings["discriminator"]},
    )
    logger.info("%s: generator %.2fM parameters, discriminator %.2fM; losses %s",
                section, count_parameters(generator) / 1e6, count_parameters(discriminator) / 1e6,
                {"adversarial": weights["adversarial"], **{k: w for k, (w, _) in extra.items()}})
    result = fit(task, train_loader, val_loader, config)
    info = {
        "perceptual": perceptual_status,
        "loss_weights": {"adversarial": weights["adversarial"], **{k: w for k, (w, _) in extra.items()}},
        "gan_mode": settings["gan_mode"], "real_label": settings["real_label"], "d_every": settings["d_every"],
    }
    return result, info
