"""Shadow direction / length metrics and the light-consistency check (shadow_direction.py), against
geometry worked out by hand, the synthetic renderer, and the evaluate / predict / report wiring.

Conventions under test: angles in degrees, image coordinates (0 right, 90 down, 180 left,
270 up); contact point = bottom-most object row, mean column there; direction = contact -> region
centroid; length = 95th percentile of the contact-to-pixel distances."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gan_pipelines.families.shadow import shadow_direction as sd
from gan_pipelines.families.shadow.predict import _FullResolutionPredictor, predict_folder
from gan_pipelines.images import encode_png, read_image

H, W = 40, 60
GREY = 120


def box(r0: int, r1: int, c0: int, c1: int, shape=(H, W)) -> np.ndarray:
    """bool mask, rows r0..r1 and columns c0..c1 inclusive."""
    mask = np.zeros(shape, bool)
    mask[r0:r1 + 1, c0:c1 + 1] = True
    return mask


def darkened(region: np.ndarray, base: np.ndarray | None = None, by: int = 60) -> np.ndarray:
    image = np.full((*region.shape, 3), GREY, np.uint8) if base is None else base.copy()
    image[region] = image[region] - by
    return image


# The inserted object: a 10x10 square, rows 10..19, columns 10..19 -> contact point (19, 14.5).
OBJECT = box(10, 19, 10, 19)
NOSHADOW = np.full((H, W, 3), GREY, np.uint8)
RIGHT = box(17, 21, 20, 39)  # centroid (19, 29.5): offset (0, +15) -> 0 degrees
DOWN_LEFT = box(20, 29, 4, 14)  # centroid (24.5, 9): offset (+5.5, -5.5) -> 135 degrees
UP = box(0, 5, 12, 17)  # centroid (2.5, 14.5): offset (-16.5, 0) -> 270 degrees
DOWN = box(22, 30, 13, 16)  # centroid (26, 14.5): offset (+7, 0) -> 90 degrees


# --------------------------------------------------------------------------------------------
# geometry by hand
# --------------------------------------------------------------------------------------------


def test_contact_point_is_bottom_row_mean_column():
    assert sd.contact_point(OBJECT) == (19.0, 14.5)
    irregular = np.zeros((8, 10), np.uint8)
    irregular[2:5, 3:8] = 255
    irregular[5, [3, 4, 7]] = 255  # bottom row: columns 3, 4, 7 -> mean 14 / 3
    row, col = sd.contact_point(irregular)
    assert row == 5.0 and col == pytest.approx(14 / 3)
    with pytest.raises(ValueError, match="object_mask: the mask is empty"):
        sd.contact_point(np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="object_mask: a uint8 mask must hold only 0 and 255"):
        sd.contact_point(np.full((4, 4), 7, np.uint8))


@pytest.mark.parametrize("region, angle", [(RIGHT, 0.0), (DOWN_LEFT, 135.0), (UP, 270.0), (DOWN, 90.0)])
def test_region_direction_exact_angles(region, angle):
    result = sd.region_direction(region, sd.contact_point(OBJECT))
    assert result.angle_deg == pytest.approx(angle, abs=1e-9)
    assert result.n_pixels == int(region.sum()) and result.reason == ""


def test_offset_angle_convention_rows_grow_downwards():
    assert sd.offset_angle_deg(0, 1) == 0.0
    assert sd.offset_angle_deg(1, 0) == 90.0  # one row down
    assert sd.offset_angle_deg(0, -1) == 180.0
    assert sd.offset_angle_deg(-1, 0) == 270.0  # one row up
    assert sd.offset_angle_deg(-1, 1) == pytest.approx(315.0)
    assert math.isnan(sd.offset_angle_deg(0, 0))


def test_angle_difference_wraps_around():
    assert sd.angle_difference_deg(350, 10) == pytest.approx(20.0)
    assert sd.angle_difference_deg(10, 350) == pytest.approx(20.0)
    assert sd.angle_difference_deg(0, 180) == pytest.approx(180.0)
    assert sd.angle_difference_deg(90, 270) == pytest.approx(180.0)
    assert sd.angle_difference_deg(45, 405) == pytest.approx(0.0)
    assert sd.angle_difference_deg(-30, 300) == pytest.approx(30.0)
    assert math.isnan(sd.angle_difference_deg(math.nan, 10))
    np.testing.assert_allclose(sd.angle_difference_deg(np.array([0, 90, 359]), 1), [1, 89, 2])


def test_length_is_the_95th_percentile_distance_and_the_ratio_follows():
    contact = sd.contact_point(OBJECT)  # (19, 14.5)
    # A one-pixel line on the contact row, columns 20..39: distances 5.5, 6.5, ..., 24.5 (20 values).
    true_line = box(19, 19, 20, 39)
    # 95th percentile, linear interpolation: position 0.95 * 19 = 18.05 -> 5.5 + 18.05 = 23.55.
    assert sd.region_direction(true_line, contact).length_px == pytest.approx(23.55)
    assert sd.region_direction(true_line, contact, length_percentile=100).length_px == pytest.approx(24.5)
    # Twice as many pixels, columns 20..59: distances 5.5..44.5; position 0.95 * 39 = 37.05 -> 42.55.
    pred_line = box(19, 19, 20, 59)
    row = sd.direction_metrics(darkened(pred_line), NOSHADOW, OBJECT, true_line)
    assert row["shadow_length_true_px"] == pytest.approx(23.55)
    assert row["shadow_length_pred_px"] == pytest.approx(42.55)
    assert row["shadow_length_ratio"] == pytest.approx(42.55 / 23.55)
    assert row["shadow_angle_error_deg"] == pytest.approx(0.0)


def test_length_ratio_of_known_rectangles_farthest_pixel():
    # With the 100th percentile the length is the farthest pixel: the far corners of each rectangle.
    contact = sd.contact_point(OBJECT)  # (19, 14.5)
    short = sd.region_direction(RIGHT, contact, length_percentile=100)  # corner (17 or 21, 39)
    long = sd.region_direction(box(17, 21, 20, 59), contact, length_percentile=100)  # corner (.., 59)
    assert short.length_px == pytest.approx(math.hypot(2, 24.5))
    assert long.length_px == pytest.approx(math.hypot(2, 44.5))
    row = sd.direction_metrics(darkened(box(17, 21, 20, 59)), NOSHADOW, OBJECT, RIGHT, length_percentile=100)
    assert row["shadow_length_ratio"] == pytest.approx(math.hypot(2, 44.5) / math.hypot(2, 24.5))


def test_direction_metrics_by_hand():
    # The model draws the shadow to the right (0 deg); the truth falls down-left (135 deg).
    row = sd.direction_metrics(darkened(RIGHT), NOSHADOW, OBJECT, DOWN_LEFT)
    assert tuple(row) == sd.DIRECTION_KEYS
    assert row["shadow_angle_pred_deg"] == pytest.approx(0.0)
    assert row["shadow_angle_true_deg"] == pytest.approx(135.0)
    assert row["shadow_angle_error_deg"] == pytest.approx(135.0)
    assert row["direction_note"] == ""


def test_predicted_region_uses_the_protocol_rule_outside_the_object():
    # Darkening the object itself, or by no more than the threshold, is not a shadow.
    pred = darkened(OBJECT, by=80)
    pred = darkened(RIGHT, pred, by=10)  # grey difference exactly 10: not > 10
    region = sd.predicted_shadow_region(pred, NOSHADOW, OBJECT, mask_threshold=10)
    assert not region.any()
    region = sd.predicted_shadow_region(pred, NOSHADOW, OBJECT, mask_threshold=9.5)
    np.testing.assert_array_equal(region, RIGHT)
    # An object-darkening-only model has no predicted shadow at all.
    row = sd.direction_metrics(darkened(OBJECT), NOSHADOW, OBJECT, RIGHT)
    assert math.isnan(row["shadow_angle_pred_deg"]) and "no predicted shadow" in row["direction_note"]


@pytest.mark.parametrize("threshold", [0.0, 5.5, 10.0, -1.0])
def test_predicted_region_equals_the_protocol_mask_outside_the_object(threshold):
    # The bounding-box shortcut must give exactly derive_shadow_mask(...) & ~object.
    from gan_pipelines.families.shadow.evaluation import derive_shadow_mask

    rng = np.random.default_rng(0)
    for _ in range(30):
        before = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
        after = before.copy()
        r, c = rng.integers(0, 15), rng.integers(0, 20)
        after[r:r + rng.integers(0, 6), c:c + rng.integers(0, 10)] = rng.integers(0, 256, 3)
        obj = box(5, 7, 5, 7, (20, 30))
        np.testing.assert_array_equal(
            sd.predicted_shadow_region(after, before, obj, mask_threshold=threshold),
            derive_shadow_mask(after, before, threshold) & ~obj,
        )


def test_empty_regions_give_nan_with_a_reason():
    no_prediction = sd.direction_metrics(NOSHADOW.copy(), NOSHADOW, OBJECT, RIGHT)
    assert math.isnan(no_prediction["shadow_angle_pred_deg"])
    assert math.isnan(no_prediction["shadow_angle_error_deg"])
    assert math.isnan(no_prediction["shadow_length_ratio"])
    assert no_prediction["shadow_angle_true_deg"] == pytest.approx(0.0)
    assert no_prediction["direction_note"].startswith("no predicted shadow: no pixel outside the object has grey")

    # A true shadow mask that lies only inside the object counts as empty.
    no_truth = sd.direction_metrics(darkened(RIGHT), NOSHADOW, OBJECT, OBJECT)
    assert math.isnan(no_truth["shadow_angle_true_deg"]) and math.isnan(no_truth["shadow_angle_error_deg"])
    assert no_truth["shadow_angle_pred_deg"] == pytest.approx(0.0)
    assert no_truth["direction_note"] == sd.NO_TRUE_SHADOW


def test_direction_metrics_validates_inputs():
    with pytest.raises(ValueError, match="shadow_mask: shape"):
        sd.direction_metrics(NOSHADOW, NOSHADOW, OBJECT, np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match="pred: expected dtype uint8"):
        sd.direction_metrics(NOSHADOW.astype(float), NOSHADOW, OBJECT, RIGHT)
    with pytest.raises(ValueError, match="object_mask: the mask is empty"):
        sd.direction_metrics(NOSHADOW, NOSHADOW, np.zeros((H, W), bool), RIGHT)
    with pytest.raises(ValueError, match="length_percentile"):
        sd.region_direction(RIGHT, (0.0, 0.0), length_percentile=120)


# --------------------------------------------------------------------------------------------
# aggregation and the constant-direction baseline
# --------------------------------------------------------------------------------------------


def _row(true, error, ratio=math.nan):
    return {"shadow_angle_true_deg": true, "shadow_angle_error_deg": error, "shadow_length_ratio": ratio}


def test_aggregate_counts_a_missing_prediction_as_a_miss():
    rows = [
        _row(0.0, 10.0, 1.0), _row(90.0, 40.0, 2.0), _row(180.0, math.nan),  # no predicted shadow: a miss
        _row(270.0, 100.0, 0.5), _row(math.nan, math.nan),  # no true shadow: left out
    ]
    result = sd.aggregate_direction(rows)
    assert result["n_direction_images"] == 4
    assert result["n_direction_no_prediction"] == 1
    assert result["n_direction_no_truth"] == 1
    assert result["within_30deg_share"] == pytest.approx(1 / 4)  # only 10
    assert result["within_45deg_share"] == pytest.approx(2 / 4)  # 10 and 40; the miss is not within
    assert result["angle_error_mean_deg"] == pytest.approx(50.0)  # (10 + 40 + 100) / 3
    assert result["angle_error_median_deg"] == pytest.approx(40.0)
    assert result["length_ratio_median"] == pytest.approx(1.0)  # median of 1, 2, 0.5
    assert result["n_length_ratio"] == 3
    with pytest.raises(ValueError, match="no per-image results"):
        sd.aggregate_direction([])
    with pytest.raises(ValueError, match="lacks 'shadow_length_ratio'"):
        sd.aggregate_direction([{"shadow_angle_true_deg": 1.0, "shadow_angle_error_deg": 1.0}])


def test_within_threshold_is_inclusive():
    result = sd.aggregate_direction([_row(0.0, 30.0), _row(0.0, 30.0001)])
    assert result["within_30deg_share"] == pytest.approx(0.5)


def test_constant_direction_baseline_by_hand():
    # 30 deg is the only direction within 30 deg of four of these (0, 50, 55, 60); 200 is left out.
    result = sd.constant_direction_baseline([0.0, 50.0, 55.0, 60.0, 200.0, math.nan])
    assert result["direction_deg"] == 30
    assert result["within_30deg_share"] == pytest.approx(4 / 5)
    assert result["within_45deg_share"] == pytest.approx(4 / 5)
    assert result["angle_error_mean_deg"] == pytest.approx((30 + 20 + 25 + 30 + 170) / 5)
    assert result["angle_error_median_deg"] == pytest.approx(30.0)
    assert result["n_direction_images"] == 5


def test_constant_direction_baseline_wraps_and_exposes_a_below_only_model():
    # Shadows on both sides of the wrap: every direction from 355 through 5 has all four within
    # 30 deg and a mean error of 7.5 deg; the tie goes to the smallest angle, 0.
    wrapped = sd.constant_direction_baseline([350.0, 355.0, 5.0, 10.0])
    assert wrapped["direction_deg"] == 0 and wrapped["within_30deg_share"] == 1.0
    assert wrapped["angle_error_mean_deg"] == pytest.approx(7.5)
    # One shadow opposite them pulls the best mean error to 5 deg: (15 + 10 + 0 + 5 + 175) / 5 = 41.
    pulled = sd.constant_direction_baseline([350.0, 355.0, 5.0, 10.0, 180.0])
    assert pulled["direction_deg"] == 5 and pulled["within_30deg_share"] == pytest.approx(4 / 5)
    assert pulled["angle_error_mean_deg"] == pytest.approx(41.0)
    # Every shadow falls down (90) give or take 20: a constant "below" direction gets them all.
    below = sd.constant_direction_baseline([70.0, 80.0, 90.0, 100.0, 110.0])
    assert below["direction_deg"] == 90 and below["within_30deg_share"] == 1.0
    empty = sd.constant_direction_baseline([math.nan])
    assert empty["direction_deg"] is None and math.isnan(empty["within_30deg_share"]) and empty["reason"]
    with pytest.raises(ValueError, match="step_deg"):
        sd.constant_direction_baseline([1.0], step_deg=7)


# --------------------------------------------------------------------------------------------
# the scene's shadow direction from the occluders
# --------------------------------------------------------------------------------------------


def test_scene_direction_is_the_area_weighted_circular_mean():
    robject = box(5, 9, 5, 9, (50, 60)) | box(30, 34, 40, 44, (50, 60))
    rshadow = box(8, 10, 10, 17, (50, 60))  # 24 px right of occluder A: contact (9, 7), centroid (9, 13.5): 0 deg
    rshadow |= box(35, 42, 41, 43, (50, 60))  # 24 px below B: contact (34, 42), centroid (38.5, 42): 90 deg
    rshadow |= box(45, 47, 0, 2, (50, 60))  # touches no occluder: unassigned
    scene = sd.scene_shadow_direction(robject, rshadow)
    assert sorted(o.angle_deg for o in scene.occluders) == pytest.approx([0.0, 90.0])
    assert scene.angle_deg == pytest.approx(45.0)  # equal weights
    assert scene.agreement == pytest.approx(math.sqrt(0.5))
    assert scene.n_unassigned_shadow_pixels == 9 and scene.reason == ""
    # Three times the shadow on the right pulls the mean towards 0: atan2(24, 72).
    heavier = rshadow | box(7, 11, 10, 23, (50, 60))  # A's shadow: rows 7..11 -> centroid row still 9
    heavier_scene = sd.scene_shadow_direction(robject, heavier)
    weights = {round(o.angle_deg): o.n_shadow_pixels for o in heavier_scene.occluders}
    assert weights[90] == 24
    assert heavier_scene.angle_deg == pytest.approx(math.degrees(math.atan2(24, weights[0])))


def test_shared_shadow_goes_to_the_nearest_occluder():
    # Occluders A (cols 0..4) and C (cols 21..25), rows 10..14; a shadow strip rows 12..14, cols 5..20
    # joins them: cols 5..12 are nearer A, 13..20 nearer C (no ties).
    robject = box(10, 14, 0, 4) | box(10, 14, 21, 25)
    rshadow = box(12, 14, 5, 20)
    occluders, unassigned = sd.occluder_shadows(robject, rshadow)
    assert unassigned == 0 and [o.n_shadow_pixels for o in occluders] == [24, 24]
    a, c = sorted(occluders, key=lambda o: o.contact[1])
    assert a.contact == (14.0, 2.0) and a.centroid == pytest.approx((13.0, 8.5))
    assert c.contact == (14.0, 23.0) and c.centroid == pytest.approx((13.0, 16.5))
    assert a.angle_deg == pytest.approx(math.degrees(math.atan2(-1, 6.5)) % 360)  # 351.25
    assert c.angle_deg == pytest.approx(math.degrees(math.atan2(-1, -6.5)) % 360)  # 188.75
    scene = sd.scene_shadow_direction(robject, rshadow)
    assert scene.angle_deg == pytest.approx(270.0)  # the horizontal parts cancel
    assert scene.agreement == pytest.approx(1 / math.sqrt(1 + 6.5 ** 2))


def test_scene_direction_without_occluder_shadows_is_nan_with_a_reason():
    robject = box(5, 9, 5, 9)
    empty = sd.scene_shadow_direction(robject, np.zeros((H, W), bool))
    assert math.isnan(empty.angle_deg) and empty.reason == sd.NO_OCCLUDER_SHADOW
    orphan = sd.scene_shadow_direction(robject, box(30, 32, 40, 45))
    assert math.isnan(orphan.angle_deg) and "18 rshadow pixel(s) touch no occluder" in orphan.reason
    # The inserted object is no occluder: its pixels are removed from robject and rshadow.
    only_object = sd.scene_shadow_direction(OBJECT, RIGHT, OBJECT)
    assert math.isnan(only_object.angle_deg)


def test_light_consistency_score_and_check():
    assert sd.light_consistency_score(10.0, 350.0) == pytest.approx((20.0, 1 - 20 / 180))
    assert sd.light_consistency_score(0.0, 180.0) == pytest.approx((180.0, 0.0))
    assert all(math.isnan(v) for v in sd.light_consistency_score(math.nan, 0.0))

    robject = box(2, 8, 40, 46)  # an occluder at the top right, contact (8, 43)
    rshadow = box(6, 10, 47, 58)  # its shadow to the right: centroid (8, 52.5) -> 0 deg
    good = sd.light_consistency(darkened(RIGHT), NOSHADOW, OBJECT, robject, rshadow)
    assert good.shadow.angle_deg == pytest.approx(0.0) and good.scene.angle_deg == pytest.approx(0.0)
    assert good.angle_diff_deg == pytest.approx(0.0) and good.score == pytest.approx(1.0)
    down = sd.light_consistency(darkened(DOWN), NOSHADOW, OBJECT, robject, rshadow)
    assert down.angle_diff_deg == pytest.approx(90.0) and down.score == pytest.approx(0.5)
    row = down.as_row()
    assert set(sd.LIGHT_KEYS) <= set(row) and row["light_consistency"] == 0.5 and row["light_note"] == ""
    none = sd.light_consistency(NOSHADOW.copy(), NOSHADOW, OBJECT, robject, np.zeros((H, W), bool))
    row = none.as_row()
    assert row["light_consistency"] is None and row["shadow_angle_deg"] is None
    assert "no predicted shadow" in row["light_note"] and "no occluder shadow" in row["light_note"]
    json.dumps(row)  # JSON-safe


def test_light_consistency_spearman_by_hand():
    result = sd.light_consistency_spearman([0, 90, 180, math.nan], [10, 80, 170, 5])
    assert result["rho"] == pytest.approx(1.0) and result["n_images"] == 3 and result["reason"] == ""
    inverse = sd.light_consistency_spearman([0, 90, 180], [170, 80, 10])
    assert inverse["rho"] == pytest.approx(-1.0)
    few = sd.light_consistency_spearman([0, 90], [1, 2])
    assert math.isnan(few["rho"]) and few["n_images"] == 2 and "at least 3" in few["reason"]
    constant = sd.light_consistency_spearman([5, 5, 5], [1, 2, 3])
    assert math.isnan(constant["rho"]) and "constant" in constant["reason"]
    with pytest.raises(ValueError, match="differ in length"):
        sd.light_consistency_spearman([1, 2], [1])


# --------------------------------------------------------------------------------------------
# the ground-truth-free score against the truth, on the synthetic renderer
# --------------------------------------------------------------------------------------------


def rotated_region(region: np.ndarray, obj: np.ndarray, contact: tuple[float, float], degrees: float) -> np.ndarray:
    """``region`` turned by ``degrees`` (clockwise on screen, as the angles) about ``contact``."""
    rows, cols = np.nonzero(region)
    t = math.radians(degrees)
    d_row, d_col = rows - contact[0], cols - contact[1]
    new_rows = np.rint(contact[0] + d_row * math.cos(t) + d_col * math.sin(t)).astype(int)
    new_cols = np.rint(contact[1] - d_row * math.sin(t) + d_col * math.cos(t)).astype(int)
    keep = (new_rows >= 0) & (new_rows < region.shape[0]) & (new_cols >= 0) & (new_cols < region.shape[1])
    out = np.zeros_like(region)
    out[new_rows[keep], new_cols[keep]] = True
    return out & ~obj


def test_rotated_region_turns_the_direction():
    obj = box(10, 19, 10, 18)  # contact (19, 14): whole pixels, so the turned pixels land exactly
    contact = sd.contact_point(obj)
    right = box(17, 21, 20, 29)  # 0 deg; turned by 180 its far end (column -1) leaves the image
    for turn, expected in ((90, box(25, 34, 12, 16)), (180, box(17, 21, 0, 8)), (270, box(4, 13, 12, 16))):
        turned = rotated_region(right, obj, contact, turn)
        np.testing.assert_array_equal(turned, expected & ~obj)
        assert sd.region_direction(turned, contact).angle_deg == pytest.approx(turn)


def test_light_consistency_ranks_synthetic_predictions_like_the_ground_truth():
    """True shadow pasted (good) vs turned by 90 / 180 / 270 degrees (bad), on tiny rendered scenes
    with known light: the score computed from the true robject / rshadow alone must order them as
    the true angle error does."""
    from gan_pipelines.families.shadow.synthetic import render_shadow_ar_split
    from gan_pipelines.synthetic import SyntheticConfig

    config = SyntheticConfig(seed=3, resolution=64, num_train=1, num_test=8)
    true_errors, light_diffs, scores = [], [], {0: [], 180: []}
    for _, images in render_shadow_ar_split(config, "test"):
        obj = images["mask"] > 0
        truth = (images["shadow_mask"] > 0) & ~obj
        contact = sd.contact_point(obj)
        for turn in (0, 90, 180, 270):
            region = rotated_region(truth, obj, contact, turn)
            pred = images["noshadow"].copy()
            pred[region] = images["noshadow"][region] // 2
            row = sd.direction_metrics(pred, images["noshadow"], images["mask"], images["shadow_mask"])
            check = sd.light_consistency(pred, images["noshadow"], images["mask"], images["robject"], images["rshadow"])
            true_errors.append(row["shadow_angle_error_deg"])
            light_diffs.append(check.angle_diff_deg)
            if turn in scores:
                scores[turn].append(check.score)
            if turn == 0:
                assert row["shadow_angle_error_deg"] == pytest.approx(0.0, abs=1e-6)
    result = sd.light_consistency_spearman(true_errors, light_diffs)
    assert result["n_images"] == 32
    assert result["rho"] > 0.5, result
    assert np.mean(scores[0]) > np.mean(scores[180]) + 0.4


def test_shadow_direction_module_does_not_import_torch():
    code = "import sys, gan_pipelines.families.shadow.shadow_direction; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------
# overlay and predict
# --------------------------------------------------------------------------------------------


def test_overlay_draws_outline_and_both_arrows_without_touching_the_input():
    robject, rshadow = box(2, 8, 40, 46), box(6, 10, 47, 58)
    output = darkened(DOWN)
    check = sd.light_consistency(output, NOSHADOW, OBJECT, robject, rshadow)
    before = output.copy()
    picture = sd.draw_direction_overlay(output, OBJECT, check)
    np.testing.assert_array_equal(output, before)
    assert picture.shape == output.shape and picture.dtype == np.uint8
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert {sd.OUTLINE_COLOUR, sd.SHADOW_ARROW_COLOUR, sd.SCENE_ARROW_COLOUR} <= colours
    # The red arrow runs down from the contact point (19, 14.5), the cyan one to the right.
    assert tuple(picture[23, 14]) == sd.SHADOW_ARROW_COLOUR or tuple(picture[23, 15]) == sd.SHADOW_ARROW_COLOUR
    assert tuple(picture[19, 25]) == sd.SCENE_ARROW_COLOUR
    assert tuple(picture[10, 12]) == sd.OUTLINE_COLOUR  # top edge of the object
    no_scene = sd.light_consistency(output, NOSHADOW, OBJECT, robject, np.zeros((H, W), bool))
    colours = {tuple(c) for c in sd.draw_direction_overlay(output, OBJECT, no_scene).reshape(-1, 3)}
    assert sd.SCENE_ARROW_COLOUR not in colours and sd.SHADOW_ARROW_COLOUR in colours


class StandInPredictor(_FullResolutionPredictor):
    """The real predict path with a stand-in model: darkens a band to the right of the object's
    columns and reports one occluder (top left) with its shadow to the right."""

    resolution = 32
    # its band is drawn by hand, not cast from the object: these tests check the upsampled ratio's arithmetic
    full_resolution = "upsampled"

    def _predict_small(self, image, mask):
        cols = np.flatnonzero(mask.any(axis=0))
        rows = np.flatnonzero(mask.any(axis=1))
        layer = np.zeros((*mask.shape, 3), np.float32)
        layer[rows[-1] - 1:rows[-1] + 2, cols[-1] + 1:cols[-1] + 9] = -0.5
        robject = np.zeros_like(mask)
        robject[2:8, 2:6] = 255
        rshadow = np.zeros_like(mask)
        rshadow[5:9, 6:14] = 255
        return layer, robject, rshadow


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(array))


def test_predict_folder_reports_light_consistency_and_writes_overlays_without_overwriting(tmp_path):
    image = np.full((64, 64, 3), 150, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[30:44, 20:30] = 255
    _write(tmp_path / "in/noshadow/a.png", image)
    _write(tmp_path / "in/mask/a.png", mask)
    summary = predict_folder(StandInPredictor(), tmp_path / "in", tmp_path / "out")
    row = summary["light_consistency"]["a"]
    # Both shadows point right, slightly up from the contact rows: within a few degrees of 0.
    assert sd.angle_difference_deg(row["shadow_angle_deg"], 0.0) < 15
    assert sd.angle_difference_deg(row["scene_shadow_angle_deg"], 0.0) < 25
    assert row["light_consistency"] > 0.85 and row["n_occluder_shadows"] == 1 and row["light_note"] == ""
    assert summary["mask_threshold"] == 10.0 and "image coordinates" in summary["light_consistency_definition"]
    json.dumps(summary)
    overlay = read_image(tmp_path / "out/overlay/a.png")
    assert overlay.shape == (64, 64, 3)
    assert (overlay == np.array(sd.SCENE_ARROW_COLOUR)).all(axis=2).any()
    # Nothing is overwritten: an overlay already in place stops the run before anything is written.
    _write(tmp_path / "in2/noshadow/b.png", image)
    _write(tmp_path / "in2/mask/b.png", mask)
    _write(tmp_path / "out2/overlay/b.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(FileExistsError, match="nothing is overwritten"):
        predict_folder(StandInPredictor(), tmp_path / "in2", tmp_path / "out2")
    assert not (tmp_path / "out2/shadow").exists()
    # Without overlays the same folder is fine, and the overlay there is untouched.
    summary = predict_folder(StandInPredictor(), tmp_path / "in2", tmp_path / "out2", overlays=False)
    assert read_image(tmp_path / "out2/overlay/b.png").shape == (4, 4)
    assert summary["light_consistency"]["b"]["light_consistency"] is not None


def test_predict_parameters_are_checked():
    from gan_pipelines.families.shadow.nodes.predict import predictor_settings

    base = {"input_dir": "x", "output_dir": "y"}
    assert predictor_settings(base)["mask_threshold"] == 10.0 and predictor_settings(base)["overlays"] is True
    with pytest.raises(ValueError, match="shadow.predict.mask_threshold: Input should be a valid number"):
        predictor_settings({**base, "mask_threshold": "ten"})
    with pytest.raises(ValueError, match="shadow.predict.overlays: Input should be a valid boolean"):
        predictor_settings({**base, "overlays": "yes"})


# --------------------------------------------------------------------------------------------
# the evaluate node and the report, on the tiny trained project (shared with test_pipeline.py)
# --------------------------------------------------------------------------------------------


def test_evaluate_and_report_carry_the_direction_metrics(tiny_trained_project):
    data = tiny_trained_project / "data/08_reporting"
    metrics = json.loads((data / "shadow_metrics.json").read_text())
    per_image = pd.read_csv(data / "shadow_test_metrics_per_image.csv")
    assert len(per_image) == 6 * 3  # still one row per image and method
    assert set(sd.DIRECTION_KEYS) | set(sd.LIGHT_KEYS) <= set(per_image.columns)
    assert {f"{k}{sd.PRED_MAPS_SUFFIX}" for k in sd.LIGHT_KEYS} <= set(per_image.columns)
    keys = ("angle_error_mean_deg", "within_30deg_share", "within_45deg_share", "length_ratio_median",
            "n_direction_images", "light_consistency_mean")
    for method in ("model", "identity", "ground_truth_attention"):
        assert set(keys) <= set(metrics[method])
        assert "GRMSE" in metrics[method]  # the protocol's keys are still there
    # Synthetic test scenes always have a true shadow; identity draws none: every image a miss.
    assert metrics["identity"]["n_direction_images"] == 6
    assert metrics["identity"]["within_30deg_share"] == 0.0
    assert metrics["identity"]["n_direction_no_prediction"] == 6
    assert metrics["identity"]["angle_error_mean_deg"] is None
    # The per-image CSV and the JSON agree.
    model = per_image[per_image.method == "model"]
    assert metrics["model"]["within_30deg_share"] == pytest.approx((model.shadow_angle_error_deg <= 30).sum() / 6)
    constant = metrics["constant_direction"]
    assert 0 <= constant["direction_deg"] < 360 and constant["n_direction_images"] == 6
    truth = model.shadow_angle_true_deg.to_numpy()
    assert constant["within_30deg_share"] == pytest.approx(
        (sd.angle_difference_deg(constant["direction_deg"], truth) <= 30).mean())
    spearman = metrics["light_consistency_spearman"]
    assert {"rho", "p_value", "n_images", "reason"} <= set(spearman)
    assert spearman["n_images"] == int((model.shadow_angle_error_deg.notna() & model.light_angle_diff_deg.notna()).sum())
    assert "n_images" in metrics["light_consistency_spearman_predicted_maps"]
    assert metrics["light_estimate"]["ground_truth_maps"]["n_direction_images"] == 6
    assert "image coordinates" in metrics["meta"]["direction_convention"]
    html = (data / "shadow_report.html").read_text()
    assert "Shadow direction and light consistency" in html and "constant_direction" in html
    assert "constant_direction" in (data / "shadow_report.md").read_text()
