"""Atomic save and safe load of full training state.

A crash (or a NaN, or a kill) during a save never leaves a half-written checkpoint behind:
the state is written to a temporary file in the same folder and moved over the target with
``os.replace``, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A training-state file exists but cannot be used."""


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically and return the path.

    ``state`` should hold only tensors and plain Python values so that
    :func:`load_training_state` can read it with ``weights_only=True``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    return target


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


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Load a state written by :func:`save_training_state` onto the CPU, tensors and plain
    values only (``weights_only=True``).

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated, corrupt, or not a training-state dict.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"No training-state file at {source}.")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # the unpickler raises many types (IndexError, EOFError, ...) on bad bytes
        raise CheckpointError(
            f"Training-state file {source} cannot be read: it is corrupt, truncated or not a "
            f"checkpoint written by gan_pipelines ({type(exc).__name__}: {exc}). Delete or move "
            "it to start fresh."
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"Training-state file {source} holds a {type(state).__name__}, not a state dict."
        )
    return state
