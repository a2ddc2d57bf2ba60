"""<family>.preprocess: every picture resized to the training resolution (class maps nearest,
never interpolated) and a val split held out of train, per domain."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.families.unpaired.layout import DOMAINS, KIND_TYPES
from gan_pipelines.image_folders import image_key, split_key
from gan_pipelines.images import resize_image, resize_labels
from gan_pipelines.params import PreprocessParams
from gan_pipelines.stages.preprocess import check_preprocess_params, choose_val_names

logger = logging.getLogger(__name__)

# The unpaired generators (ResNet, and U-GAT-IT's and MUNIT's encoders) downsample twice with
# stride 2, so training pictures must be a multiple of 4 px; <family>.train checks its own depth.
SIZE_MULTIPLE = 4


def preprocess_unpaired_data(raw: Mapping[str, Any], params: PreprocessParams, *, family: str
                             ) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """Return ``(model_input, summary)``.

    ``raw``: the ingest's image folder (arrays, or loaders as the catalog gives them).
    ``model_input``: the same images as lazy loaders keyed ``{train,val,test}/<kind>/<name>.png``,
    pictures ``(R, R, 3)`` uint8 (area averaging down, bilinear up), class maps ``(R, R)``
    nearest neighbour, R = ``resolution``. ``val`` takes ``val_fraction`` of EACH domain's train
    names (seeded, at least one when a domain has two or more), so both domains are held out
    alike; a class map follows its picture. ``summary``: ``resolution``, ``val_fraction``,
    ``seed``, ``counts`` {"train": {"A", "B"}, "val": {"A", "B"}, "test": {"A", "B", "pairs"}}.
    Raises ValueError naming ``<family>.preprocess.<key>`` for bad parameters (resolution not a
    multiple of 4), an empty folder or a kind that is not A, B, A_labels, B_labels."""
    section = f"{family}.preprocess"
    params = PreprocessParams.parse(params, section).as_dict()
    resolution, val_fraction, seed = check_preprocess_params(params, section, SIZE_MULTIPLE)
    if not raw:
        raise ValueError(f"{section}: the ingested image folder is empty")
    keys = {key: split_key(key) for key in raw}
    undeclared = sorted({kind for _, kind, _ in keys.values() if kind not in KIND_TYPES})
    if undeclared:
        raise ValueError(f"{section}: the image folder has kind(s) {undeclared} that the unpaired families do not "
                         f"declare (declared: {sorted(KIND_TYPES)})")
    names = {(split, kind): set() for split in ("train", "test") for kind in DOMAINS}
    for split, kind, name in keys.values():
        if kind in DOMAINS and split in ("train", "test"):
            names[(split, kind)].add(name)
    val = {domain: choose_val_names(sorted(names[("train", domain)]), val_fraction, seed) for domain in DOMAINS}

    size = (resolution, resolution)
    model_input: dict[str, Callable[[], np.ndarray]] = {}
    for key, (split, kind, name) in keys.items():
        domain = kind.split("_", 1)[0]
        target = "val" if split == "train" and name in val[domain] else split
        model_input[image_key(target, kind, name)] = _resized(raw[key], KIND_TYPES[kind], size)

    counts = {
        "train": {d: len(names[("train", d)]) - len(val[d]) for d in DOMAINS},
        "val": {d: len(val[d]) for d in DOMAINS},
        "test": {**{d: len(names[("test", d)]) for d in DOMAINS},
                 "pairs": len(names[("test", "A")] & names[("test", "B")])},
    }
    logger.info("%s: %s at %d px", section, counts, resolution)
    return model_input, {"resolution": resolution, "val_fraction": val_fraction, "seed": seed, "counts": counts}


def _resized(value: Any, kind_type: str, size: tuple[int, int]) -> Callable[[], np.ndarray]:
    """A loader of ``value`` (an array or a loader) resized by its kind's type."""
    load = value if callable(value) else (lambda: value)
    if kind_type == "labels":
        return lambda: resize_labels(load(), size)
    return lambda: resize_image(load(), size)
