"""segsynth's parameters: one typed model per stage, validated by Kedro before any node runs (the
pipeline annotates each node's ``params:`` inputs with :func:`stage_model`) and by
:meth:`~gan_pipelines.params.StageParams.parse` in a direct call. Unknown keys are refused and
errors name the full key (``segsynth.experiment.segmenter.epochs``).

* ``segsynth.ingest``: the paired families' ingest (``source`` synthetic | aligned | folders,
  ``path``, ``label_nc``, ...) plus ``background_classes``;
* ``segsynth.preprocess``: ``resolution``, ``val_fraction`` (a fixed set of real pictures every
  arm's training curve is logged on; never used to choose anything), ``seed``;
* ``segsynth.generator``: the label map -> photo generator, exactly a paired family's ``train``
  block (SPADE by default; ``model.type`` unet | resnet | pix2pixhd | spade);
* ``segsynth.unpaired_generator``: exactly ``ugatit.train``'s block, for
  ``experiment.generator: ugatit`` (U-GAT-IT trained on the N maps and N pictures as two
  unpaired domains, the source review's best unsupervised model);
* ``segsynth.experiment``: seeds, N, K, the synthetic maps, the segmenter and its schedule;
* ``segsynth.verdict``: the metric the rule reads and the interval's confidence;
* ``segsynth.report``: how many examples the grids show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gan_pipelines.families.paired.config import IngestParams as PairedIngestParams
from gan_pipelines.families.paired.config import TrainParams
from gan_pipelines.families.unpaired.config import UGATITTrainParams
from gan_pipelines.params import ConfigBlock, ParameterError, PreprocessParams, StageParams, checked_by, inconsistent


# The embedded scenes' classes that are not objects: ground and sky.
SYNTHETIC_BACKGROUND_CLASSES = (0, 5)


class IngestParams(PairedIngestParams):
    """``segsynth.ingest``: the paired ingest's keys, and ``background_classes``: the classes that
    are not objects (ground, wall, sky...); null: ``[0]`` for your data, ground and sky (0, 5)
    for the embedded scenes (:meth:`backgrounds`)."""

    background_classes: list[int] | None = Field(None, min_length=1)

    def backgrounds(self) -> tuple[int, ...]:
        """The background classes in force."""
        if self.background_classes is not None:
            return tuple(self.background_classes)
        return SYNTHETIC_BACKGROUND_CLASSES if self.source == "synthetic" else (0,)

    @model_validator(mode="after")
    def _background_classes(self) -> IngestParams:
        from gan_pipelines.families.paired.nodes.ingest import ingested_class_count

        classes = list(self.backgrounds())
        if len(set(classes)) != len(classes) or min(classes) < 0:
            raise inconsistent("background_classes", f"must be distinct class indices >= 0, got {classes}")
        label_nc, _ = ingested_class_count(self.as_dict(), "segsynth")
        if label_nc is None:
            raise inconsistent("label_nc", "must be set: segsynth trains segmenters on your class maps")
        if max(classes) >= label_nc:
            raise inconsistent("background_classes", f"must be classes of 0..label_nc-1 = 0..{label_nc - 1}, got {classes}")
        if len(classes) >= label_nc:
            raise inconsistent("background_classes", f"lists every one of the {label_nc} classes: no class is left "
                                                     "as objects to count and paste")
        return self

    def paired_ingest(self) -> dict[str, Any]:
        """The keys the paired ingest reads (all but ``background_classes``)."""
        return {k: v for k, v in self.as_dict().items() if k != "background_classes"}


class MasksParams(ConfigBlock):
    """``experiment.masks``: how synthetic label maps are made. ``objects_per_map``: [low, high]
    objects pasted on each empty canvas (inclusive); ``scale``: [low, high] size factors;
    ``flip_p``: left-right flip probability; ``max_hidden``: a paste may hide at most this share
    of an earlier object; ``predicted_share``: the share of the K maps taken instead from the
    arm-A segmenter's predictions on the unlabelled pictures (capped by how many there are)."""

    objects_per_map: list[int] = Field(default_factory=lambda: [1, 6], min_length=2, max_length=2)
    scale: list[float] = Field(default_factory=lambda: [0.8, 1.2], min_length=2, max_length=2)
    flip_p: float = Field(0.5, ge=0, le=1)
    max_hidden: float = Field(0.5, ge=0, le=1)
    predicted_share: float = Field(0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _ranges(self) -> MasksParams:
        low, high = self.objects_per_map
        if not 1 <= low <= high:
            raise inconsistent("objects_per_map", f"must be [low, high] with 1 <= low <= high, got {[low, high]}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise inconsistent("scale", f"must be [low, high] with 0 < low <= high, got {list(self.scale)}")
        return self


class AugmentationParams(ConfigBlock):
    """``experiment.segmenter.augmentation``: arm A_aug's per-picture augmentation
    (albumentations): horizontal flip ``hflip_p``; scale in [1 - ``scale``, 1 + ``scale``] and
    shift of up to ``shift`` of the side (label maps nearest); brightness, contrast and
    saturation factors in [1 - ``colour``, 1 + ``colour``] and hue within ``hue`` of the circle."""

    hflip_p: float = Field(0.5, ge=0, le=1)
    scale: float = Field(0.2, ge=0, lt=1)
    shift: float = Field(0.1, ge=0, lt=1)
    colour: float = Field(0.2, ge=0, lt=1)
    hue: float = Field(0.05, ge=0, le=0.5)


class SegmenterParams(ConfigBlock):
    """``experiment.segmenter``: the segmenter every arm trains (a small smp U-Net,
    :data:`gan_pipelines.models.segmenter.SEGMENTER_DEFAULTS` keys in ``model``), cross-entropy
    plus ``dice_weight`` x soft Dice, Adam ``lr``; ``epochs`` (E) over the N real pictures,
    ``pretrain_epochs`` over the K made ones; each phase keeps its lr for half its epochs, then
    decays it linearly. ``mix_real_share``: B_mix's share of real pictures among the pictures it
    sees. Always fp32 (``precision`` is fixed): segmenters judge, and bf16 moved scores between
    CPUs. ``calibration_batches``: batches of the phase's training pictures that re-estimate
    BatchNorm statistics before the weights are kept."""

    model: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(16, ge=2)
    lr: float = Field(3e-3, gt=0)
    epochs: int = Field(30, ge=1)
    pretrain_epochs: int = Field(3, ge=1)
    dice_weight: float = Field(1.0, ge=0)
    mix_real_share: float = Field(0.5, gt=0, lt=1)
    calibration_batches: int = Field(8, ge=1)
    augmentation: AugmentationParams = Field(default_factory=AugmentationParams)
    precision: Literal["fp32"] = "fp32"
    device: str = "auto"
    progress: bool = True

    @field_validator("model")
    @classmethod
    def _segmenter(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gan_pipelines.models.segmenter import segmenter_settings

        checked_by(segmenter_settings, value, "experiment.segmenter.model")
        return value


class ExperimentParams(StageParams):
    """``segsynth.experiment``: ``seeds`` paired seeds from ``first_seed`` (each changes the
    labelled subset, the generator's init, the synthetic maps and the segmenters' init, shared
    by every arm of that seed); ``num_labelled`` (N) real pairs drawn from the train split per
    seed (all of them when it holds fewer; the rest of its pictures, without their labels, are
    the unlabelled pictures); ``num_synthetic`` (K) made pairs per source; ``arms`` to run
    (default all; D only runs on the embedded data); ``generator``: which block paints the maps,
    ``paired`` (``segsynth.generator``, supervised) or ``ugatit`` (``segsynth.unpaired_generator``,
    unsupervised: it never sees which map belongs to which picture)."""

    seeds: int = Field(5, ge=2)
    first_seed: int = Field(0, ge=0)
    num_labelled: int = Field(100, ge=2)
    num_synthetic: int = Field(1000, ge=1)
    arms: list[str] | None = None
    generator: Literal["paired", "ugatit"] = "paired"
    masks: MasksParams = Field(default_factory=MasksParams)
    segmenter: SegmenterParams = Field(default_factory=SegmenterParams)
    num_examples: int = Field(6, ge=0)

    @field_validator("arms")
    @classmethod
    def _known_arms(cls, value: list[str] | None) -> list[str] | None:
        from gan_pipelines.families.segsynth.layout import ARMS, REFERENCE_ARM

        if value is None:
            return value
        unknown = [arm for arm in value if arm not in ARMS]
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; the arms are {', '.join(ARMS)}")
        if "A" not in value or REFERENCE_ARM not in value:
            raise ValueError(f"must include A (its segmenter predicts the maps of the second source) and "
                             f"{REFERENCE_ARM} (the verdict's reference); got {value}")
        return value


class VerdictParams(StageParams):
    """``segsynth.verdict``: ``metric`` the rule reads (object_f1 | object_recall |
    object_precision | fg_iou | miou), ``confidence`` of the paired t-intervals."""

    metric: Literal["object_f1", "object_recall", "object_precision", "fg_iou", "miou"] = "object_f1"
    confidence: float = Field(0.95, gt=0.5, lt=1)


class ReportParams(StageParams):
    """``segsynth.report``: ``num_examples`` rows in the picture grids."""

    num_examples: int = Field(6, ge=1)


STAGE_MODELS: dict[str, type[StageParams]] = {
    "ingest": IngestParams, "preprocess": PreprocessParams, "generator": TrainParams,
    "unpaired_generator": UGATITTrainParams, "experiment": ExperimentParams, "verdict": VerdictParams, "report": ReportParams,
}


def stage_model(namespace: str, stage: str) -> type[StageParams]:
    return STAGE_MODELS[stage].in_section(f"{namespace}.{stage}")


def discriminator_input_sizes(discriminator: Mapping[str, Any], resolution: int) -> tuple[int, int | None]:
    """``(side of the coarsest scale's input, smallest side its PatchGAN takes)`` for a paired
    ``discriminator`` block (``type: multiscale`` halves the input ``num_D - 1`` times), or
    ``(resolution, None)`` when the block names no PatchGAN depth."""
    from gan_pipelines.models.discriminators import NLayerPatchDiscriminator

    inner = discriminator.get("discriminator") if discriminator.get("type") == "multiscale" else discriminator
    n_layers = (inner or {}).get("n_layers")
    if not isinstance(n_layers, int) or n_layers < 1:
        return resolution, None
    scales = int(discriminator.get("num_D", 1)) if discriminator.get("type") == "multiscale" else 1
    smallest = resolution
    for _ in range(scales - 1):  # each coarser scale: 3x3 average pooling with stride 2 and padding 1
        smallest = -(-smallest // 2)
    return smallest, NLayerPatchDiscriminator.min_input_size(n_layers)


def check_stages(namespace: str, stages: Mapping[str, Any]) -> None:
    """Pairs across stages: the embedded data is rendered at ``ingest.synthetic.resolution``
    (default 64), which must equal ``preprocess.resolution``; the resolution must suit the
    generator (``generator.model``) and the segmenter (a multiple of 2**encoder_depth). Raises
    :class:`ParameterError` naming the keys."""
    from gan_pipelines.families.paired.networks import size_multiple
    from gan_pipelines.models.segmenter import segmenter_settings

    parsed = {stage: stage_model(namespace, stage).parse(value) for stage, value in stages.items()}
    ingest, preprocess = parsed.get("ingest"), parsed.get("preprocess")
    generator, experiment = parsed.get("generator"), parsed.get("experiment")
    unpaired = parsed.get("unpaired_generator")
    problems = []
    if preprocess is not None:
        resolution = preprocess.resolution
        if ingest is not None and ingest.source == "synthetic":
            rendered = dict(ingest.synthetic).get("resolution", 64)
            if rendered != resolution:
                problems.append(f"{namespace}.ingest.synthetic.resolution ({rendered}) differs from "
                                f"{namespace}.preprocess.resolution ({resolution}): set both to the same value")
        if generator is not None:
            multiple = size_multiple(dict(generator.as_dict().get("model") or {}))
            if resolution % multiple:
                problems.append(f"{namespace}.preprocess.resolution ({resolution}) is not a multiple of {multiple}, "
                                f"which {namespace}.generator.model needs")
            smallest, needed = discriminator_input_sizes(dict(generator.as_dict().get("discriminator") or {}), resolution)
            if needed and smallest < needed:
                problems.append(f"{namespace}.preprocess.resolution ({resolution}) gives the generator's PatchGAN "
                                f"discriminator a {smallest} px input at its coarsest scale; its n_layers needs at least "
                                f"{needed} px: lower {namespace}.generator.discriminator n_layers or num_D, or raise "
                                "the resolution")
        if unpaired is not None and (experiment is None or experiment.generator == "ugatit"):
            section = f"{namespace}.unpaired_generator"
            crop = unpaired.augmentation.crop_size
            if crop is not None and crop != resolution:
                problems.append(f"{section}.augmentation.crop_size ({crop}) differs from {namespace}.preprocess.resolution "
                                f"({resolution}): the generator must paint maps of the resolution it trained on")
            try:
                unpaired.check_size(resolution, section, f"{namespace}.preprocess.resolution")
            except ValueError as exc:
                problems.append(str(exc))
        if experiment is not None:
            depth = segmenter_settings(experiment.segmenter.model)["encoder_depth"]
            if resolution % 2 ** depth:
                problems.append(f"{namespace}.preprocess.resolution ({resolution}) is not a multiple of {2 ** depth}, "
                                f"which {namespace}.experiment.segmenter.model.encoder_depth ({depth}) needs")
    if problems:
        raise ParameterError("Inconsistent parameters:\n" + "\n".join(f"  {problem}" for problem in problems))
