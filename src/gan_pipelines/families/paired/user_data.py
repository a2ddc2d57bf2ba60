"""Read and validate a user's paired data set before anything is written.

Two layouts (``source``):

* ``aligned``: ``<path>/<split>/<name>.png|jpg``, each file the input A and the target B side by
  side (the pix2pix layout). ``direction: AtoB`` reads the left half as the input, ``BtoA`` the
  right half (a swapped pair silently trains the reverse mapping, so it is a parameter).
* ``folders``: ``<path>/<split>/A/<name>`` and ``<path>/<split>/B/<name>`` with the same file
  names (stems), optionally ``<path>/<split>/instance/<name>`` (instance ids); ``direction``
  says which folder is the input.

Splits are ``train`` and ``test`` (a folder with only ``test`` is accepted for inference).

When the input kind is a label map (``label_nc`` set): a single-channel PNG of class indices
``0..label_nc-1`` (``ignore_value``, e.g. 255, marks don't-care pixels), or with
``palette_path`` an RGB colour-coded map (a JSON list of ``[r, g, b]`` per class index).
Every file is checked first; ``on_invalid: error`` raises one ValueError listing every bad file
and why, ``skip`` leaves the bad samples out and returns them with reasons.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gan_pipelines.image_folders import image_key
from gan_pipelines.image_inputs import is_litter, not_an_image, sample_name
from gan_pipelines.images import ImageError, read_image, to_rgb

logger = logging.getLogger(__name__)

LAYOUTS = ("aligned", "folders")
DIRECTIONS = ("AtoB", "BtoA")
ON_INVALID = ("error", "skip")
SPLITS = ("train", "test")
MAX_LISTED = 50


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
    ``ignore_value``); return ``(labels, [])`` or ``(None, [problem, ...])``.

    The one place label images are checked (the shared reader, when the project has one, is
    what decodes the file before this). Problems: colour image without a palette, colours not
    in the palette, a 0/255 binary mask given as labels, values out of range (value and count).
    """
    if array.ndim == 3:
        rgb = to_rgb(array)
        if spec.palette is None:
            if (rgb[:, :, 0] == rgb[:, :, 1]).all() and (rgb[:, :, 1] == rgb[:, :, 2]).all():
                array = rgb[:, :, 0]
            else:
                return None, ["colour image given as a label map; save class indices as a single-channel PNG, "
                              "or set palette_path for colour-coded labels"]
        else:
            colours = np.asarray(spec.palette, np.float64)
            distance = np.linalg.norm(rgb[:, :, None, :].astype(np.float64) - colours[None, None], axis=-1)
            nearest = distance.argmin(axis=-1)
            known = distance.min(axis=-1) <= spec.palette_tolerance
            if not known.all():
                values, counts = np.unique(rgb[~known].reshape(-1, 3), axis=0, return_counts=True)
                order = np.argsort(-counts)[:5]
                shown = ", ".join(f"({r}, {g}, {b}) x{c}" for (r, g, b), c in zip(values[order], counts[order]))
                within = "" if not spec.palette_tolerance else f" within {spec.palette_tolerance:g}"
                return None, [f"{int((~known).sum())} pixels have colours not in the palette{within}: {shown}"]
            return nearest.astype(np.uint8), []
    values, counts = np.unique(array, return_counts=True)
    present = set(values.tolist())
    if spec.label_nc < 255 and present <= {0, 255} and 255 in present and spec.ignore_value != 255:
        return None, [f"only values 0 and 255: a binary 0/255 mask, not a label map of class indices "
                      f"0..{spec.label_nc - 1}"]
    bad = [(int(v), int(c)) for v, c in zip(values, counts) if v >= spec.label_nc and v != spec.ignore_value]
    if bad:
        shown = ", ".join(f"{v} ({c} px)" for v, c in bad[:8])
        return None, [f"label value(s) out of range 0..{spec.label_nc - 1}: {shown}"
                      + ("" if spec.ignore_value is None else f" (ignore_value is {spec.ignore_value})")]
    return array.astype(np.uint8), []


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
    """What :func:`read_paired_folder` returns."""

    images: dict[str, np.ndarray]
    skipped: pd.DataFrame
    num_samples: dict[str, int] = field(default_factory=dict)


def _files(folder: Path) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """The image files of ``folder`` by sample name, under the project's shared input rules
    (:mod:`gan_pipelines.image_inputs`): OS litter is ignored, names are compared in Unicode NFC.
    Returns ``(files, problems)``: a name with several files (``a.png`` beside ``a.jpg``, or one
    visible name in two Unicode forms) or a file that is not an image is a problem of that name,
    never silently dropped."""
    if not folder.is_dir():
        return {}, {}
    found: dict[str, list[Path]] = defaultdict(list)
    problems: dict[str, list[str]] = defaultdict(list)
    for path in sorted(folder.iterdir()):
        if is_litter(path.name):
            continue
        if not path.is_file():
            problems[sample_name(path.name)].append(f"{folder.name}/{path.name}: a folder where images are expected")
            continue
        reason = not_an_image(path.name)
        if reason:
            problems[sample_name(path.name)].append(f"{folder.name}/{path.name}: {reason}")
            continue
        found[sample_name(path.name)].append(path)
    files = {}
    for name, paths in found.items():
        if len(paths) == 1:
            files[name] = paths[0]
        else:
            listed = ", ".join(ascii(p.name) for p in paths)
            problems[name].append(f"{folder.name}/: {len(paths)} files for the sample {name!r} ({listed}); keep one")
    return files, dict(problems)


def label_reader():
    """The project's label-map reader when it has one (exact 8/16-bit values, palette PNG
    indices), else the plain image reader."""
    import gan_pipelines.images as images

    return getattr(images, "read_labels", read_image)


def _read(path: Path, root: Path, problems: list[str], reader=read_image) -> np.ndarray | None:
    try:
        return reader(path, name=str(path.relative_to(root)))
    except ImageError as exc:
        problems.append(str(exc))
        return None


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
) -> PairedFolder:
    """Read and check every file of a user's folder; see the module docstring. ``class_maps``
    (``folders`` layout, sketch inputs): also read ``<split>/labels/<name>.png`` class maps, as
    ``class_map_kind``, for the segmentation score; checked like label-map inputs."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be AtoB or BtoA; got {direction!r}")
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be error or skip; got {on_invalid!r}")
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: no such folder")
    splits = [s for s in SPLITS if (root / s).is_dir()]
    if not splits:
        raise ValueError(f"{root}: expected train/ and test/ sub-folders (test alone for inference); found none")

    images: dict[str, np.ndarray] = {}
    bad: list[dict[str, str]] = []
    counts = {s: 0 for s in SPLITS}
    for split in splits:
        index_labels = labels is not None and labels.palette is None
        with_class_maps = class_maps is not None and layout == "folders" and (root / split / "labels").is_dir()
        for name, sample, problems in _split_samples(root, split, layout, direction, instance_kind is not None,
                                                     index_labels, with_class_maps):
            checked = {} if problems else _check_sample(sample, labels, min_size, problems, class_maps)
            if problems:
                bad.append({"split": split, "name": name, "reason": "; ".join(problems)})
                continue
            counts[split] += 1
            kinds = {"input": input_kind, "target": target_kind, "instance": instance_kind, "class_map": class_map_kind}
            for role, array in checked.items():
                images[image_key(split, kinds[role], name)] = array
    skipped = pd.DataFrame(bad, columns=["split", "name", "reason"])
    if bad and on_invalid == "error":
        listed = "\n".join(f"  {r['split']}/{r['name']}: {r['reason']}" for r in bad[:MAX_LISTED])
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise ValueError(
            f"{len(bad)} invalid sample(s) in {root} (nothing was written; fix them or set on_invalid: skip):\n"
            f"{listed}{more}"
        )
    if not any(counts.values()):
        raise ValueError(f"{root}: no valid samples")
    return PairedFolder(images, skipped, counts)


def _split_samples(root: Path, split: str, layout: str, direction: str, with_instances: bool, index_labels: bool,
                   with_class_maps: bool = False):
    """Yield ``(name, {"input", "target"[, "instance", "class_map"]: array}, problems)`` per sample."""
    folder = root / split
    if layout == "aligned":
        files, listing_problems = _files(folder)
        for name in sorted(set(files) | set(listing_problems)):
            problems: list[str] = list(listing_problems.get(name, []))
            if problems:
                yield name, {}, problems
                continue
            file = files[name]
            array = _read(file, root, problems)
            if array is None:
                yield name, {}, problems
                continue
            width = array.shape[1]
            if width % 2:
                yield name, {}, [f"{file.name}: width {width} is odd; an aligned pair is A|B side by side, "
                                 "two halves of equal width"]
                continue
            left, right = array[:, : width // 2], array[:, width // 2:]
            a, b = (left, right) if direction == "AtoB" else (right, left)
            yield name, {"input": a, "target": b}, []
        return
    source, target = ("A", "B") if direction == "AtoB" else ("B", "A")
    listing_problems: dict[str, list[str]] = defaultdict(list)

    def listed(folder_path: Path) -> dict[str, Path]:
        files, problems = _files(folder_path)
        for name, reasons in problems.items():
            listing_problems[name].extend(reasons)
        return files

    inputs, targets = listed(folder / source), listed(folder / target)
    instances = listed(folder / "instance") if with_instances else {}
    class_maps = listed(folder / "labels") if with_class_maps else {}
    for name in sorted(set(inputs) | set(targets) | set(listing_problems)):
        problems = list(listing_problems.get(name, []))
        if problems:
            yield name, {}, problems
            continue
        if name not in inputs:
            problems.append(f"{split}/{target}/{targets[name].name} has no partner in {split}/{source}/")
        if name not in targets:
            problems.append(f"{split}/{source}/{inputs[name].name} has no partner in {split}/{target}/")
        if problems:
            yield name, {}, problems
            continue
        reader = label_reader() if index_labels else read_image
        sample = {"input": _read(inputs[name], root, problems, reader), "target": _read(targets[name], root, problems)}
        if name in instances:
            sample["instance"] = _read(instances[name], root, problems, label_reader())
        if with_class_maps:
            if name in class_maps:
                sample["class_map"] = _read(class_maps[name], root, problems, label_reader())
            else:
                problems.append(f"no class map {split}/labels/{name}.png (the other samples of {split} have one)")
        yield name, sample, problems


def _check_sample(sample: Mapping[str, np.ndarray], labels: LabelSpec | None, min_size: int,
                  problems: list[str], class_maps: LabelSpec | None = None) -> dict[str, np.ndarray]:
    sizes = {role: array.shape[:2] for role, array in sample.items()}
    if len(set(sizes.values())) > 1:
        problems.append("sizes differ: " + ", ".join(f"{role} {h}x{w}" for role, (h, w) in sizes.items()))
    height, width = sample["input"].shape[:2]
    if min(height, width) < min_size:
        problems.append(f"{height}x{width} is smaller than the smallest size the networks take ({min_size} px)")
    checked: dict[str, np.ndarray] = {"target": to_rgb(sample["target"])}
    if labels is not None:
        decoded, label_problems = label_map_problems(sample["input"], labels)
        problems += [f"label map: {p}" for p in label_problems]
        checked["input"] = decoded
    else:
        checked["input"] = input_image_rgb(sample["input"])
    if "class_map" in sample and class_maps is not None:
        decoded, map_problems = label_map_problems(sample["class_map"], class_maps)
        problems += [f"class map: {p}" for p in map_problems]
        checked["class_map"] = decoded
    if "instance" in sample:
        instance = sample["instance"]
        if instance.ndim != 2:
            problems.append("instance map must be a single-channel image of instance ids")
        elif instance.size and int(instance.max()) > 255:
            problems.append(f"instance map has ids up to {int(instance.max())}; at most 255 instances are supported")
        checked["instance"] = instance
    return {} if problems else checked
