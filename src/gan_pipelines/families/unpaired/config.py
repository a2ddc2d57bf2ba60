"""The unpaired families' parameters (``cyclegan``; ``ugatit``, ``munit`` later): one typed model
per stage, validated by Kedro before any node runs (the pipeline annotates each node's
``params:`` inputs with :func:`stage_model`) and by :meth:`StageParams.parse` in a direct call.
Unknown keys are refused and errors name the full key (``cyclegan.train.model.n_blocks``).
:func:`check_stages` checks pairs of keys across stages (``preprocess.resolution`` against the
generator and the PatchGAN, ``ingest.label_nc`` against the judges).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from gan_pipelines.params import (
    ConfigBlock, ExportParams, ParameterError, PreprocessParams, StageParams, TrainingParams, checked_by, inconsistent,
    unknown_keys_error,
)

# ---- ingest / preprocess (data) ----

# The renderer's classes (ground, box, cylinder, sphere, cone, sky): the embedded data's class count.
SYNTHETIC_LABEL_NC = 6


class SyntheticParams(ConfigBlock):
    """``ingest.synthetic``: the embedded two-domain data (``families.unpaired.synthetic``):
    ``pair`` texture | day_dusk | labels_photo, ``seed`` (>= 0), ``num_train`` pictures PER DOMAIN,
    ``num_test`` scenes (each rendered in both domains: the hidden pairs), ``resolution`` (px,
    16..1024; render at the training resolution, ``preprocess.resolution``)."""

    pair: Literal["texture", "day_dusk", "labels_photo"] = "texture"
    seed: int = Field(0, ge=0)
    num_train: int = Field(300, ge=1)
    num_test: int = Field(100, ge=1)
    resolution: int = Field(64, ge=16, le=1024)


class IngestParams(StageParams):
    """``<family>.ingest``: ``source`` synthetic (the embedded data, ``synthetic``) or folders (a
    folder or .zip at ``path`` in the CycleGAN layout ``trainA/ trainB/ testA/ [testB/]``, see
    ``families.unpaired.user_data``); ``test_pairs`` (folders): testA/testB files of the same
    name are pictures of the same scene (hidden pairs for the hidden-pair metrics), default false;
    ``label_nc`` (folders): class count of the optional ``<folder>_labels/`` class maps (2..255),
    which enable the content metric; for synthetic data null or the renderer's 6."""

    source: Literal["synthetic", "folders"] = "synthetic"
    path: str | None = None
    test_pairs: bool = False
    label_nc: int | None = Field(None, ge=2, le=255)
    synthetic: SyntheticParams = Field(default_factory=SyntheticParams)

    @model_validator(mode="after")
    def _consistent(self) -> IngestParams:
        if self.source == "folders" and not self.path:
            raise inconsistent("path", "must name your folder or .zip (trainA/ trainB/ testA/ [testB/]) when source "
                               "is folders")
        if self.source == "synthetic" and self.label_nc not in (None, SYNTHETIC_LABEL_NC):
            raise inconsistent("label_nc", f"is {self.label_nc} but the embedded data has {SYNTHETIC_LABEL_NC} classes "
                               "(ground, box, cylinder, sphere, cone, sky); leave it null for source: synthetic")
        return self


# preprocess: the shared gan_pipelines.params.PreprocessParams as is (resolution, val_fraction, seed);
# the val split is taken per domain (nodes/preprocess.py).

# ---- train ----


class UnpairedAugmentationParams(ConfigBlock):
    """``train.augmentation``: CycleGAN's jitter, drawn independently for each domain's picture:
    resize to ``load_size`` (bicubic; null: no resize), a random ``crop_size`` crop (null: the
    model input's resolution, which it must equal: train and test see one size), a horizontal
    flip with probability ``hflip_p``. The reference: 286 -> 256 with flips (at 64 px: 72 -> 64)."""

    load_size: int | None = Field(None, gt=0)
    crop_size: int | None = Field(None, gt=0)
    hflip_p: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _load_covers_crop(self) -> UnpairedAugmentationParams:
        if self.load_size is not None and self.crop_size is not None and self.load_size < self.crop_size:
            raise inconsistent("load_size", f"({self.load_size}) must be at least crop_size ({self.crop_size})")
        return self


class UnpairedGeneratorParams(ConfigBlock):
    """``train.model``: both ResNet generators (``models.generators.ResnetGenerator``): ``ngf``,
    ``n_blocks`` (null: 9 at 256 px and above, 6 below, the reference's), ``norm`` (instance,
    the reference's), ``use_dropout``, ``upsample`` (transpose, the reference's, or
    upsample_conv against checkerboard artefacts), ``init_gain`` (the N(0, gain) init)."""

    ngf: int = Field(64, gt=0)
    n_blocks: int | None = Field(None, ge=0)
    norm: Literal["instance", "batch", "none"] = "instance"
    use_dropout: bool = False
    upsample: Literal["transpose", "upsample_conv"] = "transpose"
    upsample_mode: Literal["nearest", "bilinear"] = "nearest"
    init_gain: float = Field(0.02, gt=0)


class UnpairedDiscriminatorParams(ConfigBlock):
    """``train.discriminator``: both PatchGANs (``models.discriminators.NLayerPatchDiscriminator``):
    ``ndf``, ``n_layers`` (null: the deepest <= 3 whose receptive field fits in the crop: 3 =
    70x70 from 70 px, 2 = 34x34 at 64 px), ``norm`` (instance, the reference's), ``init_gain``."""

    ndf: int = Field(64, gt=0)
    n_layers: int | None = Field(None, ge=1)
    norm: Literal["instance", "batch", "none"] = "instance"
    init_gain: float = Field(0.02, gt=0)


class UnpairedLossWeightsParams(ConfigBlock):
    """``train.loss_weights`` (>= 0): ``adversarial`` (1, each direction's LSGAN term),
    ``cycle`` (10, each direction's cycle L1) and ``identity``, read through
    ``train.identity_convention``: with ``times_cycle`` (the reference's) the identity L1 gets
    ``identity x cycle`` (0.5 -> 5), with ``absolute`` (mmagic's) it gets ``identity`` itself."""

    adversarial: float = Field(1.0, ge=0)
    cycle: float = Field(10.0, ge=0)
    identity: float = Field(0.5, ge=0)


class UnpairedTrainParams(StageParams):
    """What every unpaired model's ``<family>.train`` shares: ``training`` (the engine's block),
    ``batch_size``, the jitter (``augmentation``), Adam (``lr``, ``betas``, for both optimisers;
    U-GAT-IT and MUNIT add ``weight_decay``) and loader workers. Each model adds its networks and losses
    (:class:`CycleGANTrainParams`, :class:`UGATITTrainParams`, :class:`MUNITTrainParams`) and says
    which sizes they take (:meth:`check_size`). Against ``preprocess.resolution``:
    :func:`train_problems`."""

    MODEL: ClassVar[str] = ""

    training: TrainingParams
    batch_size: int = Field(1, gt=0)
    augmentation: UnpairedAugmentationParams = Field(default_factory=UnpairedAugmentationParams)
    lr: float = Field(2e-4, gt=0, lt=1)
    betas: list[float] = Field(default_factory=lambda: [0.5, 0.999], min_length=2, max_length=2)
    num_workers: int = Field(0, ge=0)

    @field_validator("betas")
    @classmethod
    def _betas(cls, value: list[float]) -> list[float]:
        if not all(0 <= beta < 1 for beta in value):
            raise ValueError(f"must be two numbers in [0, 1); got {value}")
        return value

    def network_configs(self, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The full generator and discriminator configs at training size ``size`` (the crop)."""
        raise NotImplementedError(f"{type(self).__name__} must say how its networks are configured")

    def check_size(self, size: int, section: str, size_name: str | None = None) -> None:
        """Refuse a training ``size`` the networks cannot take (ValueError naming ``size_name``,
        default ``<section>.augmentation.crop_size``, or the network key to change)."""
        raise NotImplementedError(f"{type(self).__name__} must say which sizes its networks take")

    @model_validator(mode="after")
    def _crop_fits_the_networks(self) -> UnpairedTrainParams:
        crop = self.augmentation.crop_size
        if crop is not None:
            # the message names the full keys (<section>.augmentation.crop_size, ...discriminator.n_layers)
            self.check_size(crop, self.section or "train")
        return self


class CycleGANTrainParams(UnpairedTrainParams):
    """``cyclegan.train``: the shared block (:class:`UnpairedTrainParams`) with CycleGAN's networks
    (``model``, ``discriminator``), losses (``loss_weights``, ``identity_convention``) and history
    buffer (``pool_size``: images per discriminator, 0 = none); Adam 2e-4 (0.5, 0.999). The crop
    is checked against the generator's factor (a multiple of 4, at least 8) and the PatchGAN's
    depth (a patch map of at least 1x1), ``load_size`` against ``crop_size``."""

    MODEL: ClassVar[str] = "cyclegan"

    model: UnpairedGeneratorParams = Field(default_factory=UnpairedGeneratorParams)
    discriminator: UnpairedDiscriminatorParams = Field(default_factory=UnpairedDiscriminatorParams)
    loss_weights: UnpairedLossWeightsParams = Field(default_factory=UnpairedLossWeightsParams)
    identity_convention: Literal["times_cycle", "absolute"] = "times_cycle"
    pool_size: int = Field(50, ge=0)

    def effective_identity_weight(self) -> float:
        """The weight the identity L1 terms get (``loss_weights.identity`` read through
        ``identity_convention``)."""
        from gan_pipelines.families.unpaired.tasks import effective_identity_weight

        weights = self.loss_weights
        return effective_identity_weight(weights.identity, weights.cycle, self.identity_convention)

    def network_configs(self, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
        from gan_pipelines.families.unpaired.networks import discriminator_config, generator_config

        return generator_config(self.model.model_dump(), size), discriminator_config(self.discriminator.model_dump(), size)

    def check_size(self, size: int, section: str, size_name: str | None = None) -> None:
        from gan_pipelines.families.unpaired.networks import check_image_size

        check_image_size(size, *self.network_configs(size), section, size_name)


class UGATITGeneratorParams(ConfigBlock):
    """``ugatit.train.model``: both U-GAT-IT generators (``models.ugatit.UGATITGenerator``):
    ``ngf`` (64 in the paper), ``n_blocks`` (4: encoder residual blocks, and as many AdaLIN
    blocks in the decoder), ``light`` (true: the MLP that makes AdaLIN's gamma and beta reads
    globally pooled features; false, the full model: it reads the whole flattened feature map,
    268 M weights at 256 px and ngf 64)."""

    ngf: int = Field(64, gt=0)
    n_blocks: int = Field(4, ge=1)
    light: bool = False


class UGATITDiscriminatorParams(ConfigBlock):
    """``ugatit.train.discriminator``: per domain a global and a local PatchGAN with spectral
    norm and a CAM head (``models.ugatit.UGATITDiscriminator``): ``ndf`` (64), ``global_layers``
    and ``local_layers`` (the paper's 7 and 5 at 256 px; null: chosen from the size so that the
    patch map does not vanish)."""

    ndf: int = Field(64, gt=0)
    global_layers: int | None = Field(None, ge=3)
    local_layers: int | None = Field(None, ge=3)


class UGATITLossWeightsParams(ConfigBlock):
    """``ugatit.train.loss_weights`` (>= 0): ``adversarial`` (1: LSGAN on the global and local
    D outputs and their CAM logits), ``cycle`` (10), ``identity`` (10, the weight itself: no
    convention to read it through), ``cam`` (1000: BCE on the generator's CAM logits)."""

    adversarial: float = Field(1.0, ge=0)
    cycle: float = Field(10.0, ge=0)
    identity: float = Field(10.0, ge=0)
    cam: float = Field(1000.0, ge=0)


class UGATITTrainParams(UnpairedTrainParams):
    """``ugatit.train``: the shared block with U-GAT-IT's networks (``model``, ``discriminator``)
    and loss weights; Adam 1e-4 (0.5, 0.999), weight decay 1e-4 (Kim et al., ICLR 2020)."""

    MODEL: ClassVar[str] = "ugatit"

    lr: float = Field(1e-4, gt=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0, lt=1)
    model: UGATITGeneratorParams = Field(default_factory=UGATITGeneratorParams)
    discriminator: UGATITDiscriminatorParams = Field(default_factory=UGATITDiscriminatorParams)
    loss_weights: UGATITLossWeightsParams = Field(default_factory=UGATITLossWeightsParams)

    def network_configs(self, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
        from gan_pipelines.families.unpaired.networks import ugatit_discriminator_config, ugatit_generator_config

        return (ugatit_generator_config(self.model.model_dump(), size),
                ugatit_discriminator_config(self.discriminator.model_dump(), size))

    def check_size(self, size: int, section: str, size_name: str | None = None) -> None:
        from gan_pipelines.families.unpaired.networks import check_ugatit_size

        check_ugatit_size(size, *self.network_configs(size), section, size_name)


class MUNITGeneratorParams(ConfigBlock):
    """``munit.train.model``: each domain's autoencoder (``models.munit``): ``dim`` (64: the
    first convolution's width), ``style_dim`` (8: the style code), ``n_downsample`` (2),
    ``n_res`` (4 residual blocks in the content encoder and the decoder), ``mlp_dim`` (256: the
    MLP that makes AdaIN's parameters from the style code). Huang et al., ECCV 2018."""

    dim: int = Field(64, gt=0)
    style_dim: int = Field(8, gt=0)
    n_downsample: int = Field(2, ge=1)
    n_res: int = Field(4, ge=1)
    mlp_dim: int = Field(256, gt=0)


class MUNITDiscriminatorParams(ConfigBlock):
    """``munit.train.discriminator``: the multi-scale discriminator without normalisation
    (``dim`` 64, ``n_layers`` 4 stride-2 convolutions per scale, ``num_scales`` 3)."""

    dim: int = Field(64, gt=0)
    n_layers: int = Field(4, ge=1)
    num_scales: int = Field(3, ge=1)


class MUNITLossWeightsParams(ConfigBlock):
    """``munit.train.loss_weights`` (>= 0): ``adversarial`` (1, LSGAN over every scale),
    ``image`` (10: within-domain reconstruction L1), ``style`` (1) and ``content`` (1: latent
    reconstruction L1), ``cycle`` (0: the optional style-augmented cycle, 10 for pixel-aligned
    tasks in the paper's configs)."""

    adversarial: float = Field(1.0, ge=0)
    image: float = Field(10.0, ge=0)
    style: float = Field(1.0, ge=0)
    content: float = Field(1.0, ge=0)
    cycle: float = Field(0.0, ge=0)


class MUNITTrainParams(UnpairedTrainParams):
    """``munit.train``: the shared block with MUNIT's autoencoders (``model``), multi-scale
    discriminators (``discriminator``) and loss weights; Adam 1e-4 (0.5, 0.999), weight decay
    1e-4; the paper halves the lr every 100 k iterations (``training.scheduler: step``)."""

    MODEL: ClassVar[str] = "munit"

    lr: float = Field(1e-4, gt=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0, lt=1)
    model: MUNITGeneratorParams = Field(default_factory=MUNITGeneratorParams)
    discriminator: MUNITDiscriminatorParams = Field(default_factory=MUNITDiscriminatorParams)
    loss_weights: MUNITLossWeightsParams = Field(default_factory=MUNITLossWeightsParams)
    # Share of the training style codes set to the prior's mean (zeros) instead of drawn from
    # N(0, I): the reference never trains at the mean itself (0 here, as the paper), so on a
    # multi-modal domain its mean-style output, the one evaluate and predict give by default, is
    # a blend of the modes rather than a picture of the domain.
    mean_style_p: float = Field(0.0, ge=0, le=1)

    def network_configs(self, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
        from gan_pipelines.families.unpaired.networks import munit_discriminator_config, munit_generator_config

        return (munit_generator_config(self.model.model_dump(), size),
                munit_discriminator_config(self.discriminator.model_dump(), size))

    def check_size(self, size: int, section: str, size_name: str | None = None) -> None:
        from gan_pipelines.families.unpaired.networks import check_munit_size

        check_munit_size(size, *self.network_configs(size), section, size_name)


TRAIN_MODELS: dict[str, type[UnpairedTrainParams]] = {
    model.MODEL: model for model in (CycleGANTrainParams, UGATITTrainParams, MUNITTrainParams)}


def train_problems(train: UnpairedTrainParams, resolution: int, namespace: str) -> list[str]:
    """What is wrong between ``<namespace>.train`` and the model input's ``resolution``
    (``<namespace>.preprocess.resolution``), one sentence per problem naming both keys: the crop
    must equal the resolution (train and test see one size), and the networks must take it.
    For ``check_stages`` and the train node."""
    section = f"{namespace}.train"
    crop = train.augmentation.crop_size
    if crop is not None and crop != resolution:
        return [f"{section}.augmentation.crop_size is {crop} but the model input ({namespace}.preprocess.resolution) "
                f"is {resolution} px: train and test must see the same size (set load_size above it for the "
                "resize-and-crop jitter, or leave crop_size out)"]
    try:
        train.check_size(resolution, section, f"{namespace}.preprocess.resolution")
    except ValueError as exc:
        return [str(exc)]
    if train.augmentation.load_size is not None and train.augmentation.load_size < resolution:
        return [f"{section}.augmentation.load_size ({train.augmentation.load_size}) is below the model input's "
                f"resolution ({namespace}.preprocess.resolution = {resolution}): it must be at least the crop"]
    return []


# ---- train_judge / evaluate ----

# The judges' segmenter and augmentation blocks are the paired judge's (same networks, same keys).
from gan_pipelines.families.paired.config import JudgeAugmentationParams, JudgeModelParams  # noqa: E402

JUDGE_PRECISION = "fp32"


def _fp32_only(training: TrainingParams, where: str) -> None:
    if "precision" in training.model_fields_set and training.precision != JUDGE_PRECISION:
        raise inconsistent(f"{where}.training.precision", f"is {training.precision!r}, but the judges always train "
                                                          "in fp32 so that their verdicts hold on every machine")


class DomainClassifierParams(ConfigBlock):
    """``train_judge.classifier``: the domain classifier (A vs B). ``channels``: the widths of
    its stride-2 3x3 convolutions, one per layer (the last is the size of the pooled features
    that the project's KID uses); ``recolour_p``: the share of train pictures shown recoloured
    towards the other domain under their own label (Reinhard transfer or histogram matching: the
    colour baselines), so the classifier judges structure, not global colour (0: off); Adam ``lr``; ``batch_size``; ``augmentation`` (a horizontal
    flip, optional colour jitter) or null; ``training`` (the engine's block; fp32 only; the
    kept epoch is the best val ``accuracy`` unless ``monitor`` is set)."""

    channels: list[int] = Field(default_factory=lambda: [16, 32, 64, 128], min_length=1, max_length=8)
    recolour_p: float = Field(0.5, ge=0, lt=1)
    lr: float = Field(1e-3, gt=0, lt=1)
    batch_size: int = Field(32, gt=0)
    augmentation: JudgeAugmentationParams | None = Field(default_factory=JudgeAugmentationParams)
    training: TrainingParams

    @field_validator("channels")
    @classmethod
    def _widths(cls, value: list[int]) -> list[int]:
        if not all(0 < width <= 1024 for width in value):
            raise ValueError(f"must be widths in 1..1024, one per convolution; got {value}")
        return value


class DomainSegmenterParams(ConfigBlock):
    """``train_judge.segmenter``: the per-domain segmenter (the paired judge's U-Net, trained on
    one domain's real train pictures and class maps; one per domain that has class maps).
    ``model`` (``models.segmenter.SEGMENTER_DEFAULTS`` keys), Adam ``lr``, ``batch_size``,
    ``augmentation``, ``training`` (fp32 only; best val ``miou`` unless ``monitor`` is set)."""

    model: JudgeModelParams = Field(default_factory=JudgeModelParams)
    lr: float = Field(3e-3, gt=0, lt=1)
    batch_size: int = Field(16, gt=0)
    augmentation: JudgeAugmentationParams | None = Field(default_factory=JudgeAugmentationParams)
    training: TrainingParams


class TrainJudgeParams(StageParams):
    """``<family>.train_judge``: the judges that ``<family>.evaluate`` applies to translated
    pictures, trained on the real train pictures (val: the val split): the ``classifier`` (A vs B)
    and the ``segmenter`` settings (one segmenter per domain with class maps; the class count is
    the ingest's ``label_nc``). ``num_workers``: loader processes."""

    classifier: DomainClassifierParams
    segmenter: DomainSegmenterParams
    num_workers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _fp32(self) -> TrainJudgeParams:
        _fp32_only(self.classifier.training, "classifier")
        _fp32_only(self.segmenter.training, "segmenter")
        return self


class EvaluateParams(StageParams):
    """``<family>.evaluate``: ``batch_size`` and ``device`` (auto | cpu | cuda | cuda:<index> |
    mps) of the translations and the judges; ``min_classifier_accuracy``: below this accuracy of
    the domain classifier on the real test pictures the target-domain rates are void (null, with
    the reason); ``bootstrap_resamples`` of the 95% intervals; ``seed`` of the bootstrap, of the
    histogram-matching reference picture and of the equal-size subsets KID needs;
    ``inception_weights_path``: a local Inception-v3 file for standard FID/KID (else the torch hub
    cache is looked in; nothing is downloaded); ``diversity_samples``: outputs per test picture
    for the ``diversity`` metric (0: off; a style-sampling model such as MUNIT draws that many
    style codes from ``style_seed``, a deterministic one is run that many times and measures 0);
    ``allow_stale``: score a generator or judge trained on other data than this model input
    (recorded in the metrics)."""

    batch_size: int = Field(8, gt=0)
    device: str = "auto"
    min_classifier_accuracy: float = Field(0.95, gt=0, le=1)
    bootstrap_resamples: int = Field(2000, ge=100)
    seed: int = Field(0, ge=0)
    inception_weights_path: str | None = None
    diversity_samples: int = Field(8, ge=0)
    style_seed: int = Field(0, ge=0)
    allow_stale: bool = False

    @field_validator("diversity_samples")
    @classmethod
    def _diversity(cls, value: int) -> int:
        if value == 1:
            raise ValueError("must be 0 (off) or at least 2: diversity is a distance between outputs of one input")
        return value


def judge_problems(judge: TrainJudgeParams, resolution: int, namespace: str, *, segmenters: bool = True) -> list[str]:
    """What is wrong with ``<namespace>.train_judge`` at ``preprocess.resolution`` (for
    :func:`check_stages`): the segmenter's U-Net needs sides that are multiples of
    ``2 ** encoder_depth`` (only checked with ``segmenters``: when the data has class maps, i.e.
    the embedded data, or user data with ``ingest.label_nc`` set); the classifier's stride-2
    layers need at least ``2 ** len(channels)`` px. One sentence per problem, naming both keys."""
    from gan_pipelines.models.segmenter import SEGMENTER_DEFAULTS

    problems = []
    depth = judge.segmenter.model.encoder_depth or SEGMENTER_DEFAULTS["encoder_depth"]
    if segmenters and resolution % 2**depth:
        problems.append(f"{namespace}.preprocess.resolution ({resolution}) is not a multiple of {2**depth}, which "
                        f"{namespace}.train_judge.segmenter.model.encoder_depth {depth} needs; change one of them")
    layers = len(judge.classifier.channels)
    if resolution < 2**layers:
        problems.append(f"{namespace}.preprocess.resolution ({resolution}) is below the {2**layers} px that the "
                        f"{layers} layers of {namespace}.train_judge.classifier.channels need")
    return problems

# ---- report / predict / export ----

class ReportParams(StageParams):
    """``<family>.report``: ``num_examples`` test scenes per group (best, worst, random) and per
    direction, best/worst by the model's per-image hidden-pair L1; ``seed`` of the random draw."""

    num_examples: int = Field(4, gt=0)
    seed: int = Field(0, ge=0)


class PredictParams(StageParams):
    """``<family>.predict``: every picture of ``input_dir`` translated in ``direction`` (``a2b``:
    domain A pictures into domain B, ``b2a`` the other way) into ``output_dir/<name>.png`` at its
    own size. ``backend: torch`` runs the catalog's checkpoint on ``device`` (auto | cpu | cuda |
    cuda:<index> | mps); ``backend: onnx`` runs the files of ``<family>.export`` (``onnx_path``:
    its ``output_path``; the file read is ``<stem>_<direction>.onnx`` beside it) in onnxruntime.
    ``compile`` (torch backend): the translator through ``torch.compile`` (a one-time compile per
    picture size, then faster pictures)."""

    input_dir: str = Field(min_length=1)
    output_dir: str = Field(min_length=1)
    direction: Literal["a2b", "b2a"] = "a2b"
    device: str = "auto"
    backend: Literal["torch", "onnx"] = "torch"
    onnx_path: str | None = None
    compile: bool = False

    @model_validator(mode="after")
    def _onnx_path(self) -> PredictParams:
        if self.backend == "onnx" and not self.onnx_path:
            raise inconsistent("onnx_path", "must name the exported model (<family>.export.output_path) when backend "
                               "is onnx")
        return self


class MUNITPredictParams(PredictParams):
    """``munit.predict``: :class:`PredictParams` and MUNIT's style choice, like spade_vae's. By
    default each picture gets the prior's mean style code (zeros): one deterministic output.
    ``random_style: true`` draws ``num_samples`` style codes of the target domain per picture from
    N(0, I) (numpy ``default_rng([seed, picture index])``), written as ``<name>_s<k>.png`` when
    there are several; ``style_image`` (a picture of the target domain) gives every output that
    picture's style code (example-guided; torch backend only)."""

    num_samples: int = Field(1, ge=1, le=64)
    seed: int = Field(0, ge=0)
    style_image: str | None = None
    random_style: bool = False

    @model_validator(mode="after")
    def _one_style_source(self) -> MUNITPredictParams:
        if self.style_image and (self.num_samples != 1 or self.random_style):
            raise inconsistent("style_image", "gives one style code: set num_samples: 1 and random_style: false "
                               "with it (or leave style_image out for random styles)")
        if self.num_samples > 1 and not self.random_style:
            raise inconsistent("num_samples", f"is {self.num_samples}: several outputs need random styles "
                               "(random_style: true)")
        if self.backend == "onnx" and self.style_image:
            raise inconsistent("style_image", "needs the style encoder, which the ONNX export does not hold; use "
                               "backend: torch")
        return self


class UnpairedExportParams(ExportParams):
    """``<family>.export``: both generators to ONNX. ``output_path`` (``<stem>.onnx``) is the base
    name: the files written are ``<stem>_a2b.onnx`` (G_AB: A -> B) and ``<stem>_b2a.onnx`` (G_BA)
    beside it; an existing file is replaced only with ``overwrite: true``. ``parity_tolerance``:
    the largest absolute difference (network output, range [-1, 1]) allowed between onnxruntime
    and torch on the parity check; above it nothing is written."""

    parity_tolerance: float = Field(1e-3, gt=0, le=0.1)

    @field_validator("output_path")
    @classmethod
    def _onnx_suffix(cls, value: str) -> str:
        if not value.lower().endswith(".onnx"):
            raise ValueError(f"must end in .onnx (the files written are <stem>_a2b.onnx and <stem>_b2a.onnx); got {value!r}")
        return value


class UnpairedCompareParams(StageParams):
    """``unpaired_compare``: every trained unpaired model (cyclegan, ugatit, munit) on the
    cyclegan namespace's test split, scored by its judge: ``batch_size``, ``device``,
    ``min_classifier_accuracy`` / ``bootstrap_resamples`` / ``seed`` (as ``<family>.evaluate``),
    ``diversity_samples`` (>= 2) and ``style_seed`` (MUNIT's random codes), ``num_examples``
    (rows of the picture grid), ``allow_stale`` (compare models trained on other data,
    recorded)."""

    batch_size: int = Field(8, gt=0)
    device: str = "auto"
    min_classifier_accuracy: float = Field(0.95, gt=0, le=1)
    bootstrap_resamples: int = Field(2000, ge=100)
    seed: int = Field(0, ge=0)
    diversity_samples: int = Field(8, ge=2)
    style_seed: int = Field(0, ge=0)
    num_examples: int = Field(6, gt=0)
    allow_stale: bool = False


# --------------------------------------------------------------------------------------------
# every stage's model, and the pairs across stages
# --------------------------------------------------------------------------------------------

STAGE_MODELS: dict[str, type[StageParams]] = {
    "ingest": IngestParams,
    "preprocess": PreprocessParams,
    "train_judge": TrainJudgeParams,
    "train": CycleGANTrainParams,
    "evaluate": EvaluateParams,
    "report": ReportParams,
    "predict": PredictParams,
    "export": UnpairedExportParams,
}


# Stages whose parameters depend on the namespace's model (layout.NAMESPACE_MODELS).
MODEL_STAGE_MODELS: dict[str, dict[str, type[StageParams]]] = {
    "train": TRAIN_MODELS,
    "predict": {"munit": MUNITPredictParams},
}


def stage_model(namespace: str, stage: str) -> type[StageParams]:
    """The model of ``<namespace>.<stage>`` (the train stage's, and MUNIT's predict, depend on the
    namespace's model: :data:`~gan_pipelines.families.unpaired.layout.NAMESPACE_MODELS`)."""
    from gan_pipelines.families.unpaired.layout import model_of

    model = STAGE_MODELS[stage]
    if stage in MODEL_STAGE_MODELS:
        model = MODEL_STAGE_MODELS[stage].get(model_of(namespace), model)
    return model.in_section(f"{namespace}.{stage}")


def check_stages(namespace: str, stages: Mapping[str, Any]) -> None:
    """The pairs of ``<namespace>``'s stages (``stages``: stage -> its parameters, validated
    objects or dicts; pairs with a stage missing are skipped):

    * ``preprocess.resolution`` must suit the train networks and equal the train crop
      (:func:`train_problems`);
    * the embedded data is rendered at ``ingest.synthetic.resolution``: preprocess would only
      resample it, so a different ``preprocess.resolution`` is refused (set both).

    Raises :class:`ParameterError` naming both keys of every bad pair."""
    parsed = {stage: stage_model(namespace, stage).parse(value) for stage, value in stages.items()}
    ingest, preprocess, train = parsed.get("ingest"), parsed.get("preprocess"), parsed.get("train")
    problems = []
    if preprocess is not None and train is not None:
        problems += train_problems(train, preprocess.resolution, namespace)
    if preprocess is not None and ingest is not None and ingest.source == "synthetic" \
            and ingest.synthetic.resolution != preprocess.resolution:
        problems.append(f"{namespace}.ingest.synthetic.resolution ({ingest.synthetic.resolution}) differs from "
                        f"{namespace}.preprocess.resolution ({preprocess.resolution}): the embedded scenes are "
                        "rendered at the training size, set both to the same value")
    if problems:
        raise ParameterError("Inconsistent parameters:\n" + "\n".join(f"  {problem}" for problem in problems))
