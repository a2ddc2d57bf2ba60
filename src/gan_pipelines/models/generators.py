"""Image-to-image generators shared by the GAN families, and :func:`build_generator`.

- :class:`UNetGenerator`: the pix2pix U-Net (Isola et al., CVPR 2017; reference ``UnetGenerator``
  in junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``).
- :class:`ResnetGenerator`: the CycleGAN ResNet generator (Zhu et al., ICCV 2017, appendix 7.2,
  after Johnson et al., ECCV 2016; reference ``ResnetGenerator`` in the same file).

Both map (N, in_channels, H, W) to (N, out_channels, H, W) images in [-1, 1] (tanh output), so
targets must be scaled to [-1, 1] too. ``norm`` is ``"batch"``, ``"instance"`` or ``"none"``
(see :func:`gan_pipelines.models.discriminators.make_norm_layer`). A conv followed by BatchNorm
has no bias; the others have one. Weights are initialised as pix2pix (N(0, 0.02)) unless
``init_gain`` is None.

``upsample`` chooses the decoder's 2x upsampling: ``"transpose"`` (transposed convolutions, as
the references) or ``"upsample_conv"`` (``upsample_mode`` nearest/bilinear resize, then a 3x3
convolution), which avoids the checkerboard artefacts of transposed convolutions (Odena et al.,
"Deconvolution and Checkerboard Artifacts", Distill 2016).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from gan_pipelines.models.discriminators import (
    NORM_TYPES,
    _append_norm,
    _check_init_gain,
    _check_positive_int,
    _require_bool,
    _require_choice,
    _require_init_gain,
    _require_positive_int,
    init_weights,
)
from gan_pipelines.params import check_known_keys

__all__ = [
    "GENERATOR_TYPES",
    "UPSAMPLE_MODES",
    "UPSAMPLE_TYPES",
    "ResnetBlock",
    "ResnetGenerator",
    "UNetGenerator",
    "build_generator",
    "generator_defaults",
]

GENERATOR_TYPES = ("unet", "resnet")
UPSAMPLE_TYPES = ("transpose", "upsample_conv")
UPSAMPLE_MODES = ("nearest", "bilinear")
LEAKY_SLOPE = 0.2
DROPOUT = 0.5


def _check_common(
    in_channels: int, out_channels: int, ngf: int, norm: str, upsample: str, upsample_mode: str, init_gain: float | None
) -> None:
    _check_positive_int(in_channels, "in_channels")
    _check_positive_int(out_channels, "out_channels")
    _check_positive_int(ngf, "ngf")
    if norm not in NORM_TYPES:
        raise ValueError(f"norm must be one of {list(NORM_TYPES)}, got {norm!r}")
    if upsample not in UPSAMPLE_TYPES:
        raise ValueError(f"upsample must be one of {list(UPSAMPLE_TYPES)}, got {upsample!r}")
    if upsample_mode not in UPSAMPLE_MODES:
        raise ValueError(f"upsample_mode must be one of {list(UPSAMPLE_MODES)}, got {upsample_mode!r}")
    _check_init_gain(init_gain)


def _resize_then_conv(in_channels: int, out_channels: int, mode: str, bias: bool, reflect: bool) -> list[nn.Module]:
    upsample = nn.Upsample(scale_factor=2, mode=mode) if mode == "nearest" else nn.Upsample(
        scale_factor=2, mode=mode, align_corners=False
    )
    if reflect:
        return [upsample, nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, kernel_size=3, bias=bias)]
    return [upsample, nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias)]


# ---------------------------------------------------------------------------------------------
# U-Net
# ---------------------------------------------------------------------------------------------


class UNetGenerator(nn.Module):
    """pix2pix U-Net generator (Isola et al., 2017), ``num_downs`` levels with skip connections.

    Level ``l`` (0 = outermost) has width ``w_l = ngf * min(2**l, 8)`` (64, 128, 256, 512, 512,
    ... for ngf=64). Encoder level ``l``: ``[LeakyReLU(0.2)] - conv4x4 s2 -> w_l - [norm]``
    (no LeakyReLU at level 0, no norm at levels 0 and ``num_downs - 1``, the 1/2**num_downs
    bottleneck). Decoder level ``l``: ``ReLU - up(2x) -> w_{l-1} - norm [- Dropout(0.5)]``, its
    input being the concatenation ``[encoder output of level l, decoder output of level l+1]``
    (only the encoder output at the innermost level); at level 0 the up layer maps to
    ``out_channels`` and is followed by tanh instead of a norm. With ``use_dropout`` the decoder
    levels ``4 .. num_downs-2`` (the first three decoder layers of ``unet_256``) drop out, as the
    reference; dropout follows ``train()`` / ``eval()``.

    ``num_downs=8`` is pix2pix's ``unet_256`` (a 256x256 input reaches 1x1), 7 its ``unet_128``.
    Widths, kernels and dropout placement follow the reference; the two encoder convs not
    followed by a norm (levels 0 and ``num_downs - 1``) keep their bias, which the reference
    drops with batch norm (576 parameters more at ngf=64).

    Input: (N, in_channels, H, W) with H and W divisible by ``2**num_downs``; output
    (N, out_channels, H, W) in [-1, 1]. Raises ValueError for bad arguments (constructor) and
    for a wrong input rank / channel count or indivisible H, W (forward).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = True,
        upsample: str = "transpose",
        upsample_mode: str = "nearest",
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        _check_common(in_channels, out_channels, ngf, norm, upsample, upsample_mode, init_gain)
        _check_positive_int(num_downs, "num_downs")
        self.in_channels = in_channels
        self.num_downs = num_downs
        norm_bias = norm != "batch"
        widths = [ngf * min(2**level, 8) for level in range(num_downs)]
        innermost = num_downs - 1

        encoder: list[nn.Sequential] = []
        for level in range(num_downs):
            layers: list[nn.Module] = [] if level == 0 else [nn.LeakyReLU(LEAKY_SLOPE)]
            has_norm = 0 < level < innermost
            width_in = in_channels if level == 0 else widths[level - 1]
            layers.append(
                nn.Conv2d(width_in, widths[level], kernel_size=4, stride=2, padding=1, bias=norm_bias or not has_norm)
            )
            if has_norm:
                _append_norm(layers, norm, widths[level])
            encoder.append(nn.Sequential(*layers))

        decoder: list[nn.Sequential] = []
        for level in range(num_downs):
            width_in = widths[level] if level == innermost else 2 * widths[level]
            outermost = level == 0
            width_out = out_channels if outermost else widths[level - 1]
            bias = outermost or norm_bias
            layers = [nn.ReLU()]
            if upsample == "transpose":
                layers.append(nn.ConvTranspose2d(width_in, width_out, kernel_size=4, stride=2, padding=1, bias=bias))
            else:
                layers += _resize_then_conv(width_in, width_out, upsample_mode, bias, reflect=False)
            if outermost:
                layers.append(nn.Tanh())
            else:
                _append_norm(layers, norm, width_out)
                if use_dropout and 4 <= level < innermost:
                    layers.append(nn.Dropout(DROPOUT))
            decoder.append(nn.Sequential(*layers))

        self.encoder = nn.ModuleList(encoder)
        self.decoder = nn.ModuleList(decoder)  # decoder[l] undoes encoder[l]
        if init_gain is not None:
            init_weights(self, init_gain)

    def forward(self, image: Tensor) -> Tensor:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"UNetGenerator expects (N, {self.in_channels}, H, W), got {tuple(image.shape)}")
        height, width = image.shape[-2:]
        factor = 2**self.num_downs
        if height % factor or width % factor:
            raise ValueError(
                f"UNetGenerator input {height}x{width}: height and width must be divisible by "
                f"2**num_downs = {factor} (num_downs={self.num_downs} stride-2 convolutions)"
            )
        skips: list[Tensor] = []
        x = image
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        for level in reversed(range(self.num_downs)):
            if level < self.num_downs - 1:
                x = torch.cat([skips[level], x], dim=1)
            x = self.decoder[level](x)
        return x


# ---------------------------------------------------------------------------------------------
# ResNet generator
# ---------------------------------------------------------------------------------------------


class ResnetBlock(nn.Module):
    """Residual block ``x + [pad - conv3x3 - norm - ReLU - (Dropout 0.5) - pad - conv3x3 - norm](x)``
    with reflection padding (Johnson et al., 2016; CycleGAN ``R256``). Shape-preserving."""

    def __init__(self, channels: int, norm: str = "instance", use_dropout: bool = False) -> None:
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, kernel_size=3, bias=bias)]
        _append_norm(layers, norm, channels)
        layers.append(nn.ReLU(inplace=True))
        if use_dropout:
            layers.append(nn.Dropout(DROPOUT))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, kernel_size=3, bias=bias)]
        _append_norm(layers, norm, channels)
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN ResNet generator (Zhu et al., 2017, after Johnson et al., 2016).

    ``c7s1-ngf, d(2 ngf), d(4 ngf), n_blocks x R(4 ngf), u(2 ngf), u(ngf), c7s1-out_channels``:
    reflection pad 3 + conv7x7 - norm - ReLU; two conv3x3 stride 2 - norm - ReLU; ``n_blocks``
    :class:`ResnetBlock`; two 2x upsamplings (transposed conv3x3 stride 2, padding 1, output
    padding 1, or resize + reflection pad + conv3x3) - norm - ReLU; reflection pad 3 + conv7x7
    - tanh. ``n_blocks=9`` is ``resnet_9blocks`` (CycleGAN at 256x256, 11,378,179 parameters
    with instance norm, ngf=64, RGB in and out), 6 is ``resnet_6blocks``. ``use_dropout`` adds
    Dropout(0.5) inside each residual block. The defaults follow CycleGAN (instance norm, no
    dropout).

    Input: (N, in_channels, H, W) with H and W divisible by 4 and at least 8; output
    (N, out_channels, H, W) in [-1, 1]. Raises ValueError for bad arguments (constructor) and
    for a wrong input rank / channel count or size (forward).
    """

    n_downsampling = 2

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        use_dropout: bool = False,
        upsample: str = "transpose",
        upsample_mode: str = "nearest",
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        _check_common(in_channels, out_channels, ngf, norm, upsample, upsample_mode, init_gain)
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"n_blocks must be a non-negative integer, got {n_blocks!r}")
        self.in_channels = in_channels
        bias = norm != "batch"

        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, kernel_size=7, bias=bias)]
        _append_norm(layers, norm, ngf)
        layers.append(nn.ReLU(inplace=True))
        width = ngf
        for _ in range(self.n_downsampling):
            layers.append(nn.Conv2d(width, 2 * width, kernel_size=3, stride=2, padding=1, bias=bias))
            width *= 2
            _append_norm(layers, norm, width)
            layers.append(nn.ReLU(inplace=True))
        layers += [ResnetBlock(width, norm, use_dropout) for _ in range(n_blocks)]
        for _ in range(self.n_downsampling):
            if upsample == "transpose":
                layers.append(
                    nn.ConvTranspose2d(
                        width, width // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias
                    )
                )
            else:
                layers += _resize_then_conv(width, width // 2, upsample_mode, bias, reflect=True)
            width //= 2
            _append_norm(layers, norm, width)
            layers.append(nn.ReLU(inplace=True))
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        if init_gain is not None:
            init_weights(self, init_gain)

    def forward(self, image: Tensor) -> Tensor:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"ResnetGenerator expects (N, {self.in_channels}, H, W), got {tuple(image.shape)}")
        height, width = image.shape[-2:]
        factor = 2**self.n_downsampling
        if height % factor or width % factor or min(height, width) < 2 * factor:
            raise ValueError(
                f"ResnetGenerator input {height}x{width}: height and width must be divisible by {factor} "
                f"(two stride-2 convolutions) and at least {2 * factor} (reflection padding)"
            )
        return self.model(image)


# ---------------------------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------------------------


def generator_defaults(kind: str) -> dict[str, Any]:
    """A fresh dict of the config keys and defaults of generator ``type`` ``kind``."""
    common = {
        "in_channels": 3,
        "out_channels": 3,
        "ngf": 64,
        "upsample": "transpose",
        "upsample_mode": "nearest",
        "init_gain": 0.02,
    }
    if kind == "unet":
        return {"type": "unet", **common, "num_downs": 8, "norm": "batch", "use_dropout": True}
    if kind == "resnet":
        return {"type": "resnet", **common, "n_blocks": 9, "norm": "instance", "use_dropout": False}
    raise ValueError(f"generator type must be one of {list(GENERATOR_TYPES)}, got {kind!r}")


def build_generator(config: Mapping[str, Any], section: str = "generator") -> nn.Module:
    """Build a generator from a plain config dict (e.g. a Kedro parameters entry).

    ``type`` is required: ``"unet"`` (:class:`UNetGenerator`) or ``"resnet"``
    (:class:`ResnetGenerator`). The other keys and their defaults are
    :func:`generator_defaults` of that type: ``in_channels`` (3), ``out_channels`` (3), ``ngf``
    (64), ``norm`` (unet: batch, resnet: instance, as pix2pix and CycleGAN), ``use_dropout``
    (unet: true, resnet: false, the references' defaults), ``upsample`` (transpose),
    ``upsample_mode`` (nearest; used by ``upsample_conv`` only), ``init_gain`` (0.02, null for
    PyTorch's default init), and ``num_downs`` (8) for unet or ``n_blocks`` (9) for resnet.

    The whole config is validated before anything is built: a non-mapping config, a missing or
    unknown type, an unknown key (e.g. ``n_blocks`` for a unet) or a bad value raises ValueError
    naming ``section.key`` and the allowed keys or values. The module gets a ``weights_status``
    attribute (``"random init"``) that a run can log.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"{section} config must be a mapping with a 'type' key, got {type(config).__name__}")
    if "type" not in config:
        raise ValueError(f"Missing parameter {section}.type: one of {list(GENERATOR_TYPES)}")
    kind = config["type"]
    if kind not in GENERATOR_TYPES:
        raise ValueError(f"{section}.type must be one of {list(GENERATOR_TYPES)}, got {kind!r}")
    defaults = generator_defaults(kind)
    check_known_keys(config, defaults, section)
    settings = {**defaults, **config}
    common = {
        "in_channels": _require_positive_int(settings, "in_channels", section),
        "out_channels": _require_positive_int(settings, "out_channels", section),
        "ngf": _require_positive_int(settings, "ngf", section),
        "norm": _require_choice(settings, "norm", section, NORM_TYPES),
        "use_dropout": _require_bool(settings, "use_dropout", section),
        "upsample": _require_choice(settings, "upsample", section, UPSAMPLE_TYPES),
        "upsample_mode": _require_choice(settings, "upsample_mode", section, UPSAMPLE_MODES),
        "init_gain": _require_init_gain(settings, "init_gain", section),
    }
    if kind == "unet":
        model: nn.Module = UNetGenerator(num_downs=_require_positive_int(settings, "num_downs", section), **common)
    else:
        n_blocks = settings["n_blocks"]
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"{section}.n_blocks must be a non-negative integer, got {n_blocks!r}")
        model = ResnetGenerator(n_blocks=n_blocks, **common)
    model.weights_status = "random init"
    return model
