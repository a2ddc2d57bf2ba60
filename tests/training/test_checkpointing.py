import random

import numpy as np
import pytest
import torch

from gan_pipelines.training.checkpointing import (
    CheckpointError,
    load_training_state,
    save_training_state,
)
from gan_pipelines.training.reproducibility import capture_rng_state, restore_rng_state, seed_everything


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_roundtrip_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "run" / "state.pt"
    state = {"epoch": 3, "weights": {"w": torch.arange(6.0).reshape(2, 3)}, "history": [{"loss": 0.5}]}
    save_training_state(path, state)
    save_training_state(path, {**state, "epoch": 4})  # replaces
    assert _files(path.parent) == ["state.pt"]
    loaded = load_training_state(path)
    assert loaded["epoch"] == 4
    assert torch.equal(loaded["weights"]["w"], state["weights"]["w"])
    assert loaded["history"] == [{"loss": 0.5}]


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    save_training_state(path, {"epoch": 1})
    before = path.read_bytes()

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_training_state(path, {"epoch": 2})
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["state.pt"]


def test_corrupt_or_truncated_file_gives_clear_error(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt.*corrupt"):
        load_training_state(garbage)

    good = tmp_path / "good.pt"
    save_training_state(good, {"w": torch.randn(100, 100)})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_training_state(truncated)

    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_training_state(tmp_path / "missing.pt")


def test_non_dict_and_unsafe_content_is_refused(tmp_path):
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="list"):
        load_training_state(listed)

    unsafe = tmp_path / "unsafe.pt"
    torch.save({"obj": Arbitrary()}, unsafe)
    with pytest.raises(CheckpointError, match="unsafe.pt"):
        load_training_state(unsafe)


class Arbitrary:
    """Not a tensor or plain value: weights_only loading must refuse it."""


def _draws():
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        torch.rand(3).tolist(),
    )


def test_rng_state_survives_weights_only_checkpoint(tmp_path):
    seed_everything(7)
    _draws()
    path = tmp_path / "rng.pt"
    save_training_state(path, {"rng": capture_rng_state()})
    expected = _draws()
    seed_everything(99)
    restore_rng_state(load_training_state(path)["rng"])
    assert _draws() == expected


def test_seed_everything_is_repeatable():
    seed_everything(3)
    first = _draws()
    seed_everything(3)
    assert _draws() == first
