"""The shadow strength measure (shadow_strength.py) and the test metrics' bootstrap intervals
(nodes/evaluate.py), on pictures and rows worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_pipelines.families.shadow.nodes.evaluate import bootstrap_intervals, summarise
from gan_pipelines.families.shadow.shadow_strength import (
    FAINT_SCENE_SHADOW, NO_GENERATED_SHADOW, NO_SCENE_CORE, NO_SCENE_SHADOW, STRENGTH_KEYS, aggregate_strength,
    generated_darkening, luma, ring_sizes, scene_darkening, shadow_strength,
)
from gan_pipelines.metrics.intervals import bootstrap_interval

H = W = 64


def _scene(ground: int = 200, scene_shadow: int = 100):
    """A grey ground, one occluder with its shadow (luma ``scene_shadow``) and the inserted object."""
    image = np.full((H, W, 3), ground, np.uint8)
    robject = np.zeros((H, W), bool)
    robject[10:20, 10:14] = True
    rshadow = np.zeros((H, W), bool)
    rshadow[20:30, 10:24] = True
    image[rshadow] = scene_shadow
    obj = np.zeros((H, W), bool)
    obj[40:50, 40:44] = True
    return image, robject, rshadow, obj


def test_luma_is_bt601():
    image = np.zeros((1, 3, 3), np.uint8)
    image[0, 0] = (100, 0, 0)
    image[0, 1] = (0, 100, 0)
    image[0, 2] = (0, 0, 100)
    assert luma(image)[0].tolist() == pytest.approx([29.9, 58.7, 11.4])


def test_strength_by_hand():
    image, robject, rshadow, obj = _scene()  # the scene's shadow: 1 - 100/200 = 0.5
    output = image.copy()
    output[50:55, 40:50] = 140  # 50 pixels 30% darker ...
    output[55:60, 40:50] = 60  # ... and 50 pixels 70% darker
    output[45:50, 40:44] = 0  # inside the object: not the shadow
    check = shadow_strength(output, image, obj, robject, rshadow)
    assert check.note == ""
    assert check.n_shadow_pixels == 100
    assert check.darkening == pytest.approx(0.5)  # median of 50 x 0.3 and 50 x 0.7
    assert check.darkening_darkest5 == pytest.approx(0.7)
    assert check.scene_darkening == pytest.approx(0.5)
    # 64 px: gap 1, ring 2 px; the core is the 10x14 shadow less its 1-px border.
    assert ring_sizes(H, W) == (1, 2) and check.n_scene_pixels == 8 * 12
    assert check.strength == pytest.approx(1.0)
    assert list(check.as_row()) == list(STRENGTH_KEYS)


def test_darkest5_is_the_95th_percentile_of_the_darkened_pixels():
    image, *_ , obj = _scene()
    output = image.copy()
    output[50:60, 40:50] = 180  # 100 pixels: 0.1 darker
    output[60:62, 40:45] = 20  # 10 pixels: 0.9 darker (9% of 110)
    output[62, 40] = 230  # brighter: in the changed region but not darkened
    median, darkest, count = generated_darkening(output, image, obj)
    assert count == 110 and median == pytest.approx(0.1)
    assert darkest == pytest.approx(np.percentile([0.1] * 100 + [0.9] * 10, 95))
    assert darkest == pytest.approx(0.9)


def test_scene_shadow_against_its_own_lit_ring():
    # Two occluder shadows on grounds of different brightness: each is compared with its own ring.
    image = np.full((H, W, 3), 200, np.uint8)
    image[:, 32:] = 100  # a darker right half
    robject = np.zeros((H, W), bool)
    rshadow = np.zeros((H, W), bool)
    rshadow[20:30, 5:15] = True  # on the 200 ground, 50% darker
    rshadow[20:30, 45:55] = True  # on the 100 ground, 20% darker
    image[20:30, 5:15] = 100
    image[20:30, 45:55] = 80
    value, count, reason = scene_darkening(image, robject, rshadow)
    assert reason == "" and count == 2 * 8 * 8
    assert value == pytest.approx(0.35)  # median of 64 x 0.5 and 64 x 0.2


def test_no_scene_shadow_is_null_with_the_reason_never_zero():
    image, robject, _, obj = _scene()
    output = image.copy()
    output[50:55, 40:50] = 140
    check = shadow_strength(output, image, obj, robject, np.zeros((H, W), bool))
    assert check.as_row()["shadow_strength"] is None and check.note == NO_SCENE_SHADOW
    assert check.as_row()["shadow_darkening"] == pytest.approx(0.3)  # the generated shadow is still measured
    thin = np.zeros((H, W), bool)
    thin[20, 10:24] = True  # one pixel thick: no core left after the 1-px border
    assert shadow_strength(output, image, obj, robject, thin).note == NO_SCENE_CORE


def test_no_generated_shadow_and_faint_scene_shadows_are_null():
    image, robject, rshadow, obj = _scene()
    check = shadow_strength(image.copy(), image, obj, robject, rshadow)
    assert math.isnan(check.strength) and check.note == NO_GENERATED_SHADOW
    assert check.scene_darkening == pytest.approx(0.5)
    faint_image, robject, rshadow, obj = _scene(scene_shadow=195)  # 2.5% darker than the ground
    output = faint_image.copy()
    output[50:55, 40:50] = 140
    check = shadow_strength(output, faint_image, obj, robject, rshadow)
    assert math.isnan(check.strength) and check.note == FAINT_SCENE_SHADOW.format(value=0.025)


def test_aggregate_strength_medians_over_defined_images():
    rows = [
        {"shadow_darkening": 0.2, "shadow_darkening_darkest5": 0.4, "scene_shadow_darkening": 0.5,
         "shadow_strength": 0.4, "strength_note": ""},
        {"shadow_darkening": 0.3, "shadow_darkening_darkest5": 0.5, "scene_shadow_darkening": None,
         "shadow_strength": None, "strength_note": NO_SCENE_SHADOW},
        {"shadow_darkening": 0.6, "shadow_darkening_darkest5": 0.9, "scene_shadow_darkening": 0.5,
         "shadow_strength": 1.2, "strength_note": ""},
    ]
    result = aggregate_strength(rows)
    assert result["shadow_strength_median"] == pytest.approx(0.8) and result["n_strength_scored"] == 2
    assert result["shadow_darkening_median"] == pytest.approx(0.3)
    assert result["scene_shadow_darkening_median"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="lacks 'shadow_strength'"):
        aggregate_strength([{k: 0.1 for k in ("shadow_darkening", "shadow_darkening_darkest5", "scene_shadow_darkening")}])


# --------------------------------------------------------------------------------------------
# Bootstrap intervals of the test metrics
# --------------------------------------------------------------------------------------------


def _row(lrmse: float, error_deg: float, true_deg: float = 90.0) -> dict:
    """One evaluation-table row with the values the summary reads."""
    return {
        "GRMSE": 1.0, "LRMSE": lrmse, "GSSIM": 0.9, "LSSIM": 0.5, "GPSNR": 30.0, "LPSNR": 20.0, "GBER": 0.5, "LBER": 1.0,
        "shadow_angle_true_deg": true_deg, "shadow_angle_pred_deg": true_deg + error_deg,
        "shadow_angle_error_deg": error_deg, "shadow_length_ratio": 1.0,
        "light_consistency": 1.0, "light_angle_diff_deg": 0.0,
        "shadow_darkening": 0.3, "shadow_darkening_darkest5": 0.5, "scene_shadow_darkening": 0.5,
        "shadow_strength": None, "strength_note": NO_SCENE_SHADOW,
    }


def test_intervals_resample_scenes_and_recompute_each_metric():
    lrmse = np.arange(10, dtype=float)
    rows = [_row(v, 10.0 if v < 7 else 60.0) for v in lrmse]  # 7 of 10 within 30 degrees
    keys = ("LRMSE", "GBER", "within_30deg_share", "shadow_strength_median")
    intervals = bootstrap_intervals(rows, keys, resamples=500, seed=3)
    # LRMSE is the mean of the per-image values: the same interval as bootstrapping that mean.
    (expected,) = bootstrap_interval(10, lambda idx: [lrmse[idx].mean()], n_resamples=500, seed=3)
    assert intervals["LRMSE"] == pytest.approx(list(expected))
    assert intervals["LRMSE"][0] < summarise(rows)["LRMSE"] == 4.5 < intervals["LRMSE"][1]
    assert intervals["GBER"] == [0.5, 0.5]  # every image 0.5: no noise
    hits = (lrmse < 7).astype(float)
    (share,) = bootstrap_interval(10, lambda idx: [hits[idx].mean()], n_resamples=500, seed=3)
    assert intervals["within_30deg_share"] == pytest.approx(list(share))
    assert intervals["shadow_strength_median"] is None  # undefined on every image: no interval


def test_interval_of_a_share_with_images_out_of_it():
    # An image without a true direction is left out of within_30deg_share (it is not a miss).
    rows = [_row(1.0, 10.0), _row(1.0, 10.0, true_deg=math.nan)]
    rows[1]["shadow_angle_error_deg"] = math.nan
    assert summarise(rows)["within_30deg_share"] == 1.0
    # A resample of the second image alone has no scored image: the share is undefined, so no interval.
    assert bootstrap_intervals(rows, ("within_30deg_share",), resamples=200, seed=0)["within_30deg_share"] is None
    assert bootstrap_intervals(rows[:1], ("LRMSE",), resamples=200, seed=0) == {"LRMSE": None}  # one image
