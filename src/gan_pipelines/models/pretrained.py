"""Local lookup of pretrained weights: nothing here ever touches the network.

Two kinds of weights are looked up:

- ImageNet weights for the U-Net encoders (``encoder_weights: imagenet``). smp 0.6 downloads
  them from the Hugging Face Hub (``smp-hub/<encoder>.imagenet``, file ``model.safetensors``);
  torchvision keeps its own copies in ``torch.hub.get_dir()/checkpoints/<name>-<hash>.pth``.
  We look, in order, at a configured ``weights_path``, the Hugging Face cache entry that smp
  would have downloaded, and torchvision's hub cache, and load the first file found.
- VGG16 weights for the perceptual loss (torchvision's ``vgg16-397923af.pth``).
- VGG19 weights for the pix2pixHD/SPADE perceptual loss (torchvision's ``vgg19-dcbb9e9d.pth``).

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
    from gan_pipelines.models.losses import PerceptualLoss, VGG19PerceptualLoss

logger = logging.getLogger(__name__)

VGG16_FILE_NAME = "vgg16-397923af.pth"  # torchvision's file name for ImageNet VGG16
VGG16_RELU3_3_INDEX = 15  # torchvision vgg16().features[15] is the ReLU after conv3_3
VGG19_FILE_NAME = "vgg19-dcbb9e9d.pth"  # torchvision's file name for ImageNet VGG19
VGG19_PERCEPTUAL_DEFAULTS: dict[str, Any] = {"enabled": True, "weights_path": None, "if_unavailable": "disable"}
ENCODER_IF_UNAVAILABLE = ("random", "error")
PERCEPTUAL_IF_UNAVAILABLE = ("disable", "error")
PERCEPTUAL_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "weights_path": None,
    "if_unavailable": "disable",
    "reduction": "channel_sum",
    "precision": "fp32",
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


def _first_match(locations: list[Path]) -> Path | None:
    """The first existing file among ``locations`` (a name with ``*`` is a glob: its first match
    in sorted order), or None. Never downloads."""
    for location in locations:
        if "*" in location.name:
            matches = sorted(location.parent.glob(location.name)) if location.parent.is_dir() else []
            if matches:
                return matches[0]
        elif location.is_file():
            return location
    return None


def find_encoder_weights(encoder_name: str, weights_path: str | Path | None = None) -> Path | None:
    """First existing file among :func:`encoder_weight_locations`, or None. Never downloads."""
    return _first_match(encoder_weight_locations(encoder_name, weights_path))


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
    return _first_match(vgg16_weight_locations(weights_path))


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


def _weights_or_disabled(network: str, user: str, locations: list[Path], if_unavailable: str) -> tuple[Path | None, str]:
    """The first existing weight file of ``locations``, or (None, why) with a warning when
    ``if_unavailable`` is ``disable``; FileNotFoundError naming every place looked when ``error``."""
    path = _first_match(locations)
    if path is not None:
        return path, ""
    looked = ", ".join(str(p) for p in locations)
    if if_unavailable == "error":
        raise FileNotFoundError(f"{network} weights for {user} not found (looked in: {looked})")
    logger.warning("%s weights not found (looked in: %s); %s is disabled", network, looked, user)
    return None, f"disabled: weights not found (looked in {looked})"


def build_perceptual_loss(config: Mapping[str, Any] | None = None) -> tuple[PerceptualLoss | None, str]:
    """Build the VGG16 relu3_3 perceptual loss from a plain config dict.

    Keys (defaults): ``enabled`` (True), ``weights_path`` (None: only the torch hub cache),
    ``if_unavailable`` (``"disable"``: log a WARNING and return None; ``"error"``: raise
    FileNotFoundError listing the places looked), ``reduction`` (``"channel_sum"``) and
    ``precision`` (``"fp32"``; ``"auto"``: VGG at the training step's precision), see
    :class:`~gan_pipelines.models.losses.PerceptualLoss`.

    Returns ``(loss_or_None, status)``, status one of ``"loaded <path>"``,
    ``"disabled: weights not found (looked in ...)"``, ``"disabled by config"``.
    """
    from gan_pipelines.models.losses import PERCEPTUAL_PRECISIONS, PERCEPTUAL_REDUCTIONS, PerceptualLoss

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
    if settings["precision"] not in PERCEPTUAL_PRECISIONS:
        raise ValueError(f"perceptual precision must be one of {PERCEPTUAL_PRECISIONS}, got {settings['precision']!r}")
    if not settings["enabled"]:
        return None, "disabled by config"

    path, status = _weights_or_disabled("VGG16", "the perceptual loss", vgg16_weight_locations(settings["weights_path"]),
                                        settings["if_unavailable"])
    if path is None:
        return None, status
    loss = PerceptualLoss(load_vgg16_relu3_3(path), reduction=settings["reduction"], precision=settings["precision"])
    logger.info("Perceptual loss: VGG16 relu3_3 weights loaded from %s", path)
    return loss, f"loaded {path}"


# --------------------------------------------------------------------------------------------
# VGG19 weights for the pix2pixHD / SPADE perceptual loss
# --------------------------------------------------------------------------------------------


def vgg19_weight_locations(weights_path: str | Path | None = None) -> list[Path]:
    """Where VGG19 weights are looked for, in order: the configured file, torchvision's
    ``vgg19-dcbb9e9d.pth`` and any ``vgg19-*.pth`` (a glob; not ``vgg19_bn``) in
    ``torch.hub.get_dir()/checkpoints``."""
    checkpoints = hub_checkpoints_dir()
    locations = [Path(weights_path).expanduser()] if weights_path else []
    return [*locations, checkpoints / VGG19_FILE_NAME, checkpoints / "vgg19-*.pth"]


def find_vgg19_weights(weights_path: str | Path | None = None) -> Path | None:
    """The first existing file among :func:`vgg19_weight_locations`, or None. Never downloads."""
    return _first_match(vgg19_weight_locations(weights_path))


def load_vgg19_features(path: str | Path) -> nn.Sequential:
    """VGG19 ``features[0..29]`` (conv1_1 .. relu5_1) with weights from a torchvision-style state
    dict (keys ``features.N.weight`` / ``.bias``; the classifier and the layers after relu5_1 are
    ignored). Strict for the used layers: each must be present with torchvision's shape, else
    ValueError naming the file."""
    from torchvision.models.vgg import cfgs, make_layers

    from gan_pipelines.models.losses import VGG19_LAYER_INDICES

    path = Path(path)
    last = VGG19_LAYER_INDICES[-1]
    # make_layers(cfgs["E"]) is torchvision's vgg19(weights=None).features, without the classifier.
    features = make_layers(cfgs["E"], batch_norm=False)[: last + 1]
    used = {}
    for key, value in _read_state_dict(path).items():
        if key.startswith("features."):
            index = key.split(".")[1]
            if index.isdigit() and int(index) <= last:
                used[key[len("features.") :]] = value
    _load_strict(features, used, path)
    return features


def build_vgg19_perceptual_loss(config: Mapping[str, Any] | None = None) -> tuple[VGG19PerceptualLoss | None, str]:
    """Build pix2pixHD's VGG19 perceptual loss
    (:class:`~gan_pipelines.models.losses.VGG19PerceptualLoss`) from local weights only.

    Keys (defaults): ``enabled`` (True), ``weights_path`` (None: only the torch hub cache),
    ``if_unavailable`` (``"disable"``: log a WARNING and return None; ``"error"``: raise
    FileNotFoundError listing the places looked). Nothing is ever downloaded.

    Returns ``(loss_or_None, status)``, status one of ``"loaded <path>"``,
    ``"disabled: weights not found (looked in ...)"``, ``"disabled by config"``. Raises
    ValueError for unknown keys or a bad ``if_unavailable``, and for a file that does not fit.
    """
    from gan_pipelines.models.losses import VGG19PerceptualLoss

    config = dict(config or {})
    unknown = sorted(set(config) - set(VGG19_PERCEPTUAL_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown VGG19 perceptual loss config keys {unknown}; valid keys: {sorted(VGG19_PERCEPTUAL_DEFAULTS)}"
        )
    settings = {**VGG19_PERCEPTUAL_DEFAULTS, **config}
    if settings["if_unavailable"] not in PERCEPTUAL_IF_UNAVAILABLE:
        raise ValueError(
            f"VGG19 perceptual if_unavailable must be one of {PERCEPTUAL_IF_UNAVAILABLE}, "
            f"got {settings['if_unavailable']!r}"
        )
    if not settings["enabled"]:
        return None, "disabled by config"

    path, status = _weights_or_disabled("VGG19", "the VGG19 perceptual loss",
                                        vgg19_weight_locations(settings["weights_path"]), settings["if_unavailable"])
    if path is None:
        return None, status
    loss = VGG19PerceptualLoss(load_vgg19_features(path))
    logger.info("VGG19 perceptual loss: weights loaded from %s", path)
    return loss, f"loaded {path}"


# --------------------------------------------------------------------------------------------
# Inception-v3 (FID/KID) and LPIPS weights for offline evaluation
# --------------------------------------------------------------------------------------------
#
# Both are only ever looked up, never downloaded. Each ``find_*`` returns ``(path or None,
# reason)``: a one-line reason that an evaluation records next to a null metric when the
# weights are absent, or that says which weights a metric was computed with.

# pytorch-fid's port of the TF Inception that defines published FID (what piq downloads).
INCEPTION_FID_GLOB = "pt_inception-2015-12-05-*.pth"
# torchvision's ImageNet Inception-v3: another network; its FID is not the published one.
INCEPTION_TORCHVISION_GLOB = "inception_v3_google-*.pth"
INCEPTION_FEATURES = 2048  # the pool3 (final average pooling) features
INCEPTION_INPUT_SIZE = 299
# piq's LPIPS (VGG16 variant) linear-layer weights, a list of 5 tensors (1, C, 1, 1).
LPIPS_FILE_NAME = "lpips_weights.pt"
LPIPS_VGG16_LAYERS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in vgg16().features
LPIPS_CHANNELS = (64, 128, 256, 512, 512)


def inception_weight_locations(weights_path: str | Path | None = None) -> list[Path]:
    """Where Inception-v3 weights are looked for, in order: the configured file, pytorch-fid's
    ``pt_inception-2015-12-05-*.pth``, torchvision's ``inception_v3_google-*.pth`` (both in
    ``torch.hub.get_dir()/checkpoints``)."""
    checkpoints = hub_checkpoints_dir()
    configured = [Path(weights_path).expanduser()] if weights_path else []
    return [*configured, checkpoints / INCEPTION_FID_GLOB, checkpoints / INCEPTION_TORCHVISION_GLOB]


def inception_variant(path: str | Path) -> str:
    """``"fid"`` for pytorch-fid's TF-Inception port (file name ``pt_inception-*``), else
    ``"torchvision"`` (torchvision's ImageNet Inception-v3 key layout)."""
    return "fid" if Path(path).name.startswith("pt_inception") else "torchvision"


def find_inception_weights(weights_path: str | Path | None = None) -> tuple[Path | None, str]:
    """``(path, reason)`` of the first Inception-v3 file found locally, or ``(None, reason)``."""
    path = _first_match(inception_weight_locations(weights_path))
    if path is None:
        looked = ", ".join(str(p) for p in inception_weight_locations(weights_path))
        return None, f"Inception-v3 weights not found locally (looked in: {looked})"
    if inception_variant(path) == "fid":
        return path, f"TF-Inception (pytorch-fid port) from {path}"
    return path, f"torchvision Inception-v3 from {path}: not the TF-Inception of published FID, values differ"


def find_lpips_weights(weights_path: str | Path | None = None) -> tuple[Path | None, str]:
    """``(path, reason)`` of piq's LPIPS linear weights (``lpips_weights.pt``: the configured file,
    else the hub cache) when they AND the VGG16 backbone (:func:`find_vgg16_weights`) are both
    found locally; else ``(None, reason)`` naming what is missing."""
    checkpoints = hub_checkpoints_dir()
    locations = [*([Path(weights_path).expanduser()] if weights_path else []), checkpoints / LPIPS_FILE_NAME]
    path = _first_match(locations)
    missing = []
    if path is None:
        missing.append(f"LPIPS linear weights ({', '.join(str(p) for p in locations)})")
    if find_vgg16_weights() is None:
        missing.append(f"VGG16 backbone ({', '.join(str(p) for p in vgg16_weight_locations())})")
    if missing:
        return None, f"LPIPS weights not found locally: {'; '.join(missing)}"
    return path, f"LPIPS-VGG (piq's port) from {path} and {find_vgg16_weights()}"


class _FeatureHead(nn.Module):
    """A feature network as ``images in [0, 1] (N, 3, H, W) -> (N, D)`` (flattens; unwraps piq's
    one-element list)."""

    def __init__(self, body: nn.Module, squeeze_list: bool) -> None:
        super().__init__()
        self.body = body
        self.squeeze_list = squeeze_list

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.body(images)
        if self.squeeze_list:
            out = out[0]
        return out.reshape(out.shape[0], -1)


def fid_inception_network() -> nn.Module:
    """The TF-Inception of FID as piq (and pytorch-fid) build it -- torchvision's Inception-v3
    with the FID blocks patched in, 1008 classes -- with random weights: the structure that
    pytorch-fid's ``pt_inception-*`` state dict fits."""
    import torchvision
    from piq.feature_extractors import fid_inception as fi

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    net.Mixed_5b = fi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fi.FIDInceptionE1(1280)
    net.Mixed_7c = fi.FIDInceptionE2(2048)
    return net


def load_inception_features(path: str | Path) -> nn.Module:
    """An eval-mode module mapping RGB images in [0, 1] ``(N, 3, H, W)`` to Inception pool3
    features ``(N, 2048)`` (bilinear resize to 299 inside), from a local file.

    pytorch-fid's ``pt_inception-*`` file gives the TF-Inception of published FID (piq's
    network structure); any other file is read as torchvision's Inception-v3. Strict loading:
    a file that does not fit is a ValueError naming it.
    """
    import torch.nn.functional as F
    import torchvision

    path = Path(path)
    state_dict = _read_state_dict(path)
    if inception_variant(path) == "fid":
        from piq.feature_extractors.fid_inception import InceptionV3

        class _LocalFIDInception(InceptionV3):
            def fid_inception_v3(self) -> nn.Module:  # piq's structure, our file: no download
                net = fid_inception_network()
                _load_strict(net, state_dict, path)
                return net

        body = _LocalFIDInception(output_blocks=[3], resize_input=True, normalize_input=True)
        return _FeatureHead(body, squeeze_list=True).eval()

    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    _load_strict(net, state_dict, path)
    net.fc = nn.Identity()

    class _TorchvisionInception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            resized = F.interpolate(images, size=(INCEPTION_INPUT_SIZE,) * 2, mode="bilinear", align_corners=False)
            return self.net(resized * 2.0 - 1.0)  # what transform_input makes of ImageNet-normalised input

    return _FeatureHead(_TorchvisionInception(), squeeze_list=False).eval()


def load_lpips(lpips_path: str | Path, vgg16_path: str | Path) -> nn.Module:
    """piq's LPIPS-VGG distance from local files: ``module(x, y)`` with images in [0, 1]
    ``(N, 3, H, W)`` returns ``(N,)`` distances (0 for identical images)."""
    from piq.perceptual import IMAGENET_MEAN, IMAGENET_STD, ContentLoss
    from torchvision.models.vgg import cfgs, make_layers

    lpips_path, vgg16_path = Path(lpips_path), Path(vgg16_path)
    try:
        weights = torch.load(lpips_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - reported with the file name
        raise ValueError(f"{lpips_path}: cannot read LPIPS weights ({exc.__class__.__name__}: {exc})") from exc
    if (
        not isinstance(weights, (list, tuple)) or len(weights) != len(LPIPS_CHANNELS)
        or any(not isinstance(w, torch.Tensor) or w.numel() != c for w, c in zip(weights, LPIPS_CHANNELS))
    ):
        raise ValueError(f"{lpips_path}: expected 5 LPIPS layer weights with {LPIPS_CHANNELS} channels")
    last = LPIPS_VGG16_LAYERS[-1]
    features = make_layers(cfgs["D"], batch_norm=False)[: last + 1]
    used = {
        key[len("features."):]: value for key, value in _read_state_dict(vgg16_path).items()
        if key.startswith("features.") and key.split(".")[1].isdigit() and int(key.split(".")[1]) <= last
    }
    _load_strict(features, used, vgg16_path)
    loss = ContentLoss(
        feature_extractor=features, layers=[str(i) for i in LPIPS_VGG16_LAYERS],
        weights=[w.reshape(1, -1, 1, 1).float() for w in weights], replace_pooling=False, distance="mse",
        reduction="none", mean=IMAGENET_MEAN, std=IMAGENET_STD, normalize_features=True,
    )
    return loss.eval()
