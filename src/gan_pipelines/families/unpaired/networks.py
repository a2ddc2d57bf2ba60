"""The unpaired families' networks and their builders: CycleGAN's below, U-GAT-IT's and
MUNIT's at the end of the module (their modules live in :mod:`gan_pipelines.models.ugatit` and
:mod:`gan_pipelines.models.munit`), and the two functions that rebuild any of them from a
checkpoint (:func:`generators_from_config`, :func:`direction_translators`).

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


# model -> the names of its generator modules in a checkpoint's state_dicts
GENERATOR_MODULES = {"cyclegan": GENERATOR_NAMES, "ugatit": ("G_AB", "G_BA"), "munit": ("G_A", "G_B")}


def generators_from_config(model_config: Mapping[str, Any]) -> dict[str, nn.Module]:
    """The generator modules (random weights), by their checkpoint names
    (:data:`GENERATOR_MODULES`), of a checkpoint's ``model_config`` (``{"model": "cyclegan" |
    "ugatit" | "munit", "generator": {...}, ...}``); ValueError for another model."""
    model = model_config.get("model")
    generator = dict(model_config["generator"])
    if model == "cyclegan":
        return build_cyclegan(generator)
    if model == "ugatit":
        return build_ugatit(generator)
    if model == "munit":
        return build_munit(generator)
    raise ValueError(f"model_config.model is {model!r}; this code builds {', '.join(GENERATOR_MODULES)} generators")


def direction_translators(model: str, networks: Mapping[str, nn.Module]) -> dict[str, nn.Module]:
    """``{"a2b": A -> B, "b2a": B -> A}``, each a module mapping ``(N, 3, H, W)`` pictures in
    [-1, 1] to their translation: CycleGAN's and U-GAT-IT's generators themselves; for MUNIT the
    content encoder of the source domain joined to the decoder of the target domain
    (:class:`~gan_pipelines.models.munit.MUNITTranslation`, which also takes a style code)."""
    if model == "munit":
        return munit_translators(networks["G_A"], networks["G_B"])
    return {direction: networks[name] for direction, name in DIRECTION_GENERATORS.items()}


# ---- U-GAT-IT ----
# U-GAT-IT (Kim et al., ICLR 2020; layer layout of znxlwm/UGATIT-pytorch), networks in
# gan_pipelines.models.ugatit:
#
# * two generators, ``G_AB`` and ``G_BA`` (:class:`~gan_pipelines.models.ugatit.UGATITGenerator`:
#   ResNet encoder, CAM attention, an MLP making AdaLIN's gamma/beta, AdaLIN residual blocks, LIN
#   up-sampling); ``light`` False (the paper's full model: its MLP reads the whole flattened
#   feature map, 268,435,456 weights in one layer at 256 px) or True (it reads pooled features);
# * per domain a global and a local discriminator (``D_A_global``, ``D_A_local`` judge domain A,
#   i.e. G_BA's pictures; ``D_B_global``, ``D_B_local`` domain B):
#   :class:`~gan_pipelines.models.ugatit.UGATITDiscriminator`, SN PatchGANs with a CAM head.
#
# Depths: the reference's 7 (global) and 5 (local) layers are for 256 px; a depth whose patch map
# would vanish (``size // 2**(n - 2) - 2 < 1``) cannot run. By default (``None``)
# ``global_layers = min(7, deepest)`` and ``local_layers = max(3, min(5, global_layers - 2))``,
# ``deepest`` being the deepest that fits (UGATITDiscriminator.deepest_layers): the local D stays
# two stride-2 layers shallower than the global one, as in the reference, and at least 3 layers
# deep. That gives 7/5 at 128 px and above, 6/4 at 64 px, 5/3 at 32 px, 4/3 at 16 px, 3/3 at 8 px.
#
# Initialisation: PyTorch's default for every layer, as the reference (which calls no init
# function); unlike CycleGAN's N(0, 0.02). Seed torch's global generator for reproducible weights.

UGATIT_MODEL_NAME = "ugatit"
UGATIT_GENERATOR_NAMES = ("G_AB", "G_BA")
UGATIT_DISCRIMINATOR_NAMES = ("D_A_global", "D_A_local", "D_B_global", "D_B_local")
UGATIT_GENERATOR_DEFAULTS: dict[str, Any] = {
    "in_channels": 3, "out_channels": 3, "ngf": 64, "n_blocks": 4, "light": False, "image_size": None,
}
UGATIT_DISCRIMINATOR_DEFAULTS: dict[str, Any] = {
    "in_channels": 3, "ndf": 64, "global_layers": None, "local_layers": None,
}
UGATIT_GLOBAL_LAYERS = 7  # the reference's global discriminator (256 px)
UGATIT_LOCAL_LAYERS = 5  # the reference's local discriminator
UGATIT_MIN_LAYERS = 3  # one stride-2 conv, the stride-1 conv and the output conv


def ugatit_default_layers(size: int) -> tuple[int, int]:
    """``(global_layers, local_layers)`` for ``size`` px: ``global = min(7, deepest)``,
    ``local = max(3, min(5, global - 2))`` with ``deepest`` the deepest discriminator whose
    patch map is at least 1x1 (7/5 at 128 px and above, 6/4 at 64, 5/3 at 32, 4/3 at 16, 3/3 at
    8). Below 6 px nothing fits; 3/3 is returned and :func:`check_ugatit_size` refuses the size."""
    from gan_pipelines.models.ugatit import UGATITDiscriminator

    global_layers = max(UGATIT_MIN_LAYERS, min(UGATIT_GLOBAL_LAYERS, UGATITDiscriminator.deepest_layers(size)))
    return global_layers, max(UGATIT_MIN_LAYERS, min(UGATIT_LOCAL_LAYERS, global_layers - 2))


def ugatit_generator_config(model: Mapping[str, Any] | None, size: int) -> dict[str, Any]:
    """The full U-GAT-IT generator config (the keys of :data:`UGATIT_GENERATOR_DEFAULTS`) of the
    ``model`` parameters at training size ``size``: defaults filled in, ``image_size`` = ``size``
    when not given (the full generator's dense layer is sized for it). Unknown keys are left for
    the builder to refuse."""
    config = {**UGATIT_GENERATOR_DEFAULTS, **{k: v for k, v in dict(model or {}).items() if v is not None}}
    if config["image_size"] is None:
        config["image_size"] = size
    return config


def ugatit_discriminator_config(discriminator: Mapping[str, Any] | None, size: int) -> dict[str, Any]:
    """The full discriminator config (the keys of :data:`UGATIT_DISCRIMINATOR_DEFAULTS`) of the
    ``discriminator`` parameters at training size ``size``: ``global_layers`` / ``local_layers``
    chosen by :func:`ugatit_default_layers` when not given."""
    config = {**UGATIT_DISCRIMINATOR_DEFAULTS, **{k: v for k, v in dict(discriminator or {}).items() if v is not None}}
    global_layers, local_layers = ugatit_default_layers(size)
    if config["global_layers"] is None:
        config["global_layers"] = global_layers
    if config["local_layers"] is None:
        config["local_layers"] = local_layers
    return config


def check_ugatit_size(size: int, generator_cfg: Mapping[str, Any], discriminator_cfg: Mapping[str, Any],
                      section: str, size_name: str | None = None) -> None:
    """Refuse a training size the U-GAT-IT networks cannot take, naming the size's parameter
    (``size_name``, default ``<section>.augmentation.crop_size``) or the network key to change
    (``<section>.discriminator.global_layers`` / ``local_layers``, ``<section>.model.image_size``;
    without the prefix when ``section`` is empty). The generator needs a multiple of 4 of at
    least 8 px, and the full one (``light`` false) an ``image_size`` equal to ``size``; each
    discriminator depth ``n`` needs a patch map of at least 1x1 (``size >= 3 * 2**(n - 2)``) and
    ``n >= 3``. ``generator_cfg`` / ``discriminator_cfg``: as :func:`ugatit_generator_config` /
    :func:`ugatit_discriminator_config` return (None entries are chosen from the size, so they
    fit). Raises ValueError."""
    from gan_pipelines.models.ugatit import UGATITDiscriminator, UGATITGenerator

    def key(name: str) -> str:
        return f"{section}.{name}" if section else name

    size_name = size_name or key("augmentation.crop_size")
    multiple, smallest = UGATITGenerator.size_multiple, UGATITGenerator.min_size
    if size % multiple or size < smallest:
        raise ValueError(
            f"{size_name} is {size} px: the U-GAT-IT generator needs a multiple of {multiple} (two stride-2 "
            f"convolutions) of at least {smallest} px; use e.g. {max(smallest, size // multiple * multiple)}")
    image_size = generator_cfg.get("image_size")
    if not generator_cfg.get("light", False) and image_size is not None and image_size != size:
        raise ValueError(
            f"{key('model.image_size')} is {image_size} but {size_name} is {size} px: the full U-GAT-IT generator's "
            "dense layer is sized for one picture size; make them equal (or leave image_size out)")
    deepest = UGATITDiscriminator.deepest_layers(size)
    for name in ("global_layers", "local_layers"):
        n_layers = discriminator_cfg.get(name)
        if n_layers is None:
            continue
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < UGATIT_MIN_LAYERS:
            raise ValueError(f"{key('discriminator.' + name)} must be an integer >= {UGATIT_MIN_LAYERS}, got {n_layers!r}")
        if UGATITDiscriminator.output_size(size, n_layers) < 1:
            raise ValueError(
                f"{key('discriminator.' + name)} is {n_layers}: at {size} px ({size_name}) a U-GAT-IT discriminator "
                f"that deep has no patch map left (it needs at least {3 * 2 ** (n_layers - 2)} px for 1x1); use "
                f"{name} <= {deepest} or leave it out (chosen from the size)")


def _ugatit_check_int(config: Mapping[str, Any], name: str, section: str, minimum: int = 1) -> int:
    value = config.get(name)
    if value is None:
        raise ValueError(f"Missing parameter {section}.{name}")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{section}.{name} must be an integer >= {minimum}, got {value!r}")
    return value


def build_ugatit_generator(config: Mapping[str, Any], section: str = "model") -> nn.Module:
    """One :class:`~gan_pipelines.models.ugatit.UGATITGenerator` from a full config
    (:func:`ugatit_generator_config`), PyTorch's default init. Raises ValueError naming
    ``section.key`` for an unknown key or a bad value."""
    from gan_pipelines.models.ugatit import UGATITGenerator
    from gan_pipelines.params import check_known_keys

    check_known_keys(config, UGATIT_GENERATOR_DEFAULTS, section)
    config = {**UGATIT_GENERATOR_DEFAULTS, **dict(config)}
    values = {name: _ugatit_check_int(config, name, section)
              for name in ("in_channels", "out_channels", "ngf", "n_blocks", "image_size")}
    if not isinstance(config["light"], bool):
        raise ValueError(f"{section}.light must be true or false, got {config['light']!r}")
    if not config["light"] and (values["image_size"] % UGATITGenerator.size_multiple
                                or values["image_size"] < UGATITGenerator.min_size):
        raise ValueError(f"{section}.image_size must be a multiple of {UGATITGenerator.size_multiple} of at least "
                         f"{UGATITGenerator.min_size} px, got {values['image_size']}")
    return UGATITGenerator(light=config["light"], **values)


def build_ugatit_discriminator(config: Mapping[str, Any], scale: str, section: str = "discriminator") -> nn.Module:
    """The ``scale`` (``"global"`` or ``"local"``) :class:`~gan_pipelines.models.ugatit.UGATITDiscriminator`
    of a full config (:func:`ugatit_discriminator_config`): ``n_layers`` = ``<scale>_layers``.
    Raises ValueError naming ``section.key``."""
    from gan_pipelines.models.ugatit import UGATITDiscriminator
    from gan_pipelines.params import check_known_keys

    if scale not in ("global", "local"):
        raise ValueError(f"scale must be 'global' or 'local', got {scale!r}")
    check_known_keys(config, UGATIT_DISCRIMINATOR_DEFAULTS, section)
    config = {**UGATIT_DISCRIMINATOR_DEFAULTS, **dict(config)}
    return UGATITDiscriminator(in_channels=_ugatit_check_int(config, "in_channels", section),
                               ndf=_ugatit_check_int(config, "ndf", section),
                               n_layers=_ugatit_check_int(config, f"{scale}_layers", section, UGATIT_MIN_LAYERS))


def build_ugatit(generator_cfg: Mapping[str, Any], discriminator_cfg: Mapping[str, Any] | None = None,
                 ) -> dict[str, nn.Module]:
    """``{"G_AB", "G_BA"}`` (and ``"D_A_global", "D_A_local", "D_B_global", "D_B_local"`` when
    ``discriminator_cfg`` is given) from full configs (:func:`ugatit_generator_config`,
    :func:`ugatit_discriminator_config`), PyTorch's default init (the reference's), drawn in that
    order from torch's global generator: seed it first for reproducible weights."""
    networks: dict[str, nn.Module] = {name: build_ugatit_generator(generator_cfg) for name in UGATIT_GENERATOR_NAMES}
    if discriminator_cfg is not None:
        for name in UGATIT_DISCRIMINATOR_NAMES:
            networks[name] = build_ugatit_discriminator(discriminator_cfg, name.rsplit("_", 1)[1])
    return networks


def ugatit_generators_from_config(model_config: Mapping[str, Any]) -> dict[str, nn.Module]:
    """Both generators (random weights) of a checkpoint's ``model_config``
    (``{"model": "ugatit", "generator": {...}, ...}``); ValueError for another model."""
    model = model_config.get("model")
    if model != UGATIT_MODEL_NAME:
        raise ValueError(f"model_config.model is {model!r}; this code builds {UGATIT_MODEL_NAME!r} generators")
    return build_ugatit(dict(model_config["generator"]))


# ---- MUNIT ----
# MUNIT (Huang et al., ECCV 2018; reference NVlabs/MUNIT ``networks.py``, settings of
# ``configs/edges2shoes_folder.yaml``), networks in gan_pipelines.models.munit:
#
# * per domain one auto-encoder, ``G_A`` and ``G_B`` (:class:`~gan_pipelines.models.munit.MUNITAutoencoder`,
#   the reference's ``gen_a`` / ``gen_b``): content encoder, style encoder (8-d code), MLP, AdaIN
#   decoder; 15,026,187 parameters each at the reference widths. A -> B is G_B's decoder on G_A's
#   content code and a style code of B (:func:`munit_translators`).
# * per domain one multi-scale discriminator, ``D_A`` (judges domain A: real A vs G_A's decodes of
#   B's content) and ``D_B`` (:class:`~gan_pipelines.models.munit.MUNITDiscriminator`, the
#   reference's ``MsImageDis``): 3 scales of 4 stride-2 convs, no norm; 8,271,171 parameters.
#
# Sizes: the auto-encoder takes multiples of ``2**n_downsample`` (4) of at least 16 px (the style
# encoder's four stride-2 convs); the discriminator at least
# ``2**(num_scales - 1) * (2**n_layers - 1) + 1`` px (61 at 3 scales x 4 layers, so 64 px fits; at
# 32 px use e.g. num_scales 2 (31 px) or n_layers 3 (29 px)). Nothing is chosen from the size: the
# reference's widths and depths are the defaults at every size.
#
# Initialisation as the reference (``init: kaiming``): auto-encoders kaiming-normal (fan_in),
# LayerNorm gamma U(0, 1); discriminators N(0, 0.02). Seed torch's global generator first.

MUNIT_MODEL_NAME = "munit"
MUNIT_GENERATOR_NAMES = ("G_A", "G_B")
MUNIT_DISCRIMINATOR_NAMES = ("D_A", "D_B")
MUNIT_GENERATOR_DEFAULTS: dict[str, Any] = {
    "in_channels": 3, "dim": 64, "style_dim": 8, "n_downsample": 2, "n_res": 4, "mlp_dim": 256,
    "activ": "relu", "pad_type": "reflect", "init": "kaiming",
}
MUNIT_DISCRIMINATOR_DEFAULTS: dict[str, Any] = {"in_channels": 3, "dim": 64, "n_layers": 4, "num_scales": 3}
_MUNIT_GENERATOR_INTS = ("in_channels", "dim", "style_dim", "n_downsample", "n_res", "mlp_dim")


def munit_generator_config(model: Mapping[str, Any] | None, size: int) -> dict[str, Any]:
    """The full MUNIT auto-encoder config (the keys of :data:`MUNIT_GENERATOR_DEFAULTS`) of the
    ``model`` parameters: defaults (the reference's) filled in for missing or None keys.
    ``size`` (the training size) is taken for symmetry with the other models; nothing depends on
    it. Unknown keys are left for the builder to refuse."""
    del size  # the reference's widths at every size
    return {**MUNIT_GENERATOR_DEFAULTS, **{k: v for k, v in dict(model or {}).items() if v is not None}}


def munit_discriminator_config(discriminator: Mapping[str, Any] | None, size: int) -> dict[str, Any]:
    """The full MUNIT discriminator config (the keys of :data:`MUNIT_DISCRIMINATOR_DEFAULTS`):
    defaults filled in; ``size`` is not used (:func:`check_munit_size` refuses a size too small
    for the depth)."""
    del size
    return {**MUNIT_DISCRIMINATOR_DEFAULTS, **{k: v for k, v in dict(discriminator or {}).items() if v is not None}}


def _munit_int(config: Mapping[str, Any], name: str, section: str) -> int:
    value = config.get(name)
    if value is None:
        raise ValueError(f"Missing parameter {section}.{name}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{section}.{name} must be a positive integer, got {value!r}")
    return value


def check_munit_size(size: int, generator_cfg: Mapping[str, Any], discriminator_cfg: Mapping[str, Any],
                     section: str, size_name: str | None = None) -> None:
    """Refuse a training size the MUNIT networks cannot take, naming the size's parameter
    (``size_name``, default ``<section>.augmentation.crop_size``) or the discriminator key to
    change (``<section>.discriminator.num_scales`` / ``n_layers``; without the prefix when
    ``section`` is empty). The auto-encoder needs a multiple of ``2**n_downsample`` of at least
    ``max(16, 2 * 2**n_downsample)`` px; the discriminator at least
    :meth:`~gan_pipelines.models.munit.MUNITDiscriminator.min_input_size` px. Configs as
    :func:`munit_generator_config` / :func:`munit_discriminator_config` return. Raises ValueError."""
    from gan_pipelines.models.munit import MUNITAutoencoder, MUNITDiscriminator

    def key(name: str) -> str:
        return f"{section}.{name}" if section else name

    size_name = size_name or key("augmentation.crop_size")
    n_downsample = _munit_int({**MUNIT_GENERATOR_DEFAULTS, **dict(generator_cfg)}, "n_downsample", key("model"))
    multiple, smallest = 2**n_downsample, MUNITAutoencoder.smallest_side(n_downsample)
    if size % multiple or size < smallest:
        raise ValueError(
            f"{size_name} is {size} px: the MUNIT auto-encoder needs a multiple of {multiple} ({n_downsample} stride-2 "
            f"convolutions, {key('model.n_downsample')}) of at least {smallest} px (the style encoder's four stride-2 "
            f"convolutions); use e.g. {max(smallest, size // multiple * multiple)}")
    config = {**MUNIT_DISCRIMINATOR_DEFAULTS, **dict(discriminator_cfg)}
    n_layers = _munit_int(config, "n_layers", key("discriminator"))
    num_scales = _munit_int(config, "num_scales", key("discriminator"))
    needed = MUNITDiscriminator.min_input_size(n_layers, num_scales)
    if size < needed:
        fits_scales = [s for s in range(num_scales - 1, 0, -1)
                       if MUNITDiscriminator.min_input_size(n_layers, s) <= size]
        fits_layers = [n for n in range(n_layers - 1, 0, -1)
                       if MUNITDiscriminator.min_input_size(n, num_scales) <= size]
        hints = []
        if fits_scales:
            hints.append(f"{key('discriminator.num_scales')} <= {fits_scales[0]}")
        if fits_layers:
            hints.append(f"{key('discriminator.n_layers')} <= {fits_layers[0]}")
        raise ValueError(
            f"{key('discriminator.num_scales')} is {num_scales} and {key('discriminator.n_layers')} is {n_layers}: "
            f"that multi-scale discriminator needs at least {needed} px (its coarsest scale, 1/{2 ** (num_scales - 1)} "
            f"of the picture, must keep {2**n_layers} px for {n_layers} stride-2 convolutions), but {size_name} is "
            f"{size} px; use {' or '.join(hints) if hints else 'a larger size'}")


def build_munit_generator(config: Mapping[str, Any], section: str = "model") -> nn.Module:
    """One :class:`~gan_pipelines.models.munit.MUNITAutoencoder` from a full config
    (:func:`munit_generator_config`), the reference's init. Raises ValueError naming
    ``section.key`` for an unknown key or a bad value."""
    from gan_pipelines.models.munit import ACTIVATIONS, GENERATOR_INITS, PAD_TYPES, MUNITAutoencoder
    from gan_pipelines.params import check_known_keys

    check_known_keys(config, MUNIT_GENERATOR_DEFAULTS, section)
    config = {**MUNIT_GENERATOR_DEFAULTS, **dict(config)}
    values: dict[str, Any] = {name: _munit_int(config, name, section) for name in _MUNIT_GENERATOR_INTS}
    for name, allowed in (("activ", ACTIVATIONS), ("pad_type", PAD_TYPES), ("init", GENERATOR_INITS)):
        if config[name] not in allowed:
            raise ValueError(f"{section}.{name} must be one of {list(allowed)}, got {config[name]!r}")
        values[name] = config[name]
    return MUNITAutoencoder(**values)


def build_munit_discriminator(config: Mapping[str, Any], section: str = "discriminator") -> nn.Module:
    """One :class:`~gan_pipelines.models.munit.MUNITDiscriminator` from a full config
    (:func:`munit_discriminator_config`), N(0, 0.02) init. Raises ValueError naming ``section.key``."""
    from gan_pipelines.models.munit import MUNITDiscriminator
    from gan_pipelines.params import check_known_keys

    check_known_keys(config, MUNIT_DISCRIMINATOR_DEFAULTS, section)
    config = {**MUNIT_DISCRIMINATOR_DEFAULTS, **dict(config)}
    return MUNITDiscriminator(**{name: _munit_int(config, name, section) for name in MUNIT_DISCRIMINATOR_DEFAULTS})


def build_munit(generator_cfg: Mapping[str, Any], discriminator_cfg: Mapping[str, Any] | None = None,
                ) -> dict[str, nn.Module]:
    """``{"G_A", "G_B"}`` (the two domains' auto-encoders) and, when ``discriminator_cfg`` is
    given, ``{"D_A", "D_B"}``, from full configs (:func:`munit_generator_config`,
    :func:`munit_discriminator_config`), drawn in that order from torch's global generator: seed
    it first for reproducible weights."""
    networks = {name: build_munit_generator(generator_cfg) for name in MUNIT_GENERATOR_NAMES}
    if discriminator_cfg is not None:
        networks.update({name: build_munit_discriminator(discriminator_cfg) for name in MUNIT_DISCRIMINATOR_NAMES})
    return networks


def munit_translators(G_A: nn.Module, G_B: nn.Module) -> dict[str, nn.Module]:  # noqa: N803 (the modules' names)
    """``{"a2b": MUNITTranslation(G_A, G_B), "b2a": MUNITTranslation(G_B, G_A)}``: each maps
    ``(N, 3, H, W)`` pictures in [-1, 1] and an optional style code of the target domain (None:
    zeros, the prior's mean) to the translation (:class:`~gan_pipelines.models.munit.MUNITTranslation`).
    The translators share the auto-encoders' weights (no copy)."""
    from gan_pipelines.models.munit import MUNITTranslation

    return {"a2b": MUNITTranslation(G_A, G_B), "b2a": MUNITTranslation(G_B, G_A)}
