"""The synthetic renderer's physics: one light, shadows away from it, the focus object's shadow
exactly where the two colour buffers differ, objects on the ground, a consistent camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_pipelines.synthetic import FOCUS_ID, GROUND_ID, Camera, SyntheticConfig, render_scene, scene_seed

SECTION = "family.ingest.synthetic"


def _config(**params) -> SyntheticConfig:
    return SyntheticConfig.from_params(params, section=SECTION)


SOFT = _config(resolution=96)
HARD = _config(resolution=96, penumbra_deg=0.0, penumbra_samples=1)
SEEDS = range(100, 112)


@pytest.fixture(scope="module")
def soft_scenes():
    """Default (soft-shadow) settings at low resolution, many light directions."""
    return [render_scene(SOFT, seed) for seed in SEEDS]


def test_focus_shadow_darkens_only_its_own_pixels(soft_scenes):
    for scene in soft_scenes:
        b = scene.buffers
        lit = b.colour_without_focus_shadow.astype(int)
        shaded = b.colour.astype(int)
        inside = b.focus_shadow
        assert np.array_equal(shaded[~inside], lit[~inside])
        # Strictly darker in sum on every shadow pixel.
        assert np.all(shaded[inside].sum(axis=1) < lit[inside].sum(axis=1))
        # Clearly darker on average, not a rounding artefact: at least 15 % less light.
        assert shaded[inside].sum() < 0.85 * lit[inside].sum()


def test_shadows_are_large_enough_and_focus_object_in_frame(soft_scenes):
    pixels = SOFT.resolution**2
    for scene in soft_scenes:
        b = scene.buffers
        assert np.count_nonzero(b.focus_shadow) >= SOFT.min_shadow_fraction * pixels
        assert np.count_nonzero(b.others_shadow) >= SOFT.min_shadow_fraction * pixels
        assert 0.003 < np.mean(b.object_id == FOCUS_ID) < 0.3


def test_object_pixels_have_the_object_colour(soft_scenes):
    """The ids sit on the objects: a uniform albedo times shading means the hue of an object's
    pixels equals its colour's hue (ratio of channels), unlike the textured ground."""
    checked = 0
    for scene in soft_scenes:
        for index, obj in enumerate(scene.objects):
            rgb = scene.buffers.colour[scene.buffers.object_id == index].astype(float) + 1e-6
            bright = rgb.sum(axis=1) > 60  # away from rounding noise in dark pixels
            if bright.sum() < 10:
                continue
            ratio = rgb[bright] / rgb[bright].sum(axis=1, keepdims=True)
            expected = np.asarray(obj.colour) / sum(obj.colour)
            assert np.median(np.abs(ratio - expected[None, :]).max(axis=1)) < 0.03, (scene.seed, index)
            checked += 1
    assert checked >= len(soft_scenes)


def _image_angle(scene, obj, mask: np.ndarray) -> float:
    """Angle (deg) between base->mask-centroid and the projected direction away from the light."""
    rows, cols = np.nonzero(mask)
    centroid = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
    light = np.asarray(scene.light_direction)
    away = np.array([-light[0], -light[1], 0.0])
    away /= np.linalg.norm(away)
    reach = max(0.5 * obj.height / math.tan(math.radians(scene.light_elevation_deg)), 0.3)
    start, end = scene.camera.project(np.stack([obj.base_point, obj.base_point + reach * away]))
    expected, seen = end - start, centroid - start
    cos = expected @ seen / (np.linalg.norm(expected) * np.linalg.norm(seen))
    return math.degrees(math.acos(float(np.clip(cos, -1.0, 1.0))))


def test_focus_shadow_points_away_from_the_light(soft_scenes):
    hard = [render_scene(HARD, scene_seed(HARD, "train", i)) for i in range(16)]
    azimuths = np.array([s.light_azimuth_deg for s in hard])
    # The seeds cover light from every side of the scene.
    assert np.ptp(np.sort(azimuths)) > 270 and len(np.unique(np.floor(azimuths / 90))) == 4
    angles = np.array([_image_angle(s, s.focus, s.buffers.focus_shadow) for s in hard])
    # Parts of a shadow hidden behind objects or falling on other objects shift the centroid a little.
    assert np.median(angles) < 10.0, angles
    assert np.mean(angles < 30.0) >= 0.85, angles
    # Soft shadows too. A high light behind the camera can hide most of a shadow behind its
    # object, leaving a sliver whose centroid says little, so one outlier in twelve is allowed.
    soft = np.array([_image_angle(s, s.focus, s.buffers.focus_shadow) for s in soft_scenes])
    assert np.sum(soft < 35.0) >= len(soft) - 1 and np.median(soft) < 20.0, soft


def test_other_objects_shadows_point_the_same_way():
    config = _config(resolution=96, penumbra_deg=0.0, penumbra_samples=1, num_occluders=[1, 1])
    angles = []
    for index in range(16):
        scene = render_scene(config, scene_seed(config, "test", index))
        others_shadow = scene.buffers.others_shadow
        # A single other object never lies in its own cast shadow (its dark side is not cast shadow).
        assert len(scene.others) == 1 and not np.any(others_shadow & (scene.buffers.object_id == 1))
        angles.append(_image_angle(scene, scene.others[0], others_shadow))
    angles = np.array(angles)
    assert np.median(angles) < 10.0, angles
    assert np.mean(angles < 30.0) >= 0.85, angles


def _ray_hits_sphere(points: np.ndarray, direction: np.ndarray, obj) -> np.ndarray:
    """Independent analytic test: does the ray from each point towards the light hit the sphere?"""
    centre = np.array([obj.x, obj.y, 0.5 * obj.height])
    radius = 0.5 * obj.size_x
    v = centre[None, :] - points
    along = v @ direction
    closest2 = np.einsum("ij,ij->i", v, v) - along**2
    return (along > 0) & (closest2 < radius**2)


def test_hard_sphere_shadows_match_analytic_geometry():
    """With only spheres and hard shadows, ground pixels' shadows follow from closed-form geometry."""
    config = _config(resolution=64, penumbra_deg=0.0, penumbra_samples=1, object_kinds=["sphere"])
    for index in range(4):
        scene = render_scene(config, scene_seed(config, "train", index))
        res = config.resolution
        rows, cols = np.nonzero(scene.buffers.object_id == GROUND_ID)
        points = np.array([scene.camera.ground_point(c + 0.5, r + 0.5) for r, c in zip(rows, cols)])
        light = np.asarray(scene.light_direction)
        by_focus = _ray_hits_sphere(points, light, scene.focus)
        by_others = np.zeros(len(points), bool)
        for obj in scene.others:
            by_others |= _ray_hits_sphere(points, light, obj)
        expected_focus = by_focus & ~by_others  # already dark ground does not change
        got_focus = scene.buffers.focus_shadow[rows, cols]
        got_others = scene.buffers.others_shadow[rows, cols]
        tolerance = max(2, int(0.002 * res * res))  # grazing rays on the exact silhouette edge
        assert np.count_nonzero(expected_focus != got_focus) <= tolerance
        assert np.count_nonzero(by_others != got_others) <= tolerance
        assert expected_focus.any()


def test_objects_stand_on_the_ground():
    """The projected base point of each box/cylinder/cone focus object lies on (or right next
    to) its pixels: objects are not floating."""
    config = _config(resolution=96, object_kinds=["box", "cylinder", "cone"], num_occluders=[1, 1])
    for index in range(6):
        scene = render_scene(config, scene_seed(config, "train", index))
        col, row = scene.camera.project(scene.focus.base_point[None, :])[0]
        r, c = int(row), int(col)
        window = scene.buffers.object_id[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3]
        # Either the focus object is there, or another object stands in front of its base.
        assert (window == FOCUS_ID).any() or (window > FOCUS_ID).any()


def test_camera_projection_round_trip():
    camera = Camera(height=4.0, pitch_deg=40.0, vfov_deg=48.0, resolution=128)
    for col, row in [(0.5, 0.5), (64.0, 64.0), (100.25, 120.75)]:
        point = camera.ground_point(col, row)
        assert point is not None and abs(point[2]) < 1e-9
        assert np.allclose(camera.project(point[None, :])[0], [col, row], atol=1e-6)
    # The image centre looks at the ground where the pitch says it should.
    centre = camera.ground_point(64.0, 64.0)
    assert math.isclose(centre[1], 4.0 / math.tan(math.radians(40.0)), rel_tol=1e-9)
    # Image columns grow with +x, rows grow towards the camera.
    a, b = camera.project(np.array([[0.0, 5.0, 0.0], [1.0, 5.0, 0.0]]))
    assert b[0] > a[0]
    near, far = camera.project(np.array([[0.0, 3.0, 0.0], [0.0, 8.0, 0.0]]))
    assert near[1] > far[1]
    # Pixel-centre rays agree with ground_point.
    dirs = camera.ray_directions().reshape(128, 128, 3)
    point = camera.ground_point(100.5, 120.5)
    ray = point - camera.position
    assert np.allclose(dirs[120, 100], ray / np.linalg.norm(ray))
