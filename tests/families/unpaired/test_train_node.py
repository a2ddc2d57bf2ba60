"""The CycleGAN train node on a tiny in-memory model input (16 px): the bundle it writes, the
history, resume refusing changed loss weights, and a resumed run ending with the weights of an
uninterrupted one (history buffers included)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gan_pipelines.families.unpaired.bundles import generators_from_bundle
from gan_pipelines.families.unpaired.nodes.train import train_unpaired_model
from gan_pipelines.params import ParameterError
from gan_pipelines.training import ResumeMismatchError

TRAINING = {"epochs": 2, "device": "cpu", "precision": "fp32", "progress": False, "cpu_threads": 1,
            "scheduler": "linear", "lr_constant_epochs": 1, "monitor": None, "sample_every": 1}
PARAMS = {"training": TRAINING, "batch_size": 2, "augmentation": {"load_size": 18, "crop_size": 16, "hflip_p": 0.5},
          "model": {"ngf": 4, "n_blocks": 1}, "discriminator": {"ndf": 4}, "pool_size": 2}


def _model_input(size=16, counts=None):
    """Domain A: a bright square on dark ground; domain B: a dark square on bright ground; the
    two domains under disjoint names, as ingest/preprocess write them."""
    counts = counts or {"train": {"A": 6, "B": 7}, "val": {"A": 2, "B": 3}}
    rng = np.random.default_rng(0)
    images = {}
    for split, per_domain in counts.items():
        for domain, count in per_domain.items():
            for index in range(count):
                picture = np.full((size, size, 3), 40 if domain == "A" else 210, np.uint8)
                y, x = rng.integers(0, size // 2, 2)
                picture[y:y + size // 3, x:x + size // 3] = 230 if domain == "A" else 30
                images[f"{split}/{domain}/{split}_{domain}{index}.png"] = (lambda p=picture: p)
    return images


def _params(**changes):
    params = copy.deepcopy(PARAMS)
    for key, value in changes.items():
        params[key] = {**params.get(key, {}), **value} if isinstance(value, dict) else value
    return params


def test_node_trains_and_writes_the_bundle(tmp_path, one_thread):
    bundle, history = train_unpaired_model(_model_input(), _params(), family="cyclegan")
    assert set(bundle["state_dicts"]) == {"G_AB", "G_BA"}
    config = bundle["model_config"]
    assert config["model"] == "cyclegan" and config["resolution"] == 16
    assert config["generator"] == {"type": "resnet", "in_channels": 3, "out_channels": 3, "ngf": 4, "n_blocks": 1,
                                   "norm": "instance", "use_dropout": False, "upsample": "transpose",
                                   "upsample_mode": "nearest", "init_gain": 0.02}
    assert config["discriminator"]["n_layers"] == 1  # chosen from the 16 px crop
    meta = bundle["meta"]
    assert meta["family"] == "cyclegan" and meta["network"] == "generator" and meta["resolution"] == 16
    assert meta["loss_weights"] == {"adversarial": 1.0, "cycle": 10.0, "identity": 0.5, "identity_effective": 5.0}
    assert meta["identity_convention"] == "times_cycle" and meta["pool_size"] == 2 and meta["gan_mode"] == "lsgan"
    assert meta["train_counts"] == {"A": 6, "B": 7} and len(meta["data_hash"]) == 64
    assert bundle["best_epoch"] == 2  # monitor null: the last epoch
    # an epoch is max(6, 7) couples in batches of 2; the lr decays linearly after epoch 1
    assert list(history["epoch"]) == [1, 2]
    assert list(history["lr_generator"]) == pytest.approx([2e-4, 1e-4])
    for column in ("train_g_loss", "train_d_loss", "train_cycle_a", "train_identity_b", "val_cycle_l1_a2b",
                   "val_cycle_l1_b2a", "val_identity_l1", "images_per_second"):
        assert np.isfinite(history[column]).all(), column
    generators, _ = generators_from_bundle(bundle, "cyclegan")
    picture = torch.zeros(1, 3, 16, 16)
    with torch.no_grad():
        assert generators["a2b"](picture).shape == (1, 3, 16, 16)
    assert all(torch.equal(generators["b2a"].state_dict()[k], v) for k, v in bundle["state_dicts"]["G_BA"].items())
    # the full state (history buffers too) and the TensorBoard folder are where the stage says
    state = torch.load(tmp_path / "data/06_models/training_state/cyclegan_train.pt", weights_only=True)
    assert state["modules"]["history_buffers"]["fake_A.images"].shape == (2, 3, 16, 16)
    assert (tmp_path / "data/08_reporting/tensorboard/cyclegan_train").is_dir()


def test_identity_convention_absolute_is_recorded(one_thread):
    params = _params(training={"epochs": 1, "lr_constant_epochs": 1}, identity_convention="absolute",
                     loss_weights={"identity": 0.5})
    bundle, _ = train_unpaired_model(_model_input(), params, family="cyclegan")
    assert bundle["meta"]["loss_weights"]["identity_effective"] == 0.5


def test_resume_refuses_changed_loss_weights(one_thread):
    first = _params(training={"epochs": 1, "scheduler": "none", "lr_constant_epochs": None})
    train_unpaired_model(_model_input(), first, family="cyclegan")
    changed = copy.deepcopy(first)
    changed["training"].update(resume=True, epochs=2)
    changed["loss_weights"] = {"cycle": 5.0}
    with pytest.raises(ResumeMismatchError, match=r"task_hparams\.loss_weights\.cycle \(saved 10\.0, now 5\.0\)"):
        train_unpaired_model(_model_input(), changed, family="cyclegan")
    changed["loss_weights"] = {"identity": 1.0}  # 1.0 x 10: the effective weight changes
    with pytest.raises(ResumeMismatchError, match=r"identity_effective \(saved 5\.0, now 10\.0\)"):
        train_unpaired_model(_model_input(), changed, family="cyclegan")
    changed["loss_weights"], changed["pool_size"] = {}, 3
    with pytest.raises(ResumeMismatchError, match=r"task_hparams\.pool_size \(saved 2, now 3\)"):
        train_unpaired_model(_model_input(), changed, family="cyclegan")


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch, one_thread):
    """Stopped after epoch 1 and resumed: the same weights as two epochs in one go, which needs
    the history buffers (full after the first step: 2 images) restored with their draws."""
    straight = _params(training={"epochs": 2, "scheduler": "none", "lr_constant_epochs": None})
    (tmp_path / "straight").mkdir()
    monkeypatch.chdir(tmp_path / "straight")
    reference, _ = train_unpaired_model(_model_input(), straight, family="cyclegan")
    (tmp_path / "resumed").mkdir()
    monkeypatch.chdir(tmp_path / "resumed")
    train_unpaired_model(_model_input(), _params(training={"epochs": 1, "scheduler": "none",
                                                           "lr_constant_epochs": None}), family="cyclegan")
    resumed_params = copy.deepcopy(straight)
    resumed_params["training"]["resume"] = True
    resumed, history = train_unpaired_model(_model_input(), resumed_params, family="cyclegan")
    assert resumed["meta"]["resumed_from_epoch"] == 1 and list(history["epoch"]) == [1, 2]
    for name in ("G_AB", "G_BA"):
        for key, value in reference["state_dicts"][name].items():
            assert torch.equal(resumed["state_dicts"][name][key], value), f"{name}.{key}"


def test_node_refuses_a_crop_other_than_the_model_input(one_thread):
    with pytest.raises(ParameterError, match=r"cyclegan\.train\.augmentation\.crop_size is 16 but the model input "
                                             r"\(cyclegan\.preprocess\.resolution\) is 24 px"):
        train_unpaired_model(_model_input(size=24), _params(), family="cyclegan")
    with pytest.raises(ValueError, match="'val' split has no samples"):
        train_unpaired_model(_model_input(counts={"train": {"A": 2, "B": 2}}), _params(), family="cyclegan")
