"""Class-mean painter and nearest-neighbour retrieval, on hand-made sets."""

import numpy as np
import pytest

from gan_pipelines.families.paired.baselines import (
    class_mean_colours, class_mean_painter, nearest_neighbour_indices, nearest_neighbour_retrieval,
)


def _training_set():
    labels = np.array([[[0, 0], [1, 1]], [[0, 1], [1, 255]]])  # 255: don't care
    images = np.zeros((2, 2, 2, 3), np.uint8)
    images[0, 0] = [10, 20, 30]  # class 0
    images[0, 1] = [100, 100, 100]  # class 1
    images[1, 0, 0] = [20, 40, 60]  # class 0
    images[1, 0, 1] = [200, 0, 0]  # class 1
    images[1, 1, 0] = [0, 0, 101]  # class 1
    images[1, 1, 1] = [255, 255, 255]  # ignored: in no mean
    return images, labels


def test_class_means_by_hand():
    images, labels = _training_set()
    colours = class_mean_colours(images, labels, 3, ignore_index=255)
    np.testing.assert_allclose(colours[0], [(10 + 10 + 20) / 3, (20 + 20 + 40) / 3, (30 + 30 + 60) / 3])
    np.testing.assert_allclose(colours[1], [(100 + 100 + 200 + 0) / 4, (100 + 100 + 0 + 0) / 4, (100 + 100 + 0 + 101) / 4])
    # class 2 never seen: the mean of all 7 counted pixels
    np.testing.assert_allclose(colours[2], [(40 + 400) / 7, (80 + 200) / 7, (120 + 301) / 7])


def test_painter_fills_classes_at_any_size():
    images, labels = _training_set()
    paint = class_mean_painter(images, labels, 3, ignore_index=255)
    query = np.array([[[1, 0, 2], [255, 1, 1]]])
    painted = paint(query)
    assert painted.dtype == np.uint8 and painted.shape == (1, 2, 3, 3)
    np.testing.assert_array_equal(painted[0, 0, 0], [100, 50, 75])  # 75.25 rounds to 75
    np.testing.assert_array_equal(painted[0, 0, 1], [13, 27, 40])
    np.testing.assert_array_equal(painted[0, 0, 2], [63, 40, 60])  # 62.86, 40, 60.14
    np.testing.assert_array_equal(painted[0, 1, 0], painted[0, 0, 2])  # don't care -> global mean
    with pytest.raises(ValueError, match=r"labels holds values outside .*3 \(1 pixel\)"):
        paint(np.array([[[3, 0]]]))


def test_retrieval_picks_most_agreeing_map_ties_lowest():
    train_labels = np.array([
        [[0, 0], [0, 0]],
        [[1, 1], [0, 0]],
        [[1, 1], [0, 0]],  # identical to 1: a tie, 1 wins
        [[1, 1], [1, 1]],
    ])
    train_images = (np.arange(4, dtype=np.uint8)[:, None, None, None] * 50 + np.zeros((4, 2, 2, 3), np.uint8))
    queries = np.array([
        [[1, 1], [0, 1]],  # agreement 1, 3, 3, 3 -> index 1
        [[0, 0], [0, 1]],  # 3, 1, 1, 1 -> 0
        [[1, 255], [1, 255]],  # valid pixels (0,0), (1,0): agreement 0, 1, 1, 2 -> 3
    ])
    np.testing.assert_array_equal(nearest_neighbour_indices(train_labels, queries, ignore_index=255), [1, 0, 3])
    retrieved = nearest_neighbour_retrieval(train_images, train_labels, ignore_index=255)(queries)
    np.testing.assert_array_equal(retrieved[:, 0, 0, 0], [50, 0, 150])
    # without ignore_index 255 is just a value that agrees with nothing: (0,0) and (1,0) -> same answer
    np.testing.assert_array_equal(nearest_neighbour_indices(train_labels, queries[2:]), [3])


def test_retrieval_refuses_other_sizes():
    images, labels = _training_set()
    with pytest.raises(ValueError, match="differ in size"):
        nearest_neighbour_retrieval(images, labels)(np.zeros((1, 3, 3), np.int64))
