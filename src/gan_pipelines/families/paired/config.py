"""The paired families' parameters (``pix2pix``, ``sketch2color``, ``pix2pixhd``, ``spade``,
``spade_vae`` and the ``compare_label_to_photo`` comparison): one typed model per stage.

Kedro validates them before any node runs (the pipeline annotates each node's ``params:``
inputs with the model of that namespace and stage, :func:`stage_model`); a node called with a
plain dict validates it through the same model (:meth:`~gan_pipelines.params.StageParams.parse`).
Unknown keys are refused, values checked (types, ranges, choices), and so are the pairs inside
a stage: the train crop against the generator's depth and the PatchGAN's layers,
``training.lr_constant_epochs`` against ``training.epochs``, hinge loss against label
smoothing, a KL weight against a style encoder, ... :func:`check_stages` checks the pairs
across stages (``preprocess.resolution`` against the train networks, ``ingest.label_nc`` and
``ingest.instances`` against train). Errors name the full key, e.g.
``pix2pix.train.model.num_downs``. Keys left out of conf take the code's defaults (the
networks', the renderer's, the trainer's), as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gan_pipelines.params import (
    ConfigBlock, ExportParams, ParameterError, PreprocessParams, StageParams, TrainingParams, checked_by, inconsistent,
    unknown_keys_error,
)

Device = str  # auto | cpu | cuda | cuda:<index> | mps: checked against the machine when the stage runs


def _family(section: str, fallback: str = "<family>") -> str:
    return section.partition(".")[0] or fallback


# --------------------------------------------------------------------------------------------
# ingest
# --------------------------------------------------------------------------------------------


class IngestParams(StageParams):
    """``<family>.ingest``: where the pairs come from (``source`` synthetic | aligned | folders,
    ``path``), how they are read, and THE class count of every stage (``label_nc``, 2..255 or
    null; ``ignore_value``: the don't-care label)."""

    source: Literal["synthetic", "aligned", "folders"] = "synthetic"
    path: str | None = None
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    on_invalid: Literal["error", "skip"] = "error"
    input_kind: str | None = None
    label_nc: int | None = Field(None, ge=2, le=255)
    ignore_value: int | None = Field(None, ge=0)
    palette_path: str | None = None
    palette_tolerance: float = Field(0.0, ge=0)
    instances: bool = False
    min_size: int = Field(16, gt=0)
    synthetic: dict[str, Any] = Field(default_factory=dict)
    real_test_photos: bool = True

    @field_validator("synthetic")
    @classmethod
    def _renderer_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gan_pipelines.families.paired.synthetic import synthetic_config

        where = f"{cls.section or 'ingest'}.synthetic"
        return checked_by(lambda v: synthetic_config(v, where), value, where)

    @model_validator(mode="after")
    def _consistent(self) -> IngestParams:
        from gan_pipelines.families.paired.nodes.ingest import ingested_class_count

        if self.source != "synthetic" and not self.path:
            raise inconsistent("path", f"must name your folder when source is {self.source}")
        try:
            ingested_class_count(self.as_dict(), _family(self.section))
        except ValueError as exc:
            raise inconsistent("label_nc", str(exc).partition("label_nc ")[2] or f"is wrong: {exc}") from None
        return self


# --------------------------------------------------------------------------------------------
# train: the generator and discriminator blocks
# --------------------------------------------------------------------------------------------

_COMMON_G = {"type", "in_channels", "out_channels", "ngf", "init_gain"}
GENERATOR_KEYS: dict[str, set[str]] = {
    "unet": _COMMON_G | {"upsample", "upsample_mode", "num_downs", "norm", "use_dropout"},
    "resnet": _COMMON_G | {"upsample", "upsample_mode", "n_blocks", "norm", "use_dropout"},
    "pix2pixhd": _COMMON_G | {"upsample", "upsample_mode", "n_downsampling", "n_blocks", "norm", "local_enhancer",
                              "n_blocks_local"},
    "spade": _COMMON_G | {"num_upsampling_layers", "spade_hidden", "norm", "spectral_norm", "use_vae", "z_dim",
                          "image_size", "encoder"},
}
DISCRIMINATOR_KEYS: dict[str, set[str]] = {
    "patchgan": {"type", "in_channels", "ndf", "n_layers", "norm", "spectral_norm", "return_features", "init_gain"},
    "srgan": {"type", "in_channels", "base_channels", "norm", "spectral_norm", "return_features"},
    "multiscale": {"type", "num_D", "discriminator"},
}


def _keys_of_type(block: ConfigBlock, kind: str, allowed: Mapping[str, set[str]]) -> None:
    unknown = block.model_fields_set - allowed[kind] - {"type"}
    if unknown:
        raise unknown_keys_error(unknown, allowed[kind])


def _no_nulls(block: ConfigBlock, nullable: set[str] = frozenset()) -> None:
    """Refuse a key set to null where the network needs a value (null is not "the default":
    leaving the key out is)."""
    for key in sorted(block.model_fields_set - set(nullable)):
        if getattr(block, key) is None:
            raise inconsistent(key, "must not be null; leave it out for the default")


class StyleEncoderParams(ConfigBlock):
    """SPADE+VAE's style encoder: ``ndf``, ``n_downsampling`` stride-2 convs, ``spectral_norm``."""

    ndf: int | None = Field(None, gt=0)
    n_downsampling: int | None = Field(None, gt=0)
    spectral_norm: bool | None = None

    @model_validator(mode="after")
    def _values(self) -> StyleEncoderParams:
        _no_nulls(self)
        return self


class GeneratorModelParams(ConfigBlock):
    """``train.model``: the generator, ``type`` unet | resnet | pix2pixhd | spade, and the keys of
    that type (their defaults: ``models.generators.generator_defaults``,
    ``families.paired.networks.PIX2PIXHD_DEFAULTS`` / ``SPADE_DEFAULTS``). Unset keys take
    those defaults."""

    type: Literal["unet", "resnet", "pix2pixhd", "spade"] = "unet"
    in_channels: int | None = Field(None, gt=0)
    out_channels: int | None = Field(None, gt=0)
    ngf: int | None = Field(None, gt=0)
    init_gain: float | None = Field(None, gt=0)
    upsample: Literal["transpose", "upsample_conv"] | None = None
    upsample_mode: Literal["nearest", "bilinear"] | None = None
    num_downs: int | None = Field(None, ge=1, le=12)
    n_blocks: int | None = Field(None, ge=0)
    norm: Literal["batch", "instance", "none"] | None = None
    use_dropout: bool | None = None
    n_downsampling: int | None = Field(None, ge=0)
    local_enhancer: bool | None = None
    n_blocks_local: int | None = Field(None, ge=0)
    num_upsampling_layers: int | None = Field(None, ge=1)
    spade_hidden: int | None = Field(None, gt=0)
    spectral_norm: bool | None = None
    use_vae: bool | None = None
    z_dim: int | None = Field(None, gt=0)
    image_size: int | None = Field(None, gt=0)
    encoder: StyleEncoderParams | None = None

    @model_validator(mode="after")
    def _type_keys(self) -> GeneratorModelParams:
        from gan_pipelines.models.spade import MAX_UPSAMPLING_LAYERS, SPADE_NORM_TYPES

        _keys_of_type(self, self.type, GENERATOR_KEYS)
        _no_nulls(self, {"init_gain", "image_size", "encoder"})
        if self.type == "spade":
            if self.norm is not None and self.norm not in SPADE_NORM_TYPES:
                raise inconsistent("norm", f"must be one of {', '.join(SPADE_NORM_TYPES)} for a spade generator; "
                                           f"got {self.norm!r}")
            layers = self.num_upsampling_layers
            if layers is not None and layers > MAX_UPSAMPLING_LAYERS:
                raise inconsistent("num_upsampling_layers", f"must be an integer in 1..{MAX_UPSAMPLING_LAYERS}; "
                                                            f"got {layers}")
            if layers == MAX_UPSAMPLING_LAYERS and (self.ngf or 64) < 2:
                raise inconsistent("ngf", f"must be >= 2 with num_upsampling_layers={layers} (a block of width "
                                          f"ngf // 2); got {self.ngf}")
        if self.encoder is not None and not self.use_vae:
            raise inconsistent("encoder", "is set but use_vae is false: only the VAE variant has a style encoder")
        if self.image_size is not None and not self.use_vae:
            raise inconsistent("image_size", "only applies with use_vae (it fixes the z -> feature map layer)")
        if self.type == "pix2pixhd" and self.local_enhancer and (self.ngf or 64) % 2:
            raise inconsistent("ngf", f"must be even with local_enhancer (the local branch has ngf / 2 channels); "
                                      f"got {self.ngf}")
        if self.image_size is not None:
            from gan_pipelines.families.paired.networks import check_resolution

            try:  # the size the VAE's z -> feature map layer and style encoder are built for
                check_resolution(self.image_size, self.as_dict(), {"type": "srgan"}, "model")
            except ValueError as exc:
                raise inconsistent("image_size", f"is {self.image_size} px: "
                                   f"{str(exc).removeprefix(f'resolution {self.image_size} px: ')}") from None
        return self


class PatchDiscriminatorParams(ConfigBlock):
    """One discriminator: ``type`` patchgan (default) | srgan and the keys of that type
    (``models.discriminators.discriminator_defaults``)."""

    type: Literal["patchgan", "srgan"] = "patchgan"
    in_channels: int | None = Field(None, gt=0)
    ndf: int | None = Field(None, gt=0)
    base_channels: int | None = Field(None, gt=0)
    n_layers: int | None = Field(None, ge=1)
    norm: Literal["batch", "instance", "none"] | None = None
    spectral_norm: bool | None = None
    return_features: bool | None = None
    init_gain: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _type_keys(self) -> PatchDiscriminatorParams:
        _keys_of_type(self, self.type, DISCRIMINATOR_KEYS)
        _no_nulls(self, {"init_gain"})
        return self


class DiscriminatorParams(PatchDiscriminatorParams):
    """``train.discriminator``: a patchgan / srgan, or ``type: multiscale`` with ``num_D``
    scales of the ``discriminator`` block."""

    type: Literal["patchgan", "srgan", "multiscale"] = "patchgan"
    num_D: int | None = Field(None, ge=1)
    discriminator: PatchDiscriminatorParams | None = None

    def scale_block(self) -> ConfigBlock:
        """The block each scale is (the nested one of a multiscale discriminator)."""
        return (self.discriminator or PatchDiscriminatorParams()) if self.type == "multiscale" else self


class LossWeightsParams(ConfigBlock):
    """Weights (>= 0) of the loss terms; unset terms take the recipe's defaults (adversarial 1,
    l1 100, perceptual 0, tv 0; kl 0.05 with a style encoder)."""

    adversarial: float | None = Field(None, ge=0)
    l1: float | None = Field(None, ge=0)
    perceptual: float | None = Field(None, ge=0)
    tv: float | None = Field(None, ge=0)
    feature_matching: float | None = Field(None, ge=0)
    vgg19: float | None = Field(None, ge=0)
    kl: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _values(self) -> LossWeightsParams:
        _no_nulls(self)
        return self


class PerceptualParams(ConfigBlock):
    """The VGG16 feature loss (Sketch2Color): local ``weights_path``, ``if_unavailable``."""

    enabled: bool | None = None
    weights_path: str | None = None
    if_unavailable: Literal["disable", "error"] | None = None
    reduction: Literal["channel_sum", "mean"] | None = None
    precision: Literal["fp32", "auto"] | None = None


class Vgg19Params(ConfigBlock):
    """The VGG19 perceptual loss (pix2pixHD, SPADE): ``enabled``, local ``weights_path``, ``if_unavailable``."""

    enabled: bool | None = None
    weights_path: str | None = None
    if_unavailable: Literal["disable", "error"] | None = None


class TrainParams(StageParams):
    """``<family>.train`` (and sketch2color's ``train_plain``): input and target kinds, the
    networks (``model``, ``discriminator``), the GAN loss (``gan_mode``, ``real_label``,
    ``loss_weights``, ``perceptual``, ``vgg19``), Adam (``lr_*``, ``betas``, ``d_every``),
    pix2pixHD's phases (``global_epochs``, ``freeze_global_epochs``), loaders and ``training``.
    The class count is ``<family>.ingest.label_nc``: a ``label_nc`` here is refused."""

    input_kind: str | None = None
    target_kind: str | None = None
    instance_edges: bool = False
    instance_kind: str | None = None
    model: GeneratorModelParams = Field(default_factory=GeneratorModelParams)
    discriminator: DiscriminatorParams = Field(default_factory=DiscriminatorParams)
    joint_discriminator_pass: Literal["auto", True, False] = "auto"
    gan_mode: Literal["vanilla", "lsgan", "hinge"] = "vanilla"
    real_label: float = Field(1.0, gt=0.5, le=1.0)
    loss_weights: LossWeightsParams = Field(default_factory=LossWeightsParams)
    perceptual: PerceptualParams | None = None
    vgg19: Vgg19Params | None = None
    d_every: int = Field(1, ge=1)
    lr_generator: float = Field(2e-4, gt=0, lt=1)
    lr_discriminator: float = Field(2e-4, gt=0, lt=1)
    betas: list[float] = Field(default_factory=lambda: [0.5, 0.999], min_length=2, max_length=2)
    batch_size: int = Field(gt=0)
    augmentation: dict[str, Any] | None = None
    num_workers: int = Field(0, ge=0)
    global_epochs: int = Field(0, ge=0)
    freeze_global_epochs: int = Field(0, ge=0)
    training: TrainingParams

    @model_validator(mode="before")
    @classmethod
    def _class_count_is_ingests(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "label_nc" in data:
            family = _family(cls.section)
            raise inconsistent("label_nc", f"is not a parameter any more: the number of classes is set once, as "
                                           f"{family}.ingest.label_nc, for every stage; remove it here")
        return data

    @field_validator("betas")
    @classmethod
    def _betas(cls, value: list[float]) -> list[float]:
        if not all(0 <= beta < 1 for beta in value):
            raise ValueError(f"must be two numbers in [0, 1); got {value}")
        return value

    @field_validator("augmentation")
    @classmethod
    def _jitter(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from gan_pipelines.training.data import ResizeCropFlip

        where = f"{cls.section or 'train'}.augmentation"
        return checked_by(ResizeCropFlip.from_params, value, where) if value else value

    def crop_size(self) -> int | None:
        """The side the generator trains at when augmentation crops (square crops only), else None."""
        crop = (self.augmentation or {}).get("crop_size")
        if isinstance(crop, list):
            return crop[0] if crop[0] == crop[1] else None
        return crop

    @model_validator(mode="after")
    def _consistent(self) -> TrainParams:
        from gan_pipelines.families.paired.layout import KIND_TYPES, TARGET_KIND
        from gan_pipelines.families.paired.networks import check_resolution

        kind = self.input_kind
        if kind not in KIND_TYPES:
            raise inconsistent("input_kind", f"must be one of {', '.join(sorted(KIND_TYPES))}; got {kind!r}")
        if KIND_TYPES[kind] == "mask":
            raise inconsistent("input_kind", f"{kind!r} is a mask kind; paired inputs are label maps or images")
        if self.instance_edges and KIND_TYPES.get(self.instance_kind) != "labels":
            raise inconsistent("instance_kind", f"must name a label kind when instance_edges is on; got "
                                                f"{self.instance_kind!r}")
        target_kind = self.target_kind or TARGET_KIND
        if KIND_TYPES.get(target_kind) != "rgb":
            raise inconsistent("target_kind", f"must be an RGB kind; got {target_kind!r}")
        weights = self.loss_weights
        use_vae = self.model.type == "spade" and bool(self.model.use_vae)
        local = self.model.type == "pix2pixhd" and bool(self.model.local_enhancer)
        if self.gan_mode == "hinge" and self.real_label != 1.0:
            raise inconsistent("real_label", "must be 1.0 with gan_mode hinge (the hinge loss has no labels)")
        if (weights.kl or 0) > 0 and not use_vae:
            raise inconsistent("loss_weights.kl", "needs a style encoder (model.type spade with use_vae: true)")
        if (weights.feature_matching or 0) > 0 and not self.discriminator.scale_block().return_features:
            where = "discriminator.discriminator" if self.discriminator.type == "multiscale" else "discriminator"
            raise inconsistent("loss_weights.feature_matching", f"needs {self.section or 'train'}.{where}.return_features: true")
        if (self.global_epochs or self.freeze_global_epochs) and not local:
            raise inconsistent("global_epochs", "and freeze_global_epochs apply to model.type pix2pixhd with "
                                                "local_enhancer: true only; set them to 0")
        if self.freeze_global_epochs and not self.global_epochs:
            raise inconsistent("freeze_global_epochs", f"is {self.freeze_global_epochs} but global_epochs is 0: "
                                                       "freezing an untrained global generator trains nothing useful")
        if self.freeze_global_epochs > self.training.epochs:
            raise inconsistent("freeze_global_epochs", f"({self.freeze_global_epochs}) is more than training.epochs "
                                                       f"({self.training.epochs})")
        if local and self.freeze_global_epochs and (self.training.devices > 1 or self.training.nodes > 1):
            raise inconsistent("freeze_global_epochs", "changes which parameters train mid-run, which data-parallel "
                                                       "training cannot follow; use training.devices: 1 and "
                                                       "training.nodes: 1")
        if local and self.augmentation:
            raise inconsistent("augmentation", "must be null with model.local_enhancer: the pix2pixHD global phase "
                                               "trains at half resolution")
        crop = self.crop_size()
        if crop is not None:
            try:
                check_resolution(crop, self.model.as_dict(), self.discriminator.as_dict(), self.section or "train")
            except ValueError as exc:
                raise inconsistent("augmentation.crop_size", f"is {crop} px: {str(exc).removeprefix(f'resolution {crop} px: ')}")
        return self


class JitterParams(ConfigBlock):
    """The judge's colour jitter: ``hue`` (0..0.5 of the colour circle), ``saturation`` and
    ``brightness`` (0..1), ``grey_p`` (probability)."""

    hue: float = 0.0
    saturation: float = 0.0
    brightness: float = 0.0
    grey_p: float = 0.0

    @model_validator(mode="after")
    def _ranges(self) -> JitterParams:
        for key, upper in (("brightness", 1.0), ("saturation", 1.0), ("hue", 0.5), ("grey_p", 1.0)):
            value = getattr(self, key)
            if not 0 <= value <= upper:
                raise inconsistent(key, f"must be a number in [0, {upper}], got {value!r}")
        return self


class JudgeAugmentationParams(ConfigBlock):
    hflip_p: float = Field(0.5, ge=0, le=1)
    colour_jitter: JitterParams | None = None


class JudgeModelParams(ConfigBlock):
    """The segmentation judge (``models.segmenter.SEGMENTER_DEFAULTS``)."""

    encoder: str | None = None
    encoder_depth: int | None = Field(None, ge=1, le=5)
    decoder_channels: list[int] | None = None
    encoder_weights: Literal["imagenet"] | None = None
    weights_path: str | None = None
    if_unavailable: Literal["random", "error"] | None = None


class TrainJudgeParams(StageParams):
    """``<family>.train_judge``: the segmenter that scores generated pictures. Classes and the
    don't-care value are ``<family>.ingest.label_nc`` / ``ignore_value``; ``training.precision``
    is always fp32."""

    image_kind: str = Field(min_length=1)
    label_kind: str = Field(min_length=1)
    model: JudgeModelParams = Field(default_factory=JudgeModelParams)
    spread_seeds: list[int] = Field(default_factory=list)
    shared_store: str | None = None
    batch_size: int = Field(gt=0)
    lr: float = Field(3e-3, gt=0, lt=1)
    num_workers: int = Field(0, ge=0)
    augmentation: JudgeAugmentationParams | None = Field(default_factory=JudgeAugmentationParams)
    training: TrainingParams

    @model_validator(mode="before")
    @classmethod
    def _classes_are_ingests(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            family = _family(cls.section)
            for key, ingest_key in (("num_classes", "label_nc"), ("ignore_index", "ignore_value")):
                if key in data:
                    raise inconsistent(key, f"is not a parameter any more: it is {family}.ingest.{ingest_key}, set once "
                                            "for every stage; remove it here")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainJudgeParams:
        if "precision" in self.training.model_fields_set and self.training.precision != "fp32":
            raise inconsistent("training.precision", f"is {self.training.precision!r}, but the segmentation judge "
                                                     "always trains in fp32 so that its scores hold on every machine")
        seeds = self.spread_seeds
        if self.training.seed in seeds or len(set(seeds)) != len(seeds):
            raise inconsistent("spread_seeds", f"({seeds}) must be distinct and differ from training.seed "
                                               f"{self.training.seed}")
        return self


class JudgeParams(TrainJudgeParams):
    """What :func:`gan_pipelines.families.paired.judge.train_judge` reads: ``train_judge``'s
    parameters with the class count (``num_classes``, >= 2) and don't-care value
    (``ignore_index``, outside the classes) that a pipeline takes from ``<family>.ingest``
    (:meth:`with_classes`) and a direct call gives beside them."""

    num_classes: int = Field(ge=2)
    ignore_index: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _classes_are_ingests(cls, data: Any) -> Any:  # here they are given: no refusal
        return data

    @model_validator(mode="after")
    def _ignore_outside_classes(self) -> JudgeParams:
        if self.ignore_index is not None and 0 <= self.ignore_index < self.num_classes:
            raise inconsistent("ignore_index", f"{self.ignore_index} is one of the classes 0..{self.num_classes - 1}; "
                                               "use a value outside the class range (e.g. 255)")
        return self

    @classmethod
    def with_classes(cls, stage: TrainJudgeParams, num_classes: int, ignore_index: int | None) -> JudgeParams:
        """``stage`` (validated) with the ingest's class count, not validated again (the ingest
        model checked the count and the ignore value)."""
        model = cls.in_section(stage.section) if stage.section else cls
        values = {name: getattr(stage, name) for name in TrainJudgeParams.model_fields}
        return model.model_construct(_fields_set=stage.model_fields_set | {"num_classes", "ignore_index"},
                                     **values, num_classes=num_classes, ignore_index=ignore_index)


# --------------------------------------------------------------------------------------------
# evaluate, report, predict, export, compare_label_to_photo
# --------------------------------------------------------------------------------------------


class BleedParams(ConfigBlock):
    line_threshold: int | None = Field(None, ge=0, le=255)
    offset: int | None = Field(None, ge=1)
    min_contrast: float | None = Field(None, ge=0)


class MetricsParams(ConfigBlock):
    """The evaluation protocol's settings (``families.paired.evaluation.EVALUATE_DEFAULTS``)."""

    judge_batch_size: int | None = Field(None, gt=0)
    device: Device | None = None
    inception_weights_path: str | None = None
    lpips_weights_path: str | None = None
    feature_batch_size: int | None = Field(None, gt=0)
    bleed: BleedParams | None = None
    bootstrap_resamples: int | None = Field(None, ge=100)


class EvaluateParams(StageParams):
    """``<family>.evaluate``: batch size and device of the test pass, the ``label_kind`` the
    judge scores against, the protocol's ``metrics`` settings; SPADE+VAE: ``style_seed`` and
    ``diversity_samples`` (outputs per test map for the diversity figures, measured in the judge's
    feature space: 0 off, else >= 2); ``allow_stale`` scores a model trained on other data."""

    batch_size: int = Field(16, gt=0)
    device: Device = "auto"
    label_kind: str | None = None
    metrics: MetricsParams = Field(default_factory=MetricsParams)
    style_seed: int = Field(0, ge=0)
    diversity_samples: int = Field(0, ge=0)
    allow_stale: bool = False

    @field_validator("diversity_samples")
    @classmethod
    def _diversity(cls, value: int) -> int:
        if value == 1:
            raise ValueError("must be 0 (off) or an integer >= 2; got 1")
        return value


class ReportParams(StageParams):
    """``<family>.report``: ``num_examples`` rows ranked by the per-image metric ``rank_by``, ``seed``."""

    num_examples: int = Field(4, gt=0)
    rank_by: str = "l1"
    seed: int = 0


class PredictParams(StageParams):
    """``<family>.predict``: ``input_dir`` -> ``output_dir`` with the torch checkpoint or the ONNX
    file (``backend``, ``onnx_path``); pix2pixHD: ``instance_dir``; SPADE+VAE: ``num_samples``
    seeded styles (``seed``) or a ``style_image``. Torch backend: ``precision`` of the forward
    pass (``fp32``; ``auto`` = bf16 where the device has it) and ``compile`` (``torch.compile``:
    a one-time compile per picture size, then faster pictures)."""

    input_dir: str = Field(min_length=1)
    output_dir: str = Field(min_length=1)
    device: Device = "auto"
    backend: Literal["torch", "onnx"] = "torch"
    onnx_path: str | None = None
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "fp32"
    compile: bool = False
    instance_dir: str | None = None
    num_samples: int = Field(1, ge=1)
    style_image: str | None = None
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _onnx_path(self) -> PredictParams:
        if self.backend == "onnx" and not self.onnx_path:
            raise inconsistent("onnx_path", "must name the exported model when backend is onnx")
        return self


class CompareParams(StageParams):
    """``compare_label_to_photo``: the comparison's batch size, device, ``style_seed`` of the
    style-sampling generators (SPADE+VAE, MUNIT), ``diversity_samples`` (outputs per test map for
    the diversity figures, >= 2), picture-grid rows, protocol ``metrics``, ``allow_stale``."""

    batch_size: int = Field(16, ge=1)
    device: Device = "auto"
    style_seed: int = Field(0, ge=0)
    diversity_samples: int = Field(8, ge=2)
    num_examples: int = Field(6, ge=1)
    metrics: MetricsParams = Field(default_factory=MetricsParams)
    allow_stale: bool = False


STAGE_MODELS: dict[str, type[StageParams]] = {
    "ingest": IngestParams,
    "preprocess": PreprocessParams,
    "train_judge": TrainJudgeParams,
    "train": TrainParams,
    "train_plain": TrainParams,
    "evaluate": EvaluateParams,
    "report": ReportParams,
    "predict": PredictParams,
    "export": ExportParams,
}


COMPARE_NAMESPACE = "compare_label_to_photo"
CompareConfig = CompareParams.in_section(COMPARE_NAMESPACE)  # the compare node's annotation


def stage_model(namespace: str, stage: str) -> type[StageParams]:
    """The model of ``<namespace>.<stage>`` (``compare_label_to_photo``: the comparison's, whatever the stage)."""
    if namespace == COMPARE_NAMESPACE:
        return CompareConfig
    return STAGE_MODELS[stage].in_section(f"{namespace}.{stage}")


# --------------------------------------------------------------------------------------------
# train parameters -> network configs
# --------------------------------------------------------------------------------------------


def input_config(params: Mapping[str, Any], kind_types: Mapping[str, str], section: str) -> dict[str, Any]:
    """``{kind, type, label_nc, instance_edges, instance_kind}`` of train parameters that their
    model (:class:`TrainParams`) validated: the kinds are not checked again here. ``label_nc``
    (``<family>.ingest.label_nc``, or given beside the parameters by a direct call) must be an
    integer in 1..255 for a label-map input."""
    kind = params.get("input_kind")
    input_type = kind_types[kind]
    label_nc = params.get("label_nc") if input_type == "labels" else 0
    if input_type == "labels" and (isinstance(label_nc, bool) or not isinstance(label_nc, int) or not 1 <= label_nc <= 255):
        raise ValueError(f"{section}.label_nc must be an integer in 1..255 for a label-map input; got {label_nc!r}")
    edges = bool(params.get("instance_edges", False))
    instance_kind = params.get("instance_kind") if edges else None
    return {"kind": kind, "type": input_type, "label_nc": int(label_nc or 0), "instance_edges": edges,
            "instance_kind": instance_kind}


def network_configs(params: Mapping[str, Any], input_cfg: Mapping[str, Any], section: str) -> tuple[dict, dict]:
    """Generator and discriminator configs with the channel counts filled in from the input
    (a user-set channel count that disagrees is an error, not silently replaced). For a
    multi-scale discriminator the channels go into its nested per-scale config."""
    from gan_pipelines.families.paired.networks import encoder_from_config

    encoder = encoder_from_config(input_cfg)
    generator = dict(params.get("model") or {})
    discriminator = {"type": "patchgan", **dict(params.get("discriminator") or {})}
    where_d, config_d = "discriminator", discriminator
    if discriminator["type"] == "multiscale":
        nested = discriminator.get("discriminator") or {}
        if not isinstance(nested, Mapping):
            raise ValueError(f"{section}.discriminator.discriminator must be a mapping (the per-scale PatchGAN)")
        config_d = discriminator["discriminator"] = {"type": "patchgan", **dict(nested)}
        where_d = "discriminator.discriminator"
    for config, key, value, where in (
        (generator, "in_channels", encoder.channels, "model"),
        (generator, "out_channels", 3, "model"),
        (config_d, "in_channels", encoder.channels + 3, where_d),
    ):
        if key in config and config[key] != value:
            raise ValueError(f"{section}.{where}.{key} is {config[key]} but the input needs {value}; leave it out")
        config[key] = value
    return generator, discriminator


# --------------------------------------------------------------------------------------------
# pairs across stages
# --------------------------------------------------------------------------------------------


def check_stages(namespace: str, stages: Mapping[str, Any]) -> None:
    """The pairs of ``<namespace>``'s stages (``stages``: stage -> its parameters, validated
    objects or dicts; pairs with a stage missing are skipped):

    * ``preprocess.resolution`` must suit each trained generator and discriminator
      (``train``, ``train_plain``): a multiple of the generator's factor, a PatchGAN map of at
      least 2x2, and the crop (``augmentation.crop_size``) equal to it;
    * a generator reading label maps needs ``ingest.label_nc`` (null only for sketches);
    * ``train.instance_edges`` needs ``ingest.instances`` (every sample with an instance map).

    Raises :class:`ParameterError` naming both keys of every bad pair."""
    from gan_pipelines.families.paired.layout import KIND_TYPES, LABEL_KIND
    from gan_pipelines.families.paired.networks import check_resolution

    parsed = {stage: stage_model(namespace, stage).parse(value) for stage, value in stages.items()}
    ingest, preprocess = parsed.get("ingest"), parsed.get("preprocess")
    problems = []
    for stage in ("train", "train_plain"):
        train = parsed.get(stage)
        if train is None:
            continue
        section = f"{namespace}.{stage}"
        if preprocess is not None:
            resolution = preprocess.resolution
            try:
                check_resolution(resolution, train.model.as_dict(), train.discriminator.as_dict(), section)
            except ValueError as exc:
                problems.append(f"{namespace}.preprocess.resolution: {exc}")
            crop = train.crop_size()
            if crop is not None and crop != resolution:
                problems.append(f"{section}.augmentation.crop_size is {crop} but {namespace}.preprocess.resolution is "
                                f"{resolution}: train and test must see the same size (set load_size above it for "
                                "the resize-and-crop jitter)")
        if ingest is not None:
            reads_labels = KIND_TYPES.get(train.input_kind or LABEL_KIND) == "labels"
            if reads_labels and ingest.label_nc is None and ingest.source != "synthetic":
                problems.append(f"{namespace}.ingest.label_nc is null but {section} trains on label maps: set the "
                                "number of classes of your label maps there")
            if train.instance_edges and reads_labels and not ingest.instances:
                problems.append(f"{section}.instance_edges is true but {namespace}.ingest.instances is false: set "
                                f"{namespace}.ingest.instances: true (with <split>/instance/<name>.png maps), or "
                                f"{section}.instance_edges: false")
    if problems:
        raise ParameterError("Inconsistent parameters:\n" + "\n".join(f"  {problem}" for problem in problems))
