"""Read and validate real data in the Shadow-AR layout (the ``ingest`` step).

Accepted input (``shadow.ingest.path``) is a folder or a ``.zip`` archive holding::

    <root>/{train,test}/{noshadow,shadow,mask,robject,rshadow}/<name>.png   (PNG or JPEG)

where ``<root>`` is the folder / archive itself or a single top-level folder inside it
(``dataset/train/...``). Inference-only data holds just ``test/{noshadow,mask}/`` (no ``train/``,
no ``shadow``/``robject``/``rshadow`` anywhere); :attr:`ShadowARData.inference_only` says so.

Everything is validated before the caller writes anything, by the rules every entry point
shares (:mod:`gan_pipelines.image_inputs`; prediction on a folder uses the same ones):

- a sample is a ``(split, file name without extension)`` pair, names compared in Unicode NFC;
  it must have exactly one image in every required kind folder (all five kinds, or
  ``noshadow`` + ``mask`` for inference-only data): ``a.png`` beside ``a.jpg`` is refused;
- every file is decoded once, as shown (EXIF orientation applied, 16-bit scaled to 8 bits, at
  most :data:`gan_pipelines.images.MAX_IMAGE_PIXELS` pixels); RGB kinds are made RGB (grey
  promoted, alpha dropped), mask kinds single-channel 0/255 by the one mask rule
  (:data:`gan_pipelines.images.MASK_RULE`); conversions are counted in one log line each, never
  one line per file;
- the inserted object's ``mask`` must mark something: an empty one is a problem of its sample;
- all files of a sample share one size.

Decisions about stray files (documented here because the caller cannot see them):

- operating-system litter (:func:`gan_pipelines.image_inputs.is_litter`: ``.DS_Store``,
  ``._x.png``, ``.ipynb_checkpoints/``, ``__MACOSX/``, ``Thumbs.db``, ``desktop.ini``, ...) is
  ignored with one DEBUG summary line;
- a non-image file (any extension other than .png/.jpg/.jpeg) inside a kind folder is a problem of
  the sample with its stem (``train/x: mask/x.txt: not a PNG or JPEG file``); it is never dropped;
- files in a sub-folder of a kind folder are reported as problems too (the layout is flat);
- folders and files outside ``{train,test}/<kind>/`` (``README.md``, ``val/``, ``train/shadow_mask/``)
  are not part of the layout: they are ignored with one INFO line naming them.

``on_invalid="error"`` raises a single :class:`ShadowARDataError` listing every problem;
``on_invalid="skip"`` keeps the valid samples and returns the rest in
:attr:`ShadowARData.skipped` (columns ``split, name, reason``).

Archives are read in place (no extraction); one whose entries are absolute, hold ``..``
components or drive letters is refused before anything is read from it. Decoded arrays are not
kept: the returned loaders re-read and re-normalise a file when called (memory stays bounded for
3,000 x 640x480 quintuples); they are picklable, so they can go into DataLoader workers.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from gan_pipelines.families.shadow import layout
from gan_pipelines.image_folders import image_key, split_key
from gan_pipelines.image_inputs import (
    FolderSource, SampleIndex, ZipSource, check_sample, format_problems, is_litter, log_notes, read_kind, unsafe_member,
)
from gan_pipelines.images import ImageError

logger = logging.getLogger(__name__)

ON_INVALID_CHOICES = ("error", "skip")
SKIPPED_COLUMNS = ["split", "name", "reason"]
# Kinds that only full (training / evaluation) data has.
TARGET_KINDS = tuple(kind for kind in layout.SAMPLE_KINDS if kind not in layout.INFERENCE_KINDS)
# How many folder levels we descend through a chain of single top-level folders.
MAX_WRAPPER_DEPTH = 3

EXPECTED_LAYOUT = (
    "Expected the Shadow-AR layout (a folder or a .zip; the layout may also sit inside one\n"
    "top-level folder, e.g. dataset/train/...):\n"
    "  <root>/train/{noshadow,shadow,mask,robject,rshadow}/<name>.png\n"
    "  <root>/test/{noshadow,shadow,mask,robject,rshadow}/<name>.png\n"
    "Every sample has one file with the same name in each kind folder (PNG or JPEG).\n"
    "For inference only, <root>/test/{noshadow,mask}/<name>.png is enough."
)


class ShadowARDataError(ValueError):
    """The Shadow-AR input is missing, malformed or holds invalid samples; the message says
    which and why, and what layout is expected."""


@dataclass
class ShadowARData:
    """Validated Shadow-AR data.

    ``images`` maps ``image_key(split, kind, name)`` to a loader returning the normalised
    array (RGB ``(H, W, 3)`` uint8, masks ``(H, W)`` uint8 0/255). ``skipped`` lists the samples
    left out in ``on_invalid="skip"`` mode (columns ``split, name, reason``; empty otherwise).
    """

    images: dict[str, Callable[[], np.ndarray]]
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))
    inference_only: bool = False

    @property
    def samples(self) -> list[tuple[str, str]]:
        """Sorted ``(split, name)`` pairs of the valid samples."""
        return sorted({split_key(key)[::2] for key in self.images})


# --------------------------------------------------------------------------------------------
# Sources: a folder or a zip archive, listed as POSIX relative paths, read as bytes.


class _FolderSource(FolderSource):
    def __init__(self, root: Path):
        super().__init__(root, param="shadow.ingest.path", error=ShadowARDataError)


class _ZipSource(ZipSource):
    """The shared :class:`~gan_pipelines.image_inputs.ZipSource` (read in place, one handle per
    process, picklable), raising :class:`ShadowARDataError`."""

    def __init__(self, path: Path):
        super().__init__(path, param="shadow.ingest.path", error=ShadowARDataError)


_unsafe_member = unsafe_member


# --------------------------------------------------------------------------------------------
# Loaders


class _ImageLoader:
    """Picklable lazy loader: re-reads one file and returns its normalised array."""

    def __init__(self, source: _FolderSource | _ZipSource, member: str, kind: str):
        self.source = source
        self.member = member
        self.kind = kind

    def __call__(self) -> np.ndarray:
        label = self.source.describe(self.member)
        try:
            data = self.source.read(self.member)
        except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
            raise ImageError(f"{label}: cannot read ({exc})") from None
        return read_kind(data, layout.KIND_TYPES[self.kind], name=label)[0]

    def __repr__(self) -> str:
        return f"_ImageLoader({self.source.describe(self.member)!r}, kind={self.kind!r})"


# --------------------------------------------------------------------------------------------
# Layout


def _find_root(files: dict[str, str], dirs: set[str], label: str) -> str:
    """Return the prefix ('' or 'dataset/') under which train/ and test/ sit."""
    prefix = ""
    for _ in range(MAX_WRAPPER_DEPTH + 1):
        children_dirs = {d[len(prefix):] for d in dirs if d.startswith(prefix) and "/" not in d[len(prefix):]}
        children_files = [f for f in files if f.startswith(prefix) and "/" not in f[len(prefix):]]
        children_dirs = {d for d in children_dirs if d and not is_litter(d)}
        children_files = [f for f in children_files if not is_litter(f)]
        if children_dirs & set(layout.SPLITS):
            return prefix
        kinds_here = children_dirs & set(layout.SAMPLE_KINDS)
        if kinds_here:
            where = prefix.rstrip("/") or "the top level"
            raise ShadowARDataError(
                f"{label}: found kind folders ({', '.join(sorted(kinds_here))}) at {where} but no "
                f"train/ or test/ split folder above them. Put them under train/ or test/ "
                f"(inference-only data: test/noshadow and test/mask).\n{EXPECTED_LAYOUT}"
            )
        if len(children_dirs) == 1 and not children_files:
            prefix = prefix + next(iter(children_dirs)) + "/"
            continue
        break
    if not any(not is_litter(f) for f in files):
        raise ShadowARDataError(f"{label}: no files found (empty folder or archive).\n{EXPECTED_LAYOUT}")
    found = sorted({p.split("/")[0] for p in list(files) + list(dirs) if not is_litter(p)})
    shown = ", ".join(found[:10]) + (", ..." if len(found) > 10 else "")
    raise ShadowARDataError(
        f"{label}: no train/ or test/ folder found (top level holds: {shown or 'nothing'}).\n"
        f"{EXPECTED_LAYOUT}"
    )


def _collect(files: dict[str, str], prefix: str) -> tuple[SampleIndex, list, list]:
    """Group files under ``prefix`` into samples. Returns (samples, ignored_litter, ignored_outside)."""
    samples = SampleIndex()
    junk: list[str] = []
    outside: list[str] = []
    for rel, member in sorted(files.items()):
        rel = rel.split("\x00", 1)[0]
        if not rel.startswith(prefix):
            (junk if is_litter(rel) else outside).append(rel)
            continue
        inner = rel[len(prefix):]
        if is_litter(inner):
            junk.append(rel)
            continue
        parts = inner.split("/")
        if len(parts) < 3 or parts[0] not in layout.SPLITS or parts[1] not in layout.SAMPLE_KINDS:
            outside.append(rel)
            continue
        split, kind, filename = parts[0], parts[1], parts[-1]
        shown = "/".join(parts[1:])
        if len(parts) > 3:
            samples.add_problem(split, filename, f"{shown}: inside a sub-folder of {split}/{kind}/ (files must sit directly in it)")
        else:
            samples.add(split, kind, filename, member, shown=shown)
    return samples, junk, outside


def _summarise_paths(paths: list[str], limit: int = 5) -> str:
    groups: dict[str, int] = defaultdict(int)
    for path in paths:
        parent = path.rsplit("/", 1)[0] + "/" if "/" in path else path
        groups[parent] += 1
    items = [f"{name} ({count} file{'s' if count != 1 else ''})" for name, count in sorted(groups.items())]
    return ", ".join(items[:limit]) + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


# --------------------------------------------------------------------------------------------
# Validation


# The kinds of a Shadow-AR sample and how each is decoded (see gan_pipelines.image_inputs.read_kind).
_SAMPLE_KIND_TYPES = {kind: layout.KIND_TYPES[kind] for kind in layout.SAMPLE_KINDS}


def read_shadow_ar(path: str | Path, on_invalid: str = "error") -> ShadowARData:
    """Read and validate Shadow-AR data from a folder or a .zip (see the module docstring).

    Raises :class:`ShadowARDataError` for a missing path, a non-zip file, an unsafe archive, a
    wrong or empty layout, invalid samples (``on_invalid="error"``) or no valid sample at all;
    ``ValueError`` for an ``on_invalid`` other than ``"error"`` / ``"skip"``.
    """
    if on_invalid not in ON_INVALID_CHOICES:
        raise ValueError(
            f"ingest.on_invalid must be one of {', '.join(map(repr, ON_INVALID_CHOICES))}, "
            f"got {on_invalid!r}"
        )
    root = Path(path).expanduser()
    if root.is_dir():
        source: _FolderSource | _ZipSource = _FolderSource(root)
    elif root.is_file():
        source = _ZipSource(root)
    elif root.exists():
        raise ShadowARDataError(f"ingest.path {root} is neither a folder nor a .zip file")
    else:
        raise ShadowARDataError(
            f"ingest.path {root} does not exist (expected a Shadow-AR folder or .zip)"
        )

    files, dirs = source.list()
    prefix = _find_root(files, dirs, source.label)
    samples, junk, outside = _collect(files, prefix)
    if junk:
        logger.debug("Ignored %d hidden/system file(s) in %s (e.g. %s)", len(junk), source.label, junk[0])
    if outside:
        logger.info(
            "Ignored %d file(s) outside {train,test}/{%s}/ in %s: %s",
            len(outside), ",".join(layout.SAMPLE_KINDS), source.label, _summarise_paths(outside),
        )

    kinds_by_split = samples.kinds_by_group()
    all_kinds = set().union(*kinds_by_split.values()) if kinds_by_split else set()
    if not len(samples) or not all_kinds:
        detail = " (only non-image files found in the kind folders)" if len(samples) else ""
        if len(samples):  # only stray files: report them, they are what the user has to fix
            problems = [(s.label, "; ".join(s.problems)) for s in samples]
            raise ShadowARDataError(
                format_problems(problems, f"no samples found in {source.label}{detail}:")
                + f"\n{EXPECTED_LAYOUT}"
            )
        raise ShadowARDataError(f"no samples found in {source.label}.\n{EXPECTED_LAYOUT}")

    inference_only = not (all_kinds & set(TARGET_KINDS))
    if inference_only and "train" in kinds_by_split:
        raise ShadowARDataError(
            f"{source.label}: train/ holds only {', '.join(sorted(kinds_by_split['train']))}: training "
            f"data needs all five kinds ({', '.join(layout.SAMPLE_KINDS)}). Inference-only data "
            f"(noshadow + mask) goes in test/ with no train/ folder.\n{EXPECTED_LAYOUT}"
        )
    required = layout.INFERENCE_KINDS if inference_only else layout.SAMPLE_KINDS

    ordered = list(samples)
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(
            lambda s: check_sample(s, source.read, _SAMPLE_KIND_TYPES, required,
                                   object_mask_kinds=layout.OBJECT_MASK_KINDS),
            ordered,
        ))

    problems: list[tuple[str, str, str]] = []
    images: dict[str, Callable[[], np.ndarray]] = {}
    notes: dict[str, list[str]] = defaultdict(list)
    for sample, checked in zip(ordered, results):
        for note, where in checked.notes.items():
            notes[note].extend(where)
        if checked.reasons:
            problems.append((sample.group, sample.name, "; ".join(checked.reasons)))
            continue
        for kind in required:
            images[image_key(sample.group, kind, sample.name)] = _ImageLoader(
                source, checked.chosen[kind], kind
            )
    log_notes(logger, notes, source.label)

    valid = len(ordered) - len(problems)
    if problems and (on_invalid == "error" or valid == 0):
        count = len(problems)
        message = format_problems([(f"{split}/{name}", reason) for split, name, reason in problems],
                                  f"{count} invalid sample{'s' if count != 1 else ''} in {source.label}:")
        if valid == 0:
            message += "\nNo valid sample left."
        else:
            message += (f"\nFix these, or set ingest.on_invalid: skip to go on with the {valid} "
                        f"valid sample{'s' if valid != 1 else ''}.")
        raise ShadowARDataError(message)
    skipped = pd.DataFrame(problems, columns=SKIPPED_COLUMNS)
    if problems:
        logger.warning(
            "Skipped %d invalid sample(s) of %d in %s (listed in the result's skipped table), e.g. %s/%s: %s",
            len(problems), len(ordered), source.label, *problems[0],
        )
    counts: dict[str, int] = defaultdict(int)
    for key in images:
        split, kind, _ = split_key(key)
        if kind == "noshadow":
            counts[split] += 1
    logger.info(
        "Read %d valid %ssample(s) from %s (%s)",
        valid, "inference-only " if inference_only else "", source.label,
        ", ".join(f"{split}: {counts[split]}" for split in layout.SPLITS if split in counts),
    )
    return ShadowARData(images=images, skipped=skipped, inference_only=inference_only)
