"""Discriminators shared by the image-to-image GAN families, and :func:`build_discriminator`.

- :class:`SRGANPatchDiscriminator`: the SRGAN-style patch discriminator of the shadow family
  (Ledig et al., CVPR 2017, made fully convolutional); same layers and state-dict keys as the
  former ``gan_pipelines.models.discriminator.PatchDiscriminator``, so its checkpoints load.
- :class:`NLayerPatchDiscriminator`: the pix2pix PatchGAN (Isola et al., CVPR 2017; reference
  ``NLayerDiscriminator`` in junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``);
  ``n_layers=3`` is the 70x70 PatchGAN of pix2pix and CycleGAN.
- :class:`MultiScaleDiscriminator`: ``num_D`` discriminators at 1x, 1/2, 1/4, ... of the input
  (Wang et al., pix2pixHD, CVPR 2018; reference ``MultiscaleDiscriminator`` in
  NVIDIA/pix2pixHD ``models/networks.py``, also used by SPADE).

Every discriminator returns raw scores (logits, no sigmoid); pair it with
:class:`gan_pipelines.models.gan_losses.GANLoss`. Conditioning is the caller's choice: an
unconditional D sees the image only (``in_channels = 3``), a conditional D (pix2pix) sees the
concatenation of condition and image (``in_channels = condition channels + 3``).

Options common to the discriminators:

- ``norm``: ``"batch"`` (BatchNorm2d, affine), ``"instance"`` (InstanceNorm2d without affine
  parameters nor running statistics, as the pix2pix/CycleGAN reference) or ``"none"``.
- ``spectral_norm``: every Conv2d weight is divided by its largest singular value, estimated by
  one power iteration per training forward pass (Miyato et al., ICLR 2018; PyTorch's
  ``torch.nn.utils.parametrizations.spectral_norm``). It bounds the spectral norm of the weight
  reshaped to ``(out_channels, in_channels * kh * kw)``, as the paper does. SN is applied to
  every convolution (the SNGAN choice), including the first and last; SPADE leaves those two
  without SN. With SN the state-dict keys of a weight become
  ``<conv>.parametrizations.weight.original`` (+ ``..._u`` / ``..._v`` buffers).
- ``return_features``: ``forward`` returns the list of intermediate activations whose last entry
  is the logits, for pix2pixHD's feature-matching loss
  (:func:`gan_pipelines.models.gan_losses.feature_matching_loss`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _register_spectral_norm

from gan_pipelines.params import check_known_keys

__all__ = [
    "DISCRIMINATOR_TYPES",
    "NORM_TYPES",
    "MultiScaleDiscriminator",
    "NLayerPatchDiscriminator",
    "SRGANPatchDiscriminator",
    "apply_spectral_norm",
    "build_discriminator",
    "discriminator_defaults",
    "init_weights",
    "make_norm_layer",
]

NORM_TYPES = ("batch", "instance", "none")
DISCRIMINATOR_TYPES = ("srgan", "patchgan", "multiscale")
SRGAN_DOWNSAMPLING = 16  # four stride-2 convolutions
LEAKY_SLOPE = 0.2


# ---------------------------------------------------------------------------------------------
# Building blocks shared with generators.py
# ---------------------------------------------------------------------------------------------


def make_norm_layer(norm: str, channels: int) -> nn.Module | None:
    """The normalisation layer named by ``norm`` for ``channels`` channels; None for ``"none"``.

    ``"batch"``: ``BatchNorm2d`` (affine). ``"instance"``: ``InstanceNorm2d(affine=False,
    track_running_stats=False)``, i.e. per-image statistics in train and eval mode, as the
    pix2pix/CycleGAN reference. Raises ValueError for another name.
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "none":
        return None
    raise ValueError(f"norm must be one of {list(NORM_TYPES)}, got {norm!r}")


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """pix2pix/DCGAN initialisation, in place: conv / transposed conv / linear weights from
    N(0, gain), affine norm weights from N(1, gain), all biases 0. Returns ``module``.

    Works on spectrally normalised layers too (it initialises the original weight)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if parametrize.is_parametrized(layer, "weight"):
                weight = layer.parametrizations.weight.original
            else:
                weight = layer.weight
            nn.init.normal_(weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d)) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)
    return module


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Register spectral normalisation on every ``Conv2d`` of ``module`` (in place; returns it).

    Uses ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per forward pass
    in train mode, the stored estimate in eval mode). Layers already parametrised are left alone.
    """
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d) and not parametrize.is_parametrized(layer, "weight"):
            _register_spectral_norm(layer)
    return module


def _append_norm(layers: list[nn.Module], norm: str, channels: int) -> None:
    layer = make_norm_layer(norm, channels)
    if layer is not None:
        layers.append(layer)


def _check_init_gain(init_gain: float | None) -> None:
    if init_gain is not None and (isinstance(init_gain, bool) or not isinstance(init_gain, Real) or init_gain <= 0):
        raise ValueError(f"init_gain must be a positive number or None, got {init_gain!r}")


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_image(image: Tensor, in_channels: int, owner: str) -> None:
    if image.ndim != 4 or image.shape[1] != in_channels:
        raise ValueError(f"{owner} expects (N, {in_channels}, H, W), got {tuple(image.shape)}")


# ---------------------------------------------------------------------------------------------
# SRGAN-style patch discriminator (shadow family)
# ---------------------------------------------------------------------------------------------


class SRGANPatchDiscriminator(nn.Module):
    """SRGAN-style patch discriminator (Ledig et al., 2017), fully convolutional.

    Four blocks ``conv3x3 s1 - norm - LeakyReLU(0.2) - conv3x3 s2 - norm - LeakyReLU(0.2)`` (no
    norm after the first conv of the first block), widths ``base_channels * (1, 2, 4, 8)``
    (64/128/256/512 in the reference), then ``conv3x3 -> 1`` channel. All convs have a bias.

    Input: (N, in_channels, H, W), any value range (the shadow family feeds [-1, 1] images), with
    H and W multiples of 16. Output: (N, 1, H/16, W/16) logits, one per 93x93 patch (see
    :meth:`receptive_field`); with ``return_features=True`` a list of the four block
    outputs (N, base_channels * 2**i, H / 2**(i+1), W / 2**(i+1)) followed by the logits.

    With the defaults (``norm="batch"``, no spectral norm) this is exactly the former
    ``PatchDiscriminator``: same layers, same state-dict keys (``model.<index>.*``), same outputs,
    same ValueErrors (whose messages now name this class). ``norm="none"`` removes the norm layers and so shifts the indices.

    Raises ValueError for non-positive widths or an unknown ``norm`` (constructor), and for a
    wrong input rank / channel count or H, W not divisible by 16 (forward).
    """

    downsampling = SRGAN_DOWNSAMPLING

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        norm: str = "batch",
        spectral_norm: bool = False,
        return_features: bool = False,
    ) -> None:
        super().__init__()
        if in_channels <= 0 or base_channels <= 0:
            raise ValueError(f"in_channels and base_channels must be positive, got {in_channels}, {base_channels}")
        if norm not in NORM_TYPES:
            raise ValueError(f"norm must be one of {list(NORM_TYPES)}, got {norm!r}")
        self.in_channels = in_channels
        self.return_features = bool(return_features)
        layers: list[nn.Module] = []
        block_ends: list[int] = []
        width_in = in_channels
        for index, multiplier in enumerate((1, 2, 4, 8)):
            width_out = base_channels * multiplier
            layers.append(nn.Conv2d(width_in, width_out, kernel_size=3, stride=1, padding=1))
            if index > 0:
                _append_norm(layers, norm, width_out)
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            layers.append(nn.Conv2d(width_out, width_out, kernel_size=3, stride=2, padding=1))
            _append_norm(layers, norm, width_out)
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            block_ends.append(len(layers) - 1)
            width_in = width_out
        layers.append(nn.Conv2d(width_in, 1, kernel_size=3, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        self._block_ends = frozenset(block_ends)  # plain attribute: not in the state dict
        if spectral_norm:
            apply_spectral_norm(self)

    @staticmethod
    def output_size(height: int, width: int) -> tuple[int, int]:
        """Size of the patch map for an input of ``height`` x ``width``."""
        return height // SRGAN_DOWNSAMPLING, width // SRGAN_DOWNSAMPLING

    @staticmethod
    def receptive_field() -> int:
        """Side of the input square one output logit sees: 93.

        Each 3x3 conv adds ``2 * jump`` pixels (``jump`` = product of the earlier strides): the
        two convs of block i add ``4 * 2**i`` (60 over the four blocks), the final conv
        ``2 * 16``; 1 + 60 + 32 = 93.
        """
        return 1 + sum(4 * 2**block for block in range(4)) + 2 * SRGAN_DOWNSAMPLING

    def forward(self, image: Tensor) -> Tensor | list[Tensor]:
        name = type(self).__name__
        _check_image(image, self.in_channels, name)
        height, width = image.shape[-2:]
        if height % SRGAN_DOWNSAMPLING or width % SRGAN_DOWNSAMPLING:
            raise ValueError(
                f"{name} input {height}x{width}: height and width must be divisible by "
                f"{SRGAN_DOWNSAMPLING} (four stride-2 convolutions)"
            )
        if not self.return_features:
            return self.model(image)
        features: list[Tensor] = []
        x = image
        for index, layer in enumerate(self.model):
            x = layer(x)
            if index in self._block_ends:
                features.append(x)
        features.append(x)
        return features


# ---------------------------------------------------------------------------------------------
# pix2pix PatchGAN
# ---------------------------------------------------------------------------------------------


class NLayerPatchDiscriminator(nn.Module):
    """pix2pix PatchGAN discriminator (Isola et al., 2017), as the junyanz reference
    ``NLayerDiscriminator``.

    Layers (all 4x4 convs, padding 1, LeakyReLU(0.2)), with ``ndf`` = 64 in the reference:

    - ``conv s2 (in -> ndf)`` - LeakyReLU (no norm);
    - for i = 1 .. n_layers-1: ``conv s2 (ndf*min(2**(i-1), 8) -> ndf*min(2**i, 8))`` - norm - LeakyReLU;
    - ``conv s1 (-> ndf*min(2**n_layers, 8))`` - norm - LeakyReLU;
    - ``conv s1 (-> 1)``: the logits.

    A conv followed by BatchNorm has no bias (BN's shift replaces it); the others have one, as
    the reference (``use_bias = norm is instance``). ``n_layers=3`` gives the 70x70 PatchGAN
    (2,765,633 parameters with ``in_channels=3``, ``ndf=64``, batch norm); ``n_layers=1`` the
    16x16 one. pix2pixHD and SPADE use padding 2 instead of 1 (same receptive field, patch map
    larger by a few pixels); this class follows pix2pix.

    Input: (N, in_channels, H, W), H and W at least :meth:`min_input_size`. Output: logits
    (N, 1, h, w) with ``(h, w) =`` :meth:`output_size` (30x30 for 256x256 at ``n_layers=3``);
    with ``return_features=True`` the list of the ``n_layers + 2`` block outputs, the last one
    being the logits (pix2pixHD's ``getIntermFeat``).

    ``init_gain``: weights drawn as pix2pix (:func:`init_weights`); None keeps PyTorch's default
    initialisation. Raises ValueError for bad arguments (constructor) and for a wrong input
    rank / channel count or an input smaller than :meth:`min_input_size` (forward).
    """

    def __init__(
        self,
        in_channels: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "batch",
        spectral_norm: bool = False,
        return_features: bool = False,
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        _check_positive_int(in_channels, "in_channels")
        _check_positive_int(ndf, "ndf")
        _check_positive_int(n_layers, "n_layers")
        if norm not in NORM_TYPES:
            raise ValueError(f"norm must be one of {list(NORM_TYPES)}, got {norm!r}")
        _check_init_gain(init_gain)
        self.in_channels = in_channels
        self.n_layers = n_layers
        self.return_features = bool(return_features)
        bias = norm != "batch"

        blocks: list[nn.Sequential] = [
            nn.Sequential(
                nn.Conv2d(in_channels, ndf, kernel_size=4, stride=2, padding=1),
                nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            )
        ]
        width = ndf
        for index in range(1, n_layers + 1):
            width_out = ndf * min(2**index, 8)
            stride = 2 if index < n_layers else 1
            layers: list[nn.Module] = [
                nn.Conv2d(width, width_out, kernel_size=4, stride=stride, padding=1, bias=bias)
            ]
            _append_norm(layers, norm, width_out)
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            blocks.append(nn.Sequential(*layers))
            width = width_out
        blocks.append(nn.Sequential(nn.Conv2d(width, 1, kernel_size=4, stride=1, padding=1)))
        self.blocks = nn.ModuleList(blocks)
        if init_gain is not None:
            init_weights(self, init_gain)
        if spectral_norm:
            apply_spectral_norm(self)

    @staticmethod
    def receptive_field(n_layers: int = 3) -> int:
        """Side of the input square that one output logit sees: ``9 * 2**n_layers - 2``.

        Going back from one output pixel, each 4x4 conv adds ``3 * jump`` pixels, ``jump`` being
        the product of the strides before it: the ``n_layers`` stride-2 convs add
        ``3 * (2**n_layers - 1)``, the two stride-1 convs ``2 * 3 * 2**n_layers``. 70 for
        ``n_layers=3``, 34 for 2, 16 for 1.
        """
        _check_positive_int(n_layers, "n_layers")
        return 9 * 2**n_layers - 2

    @staticmethod
    def min_input_size(n_layers: int = 3) -> int:
        """Smallest height/width that leaves a 1x1 patch map: ``3 * 2**n_layers``."""
        _check_positive_int(n_layers, "n_layers")
        return 3 * 2**n_layers

    @staticmethod
    def output_size(height: int, width: int, n_layers: int = 3) -> tuple[int, int]:
        """Size of the patch map for a ``height`` x ``width`` input.

        A 4x4 stride-2 conv with padding 1 maps s to ``s // 2``, a 4x4 stride-1 conv to ``s - 1``:
        the output side is ``floor(s / 2**n_layers) - 2``. Raises ValueError when that is < 1.
        """
        _check_positive_int(n_layers, "n_layers")
        sizes = []
        for side in (height, width):
            out = side // 2**n_layers - 2
            if out < 1:
                raise ValueError(
                    f"NLayerPatchDiscriminator (n_layers={n_layers}) input {height}x{width}: height and "
                    f"width must be at least {3 * 2**n_layers}"
                )
            sizes.append(out)
        return sizes[0], sizes[1]

    def forward(self, image: Tensor) -> Tensor | list[Tensor]:
        _check_image(image, self.in_channels, type(self).__name__)
        self.output_size(image.shape[-2], image.shape[-1], self.n_layers)  # raises when too small
        features: list[Tensor] = []
        x = image
        for block in self.blocks:
            x = block(x)
            if self.return_features:
                features.append(x)
        return features if self.return_features else x


# ---------------------------------------------------------------------------------------------
# Multi-scale discriminator
# ---------------------------------------------------------------------------------------------


class MultiScaleDiscriminator(nn.Module):
    """``num_D`` discriminators, the i-th seeing the input downsampled i times (pix2pixHD).

    ``make_discriminator`` is called ``num_D`` times; each call must return a new module (the
    scales do not share weights). Downsampling is ``avg_pool2d(kernel 3, stride 2, padding 1,
    count_include_pad=False)`` as pix2pixHD, so an H x W input becomes ``ceil(H/2) x ceil(W/2)``
    and border averages ignore the padding. pix2pixHD's paper uses 3 scales (its code defaults
    to 2, as SPADE).

    Input: (N, C, H, W); each sub-discriminator checks its own size constraints (an
    :class:`SRGANPatchDiscriminator` at the third scale needs H, W divisible by 64). Output: a
    list with one entry per scale, full resolution first; each entry is that discriminator's
    feature list (``return_features=True``) or ``[logits]``, so its last element is always the
    scale's logits. This is the input format of
    :class:`~gan_pipelines.models.gan_losses.GANLoss` and
    :func:`~gan_pipelines.models.gan_losses.feature_matching_loss`.
    """

    def __init__(self, make_discriminator: Callable[[], nn.Module], num_D: int = 3) -> None:
        super().__init__()
        _check_positive_int(num_D, "num_D")
        if not callable(make_discriminator):
            raise ValueError(
                f"make_discriminator must be a callable returning an nn.Module, got {make_discriminator!r}"
            )
        discriminators = [make_discriminator() for _ in range(num_D)]
        for discriminator in discriminators:
            if not isinstance(discriminator, nn.Module):
                raise ValueError(f"make_discriminator returned {type(discriminator).__name__}, not an nn.Module")
        if len({id(d) for d in discriminators}) != num_D:
            raise ValueError("make_discriminator must build a new module at each call (scales share no weights)")
        self.num_D = num_D
        self.discriminators = nn.ModuleList(discriminators)

    @staticmethod
    def downsample(image: Tensor) -> Tensor:
        """One pyramid step: 3x3 average pooling, stride 2, padding 1, padding not counted."""
        return F.avg_pool2d(image, kernel_size=3, stride=2, padding=1, count_include_pad=False)

    @staticmethod
    def scale_sizes(height: int, width: int, num_D: int = 3) -> list[tuple[int, int]]:
        """Input size seen by each scale: H, ceil(H/2), ceil(ceil(H/2)/2), ..."""
        sizes = [(height, width)]
        for _ in range(num_D - 1):
            height, width = (height + 1) // 2, (width + 1) // 2
            sizes.append((height, width))
        return sizes

    def forward(self, image: Tensor) -> list[list[Tensor]]:
        if image.ndim != 4:
            raise ValueError(f"MultiScaleDiscriminator expects (N, C, H, W), got {tuple(image.shape)}")
        results: list[list[Tensor]] = []
        x = image
        for index, discriminator in enumerate(self.discriminators):
            if index:
                x = self.downsample(x)
            out = discriminator(x)
            results.append(list(out) if isinstance(out, (list, tuple)) else [out])
        return results


# ---------------------------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------------------------


def discriminator_defaults(kind: str) -> dict[str, Any]:
    """A fresh dict of the config keys and defaults of discriminator ``type`` ``kind``."""
    if kind == "srgan":
        return {
            "type": "srgan",
            "in_channels": 3,
            "base_channels": 64,
            "norm": "batch",
            "spectral_norm": False,
            "return_features": False,
        }
    if kind == "patchgan":
        return {
            "type": "patchgan",
            "in_channels": 3,
            "ndf": 64,
            "n_layers": 3,
            "norm": "batch",
            "spectral_norm": False,
            "return_features": False,
            "init_gain": 0.02,
        }
    if kind == "multiscale":
        return {"type": "multiscale", "num_D": 3, "discriminator": {"type": "patchgan"}}
    raise ValueError(f"discriminator type must be one of {list(DISCRIMINATOR_TYPES)}, got {kind!r}")


def _config_settings(config: Any, section: str, allowed_types: tuple[str, ...], default_type: str) -> dict[str, Any]:
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ValueError(f"{section} config must be a mapping, got {type(config).__name__}")
    kind = config.get("type", default_type)
    if kind not in allowed_types:
        raise ValueError(f"{section}.type must be one of {list(allowed_types)}, got {kind!r}")
    defaults = discriminator_defaults(kind)
    check_known_keys(config, defaults, section)
    return {**defaults, **config}


def _require_positive_int(settings: Mapping[str, Any], key: str, section: str) -> int:
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{section}.{key} must be a positive integer, got {value!r}")
    return value


def _require_choice(settings: Mapping[str, Any], key: str, section: str, allowed: tuple[str, ...]) -> str:
    value = settings[key]
    if value not in allowed:
        raise ValueError(f"{section}.{key} must be one of {list(allowed)}, got {value!r}")
    return value


def _require_bool(settings: Mapping[str, Any], key: str, section: str) -> bool:
    value = settings[key]
    if not isinstance(value, bool):
        raise ValueError(f"{section}.{key} must be true or false, got {value!r}")
    return value


def _require_init_gain(settings: Mapping[str, Any], key: str, section: str) -> float | None:
    value = settings[key]
    if value is not None and (isinstance(value, bool) or not isinstance(value, Real) or value <= 0):
        raise ValueError(f"{section}.{key} must be a positive number or null, got {value!r}")
    return None if value is None else float(value)


def _single_discriminator_builder(
    config: Any, section: str, allowed_types: tuple[str, ...], default_type: str
) -> Callable[[], nn.Module]:
    """Validate a non-multiscale config completely, then return a builder (called per scale)."""
    settings = _config_settings(config, section, allowed_types, default_type)
    in_channels = _require_positive_int(settings, "in_channels", section)
    norm = _require_choice(settings, "norm", section, NORM_TYPES)
    spectral = _require_bool(settings, "spectral_norm", section)
    features = _require_bool(settings, "return_features", section)
    if settings["type"] == "srgan":
        base_channels = _require_positive_int(settings, "base_channels", section)
        return lambda: SRGANPatchDiscriminator(in_channels, base_channels, norm, spectral, features)
    ndf = _require_positive_int(settings, "ndf", section)
    n_layers = _require_positive_int(settings, "n_layers", section)
    init_gain = _require_init_gain(settings, "init_gain", section)
    return lambda: NLayerPatchDiscriminator(in_channels, ndf, n_layers, norm, spectral, features, init_gain)


def build_discriminator(config: Mapping[str, Any] | None = None, section: str = "discriminator") -> nn.Module:
    """Build a discriminator from a plain config dict (e.g. a Kedro parameters entry).

    ``type`` picks the network (default ``"srgan"``, the shadow family's discriminator, so that
    configs written before ``type`` existed keep their meaning); the other keys and their
    defaults are :func:`discriminator_defaults` of that type:

    - ``srgan``: ``in_channels`` (3), ``base_channels`` (64), ``norm`` (batch),
      ``spectral_norm`` (false), ``return_features`` (false) -> :class:`SRGANPatchDiscriminator`;
    - ``patchgan``: ``in_channels`` (3), ``ndf`` (64), ``n_layers`` (3), ``norm`` (batch),
      ``spectral_norm`` (false), ``return_features`` (false), ``init_gain`` (0.02, null for
      PyTorch's default init) -> :class:`NLayerPatchDiscriminator`;
    - ``multiscale``: ``num_D`` (3), ``discriminator`` (a nested srgan / patchgan config,
      default ``{type: patchgan}``) -> :class:`MultiScaleDiscriminator`. Set
      ``return_features: true`` in the nested config for feature matching.

    The whole config is validated before anything is built: a non-mapping config, an unknown
    type, an unknown key or a bad value raises ValueError naming ``section.key`` (nested keys as
    ``discriminator.discriminator.key``) and the allowed keys or values. The module gets a
    ``weights_status`` attribute (``"random init"``) that a run can log.
    """
    settings = _config_settings(config, section, DISCRIMINATOR_TYPES, "srgan")
    if settings["type"] == "multiscale":
        num_D = _require_positive_int(settings, "num_D", section)
        builder = _single_discriminator_builder(
            settings["discriminator"], f"{section}.discriminator", ("srgan", "patchgan"), "patchgan"
        )
        model: nn.Module = MultiScaleDiscriminator(builder, num_D)
    else:
        model = _single_discriminator_builder(settings, section, DISCRIMINATOR_TYPES, "srgan")()
    model.weights_status = "random init"
    return model
