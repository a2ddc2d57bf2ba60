"""The unpaired families' embedded two-domain data, drawn by the shared renderer.

The renderer lays out a scene (camera, objects, light) and :func:`~gan_pipelines.synthetic.relight_scene`
draws that same geometry again under a domain's condition (light, ground texture, object
colours); this module only decides what each domain looks like (``<family>.ingest.synthetic.pair``):

* ``texture``: A = ground from :data:`TEXTURE_A` (grass, gravel, noise) in one green colour
  (:data:`TEXTURE_TINT_A`) and matte objects; B = ground from :data:`TEXTURE_B` (brick,
  checkerboard, stripes) in one brick-red colour and GLOSSY objects (:data:`MATERIAL_B`: a
  specular highlight). Objects keep their kind's colour (box red, cylinder blue, sphere green,
  cone yellow) in both. The ground pattern and the highlights are changes of texture that no
  global colour transform makes: a model has to draw them. Same light in both renders of a
  scene. B is multi-modal through its ground pattern (three textures at random scale).
* ``day_dusk``: the same ground (one of :data:`DAY_DUSK_GROUNDS`, tinted one colour) and per-kind
  objects; A = day: white light at 55-75 deg elevation from a sector on the camera's left
  (:data:`DAY_ELEVATION_DEG`, :data:`DAY_AZIMUTH_DEG`); B = dusk: warm light (:data:`DUSK_COLOUR`,
  exposure x :data:`DUSK_EXPOSURE`) at 12-25 deg elevation from a RANDOM azimuth per scene
  (multi-modal: one day picture has many right dusk pictures; the style MUNIT can control).
  Shadows lengthen about 3-8 times (height / tan(elevation)) and turn with the azimuth: a
  geometric change, not only a colour one.
* ``labels_photo``: A = the colour-coded class picture (:data:`LABEL_COLOURS`, recorded in the
  ingest summary as ``label_colours``), B = the photo, both from the paired families' embedded
  label -> photo data (their ``per_class`` palette,
  :data:`gan_pipelines.families.paired.synthetic.PER_CLASS_SCENES`): the same seeded scenes, so
  with the same ``seed`` and ``resolution`` the test split is the paired families' test split
  (test scene i is the same scene in both; the shorter split holds the first scenes of the
  longer) and the photos are byte-identical to their pictures. Train A and train B are the two
  halves of their train scenes (even and odd indices).

Unpaired training, paired test: train A pictures come from the even train scene indices and
train B from the odd ones (disjoint scenes, different names ``scene_00000``, ``scene_00001``...),
so nothing is paired in training; every test scene is rendered in BOTH domains under one name
(a hidden pair only evaluation sees). Every picture has its class map (the renderer's
``class_id``: ground, box, cylinder, sphere, cone, sky) as ``A_labels``/``B_labels``; the
geometry is the same in both domains, so a test scene's two maps are equal.

Deterministic: the images depend only on ``(pair, seed, resolution)`` and the scene index
(the counts only say how many indices). Bump :data:`RECIPE_VERSION` when a change here alters
the pictures of the same settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from gan_pipelines.families.unpaired.config import SyntheticParams
from gan_pipelines.image_folders import image_key
from gan_pipelines.synthetic import (
    CLASS_NAMES, KIND_ALBEDO, Material, Scene, SyntheticConfig, relight_scene, render_scene, scene_name, scene_seed,
)

logger = logging.getLogger(__name__)

# Part of the ingest summary: which recipe drew the pictures of a given (pair, seed, resolution).
RECIPE_VERSION = 2

DOMAIN_WORDS: dict[str, dict[str, str]] = {
    "texture": {"A": "green grass, gravel or noise ground; matte objects coloured by kind (box red, cylinder blue, "
                     "sphere green, cone yellow)",
                "B": "brick-red brick, checkerboard or stripes ground; glossy objects coloured by kind (as in A)"},
    "day_dusk": {"A": "day: high white light (55-75 deg elevation), short shadows",
                 "B": "dusk: low warm light (12-25 deg elevation) from a random direction, long shadows"},
    "labels_photo": {"A": "colour-coded class picture (one colour per class, label_colours)",
                     "B": "rendered photo (the paired families' per_class label -> photo data)"},
}

# texture: the two ground sets and the two per-kind colour tables.
TEXTURE_A: tuple[str, ...] = ("grass", "gravel", "noise")
TEXTURE_B: tuple[str, ...] = ("brick", "checkerboard", "stripes")
# One ground colour per domain (the pattern keeps its brightness at reduced contrast): with the
# textures' own random colours the ground colour of a hidden pair's B picture could not be
# predicted from its A picture, and hidden-pair L1 would reward a grey average over any real
# translation. The pattern (which of three textures) stays random: B's style.
TEXTURE_TINT_A = (0.45, 0.55, 0.3)
TEXTURE_TINT_B = (0.7, 0.5, 0.45)
TEXTURE_CONTRAST = 0.6
# Objects keep their kind's colour in both domains (a per-kind colour permutation was tried first:
# at the CPU default, 64 px and 16 epochs, CycleGAN smeared the objects into blotches and kept
# 0.22 of the real pictures' content mIoU); B's objects are glossy (a specular highlight), A's
# matte: a change of object texture that no global colour transform makes.
KIND_COLOURS_A: dict[str, tuple[float, float, float]] = dict(KIND_ALBEDO)
KIND_COLOURS_B: dict[str, tuple[float, float, float]] = dict(KIND_ALBEDO)
MATERIAL_A = Material()
MATERIAL_B = Material("glossy", specular=0.5, shininess=30.0)
# The light the renderer lays scenes out under (it re-draws a layout until shadows are visible):
# both texture domains keep it; day_dusk draws its own two lights. A high light from a narrow
# sector (day's) would cost about three layout renders per scene instead of about one.
LAYOUT_LIGHT = {"light_elevation_deg": (35.0, 65.0), "light_azimuth_deg": (0.0, 360.0)}

# day_dusk: a ground whose look does not tell the domains apart (one tint at reduced contrast).
DAY_DUSK_GROUNDS: tuple[str, ...] = ("grass", "gravel", "noise")
DAY_DUSK_TINT = (0.55, 0.5, 0.4)
DAY_DUSK_CONTRAST = 0.6
# Day: high light from the camera's left and a little behind it (shadows fall right and away).
DAY_ELEVATION_DEG = (55.0, 75.0)
DAY_AZIMUTH_DEG = (200.0, 250.0)
DUSK_ELEVATION_DEG = (12.0, 25.0)
DUSK_AZIMUTH_DEG = (0.0, 360.0)
DUSK_COLOUR = (1.0, 0.74, 0.5)
DUSK_EXPOSURE = 1.1

# labels_photo: the colour of each class (index = position in CLASS_NAMES), Cityscapes' colours
# of road, person, car, vegetation, traffic light and sky: far apart, so decoding is exact.
LABEL_COLOURS: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128),   # ground
    (220, 20, 60),    # box
    (0, 0, 142),      # cylinder
    (107, 142, 35),   # sphere
    (250, 170, 30),   # cone
    (70, 130, 180),   # sky
)

# The appearance draws of a scene (ground choice, dusk light) come from their own generator,
# seeded from the scene seed and this salt, apart from the renderer's layout draws.
_APPEARANCE_SALT = 26


def scene_config(settings: SyntheticParams, section: str = "ingest.synthetic") -> SyntheticConfig:
    """The renderer config that lays out the scenes of ``settings.pair`` (geometry and, for
    ``labels_photo``, the photo itself). ``num_train`` is twice the per-domain count: train
    scene ``2i`` is domain A's picture i, ``2i + 1`` domain B's."""
    base = {"seed": settings.seed, "resolution": settings.resolution, "num_train": 2 * settings.num_train,
            "num_test": settings.num_test}
    if settings.pair == "labels_photo":
        # The paired families' label -> photo scenes (importing the paired family is deliberate:
        # the issue asks for the same data, so their settings are used, not copied).
        from gan_pipelines.families.paired.synthetic import synthetic_config

        config, _ = synthetic_config({**base, "palette": "per_class"}, section)
        return config
    # The layout render's own colours are never used (every domain picture is relit), so its
    # ground is the cheapest texture to draw: stripes take 4 ms, a photo about 15 ms.
    layout = {**base, **LAYOUT_LIGHT, "object_colours": "per_kind", "ground_textures": ("stripes",)}
    return SyntheticConfig.from_params(layout, section=section)


def label_picture(class_id: np.ndarray) -> np.ndarray:
    """The colour-coded picture ``(H, W, 3)`` uint8 of a class map ``(H, W)`` (:data:`LABEL_COLOURS`)."""
    return np.asarray(LABEL_COLOURS, np.uint8)[class_id]


def colours_to_classes(picture: np.ndarray) -> np.ndarray:
    """The class map ``(H, W)`` uint8 of a colour-coded picture ``(H, W, 3)``: each pixel takes
    its NEAREST label colour (so a generated picture's off colours decode too)."""
    palette = np.asarray(LABEL_COLOURS, np.float32)
    distance = ((picture.astype(np.float32)[:, :, None, :] - palette[None, None]) ** 2).sum(axis=-1)
    return distance.argmin(axis=-1).astype(np.uint8)


def domain_conditions(scene: Scene, pair: str) -> dict[str, dict[str, Any]]:
    """``{"A": kwargs, "B": kwargs}``: how :func:`~gan_pipelines.synthetic.relight_scene` draws
    ``scene`` in each domain of ``pair`` (``texture`` or ``day_dusk``; ``labels_photo`` relights
    nothing). Both domains of a scene come from one appearance draw seeded by the scene seed, and
    both relight with ``seed=scene.seed``: the same texture name gives the same ground, which is
    what makes a test scene's two pictures a hidden pair."""
    rng = np.random.default_rng([scene.seed, _APPEARANCE_SALT])
    if pair == "texture":
        ground_a, ground_b = str(rng.choice(TEXTURE_A)), str(rng.choice(TEXTURE_B))
        return {"A": {"seed": scene.seed, "ground_texture": ground_a, "ground_tint": TEXTURE_TINT_A,
                      "ground_contrast": TEXTURE_CONTRAST, "object_colours": KIND_COLOURS_A,
                      "object_material": MATERIAL_A},
                "B": {"seed": scene.seed, "ground_texture": ground_b, "ground_tint": TEXTURE_TINT_B,
                      "ground_contrast": TEXTURE_CONTRAST, "object_colours": KIND_COLOURS_B,
                      "object_material": MATERIAL_B}}
    if pair != "day_dusk":
        raise ValueError(f"pair {pair!r} has no relit domains (texture and day_dusk do)")
    look = {"seed": scene.seed, "ground_texture": str(rng.choice(DAY_DUSK_GROUNDS)), "ground_tint": DAY_DUSK_TINT,
            "ground_contrast": DAY_DUSK_CONTRAST, "object_colours": KIND_COLOURS_A}
    day = {"light_azimuth_deg": float(rng.uniform(*DAY_AZIMUTH_DEG)),
           "light_elevation_deg": float(rng.uniform(*DAY_ELEVATION_DEG))}
    dusk = {"light_azimuth_deg": float(rng.uniform(*DUSK_AZIMUTH_DEG)),
            "light_elevation_deg": float(rng.uniform(*DUSK_ELEVATION_DEG)),
            "light_colour": DUSK_COLOUR, "exposure": DUSK_EXPOSURE}
    return {"A": {**look, **day}, "B": {**look, **dusk}}


def domain_pictures(scene: Scene, pair: str, domains: tuple[str, ...] = ("A", "B")) -> dict[str, np.ndarray]:
    """The pictures ``{domain: (H, W, 3) uint8}`` of one laid-out scene in ``domains``: its
    colour-coded class map and its own render for ``labels_photo``, else the scene relit under
    each domain's :func:`domain_conditions`."""
    if pair == "labels_photo":
        found = {"A": label_picture(scene.buffers.class_id), "B": scene.buffers.colour}
        return {domain: found[domain] for domain in domains}
    conditions = domain_conditions(scene, pair)
    return {domain: relight_scene(scene, **conditions[domain]).buffers.colour for domain in domains}


def _jobs(settings: SyntheticParams) -> Iterator[tuple[str, int, str, tuple[str, ...]]]:
    """``(split, scene index, name, domains)``: train A from even, train B from odd indices;
    test scene i in both domains."""
    for i in range(settings.num_train):
        yield "train", 2 * i, scene_name(2 * i), ("A",)
        yield "train", 2 * i + 1, scene_name(2 * i + 1), ("B",)
    for i in range(settings.num_test):
        yield "test", i, scene_name(i), ("A", "B")


def render_unpaired(settings: SyntheticParams, section: str = "ingest.synthetic", *,
                    progress: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Render the two-domain data set: ``(images, summary)``.

    ``images`` is an image folder ``{"<split>/<kind>/<name>.png": array}``: kinds ``A``/``B``
    (uint8 ``(R, R, 3)``) and ``A_labels``/``B_labels`` (uint8 ``(R, R)`` class indices
    ``0..5``), splits ``train`` (``num_train`` per domain, disjoint scenes) and ``test``
    (``num_test`` scenes in both domains). ``summary`` holds the counts, the domains in words,
    the classes, ``label_colours`` (``labels_photo`` only), the render time and seconds per
    scene. Errors name ``section``."""
    from tqdm.auto import tqdm

    config = scene_config(settings, section)
    images: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    total = 2 * settings.num_train + settings.num_test
    jobs = tqdm(_jobs(settings), total=total, desc=f"render {settings.pair}", unit="scene", leave=False,
                disable=not progress)
    for split, index, name, domains in jobs:
        scene = render_scene(config, scene_seed(config, split, index))
        labels = scene.buffers.class_id.astype(np.uint8)
        for domain, picture in domain_pictures(scene, settings.pair, domains).items():
            images[image_key(split, domain, name)] = picture
            images[image_key(split, f"{domain}_labels", name)] = labels
    seconds = time.perf_counter() - started
    per_scene = seconds / max(total, 1)
    logger.info("%s: rendered %s (%d train pictures per domain, %d test scenes in both) at %d px in %.1f s "
                "(%.3f s per scene)", section, settings.pair, settings.num_train, settings.num_test,
                settings.resolution, seconds, per_scene)
    summary = {
        "source": "synthetic",
        "pair": settings.pair,
        "domains": dict(DOMAIN_WORDS[settings.pair]),
        "label_nc": len(CLASS_NAMES),
        "class_names": list(CLASS_NAMES),
        "label_colours": [list(c) for c in LABEL_COLOURS] if settings.pair == "labels_photo" else None,
        "counts": {"train": {"A": settings.num_train, "B": settings.num_train},
                   "test": {"A": settings.num_test, "B": settings.num_test, "pairs": settings.num_test}},
        "test_pairs": True,
        "unavailable": {},
        "seed": settings.seed,
        "resolution": settings.resolution,
        "recipe_version": RECIPE_VERSION,
        "render_seconds": round(seconds, 2),
        "seconds_per_scene": round(per_scene, 4),
    }
    return images, summary
