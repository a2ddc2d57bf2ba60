"""Turn an image folder (catalog dict of lazy loaders) into stacked arrays for one split.

Shared by the training, evaluation and prediction nodes of the shadow family.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from gan_pipelines.layout import image_key, split_key


def sample_names(images: Mapping[str, Callable[[], np.ndarray]], split: str) -> list[str]:
    """Sorted names of the samples of ``split`` (those with a ``noshadow`` image)."""
    return sorted(name for s, kind, name in map(split_key, images) if s == split and kind == "noshadow")


def stack_split(
    images: Mapping[str, Callable[[], np.ndarray]],
    split: str,
    kinds: Sequence[str],
    *,
    required: bool = True,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Decode every image of ``split`` for ``kinds`` into arrays ``(N, H, W[, 3])``.

    Returns ``(names, arrays)``. Raises ValueError naming the split, sample and kind when a
    sample lacks one of the kinds, or when the split is empty and ``required``.
    """
    names = sample_names(images, split)
    if not names:
        if required:
            raise ValueError(f"The {split!r} split has no samples; check the ingest/preprocess outputs")
        return [], {}
    missing = [(name, kind) for name in names for kind in kinds if image_key(split, kind, name) not in images]
    if missing:
        listed = ", ".join(f"{split}/{kind}/{name}.png" for name, kind in missing[:10])
        raise ValueError(f"{len(missing)} image(s) missing from the model input, e.g. {listed}")
    arrays = {kind: [] for kind in kinds}
    for name in tqdm(names, desc=f"load {split}", unit="sample", leave=False):
        for kind in kinds:
            arrays[kind].append(images[image_key(split, kind, name)]())
    return names, {kind: np.stack(values) for kind, values in arrays.items()}


_VERSION_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z")


def folder_version(images: Mapping[str, Callable[[], np.ndarray]]) -> str | None:
    """The Kedro version of a loaded image folder (read from its files' paths), or None."""
    for loader in images.values():
        match = _VERSION_PATTERN.search(str(getattr(loader, "path", "")))
        return match.group(0) if match else None
    return None
