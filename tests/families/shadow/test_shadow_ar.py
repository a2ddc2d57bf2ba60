"""Tests for reading and validating real data in the Shadow-AR layout."""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gan_pipelines.families.shadow import layout
from gan_pipelines.image_folders import image_key, split_key
from gan_pipelines.images import ImageError
from gan_pipelines.families.shadow.shadow_ar import ShadowARData, ShadowARDataError, read_shadow_ar

LOGGER = "gan_pipelines.families.shadow.shadow_ar"
H, W = 6, 8


# ----------------------------------------------------------------------------------- fixtures


def _array(split: str, kind: str, name: str, size: tuple[int, int] = (H, W)) -> np.ndarray:
    """Deterministic content per file: RGB noise for image kinds, a 0/255 mask otherwise."""
    seed = sum(ord(c) for c in f"{split}/{kind}/{name}")
    rng = np.random.default_rng(seed)
    if kind in layout.RGB_KINDS:
        return rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    mask = np.zeros(size, dtype=np.uint8)
    mask[1 : size[0] - 1, 1 : 1 + (seed % (size[1] - 2)) + 1] = 255
    return mask


def write_sample(root: Path, split: str, name: str, kinds=layout.SAMPLE_KINDS, size=(H, W)) -> None:
    for kind in kinds:
        folder = root / split / kind
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_array(split, kind, name, size)).save(folder / f"{name}.png")


def write_dataset(root: Path) -> Path:
    """Two train samples and one test sample, all five kinds."""
    for split, name in [("train", "a"), ("train", "b"), ("test", "c")]:
        write_sample(root, split, name)
    return root


def zip_folder(folder: Path, zip_path: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(folder).as_posix())
    return zip_path


def as_arrays(data: ShadowARData) -> dict[str, np.ndarray]:
    return {key: loader() for key, loader in data.images.items()}


def error_of(path, **kwargs) -> str:
    with pytest.raises(ShadowARDataError) as info:
        read_shadow_ar(path, **kwargs)
    # No chaining from inside PIL / zipfile: the message alone is what the user sees.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None
    return str(info.value)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "data")


# ------------------------------------------------------------------------------- valid inputs


def test_valid_folder_gives_every_image_normalised(dataset: Path):
    data = read_shadow_ar(dataset)

    assert data.inference_only is False
    assert list(data.skipped.columns) == ["split", "name", "reason"] and data.skipped.empty
    expected = {
        image_key(split, kind, name)
        for split, name in [("train", "a"), ("train", "b"), ("test", "c")]
        for kind in layout.SAMPLE_KINDS
    }
    assert set(data.images) == expected
    assert data.samples == [("test", "c"), ("train", "a"), ("train", "b")]
    for key, array in as_arrays(data).items():
        split, kind, name = split_key(key)
        assert array.dtype == np.uint8
        if kind in layout.MASK_KINDS:
            assert array.shape == (H, W)
            assert set(np.unique(array)) <= {0, 255}
        else:
            assert array.shape == (H, W, 3)
        np.testing.assert_array_equal(array, _array(split, kind, name))


@pytest.mark.parametrize("prefix", ["", "dataset/"], ids=["top-level", "nested-folder"])
def test_zip_gives_the_same_images_as_the_folder(dataset: Path, tmp_path: Path, prefix: str):
    archive = zip_folder(dataset, tmp_path / "data.zip", prefix)
    from_folder = as_arrays(read_shadow_ar(dataset))
    data = read_shadow_ar(archive)

    assert data.inference_only is False
    from_zip = as_arrays(data)  # loaders work after read_shadow_ar has returned
    assert from_zip.keys() == from_folder.keys()
    for key in from_folder:
        np.testing.assert_array_equal(from_zip[key], from_folder[key])
    assert not (tmp_path / "train").exists() and not (tmp_path / "dataset").exists()  # no extraction


def test_folder_with_one_wrapping_folder_is_accepted(tmp_path: Path):
    write_dataset(tmp_path / "outer" / "dataset")
    data = read_shadow_ar(tmp_path / "outer")
    assert len(data.images) == 15


def test_zip_loaders_are_picklable_and_reopen_the_archive(dataset: Path, tmp_path: Path):
    archive = zip_folder(dataset, tmp_path / "data.zip")
    data = read_shadow_ar(archive)
    key = image_key("train", "shadow", "a")
    clone = pickle.loads(pickle.dumps(data.images[key]))
    np.testing.assert_array_equal(clone(), _array("train", "shadow", "a"))


def test_loaders_reread_lazily(dataset: Path):
    data = read_shadow_ar(dataset)
    key = image_key("train", "noshadow", "a")
    replacement = np.full((H, W, 3), 7, dtype=np.uint8)
    Image.fromarray(replacement).save(dataset / "train" / "noshadow" / "a.png")
    np.testing.assert_array_equal(data.images[key](), replacement)
    (dataset / "train" / "noshadow" / "a.png").write_bytes(b"gone")
    with pytest.raises(ImageError, match=r"a\.png: not a readable image"):
        data.images[key]()


def test_inference_only_folder_is_accepted(tmp_path: Path):
    root = tmp_path / "user"
    write_sample(root, "test", "photo1", kinds=layout.INFERENCE_KINDS)
    write_sample(root, "test", "photo2", kinds=layout.INFERENCE_KINDS)
    data = read_shadow_ar(root)
    assert data.inference_only is True
    assert set(data.images) == {
        image_key("test", kind, name)
        for kind in layout.INFERENCE_KINDS
        for name in ("photo1", "photo2")
    }
    assert data.images[image_key("test", "mask", "photo1")]().shape == (H, W)


def test_inference_only_sample_missing_mask_is_reported(tmp_path: Path):
    root = tmp_path / "user"
    write_sample(root, "test", "photo1", kinds=layout.INFERENCE_KINDS)
    write_sample(root, "test", "photo2", kinds=("noshadow",))
    message = error_of(root)
    assert "test/photo2: missing mask" in message


def test_train_split_with_only_noshadow_and_mask_is_refused(tmp_path: Path):
    root = tmp_path / "data"
    write_sample(root, "train", "a", kinds=layout.INFERENCE_KINDS)
    message = error_of(root)
    assert "train/ holds only mask, noshadow" in message and "all five kinds" in message


def test_jpeg_and_grey_images_are_accepted_and_promoted_to_rgb(dataset: Path, caplog):
    grey = np.arange(H * W, dtype=np.uint8).reshape(H, W) * 5
    (dataset / "train" / "noshadow" / "a.png").unlink()
    Image.fromarray(grey).save(dataset / "train" / "noshadow" / "a.jpg", quality=100)
    rgba = np.dstack([_array("train", "shadow", "b"), np.full((H, W), 10, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(dataset / "train" / "shadow" / "b.png")

    with caplog.at_level(logging.INFO, logger=LOGGER):
        data = read_shadow_ar(dataset)

    noshadow = data.images[image_key("train", "noshadow", "a")]()
    assert noshadow.shape == (H, W, 3)
    assert np.array_equal(noshadow[..., 0], noshadow[..., 2])
    np.testing.assert_array_equal(
        data.images[image_key("train", "shadow", "b")](), _array("train", "shadow", "b")
    )
    assert any("2 RGB image file(s)" in r.message and "converted to RGB" in r.message
               for r in caplog.records)


# --------------------------------------------------------------------------------- masks


def test_rgba_mask_is_converted_and_logged_once(dataset: Path, caplog):
    mask = _array("train", "mask", "a")
    rgba = np.zeros((H, W, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = mask  # object opaque white, background transparent white
    Image.fromarray(rgba, mode="RGBA").save(dataset / "train" / "mask" / "a.png")
    Image.fromarray(rgba, mode="RGBA").save(dataset / "test" / "robject" / "c.png")

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        data = read_shadow_ar(dataset)

    result = data.images[image_key("train", "mask", "a")]()
    assert result.shape == (H, W) and result.dtype == np.uint8
    np.testing.assert_array_equal(result, mask)
    lines = [r for r in caplog.records if "RGBA mask" in r.message]
    assert len(lines) == 1, "one summary line, not one per file"
    assert lines[0].levelno == logging.WARNING
    assert "2 RGBA mask file(s) with transparency converted to single-channel 0/255" in lines[0].message


def test_rgb_mask_is_converted(dataset: Path, caplog):
    mask = _array("train", "rshadow", "b")
    Image.fromarray(np.dstack([mask] * 3)).save(dataset / "train" / "rshadow" / "b.png")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        data = read_shadow_ar(dataset)
    result = data.images[image_key("train", "rshadow", "b")]()
    assert result.shape == (H, W)
    np.testing.assert_array_equal(result, mask)
    assert any("1 RGB/RGBA mask file(s) converted" in r.message and "train/rshadow/b.png" in r.message
               for r in caplog.records)


def test_zero_one_mask_is_rescaled_and_grey_mask_binarised(dataset: Path, caplog):
    mask = _array("train", "mask", "a")
    Image.fromarray(mask // 255).save(dataset / "train" / "mask" / "a.png")
    soft = np.where(mask > 0, 200, 30).astype(np.uint8)
    Image.fromarray(soft).save(dataset / "train" / "robject" / "a.png")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        data = read_shadow_ar(dataset)
    np.testing.assert_array_equal(data.images[image_key("train", "mask", "a")](), mask)
    np.testing.assert_array_equal(data.images[image_key("train", "robject", "a")](), mask)
    messages = " | ".join(r.message for r in caplog.records)
    assert "1 mask file(s) held only the values 0 and 1 and were rescaled" in messages
    assert "values other than 0 and 255" in messages


# ---------------------------------------------------------------------------- bad samples


def test_missing_file_names_sample_and_kind(dataset: Path):
    (dataset / "train" / "rshadow" / "b.png").unlink()
    (dataset / "test" / "shadow" / "c.png").unlink()
    (dataset / "test" / "robject" / "c.png").unlink()
    message = error_of(dataset)
    assert message.startswith(f"2 invalid samples in {dataset}:")
    assert "  train/b: missing rshadow" in message
    assert "  test/c: missing shadow, robject" in message
    assert "train/a" not in message


def test_corrupt_file_is_reported_without_traceback_chain(dataset: Path):
    (dataset / "train" / "mask" / "b.png").write_bytes(b"this is not an image")
    message = error_of(dataset)
    assert "train/b: mask/b.png: not a readable image" in message
    assert "BytesIO" not in message


def test_size_mismatch_names_the_sizes(dataset: Path):
    Image.fromarray(np.full((4, 4), 255, np.uint8)).save(dataset / "test" / "mask" / "c.png")
    message = error_of(dataset)
    assert "test/c: size mismatch: noshadow/shadow/robject/rshadow 8x6, mask 4x4" in message


def test_non_image_files_are_reported_not_dropped(dataset: Path, caplog):
    (dataset / "train" / "mask" / "notes.txt").write_text("hello")
    (dataset / "train" / "shadow" / "a.png").unlink()
    (dataset / "train" / "shadow" / "a.txt").write_text("oops")
    (dataset / "train" / "mask" / ".DS_Store").write_bytes(b"\0\0")
    (dataset / "train" / "noshadow" / "Thumbs.db").write_bytes(b"\0\0")

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        message = error_of(dataset)

    assert message.startswith(f"2 invalid samples in {dataset}:")
    assert "  train/notes: mask/notes.txt: not a PNG or JPEG file (extension .txt)" in message
    assert "  train/a: missing shadow; shadow/a.txt: not a PNG or JPEG file" in message
    assert "DS_Store" not in message and "Thumbs" not in message
    assert any("Ignored 2 hidden/system file(s)" in r.message and r.levelno == logging.DEBUG
               for r in caplog.records)


def test_file_in_sub_folder_of_kind_folder_is_reported(dataset: Path):
    (dataset / "train" / "mask" / "old").mkdir()
    Image.fromarray(_array("train", "mask", "x")).save(dataset / "train" / "mask" / "old" / "x.png")
    message = error_of(dataset)
    assert "train/x: mask/old/x.png: inside a sub-folder of train/mask/" in message


def test_two_files_for_one_sample_are_reported(dataset: Path):
    Image.fromarray(_array("train", "noshadow", "a")).save(dataset / "train" / "noshadow" / "a.jpg")
    message = error_of(dataset)
    assert "train/a: noshadow: 2 files for one sample (a.jpg, a.png)" in message


def test_files_outside_the_layout_are_ignored_with_a_log(dataset: Path, caplog):
    (dataset / "README.md").write_text("readme")
    write_sample(dataset, "train", "a", kinds=("shadow_mask",))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        data = read_shadow_ar(dataset)
    assert len(data.images) == 15
    assert any("Ignored 2 file(s) outside" in r.message and "train/shadow_mask/" in r.message
               for r in caplog.records)


def test_error_mode_lists_every_bad_sample_in_one_message(dataset: Path, tmp_path: Path):
    write_sample(dataset, "train", "d")
    (dataset / "train" / "rshadow" / "a.png").unlink()
    (dataset / "train" / "mask" / "b.png").write_bytes(b"garbage")
    Image.fromarray(np.zeros((3, 5, 3), np.uint8)).save(dataset / "test" / "noshadow" / "c.png")
    archive = zip_folder(dataset, tmp_path / "data.zip", "dataset/")

    for source in (dataset, archive):
        message = error_of(source)
        lines = message.splitlines()
        assert lines[0] == f"3 invalid samples in {source}:"
        assert lines[1] == "  test/c: size mismatch: noshadow 5x3, shadow/mask/robject/rshadow 8x6"
        assert lines[2] == "  train/a: missing rshadow"
        assert lines[3].startswith("  train/b: mask/b.png: not a readable image")
        assert "on_invalid: skip" in message and "1 valid sample" in message


def test_skip_mode_returns_valid_samples_and_the_skipped_list(dataset: Path, caplog):
    write_sample(dataset, "train", "d")
    (dataset / "train" / "rshadow" / "a.png").unlink()
    (dataset / "train" / "mask" / "b.png").write_bytes(b"garbage")
    (dataset / "test" / "mask" / "readme.txt").write_text("x")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        data = read_shadow_ar(dataset, on_invalid="skip")

    assert data.samples == [("test", "c"), ("train", "d")]
    assert len(data.images) == 10
    assert isinstance(data.skipped, pd.DataFrame)
    assert list(data.skipped.columns) == ["split", "name", "reason"]
    rows = {(r.split, r.name): r.reason for r in data.skipped.itertuples()}
    assert rows.keys() == {("train", "a"), ("train", "b"), ("test", "readme")}
    assert rows[("train", "a")] == "missing rshadow"
    assert rows[("train", "b")].startswith("mask/b.png: not a readable image")
    assert "not a PNG or JPEG file" in rows[("test", "readme")]
    assert any("Skipped 3 invalid sample(s) of 5" in r.message for r in caplog.records)


def test_skip_mode_with_no_valid_sample_is_still_an_error(tmp_path: Path):
    root = tmp_path / "data"
    write_sample(root, "train", "a")
    (root / "train" / "shadow" / "a.png").unlink()
    message = error_of(root, on_invalid="skip")
    assert "train/a: missing shadow" in message and "No valid sample left" in message


def test_bad_on_invalid_value(dataset: Path):
    with pytest.raises(ValueError, match=r"ingest\.on_invalid.*'ignore'") as info:
        read_shadow_ar(dataset, on_invalid="ignore")
    assert not isinstance(info.value, ShadowARDataError)


# ----------------------------------------------------------------------- layout and paths


def test_missing_path_is_named(tmp_path: Path):
    missing = tmp_path / "nope" / "data.zip"
    message = error_of(missing)
    assert str(missing) in message and "does not exist" in message


def test_empty_folder_explains_the_layout(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    message = error_of(tmp_path / "empty")
    assert "no files found" in message and "<root>/train/{noshadow,shadow,mask,robject,rshadow}" in message


def test_layout_folders_without_images_is_no_samples(tmp_path: Path):
    for kind in layout.SAMPLE_KINDS:
        (tmp_path / "data" / "train" / kind).mkdir(parents=True)
    (tmp_path / "data" / "train" / "noshadow" / ".DS_Store").write_bytes(b"x")
    message = error_of(tmp_path / "data")
    assert "no samples found" in message and "Expected the Shadow-AR layout" in message


def test_wrong_layout_says_what_was_found(tmp_path: Path):
    root = tmp_path / "data"
    root.mkdir()
    for name in ("one.png", "two.png"):
        Image.fromarray(np.zeros((H, W), np.uint8)).save(root / name)
    message = error_of(root)
    assert "no train/ or test/ folder found" in message and "one.png" in message
    assert "Expected the Shadow-AR layout" in message


def test_kind_folders_without_split_get_a_hint(tmp_path: Path):
    root = tmp_path / "data"
    write_sample(root, "test", "a", kinds=layout.INFERENCE_KINDS)
    message = error_of(root / "test")
    assert "found kind folders (mask, noshadow)" in message and "under train/ or test/" in message


def test_file_that_is_not_a_zip(tmp_path: Path):
    bogus = tmp_path / "data.zip"
    bogus.write_bytes(b"PK but not really a zip archive")
    message = error_of(bogus)
    assert str(bogus) in message and "not a folder or a valid .zip archive" in message


@pytest.mark.parametrize(
    "entry",
    ["../evil.png", "dataset/../../evil.png", "/tmp/evil.png", "C:/evil.png", "..\\evil.png"],
)
def test_zip_with_entries_escaping_the_folder_is_refused(dataset: Path, tmp_path: Path, entry: str):
    archive = zip_folder(dataset, tmp_path / "data.zip", "dataset/")
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr(entry, b"evil")
    message = error_of(archive)
    assert f"refusing {archive}" in message and repr(entry) in message
    assert "outside the extraction folder" in message
    assert not (tmp_path.parent / "evil.png").exists()


def test_zip_with_mac_litter_is_accepted(dataset: Path, tmp_path: Path):
    archive = zip_folder(dataset, tmp_path / "data.zip", "dataset/")
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr("__MACOSX/dataset/train/mask/._a.png", b"\0")
        handle.writestr("dataset/train/mask/._a.png", b"\0")
        handle.writestr("dataset/.DS_Store", b"\0")
    data = read_shadow_ar(archive)
    assert len(data.images) == 15
