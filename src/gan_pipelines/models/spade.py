"""SPADE / GauGAN networks (Park et al., "Semantic Image Synthesis with Spatially-Adaptive
Normalization", CVPR 2019; reference code NVlabs/SPADE ``models/networks``).

- :class:`SPADE`: the spatially-adaptive normalisation layer (``normalization.py: SPADE``).
- :class:`SPADEResBlock`: the residual block made of SPADE layers (``SPADEResnetBlock``).
- :class:`SPADEGenerator`: the decoder-only generator, optionally started from a style code z
  (``generator.py: SPADEGenerator``).
- :class:`StyleEncoder`: the VAE image encoder giving mu and logvar of z (``ConvEncoder``),
  with :func:`reparameterize` and :func:`kl_divergence` (``KLDLoss``).

The segmentation map ``segmap`` that conditions every SPADE layer is a float tensor
``(N, label_nc, H, W)``: a one-hot label encoding, optionally with extra channels such as an
instance boundary map (the reference's ``semantic_nc``); building it is the caller's job.

The SPADE discriminator (2 scales of a 70x70-style PatchGAN with spectral norm + InstanceNorm on
the concatenation of segmap and image) needs no code here: it is
``build_discriminator({"type": "multiscale", "num_D": 2, "discriminator": {"type": "patchgan",
"in_channels": label_nc + 3, "n_layers": 3, "norm": "instance", "spectral_norm": True,
"return_features": True}})`` from :mod:`gan_pipelines.models.discriminators`. The reference's
``n_layers_D=4`` counts the stride-1 conv before the logits, so it is ``n_layers=3`` there; that
module documents the remaining differences (padding 1 instead of 2, spectral norm also on the
first and last conv).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gan_pipelines.models.discriminators import _check_init_gain, _check_positive_int, apply_spectral_norm

__all__ = [
    "SPADE",
    "SPADE_NORM_TYPES",
    "SPADEGenerator",
    "SPADEResBlock",
    "StyleEncoder",
    "kl_divergence",
    "reparameterize",
]

SPADE_NORM_TYPES = ("batch", "instance")
LEAKY_SLOPE = 0.2
MAX_UPSAMPLING_LAYERS = 7
# Block widths in units of ngf (head_0, G_middle_0, G_middle_1, up_0 .. up_3 in the reference).
_BLOCK_WIDTHS = (16, 16, 16, 8, 4, 2, 1)


def _glorot_init(module: nn.Module, gain: float) -> None:
    """The SPADE reference initialisation (``BaseNetwork.init_weights('xavier', 0.02)``), in
    place: conv and linear weights Glorot-normal with ``gain``, biases 0; on a spectrally
    normalised layer the original weight is initialised."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            if parametrize.is_parametrized(layer, "weight"):
                weight = layer.parametrizations.weight.original
            else:
                weight = layer.weight
            nn.init.xavier_normal_(weight, gain=gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def _image_size(value: object, name: str = "image_size") -> tuple[int, int]:
    """``int`` or ``(height, width)`` of positive ints -> ``(height, width)``; else ValueError."""
    size = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in size)
    ):
        raise ValueError(f"{name} must be a positive integer or a (height, width) pair of them, got {value!r}")
    return int(size[0]), int(size[1])


# ---------------------------------------------------------------------------------------------
# SPADE layer and residual block
# ---------------------------------------------------------------------------------------------


class SPADE(nn.Module):
    """Spatially-adaptive normalisation (Park et al., 2019, section 3; reference ``SPADE``).

    ``out = norm(x) * (1 + gamma) + beta``, where ``norm`` is parameter-free (``"batch"``:
    ``BatchNorm2d(affine=False)`` with running statistics, used in eval mode, the reference's
    default in the generator; ``"instance"``: ``InstanceNorm2d(affine=False)``, per-image
    statistics in train and eval mode) and ``gamma``, ``beta`` are per-pixel, per-channel maps
    computed from ``segmap`` resized (nearest) to x's size: ``conv3x3 -> hidden, ReLU``, then one
    ``conv3x3 -> channels`` each for gamma and beta (zero padding).

    Unlike a normalisation layer with learned constants, a uniform segmap does not wash out
    here: the label reaches the output through gamma and beta after the normalisation.

    ``forward(x, segmap)``: x ``(N, channels, H, W)``, segmap ``(N, label_nc, h, w)`` float of any
    size and value range (typically one-hot in {0, 1}); returns ``(N, channels, H, W)``. Raises
    ValueError for bad constructor arguments and for wrong ranks, channel or batch counts.
    """

    def __init__(self, channels: int, label_nc: int, hidden: int = 128, norm: str = "batch") -> None:
        super().__init__()
        _check_positive_int(channels, "channels")
        _check_positive_int(label_nc, "label_nc")
        _check_positive_int(hidden, "hidden")
        if norm not in SPADE_NORM_TYPES:
            raise ValueError(f"SPADE norm must be one of {list(SPADE_NORM_TYPES)}, got {norm!r}")
        self.channels = channels
        self.label_nc = label_nc
        if norm == "batch":
            self.param_free_norm: nn.Module = nn.BatchNorm2d(channels, affine=False)
        else:
            self.param_free_norm = nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
        self.shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, kernel_size=3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, kernel_size=3, padding=1)

    def forward(self, x: Tensor, segmap: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SPADE expects x of shape (N, {self.channels}, H, W), got {tuple(x.shape)}")
        if segmap.ndim != 4 or segmap.shape[1] != self.label_nc or segmap.shape[0] != x.shape[0]:
            raise ValueError(
                f"SPADE expects segmap of shape ({x.shape[0]}, {self.label_nc}, h, w), got {tuple(segmap.shape)}"
            )
        normalized = self.param_free_norm(x)
        segmap = F.interpolate(segmap, size=x.shape[-2:], mode="nearest")
        hidden = self.shared(segmap)
        return normalized * (1 + self.gamma(hidden)) + self.beta(hidden)


class SPADEResBlock(nn.Module):
    """SPADE residual block (Park et al., 2019, fig. 4; reference ``SPADEResnetBlock``).

    ``main = conv3x3(LReLU(SPADE(conv3x3(LReLU(SPADE(x))))))`` with widths
    ``in -> min(in, out) -> out`` and LeakyReLU 0.2; ``shortcut = x`` when ``in == out``, else
    the learned ``conv1x1(SPADE(x))`` without bias. Output ``main + shortcut``.

    ``spectral_norm`` puts spectral normalisation on the block's three convolutions (``conv_0``,
    ``conv_1``, ``conv_shortcut``), as the reference's ``spectralspade...`` setting; the small
    convs inside the SPADE layers are left without it, as there.

    ``forward(x, segmap)``: x ``(N, in_channels, H, W)``, segmap ``(N, label_nc, h, w)``;
    returns ``(N, out_channels, H, W)``. Raises ValueError for bad arguments or inputs.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        label_nc: int,
        hidden: int = 128,
        norm: str = "batch",
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        _check_positive_int(in_channels, "in_channels")
        _check_positive_int(out_channels, "out_channels")
        if not isinstance(spectral_norm, bool):
            raise ValueError(f"spectral_norm must be True or False, got {spectral_norm!r}")
        middle = min(in_channels, out_channels)
        self.learned_shortcut = in_channels != out_channels
        self.norm_0 = SPADE(in_channels, label_nc, hidden, norm)
        self.conv_0 = nn.Conv2d(in_channels, middle, kernel_size=3, padding=1)
        self.norm_1 = SPADE(middle, label_nc, hidden, norm)
        self.conv_1 = nn.Conv2d(middle, out_channels, kernel_size=3, padding=1)
        if self.learned_shortcut:
            self.norm_shortcut = SPADE(in_channels, label_nc, hidden, norm)
            self.conv_shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        if spectral_norm:
            self._add_spectral_norm()

    def _add_spectral_norm(self) -> None:
        for conv in self.block_convs():
            apply_spectral_norm(conv)

    def block_convs(self) -> list[nn.Conv2d]:
        """The block's own convolutions (those that take spectral norm), not the SPADE layers'."""
        convs = [self.conv_0, self.conv_1]
        return [*convs, self.conv_shortcut] if self.learned_shortcut else convs

    def forward(self, x: Tensor, segmap: Tensor) -> Tensor:
        if self.learned_shortcut:
            shortcut = self.conv_shortcut(self.norm_shortcut(x, segmap))
        else:
            shortcut = x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, segmap), LEAKY_SLOPE))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, segmap), LEAKY_SLOPE))
        return shortcut + dx


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------


def _upsampling_before(num_upsampling_layers: int) -> frozenset[int]:
    """Indices of the blocks preceded by a nearest x2 upsampling.

    The reference's ``normal`` (5) upsamples before blocks 1, 3, 4, 5, 6, ``more`` (6) also before
    block 2, ``most`` (7) adds an eighth block after one more upsampling. Fewer than 5 drop the
    coarsest upsamplings first, so the last block always runs at full resolution.
    """
    if num_upsampling_layers <= 4:
        return frozenset(range(7 - num_upsampling_layers, 7))
    if num_upsampling_layers == 5:
        return frozenset({1, 3, 4, 5, 6})
    return frozenset(range(1, num_upsampling_layers + 1))


class SPADEGenerator(nn.Module):
    """SPADE generator (Park et al., 2019, appendix A; reference ``SPADEGenerator``).

    Start: without VAE, segmap resized (nearest) to ``(H / 2**u, W / 2**u)`` then ``conv3x3 ->
    16 ngf``; with ``use_vae``, ``Linear(z_dim -> 16 ngf * h0 * w0)`` on a style code z reshaped to
    ``(16 ngf, h0, w0)``, ``(h0, w0) = image_size / 2**u``. Then seven :class:`SPADEResBlock` of
    widths ``(16, 16, 16, 8, 4, 2, 1) * ngf`` (1024, 1024, 1024, 512, 256, 128, 64 at ngf 64) with
    ``u = num_upsampling_layers`` nearest x2 upsamplings between them, then
    ``LeakyReLU(0.2) -> conv3x3 -> out_channels -> tanh``.

    ``num_upsampling_layers`` (1..7): 5 is the reference's ``normal`` (256 px from 8x8), 6
    ``more`` (one more between the middle blocks), 7 ``most`` (an eighth block of width
    ``ngf // 2`` after one more upsampling). Fewer than 5 leave out the coarsest upsamplings
    (e.g. 4 at 64 px starts from 4x4, as 5 at 128 px). Every input side must be a multiple of
    ``2**num_upsampling_layers`` (:attr:`size_multiple`).

    ``norm``: the SPADE layers' parameter-free norm, ``"batch"`` (reference default; eval mode
    then uses running statistics) or ``"instance"``. ``spade_hidden``: the SPADE layers' hidden
    width (128 in the reference). ``spectral_norm``: on the residual blocks' convolutions (the
    reference's ``spectralspadesyncbatch3x3``). ``init_gain``: Glorot-normal initialisation with
    this gain, the reference's 0.02; None keeps PyTorch's default.

    ``image_size`` (int or ``(H, W)``): required with ``use_vae`` (it fixes the linear layer);
    when given, inputs of any other size are refused.

    ``forward(segmap, z=None, generator=None)``: segmap ``(N, label_nc, H, W)`` float; returns
    ``(N, out_channels, H, W)`` in [-1, 1]. With ``use_vae``, z is ``(N, z_dim)`` or None to draw
    z ~ N(0, I) with the optional ``torch.Generator`` (on segmap's device) for reproducible
    samples; ``generator`` is ignored when no z is drawn.

    Raises ValueError for bad constructor arguments (including ``ngf < 2`` with 7 upsamplings,
    ``image_size`` not a multiple of :attr:`size_multiple`), and in ``forward`` for a wrong
    segmap rank / channel count, a side that is not a multiple of :attr:`size_multiple` (the
    message names the size and the multiple), a size other than ``image_size``, a z of the wrong
    shape, or a z given to a generator without ``use_vae``.
    """

    def __init__(
        self,
        label_nc: int,
        out_channels: int = 3,
        ngf: int = 64,
        num_upsampling_layers: int = 5,
        spade_hidden: int = 128,
        norm: str = "batch",
        spectral_norm: bool = True,
        use_vae: bool = False,
        z_dim: int = 256,
        image_size: int | tuple[int, int] | None = None,
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        _check_positive_int(label_nc, "label_nc")
        _check_positive_int(out_channels, "out_channels")
        _check_positive_int(ngf, "ngf")
        _check_positive_int(z_dim, "z_dim")
        if (
            isinstance(num_upsampling_layers, bool)
            or not isinstance(num_upsampling_layers, int)
            or not 1 <= num_upsampling_layers <= MAX_UPSAMPLING_LAYERS
        ):
            raise ValueError(
                f"num_upsampling_layers must be an integer in 1..{MAX_UPSAMPLING_LAYERS}, got {num_upsampling_layers!r}"
            )
        if num_upsampling_layers == MAX_UPSAMPLING_LAYERS and ngf < 2:
            raise ValueError(f"num_upsampling_layers=7 adds a block of width ngf // 2: ngf must be >= 2, got {ngf}")
        if not isinstance(use_vae, bool):
            raise ValueError(f"use_vae must be True or False, got {use_vae!r}")
        if not isinstance(spectral_norm, bool):
            raise ValueError(f"spectral_norm must be True or False, got {spectral_norm!r}")
        _check_init_gain(init_gain)
        self.label_nc = label_nc
        self.ngf = ngf
        self.num_upsampling_layers = num_upsampling_layers
        self.use_vae = use_vae
        self.z_dim = z_dim
        self.size_multiple = 2**num_upsampling_layers
        self.image_size = None if image_size is None else _image_size(image_size)
        if use_vae and self.image_size is None:
            raise ValueError("SPADEGenerator with use_vae needs image_size (it fixes the linear layer's size on z)")
        if self.image_size is not None and any(side % self.size_multiple for side in self.image_size):
            raise ValueError(
                f"SPADEGenerator image_size {self.image_size[0]}x{self.image_size[1]}: height and width must be "
                f"multiples of 2**num_upsampling_layers = {self.size_multiple}"
            )

        head = 16 * ngf
        if use_vae:
            h0, w0 = (side // self.size_multiple for side in self.image_size)
            self.latent_shape = (head, h0, w0)
            self.fc: nn.Module = nn.Linear(z_dim, head * h0 * w0)
        else:
            self.fc = nn.Conv2d(label_nc, head, kernel_size=3, padding=1)

        widths = [w * ngf for w in _BLOCK_WIDTHS]
        if num_upsampling_layers == MAX_UPSAMPLING_LAYERS:
            widths.append(ngf // 2)
        blocks = []
        width_in = head
        for width in widths:
            blocks.append(SPADEResBlock(width_in, width, label_nc, spade_hidden, norm, spectral_norm=False))
            width_in = width
        self.blocks = nn.ModuleList(blocks)
        self._upsample_before = _upsampling_before(num_upsampling_layers)  # plain attribute: not in the state dict
        self.conv_img = nn.Conv2d(width_in, out_channels, kernel_size=3, padding=1)
        if init_gain is not None:
            _glorot_init(self, init_gain)
        if spectral_norm:  # after the init, so that the power iteration starts from the final weights
            for block in self.blocks:
                block._add_spectral_norm()

    def _check_segmap(self, segmap: Tensor) -> None:
        if segmap.ndim != 4 or segmap.shape[1] != self.label_nc:
            raise ValueError(f"SPADEGenerator expects segmap (N, {self.label_nc}, H, W), got {tuple(segmap.shape)}")
        height, width = segmap.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"SPADEGenerator input {height}x{width}: height and width must be multiples of "
                f"2**num_upsampling_layers = {self.size_multiple}"
            )
        if self.image_size is not None and (height, width) != self.image_size:
            raise ValueError(
                f"SPADEGenerator input {height}x{width}: this generator was built for image_size "
                f"{self.image_size[0]}x{self.image_size[1]}"
            )

    def forward(self, segmap: Tensor, z: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        self._check_segmap(segmap)
        batch = segmap.shape[0]
        if self.use_vae:
            if z is None:
                z = torch.randn(batch, self.z_dim, generator=generator, device=segmap.device, dtype=segmap.dtype)
            elif z.ndim != 2 or tuple(z.shape) != (batch, self.z_dim):
                raise ValueError(
                    f"SPADEGenerator z must have shape (N, z_dim) = ({batch}, {self.z_dim}), got {tuple(z.shape)}"
                )
            x = self.fc(z).view(batch, *self.latent_shape)
        else:
            if z is not None:
                raise ValueError("SPADEGenerator got a z but was built without use_vae: it has no style input")
            height, width = segmap.shape[-2:]
            coarse_size = (height // self.size_multiple, width // self.size_multiple)
            x = self.fc(F.interpolate(segmap, size=coarse_size, mode="nearest"))
        for index, block in enumerate(self.blocks):
            if index in self._upsample_before:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(x, segmap)
        return torch.tanh(self.conv_img(F.leaky_relu(x, LEAKY_SLOPE)))


# ---------------------------------------------------------------------------------------------
# VAE style encoder
# ---------------------------------------------------------------------------------------------


class StyleEncoder(nn.Module):
    """SPADE's image encoder for the VAE variant (Park et al., 2019, appendix A; reference
    ``ConvEncoder``).

    ``n_downsampling`` blocks ``conv3x3 stride 2 (padding 1) - InstanceNorm - LeakyReLU(0.2)`` of
    widths ``ndf * min(2**i, 8)`` (64, 128, 256, 512, 512, 512 at ndf 64 and 6 blocks, the
    reference at 256 px, which leaves a 4x4 map), spectral norm on each conv when
    ``spectral_norm``, then two linear layers on the flattened map -> mu and logvar of z.
    The reference resizes every input to 256x256 and has 6 blocks (5 below 256 px); here the
    input size is fixed at construction (``image_size``) and refused otherwise, and
    ``n_downsampling`` adapts the depth: pick it so that ``image_size / 2**n_downsampling`` is 4
    like the reference (4 at 64 px, 5 at 128 px).

    ``forward(image)``: image ``(N, in_channels, H, W)`` with ``(H, W) = image_size``, any value
    range (the generator's targets are in [-1, 1]); returns ``(mu, logvar)``, each ``(N, z_dim)``.
    ``init_gain``: Glorot-normal gain (the reference's 0.02), None for PyTorch's default.

    Raises ValueError for bad arguments, an ``image_size`` not a multiple of
    ``2**n_downsampling`` or one that leaves a 1x1 map (InstanceNorm needs two pixels), and in
    ``forward`` for a wrong rank, channel count or size.
    """

    def __init__(
        self,
        image_size: int | tuple[int, int],
        in_channels: int = 3,
        ndf: int = 64,
        z_dim: int = 256,
        n_downsampling: int = 6,
        spectral_norm: bool = True,
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        self.image_size = _image_size(image_size)
        _check_positive_int(in_channels, "in_channels")
        _check_positive_int(ndf, "ndf")
        _check_positive_int(z_dim, "z_dim")
        _check_positive_int(n_downsampling, "n_downsampling")
        if not isinstance(spectral_norm, bool):
            raise ValueError(f"spectral_norm must be True or False, got {spectral_norm!r}")
        _check_init_gain(init_gain)
        multiple = 2**n_downsampling
        height, width = self.image_size
        if height % multiple or width % multiple:
            raise ValueError(
                f"StyleEncoder image_size {height}x{width}: height and width must be multiples of "
                f"2**n_downsampling = {multiple}"
            )
        if height * width == multiple * multiple:
            raise ValueError(
                f"StyleEncoder image_size {height}x{width} with n_downsampling={n_downsampling} leaves a 1x1 map "
                f"(InstanceNorm needs at least two pixels): use fewer stride-2 convolutions"
            )
        self.in_channels = in_channels
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        width_in = in_channels
        for index in range(n_downsampling):
            width_out = ndf * min(2**index, 8)
            layers += [
                nn.Conv2d(width_in, width_out, kernel_size=3, stride=2, padding=1),
                nn.InstanceNorm2d(width_out, affine=False, track_running_stats=False),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            width_in = width_out
        self.convs = nn.Sequential(*layers)
        flat = width_in * (height // multiple) * (width // multiple)
        self.fc_mu = nn.Linear(flat, z_dim)
        self.fc_logvar = nn.Linear(flat, z_dim)
        if init_gain is not None:
            _glorot_init(self, init_gain)
        if spectral_norm:
            apply_spectral_norm(self.convs)

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"StyleEncoder expects (N, {self.in_channels}, H, W), got {tuple(image.shape)}")
        if tuple(image.shape[-2:]) != self.image_size:
            raise ValueError(
                f"StyleEncoder input {image.shape[-2]}x{image.shape[-1]}: this encoder was built for image_size "
                f"{self.image_size[0]}x{self.image_size[1]}"
            )
        features = self.convs(image).flatten(1)
        return self.fc_mu(features), self.fc_logvar(features)


def _check_pair(mu: Tensor, logvar: Tensor, owner: str) -> None:
    if mu.shape != logvar.shape:
        raise ValueError(f"{owner}: mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} differ in shape")


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``z = mu + eps * exp(logvar / 2)``, eps ~ N(0, I) drawn with the optional ``generator``
    (Kingma & Welling, 2014; SPADE's ``Pix2PixModel.reparameterize``). Gradients flow to mu and
    logvar. Shapes ``(N, z_dim)`` in, ``(N, z_dim)`` out. Raises ValueError if the shapes differ."""
    _check_pair(mu, logvar, "reparameterize")
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + eps * torch.exp(0.5 * logvar)


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in SPADE's form (``KLDLoss``):
    ``-0.5 * sum(1 + logvar - mu**2 - exp(logvar))``.

    SUMMED over every element, i.e. over the z dimensions AND the batch (not averaged), exactly
    as the reference, whose KL weight 0.05 applies to this sum; divide by N yourself for a
    per-sample value. 0 for mu = 0, logvar = 0; a float32 scalar (float32 math). Raises
    ValueError if the shapes differ.
    """
    _check_pair(mu, logvar, "kl_divergence")
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
