"""pix2pixHD generators (Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation
with Conditional GANs", CVPR 2018, section 3.2; reference NVIDIA/pix2pixHD ``models/networks.py``).

- :class:`GlobalGenerator` (G1): a ResNet encoder-decoder, reflection padding, InstanceNorm.
- :class:`LocalEnhancer` (G2): G1 at half resolution without its output layer, plus a local
  branch at full resolution; their features are summed (the paper's coarse-to-fine generator).

The pix2pixHD discriminator needs no code here: it is ``build_discriminator({"type":
"multiscale", "num_D": 2 or 3, "discriminator": {"type": "patchgan", "in_channels": <input
channels> + 3, "ndf": 64, "n_layers": 3, "norm": "instance", "return_features": True}})`` from
:mod:`gan_pipelines.models.discriminators`, with
:func:`~gan_pipelines.models.gan_losses.feature_matching_loss` for the feature-matching term and
``GANLoss("lsgan", scale_reduction="sum")`` for the adversarial term (the reference sums the
scales' losses, for the generator and the discriminator alike).

Both generators map ``(N, in_channels, H, W)`` (e.g. a one-hot label encoding plus an instance
boundary channel) to ``(N, out_channels, H, W)`` images in [-1, 1] (tanh). ``norm`` is
``"instance"`` (the reference), ``"batch"`` or ``"none"``; ``upsample`` is ``"transpose"``
(transposed convolutions, the reference) or ``"upsample_conv"`` (resize then conv3x3, against
checkerboard artefacts), see :mod:`gan_pipelines.models.generators`. Weights are drawn from
N(0, 0.02) as the reference unless ``init_gain`` is None.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch.nn.functional as F
from torch import Tensor, nn

from gan_pipelines.models.discriminators import _append_norm, init_weights
from gan_pipelines.models.generators import ResnetBlock, _check_common, _resize_then_conv

__all__ = ["GlobalGenerator", "LocalEnhancer"]


def _check_non_negative_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _upsampling(width_in: int, width_out: int, norm: str, upsample: str, upsample_mode: str) -> list[nn.Module]:
    """One 2x upsampling step - norm - ReLU."""
    bias = norm != "batch"
    if upsample == "transpose":
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(width_in, width_out, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias)
        ]
    else:
        layers = _resize_then_conv(width_in, width_out, upsample_mode, bias, reflect=True)
    _append_norm(layers, norm, width_out)
    layers.append(nn.ReLU(inplace=True))
    return layers


def _output_layer(width: int, out_channels: int) -> nn.Sequential:
    """``reflection pad 3 - conv7x7 -> out_channels - tanh``."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, kernel_size=7), nn.Tanh())


def _check_size(image: Tensor, in_channels: int, multiple: int, reason: str, owner: str) -> None:
    if image.ndim != 4 or image.shape[1] != in_channels:
        raise ValueError(f"{owner} expects (N, {in_channels}, H, W), got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    smallest = max(2 * multiple, 4)  # reflection padding: 3 at full size, 1 in the 2x2 bottleneck's blocks
    if height % multiple or width % multiple or min(height, width) < smallest:
        raise ValueError(
            f"{owner} input {height}x{width}: height and width must be multiples of {multiple} ({reason}) "
            f"and at least {smallest} (reflection padding needs a bottleneck of at least 2x2)"
        )


class GlobalGenerator(nn.Module):
    """pix2pixHD global generator G1 (Wang et al., 2018; reference ``GlobalGenerator``).

    ``trunk``: reflection pad 3 + conv7x7 -> ngf - norm - ReLU; ``n_downsampling`` conv3x3
    stride 2 doubling the width - norm - ReLU; ``n_blocks`` residual blocks
    (:class:`~gan_pipelines.models.generators.ResnetBlock`, reflection padding) at
    ``ngf * 2**n_downsampling``; ``n_downsampling`` 2x upsamplings halving the width - norm - ReLU.
    ``head``: reflection pad 3 + conv7x7 -> out_channels - tanh. The reference trains pix2pixHD
    with ngf 64, 4 downsamplings (widths up to 1024) and 9 blocks, the defaults here.

    Input ``(N, in_channels, H, W)`` with H, W multiples of :attr:`size_multiple`
    (``2**n_downsampling``) and at least twice that (and 4); output ``(N, out_channels, H, W)`` in
    [-1, 1]. :meth:`features` returns the trunk's output ``(N, ngf, H, W)`` (what the
    :class:`LocalEnhancer` uses). Raises ValueError for bad constructor arguments and, in
    ``forward``, for a wrong rank / channel count or a size that is not a multiple of
    :attr:`size_multiple` (the message names the size and the multiple).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 3,
        ngf: int = 64,
        n_downsampling: int = 4,
        n_blocks: int = 9,
        norm: str = "instance",
        upsample: str = "transpose",
        upsample_mode: str = "nearest",
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        _check_common(in_channels, out_channels, ngf, norm, upsample, upsample_mode, init_gain)
        _check_non_negative_int(n_downsampling, "n_downsampling")
        _check_non_negative_int(n_blocks, "n_blocks")
        self.in_channels = in_channels
        self.ngf = ngf
        self.n_downsampling = n_downsampling
        self.size_multiple = 2**n_downsampling
        bias = norm != "batch"

        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, kernel_size=7, bias=bias)]
        _append_norm(layers, norm, ngf)
        layers.append(nn.ReLU(inplace=True))
        width = ngf
        for _ in range(n_downsampling):
            layers.append(nn.Conv2d(width, 2 * width, kernel_size=3, stride=2, padding=1, bias=bias))
            width *= 2
            _append_norm(layers, norm, width)
            layers.append(nn.ReLU(inplace=True))
        layers += [ResnetBlock(width, norm) for _ in range(n_blocks)]
        for _ in range(n_downsampling):
            layers += _upsampling(width, width // 2, norm, upsample, upsample_mode)
            width //= 2
        self.trunk = nn.Sequential(*layers)
        self.head = _output_layer(ngf, out_channels)
        if init_gain is not None:
            init_weights(self, init_gain)

    def features(self, image: Tensor) -> Tensor:
        """The last feature map before the output layer, ``(N, ngf, H, W)``."""
        _check_size(image, self.in_channels, self.size_multiple,
                    f"{self.n_downsampling} stride-2 convolutions", type(self).__name__)
        return self.trunk(image)

    def forward(self, image: Tensor) -> Tensor:
        return self.head(self.features(image))


class LocalEnhancer(nn.Module):
    """pix2pixHD generator with one local enhancer, G = {G1, G2} (Wang et al., 2018, fig. 3;
    reference ``LocalEnhancer`` with ``n_local_enhancers=1``).

    - Global part (:attr:`global_trunk`): the trunk of a :class:`GlobalGenerator` of width
      ``2 * ngf`` (its output layer removed), run on the input average-pooled to half size
      (3x3, stride 2, padding 1, padding not counted, as the reference).
    - Local part: ``local_down`` = reflection pad 3 + conv7x7 -> ngf - norm - ReLU, conv3x3
      stride 2 -> 2 ngf - norm - ReLU on the full-size input; its output is ADDED to the global
      features, then ``local_up`` = ``n_blocks_local`` residual blocks at ``2 ngf`` (half
      resolution, as the reference), one 2x upsampling -> ngf - norm - ReLU, reflection pad 3 +
      conv7x7 -> out_channels - tanh at full resolution.

    Reference values: ngf 32 (so the global part has 64), 3 local blocks; the global part as
    :class:`GlobalGenerator` (4 downsamplings, 9 blocks).

    Training as the paper: train a :class:`GlobalGenerator` of width ``2 * ngf`` at half size,
    copy it in with :meth:`load_global_generator`, train with the global part frozen
    (:meth:`set_global_frozen`) for some epochs, then unfrozen. Frozen parameters get no
    gradient, so an optimiser built over all :meth:`parameters` skips them (keep ``zero_grad``'s
    default ``set_to_none=True``); :meth:`global_parameters` and :meth:`local_parameters` give
    the two groups for separate optimisers or learning rates.

    Input ``(N, in_channels, H, W)`` with H, W multiples of :attr:`size_multiple`
    (``2**(n_downsampling_global + 1)``) and at least twice that; output
    ``(N, out_channels, H, W)`` in [-1, 1]. Raises ValueError for bad constructor arguments and,
    in ``forward``, for a wrong rank / channel count or a size that is not a multiple of
    :attr:`size_multiple` (the message names the size and the multiple).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 3,
        ngf: int = 32,
        n_downsampling_global: int = 4,
        n_blocks_global: int = 9,
        n_blocks_local: int = 3,
        norm: str = "instance",
        upsample: str = "transpose",
        upsample_mode: str = "nearest",
        init_gain: float | None = 0.02,
    ) -> None:
        super().__init__()
        _check_common(in_channels, out_channels, ngf, norm, upsample, upsample_mode, init_gain)
        _check_non_negative_int(n_blocks_local, "n_blocks_local")
        global_generator = GlobalGenerator(
            in_channels, out_channels, 2 * ngf, n_downsampling_global, n_blocks_global, norm, upsample,
            upsample_mode, init_gain,
        )
        self.in_channels = in_channels
        self.global_config = {
            "in_channels": in_channels, "ngf": 2 * ngf, "n_downsampling": n_downsampling_global,
            "n_blocks": n_blocks_global, "norm": norm, "upsample": upsample,
        }
        self.n_downsampling_global = n_downsampling_global
        self.size_multiple = 2 ** (n_downsampling_global + 1)
        self.global_trunk = global_generator.trunk
        bias = norm != "batch"

        down: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, kernel_size=7, bias=bias)]
        _append_norm(down, norm, ngf)
        down.append(nn.ReLU(inplace=True))
        down.append(nn.Conv2d(ngf, 2 * ngf, kernel_size=3, stride=2, padding=1, bias=bias))
        _append_norm(down, norm, 2 * ngf)
        down.append(nn.ReLU(inplace=True))
        self.local_down = nn.Sequential(*down)
        up: list[nn.Module] = [ResnetBlock(2 * ngf, norm) for _ in range(n_blocks_local)]
        up += _upsampling(2 * ngf, ngf, norm, upsample, upsample_mode)
        up += list(_output_layer(ngf, out_channels))
        self.local_up = nn.Sequential(*up)
        if init_gain is not None:
            init_weights(self.local_down, init_gain)
            init_weights(self.local_up, init_gain)

    def global_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the global part (G1 without its output layer)."""
        return self.global_trunk.parameters()

    def local_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the local enhancer branch (G2)."""
        yield from self.local_down.parameters()
        yield from self.local_up.parameters()

    @property
    def global_frozen(self) -> bool:
        """True when no parameter of the global part requires a gradient."""
        return not any(p.requires_grad for p in self.global_parameters())

    def set_global_frozen(self, frozen: bool) -> None:
        """Freeze (``True``) or unfreeze (``False``) the global part's parameters.

        The global part has no running statistics with the default instance norm; with
        ``norm="batch"`` its BatchNorm statistics still update in train mode (call
        ``global_trunk.eval()`` too to fix them). Raises ValueError for a non-bool.
        """
        if not isinstance(frozen, bool):
            raise ValueError(f"frozen must be True or False, got {frozen!r}")
        self.global_trunk.requires_grad_(not frozen)

    def load_global_generator(self, generator: GlobalGenerator) -> None:
        """Copy a trained :class:`GlobalGenerator`'s trunk into the global part (its output layer
        is not used). It must have been built with this enhancer's ``in_channels``, ``2 * ngf``,
        ``n_downsampling_global``, ``n_blocks_global``, ``norm`` and ``upsample``; otherwise
        ValueError naming what differs."""
        if not isinstance(generator, GlobalGenerator):
            raise ValueError(f"expected a GlobalGenerator, got {type(generator).__name__}")
        own = self.global_trunk.state_dict()
        other = generator.trunk.state_dict()
        differences = sorted(set(own) ^ set(other))
        differences += [f"{k}: {tuple(other[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                        if k in other and other[k].shape != v.shape]
        if differences:
            raise ValueError(
                f"the GlobalGenerator does not fit this LocalEnhancer's global part (it needs {self.global_config}); "
                f"differing tensors: {differences[:5]}"
            )
        self.global_trunk.load_state_dict(other)

    def forward(self, image: Tensor) -> Tensor:
        _check_size(image, self.in_channels, self.size_multiple,
                    f"half size for the global part, then {self.n_downsampling_global} stride-2 convolutions",
                    type(self).__name__)
        half = F.avg_pool2d(image, kernel_size=3, stride=2, padding=1, count_include_pad=False)
        return self.local_up(self.local_down(image) + self.global_trunk(half))
