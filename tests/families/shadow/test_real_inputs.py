"""Real-world inputs at the shadow family's entry points: ingest (read_shadow_ar) and predict
(find_input_pairs / predict_folder) read the same files the same way (issue 13's cases)."""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from image_files import (
    jpeg_with_orientation, palette_png, png, png_16bit_grey, png_48bit_rgb, raw_png, scene, write,
)

from gan_pipelines.families.shadow.predict import _FullResolutionPredictor, find_input_pairs, predict_folder
from gan_pipelines.families.shadow.shadow_ar import ShadowARDataError, read_shadow_ar
from gan_pipelines.image_folders import image_key
from gan_pipelines.images import read_image, to_binary_mask, to_rgb

SIZE = 48


def object_mask(size: int = SIZE) -> np.ndarray:
    """The inserted object, as the user drew it on the picture as shown: the red block at the
    top left of :func:`image_files.scene`."""
    on = np.zeros((size, size), bool)
    on[2:size // 3, 2:size // 3] = True
    return on


class RecordingPredictor(_FullResolutionPredictor):
    """The real predictor's path (checks, resizing, full-resolution compositing) with a stand-in
    model that darkens the masked pixels; records the image and the mask as the model sees them."""

    resolution = 32

    def __init__(self) -> None:
        self.calls: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def predict(self, image, mask, *, name="image"):
        self.calls[name] = (to_rgb(np.asarray(image)), to_binary_mask(np.asarray(mask))[0])
        return super().predict(image, mask, name=name)

    def _predict_small(self, image, mask):
        layer = np.where(mask[..., None] > 0, np.float32(-0.5), np.float32(0.0)) * np.ones(3, np.float32)
        return layer, mask, np.zeros_like(mask)


def pair(root: Path, name: str, image: bytes, mask: bytes, *, image_ext=".png", mask_ext=".png") -> None:
    write(root / "noshadow" / f"{name}{image_ext}", image)
    write(root / "mask" / f"{name}{mask_ext}", mask)


def both_entry_points(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, Path]:
    """The same files as a predict input folder and as an inference-only ingest folder:
    ``files`` maps ``"<kind>/<file name>"`` to bytes."""
    predict_in, ingest_in = tmp_path / "photos", tmp_path / "dataset"
    for relative, data in files.items():
        write(predict_in / relative, data)
        write(ingest_in / "test" / relative, data)
    return predict_in, ingest_in


def predict_error(folder: Path, tmp_path: Path) -> str:
    with pytest.raises(ValueError) as info:
        predict_folder(RecordingPredictor(), folder, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written when an input is bad"
    return str(info.value)


def ingest_error(folder: Path) -> str:
    with pytest.raises(ShadowARDataError) as info:
        read_shadow_ar(folder)
    return str(info.value)


# ----------------------------------------------------------------- 1. orientation and bit depth


def test_upside_down_phone_photo_is_predicted_and_written_as_shown(tmp_path):
    shown, on = scene(), object_mask()
    folder = tmp_path / "photos"
    pair(folder, "phone", jpeg_with_orientation(shown, 3), png((on * 255).astype(np.uint8)), image_ext=".jpg")
    predictor = RecordingPredictor()
    predict_folder(predictor, folder, tmp_path / "out")

    image, mask = predictor.calls["phone"]
    assert np.abs(image.astype(int) - shown).mean() < 3  # the picture as a viewer shows it
    output = read_image(tmp_path / "out/shadow/phone.png").astype(int)
    away = np.ones_like(on)
    away[: SIZE // 2, : SIZE // 2] = False  # away from the mask (and the upsampled layer's blur)
    assert np.abs(output - shown)[away].mean() < 3  # written as shown
    # The stand-in shadow landed on the red object as drawn: clearly darker there.
    assert (shown[on].astype(int) - output[on]).mean() > 30


def test_upside_down_phone_photo_is_ingested_as_shown(tmp_path):
    shown, on = scene(), object_mask()
    _, folder = both_entry_points(tmp_path, {"noshadow/phone.jpg": jpeg_with_orientation(shown, 3),
                                             "mask/phone.png": png((on * 255).astype(np.uint8))})
    data = read_shadow_ar(folder)
    assert np.abs(data.images[image_key("test", "noshadow", "phone")]().astype(int) - shown).mean() < 3


def test_portrait_photo_and_its_mask_agree_in_size_as_shown(tmp_path):
    shown = scene(48, 36)
    mask = np.zeros((48, 36), np.uint8)
    mask[2:10, 2:10] = 255
    predict_in, ingest_in = both_entry_points(tmp_path, {"noshadow/p.jpg": jpeg_with_orientation(shown, 6),
                                                         "mask/p.png": png(mask)})
    assert read_shadow_ar(ingest_in).images[image_key("test", "noshadow", "p")]().shape == (48, 36, 3)
    summary = predict_folder(RecordingPredictor(), predict_in, tmp_path / "out")
    assert summary["sizes"] == {"p": "36x48"}


def test_sixteen_bit_grey_photo_is_scaled_not_white(tmp_path):
    grey = (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 251).astype(np.uint8)
    on = object_mask()
    predict_in, ingest_in = both_entry_points(tmp_path, {"noshadow/scan.png": png_16bit_grey(grey.astype(np.uint16) * 257),
                                                         "mask/scan.png": png((on * 255).astype(np.uint8))})
    predictor = RecordingPredictor()
    predict_folder(predictor, predict_in, tmp_path / "out")
    image, _ = predictor.calls["scan"]
    np.testing.assert_array_equal(image, np.repeat(grey[..., None], 3, axis=2))  # was all 255
    output = read_image(tmp_path / "out/shadow/scan.png")
    away = np.ones_like(on)
    away[: SIZE // 2, : SIZE // 2] = False
    np.testing.assert_array_equal(output[away], np.repeat(grey[..., None], 3, axis=2)[away])
    ingested = read_shadow_ar(ingest_in).images[image_key("test", "noshadow", "scan")]()
    np.testing.assert_array_equal(ingested, image)


def test_48_bit_rgb_photo_still_works(tmp_path):
    rgb = scene()
    predict_in, _ = both_entry_points(tmp_path, {"noshadow/a.png": png_48bit_rgb(rgb),
                                                 "mask/a.png": png((object_mask() * 255).astype(np.uint8))})
    predictor = RecordingPredictor()
    predict_folder(predictor, predict_in, tmp_path / "out")
    np.testing.assert_array_equal(predictor.calls["a"][0], rgb)


# ----------------------------------------------------------------- 2. one mask reader


def _mask_files() -> dict[str, bytes]:
    on = object_mask()
    red = np.zeros((SIZE, SIZE, 3), np.uint8)
    red[on] = (255, 0, 0)
    cutout = np.zeros((SIZE, SIZE, 4), np.uint8)
    cutout[..., 3] = on * 255
    return {
        "palette": palette_png(on.astype(np.uint8), [(0, 0, 0), (128, 0, 0)]),
        "red_rgb": png(red),
        "zero_one": png(on.astype(np.uint8)),
        "zero_one_16bit": png_16bit_grey(on.astype(np.uint16)),
        "alpha": png(cutout),
        "white": png((on * 255).astype(np.uint8)),
    }


@pytest.mark.parametrize("kind", sorted(_mask_files()))
def test_ingest_and_predict_read_every_mask_kind_the_same(tmp_path, kind):
    on = object_mask()
    predict_in, ingest_in = both_entry_points(tmp_path, {"noshadow/a.png": png(scene()), "mask/a.png": _mask_files()[kind]})
    predictor = RecordingPredictor()
    predict_folder(predictor, predict_in, tmp_path / "out")
    ingested = read_shadow_ar(ingest_in).images[image_key("test", "mask", "a")]()
    np.testing.assert_array_equal(predictor.calls["a"][1], on * 255)
    np.testing.assert_array_equal(ingested, on * 255)


def test_empty_object_mask_is_refused_by_name_everywhere(tmp_path, caplog):
    files = {"noshadow/a.png": png(scene()), "mask/a.png": png((object_mask() * 255).astype(np.uint8)),
             "noshadow/b.png": png(scene()), "mask/b.png": png(np.zeros((SIZE, SIZE), np.uint8))}
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    assert "b: mask/b.png: the mask is empty: no pixel marks the object (every pixel is black)" in predict_error(predict_in, tmp_path)
    assert "test/b: mask/b.png: the mask is empty" in ingest_error(ingest_in)
    with caplog.at_level(logging.WARNING):
        data = read_shadow_ar(ingest_in, on_invalid="skip")
    assert data.samples == [("test", "a")]
    assert data.skipped.to_dict("records") == [{"split": "test", "name": "b", "reason": "mask/b.png: the mask is "
                                                "empty: no pixel marks the object (every pixel is black)"}]


def test_empty_real_object_masks_are_fine(tmp_path):
    """robject/rshadow may be empty (a scene without real objects); only the inserted one must not."""
    root = tmp_path / "dataset"
    for kind, data in {"noshadow": png(scene()), "shadow": png(scene()), "mask": png((object_mask() * 255).astype(np.uint8)),
                       "robject": png(np.zeros((SIZE, SIZE), np.uint8)), "rshadow": png(np.zeros((SIZE, SIZE), np.uint8))}.items():
        write(root / "train" / kind / "a.png", data)
    assert read_shadow_ar(root).samples == [("train", "a")]


# ----------------------------------------------------------------- 3. the same checks in predict


def test_two_pictures_for_one_name_are_refused_by_both(tmp_path):
    files = {"noshadow/a.png": png(scene()), "noshadow/a.jpg": jpeg_with_orientation(scene()[::-1].copy(), 1),
             "mask/a.png": png((object_mask() * 255).astype(np.uint8))}
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    assert "a: noshadow: 2 files for one sample (a.jpg, a.png)" in predict_error(predict_in, tmp_path)
    assert "test/a: noshadow: 2 files for one sample (a.jpg, a.png)" in ingest_error(ingest_in)


def test_huge_image_is_refused_by_name_not_a_traceback(tmp_path):
    """A real 13500x13500 PNG (all-zero 1-bit rows: 22 kB) beside a normal pair."""
    mask = png((object_mask() * 255).astype(np.uint8))
    files = {"noshadow/ok.png": png(scene()), "mask/ok.png": mask,
             "noshadow/huge.png": raw_png(13500, 13500, 1, 0), "mask/huge.png": mask}
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    message = predict_error(predict_in, tmp_path)
    assert message.splitlines()[0] == f"1 bad input(s) in {predict_in}:"
    assert "huge: noshadow/huge.png: image too large to decode (182.2 megapixels; the limit is 89.5 megapixels" in message
    assert "test/huge: noshadow/huge.png: image too large to decode (182.2 megapixels" in ingest_error(ingest_in)


def test_os_litter_is_ignored_by_both(tmp_path):
    files = {"noshadow/a.png": png(scene()), "mask/a.png": png((object_mask() * 255).astype(np.uint8))}
    for kind in ("noshadow", "mask"):
        files.update({f"{kind}/Thumbs.db": b"\0\1", f"{kind}/desktop.ini": b"[.ShellClassInfo]", f"{kind}/.DS_Store": b"\0",
                      f"{kind}/._a.png": b"\0"})
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    assert [name for name, _, _ in find_input_pairs(predict_in)] == ["a"]
    assert predict_folder(RecordingPredictor(), predict_in, tmp_path / "out")["num_images"] == 1
    assert read_shadow_ar(ingest_in).samples == [("test", "a")]


def test_upper_case_extensions_are_images(tmp_path):
    files = {"noshadow/A.JPG": jpeg_with_orientation(scene(), 1), "mask/A.PNG": png((object_mask() * 255).astype(np.uint8)),
             "noshadow/b.Jpeg": jpeg_with_orientation(scene(), 1), "mask/b.png": png((object_mask() * 255).astype(np.uint8))}
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    assert predict_folder(RecordingPredictor(), predict_in, tmp_path / "out")["num_images"] == 2
    assert read_shadow_ar(ingest_in).samples == [("test", "A"), ("test", "b")]


def test_non_image_and_sub_folder_files_are_reported_by_predict(tmp_path):
    files = {"noshadow/a.png": png(scene()), "mask/a.png": png((object_mask() * 255).astype(np.uint8)),
             "noshadow/notes.txt": b"x", "mask/old/a.png": png(np.zeros((4, 4), np.uint8))}
    predict_in, _ = both_entry_points(tmp_path, files)
    with pytest.raises(ValueError) as info:
        find_input_pairs(predict_in)
    assert "a: mask/old/a.png: inside a sub-folder of mask/" in str(info.value)
    assert "notes: noshadow/notes.txt: not a PNG or JPEG file (extension .txt)" in str(info.value)


# ----------------------------------------------------------------- 4. names in two Unicode forms


def test_decomposed_and_composed_names_pair(tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    files = {f"noshadow/{nfc}.png": png(scene()), f"mask/{nfd}.png": png((object_mask() * 255).astype(np.uint8))}
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    summary = predict_folder(RecordingPredictor(), predict_in, tmp_path / "out")
    assert summary["num_images"] == 1
    assert (tmp_path / "out" / "shadow" / f"{nfc}.png").is_file()
    assert read_shadow_ar(ingest_in).samples == [("test", nfc)]


def test_two_spellings_in_one_folder_are_said_to_collide(tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    mask = png((object_mask() * 255).astype(np.uint8))
    files = {f"noshadow/{nfc}.png": png(scene()), f"mask/{nfc}.png": mask, f"mask/{nfd}.png": mask}
    predict_in, ingest_in = both_entry_points(tmp_path, files)
    for message in (predict_error(predict_in, tmp_path), ingest_error(ingest_in)):
        assert "mask: 2 files with the same visible name" in message and "in different Unicode forms" in message


# ----------------------------------------------------------------- end to end through Kedro


def test_shadow_predict_pipeline_writes_an_exif_photo_as_shown(tiny_trained_project, tmp_path, kedro_run, one_thread):
    """The real pipeline (`kedro run --pipelines shadow.predict`) on an upside-down phone JPEG."""
    import shutil

    from conftest import copy_project

    project = copy_project(tmp_path / "project")
    shutil.copytree(tiny_trained_project / "data", project / "data")
    shown = scene(64, 64)
    on = object_mask(64)
    pair(project / "photos", "phone", jpeg_with_orientation(shown, 3), png((on * 255).astype(np.uint8)), image_ext=".jpg")
    kedro_run(project, "shadow.predict", {"shadow": {"predict": {"input_dir": "photos", "output_dir": "out"}}})
    output = read_image(project / "out/shadow/phone.png").astype(int)
    as_shown, upside_down = np.abs(output - shown).mean(), np.abs(output - shown[::-1, ::-1]).mean()
    assert as_shown < 15 < upside_down
