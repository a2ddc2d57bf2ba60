"""Diversity measured one way (metrics.diversity): mean pairwise distances of several outputs per
input in a feature space, the real images' distances as the scale, LPIPS only from local weights.
Every expected value is worked out by hand."""

import math

import numpy as np
import pytest

from gan_pipelines.metrics.diversity import (
    distinct_pairs, feature_diversity, l1_pairs, lpips_distance, lpips_diversity, real_feature_diversity,
    real_pair_diversity, sample_diversity, sample_features,
)


def test_feature_diversity_is_the_mean_distance_over_the_pairs():
    # input 0: a 3-4-5 triangle, pairs 3, 4, 5 -> 4; input 1: three equal points -> exactly 0
    features = np.array([[[0, 0], [3, 0], [0, 4]],
                         [[7, 7], [7, 7], [7, 7]]], dtype=np.float64)
    assert feature_diversity(features).tolist() == [4.0, 0.0]
    # K = 2: the one distance; D = 3: |(1, 2, 2)| = 3
    assert feature_diversity(np.array([[[0, 0, 0], [1, 2, 2]]])).tolist() == [3.0]
    with pytest.raises(ValueError, match=r"\(M, K >= 2, D\)"):
        feature_diversity(features[:, :1])
    with pytest.raises(ValueError, match="not finite"):
        feature_diversity(np.array([[[0.0], [math.nan]]]))


def test_distinct_pairs_all_or_a_seeded_sample():
    first, second = distinct_pairs(4)
    assert list(zip(first.tolist(), second.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    # 10 pairs of 5 items, 3 sampled: the same pairs as enumerating the upper triangle row by row
    # and taking the positions numpy's default_rng(7) draws
    rows, cols = np.triu_indices(5, 1)
    picked = np.sort(np.random.default_rng(7).choice(10, size=3, replace=False))
    first, second = distinct_pairs(5, max_pairs=3, seed=7)
    assert first.tolist() == rows[picked].tolist() and second.tolist() == cols[picked].tolist()
    # many items: distinct, ordered, inside the range, reproducible
    first, second = distinct_pairs(1000, max_pairs=500, seed=1)
    assert len(set(zip(first.tolist(), second.tolist()))) == 500
    assert (first < second).all() and first.min() >= 0 and second.max() < 1000
    again = distinct_pairs(1000, max_pairs=500, seed=1)
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])
    with pytest.raises(ValueError, match="at least 2"):
        distinct_pairs(1)


def test_real_feature_diversity_is_the_scale():
    # points 0, 1, 3 on a line: pairs 1, 3, 2 -> 2
    assert real_feature_diversity(np.array([[0.0], [1.0], [3.0]])) == 2.0
    # a regular simplex (unit vectors): every pair sqrt(2), so any sample of pairs gives sqrt(2)
    assert real_feature_diversity(np.eye(6), max_pairs=4, seed=3) == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        real_feature_diversity(np.zeros((2, 3, 4)))


def test_a_deterministic_generator_measures_exactly_zero():
    """K byte-identical outputs share one feature row, even when the feature network's value
    depends on the batch position (as batched convolutions may in the last digits)."""
    seen = []

    def position_dependent(images):
        seen.append(len(images))
        return images.reshape(len(images), -1)[:, :4].astype(np.float64) + 1e-9 * np.arange(len(images))[:, None]

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 1, 8, 8, 3), dtype=np.uint8)
    samples = np.concatenate([np.repeat(image, 4, axis=1),
                              rng.integers(0, 256, (1, 4, 8, 8, 3), dtype=np.uint8)])
    features = sample_features(samples, position_dependent)
    assert seen == [5]  # one copy of the repeated image, four different ones
    assert features.shape == (2, 4, 4)
    diversity = feature_diversity(features)
    assert diversity[0] == 0.0 and diversity[1] > 0


def test_pixel_diversity_counts_each_pair_once():
    samples = np.zeros((2, 3, 4, 4, 3), np.uint8)
    samples[0, 1] = 255  # map 0: pairs (0,1)=1, (0,2)=0, (1,2)=1 -> 2/3; map 1: all equal -> 0
    assert np.allclose(sample_diversity(samples, l1_pairs), [2 / 3, 0.0])
    with pytest.raises(ValueError, match="K >= 2"):
        sample_diversity(samples[:, :1], l1_pairs)
    # real images 0, 51 and 255 everywhere: pairs 0.2, 1, 0.8 -> 2/3
    real = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (0, 51, 255)])
    assert real_pair_diversity(real, l1_pairs) == pytest.approx(2 / 3)
    # 13 flat images, values 0, 20, ..., 240: 78 pairs, more than one chunk of PAIR_CHUNK; the mean
    # of |i - j| over the pairs of 0..12 is 14/3, times 20/255
    flat = np.stack([np.full((2, 2, 3), 20 * i, np.uint8) for i in range(13)])
    assert real_pair_diversity(flat, l1_pairs) == pytest.approx(14 / 3 * 20 / 255)


def test_lpips_is_null_with_the_reason_without_local_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    samples = np.zeros((1, 2, 8, 8, 3), np.uint8)
    values, reason = lpips_diversity(samples, weights_path=str(tmp_path / "none.pt"))
    assert values is None and reason.startswith("LPIPS weights not found locally")
    assert str(tmp_path / "none.pt") in reason
    assert lpips_distance(None)[0] is None
    # an injected distance is used as given
    samples[0, 1] = 51
    values, reason = lpips_diversity(samples, distance=l1_pairs)
    assert values.tolist() == pytest.approx([0.2]) and reason == "an injected LPIPS function"
