"""Preprocess an ingested image folder for training: resize every image by its kind's type and
split train / val / test.

Test is the source's test split; val is a seeded fraction of the source's train split, so model
selection and learning-rate schedules never look at test data. How an image is resized depends
on its kind's type, which the family declares (``kind_types``):

* ``rgb``: area averaging when shrinking (no aliasing), bilinear when enlarging;
* ``mask``: nearest neighbour, then re-binarised (0/255);
* ``labels``: nearest neighbour, values kept exactly (class or instance indices, never thresholded).

A kind the family did not declare is an error, never silently treated as a mask.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.image_folders import ImageFolder, image_key, split_key
from gan_pipelines.images import resize_image, resize_labels, resize_mask
from gan_pipelines.params import check_known_keys, require

logger = logging.getLogger(__name__)

KIND_TYPES = ("rgb", "mask", "labels")
PARAM_KEYS = {"resolution", "val_fraction", "seed"}


def check_preprocess_params(params: Mapping[str, Any], section: str, multiple: int) -> tuple[int, float, int]:
    """Validate a family's ``preprocess`` parameters; return (resolution, val_fraction, seed).

    ``multiple``: what the family's networks need the resolution to be divisible by.
    Raises ValueError naming ``<section>.<key>`` and what is wrong."""
    check_known_keys(params, PARAM_KEYS, section)
    resolution = require(params, "resolution", section)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution <= 0 or resolution % multiple:
        raise ValueError(
            f"{section}.resolution must be a positive multiple of {multiple} "
            f"(the networks downsample {multiple.bit_length() - 1} times); got {resolution!r}"
        )
    val_fraction = require(params, "val_fraction", section)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"{section}.val_fraction must be between 0 and 1 (exclusive); got {val_fraction!r}")
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"{section}.seed must be an integer; got {seed!r}")
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


def preprocess_image_folder(
    raw_images: ImageFolder,
    kind_types: Mapping[str, str],
    params: Mapping[str, Any],
    *,
    section: str,
    multiple: int,
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """Return ``(model_input, summary)``: lazily resized images keyed ``{train,val,test}/kind/name.png``.

    ``kind_types`` maps each image kind of the folder to ``rgb | mask | labels``. The work happens
    lazily while the catalog saves, so the full-size data never has to sit in memory at once.
    Raises ValueError for an empty folder, bad parameters, or a kind missing from ``kind_types``.
    """
    resolution, val_fraction, seed = check_preprocess_params(params, section, multiple)
    if not raw_images:
        raise ValueError(f"{section}: the ingested image folder is empty")
    bad_types = {kind: t for kind, t in kind_types.items() if t not in KIND_TYPES}
    if bad_types:
        raise ValueError(f"{section}: unknown kind type(s) {bad_types}; allowed: {', '.join(KIND_TYPES)}")
    size = (resolution, resolution)

    names_by_split: dict[str, set[str]] = defaultdict(set)
    undeclared: set[str] = set()
    for key in raw_images:
        split, kind, name = split_key(key)
        names_by_split[split].add(name)
        if kind not in kind_types:
            undeclared.add(kind)
    if undeclared:
        raise ValueError(
            f"{section}: the image folder has kind(s) {sorted(undeclared)} that this family does not declare "
            f"(declared: {sorted(kind_types)}); refusing to guess how to resize them"
        )
    val_names = choose_val_names(list(names_by_split.get("train", ())), val_fraction, seed)

    model_input: dict[str, Callable[[], np.ndarray]] = {}
    for key, load in raw_images.items():
        split, kind, name = split_key(key)
        target_split = "val" if split == "train" and name in val_names else split
        model_input[image_key(target_split, kind, name)] = _resized_loader(load, kind_types[kind], size)

    counts = {
        "train": len(names_by_split.get("train", ())) - len(val_names),
        "val": len(val_names),
        "test": len(names_by_split.get("test", ())),
    }
    logger.info("%s: %s samples at %d px", section, counts, resolution)
    summary = {"resolution": resolution, "val_fraction": val_fraction, "seed": seed, "num_samples": counts}
    return model_input, summary




def _resized_loader(load: Callable[[], np.ndarray], kind_type: str, size: tuple[int, int]) -> Callable[[], np.ndarray]:
    if kind_type == "rgb":
        return lambda: resize_image(load(), size)
    if kind_type == "mask":
        return lambda: resize_mask(load(), size)
    return lambda: resize_labels(load(), size)
