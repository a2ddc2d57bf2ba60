"""Frechet and kernel distances between feature sets, against closed forms."""

import numpy as np
import pytest
import torch

from gan_pipelines.metrics.distribution import frechet_distance, kernel_distance


def _with_covariance(rng, n, variances):
    """n rows whose sample mean is exactly 0 and sample covariance exactly diag(variances)."""
    raw = rng.standard_normal((n, len(variances)))
    q, _ = np.linalg.qr(raw - raw.mean(axis=0))  # orthonormal columns, each with mean 0
    return q * np.sqrt((n - 1) * np.asarray(variances))


def test_identical_sets_are_at_distance_zero():
    x = np.random.default_rng(0).standard_normal((64, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_shifted_copy_is_the_squared_shift():
    x = np.random.default_rng(1).standard_normal((100, 6))
    shift = np.array([0.5, -1.0, 0.0, 2.0, 0.25, 1.0])
    assert frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-4)


def test_different_covariances_closed_form():
    # Commuting diagonal covariances: d = |dmu|^2 + sum (sqrt(a) - sqrt(b))^2.
    rng = np.random.default_rng(2)
    a, b = np.array([1.0, 4.0, 0.25, 2.0]), np.array([9.0, 1.0, 0.25, 0.5])
    x = _with_covariance(rng, 50, a)
    y = _with_covariance(rng, 80, b) + np.array([1.0, 0.0, -2.0, 0.0])
    expected = 1.0 + 4.0 + float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())  # 5 + 4 + 1 + 0 + 0.0858
    assert frechet_distance(torch.from_numpy(x), y) == pytest.approx(expected, rel=1e-4)


def test_frechet_one_dimension_by_hand():
    # means 0.5 and 1.5, variances 0.5 each: 1 + 0.5 + 0.5 - 2 * 0.5
    assert frechet_distance(np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])) == pytest.approx(1.0, rel=1e-5)


def test_kid_by_hand():
    # k(a, b) = (a b + 1)^3 in one dimension; Kxx off-diagonal 1, Kyy 27, sum of Kxy 1+1+8+27.
    value = kernel_distance(np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]]))
    assert value == pytest.approx((2 * 1 + 2 * 27) / 2 - 2 * 37 / 4)  # 9.5


def test_kid_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((200, 16)), rng.standard_normal((200, 16))
    same = kernel_distance(x, y)
    shifted = kernel_distance(x, y + 1.0)
    assert abs(same) < 0.05
    assert shifted > 1.0
    state = torch.random.get_rng_state()
    kernel_distance(x, y)
    assert torch.equal(torch.random.get_rng_state(), state)  # leaves the global RNG alone


def test_bad_inputs():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="equal size"):
        kernel_distance(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((4, 3), np.nan), np.zeros((4, 3)))


@pytest.mark.parametrize("n, m, dims", [(40, 30, 8), (6, 9, 32)])  # both the D x D and the low-rank form
def test_frechet_matches_piq(n, m, dims):
    import piq

    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, dims)) @ rng.standard_normal((dims, dims))
    y = rng.standard_normal((m, dims)) * 1.3 + 0.2
    reference = float(piq.FID().compute_metric(torch.from_numpy(x), torch.from_numpy(y)))
    assert frechet_distance(x, y) == pytest.approx(reference, rel=1e-4)
