"""Preprocess: resize every sample to the training resolution and split train / val / test.

Test is the source's test split; val is a seeded fraction of the source's train split, so model
selection and learning-rate schedules never look at test data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.images import resize_image, resize_mask
from gan_pipelines.layout import RGB_KINDS, image_key, split_key
from gan_pipelines.params import check_known_keys, require

logger = logging.getLogger(__name__)

RESOLUTION_MULTIPLE = 32  # the U-Net encoders downsample five times


def check_preprocess_params(params: Mapping[str, Any]) -> tuple[int, float, int]:
    """Validate ``preprocess`` parameters; return (resolution, val_fraction, seed)."""
    check_known_keys(params, {"resolution", "val_fraction", "seed"}, "preprocess")
    resolution = require(params, "resolution", "preprocess")
    if not isinstance(resolution, int) or resolution <= 0 or resolution % RESOLUTION_MULTIPLE:
        raise ValueError(
            f"preprocess.resolution must be a positive multiple of {RESOLUTION_MULTIPLE} "
            f"(the U-Net encoder downsamples 5 times); got {resolution!r}"
        )
    val_fraction = require(params, "val_fraction", "preprocess")
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"preprocess.val_fraction must be between 0 and 1 (exclusive); got {val_fraction!r}")
    seed = params.get("seed", 0)
    if not isinstance(seed, int):
        raise ValueError(f"preprocess.seed must be an integer; got {seed!r}")
    return resolution, float(val_fraction), seed


def choose_val_names(train_names: list[str], val_fraction: float, seed: int) -> set[str]:
    """Pick a seeded subset of the train samples for validation (at least one when there are
    two or more train samples). Depends only on the sorted names, not on their order."""
    names = sorted(train_names)
    if len(names) < 2:
        return set()
    count = min(len(names) - 1, max(1, round(len(names) * val_fraction)))
    rng = np.random.default_rng(seed)
    return set(rng.choice(names, size=count, replace=False).tolist())


def preprocess_shadow_data(
    raw_images: Mapping[str, Callable[[], np.ndarray]], params: dict[str, Any]
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """Return ``(model_input, summary)``: lazily resized images keyed ``{train,val,test}/kind/name.png``.

    Images are resized with area averaging (bilinear when enlarging), masks with nearest
    neighbour and re-binarised at 128. The work happens lazily while the catalog saves, so the
    full-size data never has to sit in memory at once.
    """
    resolution, val_fraction, seed = check_preprocess_params(params)
    if not raw_images:
        raise ValueError("preprocess: the ingested image folder is empty")
    size = (resolution, resolution)

    names_by_split: dict[str, set[str]] = defaultdict(set)
    for key in raw_images:
        split, _, name = split_key(key)
        names_by_split[split].add(name)
    val_names = choose_val_names(list(names_by_split.get("train", ())), val_fraction, seed)

    model_input: dict[str, Callable[[], np.ndarray]] = {}
    for key, load in raw_images.items():
        split, kind, name = split_key(key)
        target_split = "val" if split == "train" and name in val_names else split
        model_input[image_key(target_split, kind, name)] = _resized_loader(load, kind, size)

    counts = {
        "train": len(names_by_split.get("train", ())) - len(val_names),
        "val": len(val_names),
        "test": len(names_by_split.get("test", ())),
    }
    logger.info("Preprocess: %s samples at %d px", counts, resolution)
    summary = {"resolution": resolution, "val_fraction": val_fraction, "seed": seed, "num_samples": counts}
    return model_input, summary


def _resized_loader(
    load: Callable[[], np.ndarray], kind: str, size: tuple[int, int]
) -> Callable[[], np.ndarray]:
    if kind in RGB_KINDS:
        return lambda: resize_image(load(), size)
    return lambda: resize_mask(load(), size)
