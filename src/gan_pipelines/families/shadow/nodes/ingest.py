"""shadow.ingest: bring Shadow-AR data into the project, from the synthetic renderer or a user's folder/zip.

The output is an image folder (``{train,test}/{kind}/{name}.png``) saved as one versioned snapshot.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gan_pipelines.families.shadow.layout import SPLITS
from gan_pipelines.image_folders import image_key
from gan_pipelines.families.shadow.config import IngestConfig

logger = logging.getLogger(__name__)

SECTION = "shadow.ingest"
SOURCES = ("synthetic", "shadow_ar")
SKIPPED_COLUMNS = ["split", "name", "reason"]


def ingest_shadow_data(params: IngestConfig) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Return ``(images, skipped, summary)`` for ``params = shadow.ingest``.

    ``images`` maps image-folder keys to arrays or lazy loaders; ``skipped`` lists samples left out
    with ``on_invalid: skip`` (empty otherwise); ``summary`` records where the data came from.
    """
    params = IngestConfig.parse(params).as_dict()
    source = params.get("source", "synthetic")
    if source == "synthetic":
        images, summary = _render_synthetic(params.get("synthetic") or {})
        skipped = pd.DataFrame(columns=SKIPPED_COLUMNS)
    elif source == "shadow_ar":
        images, skipped, summary = _read_shadow_ar(params)
    else:
        raise ValueError(f"{SECTION}.source must be one of {', '.join(SOURCES)}; got {source!r}")
    summary["num_images"] = len(images)
    summary["num_skipped"] = int(len(skipped))
    return images, skipped, summary


def _render_synthetic(synthetic_params: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from gan_pipelines.families.shadow.synthetic import render_shadow_ar_split
    from gan_pipelines.synthetic import SyntheticConfig

    config = SyntheticConfig.from_params(synthetic_params, section=f"{SECTION}.synthetic")
    counts = {"train": config.num_train, "test": config.num_test}
    images: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    for split in SPLITS:
        scenes = render_shadow_ar_split(config, split)
        for name, scene_images in tqdm(scenes, total=counts[split], desc=f"render {split}", unit="scene"):
            for kind, array in scene_images.items():
                images[image_key(split, kind, name)] = array
    seconds = time.perf_counter() - started
    logger.info(
        "Rendered %d train + %d test synthetic scenes at %d px in %.1f s",
        config.num_train, config.num_test, config.resolution, seconds,
    )
    summary = {
        "source": "synthetic",
        "num_samples": counts,
        "resolution": config.resolution,
        "seed": config.seed,
        "render_seconds": round(seconds, 2),
    }
    return images, summary


def _read_shadow_ar(params: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    from gan_pipelines.families.shadow.shadow_ar import read_shadow_ar

    path = params.get("path")
    if not path:
        raise ValueError(f"{SECTION}.path must name a Shadow-AR folder or .zip when {SECTION}.source is shadow_ar")
    data = read_shadow_ar(path, on_invalid=params.get("on_invalid", "error"))
    if len(data.skipped):
        logger.warning(
            "Skipped %d invalid sample(s) from %s; the list with reasons is saved as shadow.ingest_skipped",
            len(data.skipped), path,
        )
    num_samples = {split: 0 for split in SPLITS}
    for key in data.images:
        split, kind, _ = key.split("/")
        if kind == "noshadow":
            num_samples[split] = num_samples.get(split, 0) + 1
    summary = {
        "source": "shadow_ar",
        "path": str(path),
        "num_samples": num_samples,
        "inference_only": data.inference_only,
    }
    return data.images, data.skipped.reindex(columns=SKIPPED_COLUMNS), summary
