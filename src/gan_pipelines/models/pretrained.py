"""Local lookup of pretrained weights: nothing here ever touches the network.

Two kinds of weights are looked up:

- ImageNet weights for the U-Net encoders (``encoder_weights: imagenet``). smp 0.6 downloads
  them from the Hugging Face Hub (``smp-hub/<encoder>.imagenet``, file ``model.safetensors``);
  torchvision keeps its own copies in ``torch.hub.get_dir()/checkpoints/<name>-<hash>.pth``.
  We look, in order, at a configured ``weights_path``, the Hugging Face cache entry that smp
  would have downloaded, and torchvision's hub cache, and load the first file found.
- VGG16 weights for the perceptual loss (torchvision's ``vgg16-397923af.pth``).

When a file is missing, the config decides: carry on without it (random encoder / no
perceptual loss, with a WARNING in the log) or stop with an error that lists every place
looked. Each loader returns a one-line status string that a run can record.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch
from torch import nn

if TYPE_CHECKING:
    from gan_pipelines.models.losses import PerceptualLoss

logger = logging.getLogger(__name__)

VGG16_FILE_NAME = "vgg16-397923af.pth"  # torchvision's file name for ImageNet VGG16
VGG16_RELU3_3_INDEX = 15  # torchvision vgg16().features[15] is the ReLU after conv3_3
ENCODER_IF_UNAVAILABLE = ("random", "error")
PERCEPTUAL_IF_UNAVAILABLE = ("disable", "error")
PERCEPTUAL_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "weights_path": None,
    "if_unavailable": "disable",
    "reduction": "channel_sum",
}
# Keys of classifier heads that an encoder checkpoint may carry but an smp encoder lacks.
_HEAD_PREFIXES = ("fc.", "classifier.", "last_linear.", "head.")


def hub_checkpoints_dir() -> Path:
    """torchvision's weight cache: ``torch.hub.get_dir()/checkpoints`` (honours ``TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` or a torch pickle (``weights_only=True``) state dict on CPU."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state_dict = load_file(str(path), device="cpu")
        else:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is reported with the file name
        raise ValueError(f"{path}: cannot read weights ({exc.__class__.__name__}: {exc})") from exc
    if isinstance(state_dict, Mapping) and "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    if not isinstance(state_dict, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{path}: expected a state dict (names -> tensors)")
    return dict(state_dict)


def _load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], path: Path) -> None:
    """``load_state_dict(strict=True)`` with a shape check first, so errors name the file."""
    expected = module.state_dict()
    state_dict = dict(state_dict)
    # Checkpoints saved before PyTorch 0.4.1 (e.g. older torchvision files) lack BatchNorm's step
    # counter; it does not affect the forward pass, so keep the module's own.
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state_dict:
            state_dict[key] = value
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if wrong_shape:
            parts.append(f"wrong shapes {wrong_shape[:5]}")
        raise ValueError(f"{path}: weights do not fit the network: {'; '.join(parts)}")
    module.load_state_dict(state_dict, strict=True)


# --------------------------------------------------------------------------------------------
# Encoder (ImageNet) weights
# --------------------------------------------------------------------------------------------


def encoder_weight_locations(encoder_name: str, weights_path: str | Path | None = None) -> list[Path]:
    """Where ImageNet weights for ``encoder_name`` are looked for, in order (files or globs)."""
    from segmentation_models_pytorch.encoders import encoders as smp_encoders

    locations: list[Path] = []
    if weights_path:
        locations.append(Path(weights_path).expanduser())
    settings = smp_encoders.get(encoder_name, {}).get("pretrained_settings", {}).get("imagenet")
    if settings is not None:
        from huggingface_hub import constants

        repo_dir = "models--" + settings["repo_id"].replace("/", "--")
        locations.append(
            Path(constants.HF_HUB_CACHE) / repo_dir / "snapshots" / settings["revision"] / "model.safetensors"
        )
    locations.append(hub_checkpoints_dir() / f"{encoder_name}-*.pth")
    return locations


def find_encoder_weights(encoder_name: str, weights_path: str | Path | None = None) -> Path | None:
    """First existing file among :func:`encoder_weight_locations`, or None. Never downloads."""
    for location in encoder_weight_locations(encoder_name, weights_path):
        if "*" in location.name:
            matches = sorted(location.parent.glob(location.name)) if location.parent.is_dir() else []
            if matches:
                return matches[0]
        elif location.is_file():
            return location
    return None


def load_imagenet_encoder(
    encoder: nn.Module,
    encoder_name: str,
    in_channels: int,
    weights_path: str | Path | None = None,
    if_unavailable: str = "random",
    depth: int = 5,
) -> str:
    """Fill ``encoder`` (an smp encoder built for ``in_channels``) with local ImageNet weights.

    The weights are for 3-channel input. As smp does, they go into a fresh 3-channel encoder of
    the same name and ``depth`` (strict: every tensor present, every shape equal; classifier-head
    tensors in the file are dropped), then smp's ``set_in_channels(in_channels, pretrained=True)`` adapts the first
    conv (channels copied cyclically and scaled by 3 / in_channels), and the result is copied into
    ``encoder``. Returns a status string; when no file is found, ``if_unavailable`` says what to
    do: ``"random"`` keeps the random weights and logs a WARNING, ``"error"`` raises
    FileNotFoundError listing the places looked.
    """
    if if_unavailable not in ENCODER_IF_UNAVAILABLE:
        raise ValueError(f"if_unavailable must be one of {ENCODER_IF_UNAVAILABLE}, got {if_unavailable!r}")
    path = find_encoder_weights(encoder_name, weights_path)
    if path is None:
        looked = ", ".join(str(p) for p in encoder_weight_locations(encoder_name, weights_path))
        message = f"ImageNet weights for encoder {encoder_name!r} not found locally (looked in: {looked})"
        if if_unavailable == "error":
            raise FileNotFoundError(message)
        logger.warning("%s; the encoder keeps random weights", message)
        return f"random: {message}"

    from segmentation_models_pytorch.encoders import get_encoder

    state_dict = _read_state_dict(path)
    # smp's own order: a 3-channel encoder takes the file, then set_in_channels adapts conv1.
    three_channel = get_encoder(encoder_name, in_channels=3, depth=depth, weights=None)
    expected = three_channel.state_dict()
    state_dict = {k: v for k, v in state_dict.items() if k in expected or not k.startswith(_HEAD_PREFIXES)}
    _load_strict(three_channel, state_dict, path)
    three_channel.set_in_channels(in_channels, pretrained=True)
    encoder.load_state_dict(three_channel.state_dict(), strict=True)
    logger.info("Loaded ImageNet weights for encoder %s from %s", encoder_name, path)
    return f"loaded {path}"


# --------------------------------------------------------------------------------------------
# VGG16 weights for the perceptual loss
# --------------------------------------------------------------------------------------------


def vgg16_weight_locations(weights_path: str | Path | None = None) -> list[Path]:
    """Where VGG16 weights are looked for, in order (the last entry is a glob)."""
    checkpoints = hub_checkpoints_dir()
    locations = [Path(weights_path).expanduser()] if weights_path else []
    return [*locations, checkpoints / VGG16_FILE_NAME, checkpoints / "vgg16-*.pth"]


def find_vgg16_weights(weights_path: str | Path | None = None) -> Path | None:
    """The configured file if it exists, else torchvision's cached ``vgg16-397923af.pth``, else
    any ``vgg16-*.pth`` in ``torch.hub.get_dir()/checkpoints``; None if there is none."""
    for location in vgg16_weight_locations(weights_path):
        if "*" in location.name:
            matches = sorted(location.parent.glob(location.name)) if location.parent.is_dir() else []
            if matches:
                return matches[0]
        elif location.is_file():
            return location
    return None


def load_vgg16_relu3_3(path: str | Path) -> nn.Sequential:
    """VGG16 ``features[0..15]`` (conv1_1 .. relu3_3) with weights from a torchvision-style state
    dict (keys ``features.N.weight``; the classifier and deeper layers are ignored). Strict for
    the used layers: each must be present with torchvision's shape, else ValueError."""
    from torchvision.models.vgg import cfgs, make_layers

    path = Path(path)
    # make_layers(cfgs["D"]) is exactly torchvision's vgg16(weights=None).features, without
    # building (and randomly initialising) the 120M-parameter classifier we do not use.
    features = make_layers(cfgs["D"], batch_norm=False)[: VGG16_RELU3_3_INDEX + 1]
    state_dict = _read_state_dict(path)
    used = {}
    for key, value in state_dict.items():
        if key.startswith("features."):
            index = key.split(".")[1]
            if index.isdigit() and int(index) <= VGG16_RELU3_3_INDEX:
                used[key[len("features.") :]] = value
    _load_strict(features, used, path)
    return features


def build_perceptual_loss(config: Mapping[str, Any] | None = None) -> tuple[PerceptualLoss | None, str]:
    """Build the VGG16 relu3_3 perceptual loss from a plain config dict.

    Keys (defaults): ``enabled`` (True), ``weights_path`` (None: only the torch hub cache),
    ``if_unavailable`` (``"disable"``: log a WARNING and return None; ``"error"``: raise
    FileNotFoundError listing the places looked), ``reduction`` (``"channel_sum"``, see
    :class:`~gan_pipelines.models.losses.PerceptualLoss`).

    Returns ``(loss_or_None, status)``, status one of ``"loaded <path>"``,
    ``"disabled: weights not found (looked in ...)"``, ``"disabled by config"``.
    """
    from gan_pipelines.models.losses import PERCEPTUAL_REDUCTIONS, PerceptualLoss

    config = dict(config or {})
    unknown = sorted(set(config) - set(PERCEPTUAL_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown perceptual loss config keys {unknown}; valid keys: {sorted(PERCEPTUAL_DEFAULTS)}")
    settings = {**PERCEPTUAL_DEFAULTS, **config}
    if settings["if_unavailable"] not in PERCEPTUAL_IF_UNAVAILABLE:
        raise ValueError(
            f"perceptual if_unavailable must be one of {PERCEPTUAL_IF_UNAVAILABLE}, got {settings['if_unavailable']!r}"
        )
    if settings["reduction"] not in PERCEPTUAL_REDUCTIONS:
        raise ValueError(f"perceptual reduction must be one of {PERCEPTUAL_REDUCTIONS}, got {settings['reduction']!r}")
    if not settings["enabled"]:
        return None, "disabled by config"

    path = find_vgg16_weights(settings["weights_path"])
    if path is None:
        looked = ", ".join(str(p) for p in vgg16_weight_locations(settings["weights_path"]))
        if settings["if_unavailable"] == "error":
            raise FileNotFoundError(f"VGG16 weights for the perceptual loss not found (looked in: {looked})")
        logger.warning("VGG16 weights not found (looked in: %s); the perceptual loss is disabled", looked)
        return None, f"disabled: weights not found (looked in {looked})"
    loss = PerceptualLoss(load_vgg16_relu3_3(path), reduction=settings["reduction"])
    logger.info("Perceptual loss: VGG16 relu3_3 weights loaded from %s", path)
    return loss, f"loaded {path}"
