"""Full-reference image quality on uint8 RGB images (numpy + scikit-image): RMSE, PSNR, SSIM,
globally or inside a mask. Family protocols (which pixels, which baselines) build on these.

Conventions:

* Images are ``uint8 (H, W, 3)`` on the 0..255 scale; masks are ``(H, W)`` bool, or uint8 holding
  only {0, 255} (or only {0, 1}); non-zero means "in the mask".
* All arithmetic is done in float64 on the 0..255 scale, never in ``uint8``.
* **RMSE** = sqrt(mean of (gt - pred)^2) over all H*W*3 values, or over the pixels in the mask
  and the three channels; NaN for an empty mask.
* **PSNR** = -10 log10(MSE on [0, 1] values), capped at ``PSNR_CAP_DB = 100`` dB: identical
  images (MSE 0) score 100 dB instead of +inf, so means over images stay finite.
* **SSIM** map: ``skimage.metrics.structural_similarity`` with ``gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1, full=True``
  (11x11 Gaussian window, K1 = 0.01, K2 = 0.03, reflect padding), averaged over channels.
  Images must be at least 11x11.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from skimage.metrics import structural_similarity

PSNR_CAP_DB = 100.0  # PSNR reported for MSE == 0, and the ceiling for every PSNR value.
DATA_RANGE = 255.0
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11  # 2 * int(3.5 * 1.5 + 0.5) + 1, the Gaussian window skimage uses for sigma 1.5


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _check_image(array: object, name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (0..255), got {array.dtype} "
                         f"with shape {array.shape}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{name}: expected an RGB image of shape (H, W, 3), got shape {array.shape}")
    return array


def _check_same_shape(arrays: Mapping[str, np.ndarray]) -> None:
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"image shapes differ: {listed}")


def _check_mask(mask: object, name: str, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``mask`` as a bool (H, W) array, or raise a ValueError naming it."""
    if not isinstance(mask, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(mask).__name__}")
    if mask.ndim != 2:
        raise ValueError(f"{name}: expected a single-channel mask of shape (H, W), got shape {mask.shape}")
    if image_shape is not None and mask.shape != tuple(image_shape[:2]):
        raise ValueError(f"{name}: shape {mask.shape} does not match the images' (H, W) = "
                         f"{tuple(image_shape[:2])} (images are {tuple(image_shape)})")
    if mask.dtype == np.bool_:
        return mask
    if mask.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype bool or uint8 (0/255), got {mask.dtype}")
    values = set(np.unique(mask).tolist())
    if not (values <= {0, 255} or values <= {0, 1}):
        shown = sorted(values)[:8]
        raise ValueError(f"{name}: a uint8 mask must hold only 0 and 255 (or only 0 and 1), "
                         f"found values {shown}{' ...' if len(values) > 8 else ''}; binarise it "
                         f"first (e.g. gan_pipelines.images.to_binary_mask)")
    return mask != 0


# --------------------------------------------------------------------------------------------
# Building blocks (usable on their own, on images of any size)
# --------------------------------------------------------------------------------------------


def _mse(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray | None) -> float:
    """MSE on the 0..255 scale over all values, or over pixels in ``mask`` (all channels)."""
    sq = (gt.astype(np.float64) - pred.astype(np.float64)) ** 2
    if mask is None:
        return float(sq.mean())
    count = int(mask.sum())
    if count == 0:
        return math.nan
    return float(sq[mask].sum() / (3.0 * count))


def rmse(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMSE on the 0..255 scale: global, or inside ``mask`` (NaN when the mask is empty)."""
    _check_image(gt, "gt")
    _check_image(pred, "pred")
    _check_same_shape({"gt": gt, "pred": pred})
    m = None if mask is None else _check_mask(mask, "mask", gt.shape)
    return math.sqrt(_mse(gt, pred, m))  # sqrt(nan) is nan


def _psnr_from_mse255(mse255: float) -> float:
    if math.isnan(mse255):
        return math.nan
    mse01 = mse255 / (DATA_RANGE * DATA_RANGE)
    if mse01 <= 0.0:
        return PSNR_CAP_DB
    return min(-10.0 * math.log10(mse01), PSNR_CAP_DB)


def psnr(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB, ``-10 log10(MSE on [0, 1])``, capped at ``PSNR_CAP_DB`` (also for MSE 0).

    With ``mask`` the MSE is taken over the pixels in the mask (all channels); NaN when empty.
    """
    _check_image(gt, "gt")
    _check_image(pred, "pred")
    _check_same_shape({"gt": gt, "pred": pred})
    m = None if mask is None else _check_mask(mask, "mask", gt.shape)
    return _psnr_from_mse255(_mse(gt, pred, m))


def ssim_map(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM map, shape (H, W), averaged over the RGB channels.

    skimage ``structural_similarity`` with a Gaussian window (sigma 1.5, 11x11), population
    covariance, ``data_range=255``, per channel; images must be at least 11x11.
    """
    _check_image(gt, "gt")
    _check_image(pred, "pred")
    _check_same_shape({"gt": gt, "pred": pred})
    height, width = gt.shape[:2]
    if height < SSIM_WINDOW or width < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels "
                         f"(the Gaussian window); got gt/pred of shape {gt.shape}")
    _, full_map = structural_similarity(
        gt,
        pred,
        data_range=DATA_RANGE,
        channel_axis=-1,
        gaussian_weights=True,
        sigma=SSIM_SIGMA,
        use_sample_covariance=False,
        full=True,
    )
    return np.asarray(full_map, dtype=np.float64).mean(axis=2)
