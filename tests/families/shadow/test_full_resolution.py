"""The full-resolution shadow: segment casting, the vector's change of scale, the penumbra, and
re-drawing a low-resolution shadow at a photo's size."""

import math

import numpy as np
import pytest
import torch

from gan_pipelines.families.shadow.full_resolution import (
    cast_shadow_segments, full_resolution_vector, penumbra_matte, shaped_shadow,
)
from gan_pipelines.families.shadow.projection import cast_shadow


def _random_mask(rng, height, width):
    mask = np.zeros((height, width), bool)
    for _ in range(rng.integers(1, 4)):
        row, col = rng.integers(0, height), rng.integers(0, width)
        mask[row:row + rng.integers(1, height), col:col + rng.integers(1, width)] = True
    return mask & (rng.random((height, width)) > 0.1)  # holes: several runs per column


def test_segment_casting_draws_the_same_pixels_as_the_models_hint():
    rng = np.random.default_rng(0)
    for _ in range(150):
        height, width = (int(v) for v in rng.integers(8, 60, 2))
        mask = _random_mask(rng, height, width)
        # grid angles include 210 degrees, where steps land on half pixels (sin = -0.5)
        angle = float(rng.choice([rng.uniform(0, 360), rng.integers(0, 36) * 10]))
        magnitude = float(rng.choice([0.25, 0.5, 1.0, 3.0, rng.uniform(0, 3)]))
        expected = cast_shadow(torch.from_numpy(mask.astype(np.float32))[None, None],
                               torch.tensor([angle]), torch.tensor([magnitude]))[0, 0].numpy()
        assert np.array_equal(cast_shadow_segments(mask, angle, magnitude), expected), (height, width, angle, magnitude)


def test_segment_casting_of_a_bar_by_hand():
    mask = np.zeros((10, 10), bool)
    mask[2:6, 3] = True  # a 4-pixel column standing at row 5
    shadow = cast_shadow_segments(mask, 0.0, 0.5)  # to the right, half its height: 2 pixels
    assert set(zip(*np.nonzero(shadow))) == {(5, 4), (5, 5)}
    assert not cast_shadow_segments(mask, 90.0, 0.0).any()
    with pytest.raises(ValueError, match="magnitude"):
        cast_shadow_segments(mask, 0.0, -1.0)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        cast_shadow_segments(mask[None], 0.0, 1.0)


def test_the_vector_follows_the_photos_aspect():
    # A 64x64 model input of a 640x480 photo: x is stretched by 10, y by 7.5.
    angle, magnitude = full_resolution_vector(0.0, 1.0, (64, 64), (480, 640))
    assert angle == pytest.approx(0.0) and magnitude == pytest.approx(10 / 7.5)
    angle, magnitude = full_resolution_vector(90.0, 1.0, (64, 64), (480, 640))
    assert angle == pytest.approx(90.0) and magnitude == pytest.approx(1.0)
    angle, magnitude = full_resolution_vector(45.0, math.sqrt(2), (64, 64), (480, 640))
    assert angle == pytest.approx(math.degrees(math.atan2(1.0, 4 / 3))) and magnitude == pytest.approx(5 / 3)
    assert full_resolution_vector(123.0, 0.7, (64, 64), (256, 256)) == pytest.approx((123.0, 0.7))


def test_penumbra_is_sharp_at_the_contact_and_soft_far_away():
    mask = np.zeros((160, 200), bool)
    mask[20:60, 80:120] = True  # a block standing on row 59
    shadow = cast_shadow_segments(mask, 90.0, 2.0)  # straight down, twice its height: rows 60-139
    hard = penumbra_matte(shadow, mask, 0.0)
    assert np.array_equal(hard > 0.5, shadow) and set(np.unique(hard)) <= {0.0, 1.0}
    soft = penumbra_matte(shadow, mask, 0.05)
    assert soft.min() >= 0 and soft.max() <= 1 and not soft[mask].any()
    # the shadow's left edge (column 79 | 80): a step next to the object, a ramp far from it
    near, far = soft[63, 76:84], soft[135, 76:84]
    assert near[4] - near[3] > far[4] - far[3] + 0.2
    assert soft[100, 100] > 0.95  # the middle of the shadow stays fully dark


def test_shaped_shadow_redraws_the_models_shadow_at_full_size():
    small_mask = np.zeros((32, 32), bool)
    small_mask[8:16, 6:10] = True
    darkened = cast_shadow_segments(small_mask, 0.0, 1.0)  # the model's region: to the right
    small_ratio = np.ones((32, 32, 3), np.float32)
    small_ratio[darkened] = (0.5, 0.6, 0.7)
    full_mask = np.kron(small_mask, np.ones((4, 4), bool))  # the photo: 128x128
    shaped = shaped_shadow(small_ratio, darkened, small_mask, full_mask, penumbra=0.0)
    assert shaped.fit_iou == pytest.approx(1.0)
    assert shaped.angle_deg == pytest.approx(0.0) and shaped.magnitude == pytest.approx(1.0)
    assert shaped.darkening_ratio == pytest.approx((0.5, 0.6, 0.7))
    expected = cast_shadow_segments(full_mask, 0.0, 1.0)
    assert np.array_equal(shaped.ratio[..., 0] < 1.0, expected)
    assert shaped.ratio[expected] == pytest.approx(np.tile([0.5, 0.6, 0.7], (int(expected.sum()), 1)), abs=1e-6)
    assert np.all(shaped.ratio[full_mask] == 1.0)


def test_no_shape_without_a_cast_like_region():
    small_mask = np.zeros((32, 32), bool)
    small_mask[8:16, 6:10] = True
    ratio = np.ones((32, 32, 3), np.float32)
    assert shaped_shadow(ratio, np.zeros((32, 32), bool), small_mask, small_mask) is None
    speckle = np.zeros((32, 32), bool)
    speckle[::7, ::5] = True  # scattered pixels far from the object: no projection explains them
    speckle &= ~small_mask
    assert shaped_shadow(ratio, speckle, small_mask, small_mask) is None
