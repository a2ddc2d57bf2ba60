"""Tests of the synthetic Shadow-AR renderer: image invariants, shadow geometry, seeding and
config validation. Small resolutions keep the whole file to a few seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_pipelines.layout import SAMPLE_KINDS, SHADOW_MASK_KIND
from gan_pipelines.synthetic import (
    IMAGE_KINDS,
    Camera,
    SyntheticConfig,
    render_scene,
    render_split,
    scene_name,
    scene_seed,
)

SMALL = SyntheticConfig(resolution=96, num_train=3, num_test=2)
HARD = SyntheticConfig(resolution=96, penumbra_deg=0.0, penumbra_samples=1)


@pytest.fixture(scope="module")
def soft_scenes():
    """Default (soft-shadow) settings at low resolution, several light directions."""
    return [render_scene(SMALL, scene_seed(SMALL, "train", i)) for i in range(12)]


# --------------------------------------------------------------------------------------------
# Image invariants
# --------------------------------------------------------------------------------------------


def test_formats(soft_scenes):
    res = SMALL.resolution
    for scene in soft_scenes:
        assert set(scene.images) == set(IMAGE_KINDS) == set(SAMPLE_KINDS) | {SHADOW_MASK_KIND}
        for kind in ("noshadow", "shadow"):
            image = scene.images[kind]
            assert image.dtype == np.uint8 and image.shape == (res, res, 3), kind
        for kind in ("mask", "robject", "rshadow", SHADOW_MASK_KIND):
            mask = scene.images[kind]
            assert mask.dtype == np.uint8 and mask.shape == (res, res), kind
            assert set(np.unique(mask)) <= {0, 255}, kind
            assert mask.any(), f"{kind} is empty"


def test_shadow_and_noshadow_differ_only_in_shadow_mask(soft_scenes):
    for scene in soft_scenes:
        shadow = scene.images["shadow"].astype(int)
        noshadow = scene.images["noshadow"].astype(int)
        inside = scene.images[SHADOW_MASK_KIND] > 0
        assert np.array_equal(shadow[~inside], noshadow[~inside])
        # Darker (never brighter) in every channel, strictly darker in sum on every mask pixel.
        assert np.all(shadow <= noshadow)
        assert np.all(shadow[inside].sum(axis=1) < noshadow[inside].sum(axis=1))
        # Clearly darker on average, not a rounding artefact: at least 15 % less light.
        assert shadow[inside].sum() < 0.85 * noshadow[inside].sum()
        # The inserted object never shadows itself.
        obj = scene.images["mask"] > 0
        assert np.array_equal(shadow[obj], noshadow[obj])
        assert not np.any(inside & obj)


def test_shadow_is_large_enough_and_object_in_frame(soft_scenes):
    pixels = SMALL.resolution**2
    for scene in soft_scenes:
        assert np.count_nonzero(scene.images[SHADOW_MASK_KIND]) >= SMALL.min_shadow_fraction * pixels
        assert np.count_nonzero(scene.images["rshadow"]) >= SMALL.min_shadow_fraction * pixels
        mask = scene.images["mask"] > 0
        assert 0.003 < mask.mean() < 0.3
        # Object pixels and occluder pixels never overlap.
        assert not np.any(mask & (scene.images["robject"] > 0))


def test_masks_match_rendered_object_colours(soft_scenes):
    """The mask must sit on the object: a uniform albedo times shading means the hue inside the
    mask equals the object's colour hue (ratio of channels), unlike the textured ground."""
    for scene in soft_scenes:
        mask = scene.images["mask"] > 0
        rgb = scene.images["noshadow"][mask].astype(float) + 1e-6
        colour = np.asarray(scene.inserted.colour)
        bright = rgb.sum(axis=1) > 60  # away from rounding noise in dark pixels
        if bright.sum() < 10:
            continue
        ratio = rgb[bright] / rgb[bright].sum(axis=1, keepdims=True)
        expected = colour / colour.sum()
        assert np.median(np.abs(ratio - expected[None, :]).max(axis=1)) < 0.03


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------


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


def test_inserted_shadow_points_away_from_light():
    scenes = [render_scene(HARD, scene_seed(HARD, "train", i)) for i in range(16)]
    azimuths = np.array([s.light_azimuth_deg for s in scenes])
    # The seeds cover light from every side of the scene.
    assert np.ptp(np.sort(azimuths)) > 270 and len(np.unique(np.floor(azimuths / 90))) == 4
    angles = np.array([_image_angle(s, s.inserted, s.images[SHADOW_MASK_KIND] > 0) for s in scenes])
    # Parts of a shadow hidden behind objects or falling on occluders shift the centroid a little.
    assert np.median(angles) < 10.0, angles
    assert np.mean(angles < 30.0) >= 0.85, angles


def test_occluder_shadows_point_the_same_way():
    config = SyntheticConfig(resolution=96, penumbra_deg=0.0, penumbra_samples=1, num_occluders=(1, 1))
    scenes = [render_scene(config, scene_seed(config, "test", i)) for i in range(16)]
    angles = []
    for scene in scenes:
        rshadow = scene.images["rshadow"] > 0
        # A single occluder never lies in its own cast shadow (its dark side is not "rshadow").
        assert not np.any(rshadow & (scene.images["robject"] > 0))
        angles.append(_image_angle(scene, scene.occluders[0], rshadow))
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
    """With only spheres and hard shadows, ground pixels' masks follow from closed-form geometry."""
    config = SyntheticConfig(resolution=64, penumbra_deg=0.0, penumbra_samples=1, object_kinds=("sphere",))
    for index in range(4):
        scene = render_scene(config, scene_seed(config, "train", index))
        res = config.resolution
        ground = (scene.images["mask"] == 0) & (scene.images["robject"] == 0)
        rows, cols = np.nonzero(ground)
        points = np.array([scene.camera.ground_point(c + 0.5, r + 0.5) for r, c in zip(rows, cols)])
        light = np.asarray(scene.light_direction)
        by_inserted = _ray_hits_sphere(points, light, scene.inserted)
        by_occluders = np.zeros(len(points), bool)
        for obj in scene.occluders:
            by_occluders |= _ray_hits_sphere(points, light, obj)
        expected_shadow = by_inserted & ~by_occluders  # already dark ground does not change
        got_shadow = scene.images[SHADOW_MASK_KIND][rows, cols] > 0
        got_rshadow = scene.images["rshadow"][rows, cols] > 0
        tolerance = max(2, int(0.002 * res * res))  # grazing rays on the exact silhouette edge
        assert np.count_nonzero(expected_shadow != got_shadow) <= tolerance
        assert np.count_nonzero(by_occluders != got_rshadow) <= tolerance
        assert expected_shadow.any()


def test_objects_stand_on_the_ground():
    """The projected base point of each box/cylinder/cone lies on (or right next to) its mask:
    objects are not floating."""
    config = SyntheticConfig(resolution=96, object_kinds=("box", "cylinder", "cone"), num_occluders=(1, 1))
    for index in range(6):
        scene = render_scene(config, scene_seed(config, "train", index))
        mask = scene.images["mask"] > 0
        col, row = scene.camera.project(scene.inserted.base_point[None, :])[0]
        r, c = int(row), int(col)
        window = mask[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3]
        occluded = (scene.images["robject"][max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3] > 0).any()
        assert window.any() or occluded


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


# --------------------------------------------------------------------------------------------
# Seeding and splits
# --------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_different_seeds_differ():
    seed = scene_seed(SMALL, "train", 1)
    first = render_scene(SMALL, seed)
    again = render_scene(SMALL, seed)
    for kind in IMAGE_KINDS:
        assert first.images[kind].tobytes() == again.images[kind].tobytes(), kind
    other = render_scene(SMALL, scene_seed(SMALL, "train", 2))
    assert not np.array_equal(first.images["noshadow"], other.images["noshadow"])
    reseeded = SyntheticConfig(seed=1, resolution=SMALL.resolution)
    moved = render_scene(reseeded, scene_seed(reseeded, "train", 1))
    assert not np.array_equal(first.images["noshadow"], moved.images["noshadow"])


def test_render_split_names_seeds_and_train_test_differ():
    train = list(render_split(SMALL, "train"))
    test = list(render_split(SMALL, "test"))
    assert [name for name, _ in train] == [scene_name(i) for i in range(SMALL.num_train)] == [
        "scene_00000", "scene_00001", "scene_00002"]
    assert len(test) == SMALL.num_test
    for (_, a), (_, b) in zip(train, test):
        assert not np.array_equal(a["noshadow"], b["noshadow"])
    # Any single scene can be re-rendered alone and matches the split's output.
    alone = render_scene(SMALL, scene_seed(SMALL, "test", 1)).images
    for kind in IMAGE_KINDS:
        assert np.array_equal(alone[kind], test[1][1][kind])
    # Seeds never collide between splits at the default sizes.
    default = SyntheticConfig()
    train_seeds = {scene_seed(default, "train", i) for i in range(default.num_train)}
    test_seeds = {scene_seed(default, "test", i) for i in range(default.num_test)}
    assert len(train_seeds) == default.num_train and not train_seeds & test_seeds


def test_render_split_rejects_unknown_split_at_once():
    with pytest.raises(ValueError, match="split"):
        render_split(SMALL, "val")


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def test_from_params_converts_yaml_lists():
    config = SyntheticConfig.from_params(
        {"seed": 3, "resolution": 64, "light_elevation_deg": [30, 60], "num_occluders": [2, 3],
         "object_kinds": ["box", "sphere"], "ground_textures": ["grass", "checkerboard"]}
    )
    assert config.light_elevation_deg == (30, 60)
    assert config.num_occluders == (2, 3)
    assert config.object_kinds == ("box", "sphere")
    assert SyntheticConfig.from_params(None) == SyntheticConfig()
    assert SyntheticConfig.from_params({}) == SyntheticConfig()


@pytest.mark.parametrize(
    ("params", "name", "what"),
    [
        ({"colour": 1}, "colour", "Unknown"),
        ({"resolution": 8}, "resolution", "between"),
        ({"resolution": 64.0}, "resolution", "integer"),
        ({"num_train": 0}, "num_train", ">= 1"),
        ({"num_test": 0}, "num_test", ">= 1"),
        ({"light_elevation_deg": [60, 30]}, "light_elevation_deg", "greater than max"),
        ({"light_elevation_deg": [0, 30]}, "light_elevation_deg", "within"),
        ({"light_elevation_deg": [30, 90]}, "light_elevation_deg", "within"),
        ({"light_elevation_deg": [30]}, "light_elevation_deg", "pair"),
        ({"light_azimuth_deg": [200, 100]}, "light_azimuth_deg", "greater than max"),
        ({"object_kinds": ["box", "torus"]}, "object_kinds", "torus"),
        ({"object_kinds": []}, "object_kinds", "non-empty"),
        ({"num_occluders": [0, 2]}, "num_occluders", "within"),
        ({"num_occluders": [3, 2]}, "num_occluders", "greater than max"),
        ({"object_size": [0.0, 1.0]}, "object_size", "within"),
        ({"penumbra_deg": -1}, "penumbra_deg", "between"),
        ({"penumbra_deg": 12, "light_elevation_deg": [10, 40]}, "penumbra_deg", "smaller than"),
        ({"penumbra_samples": 0}, "penumbra_samples", "between"),
        ({"ambient": [0.4, 1.0]}, "ambient", "within"),
        ({"ground_textures": ["lily"]}, "ground_textures", "lily"),
        ({"seed": True}, "seed", "integer"),
    ],
)
def test_config_errors_name_the_parameter(params, name, what):
    with pytest.raises(ValueError) as info:
        SyntheticConfig.from_params(params)
    message = str(info.value)
    assert f"ingest.synthetic.{name}" in message
    assert what in message


def test_texture_photos_load_offline():
    """Every photo in the default texture list comes from the scikit-image wheel itself."""
    from gan_pipelines.synthetic.textures import PHOTO_TEXTURES, _load_photo

    for name in PHOTO_TEXTURES:
        photo = _load_photo(name)
        assert photo.dtype == np.float32 and photo.min() >= 0.0 and photo.max() <= 1.0
        assert min(photo.shape[:2]) >= 128
