"""Shadow strength: how much the generated shadow darkens, against the scene's own shadows.

A **project's own measure** (not part of ARShadowGAN or of any public benchmark), needing no
ground truth, so it runs on a user's photo as well as on the synthetic test split. Every
definition is stated so the numbers can be recomputed by hand.

Conventions
-----------
* **Luma** of a pixel: ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601 weights) on the stored
  uint8 values, 0..255 (gamma-encoded, as the model reads and writes them; not linear light).
* **Darkening** of a pixel whose luma goes from ``Y_lit`` to ``Y_shadowed``:
  ``1 - Y_shadowed / Y_lit``. 0 = unchanged, 0.3 = 30 % darker, 1 = black; negative = brighter.
  A pixel whose ``Y_lit`` is below :data:`LUMA_FLOOR` is left out (the ratio of two near-black
  values is noise).
* **Generated shadow's darkening** (:func:`generated_darkening`): over the pixels the shadow
  darkens: the generated shadow region of the light-consistency check
  (:func:`~gan_pipelines.families.shadow.shadow_direction.predicted_shadow_region`: grey
  ``|output - input| > mask_threshold`` on the 0..255 scale, default 10, outside the inserted
  object) where the output's luma is below the input's. Per pixel ``Y_lit`` is the input's luma and
  ``Y_shadowed`` the output's, so each value lies in (0, 1]. ``darkening`` is their median,
  ``darkening_darkest5`` their 95th percentile (numpy's linear interpolation): the darkening the
  darkest 5 % of those pixels reach or exceed (1 = some pixels went black).
* **Scene shadows' darkening** (:func:`scene_darkening`): the scene's own cast shadows are the
  ``rshadow`` pixels (e.g. the attention block's prediction) outside ``robject`` and the inserted
  object. Their unshadowed luma is unknown, so each 8-connected shadow component is compared
  with the lit ground around it: its **ring**, the pixels whose Euclidean distance to the nearest
  shadow pixel lies in ``(gap, gap + width]`` and that are not shadow, occluder or object pixels
  (each ring pixel belongs to the component of its nearest shadow pixel). ``Y_lit`` of the
  component = the median luma of its ring; its **core** = its pixels farther than ``gap`` from
  any non-shadow pixel, each with ``darkening = 1 - Y / Y_lit``. ``gap`` skips the mask's
  uncertain border (the attention block works at low resolution): ``gap = round(GAP_FRACTION *
  min(H, W))``, ``width = max(MIN_RING_WIDTH, round(RING_FRACTION * min(H, W)))`` pixels
  (640x480: 5 and 10 px; 64x64: 1 and 2 px). Components with fewer than
  :data:`MIN_RING_PIXELS` ring pixels or a ring median below :data:`LUMA_FLOOR` are left out.
  ``scene_darkening`` is the median over the cores of every component kept (can be <= 0 when
  the "shadows" found are not darker than their surroundings).
* **Strength** ``shadow_strength = darkening / scene_darkening``: 1 = the generated shadow darkens
  as much as the scene's own shadows, below 1 fainter, above 1 darker; range (0, +inf). It is
  null (never 0) with ``strength_note`` saying why when there is no generated shadow, no scene
  shadow (none detected, or too thin to have a core, or no lit ring), or when the scene's
  shadows darken by less than :data:`MIN_SCENE_DARKENING` (a ratio to almost nothing means
  nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gan_pipelines.families.shadow.evaluation import SHADOW_DIFF_THRESHOLD
from gan_pipelines.metrics.image_quality import _check_image, _check_mask, _check_same_shape

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601
LUMA_FLOOR = 8.0  # 0..255: pixels (or rings) darker than this when lit are left out of the ratios
DARKEST_PERCENTILE = 95.0  # darkening_darkest5: the darkening the darkest 5 % of the pixels reach
GAP_FRACTION = 0.01  # of min(H, W): the shadow mask's uncertain border, skipped on both sides
RING_FRACTION = 0.02  # of min(H, W): the width of the lit ring around a scene shadow
MIN_RING_WIDTH = 2  # pixels
MIN_RING_PIXELS = 5
MIN_SCENE_DARKENING = 0.05  # below this the scene's shadows are too faint to compare with

# Per-image keys (StrengthCheck.as_row), in order: shown by predict's summary, the evaluation
# table and the report's real-photo section.
STRENGTH_KEYS: tuple[str, ...] = (
    "shadow_darkening", "shadow_darkening_darkest5", "scene_shadow_darkening", "shadow_strength", "strength_note",
)
STRENGTH_DEFINITION = (
    "project's own measure: darkening = 1 - luma(with shadow) / luma(without), luma = BT.601 on 0..255 values; "
    "shadow_darkening = median over the pixels the generated shadow darkens (grey |output - input| > mask_threshold "
    "outside the object, output darker), shadow_darkening_darkest5 = their 95th percentile; "
    "scene_shadow_darkening = median over the scene's own shadows (the attention block's rshadow, minus their "
    "border) against the lit ring around each; shadow_strength = shadow_darkening / scene_shadow_darkening "
    "(1 = as dark as the scene's shadows), null with strength_note when undefined"
)

NO_GENERATED_SHADOW = "no generated shadow: no pixel outside the object is darkened by more than the threshold"
NO_SCENE_SHADOW = "no scene shadow: no rshadow pixel outside the occluders and the object"
NO_SCENE_CORE = "no scene shadow measurable: every rshadow component is too thin for its core or has no lit ring"
FAINT_SCENE_SHADOW = "the scene's shadows darken by {value:.3f}, under " + f"{MIN_SCENE_DARKENING:g}: no ratio"


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 (H, W, 3) RGB image: float64 (H, W), 0..255."""
    _check_image(image, "image")
    return image.astype(np.float64) @ np.asarray(LUMA_WEIGHTS)


def generated_darkening(
    result: np.ndarray, image: np.ndarray, object_mask: np.ndarray, *, mask_threshold: float = SHADOW_DIFF_THRESHOLD
) -> tuple[float, float, int]:
    """``(median darkening, 95th-percentile darkening, pixel count)`` of the generated shadow.

    ``result`` (output) and ``image`` (input without the shadow): uint8 (H, W, 3); ``object_mask``:
    the inserted object, (H, W) mask. The pixels are the generated shadow region (grey
    ``|result - image| > mask_threshold``, 0..255, outside the object) where ``result`` has the
    lower luma and ``image``'s luma is at least :data:`LUMA_FLOOR`; values in (0, 1]. NaN, NaN, 0
    when there is no such pixel. Raises ValueError for images of other shapes or a bad mask."""
    from gan_pipelines.families.shadow.shadow_direction import predicted_shadow_region

    _check_image(result, "result")
    _check_image(image, "image")
    _check_same_shape({"result": result, "image": image})
    region = predicted_shadow_region(result, image, object_mask, mask_threshold=mask_threshold)
    lit, shadowed = luma(image)[region], luma(result)[region]
    keep = (shadowed < lit) & (lit >= LUMA_FLOOR)
    if not keep.any():
        return math.nan, math.nan, 0
    darkening = 1.0 - shadowed[keep] / lit[keep]
    return float(np.median(darkening)), float(np.percentile(darkening, DARKEST_PERCENTILE)), int(keep.sum())


def ring_sizes(height: int, width: int) -> tuple[int, int]:
    """``(gap, width)`` in pixels of the lit ring of a ``height`` x ``width`` image (see module)."""
    side = min(height, width)
    return int(round(GAP_FRACTION * side)), max(MIN_RING_WIDTH, int(round(RING_FRACTION * side)))


def scene_darkening(
    image: np.ndarray, robject: np.ndarray, rshadow: np.ndarray, object_mask: np.ndarray | None = None
) -> tuple[float, int, str]:
    """``(median darkening of the scene's own shadows, core pixel count, reason)``.

    ``image``: uint8 (H, W, 3), the scene as photographed (its own shadows in it); ``robject``,
    ``rshadow``: the occluders and their shadows, (H, W) masks; ``object_mask``: the inserted
    object (left out of both). Each shadow component's core is compared with the median luma of
    its lit ring (module docstring). Returns NaN, 0 and the reason when nothing can be measured;
    the value otherwise lies in (-inf, 1] (1 = black shadows; <= 0: not darker than around)."""
    from scipy import ndimage
    from skimage.measure import label as label_components

    _check_image(image, "image")
    occ = _check_mask(robject, "robject", image.shape)
    shadow = _check_mask(rshadow, "rshadow", image.shape)
    excluded = occ.copy()
    if object_mask is not None:
        excluded |= _check_mask(object_mask, "object_mask", image.shape)
    shadow = shadow & ~excluded
    if not shadow.any():
        return math.nan, 0, NO_SCENE_SHADOW
    gap, width = ring_sizes(*shadow.shape)
    labels = label_components(shadow, connectivity=2)
    # Distance of every non-shadow pixel to the nearest shadow pixel (and which one it is), and of
    # every shadow pixel to the nearest non-shadow pixel.
    outside, (near_r, near_c) = ndimage.distance_transform_edt(~shadow, return_indices=True)
    inside = ndimage.distance_transform_edt(shadow)
    ring = (outside > gap) & (outside <= gap + width) & ~excluded
    ring_owner = np.where(ring, labels[near_r, near_c], 0)
    core = shadow & (inside > gap)
    y = luma(image)
    values = []
    for component in range(1, int(labels.max()) + 1):
        lit = y[ring_owner == component]
        pixels = y[core & (labels == component)]
        if lit.size < MIN_RING_PIXELS or pixels.size == 0:
            continue
        lit_luma = float(np.median(lit))
        if lit_luma < LUMA_FLOOR:
            continue
        values.append(1.0 - pixels / lit_luma)
    if not values:
        return math.nan, 0, NO_SCENE_CORE
    darkening = np.concatenate(values)
    return float(np.median(darkening)), int(darkening.size), ""


@dataclass(frozen=True)
class StrengthCheck:
    """Shadow strength of one output (module docstring): ``darkening`` / ``darkening_darkest5``
    of the generated shadow (0..1, NaN without one) over ``n_shadow_pixels``;
    ``scene_darkening`` of the scene's own shadows (<= 1, NaN when unmeasurable) over
    ``n_scene_pixels``; ``strength`` their ratio (> 0, NaN with ``note`` saying why)."""

    darkening: float
    darkening_darkest5: float
    n_shadow_pixels: int
    scene_darkening: float
    n_scene_pixels: int
    strength: float
    note: str

    def as_row(self) -> dict[str, Any]:
        """:data:`STRENGTH_KEYS`, JSON-safe (NaN -> None, numbers rounded to 4 decimals)."""
        def number(value: float) -> float | None:
            return None if not math.isfinite(value) else round(float(value), 4)

        return {
            "shadow_darkening": number(self.darkening),
            "shadow_darkening_darkest5": number(self.darkening_darkest5),
            "scene_shadow_darkening": number(self.scene_darkening),
            "shadow_strength": number(self.strength),
            "strength_note": self.note,
        }


def shadow_strength(
    result: np.ndarray, image: np.ndarray, object_mask: np.ndarray, robject: np.ndarray, rshadow: np.ndarray, *,
    mask_threshold: float = SHADOW_DIFF_THRESHOLD,
) -> StrengthCheck:
    """The generated shadow's darkening against the scene's own shadows' (module docstring).

    ``result`` (output) and ``image`` (input without the inserted object's shadow): uint8
    (H, W, 3); ``object_mask``, ``robject``, ``rshadow``: (H, W) masks (the occluders and their
    shadows as the attention block finds them); ``mask_threshold``: grey ``|result - image|``
    (0..255) above which a pixel belongs to the generated shadow. Raises ValueError for shapes
    that differ or masks that are not masks."""
    _check_mask(object_mask, "object_mask", result.shape)
    darkening, darkest, n_shadow = generated_darkening(result, image, object_mask, mask_threshold=mask_threshold)
    scene, n_scene, reason = scene_darkening(image, robject, rshadow, object_mask)
    notes = [] if n_shadow else [NO_GENERATED_SHADOW]
    if reason:
        notes.append(reason)
    elif scene < MIN_SCENE_DARKENING:
        notes.append(FAINT_SCENE_SHADOW.format(value=scene))
    strength = darkening / scene if not notes else math.nan
    return StrengthCheck(darkening, darkest, n_shadow, scene, n_scene, strength, "; ".join(notes))


def aggregate_strength(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over images of the :data:`STRENGTH_KEYS` numbers, each over the images where it is
    defined: ``shadow_strength_median``, ``shadow_darkening_median``,
    ``shadow_darkening_darkest5_median``, ``scene_shadow_darkening_median`` (NaN when none is),
    and ``n_strength_scored`` (images with a strength). Medians, not means: one scene with faint
    own shadows gives a huge ratio. Raises ValueError for no rows or a missing key."""
    if not rows:
        raise ValueError("aggregate_strength: no per-image results")
    result: dict[str, float] = {}
    for key in STRENGTH_KEYS[:-1]:
        missing = [index for index, row in enumerate(rows) if key not in row]
        if missing:
            raise ValueError(f"aggregate_strength: row {missing[0]} lacks {key!r}")
        values = np.array([math.nan if row[key] is None else float(row[key]) for row in rows])
        defined = values[np.isfinite(values)]
        result[f"{key}_median"] = float(np.median(defined)) if defined.size else math.nan
        if key == "shadow_strength":
            result["n_strength_scored"] = int(defined.size)
    return result
