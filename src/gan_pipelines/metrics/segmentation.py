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
