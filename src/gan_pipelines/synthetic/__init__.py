"""Synthetic scenes: a seeded numpy ray caster of simple scenes lit by one light, family-free.

A scene in, per-pixel buffers out::

    config = SyntheticConfig.from_params(params, section="<family>.ingest.synthetic")
    for name, scene in render_split_scenes(config, "train"):
        scene.buffers.colour, scene.buffers.object_id, scene.buffers.focus_shadow, ...

``render_scene(config, scene_seed(config, split, index))`` renders one scene alone, with the same
bytes; ``relight_scene(scene, seed=..., light_elevation_deg=..., ...)`` renders that scene's
geometry again under another light, ground or object colours. See :class:`SceneBuffers` for the buffers and ``CLASS_NAMES`` for the classes; model
families build their own samples from them (never the other way round).
"""

from gan_pipelines.synthetic.renderer import (
    BUFFER_NAMES,
    CLASS_IDS,
    CLASS_NAMES,
    FOCUS_ID,
    GROUND_ID,
    KIND_ALBEDO,
    MATERIALS,
    OBJECT_COLOURS,
    OBJECT_KINDS,
    OTHERS_SHADOW_MIN_BLOCKED,
    SKY_ID,
    SPLITS,
    Camera,
    Material,
    Scene,
    SceneBuffers,
    SceneObject,
    SyntheticConfig,
    light_direction,
    relight_scene,
    render_scene,
    render_split_scenes,
    scene_name,
    scene_seed,
)
from gan_pipelines.synthetic.textures import PHOTO_TEXTURES, PROCEDURAL_TEXTURES, TEXTURE_NAMES

__all__ = [
    "BUFFER_NAMES",
    "CLASS_IDS",
    "CLASS_NAMES",
    "FOCUS_ID",
    "GROUND_ID",
    "KIND_ALBEDO",
    "MATERIALS",
    "OBJECT_COLOURS",
    "OBJECT_KINDS",
    "OTHERS_SHADOW_MIN_BLOCKED",
    "PHOTO_TEXTURES",
    "PROCEDURAL_TEXTURES",
    "SKY_ID",
    "SPLITS",
    "TEXTURE_NAMES",
    "Camera",
    "Material",
    "Scene",
    "SceneBuffers",
    "SceneObject",
    "SyntheticConfig",
    "light_direction",
    "relight_scene",
    "render_scene",
    "render_split_scenes",
    "scene_name",
    "scene_seed",
]
