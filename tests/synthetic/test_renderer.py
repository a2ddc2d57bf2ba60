"""Tests of the family-free synthetic renderer: buffer formats and consistency, depth, sky,
seeding, the split iterator and config validation. Small resolutions keep the file to seconds.

Shadow-AR specifics (image kinds, 0/255 masks, byte-exact hashes) live in
tests/families/shadow/test_synthetic.py; shadow physics in test_renderer_geometry.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import gan_pipelines.synthetic as synthetic
from gan_pipelines.synthetic import (
    BUFFER_NAMES,
    CLASS_IDS,
    CLASS_NAMES,
    FOCUS_ID,
    GROUND_ID,
    SKY_ID,
    SPLITS,
    SceneBuffers,
    SyntheticConfig,
    render_scene,
    render_split_scenes,
    scene_name,
    scene_seed,
)
from gan_pipelines.synthetic import renderer

SECTION = "family.ingest.synthetic"
SMALL = SyntheticConfig.from_params({"resolution": 64, "num_train": 3, "num_test": 2}, section=SECTION)


@pytest.fixture(scope="module")
def scenes():
    """Default (soft-shadow) settings at low resolution, several layouts and light directions."""
    return [render_scene(SMALL, scene_seed(SMALL, "train", i)) for i in range(10)]


@pytest.fixture(scope="module")
def sky_scenes():
    """A camera pitched so low that the top quarter of the frame is sky (the default camera
    ranges never show it)."""
    low = SyntheticConfig.from_params({"resolution": 64, "camera_pitch_deg": [12.0, 12.0]}, section=SECTION)
    return [render_scene(low, scene_seed(low, "test", i)) for i in range(2)]


# --------------------------------------------------------------------------------------------
# Buffers: formats and consistency
# --------------------------------------------------------------------------------------------


def test_class_names_are_ground_object_kinds_sky():
    assert CLASS_NAMES == ("ground", "box", "cylinder", "sphere", "cone", "sky")
    assert all(CLASS_IDS[name] == index for index, name in enumerate(CLASS_NAMES))
    assert BUFFER_NAMES == ("colour", "colour_without_focus_shadow", "object_id", "class_id", "instance_id",
                            "focus_shadow", "others_shadow", "depth")


def test_buffer_formats(scenes):
    res = SMALL.resolution
    expected = {
        "colour": (np.uint8, (res, res, 3)),
        "colour_without_focus_shadow": (np.uint8, (res, res, 3)),
        "object_id": (np.int64, (res, res)),
        "class_id": (np.int64, (res, res)),
        "instance_id": (np.int64, (res, res)),
        "focus_shadow": (np.bool_, (res, res)),
        "others_shadow": (np.bool_, (res, res)),
        "depth": (np.float32, (res, res)),
    }
    assert set(expected) == set(BUFFER_NAMES)
    for scene in scenes:
        assert isinstance(scene.buffers, SceneBuffers)
        for name, (dtype, shape) in expected.items():
            value = getattr(scene.buffers, name)
            assert value.dtype == dtype and value.shape == shape, name
        assert scene.buffers.focus_shadow.any() and scene.buffers.others_shadow.any()


def test_object_class_and_instance_ids_agree_with_the_scene_objects(scenes):
    for scene in scenes:
        b = scene.buffers
        ids = set(np.unique(b.object_id).tolist())
        assert ids <= {SKY_ID, GROUND_ID, *range(len(scene.objects))}
        assert FOCUS_ID in ids and GROUND_ID in ids
        assert scene.objects[FOCUS_ID] is scene.focus
        for index, obj in enumerate(scene.objects):
            on = b.object_id == index
            assert np.all(b.class_id[on] == CLASS_IDS[obj.kind]), (index, obj.kind)
            assert np.all(b.instance_id[on] == index + 1)
        ground = b.object_id == GROUND_ID
        assert np.all(b.class_id[ground] == CLASS_IDS["ground"])
        assert np.all(b.instance_id[b.object_id < 0] == 0)
        # One instance per visible object, and the instances partition exactly the object pixels.
        instances = np.unique(b.instance_id[b.object_id >= 0])
        assert len(instances) == len(np.unique(b.object_id[b.object_id >= 0]))
        assert np.array_equal(b.instance_id > 0, b.object_id >= 0)


def test_focus_shadow_is_exactly_where_the_two_colours_differ(scenes):
    for scene in scenes:
        b = scene.buffers
        assert np.array_equal(b.focus_shadow, (b.colour != b.colour_without_focus_shadow).any(-1))
        # Removing a shadow never darkens a pixel; the focus object never shadows itself.
        assert np.all(b.colour <= b.colour_without_focus_shadow)
        assert not np.any(b.focus_shadow & (b.object_id == FOCUS_ID))
        # Shadows fall on surfaces only.
        assert not np.any((b.focus_shadow | b.others_shadow) & (b.object_id == SKY_ID))


def test_depth_is_the_primary_ray_distance(scenes):
    for scene in scenes[:4]:
        b = scene.buffers
        camera = scene.camera
        dirs = camera.ray_directions()
        depth = b.depth.reshape(-1).astype(np.float64)
        owner = b.object_id.reshape(-1)
        assert np.all(np.isfinite(depth) == (owner != SKY_ID)) and np.all(depth[owner != SKY_ID] > 0)
        ground = owner == GROUND_ID
        points = camera.position[None, :] + depth[ground, None] * dirs[ground]
        assert np.allclose(points[:, 2], 0.0, atol=1e-5 * depth[ground].max())
        for index, obj in enumerate(scene.objects):
            on = np.flatnonzero(owner == index)
            if on.size:
                t = obj.intersect(np.broadcast_to(camera.position, (on.size, 3)), dirs[on])
                assert np.allclose(depth[on], t, rtol=1e-6), index
        # Nearer rows (further down the frame) see nearer ground.
        column = np.where(b.object_id[:, 0] == GROUND_ID, b.depth[:, 0], np.nan)
        assert np.all(np.diff(column[~np.isnan(column)]) < 0)


def test_sky_pixels(sky_scenes):
    res = SMALL.resolution
    for scene in sky_scenes:
        b = scene.buffers
        sky = b.object_id == SKY_ID
        # The top rows look above the horizon, the bottom rows at the ground.
        assert sky[0].all() and not sky[-1].any() and 0.1 < sky.mean() < 0.5
        assert np.all(b.class_id[sky] == CLASS_IDS["sky"]) and np.all(b.instance_id[sky] == 0)
        assert np.all(np.isinf(b.depth[sky])) and np.all(np.isfinite(b.depth[~sky]))
        assert np.array_equal(b.colour[sky], b.colour_without_focus_shadow[sky])
        assert b.colour.shape == (res, res, 3) and b.focus_shadow.any()


def test_synthetic_package_knows_no_family():
    """The renderer is family-free: no model family's image kinds, layout, package or
    parameter section."""
    forbidden = re.compile(r"noshadow|robject|rshadow|shadow_mask|SHADOW_MASK|gan_pipelines\.layout|"
                           r"gan_pipelines\.families|IMAGE_KINDS|"
                           # a hard-coded parameter section (the caller names its own)
                           r"[\"']ingest\.synthetic|PARAM_SECTION|from gan_pipelines import")
    sources = sorted(Path(synthetic.__file__).parent.glob("*.py"))
    assert {path.name for path in sources} >= {"__init__.py", "renderer.py", "textures.py"}
    for path in sources:
        hits = forbidden.findall(path.read_text())
        assert not hits, (path.name, hits)


# --------------------------------------------------------------------------------------------
# Seeding and splits
# --------------------------------------------------------------------------------------------


def _same_buffers(a: SceneBuffers, b: SceneBuffers) -> bool:
    return all(getattr(a, name).tobytes() == getattr(b, name).tobytes() for name in BUFFER_NAMES)


def test_same_seed_same_bytes_and_different_seeds_differ():
    seed = scene_seed(SMALL, "train", 1)
    first = render_scene(SMALL, seed)
    assert _same_buffers(first.buffers, render_scene(SMALL, seed).buffers)
    assert first.seed == seed
    other = render_scene(SMALL, scene_seed(SMALL, "train", 2))
    assert not np.array_equal(first.buffers.colour, other.buffers.colour)
    reseeded = SyntheticConfig(seed=1, resolution=SMALL.resolution)
    moved = render_scene(reseeded, scene_seed(reseeded, "train", 1))
    assert not np.array_equal(first.buffers.colour, moved.buffers.colour)


def test_scene_seed_scheme():
    """``SeedSequence(config.seed, spawn_key=(split position in SPLITS, index))``: pinned, since
    changing it would silently change every data set rendered so far."""
    assert SPLITS == ("train", "test")
    config = SyntheticConfig(seed=5)
    for split_id, split in enumerate(SPLITS):
        for index in (0, 7):
            expected = np.random.SeedSequence(entropy=5, spawn_key=(split_id, index)).generate_state(1, np.uint64)[0]
            assert scene_seed(config, split, index) == int(expected)
    # Only seed, split and index matter: not the resolution or the split sizes.
    assert scene_seed(SyntheticConfig(seed=5, resolution=32, num_train=2), "train", 1) == scene_seed(config, "train", 1)
    with pytest.raises(ValueError, match="split"):
        scene_seed(config, "val", 0)
    with pytest.raises(ValueError, match="index"):
        scene_seed(config, "train", -1)
    # Seeds never collide between splits at the default sizes.
    default = SyntheticConfig()
    train_seeds = {scene_seed(default, "train", i) for i in range(default.num_train)}
    test_seeds = {scene_seed(default, "test", i) for i in range(default.num_test)}
    assert len(train_seeds) == default.num_train and not train_seeds & test_seeds


def test_render_split_scenes_names_seeds_and_train_test_differ():
    train = list(render_split_scenes(SMALL, "train"))
    test = list(render_split_scenes(SMALL, "test"))
    assert [name for name, _ in train] == [scene_name(i) for i in range(SMALL.num_train)] == [
        "scene_00000", "scene_00001", "scene_00002"]
    assert [name for name, _ in test] == ["scene_00000", "scene_00001"]
    for index, (_, scene) in enumerate(train):
        assert scene.seed == scene_seed(SMALL, "train", index)
    for (_, a), (_, b) in zip(train, test):
        assert not np.array_equal(a.buffers.colour, b.buffers.colour)
    # Any single scene can be re-rendered alone and matches the split's output.
    alone = render_scene(SMALL, scene_seed(SMALL, "test", 1))
    assert _same_buffers(alone.buffers, test[1][1].buffers)


def test_render_split_scenes_is_lazy(monkeypatch):
    calls = []
    real = renderer.render_scene
    monkeypatch.setattr(renderer, "render_scene", lambda config, seed: calls.append(seed) or real(config, seed))
    scenes = render_split_scenes(SMALL, "train")
    assert calls == []
    name, scene = next(scenes)
    assert name == "scene_00000" and calls == [scene_seed(SMALL, "train", 0)] == [scene.seed]


def test_render_split_scenes_rejects_unknown_split_at_once():
    with pytest.raises(ValueError, match="split"):
        render_split_scenes(SMALL, "val")


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def test_from_params_converts_yaml_lists():
    config = SyntheticConfig.from_params(
        {"seed": 3, "resolution": 64, "light_elevation_deg": [30, 60], "num_occluders": [2, 3],
         "object_kinds": ["box", "sphere"], "ground_textures": ["grass", "checkerboard"]},
        section=SECTION,
    )
    assert config.light_elevation_deg == (30, 60)
    assert config.num_occluders == (2, 3)
    assert config.object_kinds == ("box", "sphere")
    assert SyntheticConfig.from_params({"object_kinds": "cone"}, section=SECTION).object_kinds == ("cone",)
    assert config.section == SECTION and config.parameter_name("seed") == f"{SECTION}.seed"
    # The section names the parameters in errors; it is not a scene parameter.
    default = SyntheticConfig()
    assert SyntheticConfig.from_params(None, section="a") == SyntheticConfig.from_params({}, section="b") == default


def test_from_params_needs_the_callers_section():
    with pytest.raises(TypeError):
        SyntheticConfig.from_params({})  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) s\.section"):
        SyntheticConfig.from_params({"section": "x"}, section="s")
    with pytest.raises(ValueError, match="section"):
        SyntheticConfig.from_params({}, section="")


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
        ({"light_elevation_deg": [30, "a"]}, "light_elevation_deg", "number"),
        ({"light_azimuth_deg": [200, 100]}, "light_azimuth_deg", "greater than max"),
        ({"object_kinds": ["box", "torus"]}, "object_kinds", "torus"),
        ({"object_kinds": []}, "object_kinds", "non-empty"),
        ({"num_occluders": [0, 2]}, "num_occluders", "within"),
        ({"num_occluders": [3, 2]}, "num_occluders", "greater than max"),
        ({"num_occluders": [1.5, 2]}, "num_occluders", "integers"),
        ({"object_size": [0.0, 1.0]}, "object_size", "within"),
        ({"penumbra_deg": -1}, "penumbra_deg", "between"),
        ({"penumbra_deg": float("nan")}, "penumbra_deg", "finite"),
        ({"penumbra_deg": 12, "light_elevation_deg": [10, 40]}, "penumbra_deg", "smaller than"),
        ({"penumbra_samples": 0}, "penumbra_samples", "between"),
        ({"ambient": [0.4, 1.0]}, "ambient", "within"),
        ({"ground_textures": ["lily"]}, "ground_textures", "lily"),
        ({"min_shadow_fraction": 0.5}, "min_shadow_fraction", "between"),
        ({"seed": True}, "seed", "integer"),
        ({"object_materials": ["matte", "chrome"]}, "object_materials", "chrome"),
        ({"backdrop_probability": 1.5}, "backdrop_probability", "between 0 and 1"),
        ({"camera_pitch_deg": [2.0, 30.0]}, "camera_pitch_deg", "within"),
        ({"camera_height": [0.1, 1.0]}, "camera_height", "within"),
    ],
)
def test_config_errors_name_the_parameter_in_the_callers_section(params, name, what):
    with pytest.raises(ValueError) as info:
        SyntheticConfig.from_params(params, section=SECTION)
    message = str(info.value)
    assert f"{SECTION}.{name}" in message
    assert what in message


def test_layout_failure_names_the_parameters_to_relax(monkeypatch):
    monkeypatch.setattr(renderer, "MAX_LIGHT_DRAWS", 1)
    monkeypatch.setattr(renderer, "MAX_SCENE_ATTEMPTS", 2)
    config = SyntheticConfig.from_params({"resolution": 32, "min_shadow_fraction": 0.2}, section="my.section")
    with pytest.raises(RuntimeError, match=r"2 attempts.*my\.section\.object_size.*my\.section\.min_shadow_fraction"):
        render_scene(config, 1)


def test_texture_photos_load_offline():
    """Every photo in the default texture list comes from the scikit-image wheel itself."""
    from gan_pipelines.synthetic.textures import PHOTO_TEXTURES, _load_photo

    for name in PHOTO_TEXTURES:
        photo = _load_photo(name)
        assert photo.dtype == np.float32 and photo.min() >= 0.0 and photo.max() <= 1.0
        assert min(photo.shape[:2]) >= 128
