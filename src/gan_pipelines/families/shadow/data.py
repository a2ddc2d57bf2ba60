"""The shadow family's view of an image folder: samples named by their ``noshadow`` image, and
the inserted object's shadow mask, exact where the data has it and derived where it has none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gan_pipelines import image_folders
from gan_pipelines.families.shadow.layout import ANCHOR_KIND, KIND_TYPES, SHADOW_MASK_KIND
from gan_pipelines.image_folders import ImageFolder, image_key

logger = logging.getLogger(__name__)

EXACT = "exact"
DERIVED = "derived"


def sample_names(images: ImageFolder, split: str) -> list[str]:
    """Sorted names of the samples of ``split`` (those with a ``noshadow`` image)."""
    return image_folders.sample_names(images, split, ANCHOR_KIND)


def stack_split(
    images: ImageFolder, split: str, kinds: Sequence[str], *, required: bool = True
) -> tuple[list[str], dict[str, np.ndarray]]:
    """:func:`gan_pipelines.image_folders.stack_split` with the shadow family's anchor kind."""
    return image_folders.stack_split(images, split, kinds, anchor_kind=ANCHOR_KIND, required=required)


def shadow_mask_source(images: ImageFolder, split: str) -> str:
    """``"exact"`` when every sample of ``split`` has a ``shadow_mask`` image, ``"derived"`` when
    none has (real data: it is then derived from ``|shadow - noshadow|``).

    Raises ValueError naming the samples without one when only some have it: a partial folder is
    a broken snapshot, not data to silently patch with derived masks.
    """
    names = sample_names(images, split)
    missing = [name for name in names if image_key(split, SHADOW_MASK_KIND, name) not in images]
    if not missing:
        return EXACT if names else DERIVED
    if len(missing) == len(names):
        return DERIVED
    listed = ", ".join(image_key(split, SHADOW_MASK_KIND, name) for name in missing[:10])
    raise ValueError(
        f"{len(missing)} of {len(names)} {split} samples lack a shadow_mask image (e.g. {listed}) while the others "
        "have one; re-run ingest, or remove every shadow_mask to have them derived"
    )


def load_split_arrays(images: ImageFolder, split: str, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Decode one split into stacked arrays. ``shadow_mask`` is read when the data has it (an
    unreadable file is an error naming it) and derived from ``|shadow - noshadow|`` when the data
    has none at all."""
    from gan_pipelines.families.shadow.evaluation import derive_shadow_mask

    wants_shadow_mask = SHADOW_MASK_KIND in kinds
    source = shadow_mask_source(images, split) if wants_shadow_mask else None
    plain_kinds = [k for k in kinds if k != SHADOW_MASK_KIND or source == EXACT]
    names, arrays = stack_split(images, split, plain_kinds)
    if source == DERIVED:
        logger.info("%s: no shadow_mask in the data; deriving it from |shadow - noshadow|", split)
        arrays[SHADOW_MASK_KIND] = np.stack(
            [derive_shadow_mask(s, n) for s, n in zip(arrays["shadow"], arrays["noshadow"])]
        )
    logger.info("Loaded %d %s samples", len(names), split)
    return arrays


def load_training_arrays(
    images: ImageFolder, kinds: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Decode the train and val splits once (in the node's process; workers get the arrays)."""
    return load_split_arrays(images, "train", kinds), load_split_arrays(images, "val", kinds)


def training_kinds(keys: Sequence[str]) -> dict[str, str]:
    """``{key: "rgb" | "mask"}`` of the given Shadow-AR kinds, for the shared torch datasets."""
    return {key: KIND_TYPES[key] for key in keys}


def augmentation_recipe(params: Mapping[str, Any], section: str):
    """The shadow family's training augmentation: the reference's paired recipe (flips, small
    rotations, colour jitter on the RGB images only), from ``<section>.augmentation``."""
    from gan_pipelines.training import AugmentConfig

    try:
        return AugmentConfig.from_params(params.get("augmentation") or {})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{section}.augmentation: {exc}") from None
