"""Shadow direction and length, and light consistency without ground truth (numpy + scikit-image).

The shadow family follows ARShadowGAN (Liu et al., "ARShadowGAN: Shadow Generative Adversarial
Network for Augmented Reality in Single Light Scenes", CVPR 2020). Its published protocol (the
RMSE / SSIM / BER metrics of :mod:`gan_pipelines.families.shadow.evaluation`) cannot see *where*
a shadow points: a model that only darkens the ground below every object scores well on them.
The direction, length and light-consistency measures here are **this project's own**, not part
of ARShadowGAN or of any public benchmark; every definition is stated so the numbers can be
recomputed by hand.

Conventions
-----------
* **Image coordinates**, in pixels: a pixel's position is its (row, column) index; rows grow
  *downwards*, columns to the right. Masks are ``(H, W)`` ``bool`` or ``uint8`` holding only
  {0, 255} (or only {0, 1}); non-zero means "in the mask".
* **Angle** of an offset ``(d_row, d_col)``: ``atan2(d_row, d_col)`` in degrees, taken modulo
  360 into ``[0, 360)``. So 0 = right, 90 = down, 180 = left, 270 = up: angles turn *clockwise
  as seen on the screen*, because rows grow downwards. A model that only darkens below objects
  points at about 90.
* **Contact point** of an object mask (its ground contact): the object's bottom-most row
  ``r_b`` (largest row index holding an object pixel) and the mean column of the object's
  pixels in that row. For an object standing on the ground, seen from above the horizon, the
  lowest point of its silhouette is where its base touches the ground nearest the camera.
* **Direction** of a shadow region seen from a contact point: the angle of
  ``centroid - contact``, where the centroid is the mean (row, column) of the region's pixels.
  Undefined (NaN) when the region is empty, or when its centroid lies on the contact point.
* **Length** of a shadow region: the ``LENGTH_PERCENTILE`` (95th, numpy's linear
  interpolation) percentile of the Euclidean distances, in pixels, from the contact point to the
  region's pixels. The 95th rather than the farthest pixel, so that a few stray pixels far away
  (GAN speckle above the threshold) do not set it. NaN for an empty region.
* **Angle difference** of two angles: ``|((a - b + 180) mod 360) - 180|``, in ``[0, 180]``
  degrees (350 vs 10 -> 20). NaN if either is NaN.
* **Predicted shadow region** of an output: the evaluation protocol's predicted shadow mask
  (:func:`~gan_pipelines.families.shadow.evaluation.derive_shadow_mask`: grey
  ``|pred - noshadow| > threshold``), restricted to pixels *outside* the object mask. The **true
  region** is the ground-truth ``shadow_mask``, restricted the same way.
* **Within X degrees**: angle error ``<= X`` (inclusive).

Per image (:func:`direction_metrics`): predicted and true angle and length, the angle error
(0..180 degrees) and the length ratio predicted / true. An empty predicted region (the model drew
no shadow) makes the error NaN and counts as a *miss* (not within 30 / 45) in
:func:`aggregate_direction`; an empty true region takes the image out of the direction metrics.

Light consistency (no ground truth needed, for ``shadow.predict``): the scene's shadow direction
is estimated from the occluders (:func:`scene_shadow_direction`): each connected occluder
component's direction is the angle from its contact point to the centroid of the occluder-shadow
pixels associated with it; the scene direction is the circular mean of those angles weighted by
the number of associated shadow pixels. The inserted object's generated shadow direction is then
compared with it: ``light_angle_diff_deg`` (0..180) and the score ``light_consistency = 1 -
diff / 180`` in [0, 1] (1 = same direction, 0.5 = perpendicular, 0 = opposite).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from skimage.draw import line as draw_line
from skimage.measure import label as label_components
from skimage.measure import regionprops
from skimage.segmentation import expand_labels, find_boundaries

from gan_pipelines.families.shadow.evaluation import SHADOW_DIFF_THRESHOLD, derive_shadow_mask
from gan_pipelines.metrics.image_quality import _check_image, _check_mask, _check_same_shape

LENGTH_PERCENTILE = 95.0  # percentile of contact-to-pixel distances that defines a shadow's length
WITHIN_DEGREES: tuple[int, ...] = (30, 45)  # "within X degrees" shares reported by aggregate_direction
CONSTANT_DIRECTION_STEP_DEG = 1  # the constant-direction baseline searches 0, 1, ..., 359 degrees
MIN_SPEARMAN_IMAGES = 3  # a rank correlation over fewer images is not reported

# Per-image columns of the evaluation table (direction_metrics), in order.
DIRECTION_KEYS: tuple[str, ...] = (
    "shadow_angle_true_deg", "shadow_angle_pred_deg", "shadow_angle_error_deg",
    "shadow_length_true_px", "shadow_length_pred_px", "shadow_length_ratio", "direction_note",
)
# Per-image columns of the light-consistency check (LightConsistency.as_row), in order.
LIGHT_KEYS: tuple[str, ...] = (
    "scene_shadow_angle_deg", "scene_agreement", "n_occluder_shadows", "light_angle_diff_deg",
    "light_consistency", "light_note",
)

# Column suffix of the light-consistency values computed from the attention block's predicted maps.
PRED_MAPS_SUFFIX = "_pred_maps"
# One line for the metrics JSON's meta: how to read the direction numbers.
DIRECTION_CONVENTION = (
    "project's own metric: angles in degrees, image coordinates (0 right, 90 down, 180 left, 270 up), "
    "from the object's contact point (bottom-most mask row, mean column) to the shadow region's centroid; "
    f"length = {LENGTH_PERCENTILE:g}th percentile of contact-to-pixel distances (px); within X = error <= X, "
    "an image without a predicted shadow counts as a miss; light_consistency = 1 - angle difference / 180"
)

NO_TRUE_SHADOW = "no true shadow: shadow_mask is empty outside the object mask"
NO_PREDICTED_SHADOW = "no predicted shadow: no pixel outside the object has grey |pred - noshadow| > {threshold:g}"
NO_OCCLUDER_SHADOW = "no occluder shadow: no rshadow pixel is connected to an robject component"


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------


def angle_difference_deg(a: Any, b: Any) -> Any:
    """``|((a - b + 180) mod 360) - 180|``: the unsigned difference of two angles in degrees,
    in ``[0, 180]``; works element-wise on arrays (broadcasting), NaN in -> NaN out."""
    diff = np.abs(np.mod(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64) + 180.0, 360.0) - 180.0)
    return float(diff) if diff.ndim == 0 else diff


def offset_angle_deg(d_row: float, d_col: float) -> float:
    """Angle of the image offset ``(d_row, d_col)`` in degrees, ``[0, 360)``: 0 = right,
    90 = down, 180 = left, 270 = up (rows grow downwards). NaN for a zero offset."""
    if abs(d_row) < 1e-9 and abs(d_col) < 1e-9:
        return math.nan
    return float(math.degrees(math.atan2(d_row, d_col)) % 360.0)


def contact_point(object_mask: np.ndarray, *, name: str = "object_mask") -> tuple[float, float]:
    """Ground contact point ``(row, col)`` in pixels of an object mask (H, W): the bottom-most row
    holding an object pixel, and the mean column of the object's pixels in that row.

    Raises ValueError naming ``name`` when the mask is empty or not a mask."""
    mask = _check_mask(object_mask, name)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        raise ValueError(f"{name}: the mask is empty, so the object has no contact point")
    bottom = int(rows[-1])
    return float(bottom), float(np.flatnonzero(mask[bottom]).mean())


@dataclass(frozen=True)
class RegionDirection:
    """Direction and length of one shadow region seen from a contact point.

    ``angle_deg``: [0, 360) degrees in image coordinates (see the module docstring), NaN when
    undefined; ``length_px``: the ``LENGTH_PERCENTILE`` percentile of the contact-to-pixel
    distances in pixels, NaN for an empty region; ``centroid``: mean (row, col), None when empty;
    ``n_pixels``: region size; ``reason``: why the angle is NaN ("" when it is defined)."""

    angle_deg: float
    length_px: float
    contact: tuple[float, float]
    centroid: tuple[float, float] | None
    n_pixels: int
    reason: str = ""


def region_direction(
    region: np.ndarray, contact: tuple[float, float], *, length_percentile: float = LENGTH_PERCENTILE,
    empty_reason: str = "empty region", name: str = "region",
) -> RegionDirection:
    """Direction (angle of centroid - contact) and length of a shadow ``region`` (H, W) mask
    seen from ``contact`` (row, col); see :class:`RegionDirection`. ``empty_reason`` is the
    reason reported when the region is empty."""
    if not 0.0 <= float(length_percentile) <= 100.0:
        raise ValueError(f"length_percentile must lie in [0, 100], got {length_percentile!r}")
    mask = _check_mask(region, name)
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return RegionDirection(math.nan, math.nan, contact, None, 0, empty_reason)
    centroid = (float(rows.mean()), float(cols.mean()))
    distances = np.hypot(rows - contact[0], cols - contact[1])
    length = float(np.percentile(distances, float(length_percentile)))
    angle = offset_angle_deg(centroid[0] - contact[0], centroid[1] - contact[1])
    reason = "" if math.isfinite(angle) else f"{name}: centroid on the contact point, direction undefined"
    return RegionDirection(angle, length, contact, centroid, int(rows.size), reason)


def predicted_shadow_region(
    pred: np.ndarray, noshadow: np.ndarray, object_mask: np.ndarray, *, mask_threshold: float = SHADOW_DIFF_THRESHOLD
) -> np.ndarray:
    """The generated shadow of the inserted object, bool (H, W): the evaluation protocol's
    predicted shadow mask (``derive_shadow_mask``: grey ``|pred - noshadow| > mask_threshold`` on
    the 0..255 scale) minus the object's own pixels. ``pred``/``noshadow`` uint8 (H, W, 3)."""
    _check_image(pred, "pred")
    _check_image(noshadow, "noshadow")
    _check_same_shape({"pred": pred, "noshadow": noshadow})
    obj = _check_mask(object_mask, "object_mask", pred.shape)
    region = np.zeros(obj.shape, dtype=bool)
    if float(mask_threshold) < 0:  # every pixel exceeds a negative threshold: no shortcut
        return derive_shadow_mask(pred, noshadow, mask_threshold) & ~obj
    # Unchanged pixels have difference 0, never > a threshold >= 0: apply the rule to the bounding
    # box of the changed pixels only (the same result; far less memory on a full-size photo).
    changed = (pred != noshadow).any(axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size:
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        region[box] = derive_shadow_mask(pred[box], noshadow[box], mask_threshold)
    return region & ~obj


# --------------------------------------------------------------------------------------------
# Per image and over a split: the ground-truth direction metrics
# --------------------------------------------------------------------------------------------


def direction_metrics(
    pred: np.ndarray, noshadow: np.ndarray, object_mask: np.ndarray, shadow_mask: np.ndarray, *,
    mask_threshold: float = SHADOW_DIFF_THRESHOLD, length_percentile: float = LENGTH_PERCENTILE,
) -> dict[str, Any]:
    """Direction and length of the predicted vs the true shadow of the inserted object, one image.

    ``pred``, ``noshadow``: uint8 (H, W, 3); ``object_mask`` (the inserted object, must not be
    empty) and ``shadow_mask`` (its true cast shadow): (H, W) masks. Both regions are taken
    outside the object mask and seen from the object's contact point. Returns the keys
    :data:`DIRECTION_KEYS`: angles in degrees [0, 360), ``shadow_angle_error_deg`` in [0, 180],
    lengths in pixels, ``shadow_length_ratio`` = predicted / true length, and ``direction_note``:
    why values are NaN ("" when none is), e.g. the model drew no shadow."""
    _check_image(pred, "pred")
    _check_image(noshadow, "noshadow")
    _check_same_shape({"pred": pred, "noshadow": noshadow})
    obj = _check_mask(object_mask, "object_mask", pred.shape)
    truth = _check_mask(shadow_mask, "shadow_mask", pred.shape)
    contact = contact_point(obj)
    true_dir = region_direction(truth & ~obj, contact, length_percentile=length_percentile,
                                empty_reason=NO_TRUE_SHADOW, name="true shadow")
    pred_dir = region_direction(
        predicted_shadow_region(pred, noshadow, obj, mask_threshold=mask_threshold), contact,
        length_percentile=length_percentile, empty_reason=NO_PREDICTED_SHADOW.format(threshold=float(mask_threshold)),
        name="predicted shadow",
    )
    notes = [reason for reason in (true_dir.reason, pred_dir.reason) if reason]
    ratio = math.nan
    if math.isfinite(true_dir.length_px) and math.isfinite(pred_dir.length_px):
        if true_dir.length_px > 0:
            ratio = pred_dir.length_px / true_dir.length_px
        else:
            notes.append("true shadow length is 0 px: no length ratio")
    return {
        "shadow_angle_true_deg": true_dir.angle_deg,
        "shadow_angle_pred_deg": pred_dir.angle_deg,
        "shadow_angle_error_deg": angle_difference_deg(pred_dir.angle_deg, true_dir.angle_deg),
        "shadow_length_true_px": true_dir.length_px,
        "shadow_length_pred_px": pred_dir.length_px,
        "shadow_length_ratio": ratio,
        "direction_note": "; ".join(notes),
    }


def _floats(rows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    values = []
    for index, row in enumerate(rows):
        if key not in row:
            raise ValueError(f"aggregate_direction: row {index} lacks {key!r}")
        value = row[key]
        values.append(math.nan if value is None else float(value))
    return np.asarray(values, dtype=np.float64)


def aggregate_direction(rows: Iterable[Mapping[str, Any]], within: Sequence[int] = WITHIN_DEGREES) -> dict[str, float]:
    """Direction metrics over images, from rows of :func:`direction_metrics`.

    Only images with a defined true direction are scored (``n_direction_images``; the others are
    counted in ``n_direction_no_truth``). Among them an image without a predicted direction (no
    predicted shadow) is a **miss**: it counts in the denominator of ``within_<X>deg_share`` but
    never as within (``n_direction_no_prediction`` of them). ``angle_error_mean_deg`` /
    ``angle_error_median_deg`` average the defined errors only (misses have no error to average);
    ``length_ratio_median`` is the median of the defined ratios (``n_length_ratio`` of them).
    Every value is NaN when nothing is defined. Raises ValueError for no rows or a missing key."""
    rows = list(rows)
    if not rows:
        raise ValueError("aggregate_direction: no per-image results")
    true_angle = _floats(rows, "shadow_angle_true_deg")
    error = _floats(rows, "shadow_angle_error_deg")
    ratio = _floats(rows, "shadow_length_ratio")
    scored = np.isfinite(true_angle)
    errors = error[scored]
    defined = errors[np.isfinite(errors)]
    ratios = ratio[scored & np.isfinite(ratio)]
    n = int(scored.sum())
    result: dict[str, float] = {
        "angle_error_mean_deg": float(defined.mean()) if defined.size else math.nan,
        "angle_error_median_deg": float(np.median(defined)) if defined.size else math.nan,
    }
    for degrees in within:
        result[f"within_{degrees}deg_share"] = float((errors <= degrees).sum() / n) if n else math.nan
    result["length_ratio_median"] = float(np.median(ratios)) if ratios.size else math.nan
    result["n_direction_images"] = n
    result["n_direction_no_prediction"] = int(n - defined.size)
    result["n_direction_no_truth"] = int(len(rows) - n)
    result["n_length_ratio"] = int(ratios.size)
    return result


def constant_direction_baseline(
    true_angles: Iterable[float], within: Sequence[int] = WITHIN_DEGREES, step_deg: int = CONSTANT_DIRECTION_STEP_DEG
) -> dict[str, Any]:
    """The best single direction for every image: a baseline that exposes a model which draws
    every shadow the same way (e.g. only below objects).

    Searches 0, step, 2*step, ... < 360 degrees and picks the direction that maximises the share
    of the (finite) ``true_angles`` within ``within[0]`` (30) degrees; ties go to the larger share
    within the next thresholds, then the smaller mean error, then the smaller angle. It is fitted
    on the very images it is scored on, so it is the best any constant direction can do there
    (optimistic). Returns ``direction_deg`` (None when no angle is finite, with ``reason``),
    ``within_<X>deg_share``, ``angle_error_mean_deg``, ``angle_error_median_deg`` and
    ``n_direction_images``, the same keys as :func:`aggregate_direction`."""
    if isinstance(step_deg, bool) or not isinstance(step_deg, (int, np.integer)) or step_deg < 1 or 360 % step_deg:
        raise ValueError(f"step_deg must be a positive integer dividing 360, got {step_deg!r}")
    if not within:
        raise ValueError("within must name at least one threshold in degrees")
    angles = np.asarray([float(a) for a in true_angles], dtype=np.float64)
    angles = angles[np.isfinite(angles)]
    result: dict[str, Any] = {"direction_deg": None}
    if angles.size == 0:
        result.update({f"within_{d}deg_share": math.nan for d in within})
        result.update(angle_error_mean_deg=math.nan, angle_error_median_deg=math.nan, n_direction_images=0,
                      reason="no image has a defined true shadow direction")
        return result
    candidates = np.arange(0, 360, step_deg, dtype=np.float64)
    errors = angle_difference_deg(candidates[:, None], angles[None, :])  # (candidates, images)
    shares = {d: (errors <= d).mean(axis=1) for d in within}
    mean_error = errors.mean(axis=1)
    # np.lexsort sorts by the last key first; every key ascending, so negate the shares.
    keys = [candidates, mean_error] + [-shares[d] for d in reversed(within)]
    best = int(np.lexsort(keys)[0])
    result["direction_deg"] = int(candidates[best])
    result.update({f"within_{d}deg_share": float(shares[d][best]) for d in within})
    result["angle_error_mean_deg"] = float(mean_error[best])
    result["angle_error_median_deg"] = float(np.median(errors[best]))
    result["n_direction_images"] = int(angles.size)
    return result


# --------------------------------------------------------------------------------------------
# Light consistency: the scene's shadow direction from its occluders, no ground truth needed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OccluderShadow:
    """One occluder component and its shadow: ``contact`` and ``centroid`` (row, col) in
    pixels, ``angle_deg`` [0, 360) (NaN when the centroid is on the contact point),
    ``n_shadow_pixels`` (the weight in the scene's circular mean)."""

    contact: tuple[float, float]
    centroid: tuple[float, float]
    angle_deg: float
    n_shadow_pixels: int


@dataclass(frozen=True)
class SceneDirection:
    """The scene's estimated shadow direction. ``angle_deg``: [0, 360) degrees, NaN with
    ``reason`` when there is no usable occluder shadow; ``agreement``: length of the weighted mean
    unit vector, 0..1 (1 = every occluder's shadow points the same way); ``occluders``: the
    components used; ``n_unassigned_shadow_pixels``: rshadow pixels touching no occluder."""

    angle_deg: float
    agreement: float
    occluders: tuple[OccluderShadow, ...] = field(default_factory=tuple)
    n_unassigned_shadow_pixels: int = 0
    reason: str = ""


def occluder_shadows(
    robject: np.ndarray, rshadow: np.ndarray, object_mask: np.ndarray | None = None
) -> tuple[list[OccluderShadow], int]:
    """Pair each occluder with its shadow: ``(occluders with a shadow, unassigned shadow pixels)``.

    ``robject`` (occluders) and ``rshadow`` (their shadows): (H, W) masks; the inserted object's
    ``object_mask``, when given, is removed from both, and occluder pixels from the shadow.
    Occluders are the 8-connected components of ``robject``. A shadow pixel belongs to an occluder
    when it lies in the same 8-connected component of ``robject | rshadow`` (a shadow starts at
    its caster's base); when that component holds several occluders, to the nearest one
    (Euclidean). Shadow pixels whose component has no occluder are unassigned and left out.
    Occluders without any shadow pixel are left out too."""
    occ = _check_mask(robject, "robject")
    shadow = _check_mask(rshadow, "rshadow", occ.shape)
    if object_mask is not None:
        obj = _check_mask(object_mask, "object_mask", occ.shape)
        occ = occ & ~obj
        shadow = shadow & ~obj
    shadow = shadow & ~occ
    occ_labels = label_components(occ, connectivity=2)
    union_labels = label_components(occ | shadow, connectivity=2)
    owner = np.zeros(occ.shape, dtype=np.int32)  # the occluder each assigned shadow pixel belongs to
    unassigned = 0
    for component in regionprops(union_labels):
        window = component.slice
        inside = union_labels[window] == component.label
        local_occ = np.where(inside, occ_labels[window], 0)
        local_shadow = inside & shadow[window]
        ids = np.unique(local_occ[local_occ > 0])
        if ids.size == 0:
            unassigned += int(local_shadow.sum())
            continue
        if ids.size == 1:
            nearest = np.full(local_occ.shape, ids[0], dtype=np.int32)
        else:
            nearest = expand_labels(local_occ, distance=sum(local_occ.shape)).astype(np.int32)
        owner[window][local_shadow] = nearest[local_shadow]
    shadow_props = {p.label: p for p in regionprops(owner)}
    result = []
    for occluder in regionprops(occ_labels):
        if occluder.label not in shadow_props:
            continue
        coords = occluder.coords
        bottom = coords[:, 0].max()
        contact = (float(bottom), float(coords[coords[:, 0] == bottom, 1].mean()))
        centroid = tuple(float(v) for v in shadow_props[occluder.label].centroid)
        angle = offset_angle_deg(centroid[0] - contact[0], centroid[1] - contact[1])
        result.append(OccluderShadow(contact, centroid, angle, int(shadow_props[occluder.label].area)))
    return result, unassigned


def scene_shadow_direction(
    robject: np.ndarray, rshadow: np.ndarray, object_mask: np.ndarray | None = None
) -> SceneDirection:
    """The scene's shadow direction from its occluders (:func:`occluder_shadows`): the circular
    mean of the occluders' shadow angles weighted by their shadow pixel counts, in degrees
    [0, 360) (image coordinates). NaN with a reason when no occluder has a shadow, or when the
    weighted unit vectors cancel out (agreement below 1e-6)."""
    occluders, unassigned = occluder_shadows(robject, rshadow, object_mask)
    usable = [o for o in occluders if math.isfinite(o.angle_deg)]
    if not usable:
        reason = NO_OCCLUDER_SHADOW if not occluders else "every occluder shadow's centroid is on its contact point"
        if unassigned:
            reason += f" ({unassigned} rshadow pixel(s) touch no occluder)"
        return SceneDirection(math.nan, math.nan, tuple(occluders), unassigned, reason)
    weights = np.array([o.n_shadow_pixels for o in usable], dtype=np.float64)
    radians = np.radians([o.angle_deg for o in usable])
    vector = np.array([(weights * np.cos(radians)).sum(), (weights * np.sin(radians)).sum()]) / weights.sum()
    agreement = float(np.hypot(*vector))
    if agreement < 1e-6:
        return SceneDirection(math.nan, agreement, tuple(occluders), unassigned,
                              "the occluders' shadow directions cancel out: no mean direction")
    angle = float(math.degrees(math.atan2(vector[1], vector[0])) % 360.0)
    return SceneDirection(angle, agreement, tuple(occluders), unassigned)


def light_consistency_score(object_angle_deg: float, scene_angle_deg: float) -> tuple[float, float]:
    """``(angle difference in degrees [0, 180], score = 1 - difference / 180 in [0, 1])``
    between the inserted object's shadow direction and the scene's; NaN, NaN if either is NaN."""
    diff = angle_difference_deg(object_angle_deg, scene_angle_deg)
    return diff, (1.0 - diff / 180.0 if math.isfinite(diff) else math.nan)


@dataclass(frozen=True)
class LightConsistency:
    """Light consistency of one generated shadow: ``shadow`` is the inserted object's generated
    shadow (:class:`RegionDirection`), ``scene`` the occluders' estimate; ``angle_diff_deg``
    [0, 180] and ``score`` [0, 1] compare them (NaN when either direction is missing)."""

    shadow: RegionDirection
    scene: SceneDirection
    angle_diff_deg: float
    score: float

    @property
    def note(self) -> str:
        """Why the score is missing ("" when it is defined)."""
        return "; ".join(reason for reason in (self.shadow.reason, self.scene.reason) if reason)

    def as_row(self) -> dict[str, Any]:
        """Per-image values, JSON-safe (NaN -> None): the object's ``shadow_angle_deg`` and
        ``shadow_length_px`` plus :data:`LIGHT_KEYS`."""
        def number(value: float) -> float | None:
            return None if value is None or not math.isfinite(value) else round(float(value), 4)

        return {
            "shadow_angle_deg": number(self.shadow.angle_deg),
            "shadow_length_px": number(self.shadow.length_px),
            "scene_shadow_angle_deg": number(self.scene.angle_deg),
            "scene_agreement": number(self.scene.agreement),
            "n_occluder_shadows": len([o for o in self.scene.occluders if math.isfinite(o.angle_deg)]),
            "light_angle_diff_deg": number(self.angle_diff_deg),
            "light_consistency": number(self.score),
            "light_note": self.note,
        }


def light_consistency(
    result: np.ndarray, image: np.ndarray, object_mask: np.ndarray, robject: np.ndarray, rshadow: np.ndarray, *,
    mask_threshold: float = SHADOW_DIFF_THRESHOLD, length_percentile: float = LENGTH_PERCENTILE,
) -> LightConsistency:
    """Does the generated shadow follow the scene's light? No ground truth needed.

    ``result`` (output) and ``image`` (input without the shadow): uint8 (H, W, 3);
    ``object_mask`` (the inserted object, not empty), ``robject``/``rshadow`` (occluders and their
    shadows, e.g. the attention block's predictions): (H, W) masks. The object's shadow is
    :func:`predicted_shadow_region` seen from its contact point; the scene's direction is
    :func:`scene_shadow_direction`."""
    _check_image(result, "result")
    _check_image(image, "image")
    _check_same_shape({"result": result, "image": image})
    obj = _check_mask(object_mask, "object_mask", result.shape)
    shadow = region_direction(
        predicted_shadow_region(result, image, obj, mask_threshold=mask_threshold), contact_point(obj),
        length_percentile=length_percentile, empty_reason=NO_PREDICTED_SHADOW.format(threshold=float(mask_threshold)),
        name="generated shadow",
    )
    scene = scene_shadow_direction(robject, rshadow, obj)
    diff, score = light_consistency_score(shadow.angle_deg, scene.angle_deg)
    return LightConsistency(shadow, scene, diff, score)


def light_consistency_spearman(
    true_angle_errors: Iterable[float], light_angle_diffs: Iterable[float], *, min_images: int = MIN_SPEARMAN_IMAGES
) -> dict[str, Any]:
    """Spearman rank correlation between the ground-truth angle error and the light-consistency
    angle difference over images (``scipy.stats.spearmanr``; pairs where either is NaN are left
    out). A positive ``rho`` means the ground-truth-free score ranks outputs as the ground truth
    does. Returns ``rho``, ``p_value`` (two-sided), ``n_images`` (pairs used) and ``reason``
    ("" when ``rho`` is defined; ``rho`` is NaN for fewer than ``min_images`` pairs or a constant
    input)."""
    from scipy.stats import spearmanr

    errors = np.asarray([math.nan if v is None else float(v) for v in true_angle_errors], dtype=np.float64)
    diffs = np.asarray([math.nan if v is None else float(v) for v in light_angle_diffs], dtype=np.float64)
    if errors.shape != diffs.shape:
        raise ValueError(f"true_angle_errors ({errors.size}) and light_angle_diffs ({diffs.size}) differ in length")
    keep = np.isfinite(errors) & np.isfinite(diffs)
    n = int(keep.sum())
    if n < min_images:
        return {"rho": math.nan, "p_value": math.nan, "n_images": n,
                "reason": f"{n} image(s) with both values defined; at least {min_images} needed"}
    if np.ptp(errors[keep]) == 0 or np.ptp(diffs[keep]) == 0:
        return {"rho": math.nan, "p_value": math.nan, "n_images": n, "reason": "one of the two inputs is constant"}
    rho, p_value = spearmanr(errors[keep], diffs[keep])
    return {"rho": float(rho), "p_value": float(p_value), "n_images": n, "reason": ""}


def light_columns(direction: Mapping[str, Any], scene: SceneDirection, *, suffix: str = "") -> dict[str, Any]:
    """Per-image light-consistency columns for the evaluation table: the predicted shadow angle of
    a :func:`direction_metrics` row against a :class:`SceneDirection`. Keys :data:`LIGHT_KEYS`,
    each with ``suffix`` appended (e.g. :data:`PRED_MAPS_SUFFIX`)."""
    predicted = float(direction["shadow_angle_pred_deg"])
    diff, score = light_consistency_score(predicted, scene.angle_deg)
    notes = [] if math.isfinite(predicted) else ["no predicted shadow direction"]
    if scene.reason:
        notes.append(scene.reason)
    values = {
        "scene_shadow_angle_deg": scene.angle_deg,
        "scene_agreement": scene.agreement,
        "n_occluder_shadows": len([o for o in scene.occluders if math.isfinite(o.angle_deg)]),
        "light_angle_diff_deg": diff,
        "light_consistency": score,
        "light_note": "; ".join(notes),
    }
    return {f"{key}{suffix}": value for key, value in values.items()}


def aggregate_light(rows: Iterable[Mapping[str, Any]], suffixes: Sequence[str] = ("", PRED_MAPS_SUFFIX)) -> dict[str, float]:
    """Means over images of the :func:`light_columns` values, for each column ``suffix`` present
    in the rows: ``light_consistency_mean``, ``light_angle_diff_median_deg`` (degrees) and
    ``n_light_scored`` (images where both directions are defined), each with the suffix."""
    rows = list(rows)
    if not rows:
        raise ValueError("aggregate_light: no per-image results")
    result: dict[str, float] = {}
    for suffix in suffixes:
        if f"light_consistency{suffix}" not in rows[0]:
            continue
        score = _floats(rows, f"light_consistency{suffix}")
        diff = _floats(rows, f"light_angle_diff_deg{suffix}")
        defined = np.isfinite(score)
        result[f"light_consistency_mean{suffix}"] = float(score[defined].mean()) if defined.any() else math.nan
        result[f"light_angle_diff_median_deg{suffix}"] = float(np.median(diff[defined])) if defined.any() else math.nan
        result[f"n_light_scored{suffix}"] = int(defined.sum())
    return result


def light_estimate_accuracy(rows: Iterable[Mapping[str, Any]], *, suffix: str = "",
                            within: Sequence[int] = WITHIN_DEGREES) -> dict[str, float]:
    """How well the occluders' shadows predict the inserted object's *true* shadow direction:
    the angle difference between ``scene_shadow_angle_deg<suffix>`` and
    ``shadow_angle_true_deg``, over the images with a true direction (``n_direction_images``); an
    image without a scene estimate is a miss (``n_no_scene_direction``), as in
    :func:`aggregate_direction`. Bounds what the light-consistency score can tell."""
    rows = list(rows)
    if not rows:
        raise ValueError("light_estimate_accuracy: no per-image results")
    truth = _floats(rows, "shadow_angle_true_deg")
    scene = _floats(rows, f"scene_shadow_angle_deg{suffix}")
    scored = np.isfinite(truth)
    errors = angle_difference_deg(scene[scored], truth[scored])
    errors = np.atleast_1d(np.asarray(errors, dtype=np.float64))
    defined = errors[np.isfinite(errors)]
    n = int(scored.sum())
    result: dict[str, float] = {
        "angle_error_mean_deg": float(defined.mean()) if defined.size else math.nan,
        "angle_error_median_deg": float(np.median(defined)) if defined.size else math.nan,
    }
    for degrees in within:
        result[f"within_{degrees}deg_share"] = float((errors <= degrees).sum() / n) if n else math.nan
    result["n_direction_images"] = n
    result["n_no_scene_direction"] = int(n - defined.size)
    return result


# --------------------------------------------------------------------------------------------
# Overlay picture
# --------------------------------------------------------------------------------------------

OUTLINE_COLOUR = (255, 255, 0)  # the inserted object's outline: yellow
SHADOW_ARROW_COLOUR = (255, 0, 0)  # its generated shadow's direction: red
SCENE_ARROW_COLOUR = (0, 255, 255)  # the scene's estimated shadow direction: cyan


def _paint(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    height, width = image.shape[:2]
    half = thickness // 2
    for dr in range(-half, thickness - half):
        for dc in range(-half, thickness - half):
            r, c = rows + dr, cols + dc
            keep = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            image[r[keep], c[keep]] = colour


def _arrow(image: np.ndarray, start: tuple[float, float], angle_deg: float, length: float,
           colour: tuple[int, int, int], thickness: int) -> None:
    theta = math.radians(angle_deg)
    end = (start[0] + length * math.sin(theta), start[1] + length * math.cos(theta))
    head = max(3.0, 0.3 * length)
    segments = [(start, end)]
    for turn in (150.0, -150.0):
        back = math.radians(angle_deg + turn)
        segments.append((end, (end[0] + head * math.sin(back), end[1] + head * math.cos(back))))
    for (r0, c0), (r1, c1) in segments:
        rows, cols = draw_line(int(round(r0)), int(round(c0)), int(round(r1)), int(round(c1)))
        _paint(image, rows, cols, colour, thickness)


def draw_direction_overlay(image: np.ndarray, object_mask: np.ndarray, check: LightConsistency) -> np.ndarray:
    """A picture of a :class:`LightConsistency` check on ``image`` (uint8 (H, W, 3), usually the
    output): the object's outline in yellow, an arrow from its contact point along its generated
    shadow's direction in red, and one along the scene's estimated shadow direction in cyan (an
    arrow is left out when its direction is undefined). Both arrows have the generated shadow's
    length, at least a tenth of the image's shorter side. Returns a new uint8 (H, W, 3) array."""
    _check_image(image, "image")
    obj = _check_mask(object_mask, "object_mask", image.shape)
    out = image.copy()
    thickness = max(1, round(min(image.shape[:2]) / 200))
    outline = find_boundaries(obj, mode="inner")
    rows, cols = np.nonzero(outline)
    _paint(out, rows, cols, OUTLINE_COLOUR, thickness)
    length = check.shadow.length_px if math.isfinite(check.shadow.length_px) else 0.0
    length = max(length, 0.1 * min(image.shape[:2]), 4.0)
    start = check.shadow.contact
    if math.isfinite(check.scene.angle_deg):
        _arrow(out, start, check.scene.angle_deg, length, SCENE_ARROW_COLOUR, thickness)
    if math.isfinite(check.shadow.angle_deg):
        _arrow(out, start, check.shadow.angle_deg, length, SHADOW_ARROW_COLOUR, thickness)
    return out
