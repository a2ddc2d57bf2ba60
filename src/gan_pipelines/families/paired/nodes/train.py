"""<family>.train: the paired GAN (generator + conditional discriminator) through the shared engine.

The generator is ``train.model.type`` (see :mod:`gan_pipelines.families.paired.networks`); the
loss recipe is the ``loss_weights`` and ``gan_mode`` parameters (its terms and the training task:
:mod:`gan_pipelines.families.paired.tasks`):

* pix2pix (Isola et al. 2017): non-saturating GAN (or LSGAN) + 100 x L1, Adam 2e-4 (0.5, 0.999),
  linear decay. Sketch2Color: + VGG16 feature L2 (local weights only; recorded when off), total
  variation, one-sided label smoothing (real 0.9) and D every 2nd batch; the sketch2color
  namespace also trains plain pix2pix on the same sketches (``train_plain``).
* pix2pixHD (Wang et al. 2018): LSGAN summed over the discriminator scales (as the reference;
  SPADE averages them) + 10 x discriminator feature matching + 10 x VGG19 perceptual (local
  weights only), multi-scale PatchGAN; with ``model.local_enhancer`` the
  global generator is first trained at half resolution (``global_epochs``), then the local
  enhancer at full resolution with the global part frozen for ``freeze_global_epochs`` epochs.
* SPADE (Park et al. 2019): hinge GAN + 10 x feature matching + 10 x VGG19, spectral-norm
  multi-scale D scored in one joint pass on real and fake, TTUR (G 1e-4, D 4e-4, betas (0, 0.9));
  with ``model.use_vae`` + 0.05 x KL of the style encoding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import KIND_TYPES, LABEL_KIND, TARGET_KIND
from gan_pipelines.image_folders import content_hash, folder_version, stack_split
from gan_pipelines.families.paired.config import IngestParams, TrainParams
from gan_pipelines.params import as_plain, tensorboard_dir, training_state_path
from gan_pipelines.stages.training_setup import (
    build_loaders, checkpoint_bundle, history_frame, log_kept_epoch, run_training,
)

logger = logging.getLogger(__name__)

# Loss weights every config has (pix2pix); the other terms appear only when set.
BASE_LOSS_WEIGHTS = {"adversarial": 1.0, "l1": 100.0, "perceptual": 0.0, "tv": 0.0}
KL_WEIGHT = 0.05  # SPADE's lambda_kld, the default with use_vae
# How the adversarial losses of a multi-scale discriminator's scales combine, per generator type
# (its reference code): pix2pixHD sums them (NVIDIA/pix2pixHD GANLoss.__call__), SPADE averages
# them (NVlabs/SPADE GANLoss.__call__); a single PatchGAN has one scale, where both agree.
ADVERSARIAL_SCALE_REDUCTION = {"pix2pixhd": "sum"}


def adversarial_loss(settings: Mapping[str, Any]):
    """The :class:`~gan_pipelines.models.gan_losses.GANLoss` of resolved train settings
    (:func:`train_settings`): ``gan_mode``, ``real_label`` and the scale reduction of the
    generator type's reference: ``"sum"`` over discriminator scales for ``pix2pixhd`` (so with
    ``num_D`` = 3 the adversarial term weighs 3x the per-scale mean, as the paper's), ``"mean"``
    otherwise (SPADE, pix2pix). Returns a float32-scalar loss module."""
    from gan_pipelines.models.gan_losses import GANLoss

    kind = settings["generator"].get("type", "unet")
    return GANLoss(settings["gan_mode"], real_label=settings["real_label"],
                   scale_reduction=ADVERSARIAL_SCALE_REDUCTION.get(kind, "mean"))


class TrainSettings(dict):
    """The resolved settings of a train stage (:func:`train_settings`): what
    :func:`fit_generator` builds from, read without checking again."""


def check_train_params(params: Mapping[str, Any] | TrainParams, section: str,
                       resolution: int | None = None) -> TrainSettings:
    """For direct callers (tests, notebooks): ``<family>.train`` parameters (a dict, which may
    carry ``label_nc``, or a validated :class:`TrainParams`) parsed once through their model,
    then resolved (:func:`train_settings`). Raises ValueError naming the parameter."""
    train, label_nc = parse_train_params(params, section)
    return train_settings(train, label_nc, section, resolution)


def parse_train_params(params: Mapping[str, Any] | TrainParams, section: str) -> tuple[TrainParams, int | None]:
    """``(validated TrainParams, label_nc)``: a direct call may give the class count beside the
    train parameters (a pipeline takes it from ``<family>.ingest.label_nc``); the rest is
    parsed once (an object Kedro validated for this section is used as it is)."""
    if isinstance(params, TrainParams):
        return TrainParams.parse(params, section), None
    label_nc = params.get("label_nc")
    return TrainParams.parse({k: v for k, v in params.items() if k != "label_nc"}, section), label_nc


def train_settings(train: TrainParams, label_nc: int | None, section: str,
                   resolution: int | None = None) -> TrainSettings:
    """The resolved settings of validated train parameters (the model checked every key and
    pair inside the stage; nothing here checks them again): the input encoding with
    ``label_nc`` (from ``<family>.ingest``), the network configs with their channel counts, the
    loss weights with the recipe's defaults. Checks only what involves other stages: the class
    count, a channel count that disagrees with the input, a SPADE+VAE ``image_size`` against
    ``resolution`` (the model input's side, which fills it in; without it the generator keeps
    the size it names)."""
    from gan_pipelines.families.paired.config import input_config, network_configs
    from gan_pipelines.families.paired.networks import discriminator_has_spectral_norm

    plain = train.as_dict()
    input_cfg = input_config({**plain, "input_kind": train.input_kind, "label_nc": label_nc}, KIND_TYPES, section)
    generator_cfg, discriminator_cfg = network_configs(plain, input_cfg, section)
    kind = generator_cfg.get("type", "unet")
    use_vae = kind == "spade" and bool(generator_cfg.get("use_vae", False))
    if use_vae and resolution is not None:
        if "image_size" in generator_cfg and generator_cfg["image_size"] != resolution:
            raise ValueError(f"{section}.model.image_size is {generator_cfg['image_size']} but the model input is "
                             f"{resolution} px; leave it out (it is taken from the model input)")
        generator_cfg["image_size"] = resolution
    weights = train.loss_weights.as_dict()
    loss_weights = {**BASE_LOSS_WEIGHTS, **({"kl": KL_WEIGHT} if use_vae else {}),
                    **{k: float(v) for k, v in weights.items()}}
    joint = train.joint_discriminator_pass
    if joint == "auto":
        joint = discriminator_has_spectral_norm(discriminator_cfg)
    return TrainSettings(
        section=section, input=input_cfg, target_kind=train.target_kind or TARGET_KIND, generator=generator_cfg,
        discriminator=discriminator_cfg, gan_mode=train.gan_mode, real_label=float(train.real_label),
        loss_weights=loss_weights, loss_weights_given=sorted(weights),
        vgg19=train.vgg19.as_dict() if train.vgg19 is not None else {},
        perceptual=train.perceptual.as_dict() if train.perceptual is not None else {},
        d_every=train.d_every, lr_generator=float(train.lr_generator), lr_discriminator=float(train.lr_discriminator),
        betas=[float(b) for b in train.betas], joint_discriminator_pass=joint,
        local_enhancer=kind == "pix2pixhd" and bool(generator_cfg.get("local_enhancer", False)),
        global_epochs=train.global_epochs, freeze_global_epochs=train.freeze_global_epochs,
        augmentation=dict(train.augmentation) if train.augmentation else None,
        loader={"batch_size": train.batch_size, "num_workers": train.num_workers,
                "training": {"device": train.training.device}},
    )


def training_kinds(settings: Mapping[str, Any]) -> dict[str, str]:
    kinds = {settings["input"]["kind"]: settings["input"]["type"], settings["target_kind"]: "rgb"}
    if settings["input"]["instance_kind"]:
        kinds[settings["input"]["instance_kind"]] = "labels"
    return kinds


def load_split(model_input: Mapping[str, Callable[[], np.ndarray]], split: str, kinds, *, required: bool = True):
    """Stacked arrays of ``split`` (samples named by their target picture)."""
    return stack_split(model_input, split, list(kinds), anchor_kind=TARGET_KIND, required=required)


def half_resolution(arrays: Mapping[str, np.ndarray], kinds: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Every array ``(N, H, W[, C])`` at half size: label kinds by taking every second pixel
    (nearest, never interpolated), pictures by 2x2 averaging (rounded back to uint8)."""
    half = {}
    for kind, array in arrays.items():
        if kinds[kind] == "labels":
            half[kind] = np.ascontiguousarray(array[:, ::2, ::2])
        else:
            n, height, width = array.shape[:3]
            blocks = array[:, : height // 2 * 2, : width // 2 * 2].astype(np.float32)
            blocks = blocks.reshape(n, height // 2, 2, width // 2, 2, *array.shape[3:])
            half[kind] = np.rint(blocks.mean(axis=(2, 4))).astype(array.dtype)
    return half


def with_ingest_class_count(
    params: Mapping[str, Any], ingest_params: Mapping[str, Any] | None, family: str, stage: str = "train",
) -> tuple[dict[str, Any], int | None]:
    """``(train params with label_nc, ignore value)``: the class count comes from
    ``<family>.ingest.label_nc`` (:func:`~gan_pipelines.families.paired.nodes.ingest.ingested_class_count`),
    the one key for it; a ``label_nc`` in the train parameters is refused, naming both keys.
    Without ``ingest_params`` (a direct call) the parameters are used as given.
    Raises ValueError when the generator reads label maps and the ingest has no class count."""
    params = dict(params)
    if ingest_params is None:
        return params, None
    if "label_nc" in params:
        raise ValueError(
            f"{family}.{stage}.label_nc is not a parameter any more: the number of classes is set once, as "
            f"{family}.ingest.label_nc, for every stage; remove it from {family}.{stage}")
    label_nc, ignore_value = ingest_class_count(params.get("input_kind", LABEL_KIND), ingest_params, family, stage)
    if label_nc is not None:
        params["label_nc"] = label_nc
    return params, ignore_value


def ingest_class_count(input_kind: str | None, ingest_params: Mapping[str, Any] | IngestParams, family: str,
                       stage: str = "train") -> tuple[int | None, int | None]:
    """``(label_nc, ignore value)`` of ``<family>.ingest`` for a generator reading ``input_kind``
    (label_nc None for an image input). Raises ValueError when it reads label maps and the
    ingest has no class count."""
    from gan_pipelines.families.paired.nodes.ingest import ingested_class_count

    label_nc, ignore_value = ingested_class_count(as_plain(ingest_params), family)
    if KIND_TYPES.get(input_kind or LABEL_KIND) != "labels":
        return None, ignore_value
    if label_nc is None:
        raise ValueError(f"{family}.ingest.label_nc is null but {family}.{stage} trains on label maps: set the "
                         "number of classes of your label maps there")
    return label_nc, ignore_value


def check_label_range(train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray],
                      input_cfg: Mapping[str, Any], ignore_value: int | None, family: str) -> None:
    """Refuse training label maps with a class outside ``0..label_nc-1`` (other than the ignore
    value), naming the value, its pixel count and the key: a too small class count would
    otherwise encode the extra classes as all-zero one-hot and train without complaint."""
    from gan_pipelines.metrics.segmentation import check_class_indices

    if input_cfg.get("type") != "labels":
        return
    for split, arrays in (("train", train_arrays), ("val", val_arrays)):
        try:
            check_class_indices(arrays[input_cfg["kind"]], int(input_cfg["label_nc"]), ignore_value,
                                f"the {split} {input_cfg['kind']} maps")
        except ValueError as exc:
            raise ValueError(f"{family}.ingest.label_nc is {input_cfg['label_nc']}, but {exc}; set "
                             f"{family}.ingest.label_nc to the number of classes of your label maps") from None


def train_generator(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: TrainParams,
    ingest_params: IngestParams | None = None, *, family: str, stage: str = "train",
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the generator on train and keep the best epoch on val (``training.monitor``), or the
    last one (``monitor: null``); return (bundle, history). ``params``: the validated
    :class:`~gan_pipelines.families.paired.config.TrainParams` or a dict (validated here); the
    class count comes from ``ingest_params`` (a direct call without them may put ``label_nc`` in
    ``params``).
    ``family``/``stage`` (bound by the pipeline) name the namespace and parameter group."""
    from gan_pipelines.families.paired.config import input_config
    from gan_pipelines.families.paired.networks import check_resolution, global_generator_config
    from gan_pipelines.families.paired.user_data import label_meta

    section = f"{family}.{stage}"
    # parsed once (Kedro validated it in a run); a direct call may give label_nc beside it
    train, label_nc = parse_train_params(params, section)
    ignore_value = None
    if ingest_params is not None:
        label_nc, ignore_value = ingest_class_count(train.input_kind, ingest_params, family, stage)
    input_cfg = input_config({"input_kind": train.input_kind, "label_nc": label_nc,
                              "instance_edges": train.instance_edges, "instance_kind": train.instance_kind},
                             KIND_TYPES, section)
    kinds = training_kinds({"input": input_cfg, "target_kind": train.target_kind or TARGET_KIND})
    _, train_arrays = load_split(model_input, "train", kinds)
    _, val_arrays = load_split(model_input, "val", kinds)
    check_label_range(train_arrays, val_arrays, input_cfg, ignore_value, family)
    resolution = int(train_arrays[train.target_kind or TARGET_KIND].shape[1])
    settings = train_settings(train, label_nc, section, resolution)
    config = train.training.trainer_config(section)
    crop = (train.augmentation or {}).get("crop_size", resolution)
    if crop != resolution:
        raise ValueError(
            f"{section}.augmentation.crop_size is {crop} but the model input is {resolution} px; train and test "
            "must see the same size (set load_size above it for the resize-and-crop jitter)"
        )
    check_resolution(resolution, settings["generator"], settings["discriminator"], section)
    global_phase: dict[str, Any] = {}
    global_state = None
    if settings["local_enhancer"]:
        global_settings, global_config = _global_phase_settings(train, settings, section)
        check_resolution(resolution // 2, global_settings["generator"], settings["discriminator"],
                         f"{section} (global phase at {resolution // 2} px)")
        logger.info("%s: pix2pixHD global generator at %d px for %d epochs, then the local enhancer at %d px",
                    section, resolution // 2, settings["global_epochs"], resolution)
        global_result, _ = run_training(
            fit_generator, (half_resolution(train_arrays, kinds), half_resolution(val_arrays, kinds), global_settings,
                            f"{section} (global phase)", None, global_config), global_config)
        global_state = global_result.best_state_dicts["generator"]
        global_phase = {"resolution": resolution // 2, "epochs": settings["global_epochs"],
                        "best_epoch": int(global_result.best_epoch),
                        "val_metrics": {k: float(v) for k, v in global_result.best_metrics.items()},
                        "generator": global_generator_config(settings["generator"])}
    result, info = run_training(fit_generator, (train_arrays, val_arrays, settings, section, global_state, config), config)
    log_kept_epoch(logger, section, result, config)
    meta = {
        "family": family,
        "network": "generator",
        "stage": stage,
        "resolution": resolution,
        "model_input_version": folder_version(model_input) or "unversioned",
        # what it learned from, by content: evaluate refuses a model input of other content
        "data_hash": content_hash(model_input, sorted(kinds), ("train", "val")),
        "data_hash_kinds": sorted(kinds),
        "test_time_mode": "eval (BatchNorm running statistics, no dropout)",
        # how the ingest read label maps (palette, tolerance, ignore value): predict reads user maps the same way
        "labels": label_meta(as_plain(ingest_params) if ingest_params is not None else None, f"{family}.ingest"),
        **info,
    }
    if global_phase:
        meta["global_phase"] = global_phase
    bundle = checkpoint_bundle(
        result, modules=("generator",),
        model_config={"generator": settings["generator"], "discriminator": settings["discriminator"],
                      "input": settings["input"], "target_kind": settings["target_kind"]},
        meta=meta,
    )
    return bundle, history_frame(result)


def _global_phase_settings(train: TrainParams, settings: TrainSettings, section: str):
    """Settings and trainer config of the pix2pixHD global phase: the global generator alone
    at half resolution for ``global_epochs`` (half of them at constant lr with the linear
    schedule), with its own state file (``<stage's state>_global.pt``) and TensorBoard folder."""
    from gan_pipelines.families.paired.networks import global_generator_config

    epochs = settings["global_epochs"]
    changes = {"epochs": epochs,
               "state_path": training_state_path(section).removesuffix(".pt") + "_global.pt",
               "log_dir": tensorboard_dir(section) + "_global"}
    if train.training.scheduler == "linear":
        changes["lr_constant_epochs"] = epochs // 2
    global_settings = TrainSettings({**settings, "generator": global_generator_config(settings["generator"]),
                                     "local_enhancer": False, "global_epochs": 0, "freeze_global_epochs": 0})
    return global_settings, train.training.trainer_config(section, **changes)


def fit_generator(train_arrays, val_arrays, params: TrainSettings | Mapping[str, Any], section: str, global_state=None,
                  config=None):
    """Build networks, losses, loaders and the task, and train (in this process or in each
    data-parallel worker). ``params``: the stage's resolved :class:`TrainSettings` (the node's),
    or train parameters of a direct call (parsed once here). ``global_state``: trained weights
    of a pix2pixHD global generator to start a local enhancer's global part from. ``config``:
    the TrainerConfig (default: the stage's). Returns (FitResult, what the checkpoint's meta
    records)."""
    from gan_pipelines.families.paired.networks import (
        build_paired_generator, encoder_from_config, global_generator_config,
    )
    from gan_pipelines.families.paired.tasks import PairedTranslationTask, PerceptualTerm, kl_loss, l1_loss, tv_loss
    from gan_pipelines.models import build_perceptual_loss, count_parameters
    from gan_pipelines.models.discriminators import build_discriminator
    from gan_pipelines.models.pretrained import build_vgg19_perceptual_loss
    from gan_pipelines.training import ResizeCropFlip, fit, seed_everything

    settings = params
    if not isinstance(settings, TrainSettings):
        train, label_nc = parse_train_params(params, section)
        settings = train_settings(train, label_nc, section, int(next(iter(train_arrays.values())).shape[1]))
        config = config or train.training.trainer_config(section)
    elif config is None:
        raise ValueError("fit_generator: resolved settings need their TrainerConfig (config)")
    seed_everything(config.seed)
    generator = build_paired_generator(settings["generator"])
    if global_state is not None:
        trained_global = build_paired_generator(global_generator_config(settings["generator"]))
        trained_global.load_state_dict(global_state)
        generator.load_global_generator(trained_global)
    discriminator = build_discriminator(settings["discriminator"])
    weights = settings["loss_weights"]
    extra: dict[str, tuple[float, Any]] = {}
    if weights["l1"] > 0:
        extra["l1"] = (weights["l1"], l1_loss)
    perceptual_status = "off (loss_weights.perceptual is 0)"
    if weights["perceptual"] > 0:
        perceptual, perceptual_status = build_perceptual_loss({"reduction": "mean", **settings["perceptual"]})
        if perceptual is not None:
            extra["perceptual"] = (weights["perceptual"], PerceptualTerm(perceptual))
        logger.info("%s: VGG16 feature loss %s", section, perceptual_status)
    vgg19_status = "off (loss_weights.vgg19 is 0)"
    if weights.get("vgg19", 0.0) > 0:
        vgg19, vgg19_status = build_vgg19_perceptual_loss(settings["vgg19"])
        if vgg19 is not None:
            extra["vgg19"] = (weights["vgg19"], PerceptualTerm(vgg19))
        logger.info("%s: VGG19 perceptual loss %s", section, vgg19_status)
    if weights["tv"] > 0:
        extra["tv"] = (weights["tv"], tv_loss)
    if weights.get("kl", 0.0) > 0:
        extra["kl"] = (weights["kl"], kl_loss)
    feature_matching = weights.get("feature_matching", 0.0) or None
    augmentation = settings["augmentation"]
    recipe = ResizeCropFlip.from_params(augmentation) if augmentation else None
    train_loader, val_loader = build_loaders(
        train_arrays, val_arrays, settings["loader"], section, kinds=training_kinds(settings), augment=recipe,
        seed=config.seed,
    )
    gan_loss = adversarial_loss(settings)
    task = PairedTranslationTask(
        encoder_from_config(settings["input"]), settings["input"]["kind"], settings["input"]["instance_kind"],
        generator, discriminator, gan_loss,
        conditional=True, target_key=settings["target_kind"], extra_losses=extra,
        adversarial_weight=weights["adversarial"], feature_matching_weight=feature_matching, d_every=settings["d_every"],
        joint_discriminator_pass=settings["joint_discriminator_pass"],
        lr_generator=settings["lr_generator"], lr_discriminator=settings["lr_discriminator"],
        betas_generator=tuple(settings["betas"]), betas_discriminator=tuple(settings["betas"]),
        freeze_global_epochs=settings["freeze_global_epochs"] if global_state is not None else 0,
        hparams={"augmentation": dict(augmentation or {}), "input": settings["input"],
                 "generator": settings["generator"], "discriminator": settings["discriminator"],
                 **({"global_start": "trained global phase"} if global_state is not None else {})},
    )
    used = {"adversarial": weights["adversarial"], **({"feature_matching": feature_matching} if feature_matching else {}),
            **{k: w for k, (w, _) in extra.items()}}
    logger.info("%s: generator %.2fM parameters, discriminator %.2fM; losses %s%s",
                section, count_parameters(generator) / 1e6, count_parameters(discriminator) / 1e6, used,
                "; one joint D pass on real and fake" if settings["joint_discriminator_pass"] else "")
    result = fit(task, train_loader, val_loader, config)
    info = {
        "perceptual": perceptual_status,
        "loss_weights": used,
        "gan_mode": settings["gan_mode"], "real_label": settings["real_label"], "d_every": settings["d_every"],
        "adversarial_scales": gan_loss.scale_reduction,
        "joint_discriminator_pass": settings["joint_discriminator_pass"],
    }
    if weights.get("vgg19", 0.0) > 0 or "vgg19" in settings["loss_weights_given"]:
        info["vgg19_perceptual"] = vgg19_status
    if settings["freeze_global_epochs"] and global_state is not None:
        info["freeze_global_epochs"] = settings["freeze_global_epochs"]
    return result, info
