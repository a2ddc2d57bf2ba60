"""shadow.train_attention: the U-Net that finds the real objects and their shadows (robject, rshadow)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.shadow.config import AttentionConfig
from gan_pipelines.families.shadow.data import augmentation_recipe, load_training_arrays, training_kinds
from gan_pipelines.image_folders import folder_version
from gan_pipelines.stages.training_setup import (
    build_loaders, checkpoint_bundle, history_frame, run_training, trainer_config,
)

logger = logging.getLogger(__name__)

SECTION = "shadow.train_attention"
IMAGE_KEYS = ("noshadow",)
MASK_KEYS = ("mask", "robject", "rshadow")


def train_attention(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: AttentionConfig
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the attention block; return (checkpoint bundle, per-epoch history)."""
    from gan_pipelines.families.shadow.networks import build_attention_net, check_resolution

    params = AttentionConfig.parse(params).as_dict()
    config = trainer_config(params, SECTION)
    model_config = dict(params.get("model") or {})
    try:
        net = build_attention_net(model_config)  # checks the config before any data is loaded
    except ValueError as exc:
        raise ValueError(f"{SECTION}.model: {exc}") from None
    train_arrays, val_arrays = load_training_arrays(model_input, IMAGE_KEYS + MASK_KEYS)
    resolution = int(train_arrays["noshadow"].shape[1])
    check_resolution(resolution)
    result = run_training(fit_attention, (train_arrays, val_arrays, params, config), config)
    logger.info("Attention: best epoch %d, val %s", result.best_epoch, _fmt(result.best_metrics))
    bundle = checkpoint_bundle(
        result, modules=("attention",), model_config={"attention": model_config},
        meta={"resolution": resolution, "model_input_version": folder_version(model_input) or "unversioned", "weights_status": net.weights_status},
    )
    return bundle, history_frame(result)


def fit_attention(train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray], params: dict[str, Any],
                  config=None):
    """Build the net, loaders and task, and train; runs in the node's process or in each
    data-parallel worker. ``config``: the TrainerConfig (default: the stage's)."""
    from gan_pipelines.families.shadow.networks import build_attention_net
    from gan_pipelines.families.shadow.tasks import AttentionTask
    from gan_pipelines.models import count_parameters
    from gan_pipelines.training import fit, seed_everything

    config = config or trainer_config(params, SECTION)
    seed_everything(config.seed)  # the initial weights depend on the seed only
    net = build_attention_net(dict(params.get("model") or {}))
    train_loader, val_loader = build_loaders(
        train_arrays, val_arrays, params, SECTION, kinds=training_kinds(IMAGE_KEYS + MASK_KEYS),
        augment=augmentation_recipe(params, SECTION), seed=config.seed,
    )
    logger.info(
        "Attention net: %s encoder, %.1fM parameters, %s",
        net.encoder_name, count_parameters(net) / 1e6, net.weights_status,
    )
    settings = {"augmentation": dict(params.get("augmentation") or {})}
    return fit(AttentionTask(net, float(params.get("lr", 1e-4)), settings=settings), train_loader, val_loader, config)


def _fmt(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
