"""The class palette a label map is painted with, and snapping painted colours to it.

A browser antialiases brush strokes (and this cannot be switched off), so the edge of a stroke
holds blends of two class colours that belong to no class. Every painted pixel is therefore
mapped to the class of its nearest palette colour (Euclidean RGB) before the model sees it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClassPalette:
    """``colours[i]`` (r, g, b) and ``names[i]`` of class ``i``; colours are distinct."""

    colours: tuple[tuple[int, int, int], ...]
    names: tuple[str, ...]

    def hex_colours(self) -> list[str]:
        """``#rrggbb`` of each class, in class order (the brush colours)."""
        return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in self.colours]

    def legend_markdown(self) -> str:
        """One line per class: index, name and colour."""
        return "\n".join(f"- class {i} **{name}**: `{self.hex_colours()[i]}`" for i, name in enumerate(self.names))


def distinct_colours(count: int) -> tuple[tuple[int, int, int], ...]:
    """``count`` distinct colours: the paired report's label colours first (so a painted map
    looks like the report's maps), then evenly spaced hues."""
    import colorsys

    from gan_pipelines.families.paired.nodes.report import LABEL_COLOURS

    colours = [tuple(int(v) for v in c) for c in LABEL_COLOURS[:count]]
    step = 0
    while len(colours) < count:
        r, g, b = colorsys.hsv_to_rgb((step * 0.618034) % 1.0, 0.75, 0.5 + 0.45 * ((step // 7) % 2))
        colour = (round(r * 255), round(g * 255), round(b * 255))
        if colour not in colours:
            colours.append(colour)
        step += 1
    return tuple(colours)  # type: ignore[return-value]


def palette_for(label_meta: Mapping[str, Any] | None, label_nc: int) -> ClassPalette:
    """The palette of a label -> photo checkpoint: the colours its training maps were coded with
    (``meta["labels"]["palette"]``), else display colours; class names from the synthetic scenes
    when the class count is theirs, else ``class <i>``."""
    from gan_pipelines.synthetic import CLASS_NAMES

    palette = (label_meta or {}).get("palette")
    colours = tuple(tuple(int(v) for v in c) for c in palette) if palette else distinct_colours(label_nc)
    names = tuple(CLASS_NAMES) if label_nc == len(CLASS_NAMES) and not palette else tuple(f"class {i}" for i in range(label_nc))
    return ClassPalette(colours, names)  # type: ignore[arg-type]


def snap_to_palette(rgb: np.ndarray, colours: Sequence[Sequence[int]]) -> np.ndarray:
    """Class index of the nearest palette colour (Euclidean RGB) for every pixel.

    ``rgb``: uint8 (H, W, 3); ``colours``: K (r, g, b) colours. Returns uint8 (H, W) in 0..K-1.
    Computed once per distinct colour. Raises ValueError for another shape or an empty palette."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"snap_to_palette expects an (H, W, 3) RGB image, got shape {rgb.shape}")
    if not len(colours):
        raise ValueError("snap_to_palette needs at least one palette colour")
    codes = (rgb[:, :, 0].astype(np.int64) << 16) | (rgb[:, :, 1].astype(np.int64) << 8) | rgb[:, :, 2]
    found, inverse = np.unique(codes.ravel(), return_inverse=True)
    found_rgb = np.stack([found >> 16, (found >> 8) & 255, found & 255], axis=1).astype(np.float64)
    distance = np.linalg.norm(found_rgb[:, None, :] - np.asarray(colours, np.float64)[None], axis=-1)
    return distance.argmin(axis=1)[inverse].reshape(rgb.shape[:2]).astype(np.uint8)


def colourise(labels: np.ndarray, colours: Sequence[Sequence[int]]) -> np.ndarray:
    """uint8 (H, W, 3) picture of class indices ``labels`` (H, W) in the palette's colours."""
    return np.asarray(colours, np.uint8)[np.asarray(labels, np.int64)]
