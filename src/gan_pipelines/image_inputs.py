"""A user's image files in, samples out: the rules every family's entry points share.

A family's readers (ingest of a folder or .zip, prediction on a folder of the user's own images)
list files, group them into samples and decode them through these functions, so every entry
point accepts and refuses the same inputs. The family passes in what only it knows: its kind
folders, each kind's type (``rgb`` | ``mask`` | ``labels``), the kinds a sample needs and the
mask kinds that must mark an object.

* **Litter** (:func:`is_litter`): operating-system files are ignored wherever they are: names
  starting with ``.`` (``.DS_Store``, ``._x.png`` AppleDouble files, ``.ipynb_checkpoints/``) and
  :data:`LITTER_NAMES` (``__MACOSX/``, ``Thumbs.db``, ``desktop.ini``, ...), in any case.
* **Files**: PNG or JPEG by extension (:data:`~gan_pipelines.images.IMAGE_SUFFIXES`, any case);
  any other file where an image is expected is a problem of the sample of its name, never dropped.
* **Names** (:func:`sample_name`): a sample is a file name without its extension, compared in
  Unicode NFC, so the same visible name pairs whatever form a file system wrote it in (macOS
  writes accents decomposed). Two files of one kind and sample are a problem: ``a.png`` and
  ``a.jpg`` (which one is meant?), or two spellings of one visible name (said as such).
* **Decoding** (:func:`read_kind`): through :mod:`gan_pipelines.images` -- EXIF orientation
  applied, 16-bit scaled (labels kept exact), the size limit, the one mask rule; the files of a
  sample must share one size (as shown).
* **Object masks**: a mask kind the family names as marking an object must not be empty.
* **Sources** (:func:`open_source`, :class:`FolderSource`, :class:`ZipSource`): a folder or a
  ``.zip`` archive, listed as POSIX relative paths and read as bytes; archives are read in place
  (no extraction) and one whose entries are absolute, hold ``..`` or drive letters is refused
  before anything is read from it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from gan_pipelines.images import IMAGE_SUFFIXES, EmptyMaskError, ImageError, read_image, read_labels, read_mask, to_rgb

KIND_TYPES = ("rgb", "mask", "labels")
# Operating-system litter (lower case); names starting with "." are litter too.
LITTER_NAMES = frozenset({
    "__macosx", "thumbs.db", "ehthumbs.db", "desktop.ini", "$recycle.bin", "system volume information",
})

# What each conversion note means, for one summary log line per kind of conversion.
NOTE_MESSAGES: dict[str, tuple[int, str]] = {
    "colour": (
        logging.WARNING,
        "{n} RGB/RGBA mask file(s) converted to single-channel 0/255 masks (on where the brightest "
        "channel is >= 128), e.g. {example}",
    ),
    "alpha": (
        logging.WARNING,
        "{n} RGBA mask file(s) with transparency converted to single-channel 0/255 masks (opaque "
        "pixels are the mask, transparent ones background), e.g. {example}",
    ),
    "palette": (
        logging.INFO,
        "{n} palette mask file(s) read by index (index 0 is background, any other index the mask), "
        "e.g. {example}",
    ),
    "zero_one": (
        logging.WARNING,
        "{n} mask file(s) held only the values 0 and 1 and were rescaled to 0/255, e.g. {example}",
    ),
    "grey": (
        logging.INFO,
        "{n} single-channel mask file(s) held values other than 0 and 255 (e.g. JPEG artefacts) "
        "and were binarised at 128, e.g. {example}",
    ),
    "rgb_converted": (
        logging.INFO,
        "{n} RGB image file(s) were grey or RGBA and were converted to RGB (alpha dropped), e.g. {example}",
    ),
    "unicode_names": (
        logging.INFO,
        "{n} sample(s) paired files whose names are spelled in different Unicode forms "
        "(compared in NFC), e.g. {example}",
    ),
}

# PIL names an in-memory stream by its repr; that tells the user nothing.
_BYTESIO_REPR = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


def is_litter(path: str) -> bool:
    """True when any component of the relative POSIX ``path`` is operating-system litter."""
    return any(part.startswith(".") or part.lower() in LITTER_NAMES for part in path.split("/") if part)


def sample_name(filename: str) -> str:
    """The sample a file belongs to: its name without the extension, in Unicode NFC
    (``"cafe\\u0301.png"`` -> ``"caf\\xe9"``)."""
    return unicodedata.normalize("NFC", PurePosixPath(filename).stem)


def not_an_image(filename: str) -> str | None:
    """Why ``filename`` is not read as an image (by extension), or None when it is."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return None
    return f"not a PNG or JPEG file ({f'extension {suffix}' if suffix else 'no extension'})"


def _unicode_form(name: str) -> str:
    if unicodedata.normalize("NFC", name) == name:
        return "composed, NFC"
    if unicodedata.normalize("NFD", name) == name:
        return "decomposed, NFD"
    return "mixed forms"


@dataclass
class SampleFiles:
    """The files found for one sample: ``group`` (e.g. a split, or ``""``), ``name`` (NFC),
    ``files`` kind -> ``[(shown file name, member)]`` (``member`` is what the reader's ``read``
    takes) and ``problems`` found while listing (stray files of this name)."""

    group: str
    name: str
    files: dict[str, list[tuple[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How messages name the sample: ``"train/a"``, or ``"a"`` without a group."""
        return f"{self.group}/{self.name}" if self.group else self.name


class SampleIndex:
    """Files grouped into samples by ``(group, NFC name)``, in the order of :func:`sorted`."""

    def __init__(self) -> None:
        self._samples: dict[tuple[str, str], SampleFiles] = {}

    def _sample(self, group: str, filename: str) -> SampleFiles:
        name = sample_name(filename)
        return self._samples.setdefault((group, name), SampleFiles(group, name))

    def add(self, group: str, kind: str, filename: str, member: Any, *, shown: str | None = None) -> None:
        """Add one file of ``kind`` (a bare file name; ``shown`` is how messages name it,
        default ``<kind>/<filename>``); a non-image file becomes a problem of its sample."""
        shown = shown or f"{kind}/{filename}"
        sample = self._sample(group, filename)
        reason = not_an_image(filename)
        if reason:
            sample.problems.append(f"{shown}: {reason}")
        else:
            sample.files[kind].append((shown, member))

    def add_problem(self, group: str, filename: str, reason: str) -> None:
        """Record a problem of the sample named like ``filename`` (e.g. a file in a sub-folder)."""
        self._sample(group, filename).problems.append(reason)

    def __iter__(self):
        return iter(self._samples[key] for key in sorted(self._samples))

    def __len__(self) -> int:
        return len(self._samples)

    def kinds_by_group(self) -> dict[str, set[str]]:
        """Group -> the kinds that have at least one image file in it."""
        kinds: dict[str, set[str]] = defaultdict(set)
        for sample in self._samples.values():
            kinds[sample.group].update(kind for kind, files in sample.files.items() if files)
        return kinds


def check_files(sample: SampleFiles, required: Sequence[str]) -> tuple[list[str], dict[str, tuple[str, Any]]]:
    """Return ``(reasons, chosen)`` for one sample's listing, before any decoding: missing
    ``required`` kinds, several files for one kind (ambiguous, or one name in two Unicode forms)
    and the listing's problems; ``chosen`` maps each unambiguous kind to its ``(shown, member)``."""
    if sample.problems and not any(sample.files.values()):
        return list(sample.problems), {}  # only stray files share this name
    reasons: list[str] = []
    missing = [kind for kind in required if not sample.files.get(kind)]
    if missing:
        reasons.append(f"missing {', '.join(missing)}")
    reasons.extend(sample.problems)
    chosen: dict[str, tuple[str, Any]] = {}
    for kind, files in sample.files.items():
        if len(files) == 1:
            chosen[kind] = files[0]
            continue
        names = sorted(PurePosixPath(shown).name for shown, _ in files)
        if len({unicodedata.normalize("NFC", n) for n in names}) == 1:
            spelled = ", ".join(f"{ascii(n)} ({_unicode_form(n)})" for n in names)
            reasons.append(
                f"{kind}: {len(files)} files with the same visible name {names[0]!r} in different "
                f"Unicode forms ({spelled}); keep one"
            )
        else:
            reasons.append(f"{kind}: {len(files)} files for one sample ({', '.join(names)})")
    return reasons, chosen


def read_kind(
    data: bytes, kind_type: str, *, name: str, allow_empty: bool = True
) -> tuple[np.ndarray, str | None]:
    """Decode one file as its kind type wants it: ``(array, note)``.

    * ``rgb``: uint8 (H, W, 3) (grey promoted, alpha dropped; note ``"rgb_converted"``);
    * ``mask``: uint8 (H, W) 0/255 by :data:`gan_pipelines.images.MASK_RULE` (note: how it was
      converted); ``allow_empty=False`` refuses a mask that marks nothing;
    * ``labels``: integer (H, W) indices, exact (:func:`gan_pipelines.images.read_labels`).

    Raises :class:`~gan_pipelines.images.ImageError` naming ``name``; ValueError for an unknown
    ``kind_type``."""
    if kind_type == "rgb":
        array = read_image(data, name=name)
        converted = not (array.ndim == 3 and array.shape[2] == 3)
        return to_rgb(array, name=name), "rgb_converted" if converted else None
    if kind_type == "mask":
        return read_mask(data, name=name, allow_empty=allow_empty)
    if kind_type == "labels":
        return read_labels(data, name=name), None
    raise ValueError(f"unknown kind type {kind_type!r}; expected one of {', '.join(KIND_TYPES)}")


@dataclass
class CheckedSample:
    """What :func:`check_sample` found: ``reasons`` (empty when valid), ``notes`` conversion
    note -> shown files, ``chosen`` kind -> member of every decoded file, ``size`` (H, W)."""

    reasons: list[str]
    notes: dict[str, list[str]]
    chosen: dict[str, Any]
    size: tuple[int, int] | None = None


def check_sample(
    sample: SampleFiles,
    read: Callable[[Any], bytes],
    kind_types: Mapping[str, str],
    required: Sequence[str],
    *,
    object_mask_kinds: Iterable[str] = (),
) -> CheckedSample:
    """List-check and decode every file of one sample once (the decoded arrays are dropped).

    ``read(member) -> bytes`` reads a file (OSError and archive errors become reasons);
    ``kind_types`` gives each kind's type; ``required`` the kinds a sample needs;
    ``object_mask_kinds`` the mask kinds that must not be empty. Reasons name the file
    (``<kind>/<file>: ...``); the files must agree in size (as shown).
    """
    reasons, chosen = check_files(sample, required)
    notes: dict[str, list[str]] = defaultdict(list)
    object_masks = set(object_mask_kinds)
    sizes: dict[str, tuple[int, int]] = {}
    members: dict[str, Any] = {}
    where = f"{sample.group}/" if sample.group else ""
    for kind in kind_types:  # in the family's order of kinds, so messages read the same every time
        if kind not in chosen:
            continue
        shown, member = chosen[kind]
        try:
            data = read(member)
        except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
            reasons.append(f"{shown}: cannot read ({exc})")
            continue
        try:
            array, note = read_kind(data, kind_types[kind], name=shown, allow_empty=kind not in object_masks)
        except EmptyMaskError as exc:
            reasons.append(str(exc))
            sizes[kind] = exc.shape  # still compared: the user learns everything in one go
            continue
        except ImageError as exc:
            reasons.append(_BYTESIO_REPR.sub("", str(exc)))
            continue
        if note:
            notes[note].append(f"{where}{shown}")
        sizes[kind] = array.shape[:2]
        members[kind] = member
    if len(set(sizes.values())) > 1:
        by_size: dict[tuple[int, int], list[str]] = defaultdict(list)
        for kind, size in sizes.items():
            by_size[size].append(kind)
        reasons.append(
            "size mismatch: " + ", ".join(f"{'/'.join(kinds)} {w}x{h}" for (h, w), kinds in by_size.items())
        )
    spellings = {PurePosixPath(shown).stem for shown, _ in chosen.values()}
    if len(spellings) > 1:
        notes["unicode_names"].append(sample.label)
    size = next(iter(sizes.values())) if sizes and len(set(sizes.values())) == 1 else None
    return CheckedSample(reasons, dict(notes), members, size)


def log_notes(logger: logging.Logger, notes: Mapping[str, Sequence[str]], where: str) -> None:
    """One log line per kind of conversion (:data:`NOTE_MESSAGES`), never one per file."""
    for note, (level, template) in NOTE_MESSAGES.items():
        if notes.get(note):
            logger.log(level, template.format(n=len(notes[note]), example=notes[note][0]) + f" (in {where})")


def format_problems(problems: Sequence[tuple[str, str]], header: str) -> str:
    """``header`` then one line ``  <sample>: <reasons>`` per problem."""
    return "\n".join([header] + [f"  {sample}: {reason}" for sample, reason in problems])


# --------------------------------------------------------------------------------------------
# Sources: a folder or a zip archive, listed as POSIX relative paths, read as bytes.


class FolderSource:
    """A folder: ``list()`` -> ``({relative file path: member}, {relative folder paths})``,
    ``read(member)`` -> bytes. A folder that cannot be listed raises ``error`` (a ValueError
    subclass the family chooses) naming it."""

    def __init__(self, root: Path, *, param: str = "ingest.path", error: type[Exception] = ValueError):
        self.root = Path(root)
        self.label = str(root)
        self.param = param
        self.error = error

    def list(self) -> tuple[dict[str, str], set[str]]:
        files: dict[str, str] = {}
        dirs: set[str] = set()

        def fail(exc: OSError) -> None:
            raise self.error(f"cannot list {exc.filename}: {exc.strerror or exc}") from None

        for current, dirnames, filenames in os.walk(self.root, onerror=fail):
            rel_dir = Path(current).relative_to(self.root).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            for dirname in sorted(dirnames):
                dirs.add(prefix + dirname)
            for filename in filenames:
                files[prefix + filename] = prefix + filename
        return files, dirs

    def read(self, member: str) -> bytes:
        return (self.root / member).read_bytes()

    def describe(self, member: str) -> str:
        return str(self.root / member)


class ZipSource:
    """A ``.zip`` archive read in place, with :class:`FolderSource`'s interface. One handle per
    process (re-opened after a fork, dropped when pickled); reads are serialised by a lock,
    decoding happens outside it. ``list()`` raises ``error`` naming ``param`` for a file that is
    not a zip archive, and refuses an archive with unsafe entry names (:func:`unsafe_member`)."""

    def __init__(self, path: Path, *, param: str = "ingest.path", error: type[Exception] = ValueError):
        self.path = Path(path)
        self.label = str(path)
        self.param = param
        self.error = error
        self._zip: zipfile.ZipFile | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"path": self.path, "label": self.label, "param": self.param, "error": self.error}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._zip, self._pid, self._lock = None, None, threading.Lock()

    def _handle(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
        return self._zip

    def read(self, member: str) -> bytes:
        if self._pid != os.getpid():  # fresh object, or we are in a forked worker
            self._lock = threading.Lock()
            self._zip = None
            self._pid = os.getpid()
        with self._lock:
            return self._handle().read(member)

    def describe(self, member: str) -> str:
        return f"{self.path}:{member}"

    def list(self) -> tuple[dict[str, str], set[str]]:
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = archive.infolist()
        except zipfile.BadZipFile as exc:
            raise self.error(f"{self.param} {self.path} is not a folder or a valid .zip archive ({exc})") from None
        except OSError as exc:
            raise self.error(f"cannot open {self.param} {self.path}: {exc}") from None
        unsafe = [info.filename for info in infos if unsafe_member(info.filename)]
        if unsafe:
            shown = ", ".join(repr(name) for name in unsafe[:10])
            more = f" (and {len(unsafe) - 10} more)" if len(unsafe) > 10 else ""
            raise self.error(
                f"refusing {self.path}: {len(unsafe)} archive entr{'y' if len(unsafe) == 1 else 'ies'} "
                f"would land outside the extraction folder (absolute path, drive letter or '..'): "
                f"{shown}{more}. The archive is broken or malicious; nothing was read from it."
            )
        files: dict[str, str] = {}
        dirs: set[str] = set()
        for info in infos:
            rel = info.filename.replace("\\", "/")
            parts = [part for part in rel.split("/") if part not in ("", ".")]
            if not parts:
                continue
            for depth in range(1, len(parts)):
                dirs.add("/".join(parts[:depth]))
            if info.is_dir() or rel.endswith("/"):
                dirs.add("/".join(parts))
                continue
            key = "/".join(parts)
            if key in files:  # duplicate entry name: keep both visible as distinct files
                key = f"{key}\x00dup{len(files)}"
            files[key] = info.filename
        return files, dirs


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_member(name: str) -> bool:
    """True for an archive entry that would land outside the extraction folder (absolute path,
    drive letter or a ``..`` component)."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or _DRIVE.match(normalised):
        return True
    return any(part == ".." for part in normalised.split("/"))


def open_source(path: str | Path, *, param: str = "ingest.path",
                error: type[Exception] = ValueError) -> FolderSource | ZipSource:
    """A :class:`FolderSource` for a folder, a :class:`ZipSource` for any other file (refused
    when listed if it is not a zip archive). Raises ``error`` naming ``param`` when ``path``
    does not exist or is neither."""
    root = Path(path).expanduser()
    if root.is_dir():
        return FolderSource(root, param=param, error=error)
    if root.is_file():
        return ZipSource(root, param=param, error=error)
    if root.exists():
        raise error(f"{param} {root} is neither a folder nor a .zip file")
    raise error(f"{param} {root} does not exist (expected a folder or a .zip archive)")
