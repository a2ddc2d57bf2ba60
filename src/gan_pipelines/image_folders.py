"""Image folders in memory, the way every family's nodes see them.

An image folder is a dict keyed by POSIX relative path ``"<split>/<kind>/<name>.png"`` whose
values are arrays or lazy loaders (see :class:`gan_pipelines.datasets.VersionedImageFolderDataset`).
A *sample* is one ``name`` of one ``split``; its images of different kinds share the name. Which
kind marks a sample (its *anchor kind*, the one every sample has) is the family's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from gan_pipelines.versions import find_version

ImageFolder = Mapping[str, Callable[[], np.ndarray]]


def image_key(split: str, kind: str, name: str) -> str:
    """The image-folder key of one image, e.g. ``image_key("train", "mask", "a")`` ->
    ``"train/mask/a.png"``."""
    return f"{split}/{kind}/{name}.png"


def split_key(key: str) -> tuple[str, str, str]:
    """Inverse of :func:`image_key`: ``"train/mask/a.png"`` -> ``("train", "mask", "a")``.

    Raises ValueError naming the key when it is not ``split/kind/file``."""
    parts = key.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"image-folder key {key!r} is not of the form <split>/<kind>/<name>.<ext>")
    split, kind, filename = parts
    return split, kind, filename.rsplit(".", 1)[0]


def sample_names(images: ImageFolder, split: str, anchor_kind: str) -> list[str]:
    """Sorted names of the samples of ``split``: those that have an ``anchor_kind`` image."""
    return sorted(name for s, kind, name in map(split_key, images) if s == split and kind == anchor_kind)


def stack_split(
    images: ImageFolder,
    split: str,
    kinds: Sequence[str],
    *,
    anchor_kind: str,
    required: bool = True,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Decode every image of ``split`` for ``kinds`` into arrays ``(N, H, W[, C])``.

    Returns ``(names, arrays)``. Raises ValueError naming the split, sample and kind when a
    sample lacks one of the kinds, or when the split is empty and ``required``.
    """
    names = sample_names(images, split, anchor_kind)
    if not names:
        if required:
            raise ValueError(f"The {split!r} split has no samples; check the ingest/preprocess outputs")
        return [], {}
    missing = [(name, kind) for name in names for kind in kinds if image_key(split, kind, name) not in images]
    if missing:
        listed = ", ".join(f"{split}/{kind}/{name}.png" for name, kind in missing[:10])
        raise ValueError(f"{len(missing)} image(s) missing from the model input, e.g. {listed}")
    arrays: dict[str, list[np.ndarray]] = {kind: [] for kind in kinds}
    for name in tqdm(names, desc=f"load {split}", unit="sample", leave=False):
        for kind in kinds:
            arrays[kind].append(images[image_key(split, kind, name)]())
    return names, {kind: np.stack(values) for kind, values in arrays.items()}


def folder_version(images: ImageFolder) -> str | None:
    """The Kedro version of a loaded image folder (read from its files' paths), or None."""
    for loader in images.values():
        return find_version(str(getattr(loader, "path", "")))
    return None


def content_hash(images: ImageFolder, kinds: Sequence[str], splits: Sequence[str] = ("train", "val")) -> str:
    """sha256 (hex) of what ``kinds`` hold in ``splits``: every matching key in sorted order with
    its decoded pixels' dtype, shape and bytes.

    Unlike :func:`folder_version` (a save timestamp), two byte-identical renders saved at
    different times hash the same, and one changed pixel, name or sample changes the hash: the
    key under which a model trained on this data is recognised. Raises ValueError when no image
    of ``kinds`` is in ``splits``.
    """
    import hashlib

    wanted_splits, wanted_kinds = set(splits), set(kinds)
    keys = sorted(key for key in images if split_key(key)[:2] in {(s, k) for s in wanted_splits for k in wanted_kinds})
    if not keys:
        raise ValueError(f"no image of kind(s) {sorted(wanted_kinds)} in split(s) {sorted(wanted_splits)} to hash")
    digest = hashlib.sha256()
    for key in keys:
        array = np.ascontiguousarray(images[key]())
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
