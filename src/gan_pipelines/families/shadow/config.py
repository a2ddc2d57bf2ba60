"""The shadow family's parameters, one typed model per stage (``shadow.<stage>`` in conf/).

Kedro validates them before any node runs (the nodes' ``params`` inputs are annotated with
these models); a node called with a plain dict validates it through the same model
(:meth:`~gan_pipelines.params.StageParams.parse`). Unknown keys are refused, values checked
(types, ranges, choices), and pairs inside a stage (``training.lr_constant_epochs`` against
``training.epochs``) too; no shadow pair spans two stages. Errors name the
full key, e.g. ``shadow.train_generator.training.epochs``. Defaults left out of conf are the
code's (the networks', the renderer's, the trainer's), so a key missing from conf behaves as
before.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gan_pipelines.families.shadow.evaluation import SHADOW_DIFF_THRESHOLD
from gan_pipelines.params import (
    ConfigBlock, ExportParams, PreprocessParams, StageParams, TrainingParams, checked_by, inconsistent,
)

NAMESPACE = "shadow"


class ShadowIngestParams(StageParams):
    """``shadow.ingest``: ``source`` synthetic (the embedded renderer, ``synthetic`` its
    :class:`~gan_pipelines.synthetic.SyntheticConfig` settings) or shadow_ar (``path``: a
    Shadow-AR folder or .zip); ``on_invalid`` error | skip."""

    source: Literal["synthetic", "shadow_ar"] = "synthetic"
    path: str | None = None
    on_invalid: Literal["error", "skip"] = "error"
    synthetic: dict[str, Any] = Field(default_factory=dict)

    @field_validator("synthetic")
    @classmethod
    def _renderer_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gan_pipelines.synthetic import SyntheticConfig

        where = f"{cls.section or NAMESPACE + '.ingest'}.synthetic"
        return checked_by(lambda v: SyntheticConfig.from_params(v, section=where), value, where)

    @model_validator(mode="after")
    def _path_for_real_data(self) -> ShadowIngestParams:
        if self.source == "shadow_ar" and not self.path:
            raise inconsistent("path", "must name a Shadow-AR folder or .zip when source is shadow_ar")
        return self


class ShadowPreprocessParams(PreprocessParams):
    """``shadow.preprocess``; ``resolution`` a multiple of 32 (the U-Net encoders downsample
    five times)."""

    @model_validator(mode="after")
    def _multiple(self) -> ShadowPreprocessParams:
        from gan_pipelines.families.shadow.networks import RESOLUTION_MULTIPLE

        if self.resolution % RESOLUTION_MULTIPLE:
            raise inconsistent("resolution", f"must be a multiple of {RESOLUTION_MULTIPLE} (the U-Net encoders "
                               f"downsample {RESOLUTION_MULTIPLE.bit_length() - 1} times); got {self.resolution}")
        return self


class UNetModelParams(ConfigBlock):
    """A segmentation-models U-Net (the attention block, the generator's encoder-decoder): keys
    and defaults of ``families.shadow.networks.ATTENTION_DEFAULTS`` / ``GENERATOR_DEFAULTS``."""

    encoder: str | None = None
    decoder_channels: list[int] | None = None
    encoder_weights: Literal["imagenet"] | None = None
    weights_path: str | None = None
    if_unavailable: Literal["random", "error"] | None = None


class GeneratorModelParams(UNetModelParams):
    """The shadow generator: the U-Net keys plus ``refinement_blocks`` (>= 0), ``composition``
    (additive | multiplicative) and ``projection_hint`` (the cast-shadow hint channel)."""

    refinement_blocks: int | None = Field(None, ge=0)
    composition: Literal["additive", "multiplicative"] | None = None
    projection_hint: bool | None = None


class AugmentationParams(ConfigBlock):
    """The reference's paired augmentation (:class:`~gan_pipelines.training.AugmentConfig`);
    ``{}`` = its defaults."""

    hflip_p: float | None = Field(None, ge=0, le=1)
    rotate_p: float | None = Field(None, ge=0, le=1)
    rotate_limit: float | None = Field(None, ge=0, le=180)
    noise_p: float | None = Field(None, ge=0, le=1)
    color_p: float | None = Field(None, ge=0, le=1)


class _ShadowTraining(StageParams):
    batch_size: int = Field(gt=0)
    augmentation: AugmentationParams = Field(default_factory=AugmentationParams)
    num_workers: int = Field(0, ge=0)
    training: TrainingParams


class AttentionParams(_ShadowTraining):
    """``shadow.train_attention``: the attention U-Net (``model``), Adam ``lr``, loaders,
    ``training``."""

    model: UNetModelParams = Field(default_factory=UNetModelParams)
    lr: float = Field(1e-4, gt=0, lt=1)


class DiscriminatorParams(ConfigBlock):
    """The SRGAN-style patch discriminator (``models.discriminators``, type srgan)."""

    type: Literal["srgan"] | None = None
    in_channels: int | None = Field(None, gt=0)
    base_channels: int | None = Field(None, gt=0)
    norm: Literal["batch", "instance", "none"] | None = None
    spectral_norm: bool | None = None
    return_features: bool | None = None


class LossWeightsParams(ConfigBlock):
    """Weights (>= 0) of the generator's loss terms (``families.shadow.tasks.GeneratorLossWeights``)."""

    l2: float | None = Field(None, ge=0)
    perceptual: float | None = Field(None, ge=0)
    adversarial: float | None = Field(None, ge=0)
    shadow_region: float | None = Field(None, ge=0)


class PerceptualParams(ConfigBlock):
    """The VGG16 feature loss: ``enabled``, local ``weights_path``, ``if_unavailable`` disable | error."""

    enabled: bool | None = None
    weights_path: str | None = None
    if_unavailable: Literal["disable", "error"] | None = None
    reduction: Literal["channel_sum", "mean"] | None = None
    precision: Literal["fp32", "auto"] | None = None


class GeneratorParams(_ShadowTraining):
    """``shadow.train_generator``: generator (``model``) and ``discriminator``, Adam learning
    rates, ``loss_weights``, ``perceptual``, which ``attention_masks`` it trains on, loaders,
    ``training``."""

    model: GeneratorModelParams = Field(default_factory=GeneratorModelParams)
    discriminator: DiscriminatorParams = Field(default_factory=DiscriminatorParams)
    lr_generator: float = Field(1e-4, gt=0, lt=1)
    lr_discriminator: float = Field(1e-6, gt=0, lt=1)
    loss_weights: LossWeightsParams = Field(default_factory=LossWeightsParams)
    perceptual: PerceptualParams = Field(default_factory=PerceptualParams)
    attention_masks: Literal["ground_truth", "predicted", "mixed"] = "ground_truth"


class EvaluateParams(StageParams):
    """``shadow.evaluate``: batch size, the shadow ``mask_threshold`` (grey difference, 0..255),
    device and precision; ``bootstrap_resamples`` (>= 100) and ``seed`` of the test metrics'
    95% intervals."""

    batch_size: int = Field(16, gt=0)
    mask_threshold: float = Field(SHADOW_DIFF_THRESHOLD, ge=0, le=255)
    bootstrap_resamples: int = Field(2000, ge=100)
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"


class ReportParams(StageParams):
    """``shadow.report``: example grids (``num_examples``, ``rank_by`` a test metric, ``seed``)
    and the real-photos section (``real_photos``: shown or not, the photos being the catalog
    entry ``shadow.real_photos``; ``real_photos_before``, its label)."""

    num_examples: int = Field(4, gt=0)
    rank_by: str = "LRMSE"
    seed: int = 0
    # checked by the report's own rules (families.shadow.nodes.report.real_photos_*_setting)
    real_photos: Any = None
    real_photos_before: Any = None
    real_photos_before_label: Any = None

    @model_validator(mode="before")
    @classmethod
    def _former_real_photos_dir(cls, data: Any) -> Any:
        """``real_photos_dir`` (the folder, before it became a catalog entry) is refused saying
        where the folder is set now, not as an unknown key."""
        if isinstance(data, dict) and "real_photos_dir" in data:
            from gan_pipelines.families.shadow.nodes.report import real_photos_setting

            try:
                real_photos_setting(data)
            except ValueError as exc:
                message = str(exc).removeprefix(f"{cls.section or NAMESPACE + '.report'}.real_photos_dir ")
                raise inconsistent("real_photos_dir", message) from None
        return data

    @field_validator("rank_by")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from gan_pipelines.families.shadow.nodes.report import METRIC_ORDER

        if value not in METRIC_ORDER:
            raise ValueError(f"rank_by must be one of {', '.join(METRIC_ORDER)}; got {value!r}")
        return value

    @model_validator(mode="after")
    def _real_photos(self) -> ReportParams:
        from gan_pipelines.families.shadow.nodes.report import real_photos_before_setting, real_photos_setting

        real_photos_setting(self.as_dict())
        real_photos_before_setting(self.as_dict())
        return self


class PredictParams(StageParams):
    """``shadow.predict``: ``input_dir`` (noshadow/ and mask/ images) -> ``output_dir``; backend
    torch (the catalog's checkpoints) or onnx (``onnx_path``); the light-consistency
    ``mask_threshold`` (0..255) and ``overlays``; how the shadow reaches the photo's size,
    ``full_resolution`` (sharp | upsampled) with the sharp shadow's edge ``steepness`` (>= 1) and
    ``strength`` (its darkness: the scene's own shadows', or the model's); ``compile`` (torch
    backend): the blocks through ``torch.compile`` (a one-time compile, then faster pictures)."""

    input_dir: str = Field(min_length=1)
    output_dir: str = Field(min_length=1)
    device: str = "auto"
    backend: Literal["torch", "onnx"] = "torch"
    onnx_path: str | None = None
    compile: bool = False
    mask_threshold: float = Field(SHADOW_DIFF_THRESHOLD, ge=0, le=255)
    overlays: bool = True
    full_resolution: Literal["sharp", "upsampled"] = "sharp"
    steepness: float = Field(2.0, ge=1)
    strength: Literal["scene", "model"] = "scene"

    @model_validator(mode="after")
    def _onnx_path(self) -> PredictParams:
        if self.backend == "onnx" and not self.onnx_path:
            raise inconsistent("onnx_path", "must name the exported model when backend is onnx")
        return self


STAGE_MODELS: dict[str, type[StageParams]] = {
    "ingest": ShadowIngestParams,
    "preprocess": ShadowPreprocessParams,
    "train_attention": AttentionParams,
    "train_generator": GeneratorParams,
    "evaluate": EvaluateParams,
    "report": ReportParams,
    "predict": PredictParams,
    "export": ExportParams,
}
# The node annotations: each stage's model at its key (Kedro validates params:shadow.<stage> with it).
IngestConfig = ShadowIngestParams.in_section("shadow.ingest")
PreprocessConfig = ShadowPreprocessParams.in_section("shadow.preprocess")
AttentionConfig = AttentionParams.in_section("shadow.train_attention")
GeneratorConfig = GeneratorParams.in_section("shadow.train_generator")
EvaluateConfig = EvaluateParams.in_section("shadow.evaluate")
ReportConfig = ReportParams.in_section("shadow.report")
PredictConfig = PredictParams.in_section("shadow.predict")
ExportConfig = ExportParams.in_section("shadow.export")

