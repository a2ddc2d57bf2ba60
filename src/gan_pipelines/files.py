"""The project's one way to write a file: atomically, never over something it must not replace."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(
    path: str | os.PathLike,
    write: bytes | Callable[[BinaryIO], None],
    *,
    overwrite: bool = True,
) -> Path:
    """Write a file so that readers see either the old file or the whole new one.

    ``write`` is the content (bytes) or a function that writes it to a binary stream (e.g. a
    ``torch.save`` call, so large states are not held twice in memory). The data goes to a hidden
    temporary file in the same folder (``.<name>.<random>.tmp``: never matched by Kedro's version
    globs), is flushed and fsynced, and is renamed over ``path`` with ``os.replace`` (atomic on
    POSIX and Windows); the folder is fsynced so the rename survives a power cut where the OS
    allows it. On any error the temporary file is removed and ``path`` is untouched.

    Raises FileExistsError when ``path`` exists and ``overwrite`` is false (checked before
    writing and again just before the rename), IsADirectoryError when ``path`` is a folder.
    """
    target = Path(path)
    _refuse(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (0600) and the rename would keep that.
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temporary, "xb") as stream:
            if isinstance(write, (bytes, bytearray, memoryview)):
                stream.write(write)
            else:
                write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        _refuse(target, overwrite)  # again: writing took a while, something may have appeared
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    return target


def _refuse(target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise IsADirectoryError(f"{str(target)!r} is a folder, not a file path")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{str(target)!r} already exists and is not overwritten")


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable; best effort (not possible on every OS/filesystem)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
