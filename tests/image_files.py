"""Builders for the kinds of image files users bring (phone JPEGs with EXIF orientation, 16-bit
scans, palette masks, huge PNGs), shared by the input tests. Import as ``from image_files import ...``
(``tests/`` is on sys.path through its conftest)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112


def scene(height: int = 48, width: int = 48) -> np.ndarray:
    """An RGB picture whose top half differs from its bottom half, so a flip is obvious: a
    bright red block at the top left, a dark floor below."""
    image = np.full((height, width, 3), 200, np.uint8)
    image[height // 2:] = 40
    image[2:height // 3, 2:width // 3] = (230, 30, 30)
    return image


def jpeg_with_orientation(shown: np.ndarray, orientation: int, quality: int = 95) -> bytes:
    """JPEG bytes whose stored pixels, with EXIF ``Orientation`` applied, look like ``shown``."""
    stored = {
        1: shown,
        3: np.rot90(shown, 2),
        6: np.rot90(shown, 1),   # viewers turn it 90 degrees clockwise
        8: np.rot90(shown, -1),  # viewers turn it 90 degrees counter-clockwise
    }[orientation]
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(stored)).save(buffer, format="JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA array."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def png_16bit_grey(values: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG (PIL mode I;16) of ``values`` (uint16)."""
    image = Image.fromarray(values.astype(np.uint16))
    assert image.mode == "I;16"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None = None) -> bytes:
    """A PNG written by hand (PIL cannot write 48-bit RGB): ``rows`` are the unfiltered scanlines
    (default: all zero, which compresses to almost nothing, so a 13500x13500 file is small)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row_bytes = (width * channels * bit_depth + 7) // 8
    if rows is None:
        compressor = zlib.compressobj(9)
        zero_row = b"\0" * (row_bytes + 1)
        data = b"".join(compressor.compress(zero_row) for _ in range(height)) + compressor.flush()
    else:
        assert len(rows) == row_bytes * height
        data = zlib.compress(b"".join(b"\0" + rows[i * row_bytes:(i + 1) * row_bytes] for i in range(height)))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def png_48bit_rgb(rgb8: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG holding ``rgb8`` (uint8 H, W, 3) times 257."""
    height, width, _ = rgb8.shape
    return raw_png(width, height, 16, 2, (rgb8.astype(">u2") * 257).tobytes())


def palette_png(indices: np.ndarray, colours: list[tuple[int, int, int]], transparent: int | None = None) -> bytes:
    """A palette PNG: ``indices`` (uint8 H, W) into ``colours``; optionally one transparent index."""
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices, dtype=np.uint8).tobytes())
    flat = [value for colour in colours for value in colour]
    image.putpalette(flat + [0] * (768 - len(flat)))
    buffer = io.BytesIO()
    if transparent is None:
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="PNG", transparency=transparent)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
