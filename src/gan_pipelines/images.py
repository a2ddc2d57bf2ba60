"""Image decoding, encoding and resizing shared by every pipeline: the project's one decoder.

All images in the project are numpy arrays: RGB as ``uint8 (H, W, 3)``, masks as
``uint8 (H, W)`` holding only 0 and 255, label maps as integer ``(H, W)`` class indices. Errors
name the file and say what is wrong, so a user never has to read a traceback from inside an
image library.

Every file is decoded by :func:`decode` (through :func:`read_image`, :func:`read_mask` or
:func:`read_labels`), which applies the same rules everywhere:

* **Orientation**: an EXIF ``Orientation`` tag (phone photos) is applied, so an image is used
  as any viewer shows it; the stored pixel order never reaches a pipeline.
* **Bit depth**: 16-bit grey is scaled to 8 bits by keeping the high byte (``value // 256``,
  exact for 8-bit values stored times 257), as the decoder already does for 16-bit-per-channel
  RGB(A); never clipped. 32-bit integer and floating-point images are refused by name.
  Label maps keep their values exactly (8 or 16 bits), never scaled.
* **Size**: at most :data:`MAX_IMAGE_PIXELS` pixels (width x height), checked from the file's
  header before anything is decoded; larger files are refused by name ("image too large").
* **Masks** (:func:`read_mask`, :func:`to_binary_mask`): a pixel is part of the mask when it is
  "not background" -- see :data:`MASK_RULE`.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

MASK_THRESHOLD = 128  # The project's one mask threshold: masks are 0/255; >= 128 counts as "on".
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# The largest image any entry point decodes (ingest, preprocess, predict, image-folder loads):
# PIL's own decompression-bomb warning limit, about 9459 x 9459 (89.5 megapixels). A decoded
# image of that size is 268 MB as uint8 RGB; full-resolution prediction needs a few times that.
MAX_IMAGE_PIXELS = 89_478_485

MASK_RULE = (
    "a mask pixel is 'on' (part of the object) when it is not background: in a palette image, "
    "when its palette index is not 0 (and not transparent); in an image with transparency, "
    "when it is opaque (alpha >= 128), whatever its colour; otherwise when its brightest colour "
    f"channel is >= {MASK_THRESHOLD} of 255 (16-bit values scaled to 8 bits first), except in "
    "masks holding only the values 0 and 1, where 1 is on"
)

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_EXIF_ORIENTATION = 0x0112


class ImageError(ValueError):
    """An image file is missing, unreadable or of the wrong kind; the message names it."""


class EmptyMaskError(ImageError):
    """A mask that must mark an object marks nothing; ``shape`` is the mask's (H, W)."""

    def __init__(self, message: str, shape: tuple[int, int]) -> None:
        super().__init__(message)
        self.shape = shape


def _label(source: object, name: str | None) -> str:
    if name:
        return name
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


def decode(source: str | Path | BinaryIO | bytes, *, name: str | None = None) -> Image.Image:
    """Open, size-check, decode and orient one PNG/JPEG (any format PIL reads): the one decoder.

    Returns a loaded PIL image, detached from the file, with any EXIF orientation applied (so
    its size is the size a viewer shows) and its mode as decoded (``L``, ``I;16``, ``P``, ``RGB``,
    ...). Most callers want :func:`read_image`, :func:`read_mask` or :func:`read_labels`.

    Raises :class:`ImageError` naming the file (``name``, default the path): not found, not a
    readable image (corrupt, truncated, empty), or more than :data:`MAX_IMAGE_PIXELS` pixels.
    """
    label = _label(source, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        with Image.open(source) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _too_large(label, width * height, f"{width}x{height} = ")
            img.load()
            _apply_orientation(img, label)
            return img  # pixels are in memory: closing the file leaves them usable
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except Image.DecompressionBombError as exc:  # PIL's own check, in open(), at twice our limit
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(label, int(found.group(1)) if found else None) from None
    except MemoryError:
        raise ImageError(f"{label}: image too large to decode (out of memory)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{label}: not a readable image ({exc.__class__.__name__}: {exc})") from None


def _too_large(label: str, pixels: int | None, size: str = "") -> ImageError:
    found = f"{size}{pixels / 1e6:.1f} megapixels; " if pixels else ""
    return ImageError(
        f"{label}: image too large to decode ({found}the limit is {MAX_IMAGE_PIXELS / 1e6:.1f} megapixels, "
        f"e.g. 9459x9459). Downscale it first."
    )


def _apply_orientation(img: Image.Image, label: str) -> None:
    """Transpose ``img`` in place as its EXIF Orientation says (no-op without one)."""
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception as exc:  # a damaged EXIF block must not cost the user the image
        logger.warning("%s: unreadable EXIF data (%s); using the image as stored", label, exc)
        return
    if orientation not in (None, 1):
        ImageOps.exif_transpose(img, in_place=True)


def _scaled_to_8_bits(img: Image.Image, label: str) -> np.ndarray:
    """(H, W) uint8 from a 16-bit or 32-bit-integer single-channel image (high byte kept)."""
    values = np.asarray(img)
    if img.mode == "I":  # some PIL versions decode 16-bit PNGs as 32-bit integers
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"{label}: 32-bit integer image (values {values.min()}..{values.max()}); only 8 and "
                f"16 bits per channel are read. Save it as an 8- or 16-bit PNG."
            )
    return (values.astype(np.uint32) >> 8).astype(np.uint8)


def _to_array(img: Image.Image, label: str) -> np.ndarray:
    """uint8 (H, W), (H, W, 3) or (H, W, 4) from a decoded image of any mode."""
    mode = img.mode
    if mode in ("L", "RGB", "RGBA"):
        return np.array(img, dtype=np.uint8)
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        return _scaled_to_8_bits(img, label)
    if mode == "F":
        raise ImageError(f"{label}: floating-point image; only 8 and 16 bits per channel are read")
    if mode == "1":
        return np.array(img.convert("L"), dtype=np.uint8)
    if mode in ("LA", "La", "PA", "RGBa") or (mode == "P" and "transparency" in img.info):
        return np.array(img.convert("RGBA"), dtype=np.uint8)
    return np.array(img.convert("RGB"), dtype=np.uint8)  # P, CMYK, YCbCr, LAB, HSV


def read_image(source: str | Path | BinaryIO | bytes, *, name: str | None = None) -> np.ndarray:
    """Decode a PNG/JPEG into a uint8 array as a viewer shows it: (H, W) grey, (H, W, 3) RGB or
    (H, W, 4) RGBA (see the module docstring for orientation, bit depth and size).

    ``name`` is what error messages call the file (defaults to the path). Raises
    :class:`ImageError` naming it.
    """
    label = _label(source, name)
    return _to_array(decode(source, name=label), label)


def encode_png(array: np.ndarray) -> bytes:
    """Encode a uint8 (H, W) or (H, W, 3) array as PNG bytes (lossless)."""
    if array.dtype != np.uint8:
        raise ValueError(f"encode_png expects uint8, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def to_rgb(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB image from grey, RGB or RGBA input (alpha dropped)."""
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.ndim == 3 and array.shape[2] == 4:
        return array[:, :, :3].copy()
    raise ImageError(f"{name}: expected an RGB image, got array of shape {array.shape}")


def to_binary_mask(array: np.ndarray, *, name: str = "mask") -> tuple[np.ndarray, str | None]:
    """Return ``(mask, how)``: a single-channel uint8 0/255 mask by :data:`MASK_RULE`.

    ``array``: uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA (as :func:`read_image`
    returns; palette files are read by index in :func:`read_mask`). ``how`` says what was
    converted, so callers can log it: None (already a 0/255 mask), ``"zero_one"`` (a 0/1 mask),
    ``"grey"`` (other grey values, e.g. JPEG artefacts), ``"colour"`` (RGB or opaque RGBA) or
    ``"alpha"`` (transparency marks the background). Raises :class:`ImageError` for other shapes.
    """
    if array.ndim == 3 and array.shape[2] == 4 and (array[:, :, 3] < 255).any():
        return np.where(array[:, :, 3] >= MASK_THRESHOLD, 255, 0).astype(np.uint8), "alpha"
    if array.ndim == 3 and array.shape[2] in (3, 4):
        values, how = array[:, :, :3].max(axis=2), "colour"
    elif array.ndim == 2:
        values, how = array, None
    else:
        raise ImageError(f"{name}: expected a mask image, got array of shape {array.shape}")
    if values.size and values.max() == 1:  # a mask of only 0 and 1
        return (values * 255).astype(np.uint8), how or "zero_one"
    mask = np.where(values >= MASK_THRESHOLD, 255, 0).astype(np.uint8)
    if how is None and not np.array_equal(mask, values):
        how = "grey"
    return mask, how


def read_mask(
    source: str | Path | BinaryIO | bytes, *, name: str | None = None, allow_empty: bool = True
) -> tuple[np.ndarray, str | None]:
    """Decode a mask file into ``(mask, how)``: uint8 (H, W) 0/255 by :data:`MASK_RULE`, as
    shown (EXIF orientation applied), and how it was converted (see :func:`to_binary_mask`;
    ``"palette"`` for palette files, read by index).

    ``allow_empty=False`` raises :class:`EmptyMaskError` naming the file when no pixel is on
    (for masks that must mark an object). Other errors as :func:`decode`.
    """
    label = _label(source, name)
    img = decode(source, name=label)
    if img.mode in ("P", "PA"):
        indices = np.asarray(img if img.mode == "P" else img.getchannel("P"))
        on = indices != 0
        alpha = _palette_alpha(img)
        if alpha is not None:
            on &= alpha[indices] >= MASK_THRESHOLD
        if img.mode == "PA":
            on &= np.asarray(img.getchannel("A")) >= MASK_THRESHOLD
        mask, how = np.where(on, 255, 0).astype(np.uint8), "palette"
    elif img.mode in _SIXTEEN_BIT_MODES or img.mode == "I":
        raw = np.asarray(img)
        if raw.size and raw.min() >= 0 and raw.max() == 1:  # a 0/1 mask stored in 16 bits
            mask, how = (raw * 255).astype(np.uint8), "zero_one"
        else:
            mask, how = to_binary_mask(_scaled_to_8_bits(img, label), name=label)
    else:
        mask, how = to_binary_mask(_to_array(img, label), name=label)
    if not allow_empty and not mask.any():
        raise EmptyMaskError(
            f"{label}: the mask is empty: no pixel marks the object ({_why_empty(img, label)})", mask.shape
        )
    return mask, how


def _palette_alpha(img: Image.Image) -> np.ndarray | None:
    """Alpha (256,) of each palette index, or None when the palette has no transparency."""
    transparency = img.info.get("transparency")
    if transparency is None:
        return None
    alpha = np.full(256, 255, dtype=np.uint8)
    if isinstance(transparency, int):
        alpha[transparency] = 0
    else:
        values = np.frombuffer(bytes(transparency), dtype=np.uint8)[:256]
        alpha[: values.size] = values
    return alpha


def _why_empty(img: Image.Image, label: str) -> str:
    if img.mode in ("P", "PA"):
        return "every pixel has palette index 0 or is transparent"
    values = _to_array(img, label)
    if values.ndim == 3 and values.shape[2] == 4 and (values[:, :, 3] < 255).any():
        return f"every pixel is transparent (alpha < {MASK_THRESHOLD})"
    brightest = int(values[..., :3].max()) if values.size else 0
    if brightest == 0:
        return "every pixel is black"
    return (f"its brightest value is {brightest} of 255; the object must be >= {MASK_THRESHOLD} "
            "(white on black), or 1 in a mask of only 0 and 1")


def read_labels(
    source: str | Path | BinaryIO | bytes,
    *,
    name: str | None = None,
    colours: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """Decode a label map (class or instance index per pixel) into an integer (H, W) array, as
    shown (EXIF orientation applied); values are kept exactly, never thresholded or scaled.

    Accepted: grey PNG (8 or 16 bits), palette PNG (the palette index is the label), 1-bit PNG
    (0/1), RGB(A) files whose channels are all equal and fully opaque, and colour-coded RGB files
    when ``colours`` gives the colour of each class (``colours[i] = (r, g, b)`` of class ``i``).
    Returns ``uint8`` when every value is <= 255, else ``int32``.

    Raises :class:`ImageError` naming the file for JPEG (lossy compression changes the indices),
    a colour-coded map without ``colours`` or with colours not in it (listed with pixel counts),
    transparency, negative or floating-point values, and the errors of :func:`decode`.
    """
    label = _label(source, name)
    img = decode(source, name=label)
    if img.format == "JPEG":
        raise ImageError(f"{label}: label maps must be lossless (PNG); JPEG compression changes the class indices")
    mode = img.mode
    if mode == "P":
        values = np.asarray(img)
    elif mode in ("1", "L"):
        values = np.asarray(img).astype(np.uint8)
    elif mode in _SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(img).astype(np.int64)
        if values.size and values.min() < 0:
            raise ImageError(f"{label}: label map with negative values ({values.min()})")
    elif mode in ("RGB", "RGBA", "LA"):
        array = np.asarray(img)
        if mode in ("RGBA", "LA") and (array[:, :, -1] < 255).any():
            raise ImageError(f"{label}: label map with transparency; save class indices as a grey or palette PNG")
        rgb = array[:, :, :-1] if mode in ("RGBA", "LA") else array
        if colours is not None and rgb.shape[2] == 3:
            values = _labels_from_colours(rgb, colours, label)
        elif (rgb == rgb[:, :, :1]).all():
            values = rgb[:, :, 0]
        else:
            raise ImageError(
                f"{label}: colour-coded label map (channels differ) and no colour table was given; save "
                f"class indices as a grey or palette PNG, or give each class's colour"
            )
    else:
        raise ImageError(f"{label}: a {mode} image is not a label map; save class indices as a grey or palette PNG")
    if values.size and values.max() <= 255:
        return np.ascontiguousarray(values, dtype=np.uint8)
    return np.ascontiguousarray(values, dtype=np.int32)


def _labels_from_colours(rgb: np.ndarray, colours: Sequence[Sequence[int]], label: str) -> np.ndarray:
    codes = (rgb[:, :, 0].astype(np.int64) << 16) | (rgb[:, :, 1].astype(np.int64) << 8) | rgb[:, :, 2]
    table = {(int(r) << 16) | (int(g) << 8) | int(b): index for index, (r, g, b) in enumerate(colours)}
    found, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    unknown = [(int(code), int(count)) for code, count in zip(found, counts) if int(code) not in table]
    if unknown:
        shown = ", ".join(f"({c >> 16}, {(c >> 8) & 255}, {c & 255}) x{n}" for c, n in unknown[:5])
        total = sum(n for _, n in unknown)
        raise ImageError(f"{label}: {total} pixels have colours that are not in the colour table: {shown}")
    lookup = np.array([table[int(code)] for code in found], dtype=np.int64)
    return lookup[inverse].reshape(codes.shape)


def resize_image(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB image to ``size = (height, width)``: area averaging when shrinking
    (no aliasing), bilinear when enlarging."""
    height, width = size
    if array.shape[:2] == (height, width):
        return array
    shrinking = height * width < array.shape[0] * array.shape[1]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(array).resize((width, height), resample=resample))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 0/255 mask with nearest-neighbour sampling and re-binarise at 128."""
    height, width = size
    if mask.shape[:2] != (height, width):
        mask = np.asarray(
            Image.fromarray(mask).resize((width, height), resample=Image.Resampling.NEAREST)
        )
    return np.where(mask >= MASK_THRESHOLD, 255, 0).astype(np.uint8)


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an integer label map (class or instance indices, (H, W)) to ``size = (height,
    width)`` with nearest-neighbour sampling; values are kept exactly, never thresholded."""
    height, width = size
    if labels.ndim != 2:
        raise ValueError(f"resize_labels expects an (H, W) label map, got shape {labels.shape}")
    if labels.shape == (height, width):
        return labels
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"resize_labels expects integer labels, got dtype {labels.dtype}")
    # PIL's NEAREST on 32-bit integers: the same sampling as masks get, values untouched.
    resized = Image.fromarray(labels.astype(np.int32)).resize((width, height), resample=Image.Resampling.NEAREST)
    return np.asarray(resized).astype(labels.dtype)
