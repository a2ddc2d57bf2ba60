"""<family>.train_judge: the segmentation judge, a U-Net trained on the REAL train images to
predict their label maps (best epoch on val mIoU). ``<family>.evaluate`` applies it to generated
test images (the FCN-score of pix2pix) and uses its pooled encoder features for Frechet/KID
distances. See :mod:`gan_pipelines.models.segmenter`.

Parameters (``<family>.train_judge``):

* ``image_kind`` / ``label_kind``: the kinds of the model-input folder holding the real RGB
  images and their class-index maps;
* ``num_classes``; ``ignore_index`` (null, or the don't-care value of the label maps, e.g. 255);
* ``model``: :data:`gan_pipelines.models.segmenter.SEGMENTER_DEFAULTS` keys;
* ``batch_size``, ``lr`` (Adam, default 3e-3), ``num_workers``;
* ``augmentation``: ``{hflip_p: 0.5, colour_jitter: null}`` (a horizontal flip of image and
  label map; ``colour_jitter`` makes the judge blind to paint colour, see :func:`_augmentation`)
  or null for none;
* ``training``: :class:`gan_pipelines.training.TrainerConfig` keys; ``monitor`` defaults to
  ``miou`` (``max``).

Before each validation the BatchNorm statistics are recomputed on the (unaugmented) training
images, at most 100 batches ("precise BN", see :mod:`gan_pipelines.training.segmentation`): the
running statistics of a short run lag far behind the weights and made the eval-mode judge much
worse than the trained one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.image_folders import folder_version, stack_split
from gan_pipelines.params import check_known_keys, require
from gan_pipelines.stages.training_setup import (
    COMMON_KEYS, build_loaders, check_learning_rate, checkpoint_bundle, history_frame, run_training, trainer_config,
)

logger = logging.getLogger(__name__)

DEFAULT_SECTION = "train_judge"
JUDGE_KEYS = COMMON_KEYS | {"image_kind", "label_kind", "num_classes", "ignore_index", "lr"}
DEFAULT_LR = 3e-3
CALIBRATION_MAX_BATCHES = 100  # BatchNorm statistics from at most this many training batches
# Batch keys of the judge's loaders (the task's defaults), whatever the folder's kinds are called.
KINDS = {"image": "rgb", "target": "labels"}


JITTER_KEYS = {"brightness", "saturation", "hue", "grey_p"}


def _check_jitter(settings: Any, section: str) -> dict[str, float]:
    where = f"{section}.augmentation.colour_jitter"
    if not isinstance(settings, Mapping):
        raise ValueError(f"{where} must be a mapping like {{hue: 0.5, saturation: 0.5, brightness: 0.3, grey_p: 0.2}} or null, got {settings!r}")
    check_known_keys(settings, JITTER_KEYS, where)
    limits = {"brightness": 1.0, "saturation": 1.0, "hue": 0.5, "grey_p": 1.0}
    values = {}
    for key, upper in limits.items():
        value = settings.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= upper:
            raise ValueError(f"{where}.{key} must be a number in [0, {upper}], got {value!r}")
        values[key] = float(value)
    return values


def _augmentation(params: Mapping[str, Any], section: str):
    """The judge's per-sample augmenter (albumentations; label maps only ever flipped), or None.

    ``augmentation``: ``{hflip_p, colour_jitter}``. ``colour_jitter`` (null = off):
    ``{hue, saturation, brightness, grey_p}``; every training picture gets a hue rotation drawn
    from [-hue, hue] (fraction of the colour circle, 0.5 = any hue), saturation and brightness
    factors from [1 - x, 1 + x], and is turned grey with probability ``grey_p``. A judge trained
    so cannot read a class from its paint colour and has to use shape, shading, texture and
    shadows: the things a flat class-colour fill lacks (colour errors are what L1/PSNR measure).
    """
    settings = params.get("augmentation", {"hflip_p": 0.5})
    if settings is None:
        return None
    if not isinstance(settings, Mapping):
        raise ValueError(f"{section}.augmentation must be a mapping like {{hflip_p: 0.5}} or null, got {settings!r}")
    check_known_keys(settings, {"hflip_p", "colour_jitter"}, f"{section}.augmentation")
    p = settings.get("hflip_p", 0.5)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{section}.augmentation.hflip_p must be a probability in [0, 1], got {p!r}")
    jitter = settings.get("colour_jitter")
    jitter = _check_jitter(jitter, section) if jitter is not None else None
    if p == 0 and jitter is None:
        return None
    import albumentations as A

    from gan_pipelines.training.data import AlbumentationsAugmenter, albumentations_target_names

    steps = [A.HorizontalFlip(p=float(p))]
    if jitter is not None:
        steps.append(A.ColorJitter(
            brightness=jitter["brightness"], contrast=0.0, saturation=jitter["saturation"], hue=jitter["hue"], p=1.0,
        ))
        steps.append(A.ToGray(p=jitter["grey_p"]))
    names = albumentations_target_names(KINDS)
    transform = A.Compose(steps, additional_targets={names["target"]: "mask"})
    return AlbumentationsAugmenter(transform, KINDS)


def _judge_settings(params: Mapping[str, Any], section: str) -> dict[str, Any]:
    check_known_keys(params, JUDGE_KEYS, section)
    num_classes = require(params, "num_classes", section)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"{section}.num_classes must be an integer >= 2, got {num_classes!r}")
    ignore_index = params.get("ignore_index")
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise ValueError(f"{section}.ignore_index must be an integer or null, got {ignore_index!r}")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise ValueError(
            f"{section}.ignore_index {ignore_index} is one of the classes 0..{num_classes - 1}; "
            "use a value outside the class range (e.g. 255)"
        )
    return {
        "image_kind": str(require(params, "image_kind", section)),
        "label_kind": str(require(params, "label_kind", section)),
        "num_classes": num_classes,
        "ignore_index": ignore_index,
        "lr": check_learning_rate(params.get("lr", DEFAULT_LR), f"{section}.lr"),
    }


def _with_judge_monitor(params: Mapping[str, Any], section: str) -> dict[str, Any]:
    params = dict(params)
    training = dict(require(params, "training", section))
    training.setdefault("monitor", "miou")
    training.setdefault("monitor_mode", "max" if training["monitor"] in ("miou", "pixel_acc", "mean_class_acc") else "min")
    params["training"] = training
    return params


def _load_split(
    model_input: Mapping[str, Callable[[], np.ndarray]], split: str, settings: Mapping[str, Any], section: str
) -> dict[str, np.ndarray]:
    from gan_pipelines.metrics.segmentation import check_class_indices

    image_kind, label_kind = settings["image_kind"], settings["label_kind"]
    _, arrays = stack_split(model_input, split, [image_kind, label_kind], anchor_kind=label_kind)
    images, labels = arrays[image_kind], arrays[label_kind]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"{section}.image_kind {image_kind!r}: the judge trains on uint8 RGB images (N, H, W, 3); the "
            f"{split} split holds {images.dtype} {images.shape}"
        )
    if labels.ndim != 3:
        raise ValueError(f"{section}.label_kind {label_kind!r}: expected class-index maps (N, H, W), got {labels.shape}")
    check_class_indices(labels, settings["num_classes"], settings["ignore_index"], f"the {split} {label_kind} maps")
    if settings["ignore_index"] is not None and not (labels != settings["ignore_index"]).any():
        raise ValueError(f"every pixel of the {split} {label_kind} maps is the ignore value {settings['ignore_index']}")
    return {"image": images, "target": labels.astype(np.int64)}


def train_judge(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: dict[str, Any], *, section: str = DEFAULT_SECTION
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the segmentation judge on the train split (best epoch on val); return
    (checkpoint bundle, per-epoch history). The bundle's ``meta.family`` is
    ``"segmentation_judge"``; :func:`judge_from_bundle` turns it into a judge."""
    from gan_pipelines.models.segmenter import JUDGE_FAMILY, build_segmenter

    settings = _judge_settings(params, section)
    params = _with_judge_monitor(params, section)
    config = trainer_config(params, section)
    _augmentation(params, section)
    model_config = dict(params.get("model") or {})
    try:
        net = build_segmenter(model_config, settings["num_classes"])  # checks the config before any data is read
    except ValueError as exc:
        raise ValueError(f"{section}.model: {exc}") from None
    train_arrays = _load_split(model_input, "train", settings, section)
    val_arrays = _load_split(model_input, "val", settings, section)
    resolution = tuple(int(v) for v in train_arrays["image"].shape[1:3])
    if any(side % net.multiple for side in resolution):
        raise ValueError(
            f"{section}: the images are {resolution[0]}x{resolution[1]}, not multiples of {net.multiple} "
            f"(the judge's encoder downsamples {net.encoder_depth} times); lower model.encoder_depth or resize"
        )
    result = run_training(fit_judge, (train_arrays, val_arrays, params, section), config)
    logger.info(
        "Judge: best epoch %d, val %s", result.best_epoch,
        ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items()),
    )
    bundle = checkpoint_bundle(
        result, modules=("segmenter",),
        model_config={"segmenter": {**model_config, "num_classes": settings["num_classes"]}},
        meta={
            "family": JUDGE_FAMILY,
            "resolution": list(resolution),
            "num_classes": settings["num_classes"],
            "ignore_index": settings["ignore_index"],
            "image_kind": settings["image_kind"],
            "label_kind": settings["label_kind"],
            "model_input_version": folder_version(model_input) or "unversioned",
            "weights_status": net.weights_status,
        },
    )
    return bundle, history_frame(result)


def fit_judge(
    train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray], params: dict[str, Any], section: str
):
    """Build the net, loaders and task, and train; runs in the node's process or in each
    data-parallel worker."""
    from gan_pipelines.models.segmenter import build_segmenter
    from gan_pipelines.training import PairedImageDataset, fit, make_loader, seed_everything
    from gan_pipelines.training.segmentation import SegmentationTask

    settings = _judge_settings(params, section)
    config = trainer_config(params, section)
    seed_everything(config.seed)  # the initial weights depend on the seed only
    net = build_segmenter(dict(params.get("model") or {}), settings["num_classes"])
    train_loader, val_loader = build_loaders(
        train_arrays, val_arrays, params, section, kinds=KINDS, augment=_augmentation(params, section), seed=config.seed,
    )
    # The training images, unaugmented and in order, for the BatchNorm statistics before each
    # validation (every worker uses all of them, so all workers get the same statistics).
    calibration = make_loader(PairedImageDataset(train_arrays, {"image": "rgb"}), val_loader.batch_size, shuffle=False)
    task = SegmentationTask(
        net, settings["num_classes"], settings["lr"], ignore_index=settings["ignore_index"],
        calibration_batches=lambda: calibration, calibration_max_batches=CALIBRATION_MAX_BATCHES,
        settings={"augmentation": params.get("augmentation", {"hflip_p": 0.5})},
    )
    return fit(task, train_loader, val_loader, config)


def judge_from_bundle(bundle: Mapping[str, Any], *, batch_size: int = 16, device: str = "auto"):
    """The :class:`~gan_pipelines.models.segmenter.SegmentationJudge` of a ``train_judge``
    checkpoint (eval mode, fp32, on ``device``); any other checkpoint is refused."""
    from gan_pipelines.models.segmenter import segmentation_judge_from_bundle

    return segmentation_judge_from_bundle(bundle, batch_size=batch_size, device=device)
