"""train_attention: the U-Net that finds the real objects and their shadows (robject, rshadow)."""

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


def train_attention(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: dict[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the attention block; return (checkpoint bundle, per-epoch history)."""
    from gan_pipelines.models import build_attention_net, check_resolution, count_parameters
    from gan_pipelines.models.shadow_tasks import AttentionTask
    from gan_pipelines.training import fit

    section = "train_attention"
    check_known_keys(params, COMMON_KEYS | {"lr"}, section)
    config = trainer_config(params, section)
    lr = check_learning_rate(params.get("lr", 1e-4), f"{section}.lr")
    model_config = dict(params.get("model") or {})
    try:
        net = build_attention_net(model_config)
    except ValueError as exc:
        raise ValueError(f"{section}.model: {exc}") from None
    train_loader, val_loader = build_loaders(
        model_input, params, section,
        image_keys=("noshadow",), mask_keys=("mask", "robject", "rshadow"), seed=config.seed,
    )
    resolution = train_loader.dataset[0]["noshadow"].shape[-1]
    check_resolution(resolution)
    logger.info(
        "Attention net: %s encoder, %.1fM parameters, %s",
        net.encoder_name, count_parameters(net) / 1e6, net.weights_status,
    )
    result = fit(AttentionTask(net, lr), train_loader, val_loader, config)
    logger.info("Attention: best epoch %d, val %s", result.best_epoch, _fmt(result.best_metrics))
    bundle = checkpoint_bundle(
        result, modules=("attention",), model_config={"attention": model_config},
        meta={"resolution": int(resolution), "model_input_version": folder_version(model_input) or "unversioned", "weights_status": net.weights_status},
    )
    return bundle, history_frame(result)


def _fmt(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
