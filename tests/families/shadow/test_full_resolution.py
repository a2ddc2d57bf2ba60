"""The full-resolution shadow: a sharp edge where the model's shadow reaches half its darkness,
and the darkness of the model or of a target, on hand-worked ratios."""

import math

import numpy as np
import pytest

from gan_pipelines.families.shadow.full_resolution import sharpened_shadow, upsample_bilinear


def _one_dark_block(value=0.5, size=8):
    """An 8x8 ratio map, 1 everywhere but a 4x4 block of ``value`` (grey) in its middle."""
    ratio = np.ones((size, size, 3), np.float32)
    ratio[2:6, 2:6] = value
    return ratio, ratio[..., 0] < 1


def test_the_edge_is_where_the_upsampled_shadow_reaches_half_its_darkness():
    ratio, darkened = _one_dark_block(0.5)
    sharp = sharpened_shadow(ratio, darkened, (64, 64), steepness=2.0)
    # Along a row through the block: the upsampled log ratio's share of the core's, s, becomes
    # clip((s - 0.5) * 2 + 0.5, 0, 1); the applied ratio is 0.5 ** that.
    share = upsample_bilinear(np.log(ratio), 64, 64)[..., 0] / math.log(0.5)
    expected = 0.5 ** np.clip((share - 0.5) * 2.0 + 0.5, 0, 1)
    assert np.allclose(sharp[..., 0], expected, atol=1e-6) and np.allclose(sharp[..., 0], sharp[..., 2])
    row = sharp[32, :, 0]
    assert row[32] == pytest.approx(0.5) and row[0] == pytest.approx(1.0)  # core at full darkness, far pixels unchanged
    # The ramp is half as wide as the upsampled fade: count the pixels strictly between the two ends.
    fade = np.exp(upsample_bilinear(np.log(ratio), 64, 64)[32, :, 0])
    in_between = lambda values: int(((values > 0.5 + 1e-4) & (values < 1 - 1e-4)).sum())
    assert in_between(row) < in_between(fade)
    # steepness 1 is the upsampled fade itself
    assert np.allclose(sharpened_shadow(ratio, darkened, (64, 64), steepness=1.0)[32, :, 0], fade, atol=1e-5)


def test_a_target_darkening_keeps_the_colour_balance():
    ratio, darkened = _one_dark_block(0.8)
    grey = sharpened_shadow(ratio, darkened, (16, 16), darkening=0.5)
    assert grey[8, 8] == pytest.approx([0.5, 0.5, 0.5])  # a grey ratio: exactly the target
    tinted = ratio.copy()
    tinted[darkened] = (0.64, 0.8, 1.0)
    red, green, blue = sharpened_shadow(tinted, darkened, (16, 16), darkening=0.5)[8, 8]
    # one power for every channel: log(red) / log(green) stays log(0.64) / log(0.8) = 2
    assert math.log(red) / math.log(green) == pytest.approx(2.0) and blue == pytest.approx(1.0)
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    assert 0.45 < luma < 0.55  # close to the target's 0.5 for a tinted ratio


def test_nothing_to_sharpen_and_bad_settings():
    ratio, darkened = _one_dark_block(0.5)
    assert sharpened_shadow(ratio, np.zeros_like(darkened), (16, 16)) is None  # nothing darkened
    brighter, _ = _one_dark_block(1.5)
    assert sharpened_shadow(np.clip(brighter, 0, 2), darkened, (16, 16)) is None  # not darker: no shadow
    with pytest.raises(ValueError, match="steepness must be >= 1"):
        sharpened_shadow(ratio, darkened, (16, 16), steepness=0.5)
    with pytest.raises(ValueError, match="darkening must be in"):
        sharpened_shadow(ratio, darkened, (16, 16), darkening=1.0)
