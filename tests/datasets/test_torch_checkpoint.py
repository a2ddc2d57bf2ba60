"""Tests for ``gan_pipelines.datasets.TorchCheckpointDataset``."""

from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from kedro.io import DataCatalog
from kedro.io.core import DatasetError, Version, VersionNotFoundError

from gan_pipelines.datasets import TorchCheckpointDataset

V1 = "2024-01-01T00.00.00.000Z"
V2 = "2024-01-02T00.00.00.000Z"
TYPE = "gan_pipelines.datasets.TorchCheckpointDataset"


class NotAllowed:
    """An arbitrary Python object that weights-only loading must refuse."""

    def __init__(self) -> None:
        self.value = 1


def _bundle(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    generator = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4)
    generator(torch.randn(1, 3, 8, 8)).sum().backward()
    optimizer.step()
    return {
        "state_dicts": {
            "generator": generator.state_dict(),
            "optimizer_g": optimizer.state_dict(),
        },
        "model_config": {"name": "attention", "channels": [64, 128], "norm": None, "dropout": 0.5},
        "val_metrics": {"rmse": 1.25, "epoch": seed, "best": True},
        "history": [(1, 0.5), (2, 0.25)],
        "shape": torch.Size([3, 8, 8]),
        "dtype": torch.float16,
        "half": torch.arange(4, dtype=torch.float16),
    }


def _assert_equal(actual, expected) -> None:
    assert type(actual) is type(expected) or (
        isinstance(expected, dict) and isinstance(actual, dict)
    ), (type(actual), type(expected))
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype and actual.device.type == "cpu"
        assert torch.equal(actual, expected)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            _assert_equal(actual[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            _assert_equal(a, e)
    else:
        assert actual == expected


def test_round_trip_nested_bundle(tmp_path: Path) -> None:
    dataset = TorchCheckpointDataset(filepath=str(tmp_path / "models" / "attention.pt"))
    assert not dataset.exists()
    bundle = _bundle()
    dataset.save(bundle)
    assert dataset.exists()
    loaded = dataset.load()
    _assert_equal(loaded, bundle)
    assert isinstance(loaded["state_dicts"]["generator"], OrderedDict)
    # The state dict really restores a model.
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    model.load_state_dict(loaded["state_dicts"]["generator"])
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["attention.pt"]


def test_versions_latest_and_pinned(tmp_path: Path) -> None:
    path = tmp_path / "attention.pt"
    TorchCheckpointDataset(filepath=str(path), version=Version(None, V1)).save(_bundle(1))
    TorchCheckpointDataset(filepath=str(path), version=Version(None, V2)).save(_bundle(2))
    assert sorted(p.name for p in path.iterdir()) == [V1, V2]
    assert [p.name for p in (path / V1).iterdir()] == ["attention.pt"]  # no temp leftovers

    latest = TorchCheckpointDataset(filepath=str(path), version=Version(None, None))
    assert latest.load()["val_metrics"]["epoch"] == 2
    assert latest.list_versions(full_path=False) == [V2, V1]
    pinned = TorchCheckpointDataset(filepath=str(path), version=Version(V1, None))
    _assert_equal(pinned.load(), _bundle(1))

    with pytest.raises(DatasetError, match="must not exist"):
        TorchCheckpointDataset(filepath=str(path), version=Version(None, V1)).save(_bundle(3))


def test_no_versions_yet(tmp_path: Path) -> None:
    dataset = TorchCheckpointDataset(filepath=str(tmp_path / "m.pt"), version=Version(None, None))
    assert not dataset.exists()
    with pytest.raises(VersionNotFoundError):
        dataset.load()


def test_catalog_config_versioned_and_load_versions(tmp_path: Path) -> None:
    config = {
        "attention_checkpoint": {
            "type": TYPE,
            "filepath": (tmp_path / "data" / "06_models" / "attention.pt").as_posix(),
            "versioned": True,
            "load_args": {"map_location": "cpu"},
            "metadata": {"kedro-viz": {"layer": "models"}},
        }
    }
    DataCatalog.from_config(config, save_version=V1).save("attention_checkpoint", _bundle(1))
    DataCatalog.from_config(config, save_version=V2).save("attention_checkpoint", _bundle(2))

    catalog = DataCatalog.from_config(config)
    assert catalog.exists("attention_checkpoint")
    assert catalog.load("attention_checkpoint")["val_metrics"]["epoch"] == 2
    dataset = catalog["attention_checkpoint"]
    assert isinstance(dataset, TorchCheckpointDataset)
    assert dataset.metadata == {"kedro-viz": {"layer": "models"}}

    pinned = DataCatalog.from_config(config, load_versions={"attention_checkpoint": V1})
    assert pinned.load("attention_checkpoint")["val_metrics"]["epoch"] == 1


def test_arbitrary_objects_are_refused_at_save(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    dataset = TorchCheckpointDataset(filepath=str(path), version=Version(None, V1))
    with pytest.raises(DatasetError, match=r"Refusing to save checkpoint .*NotAllowed"):
        dataset.save({"state_dicts": {}, "extra": NotAllowed()})
    with pytest.raises(DatasetError, match="weights_only=True"):
        TorchCheckpointDataset(filepath=str(tmp_path / "mod.pt")).save(
            {"model": torch.nn.Linear(2, 2)}
        )
    assert not path.exists() and not (tmp_path / "mod.pt").exists()


def test_file_with_arbitrary_objects_is_not_unpickled(tmp_path: Path) -> None:
    """A checkpoint written by someone else with pickled objects is refused at load."""
    path = tmp_path / "foreign.pt"
    torch.save({"extra": NotAllowed()}, path)
    with pytest.raises(DatasetError, match=r"foreign\.pt' contains an object of type .*NotAllowed"):
        TorchCheckpointDataset(filepath=str(path)).load()


def test_weights_only_cannot_be_disabled(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="weights_only cannot be changed"):
        TorchCheckpointDataset(filepath=str(tmp_path / "m.pt"), load_args={"weights_only": False})


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda payload: payload[: len(payload) // 2],  # truncated
        lambda payload: b"",  # empty
        lambda payload: b"this is not a checkpoint" * 4,  # garbage (not a zip)
    ],
    ids=["truncated", "empty", "garbage"],
)
def test_corrupt_file(tmp_path: Path, corrupt) -> None:
    buffer = io.BytesIO()
    torch.save(_bundle(), buffer)
    path = tmp_path / "broken.pt"
    path.write_bytes(corrupt(buffer.getvalue()))
    with pytest.raises(DatasetError, match=r"broken\.pt' is not a valid PyTorch checkpoint"):
        TorchCheckpointDataset(filepath=str(path)).load()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"missing\.pt' does not exist"):
        TorchCheckpointDataset(filepath=str(tmp_path / "missing.pt")).load()


def test_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.pt"
    dataset = TorchCheckpointDataset(filepath=str(path))
    dataset.save(_bundle(1))

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("gan_pipelines.files.os.replace", failing_replace)
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(_bundle(2))
    monkeypatch.undo()
    assert dataset.load()["val_metrics"]["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # temp file removed


def test_describe(tmp_path: Path) -> None:
    dataset = TorchCheckpointDataset(
        filepath=str(tmp_path / "m.pt"), version=Version(None, None), save_args={"pickle_protocol": 4}
    )
    described = dataset._describe()
    assert described["filepath"].endswith("m.pt")
    assert described["load_args"] == {"map_location": "cpu"}
    assert described["save_args"] == {"pickle_protocol": 4}
    assert "TorchCheckpointDataset" in repr(dataset)
