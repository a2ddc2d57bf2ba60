"""U-GAT-IT's networks: AdaLIN / LIN, the CAM-attention generator and the CAM PatchGAN.

Kim, Kim, Kang and Lee, "U-GAT-IT: Unsupervised Generative Attentional Networks with Adaptive
Layer-Instance Normalization for Image-to-Image Translation", ICLR 2020. The layer layout
follows the public PyTorch port (znxlwm/UGATIT-pytorch ``networks.py``); the code is our own.

* :class:`AdaLIN` / :class:`LIN`: ``rho * InstanceNorm(x) + (1 - rho) * LayerNorm(x)``, then an
  affine map (AdaLIN: per-image ``gamma``, ``beta`` from the generator's MLP; LIN: learned).
* :func:`clip_rho_`: clamps every ``rho`` into [0, 1]; call it after each generator optimiser
  step (the paper's constraint; the reference's ``RhoClipper``).
* :class:`UGATITGenerator`: ResNet encoder, class-activation-map (CAM) attention, an MLP giving
  AdaLIN's ``gamma`` / ``beta``, AdaLIN residual blocks, nearest-neighbour up-sampling with LIN.
* :class:`UGATITDiscriminator`: a spectrally normalised PatchGAN with a CAM head; U-GAT-IT uses
  a global (7 layers) and a local (5 layers) one per domain at 256 px.

Where this code differs from the public port (each on purpose):

* AdaLIN / LIN statistics: the port's ``torch.var(torch.var(x, dim=2), dim=3)`` is a variance
  of per-row variances, not the variance of the feature map (a known flaw); here both the
  instance and the layer variance are the *spatial* ones, the mean squared deviation over
  (H, W) (instance) or (C, H, W) (layer). The variance is the *biased* one (divided by the
  number of elements, like ``nn.InstanceNorm2d``, ``nn.LayerNorm`` and the authors' TensorFlow
  code's ``tf.nn.moments``; the port's ``torch.var`` is unbiased). A 1x1 map thus normalises
  to 0 instead of NaN.
* The norms compute their statistics in float32 and return the input's dtype, so a bf16 /
  fp16 autocast region keeps the statistics exact.
* The discriminator's CAM re-weights the feature maps with the spectrally normalised weight
  that produced its CAM logits (the paper's CAM); the port re-weights with the raw
  ``weight_orig`` (a side effect of ``list(gap_fc.parameters())[0]``). The two differ by one
  positive scale per branch, which the following 1x1 convolution can absorb.
* ``UGATITGenerator.forward(x)`` returns the image only, so that generic inference code and
  ONNX export see a plain image-to-image module; :meth:`UGATITGenerator.forward_with_attention`
  (or ``forward(x, return_attention=True)``) returns the port's ``(image, cam_logit, heatmap)``.

Initialisation: PyTorch's default (Kaiming-uniform) for every layer, as the reference (which
calls no init function).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = [
    "AdaLIN",
    "LIN",
    "UGATITDiscriminator",
    "UGATITGenerator",
    "class_activation_map",
    "clip_rho_",
    "instance_layer_norm",
]

N_DOWNSAMPLING = 2  # the generator's stride-2 convolutions: sizes must be multiples of 2**2
MIN_DISCRIMINATOR_LAYERS = 3  # one stride-2 conv, the stride-1 conv, the output conv
LEAKY_SLOPE = 0.2


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------


def instance_layer_norm(x: Tensor, rho: Tensor, eps: float = 1e-5) -> Tensor:
    """``rho * IN(x) + (1 - rho) * LN(x)`` for ``x`` ``(N, C, H, W)``, in float32.

    ``IN(x) = (x - mean) / sqrt(var + eps)`` with the mean and the biased variance of each
    image's channel over (H, W); ``LN`` the same over (C, H, W) per image. ``rho``
    broadcasts against ``x`` (``(1, C, 1, 1)``); it is used as it is (clip it with
    :func:`clip_rho_`). Raises ValueError for an ``x`` that is not 4-D.
    """
    if x.ndim != 4:
        raise ValueError(f"AdaLIN / LIN expect (N, C, H, W) feature maps, got {tuple(x.shape)}")
    x = x.float()
    # Spatial statistics, computed as plain means (exportable, and obviously "spatial").
    in_centred = x - x.mean(dim=(2, 3), keepdim=True)
    in_var = in_centred.square().mean(dim=(2, 3), keepdim=True)
    ln_centred = x - x.mean(dim=(1, 2, 3), keepdim=True)
    ln_var = ln_centred.square().mean(dim=(1, 2, 3), keepdim=True)
    rho = rho.float()
    return rho * in_centred * torch.rsqrt(in_var + eps) + (1.0 - rho) * ln_centred * torch.rsqrt(ln_var + eps)


class AdaLIN(nn.Module):
    """Adaptive Layer-Instance Normalisation (U-GAT-IT, eq. in section 2.1.1).

    ``forward(x, gamma, beta)``: ``x`` ``(N, C, H, W)``, ``gamma`` and ``beta`` ``(N, C)`` (one
    affine map per image, made by the generator's MLP) -> ``(N, C, H, W)`` in ``x``'s dtype::

        out = (rho * IN(x) + (1 - rho) * LN(x)) * gamma + beta

    IN / LN: the spatial mean and BIASED spatial variance over (H, W) per channel and over
    (C, H, W) per image (see :func:`instance_layer_norm`; the public port's variance of row
    variances is not used). ``rho``: a learned ``(1, C, 1, 1)`` parameter, initialised 0.9 as
    the reference, kept in [0, 1] by :func:`clip_rho_` after each optimiser step. Raises
    ValueError when ``gamma`` / ``beta`` are not ``(N, C)``.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        self.eps = float(eps)
        self.rho = nn.Parameter(torch.full((1, channels, 1, 1), 0.9))

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}"

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        expected = (x.shape[0], self.channels)
        # (checks are skipped while tracing for ONNX: they would only add constant-shape warnings)
        if not torch.jit.is_tracing() and (tuple(gamma.shape) != expected or tuple(beta.shape) != expected):
            raise ValueError(f"AdaLIN({self.channels}) needs gamma and beta of shape {expected}, got "
                             f"{tuple(gamma.shape)} and {tuple(beta.shape)}")
        mixed = instance_layer_norm(x, self.rho, self.eps)
        return (mixed * gamma.float()[:, :, None, None] + beta.float()[:, :, None, None]).to(x.dtype)


class LIN(nn.Module):
    """Layer-Instance Normalisation with learned affine parameters (the up-sampling blocks).

    ``forward(x)``: ``(N, C, H, W)`` -> same shape and dtype,
    ``(rho * IN(x) + (1 - rho) * LN(x)) * gamma + beta`` with ``rho`` (init 0.0, i.e. pure
    LayerNorm at the start, as the reference), ``gamma`` (init 1) and ``beta`` (init 0) learned
    ``(1, C, 1, 1)`` parameters. Statistics as :class:`AdaLIN`.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        self.eps = float(eps)
        self.rho = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}"

    def forward(self, x: Tensor) -> Tensor:
        mixed = instance_layer_norm(x, self.rho, self.eps)
        return (mixed * self.gamma.float() + self.beta.float()).to(x.dtype)


@torch.no_grad()
def clip_rho_(module: nn.Module, low: float = 0.0, high: float = 1.0) -> nn.Module:
    """Clamp the ``rho`` of every :class:`AdaLIN` and :class:`LIN` inside ``module`` (itself
    included) into ``[low, high]``, in place; returns ``module``. U-GAT-IT keeps rho in [0, 1]
    by calling this after every generator optimiser step. Raises ValueError if ``low > high``."""
    if low > high:
        raise ValueError(f"clip_rho_ needs low <= high, got {low} and {high}")
    for layer in module.modules():
        if isinstance(layer, (AdaLIN, LIN)):
            layer.rho.clamp_(low, high)
    return module


# ---------------------------------------------------------------------------------------------
# Class activation map
# ---------------------------------------------------------------------------------------------


def class_activation_map(features: Tensor, gap_weight: Tensor, gmp_weight: Tensor) -> tuple[Tensor, Tensor]:
    """U-GAT-IT's CAM attention on ``features`` ``(N, C, H, W)``.

    ``gap_weight`` and ``gmp_weight`` are the ``(1, C)`` weights of the bias-free linear
    classifiers on the global-average-pooled and global-max-pooled features. Returns
    ``(weighted, cam_logit)``: ``weighted`` ``(N, 2C, H, W)`` = the feature maps multiplied
    channel-wise by ``gap_weight`` then by ``gmp_weight``, concatenated; ``cam_logit``
    ``(N, 2)`` = ``[gap_weight . mean_hw(features), gmp_weight . max_hw(features)]`` (the
    auxiliary domain logits).
    """
    pooled_avg = F.adaptive_avg_pool2d(features, 1).flatten(1)
    pooled_max = F.adaptive_max_pool2d(features, 1).flatten(1)
    cam_logit = torch.cat([F.linear(pooled_avg, gap_weight), F.linear(pooled_max, gmp_weight)], dim=1)
    weighted = torch.cat([features * gap_weight[0][None, :, None, None],
                          features * gmp_weight[0][None, :, None, None]], dim=1)
    return weighted, cam_logit


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------


def _conv_in_relu(in_channels: int, out_channels: int, kernel: int, stride: int) -> list[nn.Module]:
    """Reflection pad + bias-free conv + InstanceNorm (no affine) + ReLU."""
    return [nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=False),
            nn.InstanceNorm2d(out_channels), nn.ReLU(inplace=True)]


class ResnetBlock(nn.Module):
    """Encoder residual block: ``x + IN(conv(ReLU(IN(conv(x)))))``, reflection-padded bias-free
    3x3 convolutions, InstanceNorm without affine parameters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_in_relu(channels, channels, 3, 1),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetAdaLINBlock(nn.Module):
    """Decoder residual block: ``x + AdaLIN(conv(ReLU(AdaLIN(conv(x), gamma, beta))), gamma,
    beta)``, reflection-padded bias-free 3x3 convolutions; the same ``gamma``, ``beta``
    ``(N, C)`` in both norms (the reference)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pad1, self.conv1 = nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False)
        self.norm1 = AdaLIN(channels)
        self.pad2, self.conv2 = nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False)
        self.norm2 = AdaLIN(channels)

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        out = F.relu(self.norm1(self.conv1(self.pad1(x)), gamma, beta))
        return x + self.norm2(self.conv2(self.pad2(out)), gamma, beta)


class UGATITGenerator(nn.Module):
    """U-GAT-IT's generator (one direction).

    ``forward(x)``: ``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)`` in
    [-1, 1] (tanh). :meth:`forward_with_attention` also returns the CAM logits ``(N, 2)`` and
    the attention heatmap ``(N, 1, H/4, W/4)``.

    Layers (``C = 4 * ngf``), as the reference:

    * encoder: reflection pad + 7x7 conv ``ngf`` (no bias) + IN + ReLU; two reflection-padded
      stride-2 3x3 convs (``2 ngf``, ``C``; no bias) + IN + ReLU; ``n_blocks`` residual blocks
      (IN, no affine);
    * CAM (:func:`class_activation_map`): bias-free ``gap_fc`` and ``gmp_fc`` (``Linear(C, 1)``)
      give the two CAM logits, their weights re-weight the feature maps, ``conv1x1`` (2C -> C,
      with bias) + ReLU; heatmap = the sum over channels of the result;
    * the MLP making AdaLIN's ``gamma``, ``beta`` ``(N, C)``: full: the flattened
      ``(C, H/4, W/4)`` map -> ``Linear(C * (H/4) * (W/4), C)`` + ReLU + ``Linear(C, C)`` + ReLU;
      light: global average pool first, then ``Linear(C, C)`` + ReLU + ``Linear(C, C)`` + ReLU;
      then bias-free ``gamma`` and ``beta`` ``Linear(C, C)`` (every MLP linear is bias-free);
    * decoder: ``n_blocks`` :class:`ResnetAdaLINBlock`; 2 x (nearest x2, reflection pad + 3x3
      conv halving the width (no bias), :class:`LIN`, ReLU); reflection pad + 7x7 conv to
      ``out_channels`` (no bias), tanh.

    Size: the full model's first dense layer has ``(image_size / 4)**2 * (4 ngf)**2`` weights
    (:meth:`dense_weights`): 268,435,456 at 256 px and ngf 64 (67,108,864 at 128 px,
    16,777,216 at 64 px); the light one's is ``(4 ngf)**2`` = 65,536. Whole generator at ngf 64,
    4 blocks (measured with :func:`gan_pipelines.models.count_parameters`): light 10,589,888 at
    any size; full 27,301,568 at 64 px, 77,633,216 at 128 px, 278,959,808 at 256 px.

    Sizes: heights and widths must be multiples of 4 and at least 8 (two stride-2 convs, a
    bottleneck of at least 2x2 for the reflection padding). The full model takes only
    ``image_size`` x ``image_size`` images (its dense layer is sized for them); the light one
    any such size (``image_size`` is then only recorded). Raises ValueError otherwise (at
    construction for bad arguments, in ``forward`` for a bad input).
    """

    size_multiple = 2**N_DOWNSAMPLING
    min_size = 2 * 2**N_DOWNSAMPLING
    n_downsampling = N_DOWNSAMPLING  # read by the family's size rule (multiples of 2**n)

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 4,
                 image_size: int = 256, light: bool = False) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("ngf", ngf),
                            ("n_blocks", n_blocks), ("image_size", image_size)):
            _positive_int(value, name)
        if not isinstance(light, bool):
            raise ValueError(f"light must be true or false, got {light!r}")
        if not light and (image_size % self.size_multiple or image_size < self.min_size):
            raise ValueError(f"image_size must be a multiple of {self.size_multiple} of at least {self.min_size} "
                             f"px, got {image_size}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.ngf, self.n_blocks, self.image_size, self.light = ngf, n_blocks, image_size, light
        channels = ngf * 2**N_DOWNSAMPLING
        self.channels = channels

        encoder = _conv_in_relu(in_channels, ngf, 7, 1)
        for index in range(N_DOWNSAMPLING):
            encoder += _conv_in_relu(ngf * 2**index, ngf * 2 ** (index + 1), 3, 2)
        encoder += [ResnetBlock(channels) for _ in range(n_blocks)]
        self.encoder = nn.Sequential(*encoder)

        self.gap_fc = nn.Linear(channels, 1, bias=False)
        self.gmp_fc = nn.Linear(channels, 1, bias=False)
        self.conv1x1 = nn.Conv2d(2 * channels, channels, kernel_size=1, bias=True)

        mlp_in = channels if light else channels * (image_size // self.size_multiple) ** 2
        self.mlp = nn.Sequential(nn.Linear(mlp_in, channels, bias=False), nn.ReLU(inplace=True),
                                 nn.Linear(channels, channels, bias=False), nn.ReLU(inplace=True))
        self.gamma = nn.Linear(channels, channels, bias=False)
        self.beta = nn.Linear(channels, channels, bias=False)

        self.decoder_blocks = nn.ModuleList(ResnetAdaLINBlock(channels) for _ in range(n_blocks))
        upsampler: list[nn.Module] = []
        for index in range(N_DOWNSAMPLING):
            width = channels // 2**index
            upsampler += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                          nn.Conv2d(width, width // 2, 3, bias=False), LIN(width // 2), nn.ReLU(inplace=True)]
        upsampler += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7, bias=False), nn.Tanh()]
        self.upsampler = nn.Sequential(*upsampler)

    @staticmethod
    def dense_weights(ngf: int, image_size: int, light: bool = False) -> int:
        """Weights of the MLP's first linear layer, computed without building anything:
        ``(image_size / 4)**2 * (4 ngf)**2`` for the full model (268,435,456 at 256 px, ngf
        64), ``(4 ngf)**2`` for the light one."""
        channels = ngf * 2**N_DOWNSAMPLING
        if light:
            return channels * channels
        return (image_size // 2**N_DOWNSAMPLING) ** 2 * channels * channels

    def extra_repr(self) -> str:
        return f"ngf={self.ngf}, n_blocks={self.n_blocks}, image_size={self.image_size}, light={self.light}"

    def check_input_size(self, height: int, width: int) -> None:
        """Raise ValueError when this generator cannot take a ``height`` x ``width`` image
        (see the class docstring)."""
        height, width = int(height), int(width)
        if not self.light and (height, width) != (self.image_size, self.image_size):
            raise ValueError(
                f"the full U-GAT-IT generator takes only {self.image_size}x{self.image_size} images (its dense "
                f"layer is sized for image_size={self.image_size}), got {height}x{width}; resize the input or use "
                "the light generator")
        for side in (height, width):
            if side % self.size_multiple or side < self.min_size:
                raise ValueError(f"the U-GAT-IT generator needs heights and widths that are multiples of "
                                 f"{self.size_multiple} of at least {self.min_size} px, got {height}x{width}")

    def encode(self, x: Tensor) -> Tensor:
        """The encoder's feature map ``(N, 4 ngf, H/4, W/4)`` (what the CAM looks at)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UGATITGenerator expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if not torch.jit.is_tracing():  # an ONNX trace of a fitting input needs no check
            self.check_input_size(x.shape[2], x.shape[3])
        return self.encoder(x)

    @property
    def input_size(self) -> int | None:
        """The one input side the full model takes (its dense layer is sized for it); None for
        the light model, which takes any multiple of 4 of at least 8 px. Inference code resizes
        other images to it and back."""
        return None if self.light else int(self.image_size)

    def forward_with_attention(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(image (N, out_channels, H, W) in [-1, 1], cam_logit (N, 2), heatmap
        (N, 1, H/4, W/4))``: the translated image, the CAM's [average-pool, max-pool] domain
        logits, and the channel sum of the attention-weighted features (unnormalised, >= 0)."""
        features = self.encode(x)
        weighted, cam_logit = class_activation_map(features, self.gap_fc.weight, self.gmp_fc.weight)
        features = F.relu(self.conv1x1(weighted))
        heatmap = features.sum(dim=1, keepdim=True)
        pooled = F.adaptive_avg_pool2d(features, 1) if self.light else features
        hidden = self.mlp(pooled.flatten(1))
        gamma, beta = self.gamma(hidden), self.beta(hidden)
        for block in self.decoder_blocks:
            features = block(features, gamma, beta)
        return self.upsampler(features), cam_logit, heatmap

    def forward(self, x: Tensor, return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """The translated image only; with ``return_attention`` the triple of
        :meth:`forward_with_attention` (the keyword lets a training wrapper such as
        ``DistributedDataParallel``, which only wraps ``forward``, ask for the CAM outputs)."""
        image, cam_logit, heatmap = self.forward_with_attention(x)
        return (image, cam_logit, heatmap) if return_attention else image


# ---------------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------------


class UGATITDiscriminator(nn.Module):
    """U-GAT-IT's PatchGAN with a CAM head (the reference's ``Discriminator``).

    ``forward(x)``: ``(N, in_channels, H, W)`` -> ``(patch_logits (N, 1, h, w), cam_logit
    (N, 2), heatmap (N, 1, h + 1, w + 1))``, all raw scores (no sigmoid), ``h`` =
    :meth:`output_size` of ``H``.

    Layers: reflection pad 1 + spectrally normalised 4x4 stride-2 conv ``ndf`` (with bias) +
    LeakyReLU(0.2); ``n_layers - 3`` more such stride-2 convs doubling the width; one stride-1
    SN 4x4 conv doubling it again (``C = ndf * 2**(n_layers - 2)`` channels); the CAM head
    (SN bias-free ``gap_fc`` / ``gmp_fc`` ``Linear(C, 1)``, :func:`class_activation_map`,
    1x1 conv 2C -> C with bias and without SN, LeakyReLU(0.2), heatmap = channel sum);
    reflection pad 1 + SN 4x4 stride-1 conv to 1 channel (no bias). Spectral norm:
    ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per training
    forward). The reference's global discriminator has 7 layers (a 6x6 patch map at 256 px),
    its local one 5 (30x30).

    Sizes: each stride-2 layer floors the side by 2, each stride-1 4x4 layer with padding 1
    takes 1 off, so the patch map is ``H // 2**(n_layers - 2) - 2`` (:meth:`output_size`); a
    map that would be 0 or less cannot be computed (the reflection padding fails first) and is
    refused with a ValueError naming ``n_layers`` (:meth:`deepest_layers` gives the deepest
    that fits). ``n_layers`` must be at least 3.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 7) -> None:
        super().__init__()
        _positive_int(in_channels, "in_channels")
        _positive_int(ndf, "ndf")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < MIN_DISCRIMINATOR_LAYERS:
            raise ValueError(f"n_layers must be an integer >= {MIN_DISCRIMINATOR_LAYERS}, got {n_layers!r}")
        self.in_channels, self.ndf, self.n_layers = in_channels, ndf, n_layers

        def sn_conv(inputs: int, outputs: int, stride: int, bias: bool = True) -> list[nn.Module]:
            return [nn.ReflectionPad2d(1), spectral_norm(nn.Conv2d(inputs, outputs, 4, stride=stride, bias=bias))]

        layers = [*sn_conv(in_channels, ndf, 2), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        for index in range(1, n_layers - 2):
            width = ndf * 2 ** (index - 1)
            layers += [*sn_conv(width, 2 * width, 2), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        width = ndf * 2 ** (n_layers - 3)
        layers += [*sn_conv(width, 2 * width, 1), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        self.features = nn.Sequential(*layers)
        channels = ndf * 2 ** (n_layers - 2)
        self.channels = channels

        self.gap_fc = spectral_norm(nn.Linear(channels, 1, bias=False))
        self.gmp_fc = spectral_norm(nn.Linear(channels, 1, bias=False))
        self.conv1x1 = nn.Conv2d(2 * channels, channels, kernel_size=1, bias=True)
        self.classifier = nn.Sequential(*sn_conv(channels, 1, 1, bias=False))

    def extra_repr(self) -> str:
        return f"ndf={self.ndf}, n_layers={self.n_layers}"

    @staticmethod
    def output_size(size: int, n_layers: int) -> int:
        """The patch map's side for a ``size`` px side: ``size // 2**(n_layers - 2) - 2``; 0 or
        less means the network cannot take the image."""
        return int(size) // 2 ** (int(n_layers) - 2) - 2

    @staticmethod
    def deepest_layers(size: int) -> int:
        """The largest ``n_layers`` (>= 3) whose patch map is at least 1x1 at ``size`` px (8 at
        256 px, 7 at 128, 6 at 64, 5 at 32, 4 at 16, 3 at 8); 0 when even 3 layers do not fit
        (below 6 px)."""
        if UGATITDiscriminator.output_size(size, MIN_DISCRIMINATOR_LAYERS) < 1:
            return 0
        n_layers = MIN_DISCRIMINATOR_LAYERS
        while UGATITDiscriminator.output_size(size, n_layers + 1) >= 1:
            n_layers += 1
        return n_layers

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UGATITDiscriminator expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        smallest = min(int(x.shape[2]), int(x.shape[3]))
        if self.output_size(smallest, self.n_layers) < 1:
            raise ValueError(
                f"n_layers is {self.n_layers}: a U-GAT-IT discriminator that deep needs at least "
                f"{3 * 2 ** (self.n_layers - 2)} px for a 1x1 patch map, got {tuple(x.shape[2:])}; use n_layers <= "
                f"{self.deepest_layers(smallest)}")
        features = self.features(x)
        # One read of each normalised weight: one power iteration, the same weight for the
        # logits and for the re-weighting.
        weighted, cam_logit = class_activation_map(features, self.gap_fc.weight, self.gmp_fc.weight)
        features = F.leaky_relu(self.conv1x1(weighted), LEAKY_SLOPE)
        heatmap = features.sum(dim=1, keepdim=True)
        return self.classifier(features), cam_logit, heatmap
