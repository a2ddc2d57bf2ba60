"""shadow.train_generator: the shadow-generation GAN (generator + patch discriminator)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.shadow.config import GeneratorConfig
from gan_pipelines.families.shadow.data import augmentation_recipe, load_training_arrays, training_kinds
from gan_pipelines.image_folders import folder_version
from gan_pipelines.stages.training_setup import (
    build_loaders, checkpoint_bundle, history_frame, run_training, trainer_config,
)

logger = logging.getLogger(__name__)

SECTION = "shadow.train_generator"


IMAGE_KEYS = ("noshadow", "shadow")
MASK_KEYS = ("mask", "robject", "rshadow", "shadow_mask")


def train_generator(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    attention_checkpoint: Mapping[str, Any],
    params: GeneratorConfig,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the shadow generator against the patch discriminator; return (bundle, history).

    The attention checkpoint supplies the predicted robject/rshadow maps used for validation
    (as at inference) and, depending on ``attention_masks``, for training.
    """
    from gan_pipelines.families.shadow.networks import build_shadow_generator, check_resolution
    from gan_pipelines.models.discriminators import build_discriminator

    params = GeneratorConfig.parse(params).as_dict()
    config = trainer_config(params, SECTION)
    generator_config = dict(params.get("model") or {})
    discriminator_config = dict(params.get("discriminator") or {})
    try:  # checks the configs before any data is loaded
        build_shadow_generator(generator_config)
        build_discriminator(discriminator_config, section=f"{SECTION}.discriminator")
    except ValueError as exc:
        raise ValueError(f"{SECTION}.model / {SECTION}.discriminator: {exc}") from None

    train_arrays, val_arrays = load_training_arrays(model_input, IMAGE_KEYS + MASK_KEYS)
    resolution = int(train_arrays["noshadow"].shape[1])
    check_resolution(resolution)
    attention_resolution = attention_checkpoint.get("meta", {}).get("resolution")
    if attention_resolution not in (None, resolution):
        raise ValueError(
            f"The attention checkpoint was trained at {attention_resolution} px but the model input is "
            f"{resolution} px; re-run shadow.train_attention on this data"
        )
    result, info = run_training(fit_generator, (train_arrays, val_arrays, dict(attention_checkpoint), params, config),
                                config)
    logger.info(
        "Generator: best epoch %d, val %s",
        result.best_epoch, ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items()),
    )
    bundle = checkpoint_bundle(
        result, modules=("generator",),
        model_config={"generator": generator_config, "discriminator": discriminator_config},
        meta={
            "resolution": resolution,
            "model_input_version": folder_version(model_input) or "unversioned",
            **info,
        },
    )
    bundle["val_metrics"]["perceptual_enabled"] = float(info["perceptual"].startswith("loaded"))
    return bundle, history_frame(result)


def fit_generator(
    train_arrays: Mapping[str, np.ndarray],
    val_arrays: Mapping[str, np.ndarray],
    attention_checkpoint: Mapping[str, Any],
    params: dict[str, Any],
    config=None,
):
    """Build networks, losses, loaders and task, and train; runs in the node's process or in
    each data-parallel worker. ``config``: the TrainerConfig (default: the stage's). Returns
    (FitResult, what the checkpoint's meta should record)."""
    from gan_pipelines.families.shadow.bundles import attention_from_bundle
    from gan_pipelines.families.shadow.networks import build_shadow_generator
    from gan_pipelines.families.shadow.tasks import ShadowGANTask
    from gan_pipelines.models import build_perceptual_loss, count_parameters
    from gan_pipelines.models.discriminators import build_discriminator
    from gan_pipelines.training import fit, seed_everything

    config = config or trainer_config(params, SECTION)
    seed_everything(config.seed)  # the initial weights depend on the seed only
    weights = _loss_weights(params.get("loss_weights") or {})
    generator = build_shadow_generator(dict(params.get("model") or {}))
    discriminator = build_discriminator(dict(params.get("discriminator") or {}))
    perceptual, perceptual_status = build_perceptual_loss(params.get("perceptual") or {})
    if perceptual is None:
        weights = replace(weights, perceptual=0.0)
    logger.info("Perceptual loss: %s", perceptual_status)
    train_loader, val_loader = build_loaders(
        train_arrays, val_arrays, params, SECTION, kinds=training_kinds(IMAGE_KEYS + MASK_KEYS),
        augment=augmentation_recipe(params, SECTION), seed=config.seed,
    )
    task = ShadowGANTask(
        generator, discriminator,
        lr_generator=float(params.get("lr_generator", 1e-4)),
        lr_discriminator=float(params.get("lr_discriminator", 1e-6)),
        weights=weights, perceptual=perceptual,
        attention=attention_from_bundle(attention_checkpoint),
        attention_masks=params.get("attention_masks", "ground_truth"), seed=config.seed,
        settings={
            "augmentation": dict(params.get("augmentation") or {}),
            # The attention net behind the predicted maps: another checkpoint, another run.
            "attention_trained_at": attention_checkpoint.get("meta", {}).get("trained_at", "unknown"),
        },
    )
    logger.info(
        "Generator: %s encoder, %.1fM parameters (%s); discriminator %.1fM; attention masks: %s",
        generator.encoder_name, count_parameters(generator) / 1e6, generator.weights_status,
        count_parameters(discriminator) / 1e6, task.attention_masks,
    )
    result = fit(task, train_loader, val_loader, config)
    info = {
        "weights_status": generator.weights_status,
        "perceptual": perceptual_status,
        "attention_masks": task.attention_masks,
        "loss_weights": asdict(weights),
    }
    return result, info


def _loss_weights(params: Mapping[str, Any]):
    """The generator's loss weights (``loss_weights``, checked by :class:`GeneratorConfig`)."""
    from gan_pipelines.families.shadow.tasks import GeneratorLossWeights

    return GeneratorLossWeights(**{k: float(v) for k, v in params.items()})
