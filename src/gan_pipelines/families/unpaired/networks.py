"""The unpaired families' networks and their builders (CycleGAN now; U-GAT-IT and MUNIT add
their own here).

CycleGAN (Zhu et al., ICCV 2017, appendix 7.2; reference junyanz/pytorch-CycleGAN-and-pix2pix
``models/networks.py``), from the shared library:

* two generators, ``G_AB`` (A -> B) and ``G_BA`` (B -> A): the ResNet generator
  (:class:`gan_pipelines.models.generators.ResnetGenerator`): reflection pad + 7x7 conv ``ngf``,
  two stride-2 3x3 convs (``2 ngf``, ``4 ngf``), ``n_blocks`` residual blocks with reflection
  padding, two stride-2 transposed 3x3 convs, reflection pad + 7x7 conv to RGB, tanh; instance
  norm (no affine parameters) after every conv but the last. ``n_blocks`` 9 at 256 px and above,
  6 below (the reference's ``resnet_9blocks`` / ``resnet_6blocks``); 11,378,179 parameters at
  ngf 64 with 9 blocks.
* two discriminators, ``D_A`` (real A pictures vs G_BA's) and ``D_B`` (real B vs G_AB's): the
  PatchGAN (:class:`gan_pipelines.models.discriminators.NLayerPatchDiscriminator`),
  unconditional (3 input channels), instance norm; ``n_layers`` 3 is the 70x70 PatchGAN of the
  reference at 256 px; by default the deepest ``n_layers`` <= 3 whose receptive field fits in
  the picture (2, 34x34 patches, at 64 px; 1, 16x16, at 32 px).

The reference calls its A -> B generator ``G_A`` and the discriminator of domain B ``D_A``;
here each network is named by what it does: ``G_AB`` is the reference's ``G_A``, ``G_BA`` its
``G_B``, ``D_B`` its ``D_A`` and ``D_A`` its ``D_B``.

All weights start from N(0, 0.02) (biases 0), the reference's ``init_type normal``. Sizes: the
generator takes heights and widths that are multiples of 4 (two stride-2 convolutions) and at
least 8; the PatchGAN needs ``3 * 2**n_layers`` px for a 1x1 patch map.
:func:`check_image_size` refuses other sizes naming the parameter to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

MODEL_NAME = "cyclegan"
GENERATOR_NAMES = ("G_AB", "G_BA")
DISCRIMINATOR_NAMES = ("D_A", "D_B")
DIRECTION_GENERATORS = {"a2b": "G_AB", "b2a": "G_BA"}

# The reference's settings; n_blocks / n_layers None: chosen from the training size.
GENERATOR_DEFAULTS: dict[str, Any] = {
    "type": "resnet", "in_channels": 3, "out_channels": 3, "ngf": 64, "n_blocks": None, "norm": "instance",
    "use_dropout": False, "upsample": "transpose", "upsample_mode": "nearest", "init_gain": 0.02,
}
DISCRIMINATOR_DEFAULTS: dict[str, Any] = {
    "type": "patchgan", "in_channels": 3, "ndf": 64, "n_layers": None, "norm": "instance",
    "spectral_norm": False, "return_features": False, "init_gain": 0.02,
}
LARGE_SIZE = 256  # 9 residual blocks from here on, 6 below (the reference's two generators)
MAX_PATCHGAN_LAYERS = 3  # the 70x70 PatchGAN


def default_n_blocks(size: int) -> int:
    """The reference's residual-block count for ``size`` px: 9 at 256 px and above, 6 below."""
    return 9 if size >= LARGE_SIZE else 6


def default_n_layers(size: int) -> int:
    """The deepest PatchGAN (``n_layers`` <= 3) whose receptive field ``9 * 2**n - 2`` fits in
    ``size`` px: 3 (70x70) from 70 px, 2 (34x34) from 34 px, else 1 (16x16)."""
    from gan_pipelines.models.discriminators import NLayerPatchDiscriminator

    for n_layers in range(MAX_PATCHGAN_LAYERS, 0, -1):
        if NLayerPatchDiscriminator.receptive_field(n_layers) <= size:
            return n_layers
    return 1


def deepest_n_layers(size: int) -> int:
    """The most PatchGAN layers a ``size`` px picture takes (a patch map of at least 1x1:
    ``size // 2**n - 2 >= 1``); 0 when even one layer does not fit."""
    n_layers = 0
    while size // 2 ** (n_layers + 1) - 2 >= 1:
        n_layers += 1
    return n_layers


def generator_config(model: Mapping[str, Any] | None, size: int) -> dict[str, Any]:
    """The full generator config (every key of ``models.generators.build_generator`` for a
    ``resnet``) of the ``model`` parameters at training size ``size``: defaults filled in,
    ``n_blocks`` chosen from the size when not given. Unknown keys are left for the builder to
    refuse."""
    config = {**GENERATOR_DEFAULTS, **{k: v for k, v in dict(model or {}).items() if v is not None}}
    if config["n_blocks"] is None:
        config["n_blocks"] = default_n_blocks(size)
    return config


def discriminator_config(discriminator: Mapping[str, Any] | None, size: int) -> dict[str, Any]:
    """The full PatchGAN config of the ``discriminator`` parameters at training size ``size``
    (``n_layers`` chosen from the size when not given)."""
    config = {**DISCRIMINATOR_DEFAULTS, **{k: v for k, v in dict(discriminator or {}).items() if v is not None}}
    if config["n_layers"] is None:
        config["n_layers"] = default_n_layers(size)
    return config


def size_multiple(generator: Mapping[str, Any] | nn.Module | None = None) -> int:
    """What a CycleGAN generator needs heights and widths to be divisible by: ``2**2`` = 4 (two
    stride-2 convolutions). Takes a config or a built generator (any object with
    ``n_downsampling``)."""
    from gan_pipelines.models.generators import ResnetGenerator

    n_down = getattr(generator, "n_downsampling", ResnetGenerator.n_downsampling)
    return 2 ** int(n_down)


def min_size(generator: Mapping[str, Any] | nn.Module | None = None) -> int:
    """The smallest side a CycleGAN generator takes: twice :func:`size_multiple` (8), so the
    bottleneck is at least 2x2 for its reflection padding."""
    return 2 * size_multiple(generator)


def check_image_size(size: int, generator: Mapping[str, Any], discriminator: Mapping[str, Any], section: str,
                     size_name: str | None = None) -> None:
    """Refuse a training size the networks cannot take, naming the size's parameter
    (``size_name``, default ``<section>.augmentation.crop_size``) or the network parameter to
    change (``<section>.discriminator.n_layers``; without the prefix when ``section`` is empty):
    the generator needs a multiple of 4 and at least 8 px; a PatchGAN of ``n_layers`` layers needs
    a patch map of at least 1x1, i.e. ``size >= 3 * 2**n_layers``. ``generator`` /
    ``discriminator``: configs as :func:`generator_config` / :func:`discriminator_config` return
    (``n_layers`` None is chosen from the size, so it always fits). Raises ValueError."""
    from gan_pipelines.models.discriminators import NLayerPatchDiscriminator

    def key(name: str) -> str:
        return f"{section}.{name}" if section else name

    size_name = size_name or key("augmentation.crop_size")
    multiple, smallest = size_multiple(generator), min_size(generator)
    if size % multiple or size < smallest:
        fitting = max(smallest, size // multiple * multiple)
        raise ValueError(
            f"{size_name} is {size} px: the CycleGAN generator needs a multiple of {multiple} (two stride-2 "
            f"convolutions) of at least {smallest} px; use e.g. {fitting}"
        )
    n_layers = discriminator.get("n_layers")
    if n_layers is not None and size // 2**n_layers - 2 < 1:
        raise ValueError(
            f"{key('discriminator.n_layers')} is {n_layers}: a PatchGAN that deep needs at least "
            f"{NLayerPatchDiscriminator.min_input_size(n_layers)} px for a 1x1 patch map, but {size_name} is "
            f"{size} px; use n_layers <= {deepest_n_layers(size)} or leave it out (chosen from the size)"
        )


def build_generator(config: Mapping[str, Any], section: str = "model") -> nn.Module:
    """One CycleGAN generator from a full config (:func:`generator_config`), N(0, 0.02) init.
    Raises ValueError naming ``section.key`` for a bad value."""
    from gan_pipelines.models.generators import build_generator as build_shared

    config = dict(config)
    if config.get("type", "resnet") != "resnet":
        raise ValueError(f"{section}.type must be resnet for CycleGAN, got {config.get('type')!r}")
    return build_shared(config, section=section)


def build_discriminator(config: Mapping[str, Any], section: str = "discriminator") -> nn.Module:
    """One PatchGAN from a full config (:func:`discriminator_config`), N(0, 0.02) init."""
    from gan_pipelines.models.discriminators import build_discriminator as build_shared

    config = dict(config)
    if config.get("type", "patchgan") != "patchgan":
        raise ValueError(f"{section}.type must be patchgan for CycleGAN, got {config.get('type')!r}")
    return build_shared(config, section=section)


def build_cyclegan(generator: Mapping[str, Any], discriminator: Mapping[str, Any] | None = None,
                   ) -> dict[str, nn.Module]:
    """``{"G_AB", "G_BA"}`` (and ``"D_A", "D_B"`` when ``discriminator`` is given) with fresh
    N(0, 0.02) weights, from full configs (:func:`generator_config`,
    :func:`discriminator_config`). The two generators (and the two discriminators) are drawn
    one after the other from torch's global generator: seed it first for reproducible weights."""
    networks = {name: build_generator(generator) for name in GENERATOR_NAMES}
    if discriminator is not None:
        networks.update({name: build_discriminator(discriminator) for name in DISCRIMINATOR_NAMES})
    return networks


def generators_from_config(model_config: Mapping[str, Any]) -> dict[str, nn.Module]:
    """Both generators (random weights) of a checkpoint's ``model_config``
    (``{"model": "cyclegan", "generator": {...}, ...}``); ValueError for another model."""
    model = model_config.get("model")
    if model != MODEL_NAME:
        raise ValueError(f"model_config.model is {model!r}; this code builds {MODEL_NAME!r} generators")
    return build_cyclegan(dict(model_config["generator"]))
