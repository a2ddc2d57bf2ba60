"""`python -m gan_pipelines.prune`: list every versioned dataset's snapshots with sizes, delete all
but the newest N only with --apply, never the latest, a pinned one, a non-version folder or the
live training state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gan_pipelines.prune import main
from gan_pipelines.training.state_files import StateLock, superseded_states

VERSIONS = ["2024-01-01T00.00.00.000Z", "2024-01-02T00.00.00.000Z", "2024-01-03T00.00.00.000Z",
            "2024-01-04T00.00.00.000Z"]
STATE = "data/06_models/training_state/shadow_train_generator.pt"
STATE_STAMPS = ["20240101-000000", "20240102-000000", "20240103-000000"]


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


@pytest.fixture
def filled(project):
    """Four raw snapshots (100 kB each), a user's backup_A copy, three generator checkpoints,
    and a live training state with three superseded ones."""
    raw = project / "data/01_raw/shadow_raw"
    for version in VERSIONS:
        _file(raw / version / "shadow_raw/train/noshadow/a.png", 100_000)
    _file(raw / "backup_A/shadow_raw/train/noshadow/a.png", 100_000)
    checkpoints = project / "data/06_models/shadow_generator.pt"
    for version in VERSIONS[:3]:
        _file(checkpoints / version / "shadow_generator.pt", 200_000)
    _file(project / STATE, 300_000)
    for stamp in STATE_STAMPS:
        _file(project / STATE.replace(".pt", f".superseded-{stamp}.pt"), 300_000)
    return project


def _all_files(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in (project / "data").rglob("*") if p.is_file()}


def test_dry_run_lists_sizes_and_deletes_nothing(filled, capsys):
    before = _all_files(filled)
    assert main(["--project", str(filled)]) == 0
    out = capsys.readouterr().out
    assert _all_files(filled) == before
    lines = out.splitlines()
    assert "shadow.raw  data/01_raw/shadow_raw  (4 item(s), 0.4 MB)" in lines
    assert any(line.split() == [VERSIONS[3], "0.1", "MB", "keep", "(latest)"] for line in lines)
    assert any(line.split() == [VERSIONS[2], "0.1", "MB", "keep", "(newest)"] for line in lines)
    assert any(line.split() == [VERSIONS[0], "0.1", "MB", "remove"] for line in lines)
    assert any(line.split()[:1] == ["backup_A/"] and "not a version: never touched" in line for line in lines)
    assert "shadow.generator_checkpoint  data/06_models/shadow_generator.pt  (3 item(s), 0.6 MB)" in lines
    assert any(line.split() == ["shadow_train_generator.pt", "0.3", "MB", "keep", "(live", "state)"] for line in lines)
    assert any(line.split() == ["shadow_train_generator.superseded-20240101-000000.pt", "0.3", "MB", "remove"]
               for line in lines)
    # raw 2 x 0.1 + checkpoint 1 x 0.2 + states 2 x 0.3 (keep_superseded_states: 1)
    assert lines[-1] == "Dry run: 5 item(s), 1.0 MB would be removed. Add --apply to delete them."


def test_datasets_of_pipelines_never_run_are_counted_not_listed_unless_all(filled, capsys):
    main(["--project", str(filled)])
    lines = capsys.readouterr().out.splitlines()
    assert not any("no snapshots yet" in line for line in lines)
    assert not any(line.startswith("pix2pix.raw ") for line in lines)
    counted = [line for line in lines if "pipelines never run here" in line]
    assert len(counted) == 1
    main(["--project", str(filled), "--all"])
    listed = [line for line in capsys.readouterr().out.splitlines() if line.endswith("[no snapshots yet]")]
    assert "pix2pix.raw  data/01_raw/pix2pix_raw  (0 item(s), 0.0 MB)  [no snapshots yet]" in listed
    assert counted[0].startswith(f"({len(listed)} dataset(s)")  # the count is the number --all lists


def test_apply_keeps_the_newest_n_the_latest_and_the_pinned(filled, capsys):
    raw = filled / "data/01_raw/shadow_raw"
    assert main(["--project", str(filled), "--keep", "2", "--apply",
                 "--load-versions", f"shadow.raw:{VERSIONS[0]}"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in raw.iterdir()) == sorted([VERSIONS[0], VERSIONS[2], VERSIONS[3], "backup_A"])
    assert sorted(p.name for p in (filled / "data/06_models/shadow_generator.pt").iterdir()) == VERSIONS[1:3]
    assert (filled / STATE).is_file()
    assert [p.name for p in superseded_states(filled / STATE)] == ["shadow_train_generator.superseded-20240103-000000.pt"]
    assert "Removed 4 item(s), 0.9 MB freed." in out and "dvc commit" in out


def test_keep_one_never_removes_the_latest(filled):
    assert main(["--project", str(filled), "--keep", "1", "--keep-states", "0", "--apply"]) == 0
    raw = filled / "data/01_raw/shadow_raw"
    assert sorted(p.name for p in raw.iterdir()) == [VERSIONS[3], "backup_A"]
    assert superseded_states(filled / STATE) == [] and (filled / STATE).is_file()


def test_states_of_a_running_run_are_left_alone(filled, capsys):
    with StateLock(filled / STATE):
        assert main(["--project", str(filled), "--keep-states", "0", "--apply"]) == 0
    assert len(superseded_states(filled / STATE)) == 3
    assert "in use by PID" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--keep", "0"], "--keep must be at least 1"),
    (["--load-versions", "shadow.nothing:2024-01-01T00.00.00.000Z"], "names no versioned dataset"),
    (["--load-versions", "shadow.raw:2023-01-01T00.00.00.000Z"], "has no version 2023-01-01T00.00.00.000Z"),
    (["--load-versions", "shadow.raw"], "expects <dataset>:<version>"),
])
def test_bad_arguments_stop_before_anything_is_deleted(filled, capsys, args, message):
    before = _all_files(filled)
    with pytest.raises(SystemExit) as info:
        main(["--project", str(filled), "--apply", *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert _all_files(filled) == before


def test_runs_as_a_module(filled):
    done = subprocess.run([sys.executable, "-m", "gan_pipelines.prune", "--project", str(filled)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Dry run: 5 item(s), 1.0 MB would be removed" in done.stdout
