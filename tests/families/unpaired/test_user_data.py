"""A user's unpaired data in the CycleGAN layout (trainA/ trainB/ testA/ [testB/]), as a folder or
a .zip: every problem refused by name in one message before anything is written, test pairs
only when asked, mixed sizes resized (and said), the project's reader rules (EXIF, grey, RGBA,
16-bit, palette), optional class maps checked against their pictures."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
from image_files import jpeg_with_orientation, palette_png, png, png_16bit_grey, scene, write

from gan_pipelines.families.unpaired.nodes.ingest import ingest_unpaired_data
from gan_pipelines.families.unpaired.user_data import read_unpaired_folder
from gan_pipelines.params import ParameterError

SECTION = "cyclegan.ingest"


def _picture(seed: int, size: tuple[int, int] = (16, 16)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _layout(root: Path, counts=None, size=(16, 16)) -> Path:
    """``root`` with ``counts`` {folder: n} pictures named 0.png, 1.png, ... (default 3/2/2/2)."""
    counts = counts or {"trainA": 3, "trainB": 2, "testA": 2, "testB": 2}
    for index, (folder, count) in enumerate(counts.items()):
        for i in range(count):
            write(root / folder / f"{i}.png", png(_picture(10 * index + i, size)))
    return root


def _error(path, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        read_unpaired_folder(path, section=SECTION, **kwargs)
    return str(info.value)


def test_test_names_are_pairs_only_when_asked(tmp_path):
    root = _layout(tmp_path / "data")
    unpaired = read_unpaired_folder(root, section=SECTION)
    keys = set(unpaired.images)
    assert {"train/A/A_0.png", "train/A/A_2.png", "train/B/B_1.png", "test/A/A_1.png", "test/B/B_1.png"} <= keys
    assert "test/A/1.png" not in keys and len(keys) == 9
    assert unpaired.counts == {"train": {"A": 3, "B": 2}, "test": {"A": 2, "B": 2, "pairs": 0}}
    assert "cyclegan.ingest.test_pairs is false" in unpaired.unavailable["hidden_l1_a2b"]
    assert set(unpaired.unavailable) >= {"hidden_psnr_b2a", "content_miou_a2b"}
    paired = read_unpaired_folder(root, section=SECTION, test_pairs=True)
    assert {"test/A/0.png", "test/B/0.png", "test/A/1.png", "test/B/1.png"} <= set(paired.images)
    assert paired.counts["test"]["pairs"] == 2
    assert not any(name.startswith("hidden") for name in paired.unavailable)
    np.testing.assert_array_equal(paired.images["test/B/1.png"], _picture(31))  # testB is the 4th folder


def test_every_problem_is_listed_in_one_message(tmp_path):
    root = tmp_path / "data"
    write(root / "trainA" / "good.png", png(_picture(0)))
    write(root / "trainA" / "notes.txt", b"not a picture")
    write(root / "trainA" / "fake.png", b"this is text, not a PNG")
    write(root / "trainA" / "cut.png", png(_picture(1))[:60])  # truncated
    write(root / "trainA" / "twice.png", png(_picture(2)))
    write(root / "trainA" / "twice.jpg", jpeg_with_orientation(_picture(2), 1))
    write(root / "trainA" / "deeper" / "x.png", png(_picture(3)))
    (root / "testA").mkdir()  # empty; trainB missing
    message = _error(root)
    assert message.startswith("7 problem(s) in ") and "nothing was written" in message
    for expected in ("trainB/: missing", "testA/: empty", "trainA/notes.txt: not a PNG or JPEG file (extension .txt)",
                     "trainA/fake.png: not a readable image", "trainA/cut.png: not a readable image",
                     "2 files for the picture 'twice' (twice.jpg, twice.png)", "trainA/deeper/: a sub-folder"):
        assert expected in message, expected
    assert "good" not in message and "BytesIO" not in message
    assert len(message.splitlines()) == 1 + 7  # a header, then one line each


def test_a_zip_entry_escaping_its_folder_refuses_the_archive(tmp_path):
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder in ("trainA", "trainB", "testA"):
            zf.writestr(f"{folder}/0.png", png(_picture(0)))
        zf.writestr("../evil.png", png(_picture(1)))
    message = _error(archive)
    assert "'../evil.png'" in message and "outside" in message and "nothing was read" in message


def test_a_zip_inside_nested_folders_reads_like_a_folder(tmp_path):
    archive = tmp_path / "horse2zebra.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder, count in {"trainA": 2, "trainB": 2, "testA": 1}.items():
            for i in range(count):
                zf.writestr(f"download/horse2zebra/{folder}/{i}.png", png(_picture(i)))
        zf.writestr("__MACOSX/download/._x.png", b"litter")
    data = read_unpaired_folder(archive, section=SECTION)
    assert data.counts == {"train": {"A": 2, "B": 2}, "test": {"A": 1, "B": 0, "pairs": 0}}
    np.testing.assert_array_equal(data.images["train/B/B_1.png"], _picture(1))


def test_no_layout_names_what_was_found(tmp_path):
    _layout(tmp_path / "data", {"train_A": 1, "train_B": 1})
    assert "expected the CycleGAN layout trainA/ trainB/ testA/ [testB/]" in _error(tmp_path / "data")
    assert "train_A, train_B" in _error(tmp_path / "data")


def test_missing_test_b_says_which_metrics_are_unavailable(tmp_path):
    root = _layout(tmp_path / "data", {"trainA": 2, "trainB": 2, "testA": 2})
    data = read_unpaired_folder(root, section=SECTION, test_pairs=True)
    assert data.counts["test"] == {"A": 2, "B": 0, "pairs": 0}
    assert "no hidden pairs" in data.unavailable["hidden_l1_a2b"]
    for metric in ("hidden_ssim_b2a", "target_rate_b2a", "kid_b2a", "cycle_l1_b2a"):
        assert "no testB/ pictures" in data.unavailable[metric]
    assert "target_rate_a2b" not in data.unavailable and "kid_a2b" not in data.unavailable


def test_mixed_sizes_are_resized_to_the_most_common_and_said(tmp_path, caplog):
    root = _layout(tmp_path / "data", {"trainA": 2, "trainB": 2, "testA": 1})
    write(root / "trainB" / "big.png", png(_picture(5, (24, 20))))  # 20 wide, 24 high
    with caplog.at_level(logging.WARNING):
        data = read_unpaired_folder(root, section=SECTION)
    assert {image.shape[:2] for image in data.images.values()} == {(16, 16)}
    assert data.resized == {"size": [16, 16], "count": 1, "from": {"20x24": 1}}
    assert "resized to the most common size 16x16" in caplog.text
    assert read_unpaired_folder(_layout(tmp_path / "same"), section=SECTION).resized is None


def test_exif_grey_rgba_16_bit_and_palette_pictures_are_read_as_shown(tmp_path):
    root = _layout(tmp_path / "data", {"trainA": 1, "trainB": 1, "testA": 1}, size=(24, 16))
    shown = scene(24, 16)  # red block top left, dark floor below
    write(root / "trainA" / "phone.jpg", jpeg_with_orientation(shown, 6))  # stored turned, 16x24 on disk
    grey = np.tile(np.arange(16, dtype=np.uint8) * 10, (24, 1))
    write(root / "trainA" / "grey.png", png(grey))
    rgba = np.dstack([_picture(7, (24, 16)), np.full((24, 16), 100, np.uint8)])
    write(root / "trainB" / "layer.png", png(rgba))
    write(root / "trainB" / "scan.png", png_16bit_grey(np.full((24, 16), 0x8080, np.uint16)))
    write(root / "testA" / "indexed.png", palette_png(np.eye(24, 16, dtype=np.uint8), [(0, 0, 0), (255, 0, 0)]))
    data = read_unpaired_folder(root, section=SECTION)
    assert data.resized is None  # the JPEG is 16 wide once its orientation is applied
    phone = data.images["train/A/A_phone.png"].astype(int)
    assert phone.shape == (24, 16, 3) and np.abs(phone - shown).mean() < 6
    assert phone[4, 3, 0] > 200 and phone[4, 3, 1] < 80  # the red block is top left, as shown
    np.testing.assert_array_equal(data.images["train/A/A_grey.png"], np.dstack([grey] * 3))
    np.testing.assert_array_equal(data.images["train/B/B_layer.png"], rgba[:, :, :3])
    assert (data.images["train/B/B_scan.png"] == 128).all()
    indexed = data.images["test/A/A_indexed.png"]
    assert tuple(indexed[3, 3]) == (255, 0, 0) and tuple(indexed[3, 4]) == (0, 0, 0)


def _with_labels(root: Path, folders=("trainB", "testA"), label_nc=3) -> Path:
    _layout(root, {"trainA": 2, "trainB": 2, "testA": 2, "testB": 2})
    for folder in folders:
        for i in range(2):
            labels = np.full((16, 16), i % label_nc, np.uint8)
            labels[:8] = (i + 1) % label_nc
            write(root / f"{folder}_labels" / f"{i}.png", png(labels))
    return root


def test_class_map_folders_enable_the_content_metric_of_their_direction(tmp_path):
    root = _with_labels(tmp_path / "data")
    write(root / "trainB_labels" / "1.png", palette_png(np.full((16, 16), 2, np.uint8), [(0, 0, 0)] * 3))
    data = read_unpaired_folder(root, section=SECTION, label_nc=3)
    assert data.label_folders == ["testA_labels", "trainB_labels"]
    assert data.images["test/A_labels/A_0.png"][:8].tolist() == [[1] * 16] * 8
    assert (data.images["train/B_labels/B_1.png"] == 2).all()  # the palette index is the class
    assert "train/A_labels/A_0.png" not in data.images
    assert "content_miou_a2b" not in data.unavailable
    assert "trainA_labels/" in data.unavailable["content_miou_b2a"]


def test_every_class_map_problem_is_named(tmp_path):
    root = _with_labels(tmp_path / "data")
    write(root / "trainB_labels" / "1.png", png(np.full((16, 16), 7, np.uint8)))  # 7 >= label_nc 3
    write(root / "testA_labels" / "0.png", png(np.zeros((8, 16), np.uint8)))  # wrong size
    (root / "testA_labels" / "1.png").unlink()  # missing
    write(root / "testA_labels" / "9.png", png(np.zeros((16, 16), np.uint8)))  # no picture
    (root / "testB" / "0.png").unlink()
    (root / "testB" / "1.png").unlink()
    (root / "testB").rmdir()
    write(root / "testB_labels" / "0.png", png(np.zeros((16, 16), np.uint8)))  # no testB/ at all
    message = _error(root, label_nc=3)
    for expected in ("trainB_labels/1.png: class value(s) 7 (256 px) not below cyclegan.ingest.label_nc (3)",
                     "testA_labels/0.png: 16x8 but its picture is 16x16",
                     "no class map for testA/1.png (testA_labels/1.png)",
                     "testA_labels/9.png: a class map without a picture in testA/",
                     "testB_labels/: class maps without their pictures: there is no testB/"):
        assert expected in message, expected


def test_class_maps_and_label_nc_come_together(tmp_path):
    root = _with_labels(tmp_path / "data")
    assert "class maps found but cyclegan.ingest.label_nc is not set" in _error(root)
    plain = _layout(tmp_path / "plain")
    assert "cyclegan.ingest.label_nc: is 4 but there is no class-map folder" in _error(plain, label_nc=4)


def test_the_ingest_node_reads_folders_into_the_common_summary(tmp_path):
    root = _layout(tmp_path / "data")
    raw, summary = ingest_unpaired_data({"source": "folders", "path": str(root), "test_pairs": True},
                                        family="cyclegan")
    assert len(raw) == 9 and summary["counts"]["test"]["pairs"] == 2
    assert (summary["source"], summary["pair"], summary["label_nc"], summary["test_pairs"]) == ("folders", None,
                                                                                             None, True)
    assert summary["label_colours"] is None and summary["resized"] is None
    assert "content_miou_a2b" in summary["unavailable"] and set(summary["domains"]) == {"A", "B"}
    with pytest.raises(ParameterError, match=r"cyclegan\.ingest\.path"):
        ingest_unpaired_data({"source": "folders"}, family="cyclegan")
    with pytest.raises(ValueError, match=r"cyclegan\.ingest\.path .* does not exist"):
        ingest_unpaired_data({"source": "folders", "path": str(tmp_path / "nowhere")}, family="cyclegan")
