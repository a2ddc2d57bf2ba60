"""Image decoding, encoding and resizing shared by every pipeline.

All images in the project are numpy arrays: RGB as ``uint8 (H, W, 3)``, masks as
``uint8 (H, W)`` holding only 0 and 255. Errors name the file and say what is wrong, so a user
never has to read a traceback from inside an image library.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

MASK_THRESHOLD = 128  # The project's one mask threshold: masks are 0/255; >= 128 counts as "on".
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageError(ValueError):
    """An image file is missing, unreadable or of the wrong kind; the message names it."""


def read_image(source: str | Path | BinaryIO | bytes, *, name: str | None = None) -> np.ndarray:
    """Decode a PNG/JPEG into a uint8 array: (H, W) for grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    ``name`` is what error messages call the file (defaults to the path).
    """
    label = name or str(source if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        with Image.open(source) as img:
            img.load()
            if img.mode in ("L", "RGB", "RGBA"):
                converted = img
            elif img.mode in ("1", "I", "I;16", "I;16B", "I;16L", "F"):
                converted = img.convert("L")
            elif img.mode in ("LA", "PA"):
                converted = img.convert("RGBA")
            else:
                converted = img.convert("RGB")
            array = np.asarray(converted, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: not a readable image ({exc.__class__.__name__}: {exc})") from None
    return array


def encode_png(array: np.ndarray) -> bytes:
    """Encode a uint8 (H, W) or (H, W, 3) array as PNG bytes (lossless)."""
    if array.dtype != np.uint8:
        raise ValueError(f"encode_png expects uint8, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def to_rgb(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB image from grey, RGB or RGBA input."""
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.ndim == 3 and array.shape[2] == 4:
        return array[:, :, :3].copy()
    raise ImageError(f"{name}: expected an RGB image, got array of shape {array.shape}")


def to_binary_mask(array: np.ndarray, *, name: str = "mask") -> tuple[np.ndarray, bool]:
    """Return ``(mask, converted)``: a single-channel 0/255 mask binarised at 128.

    RGB masks are reduced by their mean; RGBA masks use the colour where it is opaque (alpha 0
    counts as background). ``converted`` says whether the input had more than one channel, so
    callers can log it.
    """
    converted = array.ndim == 3
    if array.ndim == 3 and array.shape[2] == 4:
        grey = array[:, :, :3].mean(axis=2) * (array[:, :, 3] >= MASK_THRESHOLD)
    elif array.ndim == 3 and array.shape[2] == 3:
        grey = array.mean(axis=2)
    elif array.ndim == 2:
        grey = array
    else:
        raise ImageError(f"{name}: expected a mask image, got array of shape {array.shape}")
    return np.where(grey >= MASK_THRESHOLD, 255, 0).astype(np.uint8), converted


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
