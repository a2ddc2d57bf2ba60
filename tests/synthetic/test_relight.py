"""Tests of ``relight_scene``: one scene's geometry drawn again under another light, ground or
object colours. The geometry buffers stay identical, the bytes are deterministic, a low light
casts longer shadows, and the shading follows the hand-worked light model. 32 px renders."""

from __future__ import annotations

import numpy as np
import pytest

from gan_pipelines.synthetic import GROUND_ID, SyntheticConfig, relight_scene, render_scene, scene_seed

CONFIG = SyntheticConfig.from_params({"resolution": 32, "object_colours": "per_kind"}, section="test.synthetic")
GEOMETRY = ("object_id", "class_id", "instance_id", "depth")


@pytest.fixture(scope="module")
def scenes():
    return [render_scene(CONFIG, scene_seed(CONFIG, "train", i)) for i in range(4)]


def _shadow_pixels(scene) -> int:
    return int(np.count_nonzero(scene.buffers.focus_shadow | scene.buffers.others_shadow))


def test_geometry_is_identical_under_two_conditions(scenes):
    for scene in scenes:
        day = relight_scene(scene, seed=3, light_azimuth_deg=225.0, light_elevation_deg=65.0, ground_texture="grass")
        dusk = relight_scene(scene, seed=3, light_azimuth_deg=40.0, light_elevation_deg=15.0, ground_texture="brick",
                             light_colour=(1.0, 0.7, 0.45), exposure=0.9,
                             object_colours={"box": (0.1, 0.2, 0.9)})
        for name in GEOMETRY:
            np.testing.assert_array_equal(getattr(day.buffers, name), getattr(scene.buffers, name), err_msg=name)
            np.testing.assert_array_equal(getattr(dusk.buffers, name), getattr(scene.buffers, name), err_msg=name)
        assert not np.array_equal(day.buffers.colour, dusk.buffers.colour)
        assert (day.camera, day.seed, [o.kind for o in day.objects]) == (scene.camera, scene.seed,
                                                                         [o.kind for o in scene.objects])
        assert (dusk.light_elevation_deg, dusk.light_azimuth_deg, dusk.texture) == (15.0, 40.0, "brick")


def test_same_arguments_same_bytes_and_the_seed_draws_the_ground(scenes):
    scene = scenes[0]
    kwargs = {"light_elevation_deg": 30.0, "ground_texture": "gravel", "light_colour": (1.0, 0.8, 0.6)}
    first, second = relight_scene(scene, seed=7, **kwargs), relight_scene(scene, seed=7, **kwargs)
    assert first.buffers.colour.tobytes() == second.buffers.colour.tobytes()
    assert first.buffers.colour_without_focus_shadow.tobytes() == second.buffers.colour_without_focus_shadow.tobytes()
    other = relight_scene(scene, seed=8, **kwargs)
    ground = scene.buffers.object_id == GROUND_ID
    assert not np.array_equal(first.buffers.colour[ground], other.buffers.colour[ground])


def test_a_low_light_casts_longer_shadows_than_a_high_one(scenes):
    for scene in scenes:
        high = relight_scene(scene, seed=1, light_azimuth_deg=225.0, light_elevation_deg=65.0)
        low = relight_scene(scene, seed=1, light_azimuth_deg=225.0, light_elevation_deg=15.0)
        # shadow length goes with 1 / tan(elevation): about 8 times longer at 15 deg than at 65
        assert _shadow_pixels(low) > 2 * _shadow_pixels(high) > 0


def test_shading_on_flat_grey_ground_follows_the_light_model(scenes):
    """Uniform ground albedo 0.5 (tint at zero contrast), hard shadows, light at 60 deg,
    ambient 0.4: the ambient term is 0.4 sin60 / 0.6 = 0.577 and the exposure 1 / (0.577 +
    sin60) = 0.693, so lit ground is 0.5 * 0.693 * (0.577 + 0.866) = 0.5 (127.5 -> 127 or 128)
    and fully shadowed ground 0.5 * 0.693 * 0.577 = 0.2 (51)."""
    scene = scenes[1]
    relit = relight_scene(scene, seed=0, light_elevation_deg=60.0, ambient=0.4, ground_tint=(0.5, 0.5, 0.5),
                          ground_contrast=0.0, penumbra_deg=0.0)
    ground = relit.buffers.object_id == GROUND_ID
    shadow = relit.buffers.focus_shadow | relit.buffers.others_shadow
    lit_values = np.unique(relit.buffers.colour[ground & ~shadow])
    shadow_values = np.unique(relit.buffers.colour[ground & shadow])
    assert set(lit_values.tolist()) <= {127, 128} and lit_values.size
    assert set(shadow_values.tolist()) <= {50, 51, 52} and shadow_values.size


def test_light_colour_and_exposure_scale_the_picture(scenes):
    scene = scenes[2]
    white = relight_scene(scene, seed=4).buffers.colour.astype(float)
    tinted = relight_scene(scene, seed=4, light_colour=(1.0, 0.5, 0.25)).buffers.colour.astype(float)
    darker = relight_scene(scene, seed=4, exposure=0.5).buffers.colour.astype(float)
    unclipped = white < 255
    np.testing.assert_array_equal(tinted[..., 0], white[..., 0])
    # each value is rounded once from the same float: within one step of the scaled white one
    assert np.abs(tinted[..., 1] - 0.5 * white[..., 1])[unclipped[..., 1]].max() <= 1.0
    assert np.abs(tinted[..., 2] - 0.25 * white[..., 2])[unclipped[..., 2]].max() <= 1.0
    assert np.abs(darker - 0.5 * white)[unclipped].max() <= 1.0


def test_object_colours_change_the_objects_only(scenes):
    scene = scenes[3]
    kind = scene.focus.kind
    plain = relight_scene(scene, seed=2)
    recoloured = relight_scene(scene, seed=2, object_colours={kind: (0.05, 0.9, 0.05)})
    focus = scene.buffers.object_id == 0
    ground = scene.buffers.object_id == GROUND_ID
    np.testing.assert_array_equal(recoloured.buffers.colour[ground], plain.buffers.colour[ground])
    green = recoloured.buffers.colour[focus].astype(int)
    assert (green[:, 1] >= green[:, 0]).all() and green[:, 1].mean() > 2 * green[:, 0].mean()
    assert recoloured.focus.colour == (0.05, 0.9, 0.05)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"light_elevation_deg": 0.0}, "light_elevation_deg"),
    ({"light_elevation_deg": 1.5}, "penumbra_deg"),
    ({"ambient": 1.0}, "ambient"),
    ({"light_colour": (1.0, 0.5)}, "light_colour"),
    ({"exposure": 0.0}, "exposure"),
    ({"ground_texture": "marble"}, "ground_texture"),
    ({"object_colours": {"pyramid": (1, 0, 0)}}, "object_colours"),
    ({"object_colours": {"box": (1.5, 0, 0)}}, "object_colours['box']"),
])
def test_bad_arguments_are_refused_by_name(scenes, kwargs, named):
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        relight_scene(scenes[0], seed=0, **kwargs)
