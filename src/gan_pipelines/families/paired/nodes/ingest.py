"""<family>.ingest: the embedded synthetic set (rendered, seeded) or a user's paired folder or
.zip, validated before anything is written; one versioned image folder out.

User data must hold a ``test/`` split besides ``train/`` (evaluation scores on it; nothing is
split off ``train/`` silently). With colour-coded label maps (``palette_path``) the summary's
``palette_far_pixels`` gives the share of label pixels farther than ``palette_tolerance`` from
every palette colour (they took their nearest colour's class), overall and in the worst file."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import (
    FAMILY_KINDS, INSTANCE_KIND, KIND_TYPES, LABEL_KIND, REAL_TEST_SPLIT, SPLITS, TARGET_KIND,
)
from gan_pipelines.image_folders import image_key
from gan_pipelines.families.paired.config import IngestParams

logger = logging.getLogger(__name__)

SOURCES = ("synthetic", "aligned", "folders")
SKIPPED_COLUMNS = ["split", "name", "reason"]


def ingest_paired_data(params: IngestParams, *, family: str, data_family: str | None = None,
                       ) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Return ``(images, skipped, summary)`` for ``<family>.ingest``. ``data_family``: the paired
    family whose kinds and embedded data to produce when ``family`` is another namespace that
    reads paired data (segsynth reads spade's: label map, instance map, picture); default
    ``family``. Messages name ``family``."""
    section = f"{family}.ingest"
    params = IngestParams.parse(params, section).as_dict()
    data_family = data_family or family
    source = params.get("source", "synthetic")
    if source in ("synthetic", "aligned", "folders"):
        ingested_class_count(params, family)  # a wrong class count stops here, before any image is read
    if source == "synthetic":
        images, summary = _render(params, data_family, section)
        skipped = pd.DataFrame(columns=SKIPPED_COLUMNS)
    elif source in ("aligned", "folders"):
        images, skipped, summary = _read_user(params, family, section, source, data_family)
    else:
        raise ValueError(f"{section}.source must be one of {', '.join(SOURCES)}; got {source!r}")
    summary["num_images"] = len(images)
    summary["num_skipped"] = int(len(skipped))
    return images, skipped, summary


def _render(params: dict[str, Any], family: str, section: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from tqdm.auto import tqdm

    from gan_pipelines.families.paired.synthetic import real_photo_samples, render_split, synthetic_config

    config, palette = synthetic_config(params.get("synthetic") or {}, f"{section}.synthetic")
    images: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    counts = {"train": config.num_train, "test": config.num_test}
    for split in SPLITS:
        for name, sample in tqdm(render_split(config, family, split), total=counts[split], desc=f"render {split}",
                                 unit="scene", leave=False):
            for kind, array in sample.items():
                images[image_key(split, kind, name)] = array
    if family == "sketch2color" and params.get("real_test_photos", True):
        count = 0
        for name, sample in real_photo_samples(config.resolution):
            count += 1
            for kind, array in sample.items():
                images[image_key(REAL_TEST_SPLIT, kind, name)] = array
        counts[REAL_TEST_SPLIT] = count
    seconds = time.perf_counter() - started
    logger.info("%s: rendered %s samples at %d px (%s palette) in %.1f s", section, counts, config.resolution,
                palette, seconds)
    summary = {"source": "synthetic", "palette": palette, "num_samples": counts, "resolution": config.resolution,
               "seed": config.seed, "kinds": list(FAMILY_KINDS[family]), "render_seconds": round(seconds, 2)}
    return images, summary


def _read_user(params: dict[str, Any], family: str, section: str, layout: str, data_family: str):
    from gan_pipelines.families.paired.user_data import LabelSpec, read_palette, read_paired_folder

    path = params.get("path")
    if not path:
        raise ValueError(f"{section}.path must name the folder when {section}.source is {layout}")
    input_kind = params.get("input_kind", FAMILY_KINDS[data_family][0])
    if KIND_TYPES.get(input_kind) not in ("labels", "rgb") or input_kind == TARGET_KIND:
        raise ValueError(f"{section}.input_kind must be one of {', '.join(k for k in KIND_TYPES if k != TARGET_KIND and k != INSTANCE_KIND)}; got {input_kind!r}")
    labels = class_maps = None
    try:
        if KIND_TYPES[input_kind] == "labels":
            label_nc = params.get("label_nc")
            palette = read_palette(params["palette_path"], label_nc) if params.get("palette_path") else None
            labels = LabelSpec(label_nc, params.get("ignore_value"), palette, params.get("palette_tolerance", 0.0))
        elif params.get("label_nc") is not None:  # sketches with class maps in <split>/labels/
            class_maps = LabelSpec(params["label_nc"], params.get("ignore_value"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{section}: {exc}") from None
    min_size = params.get("min_size", 16)
    data = read_paired_folder(
        path, layout=layout, direction=params.get("direction", "AtoB"), input_kind=input_kind,
        target_kind=TARGET_KIND, instance_kind=INSTANCE_KIND if params.get("instances", False) else None,
        labels=labels, min_size=min_size, on_invalid=params.get("on_invalid", "error"),
        class_maps=class_maps, class_map_kind=LABEL_KIND, section=section,
    )
    if data.num_samples.get("train") and not data.num_samples.get("test"):
        found = "no valid test sample (every one was skipped)" if _has_test(data) else "no test/ split"
        raise ValueError(
            f"{section}.path {path}: {found} (train/ has {data.num_samples['train']} valid samples). The training "
            f"chain scores the model on test/ ({family}.train_judge, {family}.evaluate); nothing is split off "
            "train/ for you: move some samples into <path>/test/ (same layout as train/), and run again")
    has_class_maps = labels is not None or any(key.split("/")[1] == LABEL_KIND for key in data.images)
    if not has_class_maps:
        logger.warning(
            "%s: no class maps (label_nc and <split>/labels/ for sketch inputs): %s.train_judge and %s.evaluate "
            "need them for the segmentation score; %s.train runs without", section, family, family, family)
    if len(data.skipped):
        logger.warning("%s: skipped %d invalid sample(s) from %s; the list with reasons is saved as %s.ingest_skipped",
                       section, len(data.skipped), path, family)
    far = _palette_far_summary(data.palette_far, labels, section)
    summary = {"source": layout, "path": str(path), "direction": params.get("direction", "AtoB"),
               "input_kind": input_kind, "num_samples": data.num_samples,
               "label_nc": labels.label_nc if labels else None,
               "ignore_value": labels.ignore_value if labels else None}
    if far is not None:
        summary["palette_far_pixels"] = far
    return data.images, data.skipped.reindex(columns=SKIPPED_COLUMNS), summary


def _has_test(data) -> bool:
    """Whether test/ held samples at all (valid or skipped)."""
    return bool(len(data.skipped)) and (data.skipped["split"] == "test").any()


def _palette_far_summary(palette_far: dict[str, tuple[int, int]], labels, section: str) -> dict[str, Any] | None:
    """``{"tolerance", "share", "max_share", "max_file", "num_files_with_far"}`` of the label pixels
    farther than ``palette_tolerance`` from every palette colour (they took their nearest
    colour's class), logged; None without a palette."""
    if labels is None or labels.palette is None or not palette_far:
        return None
    far = sum(f for f, _ in palette_far.values())
    pixels = sum(n for _, n in palette_far.values())
    worst = max(palette_far, key=lambda file: palette_far[file][0] / max(palette_far[file][1], 1))
    max_share = palette_far[worst][0] / max(palette_far[worst][1], 1)
    summary = {"tolerance": labels.palette_tolerance, "share": round(far / max(pixels, 1), 4),
               "max_share": round(max_share, 4), "max_file": worst,
               "num_files_with_far": sum(1 for f, _ in palette_far.values() if f)}
    if far:
        logger.warning(
            "%s: %.1f%% of the label pixels (up to %.1f%% in %s; %d of %d files) lie farther than %g from every "
            "palette colour (JPEG smear at class borders, or colours outside the palette); each took its nearest "
            "palette colour's class", section, 100 * summary["share"], 100 * max_share, worst,
            summary["num_files_with_far"], len(palette_far), labels.palette_tolerance)
    return summary


def ingested_class_count(params: Mapping[str, Any], family: str) -> tuple[int | None, int | None]:
    """``(label_nc, ignore_value)`` of the label maps ``<family>.ingest`` produces: the one place
    the class count is set for every stage of a family (train and train_judge derive theirs from
    it and no longer accept their own).

    Synthetic data has the renderer's classes (ground, the object kinds, sky): ``ingest.label_nc``
    may be left null, and another number than theirs is refused. User data has
    ``ingest.label_nc`` (None when the folders have no class maps) and ``ingest.ignore_value``.
    Raises ValueError naming ``<family>.ingest.label_nc``.
    """
    from gan_pipelines.synthetic import CLASS_NAMES

    label_nc = params.get("label_nc")
    if label_nc is not None and (isinstance(label_nc, bool) or not isinstance(label_nc, int) or not 2 <= label_nc <= 255):
        raise ValueError(f"{family}.ingest.label_nc must be an integer in 2..255 or null; got {label_nc!r}")
    if params.get("source", "synthetic") == "synthetic":
        if label_nc not in (None, len(CLASS_NAMES)):
            raise ValueError(
                f"{family}.ingest.label_nc is {label_nc} but the synthetic label maps have {len(CLASS_NAMES)} classes "
                f"({', '.join(CLASS_NAMES)}); leave it at {len(CLASS_NAMES)} or null for source: synthetic")
        return len(CLASS_NAMES), None
    return label_nc, params.get("ignore_value")

