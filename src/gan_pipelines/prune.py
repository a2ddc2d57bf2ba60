"""List the project's saved snapshots with their sizes, and delete all but the newest N.

```bash
python -m gan_pipelines.prune                  # dry run: every versioned dataset, what --keep 2 would remove
python -m gan_pipelines.prune --keep 3 --apply # delete all but the 3 newest snapshots of each dataset
python -m gan_pipelines.prune --load-versions <dataset>:<version> --apply   # and keep that pinned one too
```

What it looks at: every dataset of every registered pipeline, resolved through the project's
catalog (dataset factories included) for ``--env``; those that are versioned on the local disk
are listed as ``<path>/<version>/`` snapshots (Kedro version timestamps only, newest first, see
:mod:`gan_pipelines.versions`) with their sizes. Then the training state of every stage with a
``training`` block in the parameters (its path follows from the stage,
:func:`gan_pipelines.params.training_state_path`), with its earlier runs' ``*.superseded-*`` states.

What it removes (only with ``--apply``; a dry run deletes nothing):

* per versioned dataset, every snapshot but the newest ``--keep`` (default 2). Never the latest,
  never one pinned with ``--load-versions``, never a folder that is not a version timestamp
  (e.g. a ``backup_A/`` copy: listed, never touched);
* per training state, the superseded states beyond the stage's
  ``training.keep_superseded_states`` (or ``--keep-states``). Never the live state file, and
  nothing of a state path whose run is going on (its ``.lock`` is held).

Exit status 0, or 2 for a bad argument (an unknown or unversioned dataset in ``--load-versions``,
a pinned version that does not exist, ``--keep`` below 1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_pipelines.versions import split_versions

DEFAULT_KEEP = 2
NEVER_RUN = "no snapshots yet"  # the note of a dataset whose pipeline has not run here


@dataclass
class Snapshot:
    """One version folder (or state file) with its size and fate."""

    path: Path
    size: int
    keep: bool
    why: str = ""


@dataclass
class Entry:
    """A versioned dataset (``names`` share its path) or a training-state path."""

    title: str
    path: Path
    snapshots: list[Snapshot] = field(default_factory=list)
    ignored: list[tuple[Path, int]] = field(default_factory=list)  # folders that are not versions
    note: str = ""

    @property
    def removable(self) -> list[Snapshot]:
        return [s for s in self.snapshots if not s.keep]


def size_of(path: Path) -> int:
    """Bytes in a file or under a folder (links not followed)."""
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                pass
    return total


def human(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def plan_versions(path: Path, keep: int, pinned: Iterable[str] = ()) -> Entry:
    """The snapshots of one versioned dataset folder ``path`` (``<path>/<version>/...``) and which
    to keep: the newest ``keep`` (>= 1, so always the latest) and every ``pinned`` version."""
    entry = Entry(title="", path=path)
    if not path.is_dir():
        entry.note = NEVER_RUN
        return entry
    children = [child for child in path.iterdir() if child.is_dir()]
    versions, others = split_versions(child.name for child in children)
    pinned = set(pinned)
    for rank, version in enumerate(versions):
        folder = path / version
        why = ("latest" if rank == 0 else "newest" if rank < keep else "")
        if version in pinned:
            why = ", ".join(filter(None, [why, "pinned"]))
        entry.snapshots.append(Snapshot(folder, size_of(folder), keep=bool(why), why=why))
    entry.ignored = [(path / name, size_of(path / name)) for name in others if not name.startswith(".")]
    return entry


def plan_state(state_path: Path, keep: int | None) -> Entry:
    """The live training state (always kept) and its superseded states (the newest ``keep``
    kept; ``None`` keeps all). A state path in use by a running run is left alone."""
    from gan_pipelines.training.state_files import describe_holder, lock_path, read_lock, superseded_states

    entry = Entry(title="", path=state_path)
    if state_path.is_file():
        entry.snapshots.append(Snapshot(state_path, size_of(state_path), keep=True, why="live state"))
    running = lock_path(state_path).exists() and _lock_held(state_path)
    for rank, path in enumerate(superseded_states(state_path)):
        kept = running or keep is None or rank < keep
        why = "a run is using this state path" if running else ("superseded, kept" if kept else "")
        entry.snapshots.append(Snapshot(path, size_of(path), keep=kept, why=why))
    if running:
        entry.note = f"in use by {describe_holder(read_lock(state_path))}"
    elif not entry.snapshots:
        entry.note = "no state yet"
    return entry


def _lock_held(state_path: Path) -> bool:
    """Whether a live process holds the state path's lock (tested without taking it)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: assume in use while the file exists
        return True
    from gan_pipelines.training.state_files import lock_path

    with open(lock_path(state_path), "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def versioned_datasets(catalog: Any, dataset_names: Iterable[str]) -> dict[Path, list[str]]:
    """Local folder of every versioned dataset among ``dataset_names`` -> the names using it
    (a transcoded ``x@lazy`` and ``x`` share one)."""
    from kedro.io.core import AbstractVersionedDataset

    found: dict[Path, list[str]] = {}
    for name in sorted(dataset_names):
        if name == "parameters" or name.startswith("params:"):
            continue
        dataset = catalog.get(name)
        if not isinstance(dataset, AbstractVersionedDataset) or dataset._version is None:
            continue
        if getattr(dataset, "_protocol", "file") not in ("file", None):
            continue  # remote storage: not pruned here
        found.setdefault(Path(dataset._filepath.as_posix()), []).append(name)
    return found


def state_paths(params: Mapping[str, Any], prefix: str = "") -> dict[str, tuple[str, int | None]]:
    """``{stage: (its training state path, keep_superseded_states)}`` for every stage
    (``<namespace>.<stage>``) with a ``training`` block in the (nested, raw) parameters; keys
    starting with ``_`` (shared defaults, not stages) are skipped."""
    from gan_pipelines.params import training_state_path

    found: dict[str, tuple[str, int | None]] = {}
    for key, value in params.items():
        if not isinstance(value, Mapping) or str(key).startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value.get("training"), Mapping):
            found[name] = (training_state_path(name), value["training"].get("keep_superseded_states", 1))
        else:
            found.update(state_paths(value, prefix=f"{name}."))
    return found


def parse_load_versions(values: Sequence[str]) -> dict[str, str]:
    """``["a:v1,b:v2", "c:v3"]`` -> ``{"a": "v1", ...}`` (Kedro's ``--load-versions`` syntax)."""
    pins: dict[str, str] = {}
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, version = item.partition(":")
            if not sep or not name or not version:
                raise ValueError(f"--load-versions expects <dataset>:<version>, got {item!r}")
            pins[name.split("@")[0]] = version
    return pins


def plan(project: Path, *, env: str | None, keep: int, pins: Mapping[str, str],
         keep_states: int | None = None) -> list[Entry]:
    """Every versioned dataset's and training state's entry, with what to keep (nothing deleted)."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env) as session:
        context = session.load_context()
        names = set().union(*(pipeline.datasets() for pipeline in pipelines.values()))
        folders = versioned_datasets(context.catalog, names)
        # the raw parameters: a bad value elsewhere must not stop a clean-up
        params = context.config_loader["parameters"]
    by_name = {name.split("@")[0]: path for path, users in folders.items() for name in users}
    unknown = sorted(set(pins) - set(by_name))
    if unknown:
        raise ValueError(f"--load-versions names no versioned dataset of the project's pipelines: {', '.join(unknown)}")
    entries = []
    for path, users in sorted(folders.items()):
        pinned = {pins[n.split("@")[0]] for n in users if n.split("@")[0] in pins}
        for version in pinned:
            if not (path / version).is_dir():
                raise ValueError(f"--load-versions: {path} has no version {version}")
        entry = plan_versions(path, keep, pinned)
        entry.title = ", ".join(sorted({n.split("@")[0] for n in users}))
        entries.append(entry)
    for key, (state_path, keep_superseded) in sorted(state_paths(params).items()):
        path = Path(state_path) if Path(state_path).is_absolute() else project / state_path
        entry = plan_state(path, keep_superseded if keep_states is None else keep_states)
        entry.title = f"training state ({key})"
        entries.append(entry)
    return entries


def report(entries: Sequence[Entry], project: Path, *, apply: bool, show_all: bool = False) -> str:
    """The listing: per dataset its snapshots, sizes and fate, then the total. Datasets with no
    snapshot at all (pipelines never run) are counted in one line unless ``show_all``."""
    lines = []
    total = 0
    never_run = [entry for entry in entries if entry.note == NEVER_RUN]
    if not show_all:
        entries = [entry for entry in entries if entry.note != NEVER_RUN]
    for entry in entries:
        shown = entry.path.relative_to(project) if entry.path.is_relative_to(project) else entry.path
        size = sum(s.size for s in entry.snapshots)
        lines.append(f"{entry.title}  {shown}  ({len(entry.snapshots)} item(s), {human(size)})"
                     + (f"  [{entry.note}]" if entry.note else ""))
        for snapshot in entry.snapshots:
            fate = f"keep ({snapshot.why})" if snapshot.keep else ("removed" if apply else "remove")
            lines.append(f"  {snapshot.path.name:<48} {human(snapshot.size):>10}  {fate}")
        for folder, folder_size in entry.ignored:
            lines.append(f"  {folder.name + '/':<48} {human(folder_size):>10}  not a version: never touched")
        total += sum(s.size for s in entry.removable)
    if never_run and not show_all:
        lines.append(f"({len(never_run)} dataset(s) of pipelines never run here have no snapshots; --all lists them.)")
    count = sum(len(entry.removable) for entry in entries)
    if apply:
        lines.append(f"Removed {count} item(s), {human(total)} freed.")
        if count:
            lines.append("DVC now sees the pruned outputs as modified (`dvc status`: 'changed outs'); record the "
                         "pruned state with `dvc commit -f` (see README, 'Reclaiming disk space').")
    else:
        lines.append(f"Dry run: {count} item(s), {human(total)} would be removed. Add --apply to delete them.")
    return "\n".join(lines)


def remove(entries: Sequence[Entry]) -> None:
    for entry in entries:
        for snapshot in entry.removable:
            if snapshot.path.is_dir():
                shutil.rmtree(snapshot.path)
            else:
                snapshot.path.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gan_pipelines.prune",
        description="List every versioned dataset's snapshots and training states with sizes; delete all "
                    "but the newest N (dry run unless --apply).",
    )
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP,
                        help=f"snapshots to keep per dataset, newest first (>= 1; default {DEFAULT_KEEP})")
    parser.add_argument("--keep-states", type=int, default=None,
                        help="superseded training states to keep per state path (default: each stage's "
                             "training.keep_superseded_states)")
    parser.add_argument("--apply", action="store_true", help="delete; without it nothing is deleted")
    parser.add_argument("--load-versions", action="append", default=[], metavar="DATASET:VERSION",
                        help="versions to keep whatever their age (as for kedro run; repeatable, comma-separated)")
    parser.add_argument("--env", default=None, help="Kedro environment whose catalog and parameters to read")
    parser.add_argument("--project", default=".", help="project folder (default: the current one)")
    parser.add_argument("--all", action="store_true", dest="show_all",
                        help="also list the datasets that have no snapshot yet (pipelines never run)")
    args = parser.parse_args(argv)
    if args.keep < 1:
        parser.error("--keep must be at least 1: the latest snapshot is never removed")
    if args.keep_states is not None and args.keep_states < 0:
        parser.error("--keep-states must be 0 or more")
    project = Path(args.project).resolve()
    try:
        pins = parse_load_versions(args.load_versions)
        entries = plan(project, env=args.env, keep=args.keep, pins=pins, keep_states=args.keep_states)
    except ValueError as exc:
        parser.error(str(exc))
    if args.apply:
        remove(entries)
    print(report(entries, project, apply=args.apply, show_all=args.show_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
