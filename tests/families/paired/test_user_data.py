"""User data: aligned A|B files in both orders, A/ + B/ folders, label-map validation, and one
error listing every bad file before anything is written."""

import json

import numpy as np
import pytest
from PIL import Image

from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data
from gan_pipelines.families.paired.user_data import LabelSpec, label_map_problems, read_paired_folder

SPEC = LabelSpec(6)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _picture(value, size=32):
    return np.full((size, size, 3), value, np.uint8)


def _labels(size=32, top=3):
    labels = np.zeros((size, size), np.uint8)
    labels[size // 2:] = top
    return labels


def test_valid_label_maps_pass_with_their_values():
    labels, problems = label_map_problems(_labels(), SPEC)
    assert problems == [] and labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 3}
    with_ignore = _labels()
    with_ignore[0, 0] = 255
    labels, problems = label_map_problems(with_ignore, LabelSpec(6, ignore_value=255))
    assert problems == [] and labels[0, 0] == 255


def test_out_of_range_values_are_named_with_their_counts():
    labels = _labels()
    labels[:2, :3] = 9
    _, problems = label_map_problems(labels, SPEC)
    assert problems == ["label value(s) out of range 0..5: 9 (6 px)"]
    labels[0, 0] = 255
    _, problems = label_map_problems(labels, LabelSpec(6, ignore_value=200))
    assert "9 (5 px), 255 (1 px)" in problems[0] and "ignore_value is 200" in problems[0]


def test_a_binary_mask_given_as_labels_is_recognised():
    _, problems = label_map_problems(np.where(_labels() > 0, 255, 0).astype(np.uint8), SPEC)
    assert problems and "binary 0/255 mask" in problems[0]


def test_colour_labels_need_a_palette_and_unknown_colours_are_counted():
    colours = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]]
    image = np.zeros((8, 8, 3), np.uint8)
    image[4:] = (255, 0, 0)
    _, problems = label_map_problems(image, SPEC)
    assert "colour image given as a label map" in problems[0]
    palette = LabelSpec(6, palette=tuple(tuple(c) for c in colours))
    labels, problems = label_map_problems(image, palette)
    assert problems == [] and labels[5, 0] == 1 and labels[0, 0] == 0
    image[0, :2] = (10, 20, 30)  # a few stray colours take their nearest palette colour's class (issue 24, item 13)
    labels, problems = label_map_problems(image, palette)
    assert problems == [] and labels[0, :2].tolist() == [0, 0]
    image[:5] = (10, 20, 30)  # most pixels far from every palette colour: a wrong palette, refused with the counts
    _, problems = label_map_problems(image, palette)
    assert problems[0].startswith("40 of 64 pixels (62%) are farther than 0 from every palette colour "
                                  "(most common: (10, 20, 30) x40)")


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_aligned_pairs_split_in_the_given_order(tmp_path, direction):
    sketch, colour = _picture(10), _picture(200)
    _save(tmp_path / "train" / "a.png", np.concatenate([sketch, colour], axis=1))
    data = read_paired_folder(tmp_path, layout="aligned", direction=direction, input_kind="line_art",
                              target_kind="picture", instance_kind=None, labels=None, min_size=16, on_invalid="error")
    expected_input, expected_target = (sketch, colour) if direction == "AtoB" else (colour, sketch)
    assert np.array_equal(data.images["train/line_art/a.png"], expected_input)
    assert np.array_equal(data.images["train/picture/a.png"], expected_target)
    assert data.num_samples == {"train": 1, "test": 0}


def _bad_folder(root):
    _save(root / "train" / "A" / "ok.png", _labels())
    _save(root / "train" / "B" / "ok.png", _picture(100))
    _save(root / "train" / "A" / "range.png", _labels(top=7))
    _save(root / "train" / "B" / "range.png", _picture(100))
    _save(root / "train" / "A" / "mask.png", np.where(_labels() > 0, 255, 0).astype(np.uint8))
    _save(root / "train" / "B" / "mask.png", _picture(100))
    _save(root / "train" / "A" / "lonely.png", _labels())
    _save(root / "test" / "A" / "small.png", _labels(size=8))
    _save(root / "test" / "B" / "small.png", _picture(100, size=8))
    _save(root / "test" / "A" / "size.png", _labels())
    _save(root / "test" / "B" / "size.png", _picture(100, size=48))
    _save(root / "test" / "A" / "good.png", _labels())
    _save(root / "test" / "B" / "good.png", _picture(50))


def test_one_error_lists_every_bad_file_and_nothing_is_returned(tmp_path):
    _bad_folder(tmp_path)
    with pytest.raises(ValueError) as error:
        read_paired_folder(tmp_path, layout="folders", direction="AtoB", input_kind="label_map", target_kind="picture",
                           instance_kind=None, labels=SPEC, min_size=16, on_invalid="error")
    message = str(error.value)
    assert message.startswith("5 invalid sample(s)")
    assert "train/range: label map: label value(s) out of range 0..5: 7 (512 px)" in message
    assert "train/mask: label map: only values 0 and 255: a binary 0/255 mask" in message
    assert "train/lonely: train/A/lonely.png has no partner in train/B/" in message
    assert "test/small: 8x8 is smaller than the smallest size the networks take (16 px)" in message
    assert "test/size: sizes differ: input 32x32, target 48x48" in message
    # the one out-of-range map points at the class count, the usual cause, not at skipping
    assert message.endswith("1 of them have label values up to 7, above ingest.label_nc (6) - 1: "
                            "if those are classes, set ingest.label_nc: 8")


def test_skip_keeps_the_good_samples_and_lists_the_others(tmp_path):
    _bad_folder(tmp_path)
    data = read_paired_folder(tmp_path, layout="folders", direction="AtoB", input_kind="label_map",
                              target_kind="picture", instance_kind=None, labels=SPEC, min_size=16, on_invalid="skip")
    assert sorted(data.images) == ["test/label_map/good.png", "test/picture/good.png",
                                   "train/label_map/ok.png", "train/picture/ok.png"]
    assert sorted(data.skipped["name"]) == ["lonely", "mask", "range", "size", "small"]


def test_aligned_file_with_an_odd_width_is_refused(tmp_path):
    _save(tmp_path / "test" / "odd.png", np.zeros((32, 65, 3), np.uint8))
    with pytest.raises(ValueError, match="test/odd: odd.png: width 65 is odd"):
        read_paired_folder(tmp_path, layout="aligned", direction="AtoB", input_kind="line_art", target_kind="picture",
                           instance_kind=None, labels=None, min_size=16, on_invalid="error")


def test_ingest_node_reads_a_palette_file(tmp_path):
    colours = [[0, 0, 0], [255, 0, 0], [0, 255, 0]]
    (tmp_path / "palette.json").write_text(json.dumps(colours))
    label_image = np.zeros((32, 32, 3), np.uint8)
    label_image[16:] = (0, 255, 0)
    _save(tmp_path / "data" / "train" / "x.png", np.concatenate([label_image, _picture(90)], axis=1))
    _save(tmp_path / "data" / "test" / "y.png", np.concatenate([label_image, _picture(90)], axis=1))
    images, skipped, summary = ingest_paired_data(
        {"source": "aligned", "path": str(tmp_path / "data"), "label_nc": 3,
         "palette_path": str(tmp_path / "palette.json")}, family="pix2pix")
    assert set(np.unique(images["train/label_map/x.png"])) == {0, 2}
    assert summary["num_samples"]["train"] == 1 and skipped.empty
    with pytest.raises(ValueError, match="pix2pix.ingest: palette file .*expected a JSON list of 6"):
        ingest_paired_data({"source": "aligned", "path": str(tmp_path / "data"), "label_nc": 6,
                            "palette_path": str(tmp_path / "palette.json")}, family="pix2pix")


def test_palette_tolerance_maps_jpeg_noise_to_the_nearest_class():
    palette = ((0, 0, 0), (255, 0, 0), (0, 0, 255))
    image = np.zeros((4, 4, 3), np.uint8)
    image[1:] = (250, 6, 3)
    _, problems = label_map_problems(image, LabelSpec(3, palette=palette))
    assert "12 of 16 pixels (75%) are farther than 0 from every palette colour (most common: (250, 6, 3) x12)" \
        in problems[0]
    labels, problems = label_map_problems(image, LabelSpec(3, palette=palette, palette_tolerance=10))
    assert problems == [] and labels[3, 0] == 1 and labels[0, 0] == 0


def test_transparent_sketch_pixels_become_white_paper():
    from gan_pipelines.families.paired.user_data import input_image_rgb

    sketch = np.zeros((2, 2, 4), np.uint8)
    sketch[0, 0] = (0, 0, 0, 255)
    assert input_image_rgb(sketch)[0, 0].tolist() == [0, 0, 0]
    assert input_image_rgb(sketch)[1, 1].tolist() == [255, 255, 255]


def test_sketch_folders_may_carry_class_maps_for_the_segmentation_score(tmp_path):
    for split, name, top in (("train", "a", 2), ("train", "b", 9), ("test", "c", 1)):
        _save(tmp_path / split / "A" / f"{name}.png", _picture(255))
        _save(tmp_path / split / "B" / f"{name}.png", _picture(120))
        _save(tmp_path / split / "labels" / f"{name}.png", _labels(top=top))
    with pytest.raises(ValueError, match=r"train/b: class map: label value\(s\) out of range 0..5: 9 \(512 px\)"):
        ingest_paired_data({"source": "folders", "path": str(tmp_path), "input_kind": "line_art", "label_nc": 6},
                           family="sketch2color")
    images, skipped, _ = ingest_paired_data(
        {"source": "folders", "path": str(tmp_path), "input_kind": "line_art", "label_nc": 6, "on_invalid": "skip"},
        family="sketch2color")
    assert sorted(images) == ["test/label_map/c.png", "test/line_art/c.png", "test/picture/c.png",
                              "train/label_map/a.png", "train/line_art/a.png", "train/picture/a.png"]
    assert list(skipped["name"]) == ["b"]


def test_folders_follow_the_shared_input_rules(tmp_path):
    """Litter is ignored, names pair in Unicode NFC, and a.png beside a.jpg is refused naming both
    (the rules of gan_pipelines.image_inputs, as in the shadow family's ingest)."""
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    _save(tmp_path / "train/A" / f"{decomposed}.png", _labels())
    _save(tmp_path / "train/B" / f"{composed}.png", _picture(90))
    _save(tmp_path / "train/A/twice.png", _labels())
    _save(tmp_path / "train/A/twice.jpg", _labels())
    _save(tmp_path / "train/B/twice.png", _picture(90))
    (tmp_path / "train/A/Thumbs.db").write_bytes(b"litter")
    (tmp_path / "train/B/.DS_Store").write_bytes(b"litter")
    (tmp_path / "train/B/notes.txt").write_text("not an image")
    with pytest.raises(ValueError) as error:
        read_paired_folder(tmp_path, layout="folders", direction="AtoB", input_kind="label_map", target_kind="picture",
                           instance_kind=None, labels=SPEC, min_size=16, on_invalid="error")
    message = str(error.value)
    assert "2 files for the sample 'twice' ('twice.jpg', 'twice.png')" in message
    assert "B/notes.txt: not a PNG or JPEG file" in message
    assert "Thumbs.db" not in message and "DS_Store" not in message and "caf" not in message
    data = read_paired_folder(tmp_path, layout="folders", direction="AtoB", input_kind="label_map",
                              target_kind="picture", instance_kind=None, labels=SPEC, min_size=16, on_invalid="skip")
    assert sorted(data.images) == [f"train/label_map/{composed}.png", f"train/picture/{composed}.png"]
    assert sorted(data.skipped["name"]) == ["notes", "twice"]
