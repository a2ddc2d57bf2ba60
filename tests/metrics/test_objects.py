"""Object matching on hand-built maps: counts, one-to-one matching, the IoU threshold, size bins."""

import numpy as np
import pytest

from gan_pipelines.metrics.objects import ObjectCounts, match_objects, object_scores, predicted_objects


def _square(shape, top, left, side, value, out=None):
    out = np.zeros(shape, np.int32) if out is None else out
    out[top:top + side, left:left + side] = value
    return out


def test_exact_match_half_overlap_and_a_false_positive():
    truth = _square((20, 20), 0, 0, 4, 1)  # 16 px
    _square((20, 20), 10, 10, 4, 2, truth)  # 16 px
    pred = _square((20, 20), 0, 0, 4, 1)  # exact: IoU 1
    _square((20, 20), 10, 12, 4, 2, pred)  # shifted by 2 columns: overlap 8, union 24, IoU 1/3
    _square((20, 20), 0, 15, 3, 3, pred)  # nothing there
    counts = match_objects(truth, pred)
    assert counts[:3] == (2, 3, 1)
    scores = object_scores(counts)
    assert scores["object_precision"] == pytest.approx(1 / 3)
    assert scores["object_recall"] == pytest.approx(1 / 2)
    assert scores["object_f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))


def test_the_threshold_is_inclusive_and_matching_is_one_to_one():
    truth = _square((10, 10), 0, 0, 4, 1)  # 16 px
    pred = np.zeros((10, 10), np.int32)
    pred[0:4, 0:2] = 1  # 8 px inside: IoU exactly 0.5
    pred[0:4, 2:4] = 2  # the other 8 px: IoU 0.5 too, but the instance can match only once
    counts = match_objects(truth, pred)
    assert counts[:3] == (1, 2, 1)
    assert match_objects(truth, pred, iou_threshold=0.51)[:3] == (1, 2, 0)


def test_recall_per_size_bin_counts_true_instances_by_area():
    truth = _square((30, 30), 0, 0, 2, 1)  # 4 px
    _square((30, 30), 10, 10, 5, 2, truth)  # 25 px
    _square((30, 30), 20, 20, 8, 3, truth)  # 64 px
    pred = _square((30, 30), 10, 10, 5, 7)  # finds the middle one only
    counts = match_objects(truth, pred, size_bins=[10, 50])
    assert counts.true_by_size == (1, 1, 1)
    assert counts.matched_by_size == (0, 1, 0)
    scores = object_scores(counts + match_objects(np.zeros((30, 30), np.int32), np.zeros((30, 30), np.int32),
                                                  size_bins=[10, 50]))
    assert [scores[f"recall_size_{i}"] for i in range(3)] == [0.0, 1.0, 0.0]


def test_nothing_to_count_is_none_not_zero():
    empty = np.zeros((8, 8), np.int32)
    scores = object_scores(match_objects(empty, empty))
    assert scores == {"object_precision": None, "object_recall": None, "object_f1": None}
    counts = ObjectCounts(0, 0, 0, (0, 2), (0, 1))
    assert object_scores(counts)["recall_size_0"] is None
    assert object_scores(counts)["recall_size_1"] == 0.5


def test_predicted_objects_splits_classes_and_components():
    class_map = np.zeros((6, 8), np.int64)
    class_map[0:2, 0:2] = 1
    class_map[0:2, 2:4] = 2  # touches the class-1 square: still its own object
    class_map[4:6, 6:8] = 1  # a second class-1 component
    class_map[4, 0] = 3  # class 3 is not an object class here
    ids = predicted_objects(class_map, [1, 2])
    assert len(np.unique(ids[ids > 0])) == 3
    assert ids[4, 0] == 0
    assert ids[0, 0] != ids[0, 2] and ids[0, 0] != ids[5, 7]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        match_objects(np.zeros((4, 4), int), np.zeros((4, 5), int))
    with pytest.raises(ValueError, match="iou_threshold"):
        match_objects(np.zeros((4, 4), int), np.zeros((4, 4), int), iou_threshold=0)
    with pytest.raises(ValueError, match="increasing"):
        match_objects(np.zeros((4, 4), int), np.zeros((4, 4), int), size_bins=[5, 5])
