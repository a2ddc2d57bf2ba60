"""Bootstrap confidence intervals of whole-set scores over test images.

A test set of 60 images gives a score that would move if other images of the same kind had
been drawn. :func:`bootstrap_interval` resamples the images with replacement (scipy's
``stats.bootstrap``, percentile method) and recomputes the score from the resampled images'
own contributions, so a score pooled over the set (a mean IoU from summed confusion matrices,
not a mean of per-image IoUs) keeps its definition in every resample.

Reference: Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13 (percentile
intervals).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
CONFIDENCE = 0.95


def bootstrap_interval(
    num_items: int,
    statistic: Callable[[np.ndarray], Sequence[float]],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> list[tuple[float | None, float | None]]:
    """Percentile bootstrap intervals of the scores ``statistic(indices)`` returns.

    Args:
        num_items: the number of test images (or any resampled unit), >= 2.
        statistic: ``indices`` (int array of length ``num_items``, drawn with replacement) ->
            a sequence of K scores computed from those items only.
        n_resamples: bootstrap resamples (>= 100).
        seed: the resampling generator's seed: the same seed gives the same interval.
        confidence: the interval's coverage, in (0, 1).

    Returns:
        K ``(low, high)`` pairs; a score that is NaN in some resamples gets ``(None, None)``.

    Raises:
        ValueError: fewer than 2 items, too few resamples or a confidence outside (0, 1).
    """
    from scipy import stats

    if num_items < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 test images, got {num_items}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise ValueError(f"bootstrap resamples must be an integer >= 100, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")

    def resampled(indices: np.ndarray) -> np.ndarray:
        return np.asarray(statistic(np.asarray(indices, dtype=np.int64)), dtype=np.float64)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # NaN resamples are reported as None below
        result = stats.bootstrap(
            (np.arange(num_items),), resampled, vectorized=False, n_resamples=n_resamples,
            confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed),
        )
    lows = np.atleast_1d(result.confidence_interval.low)
    highs = np.atleast_1d(result.confidence_interval.high)
    return [
        (float(low), float(high)) if np.isfinite(low) and np.isfinite(high) else (None, None)
        for low, high in zip(lows, highs)
    ]
