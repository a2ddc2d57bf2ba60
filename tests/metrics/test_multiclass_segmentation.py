"""Multi-class confusion matrix and FCN-scores, on a case worked out by hand."""

import math

import numpy as np
import pytest
import torch

from gan_pipelines.metrics.segmentation import check_class_indices, class_confusion_matrix, segmentation_scores

# 3 classes, 255 = don't care. The ignored pixel is predicted 0, which must not count.
TARGET = np.array([[[0, 0, 1], [1, 2, 255]]])
PREDICTED = np.array([[[0, 1, 1], [1, 1, 0]]])
# Counted pixels (true -> predicted): 0->0, 0->1, 1->1, 1->1, 2->1.
EXPECTED = np.array([[1, 1, 0], [0, 2, 0], [0, 1, 0]])


def test_confusion_matrix_by_hand():
    matrix = class_confusion_matrix(PREDICTED, TARGET, 3, ignore_index=255)
    assert matrix.dtype == np.int64 and matrix.shape == (3, 3)
    np.testing.assert_array_equal(matrix, EXPECTED)


def test_confusion_matrix_accepts_torch_and_sums_over_batches():
    whole = class_confusion_matrix(torch.from_numpy(PREDICTED), torch.from_numpy(TARGET), 3, ignore_index=255)
    np.testing.assert_array_equal(whole, EXPECTED)
    doubled = np.concatenate([PREDICTED, PREDICTED]), np.concatenate([TARGET, TARGET])
    np.testing.assert_array_equal(class_confusion_matrix(*doubled, 3, ignore_index=255), 2 * EXPECTED)


def test_scores_by_hand():
    scores = segmentation_scores(EXPECTED)
    assert scores["pixel_acc"] == pytest.approx(3 / 5)  # (1 + 2 + 0) / 5
    assert scores["mean_class_acc"] == pytest.approx((1 / 2 + 2 / 2 + 0 / 1) / 3)
    # IoU: class 0 1/(2+1-1), class 1 2/(2+4-2), class 2 0/(1+0-0)
    assert scores["miou"] == pytest.approx((1 / 2 + 2 / 4 + 0) / 3)


def test_a_class_absent_from_target_and_prediction_is_left_out():
    padded = np.zeros((5, 5), np.int64)
    padded[:3, :3] = EXPECTED
    assert segmentation_scores(padded) == pytest.approx(segmentation_scores(EXPECTED))


def test_a_class_only_predicted_counts_in_miou_but_not_in_class_accuracy():
    matrix = np.array([[3, 1], [0, 0]])  # class 1 never true, predicted once
    scores = segmentation_scores(matrix)
    assert scores["pixel_acc"] == pytest.approx(3 / 4)
    assert scores["mean_class_acc"] == pytest.approx(3 / 4)
    assert scores["miou"] == pytest.approx((3 / 4 + 0.0) / 2)


def test_perfect_and_empty():
    labels = np.array([[[0, 1], [2, 2]]])
    assert segmentation_scores(class_confusion_matrix(labels, labels, 3)) == {
        "pixel_acc": 1.0, "mean_class_acc": 1.0, "miou": 1.0,
    }
    empty = segmentation_scores(np.zeros((3, 3), np.int64))
    assert all(math.isnan(v) for v in empty.values())


def test_values_out_of_range_are_named_with_their_counts():
    target = np.array([[[0, 7, 7], [1, -1, 255]]])
    with pytest.raises(ValueError, match=r"target .*-1 \(1 pixel\), 7 \(2 pixels\)"):
        class_confusion_matrix(np.zeros_like(target), target, 3, ignore_index=255)
    with pytest.raises(ValueError, match=r"predicted .*3 \(1 pixel\)"):
        class_confusion_matrix(np.array([[3, 0]]), np.array([[0, 0]]), 3)
    with pytest.raises(ValueError, match="255 \\(1 pixel\\)"):  # 255 without ignore_index is out of range
        check_class_indices(np.array([[0, 255]]), 3)
    with pytest.raises(ValueError, match="integer"):
        class_confusion_matrix(np.zeros((1, 2), np.float32), np.zeros((1, 2), np.int64), 3)
    with pytest.raises(ValueError, match="differ in shape"):
        class_confusion_matrix(np.zeros((1, 2), int), np.zeros((1, 3), int), 3)
