"""Seeded numpy ray caster of simple lit scenes: a scene in, per-pixel buffers out.

Family-free: the renderer knows scenes, objects, light and shadows, never a model family's image
kinds or folder layout. Families turn the :class:`SceneBuffers` of a :class:`Scene` into their own
samples (image pairs with and without a shadow, label maps, instance maps, sketches...).

Why a renderer at all: the real data sets cannot be downloaded here, and the project needs
default data in which every shadow comes from one known light and every pixel's object, class,
instance and depth is known exactly.

Scene model (world units, z up, ground plane z = 0):

- a pinhole camera at ``(0, 0, height)`` looking along +y, pitched down so the ground fills the
  frame; image columns grow with +x, rows grow downwards;
- one textured ground plane (scikit-image photos or procedural patterns, see ``textures``) and,
  in a configurable share of scenes, a vertical *backdrop* wall behind the objects, textured with
  another photo, like the wall behind a table in an indoor snapshot;
- one *focus* object near the image centre and 1-8 *other* objects anywhere in the lower part of
  the frame: boxes (with yaw), vertical cylinders, spheres resting on the ground and upright
  cones, not intersecting one another. Object index 0 is the focus object, 1.. the others;
- one directional light. ``azimuth`` is measured in the ground plane from +x (the camera's
  right) towards +y (away from the camera); ``elevation`` above the ground. So azimuth 0 lights
  the scene from the right (shadows fall to the left) and 270 lights it from behind the camera
  (shadows fall away from the viewer). A soft penumbra averages ``penumbra_samples`` light
  directions spread over a cone of half-angle ``penumbra_deg``.

Shading is Lambert plus ambient, in display space: ``colour = albedo * exposure * (ambient +
direct) + exposure * specular`` where ``direct`` is the mean over light samples of
``max(0, n.l) * visible`` and ``specular`` the same mean of a white Blinn-Phong highlight
``k_s * max(0, n.h)^shininess`` (zero on ``matte`` objects and on the ground). The ambient
term is chosen per scene so that fully shadowed ground is ``ambient`` (0.35-0.5) times as
bright as lit ground: shadows are always clearly darker. Object materials (``MATERIALS``):
``matte`` (one albedo), ``glossy`` (plus the highlight) and ``textured`` (the albedo modulated by
a photo or pattern laid on the surface, like a printed label).

Shadow rays skip the surface's own object: all shapes are convex, so their unlit sides come from
``n.l <= 0`` alone, and the focus object can never shadow itself. That is what makes
``SceneBuffers.colour`` and ``colour_without_focus_shadow`` differ exactly on ``focus_shadow``
and nowhere else.

Conditions: :func:`relight_scene` renders a scene's geometry again under another light (angles,
ambient, an RGB light colour, exposure), ground texture and object colours, so one layout can be
shown in several looks with identical class, instance and depth buffers.

Reproducibility: everything the realism options add (backdrop, materials) is drawn from a second
generator seeded from the scene seed, so switching them on or off leaves the camera, light and
layout draws of the scene as they were (a layout is only re-drawn when an object would stand
behind the backdrop).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from gan_pipelines.synthetic.textures import TEXTURE_NAMES, make_ground_texture

OBJECT_KINDS: tuple[str, ...] = ("box", "cylinder", "sphere", "cone")
# Semantic classes of ``SceneBuffers.class_id``: the id of a class is its index here. Ground is 0,
# each object kind follows in ``OBJECT_KINDS`` order, sky is last.
CLASS_NAMES: tuple[str, ...] = ("ground", *OBJECT_KINDS, "sky")
CLASS_IDS: dict[str, int] = {name: index for index, name in enumerate(CLASS_NAMES)}
# ``SceneBuffers.object_id`` values that are not objects; objects are 0 (focus), 1, 2... (others).
GROUND_ID = -1
SKY_ID = -2
FOCUS_ID = 0
# Splits whose scenes ``scene_seed`` seeds. The position of a split here is part of its scenes'
# seeds: reordering this tuple would change every rendered scene.
SPLITS: tuple[str, ...] = ("train", "test")
# How objects get their albedo: ``random`` (a colour drawn per object) or ``per_kind`` (the fixed
# albedo of its kind below, so colour follows the class; the random draw still happens, which
# keeps every other draw of the scene, and thus its layout, the same as with ``random``).
OBJECT_COLOURS: tuple[str, ...] = ("random", "per_kind")
# Object materials (module docstring): each object draws one of ``SyntheticConfig.object_materials``.
MATERIALS: tuple[str, ...] = ("matte", "glossy", "textured")
# glossy: highlight strength k_s and Blinn-Phong exponent, drawn per object.
GLOSSY_SPECULAR = (0.25, 0.6)
GLOSSY_SHININESS = (15.0, 60.0)
# textured: how strongly the laid-on texture modulates the object's albedo (0 = plain).
TEXTURE_CONTRAST = (0.5, 1.0)
# The backdrop's foot (where it meets the ground) lies at this share of the image height from the
# top, measured at the centre column: the wall fills the top 5-35 % of the frame.
BACKDROP_FOOT_ROW = (0.05, 0.35)
KIND_ALBEDO: dict[str, tuple[float, float, float]] = {
    "box": (0.75, 0.3, 0.25),
    "cylinder": (0.25, 0.45, 0.75),
    "sphere": (0.3, 0.65, 0.3),
    "cone": (0.8, 0.7, 0.25),
}

# Default camera ranges (SyntheticConfig.camera_height / camera_pitch_deg): with a 48 deg field of
# view and a pitch of at least 35 deg the top image row looks 11 deg below the horizon, so the
# ground fills the frame and objects about 1 unit tall at the frame centre cover a few percent of
# the image. Pitches below half the field of view (24 deg) show the horizon: the sky, unless a
# backdrop stands in front of it.
CAMERA_HEIGHT = (3.0, 4.5)
CAMERA_PITCH_DEG = (35.0, 50.0)
CAMERA_VFOV_DEG = 48.0

# A pixel counts as in the other objects' cast shadow (``SceneBuffers.others_shadow``) when they
# block at least this share of the direct light it would otherwise get. With hard shadows that is
# "any light blocked"; with a soft penumbra it keeps the faint outermost fringe (less than 10 %
# darker) out of the mask.
OTHERS_SHADOW_MIN_BLOCKED = 0.1
# A focus object mostly hidden behind other objects makes a useless sample: require that at least
# this share of its unoccluded silhouette is visible.
MIN_VISIBLE_FOCUS = 0.6
MAX_PLACEMENT_TRIES = 200
MAX_SCENE_ATTEMPTS = 60  # layouts tried per light direction
MAX_LIGHT_DRAWS = 5

_GROUND = GROUND_ID
_SKY = SKY_ID
# Backdrop pixels during tracing; the buffers report them as GROUND_ID / class ground (the scene's
# background surfaces), so families and label maps see no new id.
_BACKDROP = -3
_T_EPS = 1e-9
_SHADOW_OFFSET = 1e-5
_SPLIT_IDS = {split: index for index, split in enumerate(SPLITS)}
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def _check_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _check_range(name: str, value: Any, low: float, high: float, *, open_low: bool = False,
                 open_high: bool = False, integer: bool = False) -> None:
    """A ``[min, max]`` pair within ``low..high`` (open ends where asked) with min <= max."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValueError(f"{name} must be a [min, max] pair, got {value!r}")
    for item in value:
        if integer:
            if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
                raise ValueError(f"{name} must hold integers, got {value!r}")
        else:
            _check_float(name, item)
    lo, hi = value
    if lo > hi:
        raise ValueError(f"{name}: min {lo} is greater than max {hi}")
    below = lo <= low if open_low else lo < low
    above = hi >= high if open_high else hi > high
    if below or above:
        left = "(" if open_low else "["
        right = ")" if open_high else "]"
        raise ValueError(f"{name} must lie within {left}{low}, {high}{right}, got {list(value)}")


def _check_names(name: str, value: Any, allowed: Sequence[str]) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValueError(f"{name} must be a non-empty list of names from {', '.join(allowed)}")
    unknown = [item for item in value if item not in allowed]
    if unknown:
        raise ValueError(
            f"{name}: unknown name(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}"
        )


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic scenes.

    Defaults render 400 train + 100 test scenes at 256 px; see the module docstring for the
    meaning of the light angles. Every value is validated on construction, and errors name the
    parameter as ``<section>.<name>``: ``section`` is where the caller's parameters live (e.g.
    ``"<family>.ingest.synthetic"``), given to :meth:`from_params`. It is not a scene parameter:
    it takes no part in equality and is not accepted inside ``params``.
    """

    seed: int = 0
    resolution: int = 256
    num_train: int = 400
    num_test: int = 100
    light_elevation_deg: tuple[float, float] = (20.0, 70.0)
    light_azimuth_deg: tuple[float, float] = (0.0, 360.0)
    # Half-angle of the light's cone; 0 gives hard shadows. 2 deg gives a penumbra of a few pixels.
    penumbra_deg: float = 2.0
    penumbra_samples: int = 8
    # Number of other objects besides the focus object, drawn per scene.
    num_occluders: tuple[int, int] = (1, 4)
    object_kinds: tuple[str, ...] = OBJECT_KINDS
    # Characteristic object size (height / footprint) in ground units; the camera sits 3-4.5 up.
    object_size: tuple[float, float] = (0.7, 1.3)
    # Brightness of fully shadowed ground relative to lit ground, drawn per scene.
    ambient: tuple[float, float] = (0.35, 0.5)
    ground_textures: tuple[str, ...] = TEXTURE_NAMES
    # Scenes whose focus-object shadow (or whose other objects' shadows) cover less than this share
    # of the image are re-drawn: a sample without a visible shadow teaches nothing.
    min_shadow_fraction: float = 0.003
    # ``random`` or ``per_kind`` (see ``OBJECT_COLOURS``).
    object_colours: str = "random"
    # RGB in (0, 1]: the ground keeps its texture's brightness pattern (contrast scaled by
    # ``ground_contrast``, used only with a tint) in this one colour; None keeps the texture's own
    # (jittered) colours.
    ground_tint: tuple[float, float, float] | None = None
    ground_contrast: float = 1.0
    # Camera height above the ground (world units) and pitch below the horizon (deg), drawn per scene.
    camera_height: tuple[float, float] = CAMERA_HEIGHT
    camera_pitch_deg: tuple[float, float] = CAMERA_PITCH_DEG
    # Share of scenes (0..1) with a photo-textured backdrop wall behind the objects.
    backdrop_probability: float = 0.0
    # Materials drawn per object from this list (see MATERIALS); ("matte",) is the plain Lambert look.
    object_materials: tuple[str, ...] = ("matte",)
    # Where these parameters live, for error messages only (see the class docstring).
    section: str = field(default="synthetic", compare=False, repr=False)

    def parameter_name(self, name: str) -> str:
        """``"<section>.<name>"``: how errors name parameter ``name``."""
        return f"{self.section}.{name}"

    def __post_init__(self) -> None:
        if not isinstance(self.section, str) or not self.section:
            raise ValueError(f"section must be a non-empty string, got {self.section!r}")
        q = self.parameter_name
        _check_int(q("seed"), self.seed, 0)
        _check_int(q("resolution"), self.resolution, 16, 4096)
        _check_int(q("num_train"), self.num_train, 1)
        _check_int(q("num_test"), self.num_test, 1)
        _check_range(q("light_elevation_deg"), self.light_elevation_deg, 0.0, 90.0, open_low=True, open_high=True)
        _check_range(q("light_azimuth_deg"), self.light_azimuth_deg, -720.0, 720.0)
        penumbra = _check_float(q("penumbra_deg"), self.penumbra_deg)
        if not 0.0 <= penumbra <= 15.0:
            raise ValueError(f"{q('penumbra_deg')} must be between 0 and 15, got {self.penumbra_deg!r}")
        if penumbra >= self.light_elevation_deg[0]:
            raise ValueError(
                f"{q('penumbra_deg')} ({penumbra}) must be smaller than the lowest light elevation "
                f"({self.light_elevation_deg[0]}), or some light samples would come from below the ground"
            )
        _check_int(q("penumbra_samples"), self.penumbra_samples, 1, 64)
        _check_range(q("num_occluders"), self.num_occluders, 1, 8, integer=True)
        _check_names(q("object_kinds"), self.object_kinds, OBJECT_KINDS)
        _check_range(q("object_size"), self.object_size, 0.0, 3.0, open_low=True)
        _check_range(q("ambient"), self.ambient, 0.0, 1.0, open_low=True, open_high=True)
        _check_names(q("ground_textures"), self.ground_textures, TEXTURE_NAMES)
        fraction = _check_float(q("min_shadow_fraction"), self.min_shadow_fraction)
        if not 0.0 <= fraction <= 0.2:
            raise ValueError(f"{q('min_shadow_fraction')} must be between 0 and 0.2, got {fraction!r}")
        if self.ground_tint is not None:
            if not isinstance(self.ground_tint, tuple) or len(self.ground_tint) != 3 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 < v <= 1.0 for v in self.ground_tint):
                raise ValueError(f"{q('ground_tint')} must be null or three numbers in (0, 1], got {self.ground_tint!r}")
        contrast = _check_float(q("ground_contrast"), self.ground_contrast)
        if not 0.0 <= contrast <= 1.0:
            raise ValueError(f"{q('ground_contrast')} must be between 0 and 1, got {self.ground_contrast!r}")
        _check_range(q("camera_height"), self.camera_height, 0.5, 20.0)
        _check_range(q("camera_pitch_deg"), self.camera_pitch_deg, 5.0, 85.0)
        backdrop = _check_float(q("backdrop_probability"), self.backdrop_probability)
        if not 0.0 <= backdrop <= 1.0:
            raise ValueError(f"{q('backdrop_probability')} must be between 0 and 1, got {self.backdrop_probability!r}")
        _check_names(q("object_materials"), self.object_materials, MATERIALS)
        if self.object_colours not in OBJECT_COLOURS:
            raise ValueError(
                f"{q('object_colours')} must be one of {', '.join(OBJECT_COLOURS)}, got {self.object_colours!r}"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None, *, section: str) -> SyntheticConfig:
        """Build from the caller's parameter dict found at ``section`` (e.g.
        ``"<family>.ingest.synthetic"``); YAML lists become tuples and missing keys keep their
        defaults. Raises ValueError naming the parameter as ``<section>.<name>`` on unknown keys
        or bad values."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)} - {"section"}
        unknown = sorted(set(params) - known)
        if unknown:
            names = ", ".join(f"{section}.{key}" for key in unknown)
            raise ValueError(f"Unknown parameter(s) {names}; allowed: {', '.join(sorted(known))}")
        converted: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, (list, tuple)):
                value = tuple(value)
            elif key in ("object_kinds", "ground_textures", "object_materials") and isinstance(value, str):
                value = (value,)
            converted[key] = value
        return cls(**converted, section=section)


# --------------------------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """Pinhole camera at ``(0, 0, height)`` looking along +y, pitched ``pitch_deg`` below the
    horizon. Pixel ``(row, col)`` covers ``[col, col+1) x [row, row+1)`` in the continuous image
    coordinates that :meth:`project` returns."""

    height: float
    pitch_deg: float
    vfov_deg: float
    resolution: int

    @property
    def position(self) -> np.ndarray:
        return np.array([0.0, 0.0, self.height])

    @property
    def focal_px(self) -> float:
        return 0.5 * self.resolution / math.tan(math.radians(self.vfov_deg) / 2.0)

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(forward, right, down)`` unit vectors in world coordinates."""
        pitch = math.radians(self.pitch_deg)
        forward = np.array([0.0, math.cos(pitch), -math.sin(pitch)])
        right = np.array([1.0, 0.0, 0.0])
        down = np.array([0.0, -math.sin(pitch), -math.cos(pitch)])
        return forward, right, down

    def ray_directions(self) -> np.ndarray:
        """Unit directions through every pixel centre, row-major, shape ``(res * res, 3)``."""
        res = self.resolution
        forward, right, down = self.basis()
        coords = (np.arange(res, dtype=np.float64) + 0.5 - res / 2.0) / self.focal_px
        rows, cols = np.meshgrid(coords, coords, indexing="ij")
        dirs = forward[None, :] + cols.reshape(-1, 1) * right[None, :] + rows.reshape(-1, 1) * down[None, :]
        return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points ``(N, 3)`` -> continuous image coordinates ``(N, 2)`` as ``(col, row)``;
        points behind the camera give NaN."""
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        forward, right, down = self.basis()
        rel = points - self.position[None, :]
        depth = rel @ forward
        with np.errstate(divide="ignore", invalid="ignore"):
            col = self.focal_px * (rel @ right) / depth + self.resolution / 2.0
            row = self.focal_px * (rel @ down) / depth + self.resolution / 2.0
        out = np.stack([col, row], axis=1)
        out[depth <= 1e-9] = np.nan
        return out

    def ground_point(self, col: float, row: float) -> np.ndarray | None:
        """World point on z = 0 seen at continuous image coordinates ``(col, row)``, or None
        when that ray misses the ground (sky)."""
        forward, right, down = self.basis()
        res = self.resolution
        direction = forward + (col - res / 2.0) / self.focal_px * right + (row - res / 2.0) / self.focal_px * down
        if direction[2] >= -1e-9:
            return None
        t = -self.height / direction[2]
        return self.position + t * direction


# --------------------------------------------------------------------------------------------
# Objects and ray intersection
# --------------------------------------------------------------------------------------------


def _first_positive(*candidates: np.ndarray) -> np.ndarray:
    """Smallest candidate ray parameter above ``_T_EPS`` per ray (inf when none; NaN = invalid)."""
    best = np.full(candidates[0].shape, np.inf)
    for cand in candidates:
        take = (cand > _T_EPS) & (cand < best)
        best = np.where(take, cand, best)
    return best


@dataclass(frozen=True, eq=False)
class Material:
    """How an object's surface reflects light (module docstring, ``MATERIALS``).

    ``specular`` is the Blinn-Phong highlight strength k_s (0: none; the highlight is white and
    added to the Lambert term), ``shininess`` its exponent; ``texture`` a
    :class:`~gan_pipelines.synthetic.textures.GroundTexture` laid on the surface (None: the plain
    albedo) whose colour ratio to its mean multiplies the albedo, scaled by ``texture_contrast``
    in [0, 1].
    """

    kind: str = "matte"
    specular: float = 0.0
    shininess: float = 1.0
    texture: Any = None
    texture_contrast: float = 0.0


MATTE = Material()


@dataclass(frozen=True)
class SceneObject:
    """One object standing on the ground at ``(x, y)``.

    ``size_x``/``size_y`` are full footprint extents (box, before ``yaw``) or the diameter (round
    shapes), ``height`` the top's height (a sphere's is its diameter). ``colour`` is linear-ish
    RGB albedo in [0, 1]; ``role`` is ``"focus"`` (the scene's focus object) or ``"other"``;
    ``material`` is its :class:`Material` (plain Lambert unless the config asks for others).
    """

    kind: str
    x: float
    y: float
    size_x: float
    size_y: float
    height: float
    yaw: float
    colour: tuple[float, float, float]
    role: str
    material: Material = MATTE

    @property
    def footprint_radius(self) -> float:
        """Radius of the smallest vertical cylinder around the object (used for placement)."""
        if self.kind == "box":
            return 0.5 * math.hypot(self.size_x, self.size_y)
        return 0.5 * self.size_x

    @property
    def bound_center(self) -> np.ndarray:
        return np.array([self.x, self.y, 0.5 * self.height])

    @property
    def bound_radius(self) -> float:
        return math.hypot(self.footprint_radius, 0.5 * self.height)

    @property
    def base_point(self) -> np.ndarray:
        """Centre of the object's footprint on the ground (where it stands)."""
        return np.array([self.x, self.y, 0.0])

    def outline_points(self, count: int = 16) -> np.ndarray:
        """Points on the bounding cylinder's bottom and top rims, to check the object is in view."""
        angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
        ring = np.stack([self.x + self.footprint_radius * np.cos(angles),
                         self.y + self.footprint_radius * np.sin(angles)], axis=1)
        bottom = np.concatenate([ring, np.zeros((count, 1))], axis=1)
        top = np.concatenate([ring, np.full((count, 1), self.height)], axis=1)
        return np.concatenate([bottom, top], axis=0)

    def intersect(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Ray parameter of the first hit in front of each origin, ``inf`` on a miss.

        ``dirs`` need not be normalised for the result to be a valid ray parameter, but all
        callers pass unit vectors so ``t`` is a distance.
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _INTERSECT[self.kind](self, origins, dirs)

    def normal(self, points: np.ndarray) -> np.ndarray:
        """Outward unit normals at surface points ``(N, 3)``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _NORMAL[self.kind](self, points)


def _rotate_z(vectors: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    out = vectors.copy()
    out[:, 0] = c * vectors[:, 0] - s * vectors[:, 1]
    out[:, 1] = s * vectors[:, 0] + c * vectors[:, 1]
    return out


def _box_local(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    rel = points - np.array([obj.x, obj.y, 0.5 * obj.height])[None, :]
    return _rotate_z(rel, -obj.yaw)


def _intersect_box(obj: SceneObject, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    local_o = _box_local(obj, origins)
    local_d = _rotate_z(dirs, -obj.yaw)
    local_d = np.where(np.abs(local_d) < 1e-12, 1e-12, local_d)
    half = np.array([0.5 * obj.size_x, 0.5 * obj.size_y, 0.5 * obj.height])
    t0 = (-half[None, :] - local_o) / local_d
    t1 = (half[None, :] - local_o) / local_d
    t_near = np.minimum(t0, t1).max(axis=1)
    t_far = np.maximum(t0, t1).min(axis=1)
    hit = (t_far >= t_near) & (t_far > _T_EPS)
    t = np.where(t_near > _T_EPS, t_near, t_far)
    return np.where(hit, t, np.inf)


def _normal_box(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    local = _box_local(obj, points)
    half = np.array([0.5 * obj.size_x, 0.5 * obj.size_y, 0.5 * obj.height])
    axis = np.argmax(np.abs(local) / half[None, :], axis=1)
    normals = np.zeros_like(local)
    rows = np.arange(local.shape[0])
    normals[rows, axis] = np.sign(local[rows, axis])
    return _rotate_z(normals, obj.yaw)


def _intersect_sphere(obj: SceneObject, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    radius = 0.5 * obj.size_x
    oc = origins - np.array([obj.x, obj.y, radius])[None, :]
    a = np.einsum("ij,ij->i", dirs, dirs)
    b = np.einsum("ij,ij->i", oc, dirs)
    c = np.einsum("ij,ij->i", oc, oc) - radius * radius
    disc = b * b - a * c
    root = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
    return _first_positive((-b - root) / a, (-b + root) / a)


def _normal_sphere(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    radius = 0.5 * obj.size_x
    n = points - np.array([obj.x, obj.y, radius])[None, :]
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def _disk_hit(origins: np.ndarray, dirs: np.ndarray, cx: float, cy: float, z: float, radius: float) -> np.ndarray:
    t = (z - origins[:, 2]) / dirs[:, 2]
    px = origins[:, 0] + t * dirs[:, 0] - cx
    py = origins[:, 1] + t * dirs[:, 1] - cy
    return np.where(px * px + py * py <= radius * radius, t, np.nan)


def _intersect_cylinder(obj: SceneObject, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    radius, height = 0.5 * obj.size_x, obj.height
    ox, oy, oz = origins[:, 0] - obj.x, origins[:, 1] - obj.y, origins[:, 2]
    dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    a = dx * dx + dy * dy
    b = ox * dx + oy * dy
    c = ox * ox + oy * oy - radius * radius
    disc = b * b - a * c
    root = np.sqrt(np.where((disc >= 0.0) & (a > 1e-14), disc, np.nan))
    sides = []
    for t in ((-b - root) / a, (-b + root) / a):
        z = oz + t * dz
        sides.append(np.where((z >= 0.0) & (z <= height), t, np.nan))
    top = _disk_hit(origins, dirs, obj.x, obj.y, height, radius)
    bottom = _disk_hit(origins, dirs, obj.x, obj.y, 0.0, radius)
    return _first_positive(*sides, top, bottom)


def _normal_cylinder(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    radius, height = 0.5 * obj.size_x, obj.height
    rx, ry, z = points[:, 0] - obj.x, points[:, 1] - obj.y, points[:, 2]
    dist = np.hypot(rx, ry)
    side = np.abs(dist - radius) < np.minimum(np.abs(z - height), np.abs(z))
    normals = np.zeros_like(points)
    normals[:, 2] = np.where(z > 0.5 * height, 1.0, -1.0)
    safe = np.maximum(dist, 1e-12)
    normals[side] = np.stack([rx / safe, ry / safe, np.zeros_like(rx)], axis=1)[side]
    return normals


def _intersect_cone(obj: SceneObject, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    radius, height = 0.5 * obj.size_x, obj.height
    k2 = (radius / height) ** 2
    ox, oy, oz = origins[:, 0] - obj.x, origins[:, 1] - obj.y, origins[:, 2]
    dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    w = height - oz
    a = dx * dx + dy * dy - k2 * dz * dz
    b = 2.0 * (ox * dx + oy * dy + k2 * w * dz)
    c = ox * ox + oy * oy - k2 * w * w
    disc = b * b - 4.0 * a * c
    quadratic = np.abs(a) > 1e-12
    root = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
    t1 = np.where(quadratic, (-b - root) / (2.0 * a), -c / b)
    t2 = np.where(quadratic, (-b + root) / (2.0 * a), np.nan)
    sides = []
    for t in (t1, t2):
        z = oz + t * dz
        sides.append(np.where((z >= 0.0) & (z <= height), t, np.nan))
    bottom = _disk_hit(origins, dirs, obj.x, obj.y, 0.0, radius)
    return _first_positive(*sides, bottom)


def _normal_cone(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    radius, height = 0.5 * obj.size_x, obj.height
    k2 = (radius / height) ** 2
    rx, ry, z = points[:, 0] - obj.x, points[:, 1] - obj.y, points[:, 2]
    normals = np.stack([rx, ry, k2 * (height - z)], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-12, normals / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))
    base = z < 1e-7
    normals[base] = np.array([0.0, 0.0, -1.0])
    return normals


_INTERSECT = {"box": _intersect_box, "sphere": _intersect_sphere, "cylinder": _intersect_cylinder, "cone": _intersect_cone}
_NORMAL = {"box": _normal_box, "sphere": _normal_sphere, "cylinder": _normal_cylinder, "cone": _normal_cone}


# --------------------------------------------------------------------------------------------
# Scene sampling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SceneBuffers:
    """Per-pixel buffers of one rendered scene, all ``(H, W)`` or ``(H, W, 3)`` with H = W =
    the configured resolution, row-major like the image.

    - ``colour``: uint8 RGB, lit by the one light with every object casting its shadow;
    - ``colour_without_focus_shadow``: uint8 RGB, the same scene with the focus object's cast
      shadow taken out (the focus object itself is still there and shaded the same);
    - ``object_id``: int64, ``FOCUS_ID`` (0) on the focus object, 1, 2... on the other objects in
      ``Scene.others`` order, ``GROUND_ID`` (-1) on the ground, ``SKY_ID`` (-2) on the sky;
    - ``class_id``: int64 index into ``CLASS_NAMES`` (ground, box, cylinder, sphere, cone, sky);
    - ``instance_id``: int64, 0 on background/stuff (ground and sky), ``object_id + 1`` on objects
      (so the focus object is instance 1);
    - ``focus_shadow``: bool, exactly the pixels whose uint8 value the focus object's shadow
      changes, i.e. ``(colour != colour_without_focus_shadow).any(-1)``; never on the focus
      object itself (objects do not shadow themselves);
    - ``others_shadow``: bool, pixels where the other objects block at least
      ``OTHERS_SHADOW_MIN_BLOCKED`` of the direct light the pixel would get (cast shadows only:
      the unlit sides of objects have no direct light to block);
    - ``depth``: float32 distance along the primary ray from the camera centre to the surface
      hit (world units; ``inf`` on sky). Free: the ray caster computes it anyway.
    """

    colour: np.ndarray
    colour_without_focus_shadow: np.ndarray
    object_id: np.ndarray
    class_id: np.ndarray
    instance_id: np.ndarray
    focus_shadow: np.ndarray
    others_shadow: np.ndarray
    depth: np.ndarray


BUFFER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SceneBuffers))


@dataclass(frozen=True, eq=False)
class Scene:
    """One rendered scene: its per-pixel ``buffers`` plus what produced them.

    ``focus`` is object 0 of ``buffers.object_id``, ``others[i]`` is object ``i + 1``.
    ``light_direction`` is the unit vector towards the light; ``attempts`` counts the object
    layouts tried before one was accepted.
    """

    buffers: SceneBuffers
    seed: int
    camera: Camera
    light_azimuth_deg: float
    light_elevation_deg: float
    light_direction: tuple[float, float, float]
    focus: SceneObject
    others: tuple[SceneObject, ...]
    texture: str
    ambient: float
    attempts: int
    # The backdrop wall's plane y = backdrop_y (world units) and its texture's name; None without one.
    backdrop_y: float | None = None
    backdrop_texture: str | None = None

    @property
    def objects(self) -> tuple[SceneObject, ...]:
        """Focus object first, then the others: index ``i`` here is ``object_id == i``."""
        return (self.focus, *self.others)


def light_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector pointing towards a light at the given azimuth (from +x towards +y) and elevation."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def _light_samples(direction: np.ndarray, penumbra_deg: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit directions spread evenly (Vogel spiral, random twist) over a disc of
    half-angle ``penumbra_deg`` around ``direction``: an area light of the sun's kind."""
    if penumbra_deg <= 0.0 or count == 1:
        return direction[None, :].copy()
    helper = np.array([0.0, 0.0, 1.0]) if abs(direction[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(direction, e1)
    twist = rng.uniform(0.0, 2.0 * np.pi)
    k = np.arange(count)
    radius = math.tan(math.radians(penumbra_deg)) * np.sqrt((k + 0.5) / count)
    angle = twist + k * _GOLDEN_ANGLE
    dirs = direction[None, :] + radius[:, None] * (np.cos(angle)[:, None] * e1 + np.sin(angle)[:, None] * e2)
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def _random_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    hue = rng.uniform(0.0, 1.0)
    sat = rng.uniform(0.25, 0.8)
    val = rng.uniform(0.45, 0.8)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    rgb = val - val * sat * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def _random_shape(kind: str, size: float, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """``(size_x, size_y, height, yaw)`` for a shape of characteristic size ``size``."""
    if kind == "box":
        return (size * rng.uniform(0.55, 1.0), size * rng.uniform(0.55, 1.0), size * rng.uniform(0.6, 1.3),
                rng.uniform(0.0, 0.5 * np.pi))
    if kind == "cylinder":
        diameter = size * rng.uniform(0.5, 0.85)
        return (diameter, diameter, size * rng.uniform(0.8, 1.5), 0.0)
    if kind == "sphere":
        diameter = size * rng.uniform(0.7, 1.0)
        return (diameter, diameter, diameter, 0.0)
    diameter = size * rng.uniform(0.6, 1.0)  # cone
    return (diameter, diameter, size * rng.uniform(1.0, 1.6), 0.0)


def _random_material(config: SyntheticConfig, rng: np.random.Generator) -> Material:
    """One of ``config.object_materials`` with its parameters; ``matte`` draws nothing."""
    materials = config.object_materials
    kind = materials[0] if len(materials) == 1 else str(materials[int(rng.integers(len(materials)))])
    if kind == "glossy":
        return Material("glossy", specular=float(rng.uniform(*GLOSSY_SPECULAR)),
                        shininess=float(rng.uniform(*GLOSSY_SHININESS)))
    if kind == "textured":
        name = str(config.ground_textures[int(rng.integers(len(config.ground_textures)))])
        return Material("textured", texture=make_ground_texture(name, rng),
                        texture_contrast=float(rng.uniform(*TEXTURE_CONTRAST)))
    return MATTE


def _backdrop_plane(config: SyntheticConfig, camera: Camera, ground_texture: str,
                    rng: np.random.Generator) -> tuple[float, Any, str] | None:
    """``(y, texture, texture name)`` of the scene's backdrop wall, or None (no backdrop drawn,
    or its foot row would lie above the horizon). Its texture is another of the configured ones
    than the ground's where there is a choice."""
    if config.backdrop_probability <= 0.0 or rng.uniform() >= config.backdrop_probability:
        return None
    foot = camera.ground_point(0.5 * camera.resolution, rng.uniform(*BACKDROP_FOOT_ROW) * camera.resolution)
    if foot is None:
        return None
    names = [n for n in config.ground_textures if n != ground_texture] or list(config.ground_textures)
    name = str(names[int(rng.integers(len(names)))])
    return float(foot[1]), make_ground_texture(name, rng), name


def _place_object(role: str, config: SyntheticConfig, camera: Camera, placed: list[SceneObject],
                  rng: np.random.Generator, backdrop_y: float | None = None) -> SceneObject | None:
    """Draw a shape and a ground position seen in a central window of the image; retry until it
    stays fully in view, clear of the objects already placed and in front of the backdrop."""
    res = camera.resolution
    # The focus object sits nearer the centre, the others anywhere in the lower 3/4.
    window = ((0.25, 0.75), (0.4, 0.8)) if role == "focus" else ((0.08, 0.92), (0.28, 0.92))
    for _ in range(MAX_PLACEMENT_TRIES):
        kind = str(config.object_kinds[int(rng.integers(len(config.object_kinds)))])
        size = rng.uniform(*config.object_size)
        size_x, size_y, height, yaw = _random_shape(kind, size, rng)
        col = rng.uniform(*window[0]) * res
        row = rng.uniform(*window[1]) * res
        ground = camera.ground_point(col, row)
        colour = _random_colour(rng)
        if config.object_colours == "per_kind":
            colour = KIND_ALBEDO[kind]
        if ground is None:
            continue
        obj = SceneObject(kind, float(ground[0]), float(ground[1]), float(size_x), float(size_y),
                          float(height), float(yaw), colour, role)
        outline = camera.project(obj.outline_points())
        margin = 0.01 * res
        if not np.all(np.isfinite(outline)):
            continue
        if outline.min() < margin or outline.max() > res - margin:
            continue
        gap = 0.15 * config.object_size[0]
        if backdrop_y is not None and obj.y + obj.footprint_radius + gap > backdrop_y:
            continue
        if any(math.hypot(obj.x - o.x, obj.y - o.y) < obj.footprint_radius + o.footprint_radius + gap
               for o in placed):
            continue
        return obj
    return None


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values * 255.0), 0.0, 255.0).astype(np.uint8)


def _bound_hit_primary(origin: np.ndarray, dirs: np.ndarray, obj: SceneObject) -> np.ndarray:
    """Rays from one origin that pass through the object's bounding sphere (cheap culling)."""
    oc = obj.bound_center - origin
    tc = dirs @ oc
    d2 = float(oc @ oc) - tc * tc
    r = obj.bound_radius * 1.001
    return (d2 <= r * r) & (tc + r > 0.0)


def _shadow_candidates(points: np.ndarray, light: np.ndarray, min_light_z: float, tan_spread: float,
                       obj: SceneObject) -> np.ndarray:
    """Points whose rays towards the light may touch the object: only those need exact shadow
    rays against it.

    Uses the object's bounding vertical cylinder: a ray rising from ``p`` stays below the top
    ``height`` for ``t <= (height - p_z) / min_light_z``; over that stretch its ground track (a
    2-D segment along ``light``, widened by ``t * tan_spread`` for the penumbra) must pass within
    the footprint radius of the object's centre. Conservative and much tighter than a bounding
    sphere for tall, thin shapes.
    """
    t_max = np.maximum(obj.height - points[:, 2], 0.0) / min_light_z
    dx = points[:, 0] - obj.x
    dy = points[:, 1] - obj.y
    lx, ly = float(light[0]), float(light[1])
    horizontal2 = lx * lx + ly * ly
    if horizontal2 < 1e-18:
        s = np.zeros_like(dx)
    else:
        s = np.clip(-(dx * lx + dy * ly) / horizontal2, 0.0, t_max)
    cx = dx + s * lx
    cy = dy + s * ly
    reach = obj.footprint_radius * 1.001 + t_max * tan_spread * 1.01 + 1e-6
    return (t_max > 0.0) & (cx * cx + cy * cy <= reach * reach)


def _sky(dirs: np.ndarray) -> np.ndarray:
    """A plain gradient for rays above the horizon (only reachable with extreme camera settings)."""
    up = np.clip(dirs[:, 2:3], 0.0, 1.0)
    return (1.0 - up) * np.array([[0.75, 0.82, 0.9]]) + up * np.array([[0.35, 0.55, 0.85]])


@dataclass
class _Trace:
    """Geometry and lighting of every pixel of one view (flat, row-major)."""

    dirs: np.ndarray  # (P, 3) primary ray directions
    owner: np.ndarray  # (P,) object index, _GROUND, _BACKDROP or _SKY
    t: np.ndarray  # (P,) primary hit distance
    hit: np.ndarray  # indices of pixels that hit something
    points: np.ndarray  # (H, 3) hit points of ``hit``
    direct: np.ndarray  # (H,) unshadowed direct light, mean over light samples of max(0, n.l)
    shade_occ: np.ndarray  # (H,) direct light left with the other objects casting shadows
    shade_all: np.ndarray  # (H,) ... with the focus object casting as well
    spec_occ: np.ndarray  # (H,) white highlight (glossy objects) with the other objects casting shadows
    spec_all: np.ndarray  # (H,) ... with the focus object casting as well
    unoccluded_focus: int  # pixels the focus object would cover with no other object in front


def _trace(camera: Camera, objects: Sequence[SceneObject], light_dirs: np.ndarray, tan_spread: float,
           backdrop_y: float | None = None) -> _Trace:
    """Primary and shadow rays of one view. ``objects[0]`` is the focus object; ``backdrop_y``
    places the vertical backdrop plane y = backdrop_y (facing the camera), None for none."""
    origin = camera.position
    dirs = camera.ray_directions()

    # Primary rays: ground and backdrop first, then every object through its bounding sphere.
    t_best = np.where(dirs[:, 2] < -1e-12, -origin[2] / np.minimum(dirs[:, 2], -1e-12), np.inf)
    owner = np.where(np.isfinite(t_best), _GROUND, _SKY).astype(np.int64)
    if backdrop_y is not None:
        t_wall = np.where(dirs[:, 1] > 1e-12, (backdrop_y - origin[1]) / np.maximum(dirs[:, 1], 1e-12), np.inf)
        wall = t_wall < t_best
        t_best[wall] = t_wall[wall]
        owner[wall] = _BACKDROP
    unoccluded_focus = 0
    for index, obj in enumerate(objects):
        cand = np.flatnonzero(_bound_hit_primary(origin, dirs, obj))
        if cand.size == 0:
            continue
        t = obj.intersect(np.broadcast_to(origin, (cand.size, 3)), dirs[cand])
        closer = t < t_best[cand]
        if index == 0:
            unoccluded_focus = int(np.count_nonzero(closer))
        t_best[cand[closer]] = t[closer]
        owner[cand[closer]] = index

    hit = np.flatnonzero(owner != _SKY)
    points = origin[None, :] + t_best[hit, None] * dirs[hit]
    owner_hit = owner[hit]
    normals = np.zeros_like(points)
    normals[:, 2] = 1.0
    normals[owner_hit == _BACKDROP] = np.array([0.0, -1.0, 0.0])
    for index, obj in enumerate(objects):
        sel = np.flatnonzero(owner_hit == index)
        if sel.size:
            normals[sel] = obj.normal(points[sel])

    # Unshadowed direct light: constant on the ground, n.l per light sample on objects and backdrop.
    direct = np.full(hit.size, float(np.maximum(light_dirs[:, 2], 0.0).mean()))
    on_object = np.flatnonzero((owner_hit >= 0) | (owner_hit == _BACKDROP))
    direct[on_object] = np.maximum(normals[on_object] @ light_dirs.T, 0.0).mean(axis=1)

    # Blinn-Phong highlight per light sample on glossy objects (rows of ``glossy``), white.
    glossy = np.zeros(0, np.int64)
    highlight = np.zeros((0, light_dirs.shape[0]))
    glossy_parts = [(index, obj) for index, obj in enumerate(objects) if obj.material.specular > 0.0]
    if glossy_parts:
        glossy = np.flatnonzero(np.isin(owner_hit, [index for index, _ in glossy_parts]))
        to_camera = -dirs[hit[glossy]]
        halfway = light_dirs[None, :, :] + to_camera[:, None, :]
        halfway /= np.linalg.norm(halfway, axis=2, keepdims=True)
        n = normals[glossy]
        n_dot_h = np.maximum(np.einsum("pj,psj->ps", n, halfway), 0.0)
        facing = (n @ light_dirs.T) > 0.0
        highlight = np.zeros_like(n_dot_h)
        for index, obj in glossy_parts:
            rows = owner_hit[glossy] == index
            highlight[rows] = obj.material.specular * n_dot_h[rows] ** obj.material.shininess * facing[rows]
    spec_direct = np.zeros(hit.size)
    spec_direct[glossy] = highlight.mean(axis=1)
    glossy_row = np.full(hit.size, -1, np.int64)
    glossy_row[glossy] = np.arange(glossy.size)

    # Shadow rays, only from lit points towards objects whose bounding cylinder they may reach, and
    # never against the point's own object (convex shapes: n.l already darkens their far side).
    lit = np.flatnonzero(direct > 0.0)
    lit_points = points[lit] + _SHADOW_OFFSET * normals[lit]
    lit_owner = owner_hit[lit]
    mean_light = light_dirs.mean(axis=0)
    mean_light /= np.linalg.norm(mean_light)
    min_light_z = float(light_dirs[:, 2].min())
    samples = light_dirs.shape[0]
    tests: list[tuple[int, np.ndarray, np.ndarray]] = []
    for index, obj in enumerate(objects):
        near = _shadow_candidates(lit_points, mean_light, min_light_z, tan_spread, obj)
        cand = np.flatnonzero(near & (lit_owner != index))
        if cand.size == 0:
            continue
        origins = np.repeat(lit_points[cand], samples, axis=0)
        ray_dirs = np.tile(light_dirs, (cand.size, 1))
        blocked = np.isfinite(obj.intersect(origins, ray_dirs)).reshape(cand.size, samples)
        tests.append((index, cand, blocked))

    shade_occ = direct.copy()
    shade_all = direct.copy()
    spec_occ = spec_direct.copy()
    spec_all = spec_direct.copy()
    if tests:
        tested = np.zeros(lit.size, bool)
        for _, cand, _ in tests:
            tested[cand] = True
        rows = np.flatnonzero(tested)
        blocked_occ = np.zeros((rows.size, samples), bool)
        blocked_ins = np.zeros((rows.size, samples), bool)
        for index, cand, blocked in tests:
            target = blocked_ins if index == 0 else blocked_occ
            target[np.searchsorted(rows, cand)] |= blocked
        pixel_rows = lit[rows]
        n_dot_l = np.maximum(normals[pixel_rows] @ light_dirs.T, 0.0)
        shade_occ[pixel_rows] = (n_dot_l * ~blocked_occ).mean(axis=1)
        shade_all[pixel_rows] = (n_dot_l * ~(blocked_occ | blocked_ins)).mean(axis=1)
        shiny = glossy_row[pixel_rows] >= 0
        if np.any(shiny):
            spec = highlight[glossy_row[pixel_rows[shiny]]]
            spec_occ[pixel_rows[shiny]] = (spec * ~blocked_occ[shiny]).mean(axis=1)
            spec_all[pixel_rows[shiny]] = (spec * ~(blocked_occ[shiny] | blocked_ins[shiny])).mean(axis=1)
    return _Trace(dirs, owner, t_best, hit, points, direct, shade_occ, shade_all, spec_occ, spec_all, unoccluded_focus)


def _others_shadow(trace: _Trace) -> np.ndarray:
    """Flat bool: pixels where the other objects block at least ``OTHERS_SHADOW_MIN_BLOCKED`` of
    the direct light (cast shadows only: unlit sides have no direct light to block)."""
    flags = np.zeros(trace.owner.size, bool)
    flags[trace.hit] = (trace.direct > 0.0) & (trace.shade_occ < (1.0 - OTHERS_SHADOW_MIN_BLOCKED) * trace.direct)
    return flags


def _acceptable(trace: _Trace, focus_shadow: np.ndarray, min_fraction: float) -> bool:
    """Focus object mostly visible, its shadow and the other objects' shadows big enough."""
    pixels = trace.owner.size
    visible = np.count_nonzero(trace.owner == FOCUS_ID)
    if visible == 0 or visible < MIN_VISIBLE_FOCUS * trace.unoccluded_focus:
        return False
    min_pixels = max(min_fraction * pixels, 1.0)
    return bool(np.count_nonzero(focus_shadow) >= min_pixels
                and np.count_nonzero(_others_shadow(trace)) >= min_pixels)


# Surface texture coordinates on objects are scaled up so a 1-unit object shows a few texture
# details (a ground texture spans 3-9 units).
_OBJECT_TEXTURE_SCALE = 4.0


def _footprint(trace: _Trace, rows: np.ndarray, camera: Camera, normal_axis: int) -> np.ndarray:
    """Surface length one pixel covers at hit rows ``rows`` of a plane whose normal is world axis
    ``normal_axis``: distance / focal, stretched by the grazing angle (for mip level choice)."""
    cos_incidence = np.abs(trace.dirs[trace.hit[rows], normal_axis])
    return trace.t[trace.hit[rows]] / camera.focal_px / np.sqrt(np.maximum(cos_incidence, 1e-3))


def _textured_albedo(obj: SceneObject, points: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Albedo (N, 3) of a textured object at surface ``points``: its colour times the texture's
    colour relative to the texture's mean, contrast ``material.texture_contrast``, in [0, 1].
    The texture is laid by the point's offset from the object's axis and its height."""
    material = obj.material
    dx, dy, z = points[:, 0] - obj.x, points[:, 1] - obj.y, points[:, 2]
    scale = _OBJECT_TEXTURE_SCALE
    sample = material.texture.sample(scale * (dx + 0.7 * dy), scale * (z + 0.7 * (dx - dy)), scale * footprint)
    mean = material.texture.levels[-1].reshape(-1, 3).mean(axis=0)
    ratio = sample / np.maximum(mean, 1e-3)[None, :]
    pattern = 1.0 + material.texture_contrast * (ratio - 1.0)
    return np.clip(np.asarray(obj.colour, np.float32)[None, :] * pattern, 0.0, 1.0).astype(np.float32)


def _render(camera: Camera, objects: Sequence[SceneObject], texture, light_dirs: np.ndarray,
            ambient_term: float, exposure: float, tan_spread: float,
            backdrop: tuple[float, Any] | None = None,
            light_colour: Sequence[float] | None = None) -> tuple[SceneBuffers, _Trace]:
    """Ray-cast and shade one scene into its buffers. ``objects[0]`` is the focus object;
    ``backdrop`` is the wall's ``(y, texture)`` or None; ``light_colour`` an RGB multiplier of
    the whole shaded result (None: white, and no multiplication at all, so plain renders keep
    their bytes)."""
    res = camera.resolution
    trace = _trace(camera, objects, light_dirs, tan_spread, None if backdrop is None else backdrop[0])
    owner_hit = trace.owner[trace.hit]
    albedo = np.empty((trace.hit.size, 3), np.float32)
    g = np.flatnonzero(owner_hit == _GROUND)
    if g.size:
        albedo[g] = texture.sample(trace.points[g, 0], trace.points[g, 1], _footprint(trace, g, camera, 2))
    w = np.flatnonzero(owner_hit == _BACKDROP)
    if w.size:
        albedo[w] = backdrop[1].sample(trace.points[w, 0], trace.points[w, 2], _footprint(trace, w, camera, 1))
    for index, obj in enumerate(objects):
        on = np.flatnonzero(owner_hit == index)
        if obj.material.texture is not None and on.size:
            footprint = trace.t[trace.hit[on]] / camera.focal_px
            albedo[on] = _textured_albedo(obj, trace.points[on], footprint)
        else:
            albedo[on] = np.asarray(obj.colour, np.float32)

    base = albedo * np.float32(exposure)
    count = trace.owner.size
    rgb_without = np.empty((count, 3), np.float32)
    rgb_all = np.empty((count, 3), np.float32)
    sky = np.flatnonzero(trace.owner == _SKY)
    if sky.size:
        rgb_without[sky] = rgb_all[sky] = _sky(trace.dirs[sky])
    rgb_without[trace.hit] = base * (ambient_term + trace.shade_occ).astype(np.float32)[:, None]
    rgb_all[trace.hit] = base * (ambient_term + trace.shade_all).astype(np.float32)[:, None]
    if np.any(trace.spec_all > 0.0):  # white highlights of glossy objects
        rgb_without[trace.hit] += (exposure * trace.spec_occ).astype(np.float32)[:, None]
        rgb_all[trace.hit] += (exposure * trace.spec_all).astype(np.float32)[:, None]
    if light_colour is not None:  # a coloured light tints everything it and the ambient light reach
        tint = np.asarray(light_colour, np.float32)[None, :]
        rgb_without *= tint
        rgb_all *= tint
    colour_without = _to_uint8(rgb_without).reshape(res, res, 3)
    colour = _to_uint8(rgb_all).reshape(res, res, 3)

    object_id = np.where(trace.owner == _BACKDROP, _GROUND, trace.owner).reshape(res, res)
    # Class of every owner value: a lookup table indexed by owner - SKY_ID (sky, ground, objects...).
    owner_class = np.array([CLASS_IDS["sky"], CLASS_IDS["ground"], *(CLASS_IDS[obj.kind] for obj in objects)],
                           np.int64)
    buffers = SceneBuffers(
        colour=colour,
        colour_without_focus_shadow=colour_without,
        object_id=object_id,
        class_id=owner_class[object_id - _SKY],
        instance_id=np.where(object_id >= 0, object_id + 1, 0).astype(np.int64),
        # Exact by construction: the pixels whose rendered value the focus object's shadow changes.
        focus_shadow=np.any(colour != colour_without, axis=2),
        others_shadow=_others_shadow(trace).reshape(res, res),
        depth=trace.t.astype(np.float32).reshape(res, res),
    )
    return buffers, trace


def _tinted(texture, tint: Sequence[float], contrast: float):
    """The texture's brightness pattern (relative to its mean, contrast scaled) in one colour."""
    mean = float(texture.levels[0].mean())
    colour = np.asarray(tint, np.float32)[None, None, :]
    levels = tuple(
        np.clip((1.0 + contrast * (level.mean(axis=2, keepdims=True) / max(mean, 1e-3) - 1.0)) * colour, 0.0, 1.0)
        .astype(np.float32)
        for level in texture.levels
    )
    return replace(texture, levels=levels)


def _light_levels(ambient: float, elevation_deg: float) -> tuple[float, float]:
    """``(ambient_term, exposure)`` of a light at ``elevation_deg``: the ambient term makes
    shadowed ground / lit ground == ``ambient``; the exposure keeps faces turned to a low sun
    from saturating while leaving lit ground at its albedo for mid/high suns."""
    sin_el = math.sin(math.radians(elevation_deg))
    ambient_term = ambient * sin_el / (1.0 - ambient)
    exposure = 1.0 / (ambient_term + max(sin_el, 0.6))
    return ambient_term, exposure


def _rgb_argument(name: str, value: Any, high: float) -> tuple[float, float, float]:
    """Three finite numbers in [0, high] as a float tuple, or ValueError naming ``name``."""
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be three numbers (r, g, b), got {value!r}") from None
    if len(values) != 3 or not all(math.isfinite(v) and 0.0 <= v <= high for v in values):
        raise ValueError(f"{name} must be three numbers (r, g, b) in [0, {high:g}], got {value!r}")
    return values  # type: ignore[return-value]


def relight_scene(
    scene: Scene,
    *,
    seed: int,
    light_azimuth_deg: float | None = None,
    light_elevation_deg: float | None = None,
    ambient: float | None = None,
    light_colour: Sequence[float] = (1.0, 1.0, 1.0),
    exposure: float = 1.0,
    ground_texture: str | None = None,
    ground_tint: Sequence[float] | None = None,
    ground_contrast: float = 1.0,
    object_colours: Mapping[str, Sequence[float]] | None = None,
    object_material: Material | None = None,
    penumbra_deg: float = 2.0,
    penumbra_samples: int = 8,
) -> Scene:
    """Render an existing scene's geometry again under another condition: same camera, objects
    (kinds, places, sizes, materials) and backdrop, so ``class_id``, ``object_id``,
    ``instance_id`` and ``depth`` are identical to ``scene``'s; light, ground and object
    colours as asked. The shading model is :func:`render_scene`'s (module docstring).

    - ``light_azimuth_deg`` / ``light_elevation_deg`` (degrees, module docstring; elevation in
      (0, 90)), ``ambient`` (shadowed / lit ground brightness, in (0, 1)): None keeps the scene's.
      Shadows follow the new light (a low light casts long ones);
    - ``light_colour``: RGB multiplier in [0, 2] of the whole shaded render (direct and ambient
      light, highlights, sky), e.g. ``(1.0, 0.7, 0.45)`` for a warm dusk; ``exposure`` (> 0)
      scales the brightness on top of the renderer's own exposure;
    - ``ground_texture``: a name of ``TEXTURE_NAMES`` (None: the scene's texture name); a fresh
      texture of that name is drawn from ``seed`` (not the original's jitter), so two calls with
      the same seed and name get the same ground. ``ground_tint`` (RGB in (0, 1]) and
      ``ground_contrast`` (0..1) as in :class:`SyntheticConfig`;
    - ``object_colours``: object kind -> RGB albedo in [0, 1] (e.g. a per-kind table); kinds
      left out keep each object's own colour;
    - ``object_material``: a :class:`Material` for every object (e.g. ``Material("glossy",
      specular=0.5, shininess=30)``); None keeps each object's own;
    - ``penumbra_deg`` / ``penumbra_samples``: the soft shadow (the scene does not record the
      ones it was drawn with; the defaults are :class:`SyntheticConfig`'s), ``penumbra_deg``
      below the elevation.

    Deterministic: the same ``scene`` and arguments give the same bytes (textures draw from
    ``default_rng([seed, 0])``, the penumbra's light samples from ``default_rng([seed, 1])``).
    Returns a new :class:`Scene` (``seed``, ``camera`` and ``attempts`` kept; light, texture,
    ambient and object colours as rendered). Raises ValueError naming the bad argument.
    """
    _check_int("seed", seed, 0)
    azimuth = scene.light_azimuth_deg if light_azimuth_deg is None else _check_float("light_azimuth_deg",
                                                                                      light_azimuth_deg)
    elevation = scene.light_elevation_deg if light_elevation_deg is None else _check_float(
        "light_elevation_deg", light_elevation_deg)
    if not 0.0 < elevation < 90.0:
        raise ValueError(f"light_elevation_deg must lie within (0, 90), got {elevation!r}")
    ambient = scene.ambient if ambient is None else _check_float("ambient", ambient)
    if not 0.0 < ambient < 1.0:
        raise ValueError(f"ambient must lie within (0, 1), got {ambient!r}")
    colour = _rgb_argument("light_colour", light_colour, 2.0)
    exposure_scale = _check_float("exposure", exposure)
    if exposure_scale <= 0.0:
        raise ValueError(f"exposure must be positive, got {exposure!r}")
    texture_name = scene.texture if ground_texture is None else ground_texture
    if texture_name not in TEXTURE_NAMES:
        raise ValueError(f"ground_texture must be one of {', '.join(TEXTURE_NAMES)}, got {texture_name!r}")
    tint = None if ground_tint is None else _rgb_argument("ground_tint", ground_tint, 1.0)
    if tint is not None and min(tint) <= 0.0:
        raise ValueError(f"ground_tint must be three numbers in (0, 1], got {ground_tint!r}")
    contrast = _check_float("ground_contrast", ground_contrast)
    if not 0.0 <= contrast <= 1.0:
        raise ValueError(f"ground_contrast must be between 0 and 1, got {ground_contrast!r}")
    table = dict(object_colours or {})
    unknown = sorted(set(table) - set(OBJECT_KINDS))
    if unknown:
        raise ValueError(f"object_colours: unknown object kind(s) {', '.join(map(repr, unknown))}; "
                         f"allowed: {', '.join(OBJECT_KINDS)}")
    table = {kind: _rgb_argument(f"object_colours[{kind!r}]", rgb, 1.0) for kind, rgb in table.items()}
    penumbra = _check_float("penumbra_deg", penumbra_deg)
    if not 0.0 <= penumbra <= 15.0 or penumbra >= elevation:
        raise ValueError(f"penumbra_deg must be between 0 and 15 and below the light elevation ({elevation:g}), "
                         f"got {penumbra_deg!r}")
    _check_int("penumbra_samples", penumbra_samples, 1, 64)

    texture_rng = np.random.default_rng([seed, 0])
    texture = make_ground_texture(texture_name, texture_rng)
    if tint is not None:
        texture = _tinted(texture, tint, contrast)
    backdrop = None
    if scene.backdrop_y is not None and scene.backdrop_texture is not None:
        backdrop = (scene.backdrop_y, make_ground_texture(scene.backdrop_texture, texture_rng))
    if object_material is not None and not isinstance(object_material, Material):
        raise ValueError(f"object_material must be a Material or None, got {type(object_material).__name__}")
    objects = [replace(obj, colour=table[obj.kind]) if obj.kind in table else obj for obj in scene.objects]
    if object_material is not None:
        objects = [replace(obj, material=object_material) for obj in objects]
    light = light_direction(azimuth, elevation)
    light_dirs = _light_samples(light, penumbra, penumbra_samples, np.random.default_rng([seed, 1]))
    ambient_term, base_exposure = _light_levels(ambient, elevation)
    white = colour == (1.0, 1.0, 1.0)
    buffers, _ = _render(scene.camera, objects, texture, light_dirs, ambient_term, base_exposure * exposure_scale,
                         math.tan(math.radians(penumbra)), backdrop, None if white else colour)
    return replace(
        scene,
        buffers=buffers,
        light_azimuth_deg=float(azimuth),
        light_elevation_deg=float(elevation),
        light_direction=(float(light[0]), float(light[1]), float(light[2])),
        focus=objects[0],
        others=tuple(objects[1:]),
        texture=texture_name,
        ambient=float(ambient),
    )


def scene_seed(config: SyntheticConfig, split: str, index: int) -> int:
    """The seed of scene ``index`` of ``split``: drawn from ``SeedSequence(config.seed)`` with
    ``spawn_key = (split id, index)``, so train and test never share a scene and any scene can be
    re-rendered alone."""
    if split not in _SPLIT_IDS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if index < 0:
        raise ValueError(f"scene index must be >= 0, got {index}")
    sequence = np.random.SeedSequence(entropy=config.seed, spawn_key=(_SPLIT_IDS[split], int(index)))
    return int(sequence.generate_state(1, np.uint64)[0])


def render_scene(config: SyntheticConfig, scene_seed: int) -> Scene:
    """Render one scene deterministically from ``scene_seed`` (same seed, same bytes).

    Camera, ambient level, ground texture and light are drawn first; object layouts are then
    re-drawn until the focus object is mostly visible and both its shadow and the other objects'
    shadows cover at least ``config.min_shadow_fraction`` of the image. Re-drawing only the
    layout keeps the light angles distributed as configured. Only when
    ``MAX_SCENE_ATTEMPTS`` layouts all fail (a high light straight behind the camera hides
    every shadow behind its object; about 1 scene in 1,000) is the light re-drawn, up to
    ``MAX_LIGHT_DRAWS`` times.
    """
    rng = np.random.default_rng(scene_seed)
    # The realism options draw from their own generators (module docstring, "Reproducibility").
    backdrop_rng = np.random.default_rng([scene_seed, 1])
    material_rng = np.random.default_rng([scene_seed, 2])
    res = config.resolution
    camera = Camera(height=float(rng.uniform(*config.camera_height)),
                    pitch_deg=float(rng.uniform(*config.camera_pitch_deg)), vfov_deg=CAMERA_VFOV_DEG, resolution=res)
    ambient = float(rng.uniform(*config.ambient))
    texture_name = str(config.ground_textures[int(rng.integers(len(config.ground_textures)))])
    texture = make_ground_texture(texture_name, rng)
    if config.ground_tint is not None:
        texture = _tinted(texture, config.ground_tint, config.ground_contrast)
    backdrop = _backdrop_plane(config, camera, texture_name, backdrop_rng)
    backdrop_y = None if backdrop is None else backdrop[0]
    tan_spread = math.tan(math.radians(config.penumbra_deg))
    # Layouts are screened on a quarter-resolution geometry pass first (about 1/16 of the rays),
    # so rejected layouts cost little; the full-resolution render is checked again.
    preview = Camera(camera.height, camera.pitch_deg, camera.vfov_deg, res // 4) if res >= 128 else None

    attempt = 0
    for _ in range(MAX_LIGHT_DRAWS):
        azimuth = float(rng.uniform(*config.light_azimuth_deg))
        elevation = float(rng.uniform(*config.light_elevation_deg))
        light = light_direction(azimuth, elevation)
        ambient_term, exposure = _light_levels(ambient, elevation)
        light_dirs = _light_samples(light, config.penumbra_deg, config.penumbra_samples, rng)
        for _ in range(MAX_SCENE_ATTEMPTS):
            attempt += 1
            num_occluders = int(rng.integers(config.num_occluders[0], config.num_occluders[1] + 1))
            placed: list[SceneObject] = []
            for role in ["focus"] + ["other"] * num_occluders:
                obj = _place_object(role, config, camera, placed, rng, backdrop_y)
                if obj is None:
                    break
                placed.append(obj)
            if len(placed) != num_occluders + 1:
                continue
            if preview is not None:
                rough = _trace(preview, placed, light_dirs, tan_spread, backdrop_y)
                rough_shadow = np.zeros(rough.owner.size, bool)
                rough_shadow[rough.hit] = rough.shade_all < rough.shade_occ - 1e-9
                if not _acceptable(rough, rough_shadow, config.min_shadow_fraction):
                    continue
            placed = [replace(obj, material=_random_material(config, material_rng)) for obj in placed]
            buffers, trace = _render(camera, placed, texture, light_dirs, ambient_term, exposure, tan_spread,
                                     None if backdrop is None else backdrop[:2])
            if not _acceptable(trace, buffers.focus_shadow.reshape(-1), config.min_shadow_fraction):
                continue
            return Scene(
                buffers=buffers,
                seed=int(scene_seed),
                camera=camera,
                light_azimuth_deg=azimuth,
                light_elevation_deg=elevation,
                light_direction=(float(light[0]), float(light[1]), float(light[2])),
                focus=placed[0],
                others=tuple(placed[1:]),
                texture=texture_name,
                ambient=ambient,
                attempts=attempt,
                backdrop_y=backdrop_y,
                backdrop_texture=None if backdrop is None else backdrop[2],
            )
    raise RuntimeError(
        f"Could not lay out scene seed {scene_seed} in {attempt} attempts with visible shadows; "
        f"relax {config.parameter_name('object_size')}, {config.parameter_name('num_occluders')}, "
        f"{config.parameter_name('light_elevation_deg')} or {config.parameter_name('min_shadow_fraction')}"
    )


def render_split_scenes(config: SyntheticConfig, split: str) -> Iterator[tuple[str, Scene]]:
    """Yield ``(name, scene)`` for every scene of ``split`` ("train" or "test"), lazily, with
    names ``scene_00000``, ``scene_00001``... Each scene depends only on ``(config, split, index)``."""
    if split not in _SPLIT_IDS:  # checked here, not on first iteration, so typos fail at once
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    count = config.num_train if split == "train" else config.num_test
    return ((scene_name(index), render_scene(config, scene_seed(config, split, index))) for index in range(count))


def scene_name(index: int) -> str:
    """File stem of scene ``index``: ``scene_00042``."""
    return f"scene_{index:05d}"
