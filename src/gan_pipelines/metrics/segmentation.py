"""IoU and balanced error rate (BER) of predicted binary maps, per channel, in torch.

Conventions:
- ``probs``: predicted probabilities (N, C, H, W) (or any (N, C, ...)); a pixel is predicted
  positive when ``probs > threshold``. The threshold applies to the PREDICTION only (the
  reference thresholded the ground truth and so reported a soft, inflated IoU).
- ``target``: binary ground truth of the same shape, {0, 1} or {-1, +1} (values > 0.5 count
  as positive), any dtype.
- Counts are pooled over the batch and all pixels of a channel (not averaged per image), so
  summing :func:`confusion_counts` over batches and calling :func:`iou_from_counts` /
  :func:`ber_from_counts` gives exact whole-set values.
- Results are float32 tensors of shape (C,), one value per channel.

Empty cases: IoU is 1.0 when prediction and target are both empty (nothing to find, nothing
found). A true-positive or true-negative rate whose denominator is zero (the target has no
positive, or no negative pixel) is undefined, NaN, and so is the BER built from it: it is
reported as missing, never as a perfect or a zero score. This is the project's one BER; every
family's BER-like metric (e.g. the shadow family's GBER/LBER) is computed from these rates.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class ConfusionCounts(NamedTuple):
    """Per-channel pixel counts (int64 tensors of shape (C,)); add two with :meth:`add`."""

    true_positive: torch.Tensor
    false_positive: torch.Tensor
    false_negative: torch.Tensor
    true_negative: torch.Tensor

    def add(self, other: ConfusionCounts) -> ConfusionCounts:
        return ConfusionCounts(*(a + b for a, b in zip(self, other)))


def confusion_counts(probs: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> ConfusionCounts:
    """Per-channel TP, FP, FN, TN of ``probs > threshold`` against ``target > 0.5``."""
    if probs.shape != target.shape:
        raise ValueError(f"probs {tuple(probs.shape)} and target {tuple(target.shape)} differ in shape")
    if probs.ndim < 2:
        raise ValueError(f"expected (N, C, ...) tensors, got shape {tuple(probs.shape)}")
    predicted = probs.detach() > threshold
    actual = target.detach() > 0.5
    dims = [0, *range(2, probs.ndim)]

    def count(values: torch.Tensor) -> torch.Tensor:
        return values.sum(dim=dims, dtype=torch.int64)

    return ConfusionCounts(
        true_positive=count(predicted & actual),
        false_positive=count(predicted & ~actual),
        false_negative=count(~predicted & actual),
        true_negative=count(~predicted & ~actual),
    )


def _ratio_or(numerator: torch.Tensor, denominator: torch.Tensor, empty: float) -> torch.Tensor:
    numerator, denominator = numerator.double(), denominator.double()
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), torch.full_like(numerator, empty))


def binary_rates(counts: ConfusionCounts) -> tuple[torch.Tensor, torch.Tensor]:
    """``(TPR, TNR)`` per channel as float64 tensors (C,): TP / (TP + FN) and TN / (TN + FP);
    NaN where the denominator is zero."""
    tpr = _ratio_or(counts.true_positive, counts.true_positive + counts.false_negative, math.nan)
    tnr = _ratio_or(counts.true_negative, counts.true_negative + counts.false_positive, math.nan)
    return tpr, tnr


def iou_from_counts(counts: ConfusionCounts) -> torch.Tensor:
    """TP / (TP + FP + FN) per channel; 1.0 where the union is empty."""
    union = counts.true_positive + counts.false_positive + counts.false_negative
    return _ratio_or(counts.true_positive, union, 1.0).float()


def ber_from_counts(counts: ConfusionCounts) -> torch.Tensor:
    """1 - (TPR + TNR) / 2 per channel; NaN where either rate is undefined."""
    tpr, tnr = binary_rates(counts)
    return (1.0 - (tpr + tnr) / 2.0).float()


def iou(probs: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Per-channel IoU (C,) of the thresholded prediction, pooled over the batch."""
    return iou_from_counts(confusion_counts(probs, target, threshold))


def balanced_error_rate(probs: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Per-channel BER (C,) = 1 - (TPR + TNR) / 2 of the thresholded prediction, pooled over the
    batch. 0 is perfect, 0.5 is chance (e.g. predicting all background)."""
    return ber_from_counts(confusion_counts(probs, target, threshold))


# --------------------------------------------------------------------------------------------
# Multi-class segmentation scores (the "FCN-score" of the image-to-image translation literature)
# --------------------------------------------------------------------------------------------
#
# Conventions: class-index maps of any shape, usually (N, H, W), numpy or torch integers;
# ``ignore_index`` marks don't-care pixels of the TARGET (e.g. 255), which are left out of the
# counts whatever was predicted there. Counts are pooled over all images (not averaged per
# image), so summing confusion matrices over batches gives exact whole-set scores.


def _as_int_array(values: object, name: str) -> "np.ndarray":
    import numpy as np

    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class indices, got dtype {array.dtype} with shape {array.shape}")
    return array


def check_class_indices(values: object, num_classes: int, ignore_index: int | None = None, name: str = "labels") -> None:
    """Raise ValueError unless every value of ``values`` is a class index in ``0..num_classes-1``
    or ``ignore_index``; the message names each bad value and how many pixels hold it."""
    import numpy as np

    array = _as_int_array(values, name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    bad = (array < 0) | (array >= num_classes)
    if ignore_index is not None:
        bad &= array != ignore_index
    if bad.any():
        found, counts = np.unique(array[bad], return_counts=True)
        listed = ", ".join(f"{int(v)} ({int(c)} pixel{'s' if c != 1 else ''})" for v, c in list(zip(found, counts))[:10])
        allowed = f"0..{num_classes - 1}" + (f" or the ignore value {ignore_index}" if ignore_index is not None else "")
        raise ValueError(
            f"{name} holds values outside the class range {allowed}: {listed}"
            f"{' ...' if len(found) > 10 else ''}"
        )


def class_confusion_matrix(
    predicted: object, target: object, num_classes: int, ignore_index: int | None = None
) -> "np.ndarray":
    """Pixel counts ``M[i, j]`` = pixels of true class ``i`` predicted as class ``j``: an int64
    ``(num_classes, num_classes)`` numpy array (rows true, columns predicted).

    ``predicted`` and ``target`` are integer arrays of one shape (numpy or torch, e.g.
    ``(N, H, W)``). Target pixels equal to ``ignore_index`` are not counted. Any other value
    outside ``0..num_classes-1`` -- in the target, or in the prediction at a counted pixel -- is
    a ValueError naming the value and its pixel count.
    """
    import numpy as np

    predicted_array = _as_int_array(predicted, "predicted")
    target_array = _as_int_array(target, "target")
    if predicted_array.shape != target_array.shape:
        raise ValueError(f"predicted {predicted_array.shape} and target {target_array.shape} differ in shape")
    check_class_indices(target_array, num_classes, ignore_index, "target")
    if ignore_index is not None:
        counted = target_array != ignore_index
        predicted_array, target_array = predicted_array[counted], target_array[counted]
    check_class_indices(predicted_array, num_classes, None, "predicted")
    flat = target_array.astype(np.int64).ravel() * num_classes + predicted_array.astype(np.int64).ravel()
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def segmentation_scores(confusion: object) -> dict[str, float]:
    """Pixel accuracy, mean class accuracy and mean IoU of a confusion matrix (rows true,
    columns predicted), the FCN-score definitions (Long et al. 2015) that label-to-image papers report.

    With ``n_ij`` the pixels of class ``i`` predicted as ``j`` and ``t_i = sum_j n_ij``:

    * ``pixel_acc`` = ``sum_i n_ii / sum_i t_i``;
    * ``mean_class_acc`` = mean over classes of ``n_ii / t_i``;
    * ``miou`` = mean over classes of ``n_ii / (t_i + sum_j n_ji - n_ii)``.

    A class absent from both the target and the prediction has no score and is left out of the
    means (the reference script adds 1e-12 to each denominator and so counts such a class as 0,
    which makes its scores depend on how many unused classes the label set has). A class that is
    predicted but absent from the target has IoU 0 and is in ``miou``; its accuracy ``n_ii / t_i``
    is undefined, so ``mean_class_acc`` averages over the classes present in the target. Every
    value is NaN when no pixel was counted.
    """
    import numpy as np

    matrix = np.asarray(confusion.detach().cpu().numpy() if isinstance(confusion, torch.Tensor) else confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square (C, C) confusion matrix, got shape {matrix.shape}")
    matrix = matrix.astype(np.float64)
    correct = np.diag(matrix)
    true_totals = matrix.sum(axis=1)
    predicted_totals = matrix.sum(axis=0)
    union = true_totals + predicted_totals - correct
    total = matrix.sum()
    if total <= 0:
        return {"pixel_acc": math.nan, "mean_class_acc": math.nan, "miou": math.nan}
    in_target = true_totals > 0
    in_either = union > 0
    return {
        "pixel_acc": float(correct.sum() / total),
        "mean_class_acc": float((correct[in_target] / true_totals[in_target]).mean()),
        "miou": float((correct[in_either] / union[in_either]).mean()),
    }


SEGMENTATION_SCORES = ("pixel_acc", "mean_class_acc", "miou")


def segmentation_score_intervals(
    confusions: object, *, n_resamples: int | None = None, seed: int = 0
) -> dict[str, tuple[float | None, float | None]]:
    """Bootstrap 95% intervals of :func:`segmentation_scores` over test images.

    ``confusions``: int ``(N, C, C)``, one :func:`class_confusion_matrix` per image. Each
    resample draws N images with replacement, sums their matrices and scores the sum, so the
    scores keep their whole-set definition (:func:`gan_pipelines.metrics.intervals.bootstrap_interval`).
    Returns ``{"pixel_acc": (low, high), "mean_class_acc": ..., "miou": ...}``.

    Raises:
        ValueError: ``confusions`` is not ``(N, C, C)`` with N >= 2.
    """
    import numpy as np

    from gan_pipelines.metrics.intervals import DEFAULT_RESAMPLES, bootstrap_interval

    stack = np.asarray(confusions)
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise ValueError(f"expected per-image confusion matrices (N, C, C), got shape {stack.shape}")

    def scores(indices):
        summed = stack[indices].sum(axis=0)
        values = segmentation_scores(summed)
        return [values[name] for name in SEGMENTATION_SCORES]

    intervals = bootstrap_interval(
        len(stack), scores, n_resamples=DEFAULT_RESAMPLES if n_resamples is None else n_resamples, seed=seed,
    )
    return dict(zip(SEGMENTATION_SCORES, intervals))
