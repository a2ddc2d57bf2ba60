"""The unpaired baselines on hand-worked cases: Reinhard colour transfer in Lab, histogram
matching to one target-domain train picture, identity."""

import numpy as np
import pytest
from skimage.color import rgb2lab

from gan_pipelines.families.unpaired.baselines import (
    MIN_SOURCE_STD, baseline_translators, colour_transfer, histogram_matching, histogram_reference_index, identity,
    lab_statistics,
)


def srgb_grey(lightness: float) -> int:
    """The uint8 grey of CIE lightness L (D65, a = b = 0), by the CIE and sRGB formulas."""
    f = (lightness + 16) / 116
    luminance = f**3 if f > 6 / 29 else 3 * (6 / 29) ** 2 * (f - 4 / 29)
    encoded = 12.92 * luminance if luminance <= 0.0031308 else 1.055 * luminance ** (1 / 2.4) - 0.055
    return int(round(encoded * 255))


def black_white() -> np.ndarray:
    picture = np.zeros((4, 6, 3), np.uint8)
    picture[2:] = 255  # half black (L 0), half white (L 100)
    return picture


def test_lab_statistics_of_black_and_white_by_hand():
    mean, std = lab_statistics(black_white())
    # L: half 0, half 100 -> mean 50, population std 50; a and b are 0 for greys
    np.testing.assert_allclose(mean, [50.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(std, [50.0, 0.0, 0.0], atol=0.01)


def test_lab_statistics_pool_every_pixel_of_the_set():
    black, white = np.zeros((1, 3, 3, 3), np.uint8), np.full((1, 3, 3, 3), 255, np.uint8)
    grey = np.full((2, 3, 3, 3), 119, np.uint8)  # sRGB 119 is L ~ 50
    mean, std = lab_statistics(np.concatenate([black, white, grey]))
    grey_l = float(rgb2lab(grey[0])[0, 0, 0])
    pooled_mean = (0 + 100 + 2 * grey_l) / 4
    pooled_std = np.sqrt((pooled_mean**2 + (100 - pooled_mean) ** 2 + 2 * (grey_l - pooled_mean) ** 2) / 4)
    assert mean[0] == pytest.approx(pooled_mean, abs=1e-3)
    assert std[0] == pytest.approx(pooled_std, abs=1e-3)


def test_colour_transfer_of_black_and_white_by_hand():
    # L 0 / 100 (mean 50, std 50) to mean 50, std 25: L = (x - 50) * 25 / 50 + 50 = 25 and 75
    out = colour_transfer(black_white(), [50.0, 0.0, 0.0], [25.0, 0.0, 0.0])
    assert out.dtype == np.uint8 and out.shape == (4, 6, 3)
    assert srgb_grey(25) == 59 and srgb_grey(75) == 185  # the hand-worked values
    np.testing.assert_array_equal(out[:2], 59)
    np.testing.assert_array_equal(out[2:], 185)


def test_colour_transfer_moves_a_pictures_lab_statistics_to_the_target():
    rng = np.random.default_rng(0)
    source = rng.integers(40, 200, (24, 24, 3)).astype(np.uint8)
    target_set = np.clip(rng.normal([150, 110, 60], 25, (5, 24, 24, 3)), 0, 255).astype(np.uint8)
    target_mean, target_std = lab_statistics(target_set)
    moved_mean, moved_std = lab_statistics(colour_transfer(source, target_mean, target_std))
    np.testing.assert_allclose(moved_mean, target_mean, atol=1.0)  # uint8 rounding and gamut clipping only
    np.testing.assert_allclose(moved_std, target_std, rtol=0.1)


def test_colour_transfer_only_shifts_a_flat_channel():
    grey = np.full((2, 8, 8, 3), 128, np.uint8)
    grey[1] = 90
    # a and b of a grey are flat (std ~ 0 < MIN_SOURCE_STD): shifted to the target mean, not scaled up
    out = colour_transfer(grey, [50.0, 20.0, 0.0], [10.0, 30.0, 30.0])
    for picture in rgb2lab(out):
        assert picture[..., 1].std() < MIN_SOURCE_STD  # still flat: no false colours
        assert picture[..., 1].mean() == pytest.approx(20.0, abs=1.0)
        assert picture[..., 0].mean() == pytest.approx(50.0, abs=1.0)  # L flat too: moved to the target mean


def test_histogram_matching_leaves_a_matching_picture_alone():
    rng = np.random.default_rng(1)
    reference = rng.integers(0, 256, (12, 12, 3)).astype(np.uint8)
    np.testing.assert_array_equal(histogram_matching(reference, reference), reference)
    shuffled = rng.permutation(reference.reshape(-1, 3)).reshape(reference.shape)  # same histograms per channel
    np.testing.assert_array_equal(histogram_matching(shuffled, reference), shuffled)


def test_histogram_matching_gives_the_reference_histograms():
    # distinct values in both pictures: pixel of rank k in the source takes the reference's k-th value
    rng = np.random.default_rng(2)
    reference = np.stack([rng.permutation(np.arange(100) * 2 + 50) for _ in range(3)], -1).reshape(10, 10, 3)
    picture = np.stack([rng.permutation(100) for _ in range(3)], -1).reshape(10, 10, 3)
    out = histogram_matching(picture.astype(np.uint8), reference.astype(np.uint8))
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    for channel in range(3):
        expected = np.sort(reference[..., channel].ravel())[picture[..., channel].ravel()]
        np.testing.assert_array_equal(out[..., channel].ravel(), expected)


def test_baselines_fit_on_the_target_domain_and_name_the_reference():
    dark = np.full((3, 8, 8, 3), 30, np.uint8)
    bright = np.stack([np.full((8, 8, 3), v, np.uint8) for v in (200, 220, 240)])
    names = {"A": ["a0", "a1", "a2"], "B": ["b0", "b1", "b2"]}
    translators, meta = baseline_translators({"A": (names["A"], dark), "B": (names["B"], bright)}, seed=3)
    index = histogram_reference_index(3, 3)
    assert index == int(np.random.default_rng(3).integers(3))
    assert meta["histogram_matching"]["B"]["reference"] == f"train/B/b{index}.png"
    # a2b: a flat dark picture takes B's Lab mean (B pooled L) and matches B's reference picture
    moved = translators["colour_transfer"]("a2b", dark[:1])
    assert lab_statistics(moved)[0][0] == pytest.approx(lab_statistics(bright)[0][0], abs=1.0)
    np.testing.assert_array_equal(translators["histogram_matching"]("a2b", dark[:1])[0], bright[index])
    np.testing.assert_array_equal(translators["histogram_matching"]("b2a", bright[:1])[0], dark[index])
    assert meta["colour_transfer"]["B"]["pictures"] == 3


def test_identity_and_refusals():
    pictures = np.random.default_rng(3).integers(0, 256, (2, 5, 5, 3)).astype(np.uint8)
    out = identity("b2a", pictures)
    np.testing.assert_array_equal(out, pictures)
    assert out is not pictures
    with pytest.raises(ValueError, match="direction"):
        identity("a2c", pictures)
    with pytest.raises(ValueError, match="uint8"):
        colour_transfer(pictures.astype(np.float32), [50, 0, 0], [10, 1, 1])
    with pytest.raises(ValueError, match="ONE picture"):
        histogram_matching(pictures, pictures)
    with pytest.raises(ValueError, match=">= 0"):
        colour_transfer(pictures, [50, 0, 0], [-1, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        histogram_reference_index(0, 0)
