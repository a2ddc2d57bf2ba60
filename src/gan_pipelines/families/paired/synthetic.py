"""The paired families' embedded data, built from the shared renderer's per-pixel buffers.

* pix2pix, pix2pixhd, spade, spade_vae (:data:`layout.LABEL_TO_PHOTO`): ``label_map`` (class
  index per pixel), ``instance_map`` and the rendered ``picture``.
* sketch2color: ``line_art`` (silhouettes + crease lines from the scene geometry, ground left
  blank), ``xdog_sketch`` (an XDoG sketch of the picture: a second sketch style), the
  ``picture`` and its ``label_map`` (for the segmentation score), plus a small real-photo test
  split from scikit-image's bundled photos (Canny lines as ``line_art``, XDoG as ``xdog_sketch``).

``appearance`` (``palette``): ``per_class`` fixes each object class's albedo, draws the ground
from two textures in one colour and the light from a narrow sector, so the picture is nearly a function of
the label map and per-pixel metrics mean something; ``random_objects`` is ``per_class`` with a
random colour for every object (one map has many right pictures, but only in the objects:
SPADE+VAE's default data); ``random`` keeps the renderer's random colours, all textures
(photos included) and any light (multi-modal everywhere, and much harder).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from gan_pipelines.families.paired.layout import LABEL_TO_PHOTO

PALETTES = ("per_class", "random_objects", "random")
# per_class: what the renderer gets on top of the user's synthetic settings (they may override).
PER_CLASS_SCENES = {
    "object_colours": "per_kind",
    # two ground patterns, always in one colour at half contrast: the ground's look is fixed
    "ground_textures": ("grass", "gravel"),
    "ground_tint": (0.55, 0.5, 0.4),
    "ground_contrast": 0.5,
    "light_azimuth_deg": (210.0, 240.0),
    "light_elevation_deg": (45.0, 55.0),
    "ambient": (0.4, 0.45),
}
# random_objects: the same ground and light, but every object keeps the renderer's random colour.
RANDOM_OBJECT_SCENES = {**PER_CLASS_SCENES, "object_colours": "random"}
PALETTE_SCENES = {"per_class": PER_CLASS_SCENES, "random_objects": RANDOM_OBJECT_SCENES, "random": {}}
# Photos that ship inside the scikit-image wheel (no download), colour ones only.
REAL_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")
CREASE_DEGREES = 35.0


def synthetic_config(params: Mapping[str, Any], section: str):
    """The renderer config for ``<section>`` = ``{palette, ...SyntheticConfig keys}``."""
    from gan_pipelines.synthetic import SyntheticConfig

    params = dict(params or {})
    palette = params.pop("palette", "per_class")
    if palette not in PALETTES:
        raise ValueError(f"{section}.palette must be one of {', '.join(PALETTES)}; got {palette!r}")
    settings = {**PALETTE_SCENES[palette], **params}
    return SyntheticConfig.from_params(settings, section=section), palette


# ---------------------------------------------------------------------------------------------
# line extraction
# ---------------------------------------------------------------------------------------------


def _neighbour_pairs(array: np.ndarray):
    """(a, b, where-a, where-b) for horizontal and vertical 4-neighbour pairs."""
    yield array[:, :-1], array[:, 1:], (slice(None), slice(0, -1)), (slice(None), slice(1, None))
    yield array[:-1, :], array[1:, :], (slice(0, -1), slice(None)), (slice(1, None), slice(None))


def geometry_lines(scene) -> np.ndarray:
    """Bool ``(H, W)`` line pixels of a rendered scene: silhouettes (the object id changes and one
    side is an object; the nearer side gets the line) and creases (neighbouring pixels of one
    object whose surface normals differ by more than ``CREASE_DEGREES``). Ground and sky carry
    no lines."""
    buffers = scene.buffers
    object_id, depth = buffers.object_id, buffers.depth
    height, width = object_id.shape
    dirs = scene.camera.ray_directions().reshape(height, width, 3)
    finite_depth = np.where(np.isfinite(depth), depth, 0.0)
    points = scene.camera.position[None, None, :] + dirs * finite_depth[..., None]
    normals = np.zeros((height, width, 3))
    for index, obj in enumerate(scene.objects):
        on = object_id == index
        if on.any():
            normals[on] = obj.normal(points[on])
    lines = np.zeros((height, width), bool)
    cos_limit = math.cos(math.radians(CREASE_DEGREES))
    for a, b, where_a, where_b in _neighbour_pairs(object_id):
        da, db = depth[where_a], depth[where_b]
        silhouette = (a != b) & ((a >= 0) | (b >= 0))
        a_nearer = silhouette & ((b < 0) | ((a >= 0) & (da <= db)))
        lines[where_a] |= a_nearer
        lines[where_b] |= silhouette & ~a_nearer
        na, nb = normals[where_a], normals[where_b]
        crease = (a == b) & (a >= 0) & ((na * nb).sum(axis=-1) < cos_limit)
        lines[where_a] |= crease
    return lines


def lines_to_rgb(lines: np.ndarray) -> np.ndarray:
    """Black lines on white, uint8 ``(H, W, 3)``."""
    grey = np.where(lines, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def xdog_sketch(picture: np.ndarray, sigma: float = 0.7, k: float = 1.6, tau: float = 0.98,
                epsilon: float = -0.005, phi: float = 200.0) -> np.ndarray:
    """XDoG sketch (Winnemoeller et al. 2012) of an RGB uint8 picture: ``D = G_sigma - tau *
    G_{k sigma}`` of the grey image in [0, 1]; white where ``D >= epsilon``, else
    ``1 + tanh(phi (D - epsilon))``. Returns uint8 ``(H, W, 3)`` grey."""
    from skimage.color import rgb2gray
    from skimage.filters import gaussian

    grey = rgb2gray(picture)
    difference = gaussian(grey, sigma=sigma) - tau * gaussian(grey, sigma=k * sigma)
    tone = np.where(difference >= epsilon, 1.0, 1.0 + np.tanh(phi * (difference - epsilon)))
    values = np.clip(np.rint(tone * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(values[:, :, None], 3, axis=2)


def photo_lines(picture: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Line art of a real photo (no geometry): Canny edges of its grey image, as black on white."""
    from skimage.color import rgb2gray
    from skimage.feature import canny

    return lines_to_rgb(canny(rgb2gray(picture), sigma=sigma))


# ---------------------------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------------------------


def scene_sample(scene, family: str) -> dict[str, np.ndarray]:
    """The images of one scene for ``family`` (kinds of :data:`layout.FAMILY_KINDS`)."""
    buffers = scene.buffers
    label_map = buffers.class_id.astype(np.uint8)
    picture = buffers.colour
    if family in LABEL_TO_PHOTO:
        return {"label_map": label_map, "instance_map": buffers.instance_id.astype(np.uint8), "picture": picture}
    return {
        "line_art": lines_to_rgb(geometry_lines(scene)),
        "xdog_sketch": xdog_sketch(picture),
        "picture": picture,
        "label_map": label_map,
    }


def render_split(config, family: str, split: str) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """``(name, images)`` for every scene of ``split``, lazily and deterministically."""
    from gan_pipelines.synthetic import render_split_scenes

    for name, scene in render_split_scenes(config, split):
        yield name, scene_sample(scene, family)


def real_photo_samples(resolution: int) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """scikit-image's bundled colour photos, centre-cropped square and resized to ``resolution``,
    with ``line_art`` (Canny) and ``xdog_sketch`` like the synthetic data."""
    import skimage.data

    from gan_pipelines.images import resize_image

    for name in REAL_PHOTOS:
        photo = np.asarray(getattr(skimage.data, name)())[:, :, :3]
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        picture = resize_image(np.ascontiguousarray(photo[top:top + side, left:left + side]), (resolution, resolution))
        yield name, {"line_art": photo_lines(picture), "xdog_sketch": xdog_sketch(picture), "picture": picture}
