"""Baselines for label map -> picture models, evaluated on the same test images as the models:
a model that does not beat both on the segmentation score has not learned the task.

* :func:`class_mean_painter`: each pixel gets the mean training colour of its class (no texture,
  no shading, no shadows: what a model gets from the label map alone, pixel by pixel).
* :func:`nearest_neighbour_retrieval`: the training picture whose label map agrees with the
  query on most pixels (a real picture, but of another scene).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gan_pipelines.metrics.segmentation import check_class_indices

Painter = Callable[[np.ndarray], np.ndarray]


def _check_training_set(train_images: np.ndarray, train_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(train_images), np.asarray(train_labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"train_images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if labels.ndim != 3 or labels.shape != images.shape[:3]:
        raise ValueError(f"train_labels must be (N, H, W) matching train_images {images.shape[:3]}, got {labels.shape}")
    if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"train_labels must hold integer class indices, got {labels.dtype}")
    if len(images) == 0:
        raise ValueError("the training set is empty")
    return images, labels


def _check_query(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"label maps must be (M, H, W), got shape {labels.shape}")
    return labels


def _class_and_global_means(
    train_images: np.ndarray, train_labels: np.ndarray, num_classes: int, ignore_index: int | None
) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _check_training_set(train_images, train_labels)
    check_class_indices(labels, num_classes, ignore_index, "train_labels")
    counted = labels != ignore_index if ignore_index is not None else np.ones(labels.shape, bool)
    classes = labels[counted].astype(np.int64)
    pixels = images[counted].astype(np.float64)
    if len(classes) == 0:
        raise ValueError("every training pixel is the ignore value: no colour to learn")
    counts = np.bincount(classes, minlength=num_classes).astype(np.float64)
    sums = np.stack([np.bincount(classes, weights=pixels[:, c], minlength=num_classes) for c in range(3)], axis=1)
    global_mean = pixels.mean(axis=0)
    colours = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], global_mean[None, :])
    return colours, global_mean


def class_mean_colours(
    train_images: np.ndarray, train_labels: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """``(num_classes, 3)`` float64: the mean training colour of each class; a class with no
    training pixel gets the mean colour of all counted training pixels."""
    return _class_and_global_means(train_images, train_labels, num_classes, ignore_index)[0]


def class_mean_painter(
    train_images: np.ndarray, train_labels: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> Painter:
    """``paint(labels (M, H, W)) -> uint8 (M, H, W, 3)``: each class filled with its mean training
    colour (rounded); classes never seen in training, and don't-care pixels, get the global mean
    (of all counted training pixels). Works at any size."""
    colours, global_mean = _class_and_global_means(train_images, train_labels, num_classes, ignore_index)
    table = np.rint(np.vstack([colours, global_mean[None, :]])).clip(0, 255).astype(np.uint8)

    def paint(labels: np.ndarray) -> np.ndarray:
        labels = _check_query(labels)
        check_class_indices(labels, num_classes, ignore_index, "labels")
        index = labels.astype(np.int64)
        if ignore_index is not None:
            index = np.where(labels == ignore_index, num_classes, index)
        return table[index]

    return paint


def nearest_neighbour_indices(
    train_labels: np.ndarray, labels: np.ndarray, ignore_index: int | None = None, chunk: int = 64
) -> np.ndarray:
    """For each query map, the index of the training map that agrees with it on most pixels
    (same class at the same place; the query's don't-care pixels never count); ties -> the lowest
    index. int64 ``(M,)``."""
    train, queries = np.asarray(train_labels), _check_query(labels)
    if train.ndim != 3 or queries.shape[1:] != train.shape[1:]:
        raise ValueError(f"query label maps {queries.shape} and training maps {train.shape} differ in size")
    best = np.zeros(len(queries), np.int64)
    for q, query in enumerate(queries):
        valid = query != ignore_index if ignore_index is not None else None
        agreement = np.empty(len(train), np.int64)
        for start in range(0, len(train), chunk):
            same = train[start : start + chunk] == query
            if valid is not None:
                same &= valid
            agreement[start : start + chunk] = same.reshape(len(same), -1).sum(axis=1)
        best[q] = int(np.argmax(agreement))  # the first maximum: ties -> lowest index
    return best


def nearest_neighbour_retrieval(
    train_images: np.ndarray, train_labels: np.ndarray, ignore_index: int | None = None
) -> Painter:
    """``retrieve(labels (M, H, W)) -> uint8 (M, H, W, 3)``: for each query map the training
    picture whose label map agrees on most pixels (ties -> lowest index); queries must have the
    training size."""
    images, train = _check_training_set(train_images, train_labels)

    def retrieve(labels: np.ndarray) -> np.ndarray:
        return images[nearest_neighbour_indices(train, labels, ignore_index)].copy()

    return retrieve
