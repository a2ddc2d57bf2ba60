"""The shared network library (pure PyTorch, no Kedro, no family): discriminators, generators,
GAN and reconstruction losses, and the local lookup of pretrained weights.

Pretrained weights are only ever looked up locally (see :mod:`gan_pipelines.models.pretrained`).
A family's own networks live in its own folder under ``families/``.
"""

from __future__ import annotations

from typing import Any

from gan_pipelines.models.gan_losses import GANLoss, feature_matching_loss, total_variation_loss
from gan_pipelines.models.losses import PerceptualLoss, dice_loss
from gan_pipelines.models.pretrained import (
    ENCODER_IF_UNAVAILABLE,
    build_perceptual_loss,
    find_encoder_weights,
    find_vgg16_weights,
    load_imagenet_encoder,
)

__all__ = [
    "ENCODER_IF_UNAVAILABLE",
    "GANLoss",
    "PerceptualLoss",
    "build_perceptual_loss",
    "count_parameters",
    "dice_loss",
    "feature_matching_loss",
    "find_encoder_weights",
    "find_vgg16_weights",
    "load_imagenet_encoder",
    "total_variation_loss",
]


def count_parameters(module: Any, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
