"""Data-parallel training: 2 CPU processes with gloo, launched by the elastic launcher from the
same function a training node calls, compared with one process at the same global batch."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gan_pipelines.families.shadow.networks import build_attention_net
from gan_pipelines.families.shadow.nodes.train_attention import fit_attention
from gan_pipelines.families.shadow.nodes.train_generator import fit_generator
from gan_pipelines.stages.training_setup import run_training, trainer_config
from gan_pipelines.training.data import EpochShuffleSampler
from gan_pipelines.training.distributed import check_devices, per_device_batch_size

RESOLUTION = 32
NO_AUGMENTATION = {"hflip_p": 0.0, "rotate_p": 0.0, "noise_p": 0.0, "color_p": 0.0}
SMALL_UNET = {"encoder": "resnet18", "decoder_channels": [16, 16, 16, 16, 16]}


def _arrays(count: int, seed: int) -> dict[str, np.ndarray]:
    """Images with a bright square (robject) and a dark band below it (rshadow): a pattern the
    attention net can learn in a few steps."""
    rng = np.random.default_rng(seed)
    images = rng.integers(60, 120, size=(count, RESOLUTION, RESOLUTION, 3), dtype=np.uint8)
    robject = np.zeros((count, RESOLUTION, RESOLUTION), np.uint8)
    rshadow = np.zeros_like(robject)
    mask = np.zeros_like(robject)
    for i in range(count):
        r, c = rng.integers(4, RESOLUTION - 14, size=2)
        images[i, r : r + 6, c : c + 6] = 230
        robject[i, r : r + 6, c : c + 6] = 255
        images[i, r + 6 : r + 10, c : c + 6] = 20
        rshadow[i, r + 6 : r + 10, c : c + 6] = 255
        mask[i, 2:6, 2:6] = 255
    shadow = images.copy()
    shadow_mask = np.zeros_like(mask)
    shadow_mask[:, 6:9, 2:6] = 255
    shadow[:, 6:9, 2:6] = shadow[:, 6:9, 2:6] // 2
    return {"noshadow": images, "shadow": shadow, "mask": mask, "robject": robject, "rshadow": rshadow, "shadow_mask": shadow_mask}


def _params(tmp_path, name: str, devices: int, epochs: int = 4) -> dict:
    return {
        "model": dict(SMALL_UNET),
        "batch_size": 8,  # the global batch: 4 per worker with 2 devices
        "lr": 3e-3,
        "augmentation": dict(NO_AUGMENTATION),
        "num_workers": 0,
        "training": {
            "epochs": epochs, "seed": 3, "device": "cpu", "precision": "fp32", "monitor": "loss",
            "progress": False, "cpu_threads": 1,
            "devices": devices,
        },
    }


@pytest.fixture(scope="module")
def data():
    return _arrays(32, seed=0), _arrays(8, seed=1)


@pytest.fixture(scope="module")
def one_and_two_process_runs(data, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ddp")
    train, val = data
    runs = {}
    for devices in (1, 2):
        params = _params(tmp_path, f"devices{devices}", devices)
        config = trainer_config(params, "t", state_path=str(tmp_path / f"devices{devices}" / "state.pt"),
                                log_dir=None)
        runs[devices] = (run_training(fit_attention, (train, val, params, config), config), tmp_path / f"devices{devices}")
    return runs


def test_two_process_run_trains_and_the_loss_falls(one_and_two_process_runs):
    result, _ = one_and_two_process_runs[2]
    assert result is not None, "rank 0's result must come back to the node"
    dice = result.history["train_dice"].tolist()
    assert len(dice) == 4
    assert dice[-1] < dice[0] - 0.05, dice
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]


def test_two_process_run_writes_exactly_one_state_file(one_and_two_process_runs):
    _, folder = one_and_two_process_runs[2]
    assert sorted(p.name for p in folder.iterdir()) == ["state.pt"]
    state = torch.load(folder / "state.pt", weights_only=False)
    assert state["epoch"] == 4 and state["fingerprint_payload"]["world_size"] == 2
    # saved state dicts are the plain module's (no DistributedDataParallel "module." prefix)
    assert not any(key.startswith("module.") for key in state["modules"]["attention"])


def test_attention_net_in_two_processes_follows_the_one_process_curve(one_and_two_process_runs):
    """Same data order and global batches, averaged gradients. The attention net has BatchNorm,
    whose batch statistics come from 4 samples per worker instead of 8, so the runs are close
    rather than equal (the exact comparison is the next test)."""
    single, _ = one_and_two_process_runs[1]
    double, _ = one_and_two_process_runs[2]
    np.testing.assert_allclose(double.history["train_dice"], single.history["train_dice"], atol=0.03)
    np.testing.assert_allclose(double.history["val_loss"], single.history["val_loss"], atol=0.05)


class _PixelRegressionTask:
    """A BatchNorm-free conv net regressing the mask from the image: with no batch statistics,
    data parallelism is exactly one process at the same global batch."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 3, padding=1))
        self.modules = {"net": self.net}
        self.optimizers = {"net": torch.optim.Adam(self.net.parameters(), lr=1e-2)}

    def _loss(self, net, batch, step):
        with step.autocast():
            prediction = net(batch["noshadow"])
        return torch.nn.functional.mse_loss(prediction.float(), batch["mask"])

    def train_step(self, batch, step):
        loss = self._loss(step.module("net"), batch, step)
        step.backward_and_step(loss, "net")
        return {"mse": loss.detach()}

    def validation_step(self, batch, step):
        return {"loss": self._loss(self.net, batch, step).item()}

    def sample_images(self, batch):
        return None


def fit_pixel_regression(train, val, state_path: str):
    """Entry point for 1 or 2 processes (module level: spawned workers import it)."""
    from gan_pipelines.training import PairedImageDataset, TrainerConfig, fit, make_loader
    from gan_pipelines.training.distributed import current_group

    group = current_group()
    rank, world_size = (group.rank, group.world_size) if group is not None else (0, 1)
    keys = dict(image_keys=("noshadow",), mask_keys=("mask",))
    loader = make_loader(PairedImageDataset(train, **keys), 8 // world_size, shuffle=True, seed=1, rank=rank, world_size=world_size)
    val_loader = make_loader(PairedImageDataset(val, **keys), 8 // world_size, shuffle=False, rank=rank, world_size=world_size)
    config = TrainerConfig(epochs=3, seed=1, device="cpu", precision="fp32", state_path=state_path, progress=False, cpu_threads=1)
    return fit(_PixelRegressionTask(), loader, val_loader, config)


def test_two_processes_equal_one_process_with_the_same_global_batch(data, tmp_path):
    from gan_pipelines.training.distributed import launch

    train, val = data
    single = fit_pixel_regression(train, val, str(tmp_path / "one.pt"))
    double = launch(fit_pixel_regression, (train, val, str(tmp_path / "two.pt")), processes=2, device_preference="cpu")
    assert double.history["train_mse"].iloc[-1] < double.history["train_mse"].iloc[0]
    np.testing.assert_allclose(double.history["train_mse"], single.history["train_mse"], rtol=1e-4)
    np.testing.assert_allclose(double.history["val_loss"], single.history["val_loss"], rtol=1e-4)
    for name, value in single.last_state_dicts["net"].items():
        torch.testing.assert_close(double.last_state_dicts["net"][name], value, rtol=1e-4, atol=1e-5)
    # a worker that trained on its half of the data alone would end far from this
    half = {k: v[::2] for k, v in train.items()}
    alone = fit_pixel_regression(half, val, str(tmp_path / "half.pt"))
    differs = max((alone.last_state_dicts["net"][k] - v).abs().max().item() for k, v in single.last_state_dicts["net"].items())
    assert differs > 1e-2


def test_gan_task_trains_in_two_processes(data, tmp_path):
    """The generator + discriminator step (two optimisers, D run twice per step, D frozen in the
    generator's pass) under DistributedDataParallel."""
    train, val = data
    attention = build_attention_net(dict(SMALL_UNET))
    bundle = {"state_dicts": {"attention": attention.state_dict()}, "model_config": {"attention": dict(SMALL_UNET)}}
    params = _params(tmp_path, "gan", devices=2, epochs=2)
    params.pop("lr")
    params.update({
        "discriminator": {"base_channels": 8},
        "lr_generator": 1e-3, "lr_discriminator": 1e-4,
        "perceptual": {"enabled": False}, "attention_masks": "predicted",
    })
    params["training"]["monitor"] = "local_rmse"
    config = trainer_config(params, "t", state_path=str(tmp_path / "gan" / "state.pt"), log_dir=None)
    result, info = run_training(fit_generator, (train, val, bundle, params, config), config)
    assert list(result.history["epoch"]) == [1, 2]
    assert np.isfinite(result.history[["train_generator", "train_discriminator", "val_loss"]].to_numpy()).all()
    assert info["attention_masks"] == "predicted"
    assert sorted(p.name for p in (tmp_path / "gan").iterdir()) == ["state.pt"]


def test_workers_split_each_global_batch():
    """Rank r takes every 2nd index of the same permutation; together they cover it, padded to
    an even length when shuffling, unpadded for validation."""
    single = [i for _, i in EpochShuffleSampler(11, shuffle=True, seed=5)]
    ranks = [[i for _, i in EpochShuffleSampler(11, shuffle=True, seed=5, rank=r, world_size=2)] for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 6
    padded = single + single[:1]
    assert ranks[0] == padded[0::2] and ranks[1] == padded[1::2]
    val = [[i for _, i in EpochShuffleSampler(5, shuffle=False, seed=0, rank=r, world_size=2)] for r in (0, 1)]
    assert val == [[0, 2, 4], [1, 3]]


def test_bad_device_settings_are_refused_clearly():
    with pytest.raises(ValueError, match="batch_size=9 is the global batch"):
        per_device_batch_size(9, 2, "train_attention")
    with pytest.raises(ValueError, match="training.devices must be a positive integer"):
        check_devices(0, "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA device"):
            check_devices(2, "cuda")
    with pytest.raises(ValueError, match="devices"):
        trainer_config({"training": {"epochs": 1, "devices": "two"}}, "train_attention")
    with pytest.raises(ValueError, match=r"its 4 workers \(training.nodes x training.devices\)"):
        per_device_batch_size(6, 4, "train")


@pytest.mark.parametrize(("settings", "message"), [
    ({"nodes": 0}, "training.nodes must be a positive integer, got 0"),
    ({"nodes": 2}, "training.rdzv_endpoint is required when training.nodes is 2"),
    ({"nodes": 2, "node_rank": 2, "rdzv_endpoint": "node0:29400"}, r"training.node_rank must be an integer in \[0, nodes - 1 = 1\]"),
    ({"nodes": 2, "rdzv_endpoint": "node0"}, "training.rdzv_endpoint must be 'host:port'"),
    ({"nodes": 2, "rdzv_endpoint": "node0:0"}, "training.rdzv_endpoint has port 0, outside 1..65535"),
])
def test_bad_node_settings_are_refused_naming_the_setting(settings, message):
    """The engine's own check, for direct callers (a Kedro run is stopped earlier by the stage's
    typed parameters: tests/config/test_stage_parameters.py)."""
    from gan_pipelines.training import TrainerConfig

    with pytest.raises(ValueError, match=message):
        TrainerConfig(epochs=1, **settings)
    assert TrainerConfig(epochs=1, nodes=2, node_rank=1, rdzv_endpoint="[fd00::1]:29400").node_rank == 1


def test_sync_batchnorm_on_cpu_is_refused(data, tmp_path):
    train, val = data
    params = copy.deepcopy(_params(tmp_path, "sync", devices=2, epochs=1))
    params["training"]["sync_batchnorm"] = True
    with pytest.raises(Exception, match="sync_batchnorm needs CUDA"):
        run_training(fit_attention, (train, val, params), trainer_config(params, "t"))


def test_single_process_sums_are_plain_floats_and_tiny_sets_are_refused():
    from gan_pipelines.training import PairedImageDataset, make_loader
    from gan_pipelines.training.distributed import all_reduce_sums

    # one process: no collective and no tensor built (values may live on any device)
    assert all_reduce_sums([torch.tensor(2.5), 3], torch.device("cpu")) == [2.5, 3.0]
    train, _ = _arrays(1, seed=0), None
    dataset = PairedImageDataset(train, image_keys=("noshadow",), mask_keys=("mask",))
    with pytest.raises(ValueError, match="1 samples cannot be shared out over 2 workers"):
        make_loader(dataset, 1, shuffle=False, rank=0, world_size=2)
