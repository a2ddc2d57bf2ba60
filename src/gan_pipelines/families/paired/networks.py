"""The paired families' networks and their builders.

Generators (``train.model.type``), built by :func:`build_paired_generator`, the ONE place that
turns a stored model config back into a network:

* ``unet`` / ``resnet``: pix2pix's generators from the shared library
  (:func:`gan_pipelines.models.build_generator`);
* ``pix2pixhd``: the global generator G1 of pix2pixHD (Wang et al., CVPR 2018), optionally with
  one local enhancer G2 (``local_enhancer: true``), from :mod:`gan_pipelines.models.pix2pixhd`;
* ``spade``: the SPADE/GauGAN generator (Park et al., CVPR 2019), from
  :mod:`gan_pipelines.models.spade`; with ``use_vae`` it is a :class:`StyleVAEGenerator`
  (SPADE decoder + VAE style encoder) and needs a style code z.

The discriminator comes from ``build_discriminator`` (PatchGAN or multi-scale PatchGANs). This
module adds what the paired families know about their networks: how an input kind becomes the
network input (a label map one-hot, optionally with instance boundaries; a sketch as an image),
the generator types' settings and defaults, and which resolutions the networks take. The loss
recipes and the training task are in :mod:`gan_pipelines.families.paired.tasks`; rebuilding a
trained generator from its checkpoint in :mod:`gan_pipelines.families.paired.bundles`; turning
``train`` parameters into the configs built here in :mod:`gan_pipelines.families.paired.config`.

At test time the generator runs in eval mode: BatchNorm uses its running statistics and dropout
is off, so a prediction is the same on every run (pix2pix kept train mode at test time; outputs
then vary per run). A VAE generator's output depends on its z only: callers pass it, drawn
from :func:`style_codes` with a seed, or the encoding of a style picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_pipelines.params import check_known_keys

GENERATOR_TYPES = ("unet", "resnet", "pix2pixhd", "spade")


class InputEncoder(nn.Module):
    """Raw input kind -> network input.

    ``labels``: int64 class map ``(N, 1, H, W)`` -> one-hot ``(N, label_nc, H, W)`` in {0, 1}
    (values outside ``0..label_nc-1``, e.g. an ignore value, give all zeros), plus with
    ``instance_edges`` one channel that is 1 where the instance id differs from a 4-neighbour
    (pix2pixHD's boundary map, Wang et al. 2018, section 3.4). ``rgb``: the image as it is
    (floats in [-1, 1]).
    """

    def __init__(self, input_type: str, label_nc: int = 0, instance_edges: bool = False) -> None:
        super().__init__()
        if input_type not in ("labels", "rgb"):
            raise ValueError(f"input type must be labels or rgb, got {input_type!r}")
        if input_type == "labels" and label_nc < 1:
            raise ValueError("label_nc must be a positive integer for a label-map input")
        self.input_type = input_type
        self.label_nc = int(label_nc)
        self.instance_edges = bool(instance_edges) and input_type == "labels"

    @property
    def channels(self) -> int:
        if self.input_type == "rgb":
            return 3
        return self.label_nc + int(self.instance_edges)

    def forward(self, raw: Tensor, instances: Tensor | None = None) -> Tensor:
        if self.input_type == "rgb":
            return raw.float()
        classes = torch.arange(self.label_nc, device=raw.device, dtype=raw.dtype).view(1, -1, 1, 1)
        encoded = (raw == classes).float()
        if self.instance_edges:
            if instances is None:
                raise ValueError("this model needs an instance map (instance_edges is on)")
            encoded = torch.cat([encoded, instance_boundaries(instances)], dim=1)
        return encoded


def instance_boundaries(instances: Tensor) -> Tensor:
    """``(N, 1, H, W)`` float, 1 where the instance id differs from a 4-neighbour.

    Written with comparisons and zero padding only (no in-place slice assignment), so it traces
    into ONNX."""
    horizontal = (instances[..., :, 1:] != instances[..., :, :-1]).float()
    vertical = (instances[..., 1:, :] != instances[..., :-1, :]).float()
    edges = torch.maximum(F.pad(horizontal, (1, 0)), F.pad(horizontal, (0, 1)))
    return torch.maximum(edges, torch.maximum(F.pad(vertical, (0, 0, 1, 0)), F.pad(vertical, (0, 0, 0, 1))))


class StyleVAEGenerator(nn.Module):
    """SPADE with its VAE style encoder (Park et al., 2019, section 3.3 and appendix B): a
    :class:`~gan_pipelines.models.spade.SPADEGenerator` built with ``use_vae`` (``decoder``) and
    a :class:`~gan_pipelines.models.spade.StyleEncoder` (``style_encoder``) trained together
    under the generator's optimiser, as the reference.

    ``forward(segmap, z)``: segmap ``(N, C, H, W)`` float (one-hot labels), z ``(N, z_dim)``
    -> picture ``(N, 3, H, W)`` in [-1, 1]. ``forward(segmap, style_image=picture)``: encode the
    picture ``(N, 3, H, W)`` in [-1, 1] into ``mu, logvar``; z is sampled
    (:func:`~gan_pipelines.models.spade.reparameterize`) in train mode and is ``mu`` in eval
    mode; returns the tuple ``(picture, mu, logvar)`` (what the KL term needs). One of z and
    style_image is required: an unseeded random z is never drawn silently. Raises ValueError
    otherwise.
    """

    def __init__(self, decoder: nn.Module, style_encoder: nn.Module) -> None:
        super().__init__()
        if not getattr(decoder, "use_vae", False):
            raise ValueError("StyleVAEGenerator needs a SPADEGenerator built with use_vae")
        if decoder.z_dim != style_encoder.z_dim:
            raise ValueError(f"decoder z_dim {decoder.z_dim} and style encoder z_dim {style_encoder.z_dim} differ")
        self.decoder = decoder
        self.style_encoder = style_encoder

    @property
    def z_dim(self) -> int:
        return int(self.decoder.z_dim)

    def encode(self, picture: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)``, each ``(N, z_dim)``, of pictures ``(N, 3, H, W)`` in [-1, 1]."""
        return self.style_encoder(picture)

    def forward(self, segmap: Tensor, z: Tensor | None = None, style_image: Tensor | None = None):
        from gan_pipelines.models.spade import reparameterize

        if style_image is not None:
            if z is not None:
                raise ValueError("pass either z or style_image, not both")
            mu, logvar = self.style_encoder(style_image)
            code = reparameterize(mu, logvar) if self.training else mu
            return self.decoder(segmap, code), mu, logvar
        if z is None:
            raise ValueError("a SPADE+VAE generator needs a style code: pass z (N, z_dim) or a style_image")
        return self.decoder(segmap, z)


def style_codes(count: int, z_dim: int, seed: int | Sequence[int]) -> np.ndarray:
    """``(count, z_dim)`` float32 draws of z ~ N(0, I) from ``numpy.random.default_rng(seed)``
    (``seed`` an int or a sequence of ints, e.g. ``[seed, index]``): the same codes for the same
    seed in every backend (torch, onnxruntime) and batch size."""
    return np.random.default_rng(seed).standard_normal((count, z_dim)).astype(np.float32)


def generator_z_dim(generator: nn.Module) -> int | None:
    """The style-code size of a generator that needs one, else None."""
    return generator.z_dim if isinstance(generator, StyleVAEGenerator) else None


class PairedGenerator(nn.Module):
    """Encoder + generator: raw input (label map int64 / sketch in [-1, 1], instance map int64
    when the model uses instance boundaries, z ``(N, z_dim)`` for a SPADE+VAE generator) ->
    picture ``(N, 3, H, W)`` in [-1, 1]. What prediction, evaluation and ONNX export run."""

    def __init__(self, encoder: InputEncoder, generator: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.generator = generator

    @property
    def z_dim(self) -> int | None:
        """Size of the style code this generator needs, or None (deterministic generator)."""
        return generator_z_dim(self.generator)

    def encode_style(self, picture: Tensor) -> Tensor:
        """The style code (the encoder's mean, ``(N, z_dim)``) of pictures ``(N, 3, H, W)`` in [-1, 1]."""
        if self.z_dim is None:
            raise ValueError("this generator has no style encoder (only SPADE with use_vae has one)")
        return self.generator.encode(picture)[0]

    def forward(self, raw: Tensor, instances: Tensor | None = None, z: Tensor | None = None) -> Tensor:
        encoded = self.encoder(raw, instances)
        if self.z_dim is None:
            if z is not None:
                raise ValueError("this generator is deterministic: it takes no style code z")
            return self.generator(encoded)
        if z is None:
            raise ValueError(f"this SPADE+VAE generator needs a style code z of shape (N, {self.z_dim})")
        return self.generator(encoded, z)


# ---------------------------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------------------------


def encoder_from_config(input_cfg: Mapping[str, Any]) -> InputEncoder:
    return InputEncoder(input_cfg["type"], int(input_cfg.get("label_nc") or 0), bool(input_cfg.get("instance_edges")))


# Keys and defaults (the papers' reference values) of the generator types this family adds.
PIX2PIXHD_DEFAULTS: dict[str, Any] = {
    "type": "pix2pixhd", "in_channels": 3, "out_channels": 3, "ngf": 64, "n_downsampling": 4, "n_blocks": 9,
    "norm": "instance", "upsample": "transpose", "upsample_mode": "nearest", "init_gain": 0.02,
    "local_enhancer": False, "n_blocks_local": 3,
}
SPADE_DEFAULTS: dict[str, Any] = {
    "type": "spade", "in_channels": 3, "out_channels": 3, "ngf": 64, "num_upsampling_layers": 5,
    "spade_hidden": 128, "norm": "batch", "spectral_norm": True, "init_gain": 0.02,
    "use_vae": False, "z_dim": 256, "image_size": None, "encoder": None,
}
STYLE_ENCODER_DEFAULTS: dict[str, Any] = {"ndf": 64, "n_downsampling": 6, "spectral_norm": True}


def generator_settings(config: Mapping[str, Any], section: str = "model") -> dict[str, Any]:
    """The complete settings of a ``pix2pixhd`` or ``spade`` generator config (defaults filled
    in, every key and value checked; ValueError naming ``section.key``)."""
    if not isinstance(config, Mapping):
        raise ValueError(f"{section} must be a mapping with a 'type' key, got {type(config).__name__}")
    kind = config.get("type", "unet")
    defaults = {"pix2pixhd": PIX2PIXHD_DEFAULTS, "spade": SPADE_DEFAULTS}.get(kind)
    if defaults is None:
        raise ValueError(f"{section}.type must be one of {', '.join(GENERATOR_TYPES)}; got {kind!r}")
    check_known_keys(config, defaults, section)
    settings = {**defaults, **config}
    positive = ["in_channels", "out_channels", "ngf"]
    flags = ["local_enhancer"] if kind == "pix2pixhd" else ["spectral_norm", "use_vae"]
    if kind == "pix2pixhd":
        positive += ["n_downsampling", "n_blocks", "n_blocks_local"]
    else:
        positive += ["num_upsampling_layers", "spade_hidden", "z_dim"]
    for key in positive:
        value = settings[key]
        minimum = 0 if key in ("n_downsampling", "n_blocks", "n_blocks_local") else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{section}.{key} must be an integer >= {minimum}; got {value!r}")
    for key in flags:
        if not isinstance(settings[key], bool):
            raise ValueError(f"{section}.{key} must be true or false; got {settings[key]!r}")
    if kind == "pix2pixhd" and settings["local_enhancer"] and settings["ngf"] % 2:
        raise ValueError(f"{section}.ngf must be even with local_enhancer (the local branch has ngf / 2 channels); "
                         f"got {settings['ngf']}")
    if kind == "spade":
        encoder = settings["encoder"]
        if encoder is not None and not isinstance(encoder, Mapping):
            raise ValueError(f"{section}.encoder must be a mapping of {', '.join(STYLE_ENCODER_DEFAULTS)} or null")
        if encoder is not None and not settings["use_vae"]:
            raise ValueError(f"{section}.encoder is set but use_vae is false: only the VAE variant has a style encoder")
        check_known_keys(encoder or {}, STYLE_ENCODER_DEFAULTS, f"{section}.encoder")
        settings["encoder"] = {**STYLE_ENCODER_DEFAULTS, **dict(encoder or {})} if settings["use_vae"] else None
        if settings["image_size"] is not None and not settings["use_vae"]:
            raise ValueError(f"{section}.image_size only applies with use_vae (it fixes the z -> feature map layer)")
    return settings


def _with_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A ``pix2pixhd`` or ``spade`` config with its defaults filled in, unchecked: for reading the
    sizes of a config that its model (``TrainParams``) or :func:`generator_settings` checked."""
    defaults = {"pix2pixhd": PIX2PIXHD_DEFAULTS, "spade": SPADE_DEFAULTS}[config.get("type", "unet")]
    settings = {**defaults, **config}
    if settings["type"] == "spade":
        settings["encoder"] = {**STYLE_ENCODER_DEFAULTS, **dict(settings["encoder"] or {})} if settings["use_vae"] else None
    return settings


def build_paired_generator(config: Mapping[str, Any], section: str = "model") -> nn.Module:
    """The generator of a model config (``type``: unet | resnet | pix2pixhd | spade), with
    random weights. ``spade`` with ``use_vae`` needs ``image_size`` (the training resolution,
    filled in by the train node). Raises ValueError naming the bad ``section.key``."""
    from gan_pipelines.models.generators import build_generator

    kind = config.get("type", "unet") if isinstance(config, Mapping) else None
    if kind in ("unet", "resnet"):
        return build_generator(config, section=section)
    settings = generator_settings(config, section)
    try:
        if kind == "pix2pixhd":
            model = _pix2pixhd_generator(settings)
        else:
            model = _spade_generator(settings)
    except ValueError as exc:
        raise ValueError(f"{section}: {exc}") from None
    model.weights_status = "random init"
    return model


def _pix2pixhd_generator(settings: Mapping[str, Any]) -> nn.Module:
    from gan_pipelines.models.pix2pixhd import GlobalGenerator, LocalEnhancer

    common = {"norm": settings["norm"], "upsample": settings["upsample"], "upsample_mode": settings["upsample_mode"],
              "init_gain": settings["init_gain"]}
    if settings["local_enhancer"]:
        return LocalEnhancer(settings["in_channels"], settings["out_channels"], settings["ngf"] // 2,
                             settings["n_downsampling"], settings["n_blocks"], settings["n_blocks_local"], **common)
    return GlobalGenerator(settings["in_channels"], settings["out_channels"], settings["ngf"],
                           settings["n_downsampling"], settings["n_blocks"], **common)


def global_generator_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config of the :class:`~gan_pipelines.models.pix2pixhd.GlobalGenerator` that a
    pix2pixHD local-enhancer config's global part takes its weights from (same width)."""
    return {**dict(config), "local_enhancer": False}


def _spade_generator(settings: Mapping[str, Any]) -> nn.Module:
    from gan_pipelines.models.spade import SPADEGenerator, StyleEncoder

    decoder = SPADEGenerator(
        settings["in_channels"], settings["out_channels"], settings["ngf"], settings["num_upsampling_layers"],
        settings["spade_hidden"], settings["norm"], settings["spectral_norm"], settings["use_vae"],
        settings["z_dim"], settings["image_size"], settings["init_gain"],
    )
    if not settings["use_vae"]:
        return decoder
    encoder = settings["encoder"]
    style_encoder = StyleEncoder(settings["image_size"], 3, encoder["ndf"], settings["z_dim"],
                                 encoder["n_downsampling"], encoder["spectral_norm"], settings["init_gain"])
    return StyleVAEGenerator(decoder, style_encoder)


def size_multiple(generator_config: Mapping[str, Any]) -> int:
    """What the generator needs height and width to be divisible by."""
    from gan_pipelines.models.generators import ResnetGenerator, generator_defaults

    kind = generator_config.get("type", "unet")
    if kind == "unet":
        return 2 ** int(generator_config.get("num_downs", generator_defaults("unet")["num_downs"]))
    if kind == "resnet":
        return 2 ** ResnetGenerator.n_downsampling
    settings = _with_defaults(generator_config)
    if kind == "pix2pixhd":
        return 2 ** (settings["n_downsampling"] + int(settings["local_enhancer"]))
    multiple = 2 ** settings["num_upsampling_layers"]
    if settings["use_vae"]:
        multiple = max(multiple, 2 ** settings["encoder"]["n_downsampling"])
    return multiple


def check_resolution(resolution: int, generator_config: Mapping[str, Any], discriminator_config: Mapping[str, Any],
                     section: str) -> None:
    """Refuse a resolution the networks cannot take, saying what would work: a multiple of the
    generator's factor (pix2pixHD: at least twice it; SPADE+VAE: more than the encoder's factor,
    a 1x1 code map is refused), and a PatchGAN map of at least 2x2 at every discriminator scale."""
    kind = generator_config.get("type", "unet")
    multiple = size_multiple(generator_config)
    if resolution % multiple:
        raise ValueError(
            f"resolution {resolution} px: the {kind} generator needs a multiple of "
            f"{multiple}; use e.g. {max(multiple, resolution // multiple * multiple)} or change {section}.model"
        )
    if kind == "pix2pixhd" and resolution < 2 * multiple:
        raise ValueError(f"resolution {resolution} px: the pix2pixhd generator needs at least {2 * multiple} px "
                         f"(a 2x2 bottleneck for its reflection padding); use fewer {section}.model.n_downsampling")
    if kind == "spade" and _with_defaults(generator_config)["use_vae"]:
        n_down = _with_defaults(generator_config)["encoder"]["n_downsampling"]
        if resolution <= 2**n_down:
            raise ValueError(f"resolution {resolution} px: the style encoder's {n_down} stride-2 convolutions leave a "
                             f"1x1 map; use fewer {section}.model.encoder.n_downsampling")
    scales = [(discriminator_config, resolution)]
    multiscale = discriminator_config.get("type") == "multiscale"
    if multiscale:
        num_d = int(discriminator_config.get("num_D", 3))
        nested = discriminator_config.get("discriminator") or {}
        sizes, side = [], resolution
        for _ in range(num_d):
            sizes.append(side)
            side = (side + 1) // 2
        scales = [(nested, size) for size in sizes]
    for config, size in scales:
        if config.get("type", "patchgan") == "patchgan":
            n_layers = int(config.get("n_layers", 3))
            side = size // 2**n_layers - 2  # NLayerPatchDiscriminator.output_size
            if side < 2:
                where = "discriminator.discriminator.n_layers" if multiscale else "discriminator.n_layers"
                scale = f" at its {size} px scale" if multiscale else ""
                raise ValueError(
                    f"resolution {resolution} px: a PatchGAN with n_layers={n_layers} leaves a {max(side, 0)}x{max(side, 0)} "
                    f"map{scale}; use fewer layers ({section}.{where}){', fewer scales' if multiscale else ''} or a "
                    "larger resolution (needs > 1x1)"
                )


def discriminator_has_spectral_norm(config: Mapping[str, Any]) -> bool:
    """Whether a discriminator config (plain or multi-scale) asks for spectral norm."""
    if config.get("type") == "multiscale":
        return bool((config.get("discriminator") or {}).get("spectral_norm", False))
    return bool(config.get("spectral_norm", False))
