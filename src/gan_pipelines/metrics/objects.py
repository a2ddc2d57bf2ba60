"""Object-level scores of a segmentation: predicted objects matched one to one to true instances.

A *true instance* is a region of one id in an instance map (0 = no object). A *predicted object*
is a connected component (4-connectivity, :func:`skimage.measure.label`) of the pixels a
segmenter gives one object class; components of different classes stay apart even when they
touch. A predicted object and a true instance match when their IoU is at least
``iou_threshold`` (0.5, as in COCO's loosest AP and the PASCAL VOC detection rule); matches are
one to one (Hungarian assignment on IoU, :func:`scipy.optimize.linear_sum_assignment`; at a
threshold of 0.5 or more a pair can only match one way anyway, but the assignment keeps the
counts right for lower thresholds). Matching ignores classes: the question asked is "was this
object found", the class accuracy is what mIoU measures.

* precision = matched / predicted objects, recall = matched / true instances, F1 their harmonic
  mean, all pooled over a set of images (counts summed first, then divided: one image with
  many objects weighs more than one with few, as in detection benchmarks);
* recall per object size: the same recall for true instances whose area (pixels) falls into each
  size bin, for "does the model miss the small ones".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

DEFAULT_IOU_THRESHOLD = 0.5


class ObjectCounts(NamedTuple):
    """Counts of one or more pictures: ``true``, ``predicted`` and ``matched`` objects, and the
    true instances per size bin (``true_by_size``) with how many of them matched
    (``matched_by_size``)."""

    true: int
    predicted: int
    matched: int
    true_by_size: tuple[int, ...] = ()
    matched_by_size: tuple[int, ...] = ()

    def __add__(self, other: "ObjectCounts") -> "ObjectCounts":  # type: ignore[override]
        def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            if not a:
                return b
            if not b:
                return a
            return tuple(x + y for x, y in zip(a, b, strict=True))

        return ObjectCounts(self.true + other.true, self.predicted + other.predicted, self.matched + other.matched,
                            add(self.true_by_size, other.true_by_size), add(self.matched_by_size, other.matched_by_size))


def predicted_objects(class_map: np.ndarray, object_classes: Iterable[int]) -> np.ndarray:
    """int32 ``(H, W)`` object ids (0 = none, 1.. = objects) of a predicted class map ``(H, W)``:
    the 4-connected components of each class in ``object_classes``."""
    from skimage.measure import label

    class_map = np.asarray(class_map)
    if class_map.ndim != 2:
        raise ValueError(f"class_map must be (H, W), got {class_map.shape}")
    objects = np.zeros(class_map.shape, np.int32)
    next_id = 1
    for cls in sorted(set(int(c) for c in object_classes)):
        components, count = label(class_map == cls, connectivity=1, return_num=True)
        if count:
            objects[components > 0] = components[components > 0] + (next_id - 1)
            next_id += count
    return objects


def _areas_and_overlaps(true_ids: np.ndarray, pred_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Areas of the true instances and predicted objects (ids relabelled 1..n) and the overlap
    matrix ``(n_true, n_pred)`` in pixels."""
    _, true_flat = np.unique(true_ids, return_inverse=True)
    _, pred_flat = np.unique(pred_ids, return_inverse=True)
    has_true_background = (true_ids == 0).any()
    has_pred_background = (pred_ids == 0).any()
    # index 0 is the background when present; shift so that object k has index k
    true_index = true_flat.reshape(-1) + (0 if has_true_background else 1)
    pred_index = pred_flat.reshape(-1) + (0 if has_pred_background else 1)
    n_true, n_pred = int(true_index.max(initial=0)), int(pred_index.max(initial=0))
    joint = np.bincount(true_index * (n_pred + 1) + pred_index, minlength=(n_true + 1) * (n_pred + 1))
    joint = joint.reshape(n_true + 1, n_pred + 1)
    return joint[1:, :].sum(axis=1), joint[:, 1:].sum(axis=0), joint[1:, 1:]


def match_objects(true_ids: np.ndarray, pred_ids: np.ndarray, *, iou_threshold: float = DEFAULT_IOU_THRESHOLD,
                  size_bins: Sequence[float] = ()) -> ObjectCounts:
    """Match the predicted objects of one image to its true instances.

    Args:
        true_ids: int ``(H, W)`` true instance ids, 0 = no object.
        pred_ids: int ``(H, W)`` predicted object ids, 0 = none (e.g. :func:`predicted_objects`).
        iou_threshold: in (0, 1]; a pair matches when IoU >= it.
        size_bins: increasing inner edges in pixels; ``len(size_bins) + 1`` bins
            ``[0, e0), [e0, e1), ..., [e_last, inf)`` for the recall per size.

    Returns:
        :class:`ObjectCounts`. Raises ValueError for maps of different shapes or a bad threshold.
    """
    from scipy.optimize import linear_sum_assignment

    true_ids, pred_ids = np.asarray(true_ids), np.asarray(pred_ids)
    if true_ids.shape != pred_ids.shape or true_ids.ndim != 2:
        raise ValueError(f"true_ids and pred_ids must be (H, W) maps of one shape, got {true_ids.shape} and {pred_ids.shape}")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    edges = np.asarray(size_bins, float)
    if edges.size and np.any(np.diff(edges) <= 0):
        raise ValueError(f"size_bins must be increasing, got {list(size_bins)}")
    true_area, pred_area, overlap = _areas_and_overlaps(true_ids, pred_ids)
    matched_true = np.zeros(len(true_area), bool)
    if overlap.size:
        iou = overlap / (true_area[:, None] + pred_area[None, :] - overlap)
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= iou_threshold
        matched_true[rows[good]] = True
    by_size: tuple[int, ...] = ()
    matched_by_size: tuple[int, ...] = ()
    if edges.size:
        bins = np.searchsorted(edges, true_area, side="right")
        by_size = tuple(int(v) for v in np.bincount(bins, minlength=edges.size + 1))
        matched_by_size = tuple(int(v) for v in np.bincount(bins[matched_true], minlength=edges.size + 1))
    return ObjectCounts(len(true_area), len(pred_area), int(matched_true.sum()), by_size, matched_by_size)


def object_scores(counts: ObjectCounts) -> dict[str, float | None]:
    """``object_precision``, ``object_recall``, ``object_f1`` in [0, 1] of pooled counts, and
    ``recall_size_<k>`` per size bin. A ratio with nothing to count (no predicted objects for
    precision, no true instances for recall or in a bin) is None, never 0."""
    precision = counts.matched / counts.predicted if counts.predicted else None
    recall = counts.matched / counts.true if counts.true else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    scores: dict[str, float | None] = {"object_precision": precision, "object_recall": recall, "object_f1": f1}
    for index, (true, matched) in enumerate(zip(counts.true_by_size, counts.matched_by_size)):
        scores[f"recall_size_{index}"] = matched / true if true else None
    return scores
