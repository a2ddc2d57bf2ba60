"""Distances between two sets of image features ``(N, D)``: Frechet distance and the kernel
(KID) distance. Nothing is downloaded: these take features, whatever network made them.

These are measures *in a given feature space*. Computed on the features of a network the
project trained itself (e.g. a segmentation judge's pooled encoder features), they are the
project's own numbers: useful to rank methods evaluated with the same network on the same
test split, but NOT comparable to published FID/KID, which use the TF-Inception pool3
features of tens of thousands of images. Both distances are biased upwards for small sets
(Frechet more strongly than KID), so compare methods only at equal set sizes.

* Frechet distance (the FID formula): fit a Gaussian to each set (mean, unbiased sample
  covariance) and return ``|mu_x - mu_y|^2 + Tr(S_x) + Tr(S_y) - 2 Tr((S_x S_y)^(1/2))``, in
  float64, computed exactly rather than by piq's Newton-Schulz iteration (which took 35-45 s
  per value for 2048-d features on one CPU core, and is accurate to about 1e-5): with the
  centred sets ``A`` (N, D) and ``B`` (M, D), ``Tr((S_x S_y)^(1/2))`` is the sum of the singular
  values of ``A B^T / sqrt((N - 1)(M - 1))`` (the nonzero eigenvalues of ``S_x S_y`` are those
  of ``(A B^T)(A B^T)^T / ((N - 1)(M - 1))``); when the sets are larger than D the D x D form
  ``sum sqrt(eig(S_x^(1/2) S_y S_x^(1/2)))`` is used instead. Values below 0 from rounding
  are clipped to 0.
* KID: piq's unbiased MMD^2 estimate with the cubic polynomial kernel
  ``k(a, b) = (a.b / D + 1)^3`` (Binkowski et al. 2018), over the whole sets (no subsets),
  in float64. It can be slightly negative for near-identical sets (unbiased estimator) and is
  reported as computed. piq's estimator pairs the sets element by element, so both sets must
  have the same number of rows.
"""

from __future__ import annotations

import numpy as np
import torch


def _features(values: object, name: str) -> torch.Tensor:
    array = values.detach().cpu() if isinstance(values, torch.Tensor) else torch.from_numpy(np.asarray(values))
    if array.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, D), got {tuple(array.shape)}")
    if array.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 feature vectors, got {array.shape[0]}")
    array = array.to(torch.float64)
    if not torch.isfinite(array).all():
        raise ValueError(f"{name}: features contain NaN or infinite values")
    return array


def _pair(x: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    x_features, y_features = _features(x, "x"), _features(y, "y")
    if x_features.shape[1] != y_features.shape[1]:
        raise ValueError(f"feature sizes differ: x has D={x_features.shape[1]}, y has D={y_features.shape[1]}")
    return x_features, y_features


def frechet_distance(x: object, y: object) -> float:
    """Frechet distance between Gaussians fitted to ``x`` (N, D) and ``y`` (M, D); numpy or torch."""
    x_features, y_features = (f.numpy() for f in _pair(x, y))
    (n, dims), m = x_features.shape, y_features.shape[0]
    centred_x = x_features - x_features.mean(axis=0)
    centred_y = y_features - y_features.mean(axis=0)
    mean_gap = x_features.mean(axis=0) - y_features.mean(axis=0)
    trace_x = float((centred_x**2).sum()) / (n - 1)
    trace_y = float((centred_y**2).sum()) / (m - 1)
    if min(n, m) <= dims:
        cross = float(np.linalg.svd(centred_x @ centred_y.T, compute_uv=False).sum()) / np.sqrt((n - 1) * (m - 1))
    else:
        cov_x = centred_x.T @ centred_x / (n - 1)
        cov_y = centred_y.T @ centred_y / (m - 1)
        values, vectors = np.linalg.eigh(cov_x)
        root_x = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
        cross = float(np.sqrt(np.clip(np.linalg.eigvalsh(root_x @ cov_y @ root_x), 0.0, None)).sum())
    return max(float(mean_gap @ mean_gap) + trace_x + trace_y - 2.0 * cross, 0.0)


def kernel_distance(x: object, y: object) -> float:
    """KID: unbiased polynomial-kernel MMD^2 between ``x`` and ``y`` (both (N, D), same N)."""
    import piq

    x_features, y_features = _pair(x, y)
    if x_features.shape[0] != y_features.shape[0]:
        raise ValueError(
            f"kernel_distance needs sets of equal size (piq's estimator pairs them); got {x_features.shape[0]} "
            f"and {y_features.shape[0]} rows"
        )
    # Over whole sets piq only permutes the rows, which changes nothing but the global RNG.
    with torch.random.fork_rng(devices=[]):
        return float(piq.KID(degree=3, gamma=None, coef0=1, average=False).compute_metric(x_features, y_features))
