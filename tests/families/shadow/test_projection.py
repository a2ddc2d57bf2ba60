"""The projected-shadow hint: pixel heights, casting along a shadow vector, fitting the vector."""

import pytest
import torch

import math

from gan_pipelines.families.shadow.projection import (
    _COVER, FIT_SIZE, cast_shadow, fit_shadow_vector, projected_shadow_hint, run_lengths,
)


def _mask(size, boxes):
    """(1, 1, size, size) float mask, 1 inside the (row0, row1, col0, col1) boxes (ends excluded)."""
    mask = torch.zeros(1, 1, size, size)
    for row0, row1, col0, col1 in boxes:
        mask[0, 0, row0:row1, col0:col1] = 1.0
    return mask


def test_run_lengths_sit_at_each_runs_bottom_pixel():
    mask = torch.zeros(1, 1, 6, 3)
    mask[0, 0, 1:4, 0] = 1  # a 3-pixel run ending at row 3
    mask[0, 0, 0, 1] = 1  # two runs in one column: 1 pixel at row 0 ...
    mask[0, 0, 3:6, 1] = 1  # ... and 3 pixels reaching the last row
    lengths = run_lengths(mask)[0]
    expected = torch.zeros(6, 3)
    expected[3, 0], expected[0, 1], expected[5, 1] = 3, 1, 3
    assert torch.equal(lengths, expected)


def test_cast_shadow_of_a_bar_lies_along_the_vector_with_the_bars_height_times_magnitude():
    bar = _mask(16, [(4, 8, 5, 6)])  # column 5, rows 4-7: stands on row 7, 4 pixels tall
    right = cast_shadow(bar, torch.tensor([0.0]), torch.tensor([1.0]))[0, 0]
    assert torch.nonzero(right).tolist() == [[7, c] for c in range(6, 10)]  # 4 pixels to the right
    down_half = cast_shadow(bar, torch.tensor([90.0]), torch.tensor([0.5]))[0, 0]
    assert torch.nonzero(down_half).tolist() == [[8, 5], [9, 5]]  # 2 pixels below the base
    # Straight behind the bar: rows 6-4 are hidden by the bar itself; the 4th step peeks out above.
    up = cast_shadow(bar, torch.tensor([270.0]), torch.tensor([1.0]))[0, 0]
    assert torch.nonzero(up).tolist() == [[3, 5]]


def test_run_lengths_match_a_column_by_column_count_on_random_silhouettes():
    torch.manual_seed(0)
    mask = (torch.rand(2, 1, 37, 11) > 0.4).float()
    expected = torch.zeros(2, 37, 11)
    for image in range(2):
        for col in range(11):
            run = 0
            for row in range(37):
                run = run + 1 if mask[image, 0, row, col] > 0.5 else 0
                last = row == 36 or mask[image, 0, row + 1, col] <= 0.5
                if run and last:
                    expected[image, row, col] = run
    assert torch.equal(run_lengths(mask), expected)


def _look_back_cast(mask, angle, magnitude):
    """The shadow as the model defines it, the slow way: pixel q is shadowed when, for some step
    s, the column standing at q - round(s * u) is at least s / |v| tall (rounding as torch does
    in float32, so ties fall the same way)."""
    _, _, height, width = mask.shape
    lengths = run_lengths(mask)[:, None]
    radians = torch.tensor([angle]).float() * (math.pi / 180.0)
    covered = torch.zeros_like(mask, dtype=torch.bool)
    for step in range(1, math.ceil(math.hypot(height, width)) + 1):
        s = torch.tensor([float(step)])
        dr, dc = int(torch.round(s * torch.sin(radians))), int(torch.round(s * torch.cos(radians)))
        if abs(dr) >= height or abs(dc) >= width:
            continue  # every source lies outside the image
        source = torch.zeros_like(lengths)  # source[q] = lengths[q - (dr, dc)], 0 outside
        rows, cols = slice(max(dr, 0), height + min(dr, 0)), slice(max(dc, 0), width + min(dc, 0))
        source[..., rows, cols] = lengths[..., max(-dr, 0):height - max(dr, 0), max(-dc, 0):width - max(dc, 0)]
        covered |= source * (1.0 / s) * magnitude >= _COVER
    return covered & (mask <= 0.5)


@pytest.mark.parametrize("angle", [0.0, 33.0, 90.0, 127.5, 200.0, 301.0])
def test_cast_shadow_draws_exactly_the_pixels_a_look_back_along_each_ray_covers(angle):
    # cast_shadow draws one segment forward from each run bottom; the definition looks back along
    # the ray from every pixel. Both must shadow the same pixels.
    torch.manual_seed(1)
    mask = torch.zeros(3, 1, 40, 56)
    mask[0, 0, 10:30, 20:26] = 1
    mask[1] = (torch.rand(1, 40, 56) > 0.7).float()
    mask[2, 0, 5:12, 3:50] = 1
    mask[2, 0, 20:39, 40:44] = 1
    for magnitude in (0.25, 1.0, 3.0):
        expected = _look_back_cast(mask, angle, magnitude)
        got = cast_shadow(mask, torch.full((3,), angle), torch.full((3,), magnitude))
        assert torch.equal(got, expected), magnitude
        assert got.any()


def test_fit_recovers_the_vector_that_drew_the_occluders_shadows():
    occluders = _mask(FIT_SIZE, [(10, 16, 6, 9), (20, 26, 20, 22)])
    for angle, magnitude in ((40.0, 1.0), (180.0, 0.5), (300.0, 2.0)):
        shadows = cast_shadow(occluders, torch.tensor([angle]), torch.tensor([magnitude])).float()
        fitted_angle, fitted_magnitude, iou = fit_shadow_vector(occluders, shadows)
        assert fitted_angle.item() == angle
        assert fitted_magnitude.item() == magnitude
        assert iou.item() == pytest.approx(1.0)


def test_hint_casts_the_inserted_object_with_the_occluders_light_and_is_empty_without_shadows():
    occluders = _mask(64, [(20, 32, 10, 14)])
    inserted = _mask(64, [(40, 48, 40, 44)])
    shadows = cast_shadow(occluders, torch.tensor([20.0]), torch.tensor([1.0])).float()
    signed = [m * 2 - 1 for m in (inserted, occluders, shadows)]
    hint = projected_shadow_hint(*signed)
    assert hint.shape == (1, 1, 64, 64) and set(hint.unique().tolist()) == {-1.0, 1.0}
    expected = cast_shadow(inserted, torch.tensor([20.0]), torch.tensor([1.0]))
    assert torch.equal(hint > 0, expected)
    no_shadows = projected_shadow_hint(signed[0], signed[1], -torch.ones_like(signed[2]))
    assert (no_shadows == -1).all()
