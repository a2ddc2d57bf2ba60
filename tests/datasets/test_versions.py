"""Only Kedro version timestamps are versions, for every versioned dataset of the project, and
each load says which version it used (issue 13, kind 5)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io.core import Version

from gan_pipelines.datasets import (
    TimestampVersions, TorchCheckpointDataset, VersionedCSVDataset, VersionedImageFolderDataset, VersionedJSONDataset,
)
from gan_pipelines.versions import find_version, is_version, split_versions

V1 = "2024-01-01T00.00.00.000Z"
V2 = "2024-01-02T00.00.00.000Z"
LOGGER = "gan_pipelines.datasets.versioning"


def test_what_counts_as_a_version():
    assert is_version(V1)
    for name in ("backup_A", "2024-01-01", "2024-13-01T00.00.00.000Z", "2024-01-01T00.00.00Z", f"{V1}-copy", "z" + V1):
        assert not is_version(name), name
    assert split_versions(["backup_A", V1, V2, "old"]) == ([V2, V1], ["backup_A", "old"])
    assert find_version(f"data/01_raw/x/{V2}/x/train/a.png") == V2
    assert find_version("data/01_raw/x/backup_A/x/train/a.png") is None


def _image_folder(root: Path, version):
    return VersionedImageFolderDataset(path=str(root / "raw"), version=version), (
        lambda value: {"train/a/x.png": np.full((2, 2), value, np.uint8)},
        lambda loaded: int(loaded["train/a/x.png"]()[0, 0]),
    )


def _checkpoint(root: Path, version):
    return TorchCheckpointDataset(filepath=str(root / "model.pt"), version=version), (
        lambda value: {"value": value}, lambda loaded: loaded["value"],
    )


def _csv(root: Path, version):
    return VersionedCSVDataset(filepath=str(root / "table.csv"), version=version, save_args={"index": False}), (
        lambda value: pd.DataFrame({"value": [value]}), lambda loaded: int(loaded["value"][0]),
    )


def _json(root: Path, version):
    return VersionedJSONDataset(filepath=str(root / "summary.json"), version=version), (
        lambda value: {"value": value}, lambda loaded: loaded["value"],
    )


DATASETS = {"image_folder": _image_folder, "checkpoint": _checkpoint, "csv": _csv, "json": _json}


@pytest.mark.parametrize("kind", sorted(DATASETS))
def test_a_backup_folder_is_never_the_latest_version(tmp_path, kind, caplog):
    make = DATASETS[kind]
    for value, version in ((1, V1), (2, V2)):
        dataset, (wrap, _) = make(tmp_path, Version(None, version))
        dataset.save(wrap(value))
    path = Path(dataset._filepath.as_posix())
    shutil.copytree(path / V1, path / "backup_A")  # the user's copy of the first snapshot

    dataset, (_, unwrap) = make(tmp_path, Version(None, None))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert unwrap(dataset.load()) == 2  # the newest timestamp, not the largest folder name
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any("not Kedro versions: backup_A/" in m and "never loaded as the latest" in m for m in messages)
    assert f"{path.as_posix()}: loading version {V2} (the latest of 2 versions)" in messages
    assert dataset.list_versions(full_path=False) == [V2, V1]


@pytest.mark.parametrize("kind", sorted(DATASETS))
def test_a_pin_is_honoured_and_logged(tmp_path, kind, caplog):
    make = DATASETS[kind]
    for value, version in ((1, V1), (2, V2)):
        dataset, (wrap, _) = make(tmp_path, Version(None, version))
        dataset.save(wrap(value))
    path = Path(dataset._filepath.as_posix())
    shutil.copytree(path / V1, path / "backup_A")
    dataset, (_, unwrap) = make(tmp_path, Version(V1, None))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert unwrap(dataset.load()) == 1
    assert f"{path.as_posix()}: loading version {V1} (pinned with --load-versions)" in caplog.messages
    dataset, (_, unwrap) = make(tmp_path, Version("backup_A", None))  # an explicit pin may name any folder
    assert unwrap(dataset.load()) == 1


def test_every_versioned_dataset_of_the_project_uses_the_rule(project):
    from kedro.framework.session import KedroSession
    from kedro.io.core import AbstractVersionedDataset

    from gan_pipelines import pipeline_registry

    with KedroSession.create(project_path=project) as session:
        catalog = session.load_context().catalog
    names = set().union(*(p.datasets() for p in pipeline_registry.register_pipelines().values()))
    versioned = {}
    for name in sorted(names):
        dataset = None if name == "parameters" or name.startswith("params:") else catalog.get(name)
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
            versioned[name] = dataset
    assert len(versioned) >= 8  # raw, skipped, summaries, model input, checkpoints, predictions
    offenders = [f"{name}: {type(d).__name__}" for name, d in versioned.items() if not isinstance(d, TimestampVersions)]
    assert not offenders, "versioned datasets that would take any folder as the latest:\n" + "\n".join(offenders)


def test_preprocess_loads_the_latest_ingest_not_a_backup(project, kedro_run, tiny_params, caplog):
    """Two ingests, a backup copy of the first beside them: preprocess uses the second and says so."""
    raw = project / "data/01_raw/shadow_raw"
    tiny_params["shadow"]["ingest"]["synthetic"].update(num_train=4, num_test=2, resolution=32)
    kedro_run(project, "shadow.ingest", tiny_params)
    (first,) = [p for p in raw.iterdir()]
    tiny_params["shadow"]["ingest"]["synthetic"]["num_train"] = 6
    kedro_run(project, "shadow.ingest", tiny_params)
    latest = max(p.name for p in raw.iterdir())
    shutil.copytree(first, raw / "backup_A")

    with caplog.at_level(logging.INFO, logger=LOGGER):
        kedro_run(project, "shadow.preprocess", tiny_params)
    (summary_file,) = (project / "data/05_model_input/shadow_preprocess_summary.json").glob("*/*.json")
    counts = json.loads(summary_file.read_text())["num_samples"]
    assert counts["train"] + counts["val"] == 6  # the backup (4 train samples) would give 4
    assert any(f"shadow_raw: loading version {latest} (the latest of 2 versions)" in m for m in caplog.messages)
    assert any("not Kedro versions: backup_A/" in m for m in caplog.messages)
