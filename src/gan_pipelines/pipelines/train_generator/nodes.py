"""train_generator: the shadow-generation GAN (generator + patch discriminator)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.params import check_known_keys
from gan_pipelines.pipelines.shadow_data import folder_version
from gan_pipelines.pipelines.training_setup import (
    COMMON_KEYS, build_loaders, check_learning_rate, checkpoint_bundle, history_frame, trainer_config,
)

logger = logging.getLogger(__name__)

SECTION = "train_generator"
KEYS = COMMON_KEYS | {"discriminator", "lr_generator", "lr_discriminator", "loss_weights", "perceptual", "attention_masks"}


def train_generator(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    attention_checkpoint: Mapping[str, Any],
    params: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the shadow generator against the patch discriminator; return (bundle, history).

    The attention checkpoint supplies the predicted robject/rshadow maps used for validation
    (as at inference) and, depending on ``attention_masks``, for training.
    """
    from gan_pipelines.models import build_discriminator, build_perceptual_loss, build_shadow_generator, check_resolution, count_parameters
    from gan_pipelines.models.bundles import attention_from_bundle
    from gan_pipelines.models.shadow_tasks import GeneratorLossWeights, ShadowGANTask
    from gan_pipelines.training import fit

    check_known_keys(params, KEYS, SECTION)
    config = trainer_config(params, SECTION)
    lr_g = check_learning_rate(params.get("lr_generator", 1e-4), f"{SECTION}.lr_generator")
    lr_d = check_learning_rate(params.get("lr_discriminator", 1e-6), f"{SECTION}.lr_discriminator")
    weights = _loss_weights(params.get("loss_weights") or {})
    generator_config = dict(params.get("model") or {})
    discriminator_config = dict(params.get("discriminator") or {})
    try:
        generator = build_shadow_generator(generator_config)
        discriminator = build_discriminator(discriminator_config)
    except ValueError as exc:
        raise ValueError(f"{SECTION}.model / {SECTION}.discriminator: {exc}") from None
    perceptual, perceptual_status = build_perceptual_loss(params.get("perceptual") or {})
    if perceptual is None:
        weights = GeneratorLossWeights(weights.l2, 0.0, weights.adversarial)
    logger.info("Perceptual loss: %s", perceptual_status)

    train_loader, val_loader = build_loaders(
        model_input, params, SECTION,
        image_keys=("noshadow", "shadow"), mask_keys=("mask", "robject", "rshadow", "shadow_mask"),
        seed=config.seed,
    )
    resolution = train_loader.dataset[0]["noshadow"].shape[-1]
    check_resolution(resolution)
    attention = attention_from_bundle(attention_checkpoint)
    attention_resolution = attention_checkpoint.get("meta", {}).get("resolution")
    if attention_resolution not in (None, resolution):
        raise ValueError(
            f"The attention checkpoint was trained at {attention_resolution} px but the model input is "
            f"{resolution} px; re-run train_attention on this data"
        )
    task = ShadowGANTask(
        generator, discriminator,
        lr_generator=lr_g, lr_discriminator=lr_d, weights=weights, perceptual=perceptual,
        attention=attention, attention_masks=params.get("attention_masks", "ground_truth"), seed=config.seed,
    )
    logger.info(
        "Generator: %s encoder, %.1fM parameters (%s); discriminator %.1fM; attention masks: %s",
        generator.encoder_name, count_parameters(generator) / 1e6, generator.weights_status,
        count_parameters(discriminator) / 1e6, task.attention_masks,
    )
    result = fit(task, train_loader, val_loader, config)
    logger.info(
        "Generator: best epoch %d, val %s",
        result.best_epoch, ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items()),
    )
    bundle = checkpoint_bundle(
        result, modules=("generator",),
        model_config={"generator": generator_config, "discriminator": discriminator_config},
        meta={
            "resolution": int(resolution),
            "model_input_version": folder_version(model_input) or "unversioned",
            "weights_status": generator.weights_status,
            "perceptual": perceptual_status,
            "attention_masks": task.attention_masks,
            "loss_weights": {"l2": weights.l2, "perceptual": weights.perceptual, "adversarial": weights.adversarial},
        },
    )
    bundle["val_metrics"]["perceptual_enabled"] = float(perceptual is not None)
    return bundle, history_frame(result)


def _loss_weights(params: Mapping[str, Any]):
    from gan_pipelines.models.shadow_tasks import GeneratorLossWeights

    check_known_keys(params, {"l2", "perceptual", "adversarial"}, f"{SECTION}.loss_weights")
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{SECTION}.loss_weights.{key} must be a non-negative number; got {value!r}")
    return GeneratorLossWeights(**{k: float(v) for k, v in params.items()})
