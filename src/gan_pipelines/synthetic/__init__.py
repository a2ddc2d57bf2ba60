"""Synthetic Shadow-AR data: a seeded numpy ray caster of simple scenes lit by one light.

``render_split(SyntheticConfig.from_params(params), "train")`` yields ``(name, images)`` with the
five Shadow-AR images plus the exact mask of the inserted object's own shadow.
"""

from gan_pipelines.synthetic.renderer import (
    IMAGE_KINDS,
    OBJECT_KINDS,
    Camera,
    Scene,
    SceneObject,
    SyntheticConfig,
    light_direction,
    render_scene,
    render_split,
    scene_name,
    scene_seed,
)
from gan_pipelines.synthetic.textures import PHOTO_TEXTURES, PROCEDURAL_TEXTURES, TEXTURE_NAMES

__all__ = [
    "IMAGE_KINDS",
    "OBJECT_KINDS",
    "PHOTO_TEXTURES",
    "PROCEDURAL_TEXTURES",
    "TEXTURE_NAMES",
    "Camera",
    "Scene",
    "SceneObject",
    "SyntheticConfig",
    "light_direction",
    "render_scene",
    "render_split",
    "scene_name",
    "scene_seed",
]
