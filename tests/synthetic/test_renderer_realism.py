"""The renderer's realism options: backdrop wall, object materials (glossy highlight, textured
albedo) and camera ranges. They must keep the shadow invariants the families rely on and leave
a scene's camera, light and layout draws where they were."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_pipelines.synthetic import (
    FOCUS_ID, GROUND_ID, SKY_ID, Camera, Material, SceneObject, SyntheticConfig, light_direction, render_scene, scene_seed,
)
from gan_pipelines.synthetic import renderer

SECTION = "family.ingest.synthetic"
ALL_MATERIALS = ["matte", "glossy", "textured"]


def _config(**params) -> SyntheticConfig:
    return SyntheticConfig.from_params({"resolution": 96, **params}, section=SECTION)


REALISTIC = _config(camera_height=[2.5, 4.5], camera_pitch_deg=[26.0, 50.0], backdrop_probability=1.0,
                    object_materials=ALL_MATERIALS)


@pytest.fixture(scope="module")
def realistic_scenes():
    return [render_scene(REALISTIC, scene_seed(REALISTIC, "train", i)) for i in range(8)]


def test_realistic_scenes_keep_the_shadow_invariants(realistic_scenes):
    """Highlights, textures and the wall do not blur what the shadow family trains on: the two
    colour buffers differ exactly on focus_shadow, and there the shadow is clearly darker."""
    kinds = set()
    for scene in realistic_scenes:
        b = scene.buffers
        lit, shaded = b.colour_without_focus_shadow.astype(int), b.colour.astype(int)
        assert np.array_equal(np.any(lit != shaded, axis=2), b.focus_shadow)
        assert shaded[b.focus_shadow].sum() < 0.85 * lit[b.focus_shadow].sum()
        assert not np.any(b.focus_shadow & (b.object_id == FOCUS_ID))
        kinds |= {obj.material.kind for obj in scene.objects}
    assert kinds == set(ALL_MATERIALS)


def test_backdrop_is_a_vertical_plane_behind_every_object(realistic_scenes):
    for scene in realistic_scenes:
        b = scene.buffers
        assert scene.backdrop_y is not None and scene.backdrop_texture is not None
        assert not np.any(b.object_id == SKY_ID)  # the wall stands in front of the horizon
        for obj in scene.objects:
            assert obj.y + obj.footprint_radius < scene.backdrop_y
        # The top row's centre pixel is on the wall: its depth along the ray reaches y = backdrop_y.
        res = scene.camera.resolution
        column = res // 2
        if b.object_id[0, column] == GROUND_ID:
            ray = scene.camera.ray_directions()[column]
            assert b.depth[0, column] * ray[1] == pytest.approx(scene.backdrop_y, rel=1e-4)
            assert b.depth[0, column] * ray[2] > -scene.camera.height + 1e-3  # above the ground plane
        # The wall's foot row lies where BACKDROP_FOOT_ROW says.
        foot = scene.camera.project(np.array([[0.0, scene.backdrop_y, 0.0]]))[0, 1] / res
        assert renderer.BACKDROP_FOOT_ROW[0] - 1e-6 <= foot <= renderer.BACKDROP_FOOT_ROW[1] + 1e-6


def test_realism_draws_leave_camera_and_light_where_they_were():
    """Backdrop and materials draw from their own generators: the camera, light and (without a
    backdrop, which can reject layouts) the layout of a scene stay those of the plain config."""
    plain = _config()
    dressed = _config(backdrop_probability=1.0, object_materials=ALL_MATERIALS)
    materials_only = _config(object_materials=ALL_MATERIALS)
    for index in range(4):
        seed = scene_seed(plain, "train", index)
        a, b, c = render_scene(plain, seed), render_scene(dressed, seed), render_scene(materials_only, seed)
        assert (a.camera, a.light_azimuth_deg, a.light_elevation_deg) == (b.camera, b.light_azimuth_deg, b.light_elevation_deg)
        assert [(o.kind, o.x, o.y) for o in a.objects] == [(o.kind, o.x, o.y) for o in c.objects]
        # Materials change the objects' own pixels only: every ground pixel is the same byte.
        assert np.array_equal(a.buffers.object_id, c.buffers.object_id)
        ground = a.buffers.object_id == GROUND_ID
        assert np.array_equal(a.buffers.colour[ground], c.buffers.colour[ground])


def test_glossy_highlight_peaks_at_the_halfway_normal():
    """Hand-worked Blinn-Phong: one glossy sphere, one light sample, no penumbra. The strongest
    highlight equals k_s where the sphere's normal is the halfway vector between the light and the
    camera, and a matte sphere has none."""
    camera = Camera(height=3.0, pitch_deg=45.0, vfov_deg=48.0, resolution=128)
    centre = camera.ground_point(64.0, 64.0)
    light = light_direction(30.0, 50.0)
    specular, shininess = 0.5, 40.0
    glossy = SceneObject("sphere", float(centre[0]), float(centre[1]), 1.0, 1.0, 1.0, 0.0, (0.5, 0.5, 0.5), "focus",
                         Material("glossy", specular=specular, shininess=shininess))
    trace = renderer._trace(camera, [glossy], light[None, :], 0.0)
    on_sphere = trace.owner[trace.hit] == 0
    peak = int(np.argmax(np.where(on_sphere, trace.spec_all, -1.0)))
    assert trace.spec_all[peak] == pytest.approx(specular, rel=0.03)
    assert np.all(trace.spec_all[~on_sphere] == 0.0)  # the ground is matte
    to_camera = -trace.dirs[trace.hit[peak]]
    halfway = (light + to_camera) / np.linalg.norm(light + to_camera)
    normal = glossy.normal(trace.points[peak][None, :])[0]
    assert math.degrees(math.acos(min(1.0, float(normal @ halfway)))) < 3.0
    # (n.h)^40 falls to half at about 10.7 degrees: the highlight is a small spot, not a glow.
    assert np.count_nonzero(trace.spec_all > 0.5 * specular) < 0.2 * np.count_nonzero(on_sphere)

    matte = SceneObject("sphere", glossy.x, glossy.y, 1.0, 1.0, 1.0, 0.0, (0.5, 0.5, 0.5), "focus")
    assert np.all(renderer._trace(camera, [matte], light[None, :], 0.0).spec_all == 0.0)


def test_textured_albedo_hand_worked():
    """albedo = colour * (1 + contrast * (texture / texture mean - 1)), clipped to [0, 1]: a texel
    at twice the mean with contrast 0.5 brightens the colour by half, one at the mean keeps it."""
    from gan_pipelines.synthetic.textures import GroundTexture

    image = np.full((8, 8, 3), 0.25, np.float32)
    image[:, 4:] = 0.75  # mean 0.5: left half at half the mean, right half at 1.5 x
    texture = GroundTexture("test", (image,), texels_per_unit=1.0, angle=0.0, offset=(0.0, 0.0))
    obj = SceneObject("box", 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, (0.4, 0.2, 0.8), "focus",
                      Material("textured", texture=texture, texture_contrast=0.5))
    # u = 4 * (dx + 0.7 dy), v = 4 * (z + 0.7 (dx - dy)) in texels; pick points inside each half.
    points = np.array([[0.25, 0.0, 0.5], [1.5, 0.0, 0.0]])
    albedo = renderer._textured_albedo(obj, points, np.full(2, 0.01))
    np.testing.assert_allclose(albedo[0], np.array([0.4, 0.2, 0.8]) * 0.75, atol=1e-5)
    np.testing.assert_allclose(albedo[1], np.clip(np.array([0.4, 0.2, 0.8]) * 1.25, 0, 1), atol=1e-5)


def test_textured_objects_differ_from_matte_ones_on_their_own_pixels():
    textured, matte = _config(object_materials=["textured"]), _config()
    changed = []
    for index in range(3):
        seed = scene_seed(matte, "test", index)
        a, b = render_scene(matte, seed), render_scene(textured, seed)
        on_objects = a.buffers.object_id >= 0
        assert np.array_equal(a.buffers.colour[~on_objects], b.buffers.colour[~on_objects])
        changed.append(np.mean(np.any(a.buffers.colour[on_objects] != b.buffers.colour[on_objects], axis=1)))
    assert min(changed) > 0.5
