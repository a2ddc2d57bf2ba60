"""Pure PyTorch networks and losses (no Kedro), plus small factories that build them from the
plain dicts found in Kedro parameter files.

Every factory validates its whole config before building anything: unknown keys, unknown
encoders, bad values all raise ValueError with the offending names. Pretrained weights are only
ever looked up locally (see :mod:`gan_pipelines.models.pretrained`); the factories record what
happened in the module's ``weights_status`` attribute, a one-line string a run can log.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Mapping

from gan_pipelines.models.discriminator import PatchDiscriminator
from gan_pipelines.models.losses import PerceptualLoss, dice_loss, lsgan_loss
from gan_pipelines.models.pretrained import (
    ENCODER_IF_UNAVAILABLE,
    build_perceptual_loss,
    find_encoder_weights,
    find_vgg16_weights,
    load_imagenet_encoder,
)
from gan_pipelines.models.shadow import (
    ATTENTION_CHANNELS,
    DEFAULT_DECODER_CHANNELS,
    AttentionNet,
    ShadowGenerator,
    ShadowGeneratorOutput,
    attention_probabilities,
    attention_to_generator_input,
    check_resolution,
    to_uint8_images,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ATTENTION_CHANNELS",
    "ATTENTION_DEFAULTS",
    "DISCRIMINATOR_DEFAULTS",
    "GENERATOR_DEFAULTS",
    "AttentionNet",
    "PatchDiscriminator",
    "PerceptualLoss",
    "ShadowGenerator",
    "ShadowGeneratorOutput",
    "attention_probabilities",
    "attention_to_generator_input",
    "build_attention_net",
    "build_discriminator",
    "build_perceptual_loss",
    "build_shadow_generator",
    "check_resolution",
    "count_parameters",
    "dice_loss",
    "find_encoder_weights",
    "find_vgg16_weights",
    "lsgan_loss",
    "to_uint8_images",
]

# Defaults are the reference architecture; encoder_weights is null so that nothing is looked up
# unless a config asks for it.
ATTENTION_DEFAULTS: dict[str, Any] = {
    "encoder": "resnet34",
    "decoder_channels": list(DEFAULT_DECODER_CHANNELS),
    "encoder_weights": None,  # null | "imagenet" (local files only)
    "weights_path": None,  # a local .pth / .safetensors encoder state dict, looked at first
    "if_unavailable": "random",  # "random" (WARNING, random encoder) | "error"
}
GENERATOR_DEFAULTS: dict[str, Any] = {**ATTENTION_DEFAULTS, "encoder": "resnet18", "refinement_blocks": 4}
DISCRIMINATOR_DEFAULTS: dict[str, Any] = {"in_channels": 3, "base_channels": 64}
_SUGGESTED_ENCODERS = ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet-b0", "vgg11")


def _settings(config: Mapping[str, Any] | None, defaults: Mapping[str, Any], what: str) -> dict[str, Any]:
    config = dict(config or {})
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {what} config keys {unknown}; valid keys: {sorted(defaults)}")
    return {**defaults, **config}


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_unet_settings(settings: Mapping[str, Any], what: str) -> None:
    from segmentation_models_pytorch.encoders import get_encoder_names

    names = get_encoder_names()
    encoder = settings["encoder"]
    if encoder not in names:
        close = difflib.get_close_matches(str(encoder), names, n=3)
        hint = f"did you mean {close}? " if close else ""
        examples = [n for n in _SUGGESTED_ENCODERS if n in names]
        raise ValueError(
            f"unknown {what} encoder {encoder!r}: {hint}valid names include {examples} "
            f"(all {len(names)}: segmentation_models_pytorch.encoders.get_encoder_names())"
        )
    channels = settings["decoder_channels"]
    if not isinstance(channels, (list, tuple)) or len(channels) != 5:
        raise ValueError(f"{what} decoder_channels must be a list of 5 positive integers, got {channels!r}")
    for value in channels:
        _positive_int(value, f"{what} decoder_channels entry")
    if settings["encoder_weights"] not in (None, "imagenet"):
        raise ValueError(f"{what} encoder_weights must be null or 'imagenet', got {settings['encoder_weights']!r}")
    if settings["if_unavailable"] not in ENCODER_IF_UNAVAILABLE:
        raise ValueError(
            f"{what} if_unavailable must be one of {ENCODER_IF_UNAVAILABLE}, got {settings['if_unavailable']!r}"
        )
    if settings["weights_path"] is not None and not isinstance(settings["weights_path"], str):
        raise ValueError(f"{what} weights_path must be a string or null, got {settings['weights_path']!r}")


def _load_encoder_weights(model: AttentionNet | ShadowGenerator, settings: Mapping[str, Any]) -> str:
    if settings["encoder_weights"] is None:
        return "random init (encoder_weights: null)"
    return load_imagenet_encoder(
        model.encoder,
        settings["encoder"],
        model.in_channels,
        weights_path=settings["weights_path"],
        if_unavailable=settings["if_unavailable"],
    )


def build_attention_net(config: Mapping[str, Any] | None = None) -> AttentionNet:
    """Attention U-Net from a config dict; keys and defaults in :data:`ATTENTION_DEFAULTS`."""
    settings = _settings(config, ATTENTION_DEFAULTS, "attention")
    _check_unet_settings(settings, "attention")
    model = AttentionNet(settings["encoder"], settings["decoder_channels"])
    model.weights_status = _load_encoder_weights(model, settings)
    return model


def build_shadow_generator(config: Mapping[str, Any] | None = None) -> ShadowGenerator:
    """Shadow generator from a config dict; keys and defaults in :data:`GENERATOR_DEFAULTS`."""
    settings = _settings(config, GENERATOR_DEFAULTS, "generator")
    _check_unet_settings(settings, "generator")
    blocks = settings["refinement_blocks"]
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise ValueError(f"generator refinement_blocks must be a non-negative integer, got {blocks!r}")
    model = ShadowGenerator(settings["encoder"], settings["decoder_channels"], blocks)
    model.weights_status = _load_encoder_weights(model, settings)
    return model


def build_discriminator(config: Mapping[str, Any] | None = None) -> PatchDiscriminator:
    """Patch discriminator from a config dict; keys and defaults in :data:`DISCRIMINATOR_DEFAULTS`."""
    settings = _settings(config, DISCRIMINATOR_DEFAULTS, "discriminator")
    model = PatchDiscriminator(
        in_channels=_positive_int(settings["in_channels"], "discriminator in_channels"),
        base_channels=_positive_int(settings["base_channels"], "discriminator base_channels"),
    )
    model.weights_status = "random init"
    return model


def count_parameters(module: Any, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
