"""Atomic save and safe load of full training state.

A crash (or a NaN, or a kill) during a save never leaves a half-written checkpoint behind:
the state goes through :func:`gan_pipelines.files.write_atomically` (a temporary file in the same
folder, moved over the target with ``os.replace``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from gan_pipelines.files import write_atomically


class CheckpointError(RuntimeError):
    """A training-state file exists but cannot be used."""


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically and return the path.

    ``state`` should hold only tensors and plain Python values so that
    :func:`load_training_state` can read it with ``weights_only=True``.
    """
    return write_atomically(path, lambda stream: torch.save(state, stream))


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
