"""The shared input rules every entry point uses (gan_pipelines.images, gan_pipelines.image_inputs):
orientation, bit depth, size limit, the one mask rule, label maps, litter, names, ambiguity."""

from __future__ import annotations

import io
import unicodedata

import numpy as np
import pytest
from image_files import (
    jpeg_with_orientation, palette_png, png, png_16bit_grey, png_48bit_rgb, raw_png, scene,
)
from PIL import Image

from gan_pipelines import images
from gan_pipelines.image_inputs import SampleIndex, check_files, check_sample, is_litter, sample_name
from gan_pipelines.images import (
    EmptyMaskError, ImageError, read_image, read_labels, read_mask, resize_image, resize_mask, to_binary_mask,
)

CAFE_NFC = "caf\u00e9"
CAFE_NFD = "cafe\u0301"


# ------------------------------------------------------------------------ 1. decoder


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied(orientation):
    shown = scene(48, 64)
    decoded = read_image(jpeg_with_orientation(shown, orientation))
    assert decoded.shape == (48, 64, 3)  # the size a viewer shows, also for 6 and 8 (stored 64x48)
    assert np.abs(decoded.astype(int) - shown).mean() < 3  # JPEG noise only
    if orientation != 1:
        stored = np.asarray(Image.open(io.BytesIO(jpeg_with_orientation(shown, orientation))))
        assert stored.shape != decoded.shape or np.abs(stored.astype(int) - shown).mean() > 30


def test_sixteen_bit_grey_is_scaled_to_eight_bits_not_clipped():
    picture = (np.arange(12 * 16, dtype=np.uint16).reshape(12, 16) % 256).astype(np.uint8)
    decoded = read_image(png_16bit_grey(picture.astype(np.uint16) * 257))
    assert decoded.dtype == np.uint8 and decoded.shape == (12, 16)
    np.testing.assert_array_equal(decoded, picture)  # was all 255 (clipped) before


def test_sixteen_bit_grey_keeps_the_high_byte_over_the_full_range():
    values = np.array([[0, 255, 256, 32767], [32768, 40000, 65280, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(read_image(png_16bit_grey(values)), values >> 8)


def test_sixteen_bit_rgb_and_grey_alpha_are_scaled():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(read_image(png_48bit_rgb(rgb)), rgb)
    rows = np.array([[1000, 65535, 30000, 0]], dtype=">u2").repeat(2, axis=0).tobytes()
    grey_alpha = read_image(raw_png(2, 2, 16, 4, rows))  # 16-bit grey + alpha
    np.testing.assert_array_equal(grey_alpha[0, 0], [1000 >> 8] * 3 + [255])
    np.testing.assert_array_equal(grey_alpha[0, 1], [30000 >> 8] * 3 + [0])


@pytest.mark.parametrize("mode, values, message", [
    ("I", np.array([[0, 70000]], np.int32), "32-bit integer image"),
    ("F", np.array([[0.5, 1.5]], np.float32), "floating-point image"),
])
def test_deeper_images_are_refused_by_name(mode, values, message):
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format="TIFF")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == mode
    with pytest.raises(ImageError, match=f"scan.tif: {message}"):
        read_image(buffer.getvalue(), name="scan.tif")


def test_a_huge_png_is_refused_from_its_header_by_name():
    """A real 13500x13500 PNG (1-bit, all zero: 22 kB on disk), past PIL's own bomb limit."""
    data = raw_png(13500, 13500, 1, 0)
    assert len(data) < 100_000
    with pytest.raises(ImageError, match=r"huge.png: image too large to decode \(182.2 megapixels; the limit is 89.5"):
        read_image(data, name="huge.png")


def test_the_project_limit_is_checked_before_decoding(monkeypatch):
    """Between our limit and PIL's (here: our limit lowered), the header check refuses first."""
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 20 * 20)
    assert read_image(png(np.zeros((20, 20), np.uint8))).shape == (20, 20)
    with pytest.raises(ImageError, match=r"big.png: image too large to decode \(21x20 = 0.0 megapixels"):
        read_image(png(np.zeros((20, 21), np.uint8)), name="big.png")


NOISE_PNG = png(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))


@pytest.mark.parametrize("data", [b"", b"not an image", NOISE_PNG[: len(NOISE_PNG) // 2]],
                         ids=["zero-byte", "corrupt", "truncated"])
def test_unreadable_files_are_named(data):
    with pytest.raises(ImageError, match=r"^x.png: not a readable image") as info:
        read_image(data, name="x.png")
    assert info.value.__cause__ is None


def test_odd_sizes_down_to_7x5_decode_and_resize():
    picture, mask = scene(5, 7), np.zeros((5, 7), np.uint8)
    mask[1:4, 2:5] = 255
    decoded, read = read_image(png(picture)), read_mask(png(mask))[0]
    assert decoded.shape == (5, 7, 3) and read.shape == (5, 7)
    assert resize_image(decoded, (32, 32)).shape == (32, 32, 3)
    assert set(np.unique(resize_mask(read, (32, 32)))) == {0, 255}


# ------------------------------------------------------------------------ 2. the one mask rule


def _object(height=8, width=10):
    on = np.zeros((height, width), bool)
    on[2:6, 3:7] = True
    return on


def test_palette_mask_is_read_by_index():
    on = _object()
    mask, how = read_mask(palette_png(on.astype(np.uint8), [(0, 0, 0), (128, 0, 0)]))
    np.testing.assert_array_equal(mask, on * 255)  # RGB mean 42.7 < 128: read as empty before
    assert how == "palette"
    # Index 0 is background whatever its colour (here white), any other index the object.
    mask, _ = read_mask(palette_png(on.astype(np.uint8) * 5, [(255, 255, 255)] + [(0, 0, 0)] * 5))
    np.testing.assert_array_equal(mask, on * 255)
    # A transparent index is background too.
    mask, _ = read_mask(palette_png(on.astype(np.uint8) + 1, [(0, 0, 0), (9, 9, 9), (200, 0, 0)], transparent=1))
    np.testing.assert_array_equal(mask, on * 255)


def test_colour_mask_is_on_where_its_brightest_channel_is():
    on = _object()
    red = np.zeros((*on.shape, 3), np.uint8)
    red[on] = (255, 0, 0)
    mask, how = read_mask(png(red))
    np.testing.assert_array_equal(mask, on * 255)  # mean 85 < 128: read as empty before
    assert how == "colour"


def test_transparency_marks_the_background_whatever_the_colour():
    on = _object()
    rgba = np.zeros((*on.shape, 4), np.uint8)  # black everywhere; the object is the opaque part
    rgba[..., 3] = on * 255
    mask, how = read_mask(png(rgba))
    np.testing.assert_array_equal(mask, on * 255)
    assert how == "alpha"


@pytest.mark.parametrize("depth", [8, 16])
def test_zero_one_mask_marks_the_ones(depth):
    on = _object()
    data = png(on.astype(np.uint8)) if depth == 8 else png_16bit_grey(on.astype(np.uint16))
    mask, how = read_mask(data)
    np.testing.assert_array_equal(mask, on * 255)
    assert how == "zero_one"
    mask, how = to_binary_mask(on.astype(np.uint8))  # arrays (prediction's Python API): the same rule
    np.testing.assert_array_equal(mask, on * 255)


def test_jpeg_grey_mask_is_binarised_at_128():
    on = _object(32, 32)
    buffer = io.BytesIO()
    Image.fromarray((on * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=70)
    mask, how = read_mask(buffer.getvalue())
    assert (mask == on * 255).mean() > 0.97 and how == "grey"


def test_empty_object_mask_is_refused_with_the_file_named():
    with pytest.raises(EmptyMaskError, match=r"m.png: the mask is empty: no pixel marks the object \(every pixel is black\)"):
        read_mask(png(np.zeros((6, 6), np.uint8)), name="m.png", allow_empty=False)
    dim = np.zeros((6, 6), np.uint8)
    dim[2:4, 2:4] = 37
    with pytest.raises(EmptyMaskError, match="brightest value is 37 of 255") as info:
        read_mask(png(dim), name="m.png", allow_empty=False)
    assert info.value.shape == (6, 6)
    assert not read_mask(png(dim), name="m.png")[0].any()  # allowed where a mask may be empty


# ------------------------------------------------------------------------ label maps


def test_label_maps_keep_their_values_exactly():
    labels = (np.arange(60).reshape(6, 10) % 21).astype(np.uint8)
    read = read_labels(png(labels))
    np.testing.assert_array_equal(read, labels)  # never thresholded: 1..20 stay classes
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read_labels(palette_png(labels, [(i, 0, 0) for i in range(21)])), labels)
    wide = np.array([[0, 7, 300, 65535]], np.uint16)
    read = read_labels(png_16bit_grey(wide))
    np.testing.assert_array_equal(read, wide)
    assert read.dtype == np.int32


def test_label_maps_are_oriented_like_images():
    labels = np.zeros((4, 6), np.uint8)
    labels[0, 0] = 3
    exif = Image.Exif()
    exif[0x0112] = 3
    buffer = io.BytesIO()
    Image.fromarray(np.rot90(labels, 2).copy()).save(buffer, format="PNG", exif=exif)
    np.testing.assert_array_equal(read_labels(buffer.getvalue()), labels)


def test_label_maps_refuse_what_would_change_the_classes():
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="JPEG")
    with pytest.raises(ImageError, match="l.jpg: label maps must be lossless"):
        read_labels(buffer.getvalue(), name="l.jpg")
    coded = np.zeros((2, 3, 3), np.uint8)
    coded[0, 0] = (128, 64, 0)
    with pytest.raises(ImageError, match="colour-coded label map"):
        read_labels(png(coded))
    np.testing.assert_array_equal(read_labels(png(coded), colours=[(0, 0, 0), (128, 64, 0)]), [[1, 0, 0], [0, 0, 0]])
    with pytest.raises(ImageError, match=r"1 pixels have colours that are not in the colour table: \(128, 64, 0\) x1"):
        read_labels(png(coded), colours=[(0, 0, 0)])


# ------------------------------------------------------------------------ 3-4. files and names


@pytest.mark.parametrize("path, litter", [
    ("Thumbs.db", True), ("mask/desktop.ini", True), ("noshadow/DESKTOP.INI", True), (".DS_Store", True),
    ("__MACOSX/train/mask/._a.png", True), ("train/.ipynb_checkpoints/a.png", True), ("mask/a.png", False),
    ("mask/thumbs.png", False),
])
def test_os_litter(path, litter):
    assert is_litter(path) is litter


def test_names_are_compared_in_nfc():
    assert sample_name(f"{CAFE_NFD}.png") == sample_name(f"{CAFE_NFC}.JPG") == CAFE_NFC
    samples = SampleIndex()
    samples.add("", "image", f"{CAFE_NFC}.png", "image-member")
    samples.add("", "mask", f"{CAFE_NFD}.png", "mask-member")  # macOS spelling
    (sample,) = list(samples)
    reasons, chosen = check_files(sample, ["image", "mask"])
    assert reasons == [] and chosen["mask"] == (f"mask/{CAFE_NFD}.png", "mask-member")


def test_two_spellings_of_one_name_in_one_folder_are_named():
    samples = SampleIndex()
    samples.add("", "mask", f"{CAFE_NFC}.png", 1)
    samples.add("", "mask", f"{CAFE_NFD}.png", 2)
    reasons, _ = check_files(next(iter(samples)), ["mask"])
    assert len(reasons) == 1
    assert f"mask: 2 files with the same visible name '{CAFE_NFC}.png' in different Unicode forms" in unicodedata.normalize("NFC", reasons[0])
    assert "'caf\\xe9.png' (composed, NFC)" in reasons[0] and "'cafe\\u0301.png' (decomposed, NFD)" in reasons[0]


def test_two_files_for_one_name_are_ambiguous():
    samples = SampleIndex()
    for filename in ("a.png", "a.jpg"):
        samples.add("", "image", filename, filename)
    samples.add("", "mask", "a.png", "m")
    samples.add("", "image", "notes.txt", "n")
    reasons = {s.name: check_files(s, ["image", "mask"])[0] for s in samples}
    assert reasons["a"] == ["image: 2 files for one sample (a.jpg, a.png)"]
    assert reasons["notes"] == ["image/notes.txt: not a PNG or JPEG file (extension .txt)"]


def test_sample_sizes_are_compared_as_shown():
    """A portrait phone photo stored landscape (EXIF 6) and its mask drawn on it as shown agree."""
    shown = scene(40, 30)
    files = {"photo.jpg": jpeg_with_orientation(shown, 6), "photo.png": png(np.full((40, 30), 255, np.uint8))}
    samples = SampleIndex()
    samples.add("", "image", "photo.jpg", "photo.jpg")
    samples.add("", "mask", "photo.png", "photo.png")
    checked = check_sample(next(iter(samples)), files.__getitem__, {"image": "rgb", "mask": "mask"}, ["image", "mask"],
                           object_mask_kinds=["mask"])
    assert checked.reasons == [] and checked.size == (40, 30)
