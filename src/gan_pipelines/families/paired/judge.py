"""The segmentation judge that the ``<family>.train_judge`` node trains (the node itself:
:mod:`gan_pipelines.families.paired.nodes.train_judge`): a U-Net trained on the REAL train
images to predict their label maps (best epoch on val mIoU), and the shared store of judges.
``<family>.evaluate`` applies it to generated test images (the FCN-score of pix2pix) and uses
its pooled encoder features for Frechet/KID distances. See :mod:`gan_pipelines.models.segmenter`.

Parameters (``<family>.train_judge``):

* ``image_kind`` / ``label_kind``: the kinds of the model-input folder holding the real RGB
  images and their class-index maps;
* ``num_classes``; ``ignore_index`` (null, or the don't-care value of the label maps, e.g. 255):
  in a pipeline these come from ``<family>.ingest.label_nc`` / ``ignore_value`` (the node
  :func:`~gan_pipelines.families.paired.nodes.train_judge.train_paired_judge` fills them in and refuses
  them in ``<family>.train_judge``);
* ``model``: :data:`gan_pipelines.models.segmenter.SEGMENTER_DEFAULTS` keys;
* ``batch_size``, ``lr`` (Adam, default 3e-3), ``num_workers``;
* ``augmentation``: ``{hflip_p: 0.5, colour_jitter: null}`` (a horizontal flip of image and
  label map; ``colour_jitter`` makes the judge blind to paint colour, see :func:`_augmentation`)
  or null for none;
* ``training``: :class:`gan_pipelines.training.TrainerConfig` keys; ``monitor`` defaults to
  ``miou`` (``max``); ``precision`` is always fp32 (any other value is refused): a judge trained
  in bf16 on one CPU and in fp32 on another scored the same pictures 0.54 and 0.64 mIoU;
* ``spread_seeds``: more judge seeds (default none). Each trains one more judge on the same data,
  stored in the same checkpoint; evaluate then reports every ``seg_*`` score under each of them
  (``seg_*_judge_seeds``), the spread that the judge's own training adds;
* ``shared_store``: a folder of judges keyed by the content hash of the data they learn from and
  by these parameters (conf/base: ``data/06_models/segmentation_judges``; absent or null: no
  sharing). A family
  whose train/val pictures and label maps are byte-identical to another's (pix2pix, pix2pixhd,
  spade render the same scenes) reuses that judge instead of training an identical one.

Before each validation the BatchNorm statistics are recomputed on the (unaugmented) training
images, at most 100 batches ("precise BN", see :mod:`gan_pipelines.training.segmentation`): the
running statistics of a short run lag far behind the weights and made the eval-mode judge much
worse than the trained one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.image_folders import folder_version, stack_split
from gan_pipelines.families.paired.config import JudgeAugmentationParams, JudgeParams
from gan_pipelines.params import TrainingParams, tensorboard_dir, training_state_path
from gan_pipelines.stages.training_setup import build_loaders, checkpoint_bundle, history_frame, run_training

logger = logging.getLogger(__name__)

DEFAULT_SECTION = "train_judge"
JUDGE_PRECISION = "fp32"
# Settings that change where or how visibly a judge trains, not what it learns: left out of the
# shared store's key.
NOT_LEARNED = {"shared_store", "num_workers"}
NOT_LEARNED_TRAINING = {"resume", "state_path", "log_dir", "device", "progress", "cpu_threads", "keep_superseded_states"}
DEFAULT_LR = 3e-3
CALIBRATION_MAX_BATCHES = 100  # BatchNorm statistics from at most this many training batches
# Batch keys of the judge's loaders (the task's defaults), whatever the folder's kinds are called.
KINDS = {"image": "rgb", "target": "labels"}


def _augmentation(augmentation: JudgeAugmentationParams | None):
    """The judge's per-sample augmenter (albumentations; label maps only ever flipped), or None.

    ``augmentation`` (validated): ``{hflip_p, colour_jitter}``. ``colour_jitter`` (null = off):
    ``{hue, saturation, brightness, grey_p}``; every training picture gets a hue rotation drawn
    from [-hue, hue] (fraction of the colour circle, 0.5 = any hue), saturation and brightness
    factors from [1 - x, 1 + x], and is turned grey with probability ``grey_p``. A judge trained
    so cannot read a class from its paint colour and has to use shape, shading, texture and
    shadows: the things a flat class-colour fill lacks (colour errors are what L1/PSNR measure).
    """
    if augmentation is None:
        return None
    p, jitter = augmentation.hflip_p, augmentation.colour_jitter
    if p == 0 and jitter is None:
        return None
    import albumentations as A

    from gan_pipelines.training.data import AlbumentationsAugmenter, albumentations_target_names

    steps = [A.HorizontalFlip(p=float(p))]
    if jitter is not None:
        steps.append(A.ColorJitter(
            brightness=jitter.brightness, contrast=0.0, saturation=jitter.saturation, hue=jitter.hue, p=1.0,
        ))
        steps.append(A.ToGray(p=jitter.grey_p))
    names = albumentations_target_names(KINDS)
    transform = A.Compose(steps, additional_targets={names["target"]: "mask"})
    return AlbumentationsAugmenter(transform, KINDS)


def _judge_training(judge: JudgeParams) -> TrainingParams:
    """The judge's ``training`` block: ``monitor`` miou (max) unless set, always fp32 (another
    precision is refused by the model)."""
    training = judge.training
    changes: dict[str, Any] = {"precision": JUDGE_PRECISION}
    monitor = training.monitor if "monitor" in training.model_fields_set else "miou"
    if "monitor" not in training.model_fields_set:
        changes["monitor"] = monitor
    if "monitor_mode" not in training.model_fields_set:
        changes["monitor_mode"] = "max" if monitor in ("miou", "pixel_acc", "mean_class_acc") else "min"
    return _updated(training, changes)


def _updated(block, changes: Mapping[str, Any]):
    """``block`` with ``changes`` (derived values, not validated again), counted as given."""
    copy = block.model_copy(update=dict(changes))
    copy.__pydantic_fields_set__.update(changes)
    return copy


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


def _store_path(judge: JudgeParams, data_hash: str) -> Path | None:
    """Where a judge of these learned settings on this data lives in the shared store, or None."""
    if judge.shared_store is None:
        return None
    params = judge.as_dict()
    learned = {k: v for k, v in params.items() if k not in NOT_LEARNED}
    learned["training"] = {k: v for k, v in params["training"].items() if k not in NOT_LEARNED_TRAINING}
    settings_hash = hashlib.sha256(json.dumps(learned, sort_keys=True, default=str).encode()).hexdigest()
    return Path(judge.shared_store) / f"judge_{data_hash[:16]}_{settings_hash[:12]}.pt"


def _from_store(path: Path, data_hash: str) -> dict[str, Any] | None:
    import torch

    if not path.is_file():
        return None
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: train anew rather than fail
        logger.warning("The shared judge %s cannot be read (%s); training a new one.", path, exc)
        return None
    if (bundle.get("meta") or {}).get("judge", {}).get("data_hash") != data_hash:
        logger.warning("The shared judge %s was trained on other data than its name says; training a new one.", path)
        return None
    return bundle


def train_judge(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: JudgeParams | Mapping[str, Any], *,
    section: str = DEFAULT_SECTION
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the segmentation judge on the train split (best epoch on val), in fp32; return
    (checkpoint bundle, per-epoch history). The bundle's ``meta.family`` is
    ``"segmentation_judge"`` and ``meta.judge`` holds its ``precision``, ``seed`` and the
    ``data_hash`` of the train/val pictures and label maps it learned from
    (:func:`gan_pipelines.image_folders.content_hash`); :func:`judge_from_bundle` turns it into
    a judge. With ``shared_store`` set, a judge already trained on byte-identical data with the
    same learned settings is loaded from there instead of trained again."""
    from gan_pipelines.image_folders import content_hash
    from gan_pipelines.models.segmenter import JUDGE_FAMILY, build_segmenter

    judge = params if isinstance(params, JudgeParams) else JudgeParams.parse(params, section)  # once
    judge = _updated(judge, {"training": _judge_training(judge)})
    config = judge.training.trainer_config(section)
    model_config = judge.model.as_dict()
    settings = {"image_kind": judge.image_kind, "label_kind": judge.label_kind, "num_classes": judge.num_classes,
                "ignore_index": judge.ignore_index}
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
    data_hash = content_hash(model_input, [settings["image_kind"], settings["label_kind"]], ("train", "val"))
    store_path = _store_path(judge, data_hash)
    stored = _from_store(store_path, data_hash) if store_path is not None else None
    if stored is not None:
        logger.info(
            "Judge: reusing %s, trained %s on byte-identical data (hash %s) with the same settings.",
            store_path, stored["meta"].get("trained_at"), data_hash[:16],
        )
        return stored, pd.DataFrame(stored["history"])

    result = run_training(fit_judge, (train_arrays, val_arrays, judge, section, config), config)
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
            "judge": {"precision": result.precision, "seed": config.seed, "data_hash": data_hash},
        },
    )
    bundle["spread_judges"] = []
    for seed in judge.spread_seeds:
        seeded = _updated(judge, {"training": _updated(judge.training, {"seed": seed})})
        seeded_config = seeded.training.trainer_config(section, **_seed_paths(section, seed))
        other = run_training(fit_judge, (train_arrays, val_arrays, seeded, section, seeded_config), seeded_config)
        logger.info("Judge seed %d: best epoch %d, val mIoU %.4f", seed, other.best_epoch, other.best_metrics.get("miou", float("nan")))
        bundle["spread_judges"].append({
            "seed": seed, "state_dicts": {"segmenter": other.best_state_dicts["segmenter"]},
            "best_epoch": int(other.best_epoch), "val_metrics": {k: float(v) for k, v in other.best_metrics.items()},
        })
    if store_path is not None and config.node_rank == 0:  # node K > 0 of a training across machines writes nothing
        import torch

        from gan_pipelines.files import write_atomically

        store_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(store_path, lambda stream: torch.save(bundle, stream))
        logger.info("Judge: stored in %s for every family with byte-identical data (hash %s).", store_path, data_hash[:16])
    return bundle, history_frame(result)


def _seed_paths(section: str, seed: int) -> dict[str, str]:
    """The state file and log folder of a spread judge: the primary's with the seed added, so
    the judges never share a training-state file."""
    return {"state_path": training_state_path(section).removesuffix(".pt") + f"_seed{seed}.pt",
            "log_dir": f"{tensorboard_dir(section)}_seed{seed}"}


def fit_judge(
    train_arrays: Mapping[str, np.ndarray], val_arrays: Mapping[str, np.ndarray], params: JudgeParams | Mapping[str, Any],
    section: str,
    config=None,
):
    """Build the net, loaders and task, and train; runs in the node's process or in each
    data-parallel worker. ``config``: the TrainerConfig (default: the stage's)."""
    from gan_pipelines.models.segmenter import build_segmenter
    from gan_pipelines.training import PairedImageDataset, fit, make_loader, seed_everything
    from gan_pipelines.training.segmentation import SegmentationTask

    judge = params if isinstance(params, JudgeParams) else JudgeParams.parse(params, section)
    config = config or _judge_training(judge).trainer_config(section)
    seed_everything(config.seed)  # the initial weights depend on the seed only
    net = build_segmenter(judge.model.as_dict(), judge.num_classes)
    loader = {"batch_size": judge.batch_size, "num_workers": judge.num_workers,
              "training": {"device": judge.training.device}}
    train_loader, val_loader = build_loaders(
        train_arrays, val_arrays, loader, section, kinds=KINDS, augment=_augmentation(judge.augmentation), seed=config.seed,
    )
    # The training images, unaugmented and in order, for the BatchNorm statistics before each
    # validation (every worker uses all of them, so all workers get the same statistics).
    calibration = make_loader(PairedImageDataset(train_arrays, {"image": "rgb"}), val_loader.batch_size, shuffle=False)
    task = SegmentationTask(
        net, judge.num_classes, float(judge.lr), ignore_index=judge.ignore_index,
        calibration_batches=lambda: calibration, calibration_max_batches=CALIBRATION_MAX_BATCHES,
        settings={"augmentation": judge.augmentation.model_dump() if judge.augmentation is not None else None},
    )
    return fit(task, train_loader, val_loader, config)


def judge_from_bundle(bundle: Mapping[str, Any], *, batch_size: int = 16, device: str = "auto"):
    """The :class:`~gan_pipelines.models.segmenter.SegmentationJudge` of a ``train_judge``
    checkpoint (eval mode, fp32, on ``device``); any other checkpoint is refused."""
    from gan_pipelines.models.segmenter import segmentation_judge_from_bundle

    return segmentation_judge_from_bundle(bundle, batch_size=batch_size, device=device)
