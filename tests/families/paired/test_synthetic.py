"""The embedded data of the paired families: deterministic, the right kinds, lines where the
geometry has edges (never on the ground), fixed colours per class with palette per_class."""

import hashlib

import numpy as np
import pytest

from gan_pipelines.families.paired.layout import FAMILY_KINDS, KIND_TYPES
from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data
from gan_pipelines.families.paired.synthetic import geometry_lines, render_split, synthetic_config, xdog_sketch
from gan_pipelines.synthetic import CLASS_IDS, GROUND_ID, KIND_ALBEDO, render_scene, scene_seed

SMALL = {"resolution": 32, "num_train": 3, "num_test": 1}


def _digest(images):
    return hashlib.sha256(b"".join(k.encode() + images[k].tobytes() for k in sorted(images))).hexdigest()


@pytest.mark.parametrize("family", ["pix2pix", "sketch2color"])
def test_ingest_is_deterministic_and_has_the_family_kinds(family):
    params = {"synthetic": SMALL, "real_test_photos": False} if family == "sketch2color" else {"synthetic": SMALL}
    first, skipped, summary = ingest_paired_data(params, family=family)
    second, _, _ = ingest_paired_data(params, family=family)
    assert _digest(first) == _digest(second) and skipped.empty
    assert summary["num_samples"] == {"train": 3, "test": 1} and summary["palette"] == "per_class"
    kinds = {key.split("/")[1] for key in first}
    assert kinds == set(FAMILY_KINDS[family])
    for key, image in first.items():
        kind = key.split("/")[1]
        assert image.dtype == np.uint8
        assert image.shape == ((32, 32) if KIND_TYPES[kind] == "labels" else (32, 32, 3))
    labels = first["train/label_map/scene_00000.png"]
    assert labels.max() < 6


def test_sketch2color_has_a_real_photo_test_split():
    images, _, summary = ingest_paired_data({"synthetic": {**SMALL, "num_train": 1}}, family="sketch2color")
    assert summary["num_samples"]["test_photos"] == 5
    assert images["test_photos/picture/chelsea.png"].shape == (32, 32, 3)
    assert {"test_photos/line_art/chelsea.png", "test_photos/xdog_sketch/chelsea.png"} <= set(images)


def test_lines_follow_the_geometry_and_leave_the_ground_blank():
    config, _ = synthetic_config({"resolution": 64}, "s")
    scene = render_scene(config, scene_seed(config, "train", 0))
    lines = geometry_lines(scene)
    object_id = scene.buffers.object_id
    assert lines.any()
    assert not lines[object_id < 0].any(), "a line on the ground or sky"
    # every object's outline is drawn: each object has line pixels
    for index in range(len(scene.objects)):
        if (object_id == index).sum() > 20:
            assert lines[object_id == index].any()


def test_xdog_of_a_flat_picture_is_white_and_an_edge_draws_a_line():
    flat = np.full((32, 32, 3), 120, np.uint8)
    assert (xdog_sketch(flat) == 255).all()
    edge = flat.copy()
    edge[:, 16:] = 240
    assert (xdog_sketch(edge) < 128).any()


def test_per_class_palette_fixes_object_colours_and_random_does_not():
    config, _ = synthetic_config({"resolution": 32}, "s")
    scene = render_scene(config, scene_seed(config, "train", 1))
    assert all(obj.colour == KIND_ALBEDO[obj.kind] for obj in scene.objects)
    random_config, _ = synthetic_config({"resolution": 32, "palette": "random"}, "s")
    random_scene = render_scene(random_config, scene_seed(random_config, "train", 1))
    assert any(obj.colour != KIND_ALBEDO[obj.kind] for obj in random_scene.objects)
    with pytest.raises(ValueError, match="s.palette must be one of per_class, random_objects, random"):
        synthetic_config({"palette": "pastel"}, "s")


def test_random_objects_palette_varies_only_the_object_colours():
    per_class, _ = synthetic_config({"resolution": 32}, "s")
    objects_only, _ = synthetic_config({"resolution": 32, "palette": "random_objects"}, "s")
    assert objects_only.object_colours == "random"
    assert objects_only.ground_tint == per_class.ground_tint and objects_only.light_azimuth_deg == per_class.light_azimuth_deg
    plain = render_scene(per_class, scene_seed(per_class, "train", 1))
    coloured = render_scene(objects_only, scene_seed(objects_only, "train", 1))
    # the colour draw happens in both, so the layout (label map) and the light are the same scene's
    assert np.array_equal(plain.buffers.class_id, coloured.buffers.class_id)
    assert plain.light_azimuth_deg == coloured.light_azimuth_deg
    assert any(obj.colour != KIND_ALBEDO[obj.kind] for obj in coloured.objects)
    ground = plain.buffers.object_id == GROUND_ID
    assert ground.any() and np.array_equal(plain.buffers.colour[ground], coloured.buffers.colour[ground])


def test_renders_split_lazily_with_scene_names():
    config, _ = synthetic_config(SMALL, "s")
    names = [name for name, _ in render_split(config, "pix2pix", "train")]
    assert names == ["scene_00000", "scene_00001", "scene_00002"]
    assert CLASS_IDS["sky"] == 5


def test_ground_tint_gives_the_ground_one_colour_and_bad_values_are_named():
    from gan_pipelines.synthetic import SyntheticConfig

    config, _ = synthetic_config({"resolution": 32}, "s")
    scene = render_scene(config, scene_seed(config, "train", 2))
    ground = scene.buffers.colour_without_focus_shadow[scene.buffers.object_id == GROUND_ID].astype(float)
    chroma = ground / ground.sum(axis=1, keepdims=True)
    tint = np.asarray(config.ground_tint) / sum(config.ground_tint)
    assert np.abs(chroma - tint).max() < 0.03  # one hue, only the brightness pattern varies
    with pytest.raises(ValueError, match="s.ground_tint must be null or three numbers"):
        SyntheticConfig.from_params({"ground_tint": [0.5, 2.0, 0.5]}, section="s")
    with pytest.raises(ValueError, match="s.ground_contrast must be between 0 and 1"):
        SyntheticConfig.from_params({"ground_contrast": 1.5}, section="s")
