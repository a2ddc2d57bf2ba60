"""Read and validate a user's paired data set before anything is written.

Two layouts (``source``):

* ``aligned``: ``<path>/<split>/<name>.png|jpg``, each file the input A and the target B side by
  side (the pix2pix layout). ``direction: AtoB`` reads the left half as the input, ``BtoA`` the
  right half (a swapped pair silently trains the reverse mapping, so it is a parameter).
* ``folders``: ``<path>/<split>/A/<name>`` and ``<path>/<split>/B/<name>`` with the same file
  names (stems), optionally ``<path>/<split>/instance/<name>`` (instance ids); ``direction``
  says which folder is the input.

``<path>`` is a folder or a ``.zip`` archive of one (read in place, through the shared sources of
:mod:`gan_pipelines.image_inputs`, as the shadow family's ingest); the layout may sit inside up
to three nested single top-level folders (``facades.zip`` holding ``facades/train/...``).

Splits are ``train`` and ``test`` (a folder with only ``test`` is accepted for inference; the
ingest node refuses training data without a ``test`` split, which evaluation scores on).

When the input kind is a label map (``label_nc`` set): a single-channel PNG of class indices
``0..label_nc-1`` (``ignore_value``, e.g. 255, marks don't-care pixels), or with
``palette_path`` an RGB colour-coded map (a JSON list of ``[r, g, b]`` per class index), PNG or
JPEG: every pixel takes the class of its NEAREST palette colour; pixels farther than
``palette_tolerance`` from every palette colour are counted and reported (JPEG's chroma
subsampling smears colours across class borders), and only a picture where more than
:data:`MAX_FAR_SHARE` of the pixels are far (colours that do not match the palette: a wrong
palette file) is refused, with the counts. Instance maps (``<split>/instance/``) must come as a
set: with instances on, every sample needs one; ids above 255 (Cityscapes' 16-bit
``class * 1000 + k``) are relabelled to consecutive ids 0..K-1 in the order of their values,
which keeps every instance boundary exact (only boundaries are used).
Every file is checked first; ``on_invalid: error`` raises one ValueError listing every bad file
and why, ``skip`` leaves the bad samples out and returns them with reasons.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from gan_pipelines.image_folders import image_key
from gan_pipelines.image_inputs import is_litter, not_an_image, open_source, sample_name
from gan_pipelines.images import ImageError, read_image, to_rgb

logger = logging.getLogger(__name__)

LAYOUTS = ("aligned", "folders")
DIRECTIONS = ("AtoB", "BtoA")
ON_INVALID = ("error", "skip")
SPLITS = ("train", "test")
MAX_LISTED = 50
# A colour-coded label picture with more than this share of its pixels farther than
# palette_tolerance from every palette colour does not match the palette (refused); below it,
# far pixels are JPEG smear at class borders and take their nearest colour's class.
MAX_FAR_SHARE = 0.5
# Nested single top-level folders looked through for train/ and test/ (zips usually have one).
MAX_WRAPPER_DEPTH = 3


@dataclass(frozen=True)
class LabelSpec:
    """How to read label maps: ``label_nc`` classes, an optional don't-care value, an optional
    RGB palette (colour of class i at index i)."""

    label_nc: int
    ignore_value: int | None = None
    palette: tuple[tuple[int, int, int], ...] | None = None
    # Largest Euclidean RGB distance at which a colour still counts as its nearest palette
    # colour (JPEG-compressed colour labels, e.g. the pix2pix facades); 0: exact colours only.
    palette_tolerance: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.label_nc, bool) or not isinstance(self.label_nc, int) or not 1 <= self.label_nc <= 255:
            raise ValueError(f"label_nc must be an integer in 1..255 (label maps are 8-bit PNGs); got {self.label_nc!r}")
        if self.ignore_value is not None and (
            isinstance(self.ignore_value, bool) or not isinstance(self.ignore_value, int)
            or not self.label_nc <= self.ignore_value <= 255
        ):
            raise ValueError(f"ignore_value must be null or an integer in {self.label_nc}..255; got {self.ignore_value!r}")
        if isinstance(self.palette_tolerance, bool) or not isinstance(self.palette_tolerance, (int, float)) \
                or not 0 <= self.palette_tolerance <= 255:
            raise ValueError(f"palette_tolerance must be a number in 0..255; got {self.palette_tolerance!r}")


def read_palette(path: str | Path, label_nc: int) -> tuple[tuple[int, int, int], ...]:
    """A JSON list of ``[r, g, b]`` (class index = position); must have ``label_nc`` distinct colours."""
    try:
        colours = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"palette file {path}: cannot read it as JSON ({exc})") from None
    if (not isinstance(colours, list) or len(colours) != label_nc or not all(
            isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
            for c in colours)):
        raise ValueError(f"palette file {path}: expected a JSON list of {label_nc} [r, g, b] lists (0..255)")
    palette = tuple(tuple(c) for c in colours)
    if len(set(palette)) != len(palette):
        raise ValueError(f"palette file {path}: two classes share a colour")
    return palette  # type: ignore[return-value]


def label_map_problems(array: np.ndarray, spec: LabelSpec) -> tuple[np.ndarray | None, list[str]]:
    """Decode one label image into uint8 class indices ``(H, W)`` (don't-care pixels keep
    ``ignore_value``); return ``(labels, [])`` or ``(None, [problem, ...])``. See
    :func:`decode_label_map`, which also counts the pixels far from the palette."""
    labels, problems, _ = decode_label_map(array, spec)
    return labels, problems


def decode_label_map(array: np.ndarray, spec: LabelSpec) -> tuple[np.ndarray | None, list[str], int]:
    """Decode one decoded label image (``(H, W)`` integers, or ``(H, W, 3|4)`` uint8 colours)
    into uint8 class indices ``(H, W)`` in ``0..label_nc-1`` (don't-care pixels keep
    ``ignore_value``). Returns ``(labels, [], far)`` or ``(None, [problem, ...], far)``, where
    ``far`` counts the pixels of a colour-coded map farther than ``spec.palette_tolerance``
    (Euclidean RGB) from every palette colour (0 for index maps).

    The one place label images are checked (ingest and predict both call it, after
    :func:`label_file_reader`'s reader decoded the file). Colour-coded maps (``spec.palette``):
    every pixel takes its nearest palette colour's class; refused when more than
    :data:`MAX_FAR_SHARE` of the pixels are far (a wrong palette), with the counts and the most
    common far colours. Other problems: colour image without a palette, a 0/255 binary mask
    given as labels, values out of range (value and count).
    """
    if array.ndim == 3:
        rgb = to_rgb(array)
        if spec.palette is None:
            if (rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 1] == rgb[:, :, 2]).all():
                array = rgb[:, :, 0]
            else:
                return None, ["colour image given as a label map; save class indices as a single-channel PNG, "
                              "or set palette_path for colour-coded labels"], 0
        else:
            return _nearest_palette_classes(rgb, spec)
    values, counts = np.unique(array, return_counts=True)
    present = set(values.tolist())
    if spec.label_nc < 255 and present <= {0, 255} and 255 in present and spec.ignore_value != 255:
        return None, [f"only values 0 and 255: a binary 0/255 mask, not a label map of class indices "
                      f"0..{spec.label_nc - 1}"], 0
    bad = [(int(v), int(c)) for v, c in zip(values, counts) if (v < 0 or v >= spec.label_nc) and v != spec.ignore_value]
    if bad:
        shown = ", ".join(f"{v} ({c} px)" for v, c in bad[:8])
        return None, [f"label value(s) out of range 0..{spec.label_nc - 1}: {shown}"
                      + ("" if spec.ignore_value is None else f" (ignore_value is {spec.ignore_value})")], 0
    return array.astype(np.uint8), [], 0


def _nearest_palette_classes(rgb: np.ndarray, spec: LabelSpec) -> tuple[np.ndarray | None, list[str], int]:
    """Nearest palette colour per pixel, computed once per distinct colour (a JPEG has a few
    thousand; the pixel count can be millions)."""
    codes = (rgb[:, :, 0].astype(np.int64) << 16) | (rgb[:, :, 1].astype(np.int64) << 8) | rgb[:, :, 2]
    found, inverse, counts = np.unique(codes.ravel(), return_inverse=True, return_counts=True)
    colours = np.stack([found >> 16, (found >> 8) & 255, found & 255], axis=1).astype(np.float64)
    distance = np.linalg.norm(colours[:, None, :] - np.asarray(spec.palette, np.float64)[None], axis=-1)
    nearest, far_colour = distance.argmin(axis=1), distance.min(axis=1) > spec.palette_tolerance
    far = int(counts[far_colour].sum())
    if far > MAX_FAR_SHARE * codes.size:
        order = np.argsort(-counts[far_colour])[:5]
        shown = ", ".join(f"({c >> 16}, {(c >> 8) & 255}, {c & 255}) x{n}"
                          for c, n in zip(found[far_colour][order], counts[far_colour][order]))
        return None, [f"{far} of {codes.size} pixels ({far / codes.size:.0%}) are farther than "
                      f"{spec.palette_tolerance:g} from every palette colour (most common: {shown}): the colours do "
                      f"not match the palette (a wrong palette file, or palette_tolerance too small for this "
                      f"file); at most {MAX_FAR_SHARE:.0%} far pixels are taken as compression smear"], far
    return nearest[inverse].reshape(codes.shape).astype(np.uint8), [], far


def instance_map_problems(array: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """Check one decoded instance map (``(H, W)`` integer ids, e.g. a 16-bit Cityscapes
    ``*_instanceIds.png``) and return ``(ids, [])`` with uint8 ids, or ``(None, [problem])``.

    Only instance boundaries are used (1 where a pixel's id differs from a 4-neighbour's), so
    ids above 255 are relabelled to consecutive ids ``0..K-1`` in the order of their values
    (equal ids stay equal, different ones different: every boundary stays exact); a map with
    more than 256 distinct ids is refused, naming the count."""
    if array.ndim != 2:
        return None, ["instance map must be a single-channel image of instance ids"]
    if not array.size or int(array.max()) <= 255:
        return array.astype(np.uint8), []
    ids, inverse = np.unique(array, return_inverse=True)
    if len(ids) > 256:
        return None, [f"instance map has {len(ids)} distinct ids; at most 256 instances per picture are supported"]
    return inverse.reshape(array.shape).astype(np.uint8), []


def label_file_reader(spec: LabelSpec | None):
    """The reader (``reader(source, name=...)``) that decodes a label-map FILE before
    :func:`decode_label_map`: exact indices (:func:`label_reader`; JPEG refused, since lossy
    compression changes indices) for index maps, the plain image reader for colour-coded maps
    (JPEG accepted: nearest palette colour)."""
    return read_image if spec is not None and spec.palette is not None else label_reader()


def read_label_map(source, spec: LabelSpec, *, name: str) -> tuple[np.ndarray | None, list[str], int]:
    """Read and decode one label-map file (a path or bytes) the way ingest does:
    :func:`label_file_reader` then :func:`decode_label_map`. Returns ``(labels, problems, far)``;
    raises :class:`~gan_pipelines.images.ImageError` naming ``name`` for an unreadable file."""
    return decode_label_map(label_file_reader(spec)(source, name=name), spec)


def label_spec_from_meta(meta: Mapping | None, label_nc: int) -> LabelSpec:
    """The :class:`LabelSpec` a checkpoint's ``meta["labels"]`` (:func:`label_meta`) records;
    plain class indices ``0..label_nc-1`` for a checkpoint without it."""
    meta = meta or {}
    palette = meta.get("palette")
    return LabelSpec(int(label_nc), meta.get("ignore_value"),
                     None if palette is None else tuple(tuple(int(v) for v in c) for c in palette),
                     meta.get("palette_tolerance") or 0)


def label_meta(ingest_params: Mapping | None, section: str) -> dict:
    """How the ingest read label maps, for a checkpoint's ``meta["labels"]`` so that predict
    reads a user's maps the same way: ``{"label_nc", "ignore_value", "palette" ([[r, g, b], ...]
    read from ``palette_path``, or None), "palette_tolerance"}``. The embedded synthetic source
    writes plain class indices (no palette, no ignore value). Raises ValueError naming
    ``section`` for an unreadable palette file."""
    params = dict(ingest_params or {})
    label_nc = params.get("label_nc")
    if params.get("source", "synthetic") == "synthetic":
        return {"label_nc": label_nc, "ignore_value": None, "palette": None, "palette_tolerance": 0}
    palette = None
    if params.get("palette_path") and label_nc is not None:
        try:
            palette = [list(c) for c in read_palette(params["palette_path"], label_nc)]
        except ValueError as exc:
            raise ValueError(f"{section}: {exc}") from None
    return {"label_nc": label_nc, "ignore_value": params.get("ignore_value"), "palette": palette,
            "palette_tolerance": params.get("palette_tolerance", 0) or 0}


def input_image_rgb(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """An input image (sketch) as RGB; transparent pixels of an RGBA file become white paper,
    not black (sketches are often drawn on a transparent layer)."""
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        paper = array[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(paper), 0, 255).astype(np.uint8)
    return to_rgb(array, name=name)


@dataclass
class PairedFolder:
    """What :func:`read_paired_folder` returns. ``palette_far``: for colour-coded label maps,
    each valid sample's input file (as shown in messages) -> ``(far pixels, pixels)``, the
    pixels farther than ``palette_tolerance`` from every palette colour (see
    :func:`decode_label_map`)."""

    images: dict[str, np.ndarray]
    skipped: pd.DataFrame
    num_samples: dict[str, int] = field(default_factory=dict)
    palette_far: dict[str, tuple[int, int]] = field(default_factory=dict)


class _Entry(NamedTuple):
    name: str    # the file name
    shown: str   # how messages name it: its path under the data set's root
    member: str  # what the source reads


class _Tree:
    """The files of a folder or ``.zip`` (:func:`gan_pipelines.image_inputs.open_source`) below
    ``prefix`` (where ``train/`` and ``test/`` sit), by parent folder."""

    def __init__(self, source, files: Mapping[str, str], dirs: set[str], prefix: str) -> None:
        self.source = source
        self.dirs = {d[len(prefix):] for d in dirs if d.startswith(prefix) and d != prefix.rstrip("/")}
        self.children: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for rel, member in files.items():
            if rel.startswith(prefix):
                parent, _, name = rel[len(prefix):].split("\x00", 1)[0].rpartition("/")
                self.children[parent].append((name, member))
        for rel in self.dirs:
            parent, _, name = rel.rpartition("/")
            self.children[parent].append((name, None))

    def is_dir(self, rel: str) -> bool:
        return rel in self.dirs


def _find_prefix(files: Mapping[str, str], dirs: set[str], label: str) -> str:
    """'' or the wrapper folders (``facades/``) under which ``train/`` or ``test/`` sit."""
    prefix = ""
    for _ in range(MAX_WRAPPER_DEPTH + 1):
        child_dirs = {d[len(prefix):] for d in dirs if d.startswith(prefix) and d[len(prefix):]
                      and "/" not in d[len(prefix):] and not is_litter(d[len(prefix):])}
        child_files = [f for f in files if f.startswith(prefix) and "/" not in f[len(prefix):]
                       and not is_litter(f[len(prefix):])]
        if child_dirs & set(SPLITS):
            return prefix
        if len(child_dirs) == 1 and not child_files:
            prefix += next(iter(child_dirs)) + "/"
            continue
        break
    raise ValueError(f"{label}: expected train/ and test/ sub-folders (test alone for inference); found none")


def _files(tree: _Tree, folder: str) -> tuple[dict[str, _Entry], dict[str, list[str]]]:
    """The image files of ``folder`` (relative to the root) by sample name, under the project's
    shared input rules (:mod:`gan_pipelines.image_inputs`): OS litter is ignored, names are
    compared in Unicode NFC. Returns ``(files, problems)``: a name with several files
    (``a.png`` beside ``a.jpg``, or one visible name in two Unicode forms) or a file that is not
    an image is a problem of that name, never silently dropped."""
    if not tree.is_dir(folder):
        return {}, {}
    shown_folder = folder.rsplit("/", 1)[-1]
    found: dict[str, list[_Entry]] = defaultdict(list)
    problems: dict[str, list[str]] = defaultdict(list)
    for name, member in sorted(tree.children.get(folder, []), key=lambda item: item[0]):
        if is_litter(name):
            continue
        if member is None:
            problems[sample_name(name)].append(f"{shown_folder}/{name}: a folder where images are expected")
            continue
        reason = not_an_image(name)
        if reason:
            problems[sample_name(name)].append(f"{shown_folder}/{name}: {reason}")
            continue
        found[sample_name(name)].append(_Entry(name, f"{folder}/{name}", member))
    files = {}
    for name, entries in found.items():
        if len(entries) == 1:
            files[name] = entries[0]
        else:
            listed = ", ".join(ascii(e.name) for e in entries)
            problems[name].append(f"{shown_folder}/: {len(entries)} files for the sample {name!r} ({listed}); keep one")
    return files, dict(problems)


def label_reader():
    """The project's label-map reader when it has one (exact 8/16-bit values, palette PNG
    indices), else the plain image reader."""
    import gan_pipelines.images as images

    return getattr(images, "read_labels", read_image)


_BYTESIO_REPR = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


def _read(entry: _Entry, tree: _Tree, problems: list[str], reader=read_image) -> np.ndarray | None:
    try:
        data = tree.source.read(entry.member)
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        problems.append(f"{entry.shown}: cannot read ({exc})")
        return None
    try:
        return reader(data, name=entry.shown)
    except ImageError as exc:
        problems.append(_BYTESIO_REPR.sub("", str(exc)))
        return None


def _train_section(section: str) -> str:
    return f"{section.rsplit('.', 1)[0]}.train" if "." in section else "train"


def read_paired_folder(
    path: str | Path,
    *,
    layout: str,
    direction: str,
    input_kind: str,
    target_kind: str,
    instance_kind: str | None,
    labels: LabelSpec | None,
    min_size: int,
    on_invalid: str,
    class_maps: LabelSpec | None = None,
    class_map_kind: str | None = None,
    section: str = "ingest",
) -> PairedFolder:
    """Read and check every file of a user's folder or ``.zip``; see the module docstring.
    ``class_maps`` (``folders`` layout, sketch inputs): also read ``<split>/labels/<name>.png``
    class maps, as ``class_map_kind``, for the segmentation score; checked like label-map inputs.
    ``instance_kind`` set: every sample needs ``<split>/instance/<name>`` (``folders`` layout).
    ``section`` (e.g. ``pix2pixhd.ingest``) names the parameters in messages.

    Returns a :class:`PairedFolder`: uint8 arrays keyed ``<split>/<kind>/<name>.png`` (label and
    instance maps ``(H, W)``, pictures ``(H, W, 3)``). Raises ValueError for a path that is
    neither a folder nor a zip archive, no ``train/``/``test/``, instance maps asked for but
    absent (naming ``<section>.instances`` and ``<family>.train.instance_edges``), invalid
    samples (``on_invalid: error``; one message listing every bad file) or no valid sample."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be AtoB or BtoA; got {direction!r}")
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be error or skip; got {on_invalid!r}")
    source = open_source(path, param=f"{section}.path")
    root = source.label
    files, dirs = source.list()
    tree = _Tree(source, files, dirs, _find_prefix(files, dirs, root))
    splits = [s for s in SPLITS if tree.is_dir(s)]
    with_instances = instance_kind is not None
    if with_instances and not any(tree.is_dir(f"{split}/instance") for split in splits):
        where = ("aligned A|B pairs carry no instance maps" if layout == "aligned"
                 else "no split has an instance/ folder (<split>/instance/<name>.png, one instance-id map per sample)")
        raise ValueError(
            f"{root}: {section}.instances is true but {where}. Add them (folders layout), or set "
            f"{section}.instances: false together with {_train_section(section)}.instance_edges: false "
            "(the model then trains without instance boundaries)")

    images: dict[str, np.ndarray] = {}
    bad: list[dict[str, str]] = []
    counts = {s: 0 for s in SPLITS}
    palette_far: dict[str, tuple[int, int]] = {}
    for split in splits:
        with_class_maps = class_maps is not None and layout == "folders" and tree.is_dir(f"{split}/labels")
        for name, sample, problems, input_file in _split_samples(tree, split, layout, direction, with_instances,
                                                                 labels, with_class_maps, section):
            stats: dict[str, tuple[int, int]] = {}
            checked = {} if problems else _check_sample(sample, labels, min_size, problems, class_maps, stats,
                                                         input_file)
            if problems:
                bad.append({"split": split, "name": name, "reason": "; ".join(problems)})
                continue
            counts[split] += 1
            if "far" in stats:
                palette_far[input_file] = stats["far"]
            kinds = {"input": input_kind, "target": target_kind, "instance": instance_kind, "class_map": class_map_kind}
            for role, array in checked.items():
                images[image_key(split, kinds[role], name)] = array
    skipped = pd.DataFrame(bad, columns=["split", "name", "reason"])
    if bad and on_invalid == "error":
        listed = "\n".join(f"  {r['split']}/{r['name']}: {r['reason']}" for r in bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise ValueError(
            f"{len(bad)} invalid sample(s) in {root} (nothing was written; fix them or set on_invalid: skip):\n"
            f"{listed}{more}{_label_nc_hint(bad, labels, section)}"
        )
    if not any(counts.values()):
        raise ValueError(f"{root}: no valid samples")
    return PairedFolder(images, skipped, counts, palette_far)


OUT_OF_RANGE = re.compile(r"label value\(s\) out of range 0\.\.\d+: ((?:\d+ \(\d+ px\)(?:, )?)+)")


def _label_nc_hint(bad: list[dict[str, str]], labels: LabelSpec | None, section: str) -> str:
    """A last line naming ``<section>.label_nc`` when label values above it made samples invalid:
    the usual cause is a class count set too low, which skipping samples would not fix."""
    if labels is None:
        return ""
    values = [int(v) for r in bad for found in OUT_OF_RANGE.findall(r["reason"])
              for v in re.findall(r"(\d+) \(\d+ px\)", found)]
    if not values:
        return ""
    needed = max(values) + 1
    share = sum(bool(OUT_OF_RANGE.search(r["reason"])) for r in bad)
    return (f"\n{share} of them have label values up to {max(values)}, above {section}.label_nc ({labels.label_nc}) - 1: "
            f"if those are classes, set {section}.label_nc: {needed}" if needed <= 255 else "")


def _split_samples(tree: _Tree, split: str, layout: str, direction: str, with_instances: bool,
                   labels: LabelSpec | None, with_class_maps: bool = False, section: str = "ingest"):
    """Yield ``(name, {"input", "target"[, "instance", "class_map"]: array}, problems,
    input file as shown)`` per sample."""
    if layout == "aligned":
        files, listing_problems = _files(tree, split)
        for name in sorted(set(files) | set(listing_problems)):
            problems: list[str] = list(listing_problems.get(name, []))
            if problems:
                yield name, {}, problems, ""
                continue
            file = files[name]
            array = _read(file, tree, problems)
            if array is None:
                yield name, {}, problems, file.shown
                continue
            width = array.shape[1]
            if width % 2:
                yield name, {}, [f"{file.name}: width {width} is odd; an aligned pair is A|B side by side, "
                                 "two halves of equal width"], file.shown
                continue
            left, right = array[:, : width // 2], array[:, width // 2:]
            a, b = (left, right) if direction == "AtoB" else (right, left)
            yield name, {"input": a, "target": b}, [], file.shown
        return
    source, target = ("A", "B") if direction == "AtoB" else ("B", "A")
    listing_problems: dict[str, list[str]] = defaultdict(list)

    def listed(folder: str) -> dict[str, _Entry]:
        files, problems = _files(tree, folder)
        for name, reasons in problems.items():
            listing_problems[name].extend(reasons)
        return files

    inputs, targets = listed(f"{split}/{source}"), listed(f"{split}/{target}")
    instances = listed(f"{split}/instance") if with_instances else {}
    class_maps = listed(f"{split}/labels") if with_class_maps else {}
    reader = label_file_reader(labels) if labels is not None else read_image
    for name in sorted(set(inputs) | set(targets) | set(listing_problems)):
        problems = list(listing_problems.get(name, []))
        if problems:
            yield name, {}, problems, ""
            continue
        if name not in inputs:
            problems.append(f"{split}/{target}/{targets[name].name} has no partner in {split}/{source}/")
        if name not in targets:
            problems.append(f"{split}/{source}/{inputs[name].name} has no partner in {split}/{target}/")
        if with_instances and name not in instances:
            problems.append(f"no instance map {split}/instance/{name}.png ({section}.instances is true: every sample "
                            "needs one)")
        if problems:
            yield name, {}, problems, ""
            continue
        sample = {"input": _read(inputs[name], tree, problems, reader), "target": _read(targets[name], tree, problems)}
        if with_instances:
            sample["instance"] = _read(instances[name], tree, problems, label_reader())
        if with_class_maps:
            if name in class_maps:
                sample["class_map"] = _read(class_maps[name], tree, problems, label_reader())
            else:
                problems.append(f"no class map {split}/labels/{name}.png (the other samples of {split} have one)")
        yield name, sample, problems, inputs[name].shown


def _check_sample(sample: Mapping[str, np.ndarray], labels: LabelSpec | None, min_size: int,
                  problems: list[str], class_maps: LabelSpec | None = None,
                  stats: dict | None = None, input_file: str = "") -> dict[str, np.ndarray]:
    sizes = {role: array.shape[:2] for role, array in sample.items()}
    if len(set(sizes.values())) > 1:
        problems.append("sizes differ: " + ", ".join(f"{role} {h}x{w}" for role, (h, w) in sizes.items()))
    height, width = sample["input"].shape[:2]
    if min(height, width) < min_size:
        problems.append(f"{height}x{width} is smaller than the smallest size the networks take ({min_size} px)")
    checked: dict[str, np.ndarray] = {"target": to_rgb(sample["target"])}
    if labels is not None:
        decoded, label_problems, far = decode_label_map(sample["input"], labels)
        problems += [f"label map: {p}" + (f" (in {input_file})" if input_file else "") for p in label_problems]
        checked["input"] = decoded
        if labels.palette is not None and stats is not None:
            stats["far"] = (far, height * width)
    else:
        checked["input"] = input_image_rgb(sample["input"])
    if "class_map" in sample and class_maps is not None:
        decoded, map_problems = label_map_problems(sample["class_map"], class_maps)
        problems += [f"class map: {p}" for p in map_problems]
        checked["class_map"] = decoded
    if "instance" in sample:
        instance, instance_problems = instance_map_problems(sample["instance"])
        problems += instance_problems
        checked["instance"] = instance
    return {} if problems else checked
