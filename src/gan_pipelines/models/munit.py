"""MUNIT's networks: per domain an auto-encoder (content encoder, style encoder, AdaIN decoder fed
by an MLP) and a multi-scale discriminator.

Huang, Liu, Belongie and Kautz, "Multimodal Unsupervised Image-to-Image Translation", ECCV 2018;
reference NVlabs/MUNIT ``networks.py`` (``AdaINGen``, ``MsImageDis``) with the settings of
``configs/edges2shoes_folder.yaml`` as defaults (``dim`` 64, ``style_dim`` 8, ``n_downsample`` 2,
``n_res`` 4, ``mlp_dim`` 256, ReLU, reflection padding; D: ``dim`` 64, ``n_layer`` 4,
``num_scales`` 3, no norm, LeakyReLU 0.2, LSGAN).

An image is split into a *content code* (a spatial feature map shared by the two domains) and a
*style code* (an 8-d vector per domain, prior N(0, I)). Translation A -> B decodes A's content
code with a style code of B: random codes give several outputs per input, the code of a given B
image gives example-guided output (:class:`MUNITTranslation`).

Layers (``Conv`` = padding, convolution with bias, optional norm, optional activation):

- :class:`ContentEncoder`: 7x7 conv ``dim`` + IN + ReLU; ``n_downsample`` stride-2 4x4 convs
  doubling the width (IN + ReLU); ``n_res`` residual blocks (two 3x3 convs with IN, ReLU between).
  ``(N, 3, H, W)`` -> ``(N, dim * 2**n_downsample, H / 2**n_downsample, W / 2**n_downsample)``.
- :class:`StyleEncoder`: 7x7 conv ``dim`` + ReLU (no norm anywhere: IN would remove the style);
  two stride-2 4x4 convs doubling; two more stride-2 at the same width (the reference's
  ``n_downsample`` 4 for style); global average pool; 1x1 conv to ``style_dim``.
  ``(N, 3, H, W)`` -> ``(N, style_dim, 1, 1)``.
- :class:`MLP`: ``style_dim`` -> ``mlp_dim`` -> ``mlp_dim`` -> the decoder's AdaIN parameter
  count (ReLU between, none at the end).
- :class:`Decoder`: ``n_res`` residual blocks with :class:`AdaptiveInstanceNorm2d`; per
  ``n_downsample``: nearest x2 upsampling, 5x5 conv halving the width, :class:`LayerNorm`, ReLU;
  7x7 conv to RGB, tanh.
- :class:`MUNITDiscriminator`: per scale ``n_layers`` stride-2 4x4 convs (``dim``, doubling; no
  norm; LeakyReLU 0.2; reflection padding 1) and a 1x1 conv to one logit map; the scales see the
  image, then 3x3 average pooled (stride 2, padding 1, padding not counted) once per scale.

Sizes at the defaults: 15,026,187 parameters per auto-encoder (content encoder 5,385,856, style
encoder 2,764,936, MLP 1,120,768, decoder 5,754,627), 8,271,171 per discriminator (3 x 2,757,057),
the counts of the reference's ``AdaINGen`` / ``MsImageDis``. With the reference's weights copied in,
the encoders, the decoder and the discriminator give the reference's outputs (checked to 1e-6
while writing this module).

Differences from the reference, none of which changes a number:

- The reference assigns the MLP's output to its AdaIN layers as module attributes before each
  decode (``assign_adain_params``); here :meth:`Decoder.forward` takes the parameters as an
  argument (no hidden state between calls, safe for DDP and ONNX tracing). The layout of the
  MLP's output is the reference's: per AdaIN layer, in order, ``C`` biases then ``C`` weights.
- The reference's AdaIN runs ``F.batch_norm`` on a ``(1, N*C, H, W)`` view with dummy running
  buffers; here it is ``F.instance_norm`` (the same biased per-sample, per-channel statistics,
  eps 1e-5) and no buffers.
- :class:`MUNITAutoencoder.forward` takes a ``mode`` so the training step can run the encoder
  and the decoder through the module's own ``forward`` (the only entry a DDP wrapper averages
  gradients for).

Initialisation, as the reference's ``MUNIT_Trainer``: ``init: kaiming`` in its config, i.e.
every Conv2d and Linear weight of the auto-encoders from ``kaiming_normal_(a=0, mode="fan_in")``
(std ``sqrt(2 / fan_in)``), biases 0, the LayerNorm's gamma from U(0, 1) and beta 0 (the
reference's own ``LayerNorm`` init, untouched by its ``weights_init``); the discriminators are
re-initialised ``gaussian``: N(0, 0.02) weights, biases 0.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_pipelines.models.discriminators import MultiScaleDiscriminator, init_weights

__all__ = [
    "ACTIVATIONS",
    "GENERATOR_INITS",
    "PAD_TYPES",
    "STYLE_DOWNSAMPLING",
    "AdaINResBlock",
    "AdaptiveInstanceNorm2d",
    "ContentEncoder",
    "Decoder",
    "LayerNorm",
    "MLP",
    "MUNITAutoencoder",
    "MUNITDiscriminator",
    "MUNITScaleDiscriminator",
    "MUNITTranslation",
    "StyleEncoder",
    "count_breakdown",
    "init_munit_generator",
]

ACTIVATIONS = ("relu", "lrelu")
PAD_TYPES = ("reflect", "zero", "replicate")
GENERATOR_INITS = ("kaiming", "gaussian")
STYLE_DOWNSAMPLING = 4  # stride-2 convolutions of the style encoder (the reference's AdaINGen passes 4)
LEAKY_SLOPE = 0.2
EPS = 1e-5
AUTOENCODER_MODES = ("reconstruct", "encode", "content", "decode")


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def _activation(name: str) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.LeakyReLU(LEAKY_SLOPE)


def _padding(pad_type: str, amount: int) -> nn.Module:
    if pad_type == "reflect":
        return nn.ReflectionPad2d(amount)
    if pad_type == "replicate":
        return nn.ReplicationPad2d(amount)
    return nn.ZeroPad2d(amount)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int, pad_type: str,
          norm: nn.Module | None = None, activation: nn.Module | None = None) -> nn.Sequential:
    """The reference's ``Conv2dBlock``: explicit padding, conv (with bias), norm, activation."""
    layers = [_padding(pad_type, padding), nn.Conv2d(in_channels, out_channels, kernel, stride)]
    layers += [layer for layer in (norm, activation) if layer is not None]
    return nn.Sequential(*layers)


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    # per-image statistics in train and eval mode, no affine parameters (the reference's nn.InstanceNorm2d)
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


# ---------------------------------------------------------------------------------------------
# Normalisation layers
# ---------------------------------------------------------------------------------------------


class AdaptiveInstanceNorm2d(nn.Module):
    """AdaIN (Huang & Belongie, ICCV 2017): instance normalisation whose per-sample, per-channel
    scale and shift come from outside (MUNIT: from the MLP of the style code).

    ``forward(x, weight, bias)``: ``x`` ``(N, C, H, W)``; ``weight``, ``bias`` ``(N, C)``. Returns
    ``weight[n, c] * (x[n, c] - mean[n, c]) / sqrt(var[n, c] + eps) + bias[n, c]`` with the mean and
    the biased variance over ``H, W`` of each image and channel (the reference's ``F.batch_norm``
    on an ``(1, N*C, H, W)`` view computes the same). No parameters of its own. ValueError when the
    shapes do not match ``num_features``.
    """

    def __init__(self, num_features: int, eps: float = EPS) -> None:
        super().__init__()
        self.num_features = _check_positive_int(num_features, "num_features")
        self.eps = float(eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    def forward(self, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        expected = (x.shape[0], self.num_features)
        if x.ndim != 4 or x.shape[1] != self.num_features or tuple(weight.shape) != expected \
                or tuple(bias.shape) != expected:
            raise ValueError(
                f"AdaptiveInstanceNorm2d({self.num_features}) expects x (N, {self.num_features}, H, W) and weight, "
                f"bias (N, {self.num_features}); got {tuple(x.shape)}, {tuple(weight.shape)}, {tuple(bias.shape)}"
            )
        normalised = F.instance_norm(x, eps=self.eps)
        return normalised * weight[:, :, None, None] + bias[:, :, None, None]


class LayerNorm(nn.Module):
    """The reference's LayerNorm (NVlabs/MUNIT ``networks.LayerNorm``) of the decoder's
    up-sampling blocks: per sample, the mean and the UNBIASED standard deviation over all of
    ``C, H, W``; ``(x - mean) / (std + eps)`` (eps added to the std, not to the variance), then a
    per-channel affine ``gamma[c] * . + beta[c]``; gamma starts from U(0, 1), beta from 0, as the
    reference. Differs from ``nn.LayerNorm`` (biased variance inside the square root, affine per
    element). ``(N, C, H, W)`` -> same shape; needs ``C * H * W >= 2``."""

    def __init__(self, num_features: int, eps: float = EPS, affine: bool = True) -> None:
        super().__init__()
        self.num_features = _check_positive_int(num_features, "num_features")
        self.eps = float(eps)
        self.affine = bool(affine)
        if self.affine:
            self.gamma = nn.Parameter(torch.empty(num_features).uniform_())
            self.beta = nn.Parameter(torch.zeros(num_features))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        shape = (-1,) + (1,) * (x.ndim - 1)
        mean = flat.mean(dim=1).view(shape)
        std = flat.std(dim=1).view(shape)  # unbiased (N - 1), as the reference's Tensor.std
        x = (x - mean) / (std + self.eps)
        if self.affine:
            channel = (1, -1) + (1,) * (x.ndim - 2)
            x = x * self.gamma.view(channel) + self.beta.view(channel)
        return x


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------


class ResBlock(nn.Module):
    """Residual block with instance norm: ``x + IN(conv3(ReLU(IN(conv3(x)))))`` (the reference's
    ``ResBlock(norm='in')``), width kept."""

    def __init__(self, channels: int, activ: str = "relu", pad_type: str = "reflect") -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, 3, 1, 1, pad_type, _instance_norm(channels), _activation(activ)),
            _conv(channels, channels, 3, 1, 1, pad_type, _instance_norm(channels)),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class AdaINResBlock(nn.Module):
    """Residual block with AdaIN: ``x + AdaIN2(conv3(ReLU(AdaIN1(conv3(x)))))`` (the reference's
    ``ResBlock(norm='adain')``). ``forward(x, params)``: ``params`` ``(N, 4 C)`` laid out as the
    reference's MLP output: AdaIN1 bias, AdaIN1 weight, AdaIN2 bias, AdaIN2 weight."""

    def __init__(self, channels: int, activ: str = "relu", pad_type: str = "reflect") -> None:
        super().__init__()
        self.channels = channels
        self.pad1, self.conv1 = _padding(pad_type, 1), nn.Conv2d(channels, channels, 3)
        self.norm1, self.activation = AdaptiveInstanceNorm2d(channels), _activation(activ)
        self.pad2, self.conv2 = _padding(pad_type, 1), nn.Conv2d(channels, channels, 3)
        self.norm2 = AdaptiveInstanceNorm2d(channels)

    @property
    def num_adain_params(self) -> int:
        return 4 * self.channels

    def forward(self, x: Tensor, params: Tensor) -> Tensor:
        bias1, weight1, bias2, weight2 = params.split(self.channels, dim=1)
        out = self.activation(self.norm1(self.conv1(self.pad1(x)), weight1, bias1))
        out = self.norm2(self.conv2(self.pad2(out)), weight2, bias2)
        return x + out


# ---------------------------------------------------------------------------------------------
# Encoders, MLP, decoder
# ---------------------------------------------------------------------------------------------


class ContentEncoder(nn.Module):
    """MUNIT's content encoder (instance norm throughout, so the per-channel statistics that carry
    the style are removed). ``(N, in_channels, H, W)`` -> ``(N, dim * 2**n_downsample,
    H / 2**n_downsample, W / 2**n_downsample)`` (floors for sides that are not multiples)."""

    def __init__(self, in_channels: int = 3, dim: int = 64, n_downsample: int = 2, n_res: int = 4,
                 activ: str = "relu", pad_type: str = "reflect") -> None:
        super().__init__()
        layers = [_conv(in_channels, dim, 7, 1, 3, pad_type, _instance_norm(dim), _activation(activ))]
        for _ in range(n_downsample):
            layers.append(_conv(dim, 2 * dim, 4, 2, 1, pad_type, _instance_norm(2 * dim), _activation(activ)))
            dim *= 2
        layers += [ResBlock(dim, activ, pad_type) for _ in range(n_res)]
        self.model = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)


class StyleEncoder(nn.Module):
    """MUNIT's style encoder: no normalisation; two stride-2 convs doubling the width, then
    ``n_downsample - 2`` at the same width, global average pooling, 1x1 conv to ``style_dim``.
    ``(N, in_channels, H, W)`` (H, W >= ``2**n_downsample``) -> ``(N, style_dim, 1, 1)``."""

    def __init__(self, in_channels: int = 3, dim: int = 64, style_dim: int = 8,
                 n_downsample: int = STYLE_DOWNSAMPLING, activ: str = "relu", pad_type: str = "reflect") -> None:
        super().__init__()
        if n_downsample < 2:
            raise ValueError(f"the style encoder needs n_downsample >= 2 (two doubling convs), got {n_downsample}")
        layers = [_conv(in_channels, dim, 7, 1, 3, pad_type, activation=_activation(activ))]
        for _ in range(2):
            layers.append(_conv(dim, 2 * dim, 4, 2, 1, pad_type, activation=_activation(activ)))
            dim *= 2
        for _ in range(n_downsample - 2):
            layers.append(_conv(dim, dim, 4, 2, 1, pad_type, activation=_activation(activ)))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, style_dim, 1)]
        self.model = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)


class MLP(nn.Module):
    """The style code's MLP: ``n_blk`` linear layers, ``in_features`` -> ``dim`` -> ... -> ``out_features``,
    ReLU after each but the last. ``(N, in_features)`` or ``(N, in_features, 1, 1)`` ->
    ``(N, out_features)``."""

    def __init__(self, in_features: int, out_features: int, dim: int = 256, n_blk: int = 3,
                 activ: str = "relu") -> None:
        super().__init__()
        if n_blk < 2:
            raise ValueError(f"n_blk must be at least 2, got {n_blk}")
        layers: list[nn.Module] = [nn.Linear(in_features, dim), _activation(activ)]
        for _ in range(n_blk - 2):
            layers += [nn.Linear(dim, dim), _activation(activ)]
        layers.append(nn.Linear(dim, out_features))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.flatten(1))


class Decoder(nn.Module):
    """MUNIT's decoder. ``forward(content, adain_params)``: ``content`` ``(N, dim, h, w)``,
    ``adain_params`` ``(N, num_adain_params)`` (the MLP's output; per residual block
    ``4 * dim`` values, see :class:`AdaINResBlock`) -> ``(N, out_channels, h * 2**n_upsample,
    w * 2**n_upsample)`` in [-1, 1]."""

    def __init__(self, dim: int = 256, out_channels: int = 3, n_upsample: int = 2, n_res: int = 4,
                 activ: str = "relu", pad_type: str = "reflect") -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList(AdaINResBlock(dim, activ, pad_type) for _ in range(n_res))
        layers: list[nn.Module] = []
        for _ in range(n_upsample):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       _conv(dim, dim // 2, 5, 1, 2, pad_type, LayerNorm(dim // 2), _activation(activ))]
            dim //= 2
        layers.append(_conv(dim, out_channels, 7, 1, 3, pad_type, activation=nn.Tanh()))
        self.upsample = nn.Sequential(*layers)
        self.num_adain_params = sum(block.num_adain_params for block in self.res_blocks)

    def forward(self, content: Tensor, adain_params: Tensor) -> Tensor:
        if adain_params.ndim != 2 or adain_params.shape[1] != self.num_adain_params:
            raise ValueError(f"Decoder expects adain_params (N, {self.num_adain_params}), "
                             f"got {tuple(adain_params.shape)}")
        x, offset = content, 0
        for block in self.res_blocks:
            x = block(x, adain_params[:, offset:offset + block.num_adain_params])
            offset += block.num_adain_params
        return self.upsample(x)


def init_munit_generator(module: nn.Module, init: str = "kaiming") -> nn.Module:
    """The reference's ``weights_init(init)`` on an auto-encoder, in place: every Conv2d and
    Linear weight from ``kaiming_normal_(a=0, mode="fan_in")`` (``"kaiming"``, the reference's
    config) or N(0, 0.02) (``"gaussian"``), biases 0. The LayerNorm's own init (gamma U(0, 1),
    beta 0) is left alone, as the reference. Returns ``module``; ValueError for another ``init``."""
    _check_choice(init, "init", GENERATOR_INITS)
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            if init == "kaiming":
                nn.init.kaiming_normal_(layer.weight, a=0, mode="fan_in")
            else:
                nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


class MUNITAutoencoder(nn.Module):
    """One domain's MUNIT auto-encoder (the reference's ``AdaINGen``).

    Submodules (state-dict prefixes): ``content_encoder``, ``style_encoder``, ``mlp``, ``decoder``.

    - :meth:`encode` ``(N, in_channels, H, W)`` in [-1, 1] -> ``(content, style)``: content code
      ``(N, 4 dim, H / 4, W / 4)`` (at ``n_downsample`` 2), style code ``(N, style_dim, 1, 1)``.
    - :meth:`decode` ``(content, style)`` -> ``(N, in_channels, H, W)`` in [-1, 1]; ``style``
      ``(N, style_dim, 1, 1)`` or ``(N, style_dim)``.
    - ``forward(x)``: ``decode(*encode(x))``, the within-domain reconstruction; ``forward(x,
      mode="encode")``, ``forward(x, mode="content")`` (:meth:`encode_content`) and
      ``forward(content, style, mode="decode")`` run one part (so a DDP wrapper, which only sees
      ``forward``, averages the gradients of every pass). ValueError for another ``mode``.

    The content encoder takes sides that are multiples of ``2**n_downsample`` of at least
    :attr:`min_content_size` (8 at the defaults), the style encoder sides of at least 16 px (its
    four stride-2 convs with reflection padding), so training needs :attr:`min_size` (16);
    :meth:`check_size` raises ValueError otherwise. The reference's edges2shoes settings
    are the defaults (parameters per part: :func:`count_breakdown`).

    Raises ValueError for non-positive widths or counts and unknown ``activ`` / ``pad_type`` /
    ``init``.
    """

    def __init__(self, in_channels: int = 3, dim: int = 64, style_dim: int = 8, n_downsample: int = 2,
                 n_res: int = 4, mlp_dim: int = 256, activ: str = "relu", pad_type: str = "reflect",
                 init: str = "kaiming") -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("dim", dim), ("style_dim", style_dim),
                            ("n_downsample", n_downsample), ("n_res", n_res), ("mlp_dim", mlp_dim)):
            _check_positive_int(value, name)
        _check_choice(activ, "activ", ACTIVATIONS)
        _check_choice(pad_type, "pad_type", PAD_TYPES)
        _check_choice(init, "init", GENERATOR_INITS)
        self.in_channels, self.style_dim, self.n_downsample = in_channels, style_dim, n_downsample
        self.style_encoder = StyleEncoder(in_channels, dim, style_dim, STYLE_DOWNSAMPLING, activ, pad_type)
        self.content_encoder = ContentEncoder(in_channels, dim, n_downsample, n_res, activ, pad_type)
        self.decoder = Decoder(self.content_encoder.output_dim, in_channels, n_downsample, n_res, activ, pad_type)
        self.mlp = MLP(style_dim, self.decoder.num_adain_params, mlp_dim, 3, activ)
        init_munit_generator(self, init)

    @property
    def size_multiple(self) -> int:
        """What heights and widths must be divisible by for the content code: ``2**n_downsample``."""
        return 2**self.n_downsample

    @property
    def n_downsampling(self) -> int:
        """``n_downsample`` under the name size rules read (inputs are taken in multiples of
        ``2**n_downsampling``), as on the other generators of the project."""
        return self.n_downsample

    @property
    def min_content_size(self) -> int:
        """The smallest side the content encoder takes: ``2 * 2**n_downsample`` (its residual
        blocks' reflection padding needs a 2 px bottleneck); 8 at the defaults."""
        return 2 * 2**self.n_downsample

    @property
    def min_size(self) -> int:
        """The smallest side the whole auto-encoder (both encoders) takes:
        ``max(2**4, 2 * 2**n_downsample)``: the style encoder's fourth stride-2 conv needs a
        2 px input for its reflection padding; 16 at the defaults."""
        return self.smallest_side(self.n_downsample)

    @staticmethod
    def smallest_side(n_downsample: int) -> int:
        """:attr:`min_size` for a given ``n_downsample``."""
        return max(2**STYLE_DOWNSAMPLING, 2 * 2**n_downsample)

    def check_size(self, images: Tensor, part: str = "both") -> None:
        """ValueError unless ``images`` is ``(N, in_channels, H, W)`` that ``part`` takes:
        ``"content"``: H, W multiples of :attr:`size_multiple` and at least
        :attr:`min_content_size`; ``"style"``: at least ``2**4`` = 16 px (any multiple);
        ``"both"``: both conditions."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"MUNITAutoencoder expects (N, {self.in_channels}, H, W), got {tuple(images.shape)}")
        height, width = int(images.shape[-2]), int(images.shape[-1])
        multiple = self.size_multiple
        if part in ("both", "content") and (height % multiple or width % multiple
                                            or min(height, width) < self.min_content_size):
            raise ValueError(
                f"MUNITAutoencoder input {height}x{width}: the content encoder needs heights and widths that are "
                f"multiples of {multiple} (n_downsample={self.n_downsample}) and at least {self.min_content_size} px")
        style_min = 2**STYLE_DOWNSAMPLING
        if part in ("both", "style") and min(height, width) < style_min:
            raise ValueError(f"MUNITAutoencoder input {height}x{width}: the style encoder needs at least {style_min} px "
                             f"({STYLE_DOWNSAMPLING} stride-2 convolutions)")

    def encode_content(self, images: Tensor) -> Tensor:
        """Content code ``(N, dim * 2**n_downsample, H / 2**n_downsample, W / 2**n_downsample)``."""
        self.check_size(images, "content")
        return self.content_encoder(images)

    def encode_style(self, images: Tensor) -> Tensor:
        """Style code ``(N, style_dim, 1, 1)`` (the code of the image's own style)."""
        self.check_size(images, "style")
        return self.style_encoder(images)

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``(content code, style code)`` of ``images``; see the class docstring for shapes."""
        return self.encode_content(images), self.encode_style(images)

    def adain_params(self, style: Tensor) -> Tensor:
        """The MLP's output ``(N, decoder.num_adain_params)`` for style codes ``(N, style_dim[, 1, 1])``."""
        if style.ndim not in (2, 4) or style[0].numel() != self.style_dim:
            raise ValueError(f"style codes must be (N, {self.style_dim}) or (N, {self.style_dim}, 1, 1), "
                             f"got {tuple(style.shape)}")
        return self.mlp(style)

    def decode(self, content: Tensor, style: Tensor) -> Tensor:
        """Pictures ``(N, in_channels, H, W)`` in [-1, 1] from content codes and style codes of
        the same batch size ``N``."""
        if style.shape[0] != content.shape[0]:
            raise ValueError(f"decode: {content.shape[0]} content codes but {style.shape[0]} style codes")
        return self.decoder(content, self.adain_params(style))

    def forward(self, x: Tensor, style: Tensor | None = None, *, mode: str = "reconstruct"
                ) -> Tensor | tuple[Tensor, Tensor]:
        if mode == "reconstruct":
            return self.decode(*self.encode(x))
        if mode == "encode":
            return self.encode(x)
        if mode == "content":
            return self.encode_content(x)
        if mode == "decode":
            if style is None:
                raise ValueError("mode='decode' needs the style codes: forward(content, style, mode='decode')")
            return self.decode(x, style)
        raise ValueError(f"mode must be one of {list(AUTOENCODER_MODES)}, got {mode!r}")


class MUNITTranslation(nn.Module):
    """Translation from one domain to the other: ``target.decode(source.encode_content(image),
    style)``, for inference and ONNX export (inputs: the image and the style code).

    Args:
        source: the auto-encoder of the input's domain (its content encoder is used).
        target: the auto-encoder of the output's domain (its style encoder, MLP and decoder).

    State-dict keys: ``source.*`` and ``target.*`` (the two auto-encoders' own keys).

    ``forward(image, style=None)``: ``image`` ``(N, 3, H, W)`` in [-1, 1]; ``style``
    ``(N, style_dim)`` or ``(N, style_dim, 1, 1)``, codes of the target domain (random draws of
    N(0, I) for diverse outputs, :meth:`style_of` a target image for example-guided output);
    None uses zeros, the prior's mean (deterministic). Returns ``(N, 3, H, W)`` in [-1, 1].
    """

    def __init__(self, source: MUNITAutoencoder, target: MUNITAutoencoder) -> None:
        super().__init__()
        self.source = source
        self.target = target

    @property
    def style_dim(self) -> int:
        """Length of the target domain's style code."""
        return self.target.style_dim

    @property
    def n_downsampling(self) -> int:
        """The source's ``n_downsample``: the translation takes sides that are multiples of
        ``2**n_downsampling`` of at least twice that (8 px at the defaults);
        :meth:`style_of` needs target images of at least 16 px."""
        return self.source.n_downsample

    def style_of(self, images: Tensor) -> Tensor:
        """Style codes ``(N, style_dim, 1, 1)`` of target-domain images ``(N, 3, H, W)``."""
        return self.target.encode_style(images)

    def forward(self, image: Tensor, style: Tensor | None = None) -> Tensor:
        content = self.source.encode_content(image)
        if style is None:
            style = content.new_zeros(content.shape[0], self.style_dim)
        return self.target.decode(content, style)


# ---------------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------------


class MUNITScaleDiscriminator(nn.Module):
    """One scale of MUNIT's discriminator: ``n_layers`` stride-2 4x4 convs (``dim``, doubling),
    each with padding 1 and LeakyReLU 0.2, no norm; then a 1x1 conv to one logit channel.
    ``(N, in_channels, H, W)`` -> ``(N, 1, H // 2**n_layers, W // 2**n_layers)`` (each conv
    floors the halving)."""

    def __init__(self, in_channels: int = 3, dim: int = 64, n_layers: int = 4, pad_type: str = "reflect") -> None:
        super().__init__()
        layers = [_conv(in_channels, dim, 4, 2, 1, pad_type, activation=nn.LeakyReLU(LEAKY_SLOPE))]
        for _ in range(n_layers - 1):
            layers.append(_conv(dim, 2 * dim, 4, 2, 1, pad_type, activation=nn.LeakyReLU(LEAKY_SLOPE)))
            dim *= 2
        layers.append(nn.Conv2d(dim, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)


class MUNITDiscriminator(MultiScaleDiscriminator):
    """MUNIT's multi-scale discriminator (the reference's ``MsImageDis``), built on the shared
    :class:`~gan_pipelines.models.discriminators.MultiScaleDiscriminator`: its pyramid step is the
    reference's ``AvgPool2d(3, stride=2, padding=1, count_include_pad=False)`` and it runs each
    scale's network before pooling for the next, as the reference; only the per-scale network
    (:class:`MUNITScaleDiscriminator`) is MUNIT's own.

    Input: ``(N, in_channels, H, W)``, H and W at least :meth:`min_input_size` (61 px at the
    reference's ``n_layers`` 4, ``num_scales`` 3; 13 at 2 and 3). Output: a list with one
    ``[logits]`` per scale, full resolution first, scale ``i`` of size
    :meth:`output_sizes` (``(s_i // 2**n_layers)`` with ``s_0 = H``, ``s_{i+1} = ceil(s_i / 2)``),
    the format :class:`~gan_pipelines.models.gan_losses.GANLoss` takes. State-dict keys
    ``discriminators.<scale>.model.*``. Weights N(0, ``init_gain``), biases 0 (the reference's
    ``gaussian``). ValueError for bad arguments and for too small inputs, naming ``num_scales``
    and ``n_layers``.
    """

    def __init__(self, in_channels: int = 3, dim: int = 64, n_layers: int = 4, num_scales: int = 3,
                 pad_type: str = "reflect", init_gain: float = 0.02) -> None:
        for name, value in (("in_channels", in_channels), ("dim", dim), ("n_layers", n_layers),
                            ("num_scales", num_scales)):
            _check_positive_int(value, name)
        _check_choice(pad_type, "pad_type", PAD_TYPES)
        if isinstance(init_gain, bool) or not isinstance(init_gain, (int, float)) or not init_gain > 0:
            raise ValueError(f"init_gain must be a positive number, got {init_gain!r}")
        super().__init__(lambda: MUNITScaleDiscriminator(in_channels, dim, n_layers, pad_type), num_D=num_scales)
        self.in_channels, self.n_layers, self.num_scales = in_channels, n_layers, num_scales
        init_weights(self, float(init_gain))

    @staticmethod
    def min_input_size(n_layers: int = 4, num_scales: int = 3) -> int:
        """The smallest side every scale takes: the coarsest scale sees ``ceil(s / 2**(num_scales
        - 1))`` px and its ``n_layers`` halvings need at least ``2**n_layers`` (a 1x1 logit map;
        each reflection padding of 1 then has at least 2 px), so
        ``s >= 2**(num_scales - 1) * (2**n_layers - 1) + 1``."""
        _check_positive_int(n_layers, "n_layers")
        _check_positive_int(num_scales, "num_scales")
        return 2 ** (num_scales - 1) * (2**n_layers - 1) + 1

    @staticmethod
    def output_sizes(height: int, width: int, n_layers: int = 4, num_scales: int = 3) -> list[tuple[int, int]]:
        """The logit map size of each scale for a ``height`` x ``width`` input (may hold zeros
        when the input is below :meth:`min_input_size`)."""
        sizes = []
        for scale_height, scale_width in MultiScaleDiscriminator.scale_sizes(height, width, num_scales):
            sizes.append((scale_height // 2**n_layers, scale_width // 2**n_layers))
        return sizes

    def forward(self, image: Tensor) -> list[list[Tensor]]:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"MUNITDiscriminator expects (N, {self.in_channels}, H, W), got {tuple(image.shape)}")
        height, width = int(image.shape[-2]), int(image.shape[-1])
        smallest = self.min_input_size(self.n_layers, self.num_scales)
        if min(height, width) < smallest:
            raise ValueError(
                f"MUNITDiscriminator input {height}x{width} is too small for num_scales={self.num_scales} and "
                f"n_layers={self.n_layers} (at least {smallest} px: its coarsest scale needs {2**self.n_layers} px); "
                "lower num_scales or n_layers"
            )
        return super().forward(image)


def count_breakdown(autoencoder: MUNITAutoencoder) -> dict[str, int]:
    """Parameters per part of an auto-encoder: ``content_encoder``, ``style_encoder``, ``mlp``,
    ``decoder``."""
    return {name: sum(p.numel() for p in getattr(autoencoder, name).parameters())
            for name in ("content_encoder", "style_encoder", "mlp", "decoder")}

