"""Tests for the shadow evaluation protocol and the shared image-quality metrics it uses,
against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from gan_pipelines.families.shadow.evaluation import (
    LOCAL_METRIC_KEYS,
    METRIC_KEYS,
    SHADOW_DIFF_THRESHOLD,
    aggregate,
    balanced_error_rates,
    derive_shadow_mask,
    evaluate_image,
)
from gan_pipelines.metrics.image_quality import PSNR_CAP_DB, psnr, rmse, ssim_map


def const_image(value: int, h: int = 2, w: int = 2) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# A 2x2x3 hand case for RMSE / PSNR
#   noshadow = 100 everywhere
#   gt   = 60 at pixel (0,0), 100 elsewhere          (the shadow)
#   pred = 70 at pixel (0,0), 104 at pixel (1,0), 100 elsewhere
#   M    = {(0,0)}
# gt - pred: (0,0): -10 on 3 channels -> 3 * 100 = 300; (1,0): -4 on 3 channels -> 3 * 16 = 48
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def tiny():
    gt = const_image(100)
    gt[0, 0] = 60
    pred = const_image(100)
    pred[0, 0] = 70
    pred[1, 0] = 104
    mask = np.array([[255, 0], [0, 0]], dtype=np.uint8)
    return gt, pred, mask


def test_grmse_by_hand(tiny):
    gt, pred, _ = tiny
    # (300 + 48) / 12 values = 29  ->  sqrt(29) = 5.385164807...
    assert rmse(gt, pred) == pytest.approx(math.sqrt(29.0), rel=1e-12)
    assert rmse(gt, pred) == pytest.approx(5.385164807134504, rel=1e-12)


def test_lrmse_by_hand(tiny):
    gt, pred, mask = tiny
    # inside M: 300 / (3 * |M| = 3) = 100  ->  sqrt(100) = 10
    assert rmse(gt, pred, mask) == pytest.approx(10.0, rel=1e-12)


def test_gpsnr_by_hand(tiny):
    gt, pred, _ = tiny
    # MSE on [0,1] = 29 / 255^2 = 29 / 65025; PSNR = 10 log10(65025 / 29) = 10 log10(2242.24...)
    #   = 10 * 3.3506824 = 33.506824 dB
    assert psnr(gt, pred) == pytest.approx(10 * math.log10(65025 / 29), rel=1e-12)
    assert psnr(gt, pred) == pytest.approx(33.506824, abs=1e-5)


def test_lpsnr_by_hand(tiny):
    gt, pred, mask = tiny
    # MSE inside M = 100 (0..255 scale) -> 100/65025 on [0,1]; 10 log10(650.25) = 28.1308 dB
    assert psnr(gt, pred, mask) == pytest.approx(10 * math.log10(650.25), rel=1e-12)
    assert psnr(gt, pred, mask) == pytest.approx(28.13081, abs=1e-4)


def test_rmse_does_not_wrap_uint8():
    # 0 - 255 in uint8 would wrap to 1; the right answer is 255 on every value.
    assert rmse(const_image(0), const_image(255)) == pytest.approx(255.0)
    # and PSNR of the largest possible error is 0 dB: MSE on [0,1] = 1
    assert psnr(const_image(0), const_image(255)) == pytest.approx(0.0, abs=1e-12)


def test_psnr_cap_for_identical_images():
    a = const_image(37)
    assert psnr(a, a) == PSNR_CAP_DB == 100.0
    assert psnr(a, a, np.ones((2, 2), dtype=bool)) == 100.0


def test_psnr_clipped_at_cap_even_with_nonzero_mse():
    # 256x256x3 with a single value off by 1: MSE on [0,1] = 1 / (196608 * 65025)
    # -> 10 log10(196608 * 65025) = 101.07 dB, which is clipped to the 100 dB cap.
    gt = const_image(50, 256, 256)
    pred = gt.copy()
    pred[0, 0, 0] = 51
    assert 10 * math.log10(196608 * 65025) > 100.0
    assert psnr(gt, pred) == 100.0
    # a 2x2x3 image with one value off by 1 is well below the cap:
    # MSE on [0,1] = 1/12/65025 -> 10 log10(780300) = 58.9226 dB
    small, small_pred = const_image(50), const_image(50)
    small_pred[1, 1, 2] = 49
    assert psnr(small, small_pred) == pytest.approx(10 * math.log10(12 * 65025), rel=1e-12)


def test_local_rmse_psnr_nan_for_empty_mask(tiny):
    gt, pred, _ = tiny
    empty = np.zeros((2, 2), dtype=np.uint8)
    assert math.isnan(rmse(gt, pred, empty))
    assert math.isnan(psnr(gt, pred, empty))


# --------------------------------------------------------------------------------------------
# Shadow masks and BER
# --------------------------------------------------------------------------------------------


def test_derive_shadow_mask_threshold_is_strict_mean_over_channels():
    noshadow = const_image(100, 2, 3)
    shadow = noshadow.copy()
    shadow[0, 0] = (90, 90, 90)   # |diff| = 10, 10, 10 -> mean 10.0, not > 10 -> off
    shadow[0, 1] = (90, 90, 89)   # 10, 10, 11 -> mean 10.33 > 10          -> on
    shadow[0, 2] = (70, 100, 100)  # 30, 0, 0  -> mean 10.0 (the max would be 30) -> off
    shadow[1, 0] = (131, 131, 131)  # brighter by 31 -> |.| = 31                 -> on
    shadow[1, 1] = (0, 0, 0)       # 100 each                                     -> on
    # shadow[1, 2] unchanged                                                   -> off
    got = derive_shadow_mask(shadow, noshadow)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, [[False, True, False], [True, True, False]])
    assert SHADOW_DIFF_THRESHOLD == 10.0
    # threshold is a parameter: at 30, only mean 31 and mean 100 remain
    np.testing.assert_array_equal(
        derive_shadow_mask(shadow, noshadow, threshold=30),
        [[False, False, False], [True, True, False]],
    )


def test_derive_shadow_mask_no_uint8_wraparound():
    # 5 - 250 in uint8 would be 11; the true difference is 245
    a, b = const_image(5), const_image(250)
    assert derive_shadow_mask(a, b, threshold=200).all()


def test_ber_by_hand():
    # 4x4: M has 4 positives (top row) and 12 negatives.
    target = np.zeros((4, 4), dtype=bool)
    target[0, :] = True
    predicted = np.zeros((4, 4), dtype=bool)
    predicted[0, :3] = True  # TP = 3, FN = 1
    predicted[2, 0] = predicted[3, 3] = True  # FP = 2 -> TN = 10
    gber, lber = balanced_error_rates(predicted, target)
    # TPR = 3/4, TNR = 10/12 = 5/6; GBER = 1 - (3/4 + 5/6)/2 = 1 - 19/24 = 5/24 = 0.208333
    assert gber == pytest.approx(5 / 24, rel=1e-12)
    # LBER = 1 - 3/4 = 0.25
    assert lber == pytest.approx(0.25, rel=1e-12)


def test_ber_edge_cases():
    none = np.zeros((3, 3), dtype=bool)
    everything = np.ones((3, 3), dtype=bool)
    # no positives in M: TPR undefined -> both NaN
    gber, lber = balanced_error_rates(everything, none)
    assert math.isnan(gber) and math.isnan(lber)
    # no negatives in M: TNR undefined -> GBER NaN; TPR = 9/9 -> LBER 0
    gber, lber = balanced_error_rates(everything, everything)
    assert math.isnan(gber)
    assert lber == 0.0
    # predicting nothing against a partial mask: TPR 0, TNR 1 -> 0.5 / 1.0
    partial = none.copy()
    partial[1, 1] = True
    assert balanced_error_rates(none, partial) == (0.5, 1.0)


# --------------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------------


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_ssim_identical_images_is_one_globally_and_locally():
    img = textured(16, 16)
    mask = np.zeros((16, 16), dtype=np.uint8)
    mask[3:9, 4:12] = 255
    res = evaluate_image(img, img, img, mask)
    assert res["GSSIM"] == pytest.approx(1.0, abs=1e-12)
    assert res["LSSIM"] == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_by_hand():
    # gt = 100 and pred = 50 everywhere: means 100 and 50, variances and covariance 0, so
    # SSIM = (2*100*50 + C1)(0 + C2) / ((100^2 + 50^2 + C1)(0 + 0 + C2))
    #      = (10000 + C1) / (12500 + C1),  C1 = (0.01 * 255)^2 = 6.5025
    #      = 10006.5025 / 12506.5025 = 0.800104...   at every pixel, so GSSIM = LSSIM = that.
    expected = 10006.5025 / 12506.5025
    gt, pred = const_image(100, 12, 12), const_image(50, 12, 12)
    mask = np.zeros((12, 12), dtype=bool)
    mask[2:5, 2:5] = True
    res = evaluate_image(gt, pred, gt, mask)
    assert res["GSSIM"] == pytest.approx(expected, rel=1e-9)
    assert res["LSSIM"] == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(0.800104, abs=1e-6)


def test_lssim_is_one_where_the_window_sees_no_difference():
    # Differences only in columns 16..23; M = columns 0..9. The 11x11 window reaches 5 pixels,
    # so every pixel of M (column <= 9) sees only identical values: SSIM = 1 there, LSSIM = 1,
    # while GSSIM < 1 because of the perturbed columns.
    gt = textured(24, 24, seed=1)
    pred = gt.copy()
    pred[:, 16:] = textured(24, 8, seed=2)
    mask = np.zeros((24, 24), dtype=bool)
    mask[:, :10] = True
    res = evaluate_image(gt, pred, gt, mask)
    assert res["LSSIM"] == pytest.approx(1.0, abs=1e-12)
    assert res["GSSIM"] < 0.9
    # moving M onto the perturbed columns brings LSSIM down
    mask2 = np.zeros((24, 24), dtype=bool)
    mask2[:, 18:] = True
    assert evaluate_image(gt, pred, gt, mask2)["LSSIM"] < 0.5


def test_lssim_and_gssim_match_manual_average_of_skimage_map():
    gt = textured(20, 18, seed=3)
    pred = np.clip(gt.astype(int) + np.random.default_rng(4).integers(-40, 41, gt.shape), 0, 255)
    pred = pred.astype(np.uint8)
    mask = np.zeros((20, 18), dtype=np.uint8)
    mask[0:6, 10:18] = 255  # touches the border on purpose
    mask[12, 3] = 255
    _, full = structural_similarity(gt, pred, data_range=255, channel_axis=-1,
                                    gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, full=True)
    assert full.shape == (20, 18, 3)
    per_pixel = full.mean(axis=2)
    manual_local = per_pixel[mask == 255].mean()  # 48 + 1 = 49 pixels
    res = evaluate_image(gt, pred, gt, mask)
    assert res["LSSIM"] == pytest.approx(manual_local, rel=1e-12)
    # GSSIM = mean of the whole map (no border crop), so it equals LSSIM for a full mask
    assert res["GSSIM"] == pytest.approx(full.mean(), rel=1e-12)
    full_mask = np.ones((20, 18), dtype=bool)
    assert evaluate_image(gt, pred, gt, full_mask)["LSSIM"] == pytest.approx(res["GSSIM"], rel=1e-12)
    np.testing.assert_allclose(ssim_map(gt, pred), per_pixel, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# evaluate_image end to end, 12x12 (SSIM needs >= 11x11)
#   noshadow = 100; gt = 60 in a 4x4 block M (16 pixels); pred = 70 in that block.
#   gt - pred = -10 on 16 * 3 = 48 values -> squared sum 4800 over 12*12*3 = 432 values.
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def scene():
    noshadow = const_image(100, 12, 12)
    mask = np.zeros((12, 12), dtype=np.uint8)
    mask[4:8, 2:6] = 255
    gt = noshadow.copy()
    gt[mask == 255] = 60
    pred = noshadow.copy()
    pred[mask == 255] = 70
    return gt, pred, noshadow, mask


def test_evaluate_image_by_hand(scene):
    gt, pred, noshadow, mask = scene
    res = evaluate_image(gt, pred, noshadow, mask)
    assert list(res) == list(METRIC_KEYS)
    assert all(isinstance(v, float) for v in res.values())
    # GRMSE: MSE = 4800 / 432 = 100/9 -> sqrt = 10/3
    assert res["GRMSE"] == pytest.approx(10 / 3, rel=1e-12)
    # LRMSE: 4800 / (3 * 16) = 100 -> 10
    assert res["LRMSE"] == pytest.approx(10.0, rel=1e-12)
    # GPSNR: 10 log10(65025 * 9 / 100) = 10 log10(5852.25) = 37.6732 dB
    assert res["GPSNR"] == pytest.approx(10 * math.log10(5852.25), rel=1e-12)
    # LPSNR: 10 log10(65025 / 100) = 28.1308 dB
    assert res["LPSNR"] == pytest.approx(10 * math.log10(650.25), rel=1e-12)
    # predicted mask: |pred - noshadow| = 30 > 10 exactly on M -> TPR = TNR = 1 -> BERs 0
    assert res["GBER"] == 0.0
    assert res["LBER"] == 0.0
    assert 0.0 < res["LSSIM"] < res["GSSIM"] < 1.0


def test_identity_baseline(scene):
    gt, _, noshadow, mask = scene
    res = evaluate_image(gt, noshadow, noshadow, mask)
    # predicted mask empty: TPR = 0/16, TNR = 128/128 -> GBER = 1 - (0 + 1)/2 = 0.5, LBER = 1
    assert res["GBER"] == 0.5
    assert res["LBER"] == 1.0
    # gt - pred = -40 on 48 values: GRMSE = sqrt(48 * 1600 / 432) = 40/3; LRMSE = 40
    assert res["GRMSE"] == pytest.approx(40 / 3, rel=1e-12)
    assert res["LRMSE"] == pytest.approx(40.0, rel=1e-12)


def test_mask_threshold_parameter(scene):
    gt, pred, noshadow, mask = scene
    # the shadow darkens by 30; a threshold of 30 (strict >) no longer sees it
    res = evaluate_image(gt, pred, noshadow, mask, mask_threshold=30)
    assert res["GBER"] == 0.5 and res["LBER"] == 1.0
    res = evaluate_image(gt, pred, noshadow, mask, mask_threshold=29.9)
    assert res["GBER"] == 0.0 and res["LBER"] == 0.0


def test_mask_formats_agree(scene):
    gt, pred, noshadow, mask = scene
    a = evaluate_image(gt, pred, noshadow, mask)
    b = evaluate_image(gt, pred, noshadow, mask == 255)
    c = evaluate_image(gt, pred, noshadow, (mask // 255).astype(np.uint8))
    assert a == b == c


def test_perfect_prediction_hits_psnr_cap(scene):
    gt, _, noshadow, mask = scene
    res = evaluate_image(gt, gt, noshadow, mask)
    assert res["GPSNR"] == 100.0 and res["LPSNR"] == 100.0
    assert res["GRMSE"] == 0.0 and res["LRMSE"] == 0.0
    assert res["GBER"] == 0.0 and res["LBER"] == 0.0


def test_empty_mask_gives_nan_local_metrics(scene):
    gt, pred, noshadow, _ = scene
    res = evaluate_image(gt, pred, noshadow, np.zeros((12, 12), dtype=np.uint8))
    for key in LOCAL_METRIC_KEYS:
        assert math.isnan(res[key]), key
    assert math.isnan(res["GBER"])  # TPR undefined
    assert res["GRMSE"] == pytest.approx(10 / 3)
    assert math.isfinite(res["GSSIM"]) and math.isfinite(res["GPSNR"])


# --------------------------------------------------------------------------------------------
# aggregate
# --------------------------------------------------------------------------------------------


def test_aggregate_plain_mean_skipping_nan(scene):
    gt, pred, noshadow, mask = scene
    normal = evaluate_image(gt, pred, noshadow, mask)
    identity = evaluate_image(gt, noshadow, noshadow, mask)
    empty = evaluate_image(gt, pred, noshadow, np.zeros((12, 12), dtype=np.uint8))
    out = aggregate([normal, empty, identity])
    assert out["n_images"] == 3
    # GRMSE: (10/3 + 10/3 + 40/3) / 3 = 60/9 = 6.6667 (plain mean over all 3 images)
    assert out["GRMSE"] == pytest.approx(60 / 9, rel=1e-12)
    # LRMSE: empty image skipped -> (10 + 40) / 2 = 25
    assert out["LRMSE"] == pytest.approx(25.0, rel=1e-12)
    # LBER: (0 + 1) / 2 = 0.5; GBER: (0 + 0.5) / 2 = 0.25
    assert out["LBER"] == pytest.approx(0.5)
    assert out["GBER"] == pytest.approx(0.25)
    for key in LOCAL_METRIC_KEYS + ("GBER",):
        assert out[f"n_skipped_{key}"] == 1
    for key in ("GRMSE", "GSSIM", "GPSNR"):
        assert out[f"n_skipped_{key}"] == 0
    assert all(math.isfinite(out[k]) for k in METRIC_KEYS)


def test_aggregate_all_nan_and_errors():
    row = {k: (math.nan if k in LOCAL_METRIC_KEYS + ("GBER",) else 1.0) for k in METRIC_KEYS}
    out = aggregate([row, dict(row, extra_id="ignored")])
    assert math.isnan(out["LRMSE"]) and out["n_skipped_LRMSE"] == 2
    assert out["GRMSE"] == 1.0
    with pytest.raises(ValueError, match="no per-image"):
        aggregate([])
    bad = dict(row)
    del bad["LSSIM"]
    with pytest.raises(ValueError, match=r"row 1 lacks.*LSSIM"):
        aggregate([row, bad])


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def test_validation_errors(scene):
    gt, pred, noshadow, mask = scene
    with pytest.raises(ValueError, match=r"pred: expected dtype uint8.*float64"):
        evaluate_image(gt, pred.astype(np.float64), noshadow, mask)
    with pytest.raises(ValueError, match=r"noshadow: expected dtype uint8"):
        evaluate_image(gt, pred, noshadow.astype(np.int64), mask)
    with pytest.raises(ValueError, match=r"gt \(12, 12, 3\), pred \(12, 13, 3\)"):
        evaluate_image(gt, const_image(100, 12, 13), noshadow, mask)
    with pytest.raises(ValueError, match=r"gt: expected an RGB image.*\(12, 12\)"):
        evaluate_image(gt[:, :, 0], pred, noshadow, mask)
    with pytest.raises(ValueError, match=r"shadow_mask: shape \(12, 11\) does not match.*\(12, 12\)"):
        evaluate_image(gt, pred, noshadow, mask[:, :11])
    with pytest.raises(ValueError, match=r"shadow_mask: a uint8 mask must hold only 0 and 255"):
        evaluate_image(gt, pred, noshadow, (mask // 2).astype(np.uint8))
    with pytest.raises(ValueError, match=r"shadow_mask: expected a single-channel"):
        evaluate_image(gt, pred, noshadow, np.stack([mask] * 3, axis=2))
    with pytest.raises(ValueError, match=r"shadow_mask: expected dtype bool or uint8"):
        evaluate_image(gt, pred, noshadow, mask.astype(np.float32))
    with pytest.raises(ValueError, match=r"SSIM needs images of at least 11x11.*\(10, 10, 3\)"):
        small = const_image(1, 10, 10)
        evaluate_image(small, small, small, np.zeros((10, 10), dtype=bool))
    with pytest.raises(ValueError, match=r"shadow: expected dtype uint8"):
        derive_shadow_mask(gt.astype(np.float32), noshadow)


def test_one_ber_rule_for_torch_counts_and_the_shadow_protocol():
    """The shadow protocol's GBER/LBER (numpy masks) use these same rates, NaN included."""
    import torch

    from gan_pipelines.metrics.segmentation import balanced_error_rate

    probs = torch.tensor([[[[0.9, 0.6, 0.4, 0.1], [0.7, 0.2, 0.5, 0.8]], [[0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]]]])
    truth = torch.tensor([[[[1, 0, 1, 0], [1, 0, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]]], dtype=torch.float32)
    predicted = (probs > 0.5).numpy()[0]
    target = truth.numpy()[0] > 0.5
    torch_ber = balanced_error_rate(probs, truth).tolist()
    for channel in range(2):
        gber, _ = balanced_error_rates(predicted[channel], target[channel])
        assert np.isnan(gber) == math.isnan(torch_ber[channel])
        if not np.isnan(gber):
            assert gber == pytest.approx(torch_ber[channel])
