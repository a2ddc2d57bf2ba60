"""ARShadowGAN-like networks: the attention block and the shadow-generation (SG) block.

Conventions (the dataset side produces them):
- images (``noshadow``, ``shadow``) are float RGB in [-1, 1] (``uint8 / 127.5 - 1``);
- masks fed to a network (``mask``, ``robject``, ``rshadow``) are in [-1, 1]: {-1, +1} for
  binary masks, ``2 * p - 1`` for soft attention maps;
- heights and widths are multiples of 32 (the U-Net encoders downsample five times).

Both blocks use an smp U-Net (``encoder`` + ``decoder``). Neither applies an output activation:
the attention block returns logits and the generator returns unclamped images, because a
sigmoid/clamp inside the network would kill gradients where the losses need them. Use
:func:`attention_probabilities`, :func:`attention_to_generator_input` and
:func:`to_uint8_images` at the boundaries.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from gan_pipelines.families.shadow.projection import projected_shadow_hint
from gan_pipelines.models.pretrained import ENCODER_IF_UNAVAILABLE, load_imagenet_encoder
from gan_pipelines.params import check_known_keys

ATTENTION_CHANNELS = ("robject", "rshadow")  # order of the attention block's output channels
DEFAULT_DECODER_CHANNELS = (256, 128, 64, 32, 16)  # smp's Unet default; the last is the 16 of the paper
ENCODER_DEPTH = 5
RESOLUTION_MULTIPLE = 2**ENCODER_DEPTH


def check_resolution(
    resolution: int | Sequence[int],
    multiple: int = RESOLUTION_MULTIPLE,
    reason: str | None = None,
) -> None:
    """Raise ValueError unless every side of ``resolution`` (an int, or (height, width)) is a
    positive multiple of ``multiple``. ``reason`` ends the message; by default it explains 32."""
    if reason is None:
        reason = f"the U-Net encoder downsamples {int(round(math.log2(multiple)))} times"
    sides = [resolution] if isinstance(resolution, int) else list(resolution)
    for side in sides:
        if not isinstance(side, int) or isinstance(side, bool) or side <= 0:
            raise ValueError(f"resolution must be a positive integer or (height, width), got {resolution!r}")
        if side % multiple:
            raise ValueError(f"resolution {side} is not divisible by {multiple} ({reason})")


def _build_unet_parts(
    encoder: str,
    in_channels: int,
    decoder_channels: Sequence[int],
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(encoder, decoder, segmentation head) of an smp Unet with random weights (no download)."""
    import segmentation_models_pytorch as smp

    decoder_channels = tuple(int(c) for c in decoder_channels)
    if len(decoder_channels) != ENCODER_DEPTH or min(decoder_channels) <= 0:
        raise ValueError(
            f"decoder_channels must be {ENCODER_DEPTH} positive integers (one per decoder stage), "
            f"got {decoder_channels}"
        )
    unet = smp.Unet(
        encoder_name=encoder,
        encoder_depth=ENCODER_DEPTH,
        encoder_weights=None,
        decoder_channels=decoder_channels,
        in_channels=in_channels,
        classes=len(ATTENTION_CHANNELS),
    )
    return unet.encoder, unet.decoder, unet.segmentation_head


def _check_input(name: str, tensor: torch.Tensor, channels: int, like: torch.Tensor | None = None) -> None:
    if tensor.ndim != 4 or tensor.shape[1] != channels:
        raise ValueError(f"{name} must have shape (N, {channels}, H, W), got {tuple(tensor.shape)}")
    if like is not None and (tensor.shape[0] != like.shape[0] or tensor.shape[2:] != like.shape[2:]):
        raise ValueError(f"{name} {tuple(tensor.shape)} does not match noshadow {tuple(like.shape)} in N, H, W")


def _check_spatial(image: torch.Tensor) -> None:
    # Scripted, compiled and traced (ONNX export) code sees symbolic sizes; the ONNX exporter
    # checks its resolution before tracing.
    if not torch.jit.is_scripting() and not torch.jit.is_tracing() and not torch.compiler.is_compiling():
        check_resolution(tuple(image.shape[-2:]))


class AttentionNet(nn.Module):
    """Attention block: U-Net from (noshadow RGB, inserted-object mask) to two logit maps,
    channel 0 = ``robject`` (real occluders), channel 1 = ``rshadow`` (their shadows).

    ``forward`` returns logits (N, 2, H, W). Train with
    ``dice_loss(torch.sigmoid(logits), target)``; at inference use
    :func:`attention_to_generator_input`. Reference encoder: resnet34.
    """

    def __init__(
        self,
        encoder: str = "resnet34",
        decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
    ) -> None:
        super().__init__()
        self.in_channels = 4
        self.encoder_name = encoder
        self.encoder, self.decoder, self.segmentation_head = _build_unet_parts(
            encoder, self.in_channels, decoder_channels
        )

    def forward(self, noshadow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check_input("noshadow", noshadow, 3)
        _check_input("mask", mask, 1, like=noshadow)
        _check_spatial(noshadow)
        features = self.encoder(torch.cat([noshadow, mask], dim=1))
        return self.segmentation_head(self.decoder(features))


COMPOSITIONS = ("additive", "multiplicative")  # how a shadow layer is applied to noshadow


class ShadowGeneratorOutput(NamedTuple):
    """What :class:`ShadowGenerator` returns; all (N, 3, H, W), images in [-1, 1] (unclamped)."""

    coarse: torch.Tensor  # noshadow composed with coarse_layer
    refined: torch.Tensor  # noshadow composed with refined_layer: the model's result
    coarse_layer: torch.Tensor  # the coarse head's shadow layer (see ShadowGenerator.composition)
    refined_layer: torch.Tensor  # the refinement branch's shadow layer


class ShadowGenerator(nn.Module):
    """Shadow-generation block.

    U-Net body (smp encoder + decoder, no segmentation head) on 6 channels: noshadow RGB, mask,
    robject, rshadow, all in [-1, 1]; with ``projection_hint`` a 7th, the inserted object's hard
    shadow cast with the light fitted to the occluders' shadows
    (:func:`~gan_pipelines.families.shadow.projection.projected_shadow_hint`, computed inside
    ``forward`` so that training, evaluation, predict and the ONNX export all see the same).
    Its last decoder features (C = ``decoder_channels[-1]``, 16 by default) feed

    - a coarse head: conv3x3 C -> 3, and
    - a refinement branch: ``refinement_blocks`` x [BatchNorm(C), ReLU, conv3x3 C -> C], then
      conv3x3 C -> 3.

    Each head gives a 3-channel shadow layer that is zero on the inserted object's pixels
    (``mask`` > 0: an object does not shadow itself in these pairs). ``composition`` says how it
    is applied to noshadow:

    - ``additive`` (the reference): ``noshadow + layer``, in the [-1, 1] image range;
    - ``multiplicative``: the layer is a per-channel log shadow ratio, ``x * exp(layer)`` with
      ``x = (noshadow + 1) / 2`` in [0, 1], mapped back to [-1, 1]. A cast shadow scales the light
      a surface gets, so it darkens each pixel in proportion to its brightness; as a ratio the
      layer is flat over a textured ground instead of having to copy the texture (the ratio /
      matte view of shadows of SGRNet, Hong et al., AAAI 2022, and of intrinsic-image shading).

    The two output convs start at zero, so an untrained generator returns noshadow itself (the
    identity baseline) instead of noise; their weights get gradients from the first step.
    Outputs are not clamped (clamping would zero the gradient of out-of-range pixels); map them
    with :func:`to_uint8_images`.
    Reference encoder: resnet18.
    """

    def __init__(
        self,
        encoder: str = "resnet18",
        decoder_channels: Sequence[int] = DEFAULT_DECODER_CHANNELS,
        refinement_blocks: int = 4,
        composition: str = "additive",
        projection_hint: bool = False,
    ) -> None:
        super().__init__()
        if composition not in COMPOSITIONS:
            raise ValueError(f"generator composition must be one of {COMPOSITIONS}, got {composition!r}")
        self.composition = composition
        self.projection_hint = bool(projection_hint)
        self.in_channels = 7 if self.projection_hint else 6
        self.encoder_name = encoder
        self.encoder, self.decoder, _ = _build_unet_parts(encoder, self.in_channels, decoder_channels)
        features = int(decoder_channels[-1])
        self.coarse_head = nn.Conv2d(features, 3, kernel_size=3, padding=1)
        blocks: list[nn.Module] = []
        for _ in range(int(refinement_blocks)):
            blocks += [nn.BatchNorm2d(features), nn.ReLU(), nn.Conv2d(features, features, kernel_size=3, padding=1)]
        self.refinement = nn.Sequential(*blocks)
        self.refined_head = nn.Conv2d(features, 3, kernel_size=3, padding=1)
        for head in (self.coarse_head, self.refined_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(
        self,
        noshadow: torch.Tensor,
        mask: torch.Tensor,
        robject: torch.Tensor,
        rshadow: torch.Tensor,
    ) -> ShadowGeneratorOutput:
        _check_input("noshadow", noshadow, 3)
        for name, tensor in (("mask", mask), ("robject", robject), ("rshadow", rshadow)):
            _check_input(name, tensor, 1, like=noshadow)
        _check_spatial(noshadow)
        inputs = [noshadow, mask, robject, rshadow]
        if self.projection_hint:
            inputs.append(projected_shadow_hint(mask, robject, rshadow).to(noshadow.dtype))
        features = self.decoder(self.encoder(torch.cat(inputs, dim=1)))
        # The inserted object's own pixels never change: its shadow falls on other surfaces (in the
        # Shadow-AR pairs and in the renderer, noshadow and shadow agree on the object).
        outside_object = (mask < 0).to(features.dtype)
        coarse_layer = self.coarse_head(features) * outside_object
        refined_layer = self.refined_head(self.refinement(features)) * outside_object
        return ShadowGeneratorOutput(
            coarse=self._compose(noshadow, coarse_layer),
            refined=self._compose(noshadow, refined_layer),
            coarse_layer=coarse_layer,
            refined_layer=refined_layer,
        )

    def _compose(self, noshadow: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
        if self.composition == "additive":
            return noshadow + layer
        # x * exp(layer) in [0, 1] is noshadow + (noshadow + 1) * (exp(layer) - 1) in [-1, 1]; written
        # so that a zero layer returns noshadow exactly. In float32 like the additive sum (noshadow
        # is float32): a bf16 image would be off by up to a grey level.
        noshadow = noshadow.float()
        return noshadow + (noshadow + 1.0) * (torch.exp(layer.float()) - 1.0)


def attention_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Sigmoid of the attention logits, in float32: (N, 2, H, W) probabilities in [0, 1]."""
    return torch.sigmoid(logits.float())


def attention_to_generator_input(
    logits: torch.Tensor, threshold: float | None = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn attention logits into the generator's ``(robject, rshadow)`` inputs, each (N, 1, H, W).

    With ``threshold`` (inference, as in the reference): probability > threshold -> +1, else -1.
    With ``threshold=None``: the soft map ``2 * p - 1``, e.g. to train the generator on predicted
    maps rather than ground truth (the reference's exposure bias).
    """
    probs = attention_probabilities(logits)
    maps = (probs > threshold).float() * 2.0 - 1.0 if threshold is not None else probs * 2.0 - 1.0
    return maps[:, 0:1], maps[:, 1:2]


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """Map images in [-1, 1] to uint8 (the inverse of ``uint8 / 127.5 - 1``), clamping first.

    (N, C, H, W) -> (N, H, W, C) array, (C, H, W) -> (H, W, C); a single channel is squeezed,
    giving (N, H, W) / (H, W) masks. Detaches and moves to CPU.
    """
    if images.ndim not in (3, 4):
        raise ValueError(f"to_uint8_images expects (N, C, H, W) or (C, H, W), got {tuple(images.shape)}")
    values = ((images.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    array = values.movedim(-3, -1).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


# --------------------------------------------------------------------------------------------
# Factories: build the networks from the plain dicts of the parameter files
# --------------------------------------------------------------------------------------------

# Defaults are the reference architecture; encoder_weights is null so that nothing is looked up
# unless a config asks for it.
ATTENTION_DEFAULTS: dict[str, Any] = {
    "encoder": "resnet34",
    "decoder_channels": list(DEFAULT_DECODER_CHANNELS),
    "encoder_weights": None,  # null | "imagenet" (local files only)
    "weights_path": None,  # a local .pth / .safetensors encoder state dict, looked at first
    "if_unavailable": "random",  # "random" (WARNING, random encoder) | "error"
}
GENERATOR_DEFAULTS: dict[str, Any] = {
    **ATTENTION_DEFAULTS, "encoder": "resnet18", "refinement_blocks": 4, "composition": "additive",
    "projection_hint": False,
}
_SUGGESTED_ENCODERS = ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet-b0", "vgg11")


def _settings(config: Mapping[str, Any] | None, defaults: Mapping[str, Any], what: str) -> dict[str, Any]:
    config = dict(config or {})
    check_known_keys(config, defaults, what)
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
    if not isinstance(settings["projection_hint"], bool):
        raise ValueError(f"generator projection_hint must be true or false, got {settings['projection_hint']!r}")
    model = ShadowGenerator(
        settings["encoder"], settings["decoder_channels"], blocks, settings["composition"], settings["projection_hint"]
    )
    model.weights_status = _load_encoder_weights(model, settings)
    return model
