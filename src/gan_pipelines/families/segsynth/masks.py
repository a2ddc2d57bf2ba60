"""Synthetic label maps and copy-paste pictures from the objects of a few labelled pictures.

Everything here is numpy and seeded by the caller's generator; nothing reads labels beyond the N
labelled pairs it is given.

* :func:`object_bank`: every object instance of the N pairs, cut out: its class, its mask and its
  picture crop (objects = pixels whose class is not a background class; instances from the
  instance map, or the 4-connected components of each object class when there is none);
* :func:`empty_canvas`: a labelled map with its objects removed, each object pixel taking the
  class of the nearest background pixel (the scene's ground, wall and sky layout, no objects);
* :func:`paste_objects`: 1-6 bank objects pasted at random positions, scaled and flipped, onto a
  canvas (label map + instance map, and a picture when the objects' crops are pasted too: Simple
  Copy-Paste, Ghiasi et al., CVPR 2021); a paste that would hide more than ``max_hidden`` of an
  earlier object's visible pixels is drawn again elsewhere (at most ``MAX_TRIES`` times, then
  left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_TRIES = 20  # positions tried per pasted object before it is left out
MIN_OBJECT_PIXELS = 4  # smaller instances (a few stray pixels) are not worth pasting


@dataclass(frozen=True)
class BankObject:
    """One object cut from a labelled picture: ``class_id``; ``mask`` bool ``(h, w)`` (its
    bounding box); ``picture`` uint8 ``(h, w, 3)`` (the same box of the picture)."""

    class_id: int
    mask: np.ndarray
    picture: np.ndarray
    source: int  # index of the labelled pair it came from


def instance_ids(label_map: np.ndarray, instance_map: np.ndarray | None, background_classes: Sequence[int]) -> np.ndarray:
    """int32 ``(H, W)`` object ids (0 = no object) of one labelled map: the instance map's ids
    restricted to object pixels, or, without an instance map, the 4-connected components of each
    object class (:func:`gan_pipelines.metrics.objects.predicted_objects`)."""
    from gan_pipelines.metrics.objects import predicted_objects

    label_map = np.asarray(label_map)
    objects = ~np.isin(label_map, list(background_classes))
    if instance_map is None:
        present = np.unique(label_map[objects]) if objects.any() else []
        return predicted_objects(label_map, [int(c) for c in present])
    ids = np.where(objects, np.asarray(instance_map).astype(np.int32), 0)
    # an object pixel the instance map left at 0 still is an object: give it its own components
    stray = objects & (ids == 0)
    if stray.any():
        extra = predicted_objects(np.where(stray, label_map, -1), [int(c) for c in np.unique(label_map[stray])])
        ids = np.where(stray & (extra > 0), extra + int(ids.max()), ids)
    return ids


def object_bank(label_maps: np.ndarray, pictures: np.ndarray, instance_maps: np.ndarray | None,
                background_classes: Sequence[int]) -> list[BankObject]:
    """Every object of the labelled pairs (``label_maps`` ``(N, H, W)``, ``pictures``
    ``(N, H, W, 3)`` uint8, ``instance_maps`` ``(N, H, W)`` or None), cut to its bounding box; an
    instance's class is its most frequent class. Objects under ``MIN_OBJECT_PIXELS`` are left
    out."""
    bank: list[BankObject] = []
    for index, label_map in enumerate(label_maps):
        ids = instance_ids(label_map, None if instance_maps is None else instance_maps[index], background_classes)
        for object_id in np.unique(ids[ids > 0]):
            mask = ids == object_id
            if mask.sum() < MIN_OBJECT_PIXELS:
                continue
            rows, cols = np.nonzero(mask)
            top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            classes, counts = np.unique(label_map[mask], return_counts=True)
            bank.append(BankObject(int(classes[counts.argmax()]), mask[top:bottom, left:right].copy(),
                                   pictures[index][top:bottom, left:right].copy(), index))
    return bank


def empty_canvas(label_map: np.ndarray, background_classes: Sequence[int]) -> np.ndarray:
    """``label_map`` with every object pixel given the class of its nearest background pixel
    (Euclidean, :func:`scipy.ndimage.distance_transform_edt`); a map without any background
    pixel becomes all ``background_classes[0]``."""
    from scipy.ndimage import distance_transform_edt

    label_map = np.asarray(label_map)
    objects = ~np.isin(label_map, list(background_classes))
    if not objects.any():
        return label_map.copy()
    if objects.all():
        return np.full_like(label_map, background_classes[0])
    _, (rows, cols) = distance_transform_edt(objects, return_indices=True)
    return label_map[rows, cols]


def _scaled(obj: BankObject, scale: float, flip: bool, limit: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The object's mask and picture resized by ``scale`` (mask nearest, picture bilinear, at
    most the canvas size) and mirrored left-right when ``flip``."""
    from gan_pipelines.images import resize_image, resize_labels

    height = max(1, min(limit[0], round(obj.mask.shape[0] * scale)))
    width = max(1, min(limit[1], round(obj.mask.shape[1] * scale)))
    mask = resize_labels(obj.mask.astype(np.uint8), (height, width)).astype(bool)
    picture = resize_image(obj.picture, (height, width))
    if flip:
        mask, picture = mask[:, ::-1], picture[:, ::-1]
    return mask, picture


def paste_objects(
    canvas_labels: np.ndarray, bank: Sequence[BankObject], rng: np.random.Generator, *,
    count_range: tuple[int, int] = (1, 6), scale_range: tuple[float, float] = (0.8, 1.2), flip_p: float = 0.5,
    max_hidden: float = 0.5, canvas_instances: np.ndarray | None = None, canvas_picture: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Paste ``count_range`` (inclusive) random bank objects onto a canvas.

    Args:
        canvas_labels: int ``(H, W)`` class map to paste onto (not changed).
        bank: objects to draw from (uniformly); must not be empty.
        canvas_instances: its instance ids (objects already there, e.g. a real picture's), or
            None for an empty canvas.
        canvas_picture: uint8 ``(H, W, 3)``: paste the objects' picture crops too (copy-paste).
        max_hidden: in [0, 1]; a position is refused when the new object would cover more than
            this share of any earlier object's visible pixels.

    Returns:
        ``(labels, instances, picture or None, pasted)``: new arrays, ``instances`` int32 with the
        canvas's ids kept and pasted objects numbered after them; ``pasted`` how many went in.
    """
    if not bank:
        raise ValueError("the object bank is empty: the labelled maps hold no object pixels (every class is a "
                         "background class?)")
    labels = np.array(canvas_labels, copy=True)
    height, width = labels.shape
    instances = (np.zeros((height, width), np.int32) if canvas_instances is None
                 else np.asarray(canvas_instances, np.int32).copy())
    picture = None if canvas_picture is None else np.array(canvas_picture, copy=True)
    next_id = int(instances.max()) + 1
    pasted = 0
    for _ in range(int(rng.integers(count_range[0], count_range[1] + 1))):
        obj = bank[int(rng.integers(len(bank)))]
        mask, crop = _scaled(obj, float(rng.uniform(*scale_range)), bool(rng.random() < flip_p), (height, width))
        h, w = mask.shape
        visible = np.bincount(instances.ravel(), minlength=next_id)
        for _ in range(MAX_TRIES):
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            covered = instances[top:top + h, left:left + w][mask]
            hidden = np.bincount(covered, minlength=next_id)
            share = hidden[1:] / np.maximum(visible[1:], 1)
            if not (share > max_hidden).any():
                break
        else:
            continue  # no free enough position: leave this object out
        window = (slice(top, top + h), slice(left, left + w))
        labels[window][mask] = obj.class_id
        instances[window][mask] = next_id
        if picture is not None:
            picture[window][mask] = crop[mask]
        next_id += 1
        pasted += 1
    return labels, instances, picture, pasted
