"""Per-image evaluation protocol for shadow generation, built on the shared image-quality metrics.

One protocol scores the model and every baseline. Inputs, per image:

* ``gt``        ground-truth shadow image, RGB ``uint8 (H, W, 3)`` in 0..255;
* ``pred``      generated image, same kind;
* ``noshadow``  the input image (scene with the inserted object but without its shadow);
* ``shadow_mask`` M, the ground-truth mask of the inserted object's shadow, ``(H, W)`` as
  ``bool`` or ``uint8`` holding only {0, 255} (or only {0, 1}); non-zero means "in M".

Conventions (quotable as they stand):

* All arithmetic is done in float64 on the 0..255 scale, never in ``uint8``.
* **GRMSE** = sqrt(mean over all H*W*3 values of (gt - pred)^2), 0..255 scale.
* **LRMSE** = sqrt(sum over pixels in M and the 3 channels of (gt - pred)^2 / (3*|M|)).
* **GPSNR** = -10 log10(MSE on [0, 1] values) over the whole image, i.e.
  20 log10(255) - 10 log10(MSE on the 0..255 scale). **LPSNR** uses the MSE inside M.
  PSNR is capped at ``PSNR_CAP_DB = 100`` dB: identical images (MSE 0) score 100 dB instead of
  +inf, and any larger value is clipped to 100 (a single grey level of error on one value of a
  256x256x3 image would give about 101 dB), so means over images stay finite.
* **SSIM** map: ``skimage.metrics.structural_similarity`` with ``gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1, full=True``
  (Gaussian window truncated at 3.5 sigma = 11x11, K1 = 0.01, K2 = 0.03, reflect padding at the
  border), one map per RGB channel.
  **GSSIM** = mean of that map over *every* pixel and channel. Note: skimage's own scalar drops
  a 5-pixel border before averaging; we do not, so that GSSIM equals LSSIM when M covers the
  whole image (the public benchmark code averages the whole, padded map as well). The two
  differ slightly on 256x256 images.
  **LSSIM** = the map averaged over channels, then averaged over the pixels in M.
  Images must be at least 11x11 (the window size) for SSIM; smaller ones raise ``ValueError``.
* **Predicted shadow mask** = ``grey(|pred - noshadow|) > threshold`` (strictly greater), where
  grey is the *mean over the three channels* of the absolute per-channel difference, on the
  0..255 scale. Default threshold ``SHADOW_DIFF_THRESHOLD = 10`` (about 4 % of the range:
  above JPEG/rendering noise and small GAN reconstruction errors, well below the darkening of
  a cast shadow). ``derive_shadow_mask`` uses the same rule and default to build M for real
  data that has no shadow mask, so the predicted and ground-truth masks are defined alike.
* **BER**, predicted mask P vs M: TP = |P and M|, FN = |not P and M|, TN = |not P and not M|,
  FP = |P and not M|; TPR = TP/(TP+FN), TNR = TN/(TN+FP).
  **GBER** = 1 - (TPR + TNR)/2; **LBER** = 1 - TPR. Both are fractions in [0, 1] (multiply by
  100 for the percentages some papers print). The identity baseline (pred = noshadow) predicts
  no shadow anywhere: TPR = 0, TNR = 1, so GBER = 0.5 and LBER = 1.0.
* **Edge cases**: an empty M (|M| = 0) makes every local metric undefined -> LRMSE, LSSIM,
  LPSNR and LBER are NaN, and GBER is NaN too (TPR undefined). An M that covers the whole
  image makes TNR undefined -> GBER is NaN (LBER and the other local metrics are defined).
  GRMSE, GSSIM and GPSNR are never NaN.

Averaging over images is the caller's job; :func:`aggregate` does it: a plain (unweighted) mean
over images for each metric, skipping NaN values (images with an empty M for the local metrics)
and reporting how many were skipped.

These metrics cannot tell where a shadow points. The project's own shadow direction / length
metrics and the light-consistency check live in
:mod:`gan_pipelines.families.shadow.shadow_direction`; they take their predicted shadow region
from :func:`derive_shadow_mask` here (outside the object mask), so both use one rule. This module
imports torch only inside :func:`balanced_error_rates`, so that one stays torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from gan_pipelines.metrics.image_quality import (
    _check_image,
    _check_mask,
    _check_same_shape,
    _mse,
    _psnr_from_mse255,
    ssim_map,
)

METRIC_KEYS: tuple[str, ...] = ("GRMSE", "LRMSE", "GSSIM", "LSSIM", "GPSNR", "LPSNR", "GBER", "LBER")
LOCAL_METRIC_KEYS: tuple[str, ...] = ("LRMSE", "LSSIM", "LPSNR", "LBER")

SHADOW_DIFF_THRESHOLD = 10.0  # grey |a - b| (mean over channels, 0..255) must exceed this.


def grey_abs_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean over the three channels of ``|a - b|`` (float64, 0..255 scale), shape (H, W)."""
    _check_image(a, "a")
    _check_image(b, "b")
    _check_same_shape({"a": a, "b": b})
    return np.abs(a.astype(np.float64) - b.astype(np.float64)).mean(axis=2)


def derive_shadow_mask(
    shadow: np.ndarray, noshadow: np.ndarray, threshold: float = SHADOW_DIFF_THRESHOLD
) -> np.ndarray:
    """Shadow mask from an image pair: ``mean_c |shadow - noshadow| > threshold``, as bool (H, W).

    Used for real data that ships without the inserted object's shadow mask, and (with ``pred``
    in place of ``shadow``) for the predicted shadow mask of the BER metrics. The comparison is
    strict; ``threshold`` is on the 0..255 scale, default ``SHADOW_DIFF_THRESHOLD`` = 10.
    """
    _check_image(shadow, "shadow")
    _check_image(noshadow, "noshadow")
    _check_same_shape({"shadow": shadow, "noshadow": noshadow})
    return grey_abs_difference(shadow, noshadow) > float(threshold)


def balanced_error_rates(predicted: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``(GBER, LBER)`` of a predicted bool mask against the ground-truth mask, as fractions.

    GBER = 1 - (TPR + TNR)/2, LBER = 1 - TPR. TPR is undefined (NaN, and so both results are
    NaN) when ``target`` has no positives; TNR is undefined (GBER NaN) when it has no negatives.
    """
    # torch is imported here, not at the top: the protocol's mask rule (derive_shadow_mask) is used
    # by the torch-free shadow_direction module.
    import torch

    from gan_pipelines.metrics.segmentation import binary_rates, confusion_counts

    p = _check_mask(predicted, "predicted")
    t = _check_mask(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: predicted {p.shape}, target {t.shape}")
    counts = confusion_counts(torch.from_numpy(p)[None, None], torch.from_numpy(t)[None, None])
    tpr, tnr = (float(rate[0]) for rate in binary_rates(counts))
    gber = 1.0 - (tpr + tnr) / 2.0  # nan if either rate is nan
    lber = 1.0 - tpr
    return gber, lber


# --------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------


def evaluate_image(
    gt: np.ndarray,
    pred: np.ndarray,
    noshadow: np.ndarray,
    shadow_mask: np.ndarray,
    *,
    mask_threshold: float = SHADOW_DIFF_THRESHOLD,
) -> dict[str, float]:
    """Score one image; returns exactly the keys ``METRIC_KEYS`` as Python floats.

    ``mask_threshold`` is the threshold of the predicted shadow mask
    (``mean_c |pred - noshadow| > mask_threshold``, 0..255 scale). See the module docstring for
    every definition and edge case (empty ``shadow_mask`` -> NaN local metrics and GBER).
    """
    _check_image(gt, "gt")
    _check_image(pred, "pred")
    _check_image(noshadow, "noshadow")
    _check_same_shape({"gt": gt, "pred": pred, "noshadow": noshadow})
    m = _check_mask(shadow_mask, "shadow_mask", gt.shape)

    mse_global = _mse(gt, pred, None)
    mse_local = _mse(gt, pred, m)
    smap = ssim_map(gt, pred)
    predicted = derive_shadow_mask(pred, noshadow, mask_threshold)
    gber, lber = balanced_error_rates(predicted, m)
    has_local = bool(m.any())

    return {
        "GRMSE": math.sqrt(mse_global),
        "LRMSE": math.sqrt(mse_local),
        "GSSIM": float(smap.mean()),
        "LSSIM": float(smap[m].mean()) if has_local else math.nan,
        "GPSNR": _psnr_from_mse255(mse_global),
        "LPSNR": _psnr_from_mse255(mse_local),
        "GBER": float(gber),
        "LBER": float(lber),
    }


def aggregate(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Average per-image results (from :func:`evaluate_image`) over images.

    Each metric's value is the plain, unweighted mean over the images where it is defined:
    NaN values (the local metrics and GBER of images whose shadow mask is empty, GBER of images
    whose mask covers everything) are skipped rather than propagated. Keys other than
    ``METRIC_KEYS`` in a row are ignored. Returns the eight means, ``n_images`` (rows seen) and
    ``n_skipped_<KEY>`` (NaN values left out of that mean) for every metric. A metric that is
    NaN for every image has mean NaN. Raises ``ValueError`` for no rows or a missing key.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("aggregate: no per-image results to average")
    for index, row in enumerate(rows):
        missing = [key for key in METRIC_KEYS if key not in row]
        if missing:
            raise ValueError(f"aggregate: row {index} lacks metric(s) {missing}")
    result: dict[str, float] = {}
    skipped: dict[str, int] = {}
    for key in METRIC_KEYS:
        values = np.array([float(row[key]) for row in rows], dtype=np.float64)
        defined = values[~np.isnan(values)]
        result[key] = float(defined.mean()) if defined.size else math.nan
        skipped[key] = int(values.size - defined.size)
    result["n_images"] = len(rows)
    for key in METRIC_KEYS:
        result[f"n_skipped_{key}"] = skipped[key]
    return result
