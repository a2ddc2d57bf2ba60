"""Read and validate a user's unpaired data set (the CycleGAN layout) before anything is written.

Layout, in a folder or a ``.zip`` archive of one (read in place through the shared sources of
:mod:`gan_pipelines.image_inputs`; it may sit inside up to three nested single top-level
folders, e.g. ``horse2zebra.zip`` holding ``horse2zebra/trainA/...``)::

    trainA/  trainB/  testA/  [testB/]                   pictures of domain A / B (PNG or JPEG)
    [trainA_labels/ trainB_labels/ testA_labels/ testB_labels/]   optional class maps

* ``trainA``, ``trainB`` and ``testA`` must hold at least one picture; ``testB`` may be missing
  (then nothing can be translated B -> A on test and no hidden-pair metric exists: the
  summary's ``unavailable`` says so, per metric).
* Every file goes through the project's one image reader (:func:`gan_pipelines.image_inputs.read_kind`):
  EXIF orientation applied, 16-bit scaled to 8, grey, palette and RGBA pictures made RGB (alpha
  dropped). Operating-system litter (``.DS_Store``, ``__MACOSX/``...) is ignored.
* Test names: with ``test_pairs: true`` a testA and a testB file of the same name (stem) are
  the same scene in both domains (a hidden pair) and keep that name; otherwise (the default:
  in most unpaired data sets ``testA/1.jpg`` and ``testB/1.jpg`` are unrelated) test names get
  the domain as a prefix (``A_1``, ``B_1``), so no pair is implied. Train names always get it:
  the two train domains never share a name (see ``layout``).
* Class maps (``<folder>_labels/<stem>.png``: uint8 class indices, or a palette PNG whose index
  is the class) need ``ingest.label_nc``; a label folder must hold one map per picture of its
  domain folder, of the picture's size, values below ``label_nc`` (lossless PNG only). They
  enable the content metric of a direction (a2b needs ``trainB_labels`` to train the B
  segmenter and ``testA_labels`` for the source layout; b2a the other two).
* Mixed sizes: every picture (with its class map, nearest neighbour) is resized to the MOST
  COMMON picture size of the data set (ties: the size met first, in the order trainA, trainB,
  testA, testB and file names), logged and reported (``resized``); preprocess then resizes
  everything to the training resolution anyway. Aspect ratios are not kept.

Everything is checked before the node returns (so before Kedro writes anything), and every
problem found goes into ONE ValueError, one line each: a missing or empty ``trainA``/``trainB``/
``testA``, a file that is not a PNG/JPEG, an unreadable or truncated file, two files of one name,
a sub-folder inside a domain folder, a class map that is missing, extra, out of range or of
another size. A ``.zip`` with an entry that would land outside its folder (absolute path,
drive letter, ``..``) is refused as a whole before anything is read from it (the shared
:class:`~gan_pipelines.image_inputs.ZipSource` rule), the message naming those entries.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gan_pipelines.image_folders import image_key
from gan_pipelines.image_inputs import (
    format_problems, is_litter, log_notes, not_an_image, open_source, read_kind, sample_name,
)
from gan_pipelines.images import ImageError, resize_image, resize_labels

logger = logging.getLogger(__name__)

# Domain folder -> (split, domain), in the order files are read and sizes counted.
DOMAIN_FOLDERS: dict[str, tuple[str, str]] = {
    "trainA": ("train", "A"), "trainB": ("train", "B"), "testA": ("test", "A"), "testB": ("test", "B"),
}
REQUIRED_FOLDERS = ("trainA", "trainB", "testA")
LABEL_SUFFIX = "_labels"
LABEL_FOLDERS = {f"{folder}{LABEL_SUFFIX}": folder for folder in DOMAIN_FOLDERS}
# Nested single top-level folders looked through for the domain folders (zips usually have one).
MAX_WRAPPER_DEPTH = 3
# Metric names (``<name>_<direction>``) the data may make unavailable, and why.
HIDDEN_METRICS = ("hidden_l1", "hidden_psnr", "hidden_ssim")
TEST_B_METRICS = ("target_rate", "content_miou", "kid", "cycle_l1")
# PIL names an in-memory stream by its repr; that tells the user nothing.
_BYTESIO_REPR = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


@dataclass
class UnpairedFolder:
    """What :func:`read_unpaired_folder` returns.

    ``images``: ``{"<split>/<kind>/<name>.png": uint8 array}`` (kinds A, B: ``(H, W, 3)``;
    A_labels, B_labels: ``(H, W)``), all of one size; ``counts``: ``{"train": {"A", "B"},
    "test": {"A", "B", "pairs"}}``; ``label_folders``: the class-map folders read;
    ``resized``: None, or ``{"size": [H, W], "count": n, "from": {"WxH": n}}`` when mixed sizes
    were resized to the most common one; ``unavailable``: metric name -> why the data cannot
    give it."""

    images: dict[str, np.ndarray]
    counts: dict[str, dict[str, int]]
    label_folders: list[str] = field(default_factory=list)
    resized: dict[str, Any] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)


def _find_prefix(files: Mapping[str, str], dirs: set[str], root: str) -> str:
    """'' or the wrapper folders (``horse2zebra/``) under which the domain folders sit."""
    known = set(DOMAIN_FOLDERS) | set(LABEL_FOLDERS)
    prefix = ""
    for _ in range(MAX_WRAPPER_DEPTH + 1):
        child_dirs = {d[len(prefix):] for d in dirs if d.startswith(prefix) and d[len(prefix):]
                      and "/" not in d[len(prefix):] and not is_litter(d[len(prefix):])}
        child_files = [f for f in files if f.startswith(prefix) and "/" not in f[len(prefix):]
                       and not is_litter(f[len(prefix):])]
        if child_dirs & known:
            return prefix
        if len(child_dirs) == 1 and not child_files:
            prefix += next(iter(child_dirs)) + "/"
            continue
        shown = ", ".join(sorted(child_dirs)[:10]) or "no folders"
        raise ValueError(f"{root}: expected the CycleGAN layout trainA/ trainB/ testA/ [testB/] (folders of "
                         f"pictures); found {shown}" + (f" in {prefix}" if prefix else ""))
    raise ValueError(f"{root}: no trainA/ trainB/ testA/ folders within {MAX_WRAPPER_DEPTH} nested folders")


def _listing(files: Mapping[str, str], dirs: set[str], prefix: str
             ) -> tuple[dict[str, dict[str, list[tuple[str, str]]]], list[tuple[str, str]]]:
    """The files directly inside each known folder: ``{folder: {stem: [(file name, member)]}}``,
    and the listing's problems ``[(where, reason)]`` (sub-folders, files that are not pictures)."""
    known = set(DOMAIN_FOLDERS) | set(LABEL_FOLDERS)
    found: dict[str, dict[str, list[tuple[str, str]]]] = {f: defaultdict(list) for f in known
                                                           if f"{prefix}{f}" in dirs}
    problems: list[tuple[str, str]] = []
    nested: set[str] = set()
    for rel, member in sorted(files.items()):
        if not rel.startswith(prefix):
            continue
        parts = rel[len(prefix):].split("\x00", 1)[0].split("/")
        if parts[0] not in found or is_litter("/".join(parts)):
            continue
        if len(parts) > 2:
            nested.add(f"{parts[0]}/{parts[1]}/")
            continue
        name = parts[1]
        reason = not_an_image(name)
        if reason:
            problems.append((f"{parts[0]}/{name}", reason))
            continue
        found[parts[0]][sample_name(name)].append((name, member))
    problems += [(folder, "a sub-folder inside a domain folder; put the pictures directly in it") for folder in
                 sorted(nested)]
    return found, problems


def _decode(source, folder: str, entries: list[tuple[str, str]], kind_type: str,
            problems: list[tuple[str, str]], notes: dict[str, list[str]]) -> np.ndarray | None:
    """Read and decode one file (``rgb`` or ``labels``), or record why not."""
    if len(entries) > 1:
        names = ", ".join(sorted(name for name, _ in entries))
        problems.append((f"{folder}/", f"{len(entries)} files for the picture {sample_name(entries[0][0])!r} "
                                       f"({names}); keep one"))
        return None
    name, member = entries[0]
    shown = f"{folder}/{name}"
    try:
        data = source.read(member)
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        problems.append((shown, f"cannot read ({exc})"))
        return None
    try:
        array, note = read_kind(data, kind_type, name=shown)
    except ImageError as exc:
        message = _BYTESIO_REPR.sub("", str(exc))
        problems.append((shown, message.removeprefix(f"{shown}: ")))
        return None
    if note:
        notes[note].append(shown)
    return array


def read_unpaired_folder(path: str | Path, *, test_pairs: bool = False, label_nc: int | None = None,
                         section: str = "ingest") -> UnpairedFolder:
    """Read and check every file of a user's folder or ``.zip`` (module docstring).

    ``section`` (e.g. ``cyclegan.ingest``) names the parameters in messages. Raises ValueError
    for a path that does not exist or is neither a folder nor a zip archive, an unsafe zip, no
    domain folders, and, in one message listing every one, each problem of the data set."""
    source = open_source(path, param=f"{section}.path")
    root = source.label
    files, dirs = source.list()
    prefix = _find_prefix(files, dirs, root)
    found, problems = _listing(files, dirs, prefix)

    for folder in REQUIRED_FOLDERS:
        if folder not in found:
            problems.append((f"{folder}/", "missing (the CycleGAN layout needs trainA/, trainB/ and testA/)"))
        elif not found[folder]:
            problems.append((f"{folder}/", "empty: no PNG or JPEG picture in it"))
    label_folders = sorted(folder for folder in LABEL_FOLDERS if folder in found)
    if label_folders and label_nc is None:
        problems.append((", ".join(f"{f}/" for f in label_folders),
                         f"class maps found but {section}.label_nc is not set (the number of classes, 2..255)"))
    if label_nc is not None and not label_folders:
        problems.append((f"{section}.label_nc", f"is {label_nc} but there is no class-map folder "
                                                "(trainA_labels/, trainB_labels/, testA_labels/, testB_labels/)"))
    for labels in label_folders:
        if LABEL_FOLDERS[labels] not in found:
            problems.append((f"{labels}/", f"class maps without their pictures: there is no {LABEL_FOLDERS[labels]}/"))

    notes: dict[str, list[str]] = defaultdict(list)
    pictures: dict[tuple[str, str], np.ndarray] = {}  # (folder, stem) -> RGB
    for folder in DOMAIN_FOLDERS:
        for stem, entries in sorted(found.get(folder, {}).items()):
            array = _decode(source, folder, entries, "rgb", problems, notes)
            if array is not None:
                pictures[(folder, stem)] = array
    maps: dict[tuple[str, str], np.ndarray] = {}  # (domain folder, stem) -> class indices
    if label_nc is not None:
        for labels in label_folders:
            folder = LABEL_FOLDERS[labels]
            stems, map_stems = set(found.get(folder, {})), set(found[labels])
            for stem in sorted(stems - map_stems):
                problems.append((f"{labels}/", f"no class map for {folder}/{found[folder][stem][0][0]} "
                                               f"({labels}/{stem}.png); every picture needs one"))
            for stem in sorted(map_stems - stems):
                problems.append((f"{labels}/{found[labels][stem][0][0]}",
                                 f"a class map without a picture in {folder}/"))
            for stem in sorted(map_stems & stems):
                array = _decode(source, labels, found[labels][stem], "labels", problems, notes)
                if array is None:
                    continue
                shown = f"{labels}/{found[labels][stem][0][0]}"
                picture = pictures.get((folder, stem))
                if picture is not None and picture.shape[:2] != array.shape:
                    (h, w), (ph, pw) = array.shape, picture.shape[:2]
                    problems.append((shown, f"{w}x{h} but its picture is {pw}x{ph}; a class map must match its "
                                            "picture's size"))
                    continue
                values, counts = np.unique(array, return_counts=True)
                bad = [(int(v), int(c)) for v, c in zip(values, counts) if v >= label_nc]
                if bad:
                    listed = ", ".join(f"{v} ({c} px)" for v, c in bad[:8])
                    problems.append((shown, f"class value(s) {listed} not below {section}.label_nc ({label_nc})"))
                    continue
                maps[(folder, stem)] = array.astype(np.uint8)

    if problems:
        raise ValueError(format_problems(
            sorted(problems), f"{len(problems)} problem(s) in {root} ({section}.path); nothing was written, fix them and "
                      "run again:"))
    log_notes(logger, notes, root)

    size, resized = _common_size(pictures)
    if resized is not None:
        logger.warning("%s: pictures of %d sizes (%s); %d resized to the most common size %dx%d (width x height), "
                       "their class maps with nearest neighbour", root, len(resized["from"]) + 1,
                       ", ".join(f"{k}: {v}" for k, v in resized["from"].items()), resized["count"], size[1], size[0])

    images: dict[str, np.ndarray] = {}
    counts = {"train": {"A": 0, "B": 0}, "test": {"A": 0, "B": 0, "pairs": 0}}
    for (folder, stem), picture in pictures.items():
        split, domain = DOMAIN_FOLDERS[folder]
        name = stem if split == "test" and test_pairs else f"{domain}_{stem}"
        images[image_key(split, domain, name)] = resize_image(picture, size)
        counts[split][domain] += 1
        if (folder, stem) in maps:
            images[image_key(split, f"{domain}_labels", name)] = resize_labels(maps[(folder, stem)], size)
    if test_pairs:
        stems = {folder: {s for f, s in pictures if f == folder} for folder in ("testA", "testB")}
        counts["test"]["pairs"] = len(stems["testA"] & stems["testB"])
    unavailable = _unavailable(counts, label_folders, test_pairs, section)
    return UnpairedFolder(images, counts, label_folders, resized, unavailable)


def _common_size(pictures: Mapping[tuple[str, str], np.ndarray]) -> tuple[tuple[int, int], dict[str, Any] | None]:
    """``((H, W), resized)``: the most common picture size (ties: the first met) and, when some
    pictures have another, ``{"size": [H, W], "count": n, "from": {"WxH": n}}``."""
    sizes = Counter(array.shape[:2] for array in pictures.values())  # insertion order = reading order
    size = max(sizes, key=lambda s: sizes[s])  # max keeps the first of equal counts
    if len(sizes) == 1:
        return size, None
    others = {f"{w}x{h}": n for (h, w), n in sizes.items() if (h, w) != size}
    return size, {"size": [int(size[0]), int(size[1])], "count": sum(others.values()), "from": others}


def _unavailable(counts: Mapping[str, Mapping[str, int]], label_folders: list[str], test_pairs: bool,
                 section: str) -> dict[str, str]:
    """Metric name -> why this data set cannot give it."""
    out: dict[str, str] = {}

    def mark(names, directions, reason):
        for name in names:
            for direction in directions:
                out.setdefault(f"{name}_{direction}", reason)

    if not counts["test"]["B"]:
        reason = "no testB/ pictures: nothing to translate B -> A on test and no real B test picture to compare with"
        mark(HIDDEN_METRICS + TEST_B_METRICS, ("b2a",), reason)
        mark(HIDDEN_METRICS, ("a2b",), "no testB/ pictures: no hidden pairs (the same scene in both domains)")
    elif not test_pairs:
        mark(HIDDEN_METRICS, ("a2b", "b2a"),
             f"{section}.test_pairs is false: testA/ and testB/ pictures are not taken as the same scenes (set it true "
             "when files of the same name in testA/ and testB/ show the same scene in both domains)")
    elif not counts["test"]["pairs"]:
        mark(HIDDEN_METRICS, ("a2b", "b2a"), f"{section}.test_pairs is true but no testA/ and testB/ file names match")
    have = set(label_folders)
    for direction, (source, target) in {"a2b": ("testA", "trainB"), "b2a": ("testB", "trainA")}.items():
        missing = [f"{folder}{LABEL_SUFFIX}/" for folder in (target, source) if f"{folder}{LABEL_SUFFIX}" not in have]
        if missing:
            mark(("content_miou",), (direction,), f"no class maps {' and '.join(missing)} (the content metric of "
                                                  f"{direction} needs {target}{LABEL_SUFFIX}/ to train the segmenter "
                                                  f"and {source}{LABEL_SUFFIX}/ for the source layout)")
    return out
