"""The training-state file's neighbours: superseded states, their retention, and the run lock.

Beside ``training.state_path`` (e.g. ``data/06_models/training_state/gen.pt``) live:

* ``gen.superseded-<YYYYmmdd-HHMMSS>[-<n>].pt``: an earlier run's full state, moved aside when a
  fresh run (``resume: false``) starts; :func:`prune_superseded` keeps the newest
  ``training.keep_superseded_states`` of them (default 1) and deletes the older ones;
* ``gen.pt.lock``: held by the run that uses the state path. It is an OS file lock
  (``fcntl.flock``), released by the operating system when the process ends in any way (crash,
  kill -9), so it never stays stuck; the file also records the holder's PID, host, start time and
  command line, so a second run is refused with a message naming the running one. A lock file
  left by a process that is gone is taken over with a warning naming it.

Kedro-free and torch-free, so :mod:`gan_pipelines.prune` can use it without starting a run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


class StateLockedError(RuntimeError):
    """Another run is using the same training-state path; the message names it."""


def superseded_pattern(state_path: str | os.PathLike) -> re.Pattern[str]:
    """The names of ``state_path``'s superseded states: ``<stem>.superseded-<stamp>[-n]<suffix>``."""
    path = Path(state_path)
    return re.compile(
        re.escape(path.stem) + r"\.superseded-(\d{8}-\d{6})(?:-(\d+))?" + re.escape(path.suffix) + r"\Z"
    )


def superseded_states(state_path: str | os.PathLike) -> list[Path]:
    """The superseded states of ``state_path``, newest first (by the time in their name)."""
    path = Path(state_path)
    pattern = superseded_pattern(path)
    found = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            match = pattern.match(candidate.name)
            if match and candidate.is_file():
                found.append((match.group(1), int(match.group(2) or 0), candidate))
    return [candidate for _, _, candidate in sorted(found, reverse=True)]


def move_aside(state_path: str | os.PathLike) -> Path:
    """Rename ``state_path`` to ``<stem>.superseded-<local time><suffix>`` (a counter is added when
    that name exists) and return the new path."""
    path = Path(state_path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.superseded-{stamp}{path.suffix}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.stem}.superseded-{stamp}-{counter}{path.suffix}")
        counter += 1
    path.rename(target)
    return target


def prune_superseded(state_path: str | os.PathLike, keep: int | None, *, apply: bool = True) -> list[Path]:
    """Delete all but the newest ``keep`` superseded states of ``state_path`` (``None``: keep
    all); return those deleted (or, with ``apply=False``, those that would be). The live state
    file itself is never touched."""
    if keep is None:
        return []
    doomed = superseded_states(state_path)[keep:]
    if apply:
        for path in doomed:
            path.unlink(missing_ok=True)
    return doomed


def lock_path(state_path: str | os.PathLike) -> Path:
    """``<state_path>.lock``."""
    path = Path(state_path)
    return path.with_name(path.name + LOCK_SUFFIX)


def read_lock(state_path: str | os.PathLike) -> dict[str, Any] | None:
    """What the lock file of ``state_path`` says about its (last) holder, or None."""
    try:
        return json.loads(lock_path(state_path).read_text() or "null")
    except (OSError, ValueError):
        return None


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "a run that left no details"
    return (f"PID {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')} "
            f"({holder.get('command', '?')})")


class StateLock:
    """Exclusive use of one training-state path by one run (see the module docstring).

    ``acquire()`` raises :class:`StateLockedError` naming the holder when a live process holds
    it; ``release()`` (or leaving the ``with`` block) frees it and removes the file."""

    def __init__(self, state_path: str | os.PathLike) -> None:
        self.state_path = Path(state_path)
        self.path = lock_path(state_path)
        self._handle = None

    def acquire(self) -> "StateLock":
        if fcntl is None:  # pragma: no cover - Windows
            logger.warning("No file locks on this platform: a second run on %s would not be detected.", self.state_path)
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = _parse(handle.read())
                handle.close()
                raise StateLockedError(
                    f"{self.state_path} is in use by another training run ({describe_holder(holder)}); two runs "
                    f"on one training-state file would overwrite each other's state. Wait for it to finish, or "
                    f"give this run its own training.state_path."
                ) from None
            if _same_file(handle, self.path):
                break
            handle.close()  # the holder released and removed it between our open and our lock: retry
        handle.seek(0)
        previous = _parse(handle.read())
        if previous:  # the lock file outlived its process (crash, kill): ours now
            logger.warning("Taking over the lock %s left by a run that is no longer running (%s).",
                           self.path, describe_holder(previous))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": " ".join(sys.argv)[:300],
        }))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it, so no one loses a fresh lock
        finally:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "StateLock":
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _same_file(handle: Any, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _parse(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
