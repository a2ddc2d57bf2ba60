"""A shadow with a shape at the photo's own resolution, from the model's low-resolution one.

The model paints at its training resolution (64 px by default); upsampled tenfold, its shadow is
a soft blob. A cast shadow's *shape* is geometry, though: the silhouette of the object projected
along the light. So the full-resolution shadow is re-drawn here (:func:`shaped_shadow`):

1. **Where** the model put the shadow is read as a shadow vector: the grid point of
   :func:`~gan_pipelines.families.shadow.projection.fit_shadow_vector` whose projection of the
   inserted object best overlaps the region the model darkened (at the model's resolution). The
   model's decision -- direction and length -- is kept; only its blur is dropped.
2. **The shape**: the inserted object's full-resolution mask is cast along that vector, scaled
   to the photo's aspect (:func:`full_resolution_vector`), with :func:`cast_shadow_segments`
   (the same pixel-height model and the same pixels as the model's projection hint, at a cost
   that grows with the shadow's area, not with the cube of the side).
3. **The edge**: the hard shadow is softened by a Gaussian whose sigma grows with the distance
   from the object (a penumbra: sharp at the contact point), ``penumbra`` x the distance.
4. **How dark**: each colour channel is scaled by the model's own shadow ratio, the median over
   the low-resolution pixels inside both the re-drawn shadow and the darkened region.

When the model darkened nothing, or its region looks like no cast shadow of the object (fit IoU
under ``min_fit_iou``), nothing is re-drawn and the caller keeps the upsampled ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Same slack as projection._COVER: a run of length L covers steps s <= L * magnitude.
_COVER = 1.0 - 1e-6


def cast_shadow_segments(mask: np.ndarray, angle_deg: float, magnitude: float) -> np.ndarray:
    """The object's hard shadow for one shadow vector: (H, W) bool, outside the object.

    The same pixels as :func:`gan_pipelines.families.shadow.projection.cast_shadow` (pixel-height
    model: every column run of the silhouette, of length ``L`` pixels, standing at its bottom
    pixel ``b``, shades the pixels ``b + round(s * u)`` for whole steps ``1 <= s <= L *
    magnitude``, ``u`` the unit vector at ``angle_deg``: 0 right, 90 down), drawn segment by
    segment, so the cost is the shadow's area instead of ``H * W * diagonal``.

    ``mask``: (H, W), > 0 (or True) = object. ``magnitude``: shadow length per pixel of height
    (>= 0). Raises ValueError for a mask that is not 2-D or a negative magnitude."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if not magnitude >= 0:
        raise ValueError(f"magnitude must be >= 0, got {magnitude}")
    inside = mask > 0.5 if mask.dtype != bool else mask
    height, width = inside.shape
    below = np.zeros_like(inside)
    below[:-1] = inside[1:]
    bottom_rows, bottom_cols = np.nonzero(inside & ~below)
    # Run length at each bottom: rows since the last gap above it in the column.
    gaps = np.where(~inside, np.arange(height)[:, None], -1)
    last_gap = np.maximum.accumulate(gaps, axis=0)
    lengths = (bottom_rows - last_gap[bottom_rows, bottom_cols]).astype(np.float64)
    max_steps = int(math.ceil(math.hypot(height, width)))
    reach = np.minimum(np.floor(lengths * magnitude / _COVER), max_steps).astype(np.int64)
    shadow = np.zeros((height, width), dtype=bool)
    if reach.size == 0 or reach.max() < 1:
        return shadow
    # The offsets computed exactly as the torch version does (float32 sin/cos of the same
    # radians), so a step that lands on a half pixel rounds to the same side.
    import torch

    radians = torch.tensor([float(angle_deg)]).float() * (math.pi / 180.0)
    steps = torch.arange(1, int(reach.max()) + 1).float()
    d_rows = torch.round(steps * torch.sin(radians)).long().numpy()
    d_cols = torch.round(steps * torch.cos(radians)).long().numpy()
    keep = np.arange(1, len(steps) + 1)[None, :] <= reach[:, None]  # (bottoms, steps)
    rows = (bottom_rows[:, None] + d_rows[None, :])[keep]
    cols = (bottom_cols[:, None] + d_cols[None, :])[keep]
    on_image = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    shadow[rows[on_image], cols[on_image]] = True
    return shadow & ~inside


def full_resolution_vector(angle_deg: float, magnitude: float, small_size: tuple[int, int],
                           full_size: tuple[int, int]) -> tuple[float, float]:
    """A shadow vector fitted on the model's input, for the photo it was resized from.

    The model saw the photo squashed to ``small_size`` (h, w); a column of height ``L`` small
    pixels is ``L * sy`` full pixels tall and its shadow's offset ``L * m * (cos, sin)`` becomes
    ``L * m * (cos * sx, sin * sy)`` full pixels (``sx = W / w``, ``sy = H / h``), so per full
    pixel of height the vector is ``m * (cos * sx / sy, sin)``. Returns ``(angle_deg,
    magnitude)`` in the full image (angle 0 right, 90 down)."""
    (h, w), (height, width) = small_size, full_size
    sx, sy = width / w, height / h
    radians = math.radians(angle_deg)
    dx, dy = magnitude * math.cos(radians) * sx / sy, magnitude * math.sin(radians)
    return math.degrees(math.atan2(dy, dx)) % 360.0, math.hypot(dx, dy)


def penumbra_matte(shadow: np.ndarray, mask: np.ndarray, penumbra: float) -> np.ndarray:
    """Soften a hard shadow (H, W) bool into a matte in [0, 1]: the edge blur grows with the
    distance from the object (``penumbra`` x distance in pixels = the Gaussian's sigma), as a
    shadow is sharp where the object touches the ground. Three blur levels (sigma at the
    quartiles of the shadow's distances) blended by distance keep it cheap. Object pixels get 0.
    ``penumbra`` >= 0; 0 returns the hard shadow as 0/1."""
    from scipy import ndimage

    matte = shadow.astype(np.float32)
    inside = mask > 0.5 if mask.dtype != bool else mask
    if penumbra <= 0 or not shadow.any():
        return np.where(inside, 0.0, matte).astype(np.float32)
    distance = ndimage.distance_transform_edt(~inside)
    levels = np.percentile(distance[shadow], [25, 50, 75]) * penumbra
    blurred = [ndimage.gaussian_filter(matte, max(float(sigma), 0.5)) for sigma in levels]
    # Weight each blur level by how close the pixel's own sigma is to it (piecewise linear).
    own = distance * penumbra
    result = np.where(own <= levels[1],
                      _blend(blurred[0], blurred[1], own, levels[0], levels[1]),
                      _blend(blurred[1], blurred[2], own, levels[1], levels[2]))
    return np.where(inside, 0.0, np.clip(result, 0.0, 1.0)).astype(np.float32)


def _blend(low: np.ndarray, high: np.ndarray, value: np.ndarray, at_low: float, at_high: float) -> np.ndarray:
    weight = np.clip((value - at_low) / max(at_high - at_low, 1e-6), 0.0, 1.0)
    return low * (1.0 - weight) + high * weight


@dataclass(frozen=True)
class ShapedShadow:
    """``ratio``: float32 (H, W, 3) to multiply the photo by (1 = unchanged); ``angle_deg`` /
    ``magnitude``: the full-resolution shadow vector; ``fit_iou``: how well the vector's cast
    explains the model's darkened region (0..1); ``darkening_ratio``: the per-channel ratio
    applied at the matte's full strength."""

    ratio: np.ndarray
    angle_deg: float
    magnitude: float
    fit_iou: float
    darkening_ratio: tuple[float, float, float]


def shaped_shadow(
    small_ratio: np.ndarray, darkened: np.ndarray, small_mask: np.ndarray, full_mask: np.ndarray, *,
    penumbra: float = 0.03, min_fit_iou: float = 0.2,
) -> ShapedShadow | None:
    """Re-draw the model's shadow at full resolution (module docstring).

    ``small_ratio``: float32 (h, w, 3), the model's output / input at its resolution (< 1 =
    darker); ``darkened``: (h, w) bool, the pixels the model darkened (its shadow region, outside
    the object); ``small_mask`` (h, w) and ``full_mask`` (H, W): the inserted object (> 0.5 or
    True = object). Returns None when nothing is darkened or the fit's IoU is under
    ``min_fit_iou`` (no shape to draw), else a :class:`ShapedShadow`."""
    import torch

    from gan_pipelines.families.shadow.projection import cast_shadow, fit_shadow_vector

    darkened = np.asarray(darkened, dtype=bool)
    if not darkened.any():
        return None
    small_object = torch.from_numpy(np.asarray(small_mask > 0.5, dtype=np.float32))[None, None]
    region = torch.from_numpy(darkened.astype(np.float32))[None, None]
    angle, magnitude, iou = fit_shadow_vector(small_object, region)
    fit_iou = float(iou[0])
    if fit_iou < min_fit_iou:
        return None
    # The model's ratio where its region and the fitted cast agree: the shadow's own darkness.
    cast = cast_shadow(small_object, angle, magnitude)[0, 0].numpy()
    core = cast & darkened
    if not core.any():
        core = darkened
    darkening_ratio = np.median(small_ratio[core], axis=0).clip(1e-3, 1.0)
    full_angle, full_magnitude = full_resolution_vector(
        float(angle[0]), float(magnitude[0]), small_mask.shape[:2], full_mask.shape[:2]
    )
    full_object = np.asarray(full_mask) > 0.5
    matte = penumbra_matte(cast_shadow_segments(full_object, full_angle, full_magnitude), full_object, penumbra)
    ratio = np.exp(matte[..., None] * np.log(darkening_ratio)[None, None, :]).astype(np.float32)
    return ShapedShadow(ratio, full_angle, full_magnitude, fit_iou, tuple(float(v) for v in darkening_ratio))
