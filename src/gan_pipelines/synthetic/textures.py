"""Ground textures for the synthetic renderer: photos that ship inside scikit-image plus
procedural patterns, with colour jitter and a mip pyramid so that distant ground does not alias.

Why photos: a shadow model trained only on flat or procedural ground learns "dark = shadow";
real-looking clutter (grass, gravel, brick, a cat...) forces it to use the light direction and
the masks instead. Every photo listed here loads from the scikit-image wheel itself (no pooch,
no network); names that need a download (``lily``, ``kidney``, ``skin``...) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# skimage.data loaders that read a file bundled with the package (checked with skimage 0.26).
PHOTO_TEXTURES: tuple[str, ...] = (
    "grass",
    "gravel",
    "brick",
    "coffee",
    "astronaut",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "moon",
    "immunohistochemistry",
    "clock",
)
PROCEDURAL_TEXTURES: tuple[str, ...] = ("checkerboard", "stripes", "noise")
TEXTURE_NAMES: tuple[str, ...] = PHOTO_TEXTURES + PROCEDURAL_TEXTURES

_PROCEDURAL_SIZE = 256


@lru_cache(maxsize=None)
def _load_photo(name: str) -> np.ndarray:
    """Load a bundled scikit-image photo once per process as float32 in [0, 1], (H, W) or (H, W, 3)."""
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.dtype == bool:
        image = image.astype(np.float32)
    elif image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    else:
        image = image.astype(np.float32)
        image = (image - image.min()) / max(float(image.max() - image.min()), 1e-6)
    if image.ndim == 3:
        image = image[:, :, :3]
    image.setflags(write=False)
    return image


def _random_colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> np.ndarray:
    """An RGB colour from a random hue and the given saturation/value ranges (HSV -> RGB)."""
    hue = rng.uniform(0.0, 1.0)
    sat = rng.uniform(*saturation)
    val = rng.uniform(*value)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    return (val - val * sat * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, octaves: int = 4) -> np.ndarray:
    """Value noise in [0, 1]: bilinearly upsampled random grids of doubling frequency."""
    out = np.zeros((size, size), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cells = 3 * 2**octave
        grid = rng.uniform(0.0, 1.0, size=(cells + 1, cells + 1)).astype(np.float32)
        coords = np.linspace(0.0, cells, size, endpoint=False, dtype=np.float32)
        i0 = coords.astype(np.int64)
        f = coords - i0
        rows = grid[i0] * (1.0 - f)[:, None] + grid[i0 + 1] * f[:, None]
        layer = rows[:, i0] * (1.0 - f)[None, :] + rows[:, i0 + 1] * f[None, :]
        weight = 0.55**octave
        out += weight * layer
        weight_sum += weight
    out /= weight_sum
    return (out - out.min()) / max(float(out.max() - out.min()), 1e-6)


def _procedural(name: str, rng: np.random.Generator) -> np.ndarray:
    """A procedural RGB texture in [0, 1] of size ``_PROCEDURAL_SIZE`` squared."""
    size = _PROCEDURAL_SIZE
    colour_a = _random_colour(rng, (0.1, 0.6), (0.55, 0.95))
    colour_b = _random_colour(rng, (0.1, 0.6), (0.3, 0.7))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if name == "checkerboard":
        cells = int(rng.integers(4, 13))
        cell = size / cells
        pattern = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)
    elif name == "stripes":
        period = size / int(rng.integers(4, 16))
        phase = 2.0 * np.pi * (xx / period)
        if rng.uniform() < 0.5:
            pattern = (np.sin(phase) > 0).astype(np.float32)
        else:
            pattern = 0.5 + 0.5 * np.sin(phase).astype(np.float32)
    elif name == "noise":
        pattern = _smooth_noise(rng, size)
    else:  # pragma: no cover - names are validated by the config
        raise ValueError(f"unknown procedural texture {name!r}")
    return colour_a[None, None, :] * pattern[:, :, None] + colour_b[None, None, :] * (1.0 - pattern[:, :, None])


def _jitter_photo(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random crop, tint (grey photos), contrast and per-channel gain of a photo, as RGB float32."""
    height, width = photo.shape[:2]
    side = int(min(height, width) * rng.uniform(0.6, 1.0))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = photo[top : top + side, left : left + side]
    if crop.ndim == 2:
        tint = _random_colour(rng, (0.05, 0.45), (0.9, 1.0))
        crop = crop[:, :, None] * (tint / tint.mean())[None, None, :]
    else:
        crop = crop.astype(np.float32, copy=True)
        if rng.uniform() < 0.5:  # partial desaturation keeps some photos from dominating by colour
            grey = crop.mean(axis=2, keepdims=True)
            amount = rng.uniform(0.2, 0.8)
            crop = grey + (1.0 - amount) * (crop - grey)
    return crop.astype(np.float32)


def _normalise_albedo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Squeeze contrast and set the mean so the ground stays mid-bright: cast shadows must remain
    the darkest, most visible feature, not the texture's own dark patches."""
    mean = image.mean(axis=(0, 1), keepdims=True)
    contrast = rng.uniform(0.45, 0.9)
    image = mean + contrast * (image - mean)
    gain = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    image = image * gain[None, None, :]
    target = rng.uniform(0.45, 0.7)
    image = image * (target / max(float(image.mean()), 1e-3))
    return np.clip(image, 0.04, 1.0).astype(np.float32)


def _mip_pyramid(image: np.ndarray, min_side: int = 8) -> list[np.ndarray]:
    """Halve by 2x2 box filtering until the smaller side is below ``min_side``."""
    levels = [image]
    while min(levels[-1].shape[:2]) >= 2 * min_side:
        prev = levels[-1]
        h, w = (prev.shape[0] // 2) * 2, (prev.shape[1] // 2) * 2
        prev = prev[:h, :w]
        levels.append(0.25 * (prev[0::2, 0::2] + prev[1::2, 0::2] + prev[0::2, 1::2] + prev[1::2, 1::2]))
    return levels


def _reflect(coord: np.ndarray, size: int) -> np.ndarray:
    """Mirrored repeat of a continuous texel coordinate into ``[0, size]``, so tiling a photo
    leaves no visible seams."""
    m = np.mod(coord, 2.0 * size)
    return np.where(m < size, m, 2.0 * size - m)


def _bilinear(level: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear lookup with mirrored repeat; ``u`` columns and ``v`` rows in texel units."""
    height, width = level.shape[:2]
    x = _reflect(u, width) - 0.5
    y = _reflect(v, height) - 0.5
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0).astype(np.float32)[:, None]
    fy = (y - y0).astype(np.float32)[:, None]
    xa = np.clip(x0, 0, width - 1).astype(np.intp)
    xb = np.clip(x0 + 1, 0, width - 1).astype(np.intp)
    ya = np.clip(y0, 0, height - 1).astype(np.intp) * width
    yb = np.clip(y0 + 1, 0, height - 1).astype(np.intp) * width
    flat = level.reshape(-1, level.shape[2])
    top = flat.take(ya + xa, axis=0) * (1.0 - fx) + flat.take(ya + xb, axis=0) * fx
    bottom = flat.take(yb + xa, axis=0) * (1.0 - fx) + flat.take(yb + xb, axis=0) * fx
    return top * (1.0 - fy) + bottom * fy


@dataclass(frozen=True, eq=False)
class GroundTexture:
    """A jittered texture laid on the ground plane by a random similarity transform.

    ``texels_per_unit`` sets the scale, ``angle`` the rotation and ``offset`` the translation
    of ground (x, y) into level-0 texel coordinates.
    """

    name: str
    levels: tuple[np.ndarray, ...]
    texels_per_unit: float
    angle: float
    offset: tuple[float, float]

    def sample(self, x: np.ndarray, y: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """RGB albedo (N, 3) at ground points ``(x, y)``.

        ``footprint`` is the ground length one pixel covers there (same units as x, y); it picks
        the mip level (trilinear blend) so far-away ground is averaged instead of aliased.
        """
        cos_a, sin_a = np.cos(self.angle), np.sin(self.angle)
        u = self.texels_per_unit * (cos_a * x - sin_a * y) + self.offset[0]
        v = self.texels_per_unit * (sin_a * x + cos_a * y) + self.offset[1]
        lod = np.log2(np.maximum(footprint * self.texels_per_unit, 1.0))
        lod = np.clip(lod, 0.0, len(self.levels) - 1.0)
        base = np.floor(lod).astype(np.int64)
        frac = (lod - base).astype(np.float32)
        out = np.empty((x.shape[0], 3), np.float32)
        for level_index in np.unique(base):
            sel = np.flatnonzero(base == level_index)
            scale = 0.5**level_index
            colour = _bilinear(self.levels[level_index], u[sel] * scale, v[sel] * scale)
            if level_index + 1 < len(self.levels):
                upper = _bilinear(self.levels[level_index + 1], u[sel] * scale * 0.5, v[sel] * scale * 0.5)
                w = frac[sel][:, None]
                colour = colour * (1.0 - w) + upper * w
            out[sel] = colour
        return out


def make_ground_texture(name: str, rng: np.random.Generator) -> GroundTexture:
    """Build the named texture with random crop, colour jitter, scale, rotation and offset.

    One texture width spans 3-9 ground units, so photos keep recognisable structure at the
    distances the camera sees while objects (about 1 unit) stay larger than texture details.
    """
    if name in PROCEDURAL_TEXTURES:
        image = _procedural(name, rng)
    elif name in PHOTO_TEXTURES:
        image = _jitter_photo(_load_photo(name), rng)
    else:
        raise ValueError(f"unknown ground texture {name!r}; known: {', '.join(TEXTURE_NAMES)}")
    image = _normalise_albedo(image, rng)
    extent = rng.uniform(3.0, 9.0)
    texels_per_unit = image.shape[1] / extent
    angle = rng.uniform(0.0, 2.0 * np.pi)
    offset = (rng.uniform(0.0, image.shape[1]), rng.uniform(0.0, image.shape[0]))
    return GroundTexture(
        name=name,
        levels=tuple(_mip_pyramid(image)),
        texels_per_unit=float(texels_per_unit),
        angle=float(angle),
        offset=(float(offset[0]), float(offset[1])),
    )
