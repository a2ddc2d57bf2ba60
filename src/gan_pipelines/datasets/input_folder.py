"""``InputFolderDataset``: a folder of the user's own input pictures that a node reads, and that
may be missing or empty (read-only, never versioned).

Declaring such a folder in the catalog, instead of letting a node open a path from its
parameters, puts it in the lineage (``kedro viz`` draws it as the node's input) and gives it one
path that ``dvc.yaml`` can name as a dependency. Unlike :class:`VersionedImageFolderDataset`,
loading a missing or empty folder is not an error: the node decides what that means (a report,
for example, then prints a note). ``load`` returns an :class:`InputFolder`; the node
lists and decodes the files by its own layout rules (a family's predict rules, typically).

Example ``catalog.yml`` entry::

    "<family>.user_photos":
      type: gan_pipelines.datasets.InputFolderDataset
      path: data/00_source/user_photos
      metadata:
        kedro-viz:
          layer: raw
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from gan_pipelines.image_inputs import is_litter


@dataclass(frozen=True)
class InputFolder:
    """A loaded :class:`InputFolderDataset`: ``path`` as the catalog gives it (relative paths are
    relative to the project root, where Kedro runs). Nothing is read until the node reads it."""

    path: Path

    @property
    def missing(self) -> str | None:
        """Why the folder has nothing to read ("does not exist", "is not a folder", "holds no
        files": only OS litter such as ``.DS_Store`` or a ``.gitkeep``, at any depth), or None
        when it holds files."""
        if not self.path.exists():
            return "does not exist"
        if not self.path.is_dir():
            return "is not a folder"
        if not any(p.is_file() and not is_litter(p.relative_to(self.path).as_posix()) for p in self.path.rglob("*")):
            return "holds no files"
        return None


class InputFolderDataset(AbstractDataset[None, InputFolder]):
    """A local folder of the user's input pictures, read by a node (see the module docstring).

    Args:
        path: the folder, local (relative to the project root, or absolute).
        metadata: free-form, e.g. ``{"kedro-viz": {"layer": "raw"}}``; ignored by Kedro.
    """

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        protocol, _ = get_protocol_and_path(str(path))
        if protocol != "file":
            raise DatasetError(f"InputFolderDataset reads a local folder, got {path!r} ({protocol}://)")
        if not str(path).strip():
            raise DatasetError("InputFolderDataset needs a folder path, got an empty one")
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> InputFolder:
        return InputFolder(self._path)

    def save(self, data: None) -> None:
        raise DatasetError(f"InputFolderDataset is read-only: {self._path} holds the user's own pictures")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path.as_posix()}
