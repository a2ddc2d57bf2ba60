"""IoU and BER against values worked out by hand on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from gan_pipelines.metrics.segmentation import (
    balanced_error_rate,
    ber_from_counts,
    binary_rates,
    confusion_counts,
    iou,
    iou_from_counts,
)

# One image, two channels, 2 x 4 pixels.
PROBS = torch.tensor(
    [
        [
            [[0.9, 0.6, 0.4, 0.1], [0.7, 0.2, 0.5, 0.8]],  # predicted (> 0.5): 1 1 0 0 / 1 0 0 1
            [[0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]],  # predicts nothing
        ]
    ]
)
TARGET = torch.tensor(
    [
        [
            [[1, 0, 1, 0], [1, 0, 0, 0]],  # TP 2 (0,0) (1,0); FP 2 (0,1) (1,3); FN 1 (0,2); TN 3
            [[0, 0, 0, 0], [0, 0, 0, 0]],  # empty
        ]
    ],
    dtype=torch.uint8,
)


def test_confusion_counts_by_hand():
    counts = confusion_counts(PROBS, TARGET)
    assert counts.true_positive.tolist() == [2, 0]
    assert counts.false_positive.tolist() == [2, 0]
    assert counts.false_negative.tolist() == [1, 0]
    assert counts.true_negative.tolist() == [3, 8]


def test_iou_by_hand_and_empty_union_is_one():
    # channel 0: 2 / (2 + 2 + 1); channel 1: nothing predicted, nothing there -> 1.0
    assert iou(PROBS, TARGET).tolist() == pytest.approx([0.4, 1.0])


def test_ber_by_hand_and_undefined_rates_are_nan():
    # channel 0: TPR 2/3, TNR 3/5 -> 1 - (2/3 + 3/5) / 2; channel 1: the target has no positive
    # pixel, so TPR and with it BER are undefined: NaN, never a perfect 0.
    ber = balanced_error_rate(PROBS, TARGET).tolist()
    assert ber[0] == pytest.approx(1 - (2 / 3 + 3 / 5) / 2)
    assert math.isnan(ber[1])
    tpr, tnr = binary_rates(confusion_counts(PROBS, TARGET))
    assert tpr[0].item() == pytest.approx(2 / 3) and tnr[0].item() == pytest.approx(3 / 5)
    assert math.isnan(tpr[1].item()) and tnr[1].item() == 1.0


def test_threshold_applies_to_prediction_only():
    soft_target = torch.tensor([[[[0.4, 0.6]]]])  # would be 0 / 1 thresholded
    probs = torch.tensor([[[[0.45, 0.55]]]])
    assert iou(probs, soft_target > 0.5).item() == 1.0
    # a stricter prediction threshold changes the result; the target stays the same
    assert iou(probs, soft_target > 0.5, threshold=0.6).item() == 0.0
    assert balanced_error_rate(probs, soft_target > 0.5, threshold=0.6).item() == pytest.approx(0.5)


def test_signed_targets_and_chance_level():
    target = torch.tensor([[[[1.0, -1.0, -1.0, 1.0]]]])  # {-1, +1} masks work too
    all_background = torch.zeros(1, 1, 1, 4)
    assert balanced_error_rate(all_background, target).item() == pytest.approx(0.5)
    assert iou(all_background, target).item() == 0.0
    assert iou((target + 1) / 2, target).item() == 1.0


def test_counts_accumulate_over_batches():
    first = confusion_counts(PROBS, TARGET)
    second = confusion_counts(PROBS[:, :, :1], TARGET[:, :, :1])
    total = first.add(second)
    assert iou_from_counts(total).tolist() == pytest.approx([(2 + 1) / (5 + 1 + 1 + 1), 1.0])
    # pooled counts of both batches equal the counts of the concatenated batch
    padded = torch.cat([PROBS[:, :, :1], torch.zeros(1, 2, 1, 4)], dim=2)
    padded_target = torch.cat([TARGET[:, :, :1], torch.zeros(1, 2, 1, 4, dtype=torch.uint8)], dim=2)
    joint = confusion_counts(torch.cat([PROBS, padded]), torch.cat([TARGET, padded_target]))
    assert joint.true_positive.tolist() == total.true_positive.tolist()
    assert ber_from_counts(total).shape == (2,)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        iou(PROBS, TARGET[:, :1])
