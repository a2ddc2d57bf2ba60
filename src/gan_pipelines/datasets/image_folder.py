"""``VersionedImageFolderDataset``: a whole folder of images, versioned as one unit.

Kedro's ``PartitionedDataset`` cannot be versioned, so pipelines that produce image folders
(synthetic renders, resized copies of the real data, generated samples) use this dataset instead.

In memory an image folder is a dict keyed by POSIX relative path, e.g.
``"train/photo/scene_00001.png"`` (see :mod:`gan_pipelines.image_folders`), whose values are uint8
numpy arrays: ``(H, W)`` masks or ``(H, W, 3)`` RGB images.

* ``save`` accepts arrays or zero-argument callables returning an array (so an upstream node
  can stream images one at a time), encodes each as PNG and writes it at ``<folder>/<key>``.
  All files go into a hidden temporary sibling folder that is renamed into place at the end, so
  an interrupted save never leaves a half-written folder that ``load`` would pick up.
* ``load`` returns a dict (sorted by key) of zero-argument callables that decode lazily, like
  ``PartitionedDataset``.

On disk, with ``versioned: true`` (Kedro's usual layout, the version being a folder)::

    data/01_raw/facades_raw/
        2024-05-01T10.00.00.000Z/facades_raw/train/photo/scene_00001.png
        2024-05-02T08.30.00.000Z/facades_raw/train/photo/scene_00001.png

and without versioning the images sit directly under ``path``.

Example ``catalog.yml`` entry::

    "{family}.raw":
      type: gan_pipelines.datasets.VersionedImageFolderDataset
      path: data/01_raw/{family}_raw
      versioned: true
      metadata:
        kedro-viz:
          layer: intermediate
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any, Union

import fsspec
import numpy as np
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    VersionNotFoundError,
    get_filepath_str,
    get_protocol_and_path,
)
from tqdm import tqdm

from gan_pipelines.datasets.versioning import TimestampVersions
from gan_pipelines.images import IMAGE_SUFFIXES, encode_png, read_image

logger = logging.getLogger(__name__)

ImageSource = Union[np.ndarray, Callable[[], np.ndarray]]

# Saves with more items than this show a progress bar (on a terminal only).
PROGRESS_BAR_THRESHOLD = 200
# Temporary folders are hidden siblings of the final folder whose names never equal the final
# folder's name, so Kedro's version resolution (which globs ``<path>/*/<basename>``) and
# ``load`` never see them.
_PARTIAL_MARKER = ".partial-"
_OLD_MARKER = ".old-"


class LazyImage:
    """Zero-argument callable that reads and decodes one image file when called."""

    __slots__ = ("_fs", "path", "_name")

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str, name: str) -> None:
        self._fs = fs
        self.path = path
        self._name = name

    def __call__(self) -> np.ndarray:
        try:
            with self._fs.open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise DatasetError(f"{self._name}: file not found") from None
        return read_image(data, name=self._name)

    def __repr__(self) -> str:
        return f"LazyImage({self._name!r})"


def validate_key(key: Any) -> str:
    """Check that ``key`` is a relative POSIX path ending in ``.png`` that stays inside the folder.

    Returns the key unchanged; raises ``DatasetError`` naming the key otherwise.
    """
    if not isinstance(key, str):
        raise DatasetError(f"Image folder keys must be strings, got {type(key).__name__}: {key!r}")
    problem = None
    if not key:
        problem = "it is empty"
    elif "\\" in key:
        problem = "it contains a backslash (use '/' as the separator)"
    elif key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        problem = "it is an absolute path"
    else:
        parts = key.split("/")
        if any(part == ".." for part in parts):
            problem = "it contains '..' and would leave the folder"
        elif any(part in ("", ".") for part in parts):
            problem = "it contains an empty or '.' path component"
        elif any(part.startswith(".") for part in parts):
            problem = "it contains a hidden ('.'-prefixed) path component"
        elif not key.lower().endswith(".png"):
            problem = "images are saved as PNG, so the key must end with '.png'"
    if problem:
        raise DatasetError(
            f"Invalid image folder key {key!r}: {problem}. Keys must be relative POSIX paths "
            f"inside the folder, e.g. 'train/photo/scene_00001.png'."
        )
    return key


class VersionedImageFolderDataset(
    TimestampVersions, AbstractVersionedDataset[Mapping[str, ImageSource], dict[str, Callable[[], np.ndarray]]]
):
    """A folder of PNG/JPEG images saved and loaded as one (optionally versioned) dataset.

    Only folders named by a Kedro version timestamp are versions; the latest is the newest
    timestamp, and each load logs the version it used (see
    :mod:`gan_pipelines.datasets.versioning`). Images are decoded by
    :func:`gan_pipelines.images.read_image` (EXIF orientation applied, 16-bit scaled, size limit).

    Args:
        path: Folder path, optionally with an fsspec protocol (``s3://bucket/folder``).
        version: Set by Kedro from ``versioned: true`` (and ``--load-versions``).
        credentials: Passed to the fsspec filesystem constructor.
        fs_args: Extra fsspec filesystem arguments; the nested keys ``open_args_load`` and
            ``open_args_save`` go to ``fs.open`` when reading/writing single images.
        metadata: Free-form metadata, e.g. ``{"kedro-viz": {"layer": "intermediate"}}``;
            ignored by Kedro itself.
    """

    def __init__(
        self,
        *,
        path: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        _fs_args = deepcopy(fs_args) or {}
        self._fs_open_args_load = {"mode": "rb", **_fs_args.pop("open_args_load", {})}
        self._fs_open_args_save = {"mode": "wb", **_fs_args.pop("open_args_save", {})}
        _credentials = deepcopy(credentials) or {}

        protocol, fs_path = get_protocol_and_path(str(path), version)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **_credentials, **_fs_args)
        self.metadata = metadata

        fs_path = fs_path.rstrip("/")
        if not fs_path or not PurePosixPath(fs_path).name:
            raise DatasetError(f"VersionedImageFolderDataset needs a folder path, got {path!r}")

        super().__init__(
            filepath=PurePosixPath(fs_path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._glob_folders,
        )

    # ------------------------------------------------------------------ helpers

    def _glob_folders(self, pattern: str) -> list[str]:
        """Kedro's version resolution globs ``<path>/*/<basename>``; only folders count as
        versions (a stray file with the folder's name is not a saved version)."""
        matches = self._fs.glob(pattern, detail=True)
        return [name for name, info in matches.items() if info.get("type") == "directory"]

    def _path_str(self, path: PurePosixPath) -> str:
        return get_filepath_str(path, self._protocol)

    def _display(self, path: str) -> str:
        return path if self._protocol == "file" else f"{self._protocol}://{path}"

    def _list_images(self, folder: str) -> dict[str, str]:
        """Map key -> full path for every image file under ``folder``."""
        # fsspec returns paths with the protocol stripped (local paths made absolute), so the
        # key is computed relative to the folder as the filesystem spells it.
        root = self._fs._strip_protocol(folder).rstrip("/")
        images: dict[str, str] = {}
        for full_path in self._fs.find(folder):
            stripped = self._fs._strip_protocol(full_path)
            if not stripped.startswith(root + "/"):
                continue
            key = stripped[len(root) + 1 :]
            if any(part.startswith(".") for part in key.split("/")):
                continue  # hidden files/folders, e.g. .DS_Store or editor leftovers
            if key.lower().endswith(IMAGE_SUFFIXES):
                images[key] = full_path
        return dict(sorted(images.items()))

    # ------------------------------------------------------------------ Kedro API

    def load(self) -> dict[str, Callable[[], np.ndarray]]:
        try:
            load_path = self._get_load_path()
        except VersionNotFoundError as exc:
            raise VersionNotFoundError(
                f"No saved version of image folder '{self._display(self._filepath.as_posix())}' "
                f"was found (expected '<version>/{self._filepath.name}/' sub-folders under it). "
                f"Run the pipeline that produces it first."
            ) from exc
        folder = self._path_str(load_path)
        self._log_load_version()
        if not self._fs.isdir(folder):
            version = self.resolve_load_version()
            detail = f" (version {version})" if version else ""
            raise DatasetError(
                f"Image folder '{self._display(folder)}'{detail} does not exist or is not a folder."
            )
        images = self._list_images(folder)
        if not images:
            raise DatasetError(
                f"Image folder '{self._display(folder)}' contains no image files "
                f"({', '.join(IMAGE_SUFFIXES)})."
            )
        logger.debug("Found %d images in %s", len(images), self._display(folder))
        return {
            key: LazyImage(self._fs, full_path, self._display(full_path))
            for key, full_path in images.items()
        }

    def save(self, data: Mapping[str, ImageSource]) -> None:
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"VersionedImageFolderDataset saves a dict of relative path -> image, "
                f"got {type(data).__name__}."
            )
        if not data:
            raise DatasetError(
                f"Refusing to save an empty image folder to "
                f"'{self._display(self._filepath.as_posix())}': the dict has no images."
            )
        for key in data:
            validate_key(key)

        final = self._path_str(self._get_save_path())
        final_posix = PurePosixPath(final)
        token = uuid.uuid4().hex[:12]
        partial = str(final_posix.parent / f".{final_posix.name}{_PARTIAL_MARKER}{token}")

        try:
            self._write_all(data, partial, final)
            self._move_into_place(partial, final, token)
        except BaseException:
            self._remove_quietly(partial)
            if self._version is not None:
                self._remove_if_empty(str(final_posix.parent))
            raise
        finally:
            self._invalidate_cache()
        logger.info("Saved %d images to %s", len(data), self._display(final))

    def _write_all(self, data: Mapping[str, ImageSource], partial: str, final: str) -> None:
        total = len(data)
        progress = tqdm(
            data.items(),
            total=total,
            desc=f"Saving {PurePosixPath(final).name}",
            unit="img",
            leave=False,
            disable=None if total > PROGRESS_BAR_THRESHOLD else True,
        )
        self._fs.makedirs(partial, exist_ok=True)
        for key, value in progress:
            array = value() if callable(value) else value
            if not isinstance(array, np.ndarray):
                raise DatasetError(
                    f"Image '{key}' for '{self._display(final)}' must be a numpy array "
                    f"(or a callable returning one), got {type(array).__name__}."
                )
            try:
                encoded = encode_png(array)
            except (ValueError, TypeError) as exc:
                raise DatasetError(
                    f"Image '{key}' for '{self._display(final)}' cannot be saved as PNG "
                    f"(dtype {array.dtype}, shape {array.shape}): {exc}"
                ) from exc
            target = f"{partial}/{key}"
            self._fs.makedirs(str(PurePosixPath(target).parent), exist_ok=True)
            with self._fs.open(target, **self._fs_open_args_save) as handle:
                handle.write(encoded)

    def _move_into_place(self, partial: str, final: str, token: str) -> None:
        if self._version is None and self._fs.exists(final):
            # Unversioned overwrite: move the old folder aside first (a folder cannot be
            # atomically replaced by a rename), then delete it once the new one is in place.
            final_posix = PurePosixPath(final)
            old = str(final_posix.parent / f".{final_posix.name}{_OLD_MARKER}{token}")
            self._fs.mv(final, old, recursive=True)
            try:
                self._fs.mv(partial, final, recursive=True)
            except BaseException:
                self._fs.mv(old, final, recursive=True)
                raise
            self._remove_quietly(old)
        else:
            if self._fs.exists(final):  # another writer got there first
                raise DatasetError(
                    f"Save path '{self._display(final)}' already exists; refusing to overwrite "
                    f"a saved version."
                )
            self._fs.mv(partial, final, recursive=True)

    def _remove_quietly(self, path: str) -> None:
        try:
            if self._fs.exists(path):
                self._fs.rm(path, recursive=True)
        except Exception:  # pragma: no cover - best effort cleanup
            logger.warning("Could not remove temporary folder %s", self._display(path))

    def _remove_if_empty(self, folder: str) -> None:
        try:
            if self._fs.isdir(folder) and not self._fs.ls(folder):
                self._fs.rmdir(folder)
        except Exception:  # pragma: no cover - best effort cleanup
            pass

    def _exists(self) -> bool:
        try:
            load_path = self._path_str(self._get_load_path())
        except DatasetError:
            return False
        return bool(self._fs.isdir(load_path))

    def _describe(self) -> dict[str, Any]:
        return {
            "path": self._filepath.as_posix(),
            "protocol": self._protocol,
            "version": self._version,
        }

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(self._path_str(self._filepath))
