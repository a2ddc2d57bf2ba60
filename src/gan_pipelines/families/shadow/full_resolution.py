"""A shadow with sharp edges and the scene's darkness at the photo's own resolution.

The project's own method (no published reference); the darkness it copies is the project's own
shadow-strength measure (:mod:`gan_pipelines.families.shadow.shadow_strength`).

The model paints at its training resolution (64 px by default). Upsampled tenfold, its shadow is
a soft blob whose darkness fades over many pixels, and on the synthetic data it is also fainter
than the true shadows (median darkening 0.22 against 0.59; ``docs/results.md``). Where the model
put the shadow is kept; how it reaches full size changes (:func:`sharpened_shadow`):

1. **The shadow's own darkness** ("core"): per colour channel, the median log ratio (output /
   input) over the low-resolution pixels the model darkened.
2. **The shape**: the low-resolution log ratio is upsampled bilinearly, expressed as a fraction
   of the core's luma-weighted log ratio (1 = as dark as the core) and passed through a ramp
   centred on 0.5 with slope ``steepness``: the shadow's edge becomes the smooth iso-line where
   the model's darkening reaches half of its core, and is ``1 / steepness`` of the model's own
   fade wide instead of all of it. Pixels farther than one low-resolution pixel from the region
   the model darkened stay unchanged, so a faint haze elsewhere is not taken for shadow.
3. **How dark**: the core's ratio, or, given a target ``darkening`` (the scene's own shadows',
   which share the light), the core's ratio raised to the power that gives that luma darkening
   (exact for a grey ratio; the model's colour balance is kept in log space).

On the synthetic test split at 256 px (against the true shadows, a 64 px model) this gave test
LRMSE 33.0 against the upsampled ratio's 39.7, GBER 0.092 against 0.097 and the same directions
(``docs/results.md``, 2026-12-07). Re-drawing the object's silhouette along the fitted shadow
vector (the projection hint's pixel-height model) was tried first and scored worse (LRMSE 55):
the hint ignores perspective and depth, which the generator corrects.
"""

from __future__ import annotations

import math

import numpy as np

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as the shadow-strength measure
LOG_RATIO_FLOOR = 1e-3  # ratios are clipped here before the log (a black pixel)


def upsample_bilinear(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 (h, w, c) -> (height, width, c), bilinear (half-pixel centres)."""
    import torch
    import torch.nn.functional as F

    small = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1)[None]
    return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()


def sharpened_shadow(
    small_ratio: np.ndarray, darkened: np.ndarray, full_size: tuple[int, int], *,
    steepness: float = 2.0, darkening: float | None = None,
) -> np.ndarray | None:
    """The full-resolution shadow ratio of a low-resolution one (module docstring).

    ``small_ratio``: float32 (h, w, 3), the model's output / input at its resolution (< 1 =
    darker, > 0); ``darkened``: (h, w) bool, the pixels the model darkened (its shadow region,
    outside the object); ``full_size``: (H, W); ``steepness`` >= 1: the edge ramp's slope (1 =
    the upsampled fade itself, rescaled to the core); ``darkening`` in (0, 1): the luma
    darkening ``1 - luma ratio`` to give the core, None to keep the model's. Returns float32
    (H, W, 3) ratios in (0, 1] (1 = unchanged), or None when no pixel is darkened or the core is
    not darker. Raises ValueError for a ``steepness`` below 1 or a ``darkening`` outside (0, 1)."""
    if not steepness >= 1:
        raise ValueError(f"steepness must be >= 1, got {steepness}")
    if darkening is not None and not 0 < darkening < 1:
        raise ValueError(f"darkening must be in (0, 1), got {darkening}")
    darkened = np.asarray(darkened, dtype=bool)
    if not darkened.any():
        return None
    log_ratio = np.log(np.clip(small_ratio, LOG_RATIO_FLOOR, 1.0)).astype(np.float32)
    core = np.median(log_ratio[darkened], axis=0)  # per channel, <= 0
    core_luma = float(LUMA_WEIGHTS @ core)  # luma-weighted log ratio of the core
    if core_luma >= 0:
        return None
    share = upsample_bilinear(log_ratio, *full_size) @ LUMA_WEIGHTS / core_luma  # 1 = as dark as the core
    matte = np.clip((share - 0.5) * steepness + 0.5, 0.0, 1.0)
    # Only where the model darkened (within one of its pixels): a faint haze elsewhere, which a
    # faint core would make look "half as dark", is not the shadow.
    matte *= upsample_bilinear(darkened[..., None].astype(np.float32), *full_size)[..., 0] > 0
    if darkening is not None:
        core = core * (math.log(1.0 - darkening) / math.log(float(LUMA_WEIGHTS @ np.exp(core))))
    return np.exp(matte[..., None] * core[None, None, :]).astype(np.float32)
