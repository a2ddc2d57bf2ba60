"""Synthetic Shadow-AR samples for the shadow family, built from the family-free renderer.

The scene's focus object is the *inserted* object, the other objects are the *real* objects
(occluders) of Shadow-AR. Each scene gives the five Shadow-AR images plus the exact mask of the
inserted object's own cast shadow:

=============== ================================================ ===================
kind            meaning                                          from the buffers
=============== ================================================ ===================
``noshadow``    RGB, inserted object without its cast shadow     ``colour_without_focus_shadow``
``shadow``      RGB, inserted object with its cast shadow        ``colour``
``mask``        inserted object's pixels                         ``object_id == FOCUS_ID``
``robject``     real objects' pixels                             ``object_id > FOCUS_ID``
``rshadow``     real objects' cast shadows                       ``others_shadow``
``shadow_mask`` pixels the inserted object's shadow changes      ``focus_shadow``
=============== ================================================ ===================

RGB images are uint8 ``(H, W, 3)``, masks uint8 ``(H, W)`` holding 0 or 255.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gan_pipelines.synthetic import FOCUS_ID, Scene, SyntheticConfig, render_split_scenes

# The five Shadow-AR kinds, then the exact mask of the inserted object's own shadow.
SHADOW_AR_KINDS: tuple[str, ...] = ("noshadow", "shadow", "mask", "robject", "rshadow", "shadow_mask")


def _as_mask(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, 255, 0).astype(np.uint8)


def shadow_ar_images(scene: Scene) -> dict[str, np.ndarray]:
    """The six Shadow-AR images of one rendered scene, keyed by ``SHADOW_AR_KINDS``."""
    buffers = scene.buffers
    return {
        "noshadow": buffers.colour_without_focus_shadow,
        "shadow": buffers.colour,
        "mask": _as_mask(buffers.object_id == FOCUS_ID),
        "robject": _as_mask(buffers.object_id > FOCUS_ID),
        "rshadow": _as_mask(buffers.others_shadow),
        "shadow_mask": _as_mask(buffers.focus_shadow),
    }


def render_shadow_ar_split(config: SyntheticConfig, split: str) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """Yield ``(name, images)`` for every scene of ``split`` ("train" or "test"), lazily: names
    ``scene_00000``, ``scene_00001``..., images as :func:`shadow_ar_images`. Same seeds, same
    bytes as the renderer's ``render_split_scenes``; an unknown split raises ValueError at once."""
    scenes = render_split_scenes(config, split)
    return ((name, shadow_ar_images(scene)) for name, scene in scenes)
