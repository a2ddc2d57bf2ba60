import hashlib
import importlib.metadata
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.training import (
    AugmentConfig,
    NonFiniteLossError,
    PairedImageDataset,
    ResumeMismatchError,
    TrainerConfig,
    fit,
    load_training_state,
    make_loader,
    seed_everything,
    to_model_range,
)

EXPECTED_COLUMNS = {
    "epoch", "train_g_loss", "train_d_loss", "train_l2", "val_loss", "val_mae",
    "lr_generator", "lr_critic", "seconds", "images_per_second",
}


class ToyGanTask:
    """A tiny two-optimiser GAN-style task: learn target = inverted input, with a critic."""

    def __init__(self, lr: float = 1e-2, adversarial_weight: float = 0.01, nan_at_step: int | None = None):
        self.modules = {
            "generator": nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.Dropout2d(0.1), nn.Conv2d(8, 3, 3, padding=1),
            ),
            "critic": nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3, padding=1)),
        }
        self.optimizers = {
            "generator": torch.optim.Adam(self.modules["generator"].parameters(), lr=lr),
            "critic": torch.optim.Adam(self.modules["critic"].parameters(), lr=lr / 10),
        }
        self.hparams = {"adversarial_weight": adversarial_weight}
        self.nan_at_step = nan_at_step
        self.forward_dtypes: set[torch.dtype] = set()
        self.loss_dtypes: set[torch.dtype] = set()

    def train_step(self, batch, step):
        generator, critic = self.modules["generator"], self.modules["critic"]
        x, y = batch["input"], batch["target"]
        with step.autocast():
            raw = generator(x)
        self.forward_dtypes.add(raw.dtype)
        fake = raw.float()

        with step.autocast():
            real_score, fake_score = critic(y), critic(fake.detach())
        d_loss = 0.5 * (F.mse_loss(real_score.float(), torch.ones_like(real_score, dtype=torch.float32))
                        + F.mse_loss(fake_score.float(), torch.zeros_like(fake_score, dtype=torch.float32)))
        step.backward_and_step(d_loss, "critic")

        with step.autocast():
            gen_score = critic(fake)
        l2 = F.mse_loss(fake, y)
        g_loss = l2 + self.hparams["adversarial_weight"] * F.mse_loss(
            gen_score.float(), torch.ones_like(gen_score, dtype=torch.float32))
        if step.global_step == self.nan_at_step:
            g_loss = g_loss * float("nan")
        self.loss_dtypes.update({d_loss.dtype, g_loss.dtype})
        step.backward_and_step(g_loss, "generator")
        return {"g_loss": g_loss.detach(), "d_loss": d_loss.detach(), "l2": l2.detach()}

    def validation_step(self, batch, step):
        with step.autocast():
            fake = self.modules["generator"](batch["input"]).float()
        return {"loss": F.mse_loss(fake, batch["target"]).item(),
                "mae": (fake - batch["target"]).abs().mean().item()}

    def sample_images(self, batch):
        with torch.no_grad():
            fake = self.modules["generator"](batch["input"]).float()
        return (torch.cat([batch["input"], fake, batch["target"]]) + 1) / 2


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _loaders(augment: AugmentConfig | None = None, seed: int = 0, n_train: int = 24):
    rng = np.random.default_rng(123)
    images = rng.integers(0, 256, (n_train + 8, 16, 16, 3), dtype=np.uint8)
    arrays = {"input": images, "target": 255 - images}

    def dataset(part, aug):
        return PairedImageDataset({k: v[part] for k, v in arrays.items()},
                                  image_keys=["input", "target"], augment=aug, seed=seed)

    train = make_loader(dataset(slice(0, n_train), augment), 8, shuffle=True, seed=seed)
    val = make_loader(dataset(slice(n_train, None), None), 8, shuffle=False, seed=seed)
    return train, val


def _config(tmp_path, name="run", **overrides):
    # one thread: tiny convs gain nothing from more, and a busy shared CPU makes several slow
    settings = dict(epochs=3, device="cpu", precision="fp32", progress=False, cpu_threads=1,
                    state_path=str(tmp_path / name / "state.pt"))
    settings.update(overrides)
    return TrainerConfig(**settings)


def _task(seed=0, **kwargs):
    seed_everything(seed)
    return ToyGanTask(**kwargs)


def test_training_reduces_loss_and_records_history(tmp_path):
    log_dir = tmp_path / "tb"
    config = _config(tmp_path, epochs=8, log_dir=str(log_dir), sample_every=4, log_every_steps=1)
    result = fit(_task(), *_loaders(), config)

    history = result.history
    assert list(history["epoch"]) == list(range(1, 9))
    assert set(history.columns) == EXPECTED_COLUMNS
    assert history["train_l2"].iloc[-1] < 0.5 * history["train_l2"].iloc[0]
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    assert (history["images_per_second"] > 0).all()
    assert result.device == "cpu" and result.precision == "fp32" and result.resumed_from_epoch is None
    assert sorted(result.best_state_dicts) == ["critic", "generator"]

    events = list(log_dir.glob("events.out.tfevents*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir)).Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"train_step/g_loss", "train/l2", "val/loss", "lr/generator", "lr/critic"} <= scalars
    assert accumulator.Tags()["images"]  # sample grids at epochs 4 and 8


def test_best_epoch_follows_the_validation_metric(tmp_path):
    train, val = _loaders()
    task = _task()
    # "max" on the error picks the worst epoch: proves the choice follows monitor/monitor_mode.
    result = fit(task, train, val, _config(tmp_path, epochs=4, monitor="mae", monitor_mode="max"))
    history = result.history
    worst = int(history.loc[history["val_mae"].idxmax(), "epoch"])
    assert result.best_epoch == worst
    assert result.best_metrics["mae"] == pytest.approx(history["val_mae"].max())

    # the stored best weights reproduce that epoch's validation metric
    task.modules["generator"].load_state_dict(result.best_state_dicts["generator"])
    task.modules["generator"].eval()
    with torch.no_grad():
        batches = [to_model_range(b) for b in val]  # what the engine hands a task
        maes = [(task.modules["generator"](b["input"]) - b["target"]).abs().mean().item() for b in batches]
    assert np.mean(maes) == pytest.approx(result.best_metrics["mae"], rel=1e-5)
    assert not all(torch.equal(a, b) for a, b in zip(
        result.best_state_dicts["generator"].values(), result.last_state_dicts["generator"].values()))


def test_monitor_null_keeps_the_last_epoch(tmp_path):
    # "max" on the error would keep epoch 1 (the worst); without a monitor the last one is kept
    picked = fit(_task(), *_loaders(), _config(tmp_path, "a", epochs=3, monitor="mae", monitor_mode="max"))
    assert picked.best_epoch == 1
    result = fit(_task(), *_loaders(), _config(tmp_path, "b", epochs=3, monitor=None))
    assert result.best_epoch == 3
    assert result.best_metrics["mae"] == pytest.approx(result.history["val_mae"].iloc[-1])
    for key, tensor in result.last_state_dicts["generator"].items():
        assert torch.equal(tensor, result.best_state_dicts["generator"][key]), key
    for bad in ("", 3):
        with pytest.raises(ValueError, match=r"training\.monitor must be"):
            TrainerConfig(epochs=1, monitor=bad)


def test_monitor_start_epoch_keeps_only_later_epochs(tmp_path):
    """"max" on the error keeps epoch 1 (the worst, before any training settles); from epoch 2 on
    the monitor picks the worst of epochs 2-4, whatever epoch 1 scored."""
    result = fit(_task(), *_loaders(), _config(tmp_path, epochs=4, monitor="mae", monitor_mode="max",
                                               monitor_start_epoch=2))
    later = result.history[result.history["epoch"] >= 2]
    assert result.best_epoch == int(later.loc[later["val_mae"].idxmax(), "epoch"]) >= 2
    assert result.best_metrics["mae"] == pytest.approx(later["val_mae"].max())
    assert result.history["val_mae"].iloc[0] > later["val_mae"].max()  # epoch 1 would have won
    for bad in (0, 5, 1.5):
        with pytest.raises(ValueError, match=r"training\.monitor_start_epoch must be an integer in \[1, epochs=4\]"):
            TrainerConfig(epochs=4, monitor_start_epoch=bad)


def test_resumed_run_ends_with_exactly_the_same_weights(tmp_path):
    augment = AugmentConfig(hflip_p=0.5, rotate_p=0.5)
    # scheduler_mode "max" on a falling loss cuts the LR every epoch: the schedule state matters
    common = dict(scheduler_mode="max", scheduler_patience=0, scheduler_factor=0.5)

    straight = fit(_task(), *_loaders(augment), _config(tmp_path, "a", epochs=4, **common))

    fit(_task(), *_loaders(augment), _config(tmp_path, "b", epochs=2, **common))
    # a new process would build everything again; different init proves the state is restored
    train, val = _loaders(augment)
    resumed = fit(_task(seed=999), train, val, _config(tmp_path, "b", epochs=4, resume=True, **common))

    assert train.sampler.epoch == 4 and train.dataset.epoch == 4  # the engine advanced both

    assert resumed.resumed_from_epoch == 2
    assert len(resumed.history) == 4
    assert straight.history["lr_generator"].nunique() > 1
    for name, weights in straight.last_state_dicts.items():
        for key, tensor in weights.items():
            assert torch.equal(tensor, resumed.last_state_dicts[name][key]), f"{name}.{key}"
    columns = [c for c in straight.history.columns if c not in ("seconds", "images_per_second")]
    assert straight.history[columns].equals(resumed.history[columns])
    assert straight.best_epoch == resumed.best_epoch


def test_resume_refuses_a_state_from_a_different_configuration(tmp_path):
    fit(_task(), *_loaders(), _config(tmp_path, epochs=1))
    with pytest.raises(ResumeMismatchError, match=r"differs in: .*adversarial_weight.*0\.01.*0\.5"):
        fit(_task(adversarial_weight=0.5), *_loaders(), _config(tmp_path, epochs=2, resume=True))
    with pytest.raises(ResumeMismatchError, match=r"config\.seed"):
        fit(_task(), *_loaders(), _config(tmp_path, epochs=2, resume=True, seed=1))


def test_resume_without_saved_state_starts_fresh(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="gan_pipelines.training.engine"):
        result = fit(_task(), *_loaders(), _config(tmp_path, epochs=1, resume=True))
    assert result.resumed_from_epoch is None
    assert "no saved state" in caplog.text
    assert (tmp_path / "run" / "state.pt").exists()


def test_fresh_run_moves_an_existing_state_aside(tmp_path, caplog):
    fit(_task(), *_loaders(), _config(tmp_path, epochs=1))
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.training.engine"):
        fit(_task(), *_loaders(), _config(tmp_path, epochs=2))
    folder = tmp_path / "run"
    superseded = list(folder.glob("state.superseded-*.pt"))
    assert len(superseded) == 1
    assert "moved it to" in caplog.text
    assert load_training_state(superseded[0])["epoch"] == 1
    assert load_training_state(folder / "state.pt")["epoch"] == 2


class RecordingTask(ToyGanTask):
    """Remembers the state file's hash at the first step of epoch 3."""

    def __init__(self, state_path, **kwargs):
        super().__init__(**kwargs)
        self.state_path = state_path
        self.hash_at_epoch_3 = None

    def train_step(self, batch, step):
        if step.epoch == 3 and self.hash_at_epoch_3 is None:
            self.hash_at_epoch_3 = hashlib.sha256(self.state_path.read_bytes()).hexdigest()
        return super().train_step(batch, step)


def test_nan_loss_stops_training_and_keeps_the_last_good_state(tmp_path):
    config = _config(tmp_path, epochs=5)
    state_path = tmp_path / "run" / "state.pt"
    seed_everything(0)
    task = RecordingTask(state_path, nan_at_step=8)  # 3 batches per epoch: step 8 is in epoch 3
    with pytest.raises(NonFiniteLossError) as caught:
        fit(task, *_loaders(), config)
    message = str(caught.value)
    assert "generator loss is nan at epoch 3, step 8" in message
    assert f"the last good state is {state_path} (epoch 2)" in message
    assert hashlib.sha256(state_path.read_bytes()).hexdigest() == task.hash_at_epoch_3
    state = load_training_state(state_path)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert sorted(p.name for p in state_path.parent.iterdir()) == ["state.pt"]  # no temp files


def test_nan_in_the_first_epoch_says_no_state_was_written(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 2; .*no epoch has finished yet"):
        fit(_task(nan_at_step=2), *_loaders(), _config(tmp_path, epochs=2))


def test_bf16_autocast_on_cpu_with_fp32_losses(tmp_path):
    task = _task()
    result = fit(task, *_loaders(), _config(tmp_path, epochs=1, precision="bf16", state_path=None))
    assert result.precision == "bf16"
    assert task.forward_dtypes == {torch.bfloat16}
    assert task.loss_dtypes == {torch.float32}
    assert np.isfinite(result.history["train_g_loss"]).all()


def test_channels_last_models_and_batches(tmp_path):
    seen = []

    class Probe(ToyGanTask):
        def train_step(self, batch, step):
            seen.append(batch["input"].is_contiguous(memory_format=torch.channels_last))
            return super().train_step(batch, step)

    seed_everything(0)
    task = Probe()
    fit(task, *_loaders(), _config(tmp_path, epochs=1, state_path=None))
    assert all(seen)
    weight = task.modules["generator"][0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)


def test_on_epoch_end_can_stop_early(tmp_path):
    calls = []
    result = fit(_task(), *_loaders(), _config(tmp_path, epochs=5),
                 on_epoch_end=lambda epoch, row: calls.append(epoch) or epoch == 2)
    assert calls == [1, 2] and len(result.history) == 2
    assert load_training_state(tmp_path / "run" / "state.pt")["epoch"] == 2


def test_config_validation():
    with pytest.raises(ValueError, match=r"training\.epochs"):
        TrainerConfig(epochs=0)
    with pytest.raises(ValueError, match=r"training\.monitor_mode"):
        TrainerConfig(epochs=1, monitor_mode="lowest")
    with pytest.raises(ValueError, match=r"training\.resume is true but training\.state_path"):
        TrainerConfig(epochs=1, resume=True)
    with pytest.raises(ValueError, match=r"training\.learning_rate"):
        TrainerConfig.from_params({"epochs": 1, "learning_rate": 1e-3})
    assert TrainerConfig.from_params({"epochs": 2, "seed": 5}).seed == 5


def test_unknown_metric_names_the_setting(tmp_path):
    with pytest.raises(KeyError, match=r"training\.monitor='psnr'.*\['loss', 'mae'\]"):
        fit(_task(), *_loaders(), _config(tmp_path, epochs=1, monitor="psnr", state_path=None))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16", "fp32"])
def test_cuda_precisions(tmp_path, precision):
    task = _task()
    config = _config(tmp_path, epochs=2, device="cuda", precision=precision, state_path=None, cpu_threads=None)
    result = fit(task, *_loaders(), config)
    assert result.device.startswith("cuda")
    assert np.isfinite(result.history["train_g_loss"]).all()
    assert task.loss_dtypes == {torch.float32}


def test_fused_adam_trains_like_the_unfused_one(tmp_path):
    """One fused Adam step agrees with the plain one to ~1e-8, but Adam's normalisation turns
    rounding in near-zero gradients into lr-sized steps for a few weights, so the runs are
    compared by their losses."""
    fused = fit(_task(), *_loaders(), _config(tmp_path, "fused", epochs=3, fused_optimizer=True))
    plain = fit(_task(), *_loaders(), _config(tmp_path, "plain", epochs=3, fused_optimizer=False))
    np.testing.assert_allclose(fused.history["train_l2"], plain.history["train_l2"], rtol=0.02)
    np.testing.assert_allclose(fused.history["val_loss"], plain.history["val_loss"], rtol=0.02)
    task = _task()
    fit(task, *_loaders(), _config(tmp_path, "auto", epochs=1))  # auto: fused on CPU
    assert all(group["fused"] for opt in task.optimizers.values() for group in opt.param_groups)


def test_speed_settings_are_validated():
    with pytest.raises(ValueError, match=r"training\.fused_optimizer"):
        TrainerConfig(epochs=1, fused_optimizer="yes")
    with pytest.raises(ValueError, match=r"training\.compile"):
        TrainerConfig(epochs=1, compile="true")
    with pytest.raises(ValueError, match=r"training\.devices"):
        TrainerConfig(epochs=1, devices=0)


def test_resume_uses_this_runs_optimizer_kernels(tmp_path):
    """load_state_dict would bring back the saved run's fused/foreach choice; the resumed run
    keeps its own, and still ends where an uninterrupted run does."""
    config = _config(tmp_path, "kernels", epochs=2, fused_optimizer=False)
    fit(_task(), *_loaders(), config)
    task = _task()
    resumed = _config(tmp_path, "kernels", epochs=3, fused_optimizer=True, resume=True)
    result = fit(task, *_loaders(), resumed)
    assert result.resumed_from_epoch == 2
    assert all(group["fused"] for opt in task.optimizers.values() for group in opt.param_groups)


# -- learning-rate schedules ---------------------------------------------------------------------


def _lrs(result, name="lr_generator"):
    return [round(v, 12) for v in result.history[name]]


def test_linear_schedule_follows_pix2pix(tmp_path):
    """epochs=6, 3 constant: epoch k trains at lr * (1 - max(0, k - 3) / 4)."""
    config = _config(tmp_path, epochs=6, scheduler="linear", lr_constant_epochs=3, state_path=None)
    result = fit(_task(lr=1e-2), *_loaders(n_train=8), config)
    assert _lrs(result) == [1e-2, 1e-2, 1e-2, 7.5e-3, 5e-3, 2.5e-3]
    assert _lrs(result, "lr_critic") == [1e-3, 1e-3, 1e-3, 7.5e-4, 5e-4, 2.5e-4]


def test_step_schedule_halves_the_lr_every_step_epochs(tmp_path):
    """MUNIT's schedule: epochs=5, halved every 2: 1, 1, 0.5, 0.5, 0.25 times lr."""
    config = _config(tmp_path, epochs=5, scheduler="step", lr_step_epochs=2, lr_step_factor=0.5, state_path=None)
    result = fit(_task(lr=1e-2), *_loaders(n_train=8), config)
    assert _lrs(result) == [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3]
    with pytest.raises(ValueError, match=r"training\.lr_step_epochs must be a positive integer"):
        TrainerConfig(epochs=3, scheduler="step")
    with pytest.raises(ValueError, match=r"training\.lr_step_epochs only applies to training\.scheduler 'step'"):
        TrainerConfig(epochs=3, lr_step_epochs=2)


def test_linear_schedule_without_constant_epochs_decays_from_the_first():
    from gan_pipelines.training.engine import linear_lr_factor

    assert [linear_lr_factor(done, 0, 3) for done in range(3)] == [0.75, 0.5, 0.25]
    assert [linear_lr_factor(done, 2, 2) for done in range(2)] == [1.0, 1.0]


def test_no_schedule_keeps_the_lr_and_needs_no_scheduler_metric(tmp_path):
    config = _config(tmp_path, epochs=3, scheduler="none", scheduler_metric="not_a_metric", state_path=None)
    result = fit(_task(lr=1e-2), *_loaders(n_train=8), config)
    assert _lrs(result) == [1e-2] * 3


def test_plateau_schedule_is_unchanged(tmp_path):
    # mode "max" on a falling loss with patience 0: the first epoch sets the best value, every
    # later one is worse and halves the lr
    config = _config(tmp_path, epochs=3, scheduler_mode="max", scheduler_patience=0, scheduler_factor=0.5,
                     state_path=None)
    result = fit(_task(lr=1e-2), *_loaders(n_train=8), config)
    assert _lrs(result) == [1e-2, 1e-2, 5e-3]
    with pytest.raises(KeyError, match=r"training\.scheduler_metric='psnr'"):
        fit(_task(), *_loaders(n_train=8), _config(tmp_path, epochs=1, scheduler_metric="psnr", state_path=None))


def test_fingerprint_of_the_default_schedule_is_what_it_always_was():
    """State files written before other schedules existed must still resume."""
    from gan_pipelines.training.engine import _fingerprint_payload

    train, _ = _loaders(n_train=8)
    payload = _fingerprint_payload(_task(), TrainerConfig(epochs=3, scheduler_patience=4), train)
    assert payload["config"] == {
        "seed": 0, "monitor": "loss", "monitor_mode": "min", "scheduler_metric": "loss",
        "scheduler_mode": "min", "scheduler_factor": 0.9, "scheduler_patience": 4,
        "grad_clip_norm": None, "deterministic": False,
    }
    linear = _fingerprint_payload(_task(), TrainerConfig(epochs=3, scheduler="linear", lr_constant_epochs=1), train)
    assert {k: linear["config"][k] for k in ("scheduler", "lr_constant_epochs", "epochs")} == {
        "scheduler": "linear", "lr_constant_epochs": 1, "epochs": 3}
    assert "scheduler_patience" not in linear["config"]
    none = _fingerprint_payload(_task(), TrainerConfig(epochs=3, scheduler="none"), train)
    assert none["config"]["scheduler"] == "none" and "epochs" not in none["config"]


@pytest.mark.parametrize("kind", ["linear", "none", "plateau"])
def test_resume_restores_every_schedule(tmp_path, kind):
    settings = {"linear": dict(scheduler="linear", lr_constant_epochs=1),
                "none": dict(scheduler="none"),
                "plateau": dict(scheduler_mode="max", scheduler_patience=0, scheduler_factor=0.5)}[kind]
    straight = fit(_task(), *_loaders(n_train=8), _config(tmp_path, "a", epochs=4, **settings))
    fit(_task(), *_loaders(n_train=8), _config(tmp_path, "b", epochs=4, **settings),
        on_epoch_end=lambda epoch, row: epoch == 2)
    resumed = fit(_task(seed=5), *_loaders(n_train=8), _config(tmp_path, "b", epochs=4, resume=True, **settings))
    assert resumed.resumed_from_epoch == 2
    assert _lrs(resumed) == _lrs(straight)
    assert len(set(_lrs(straight))) == {"linear": 4, "none": 1, "plateau": 3}[kind]
    for name, weights in straight.last_state_dicts.items():
        for key, tensor in weights.items():
            assert torch.equal(tensor, resumed.last_state_dicts[name][key]), f"{name}.{key}"


def test_resume_refuses_a_changed_schedule(tmp_path):
    linear = dict(scheduler="linear", lr_constant_epochs=1)
    fit(_task(), *_loaders(n_train=8), _config(tmp_path, epochs=3, **linear), on_epoch_end=lambda e, r: True)
    with pytest.raises(ResumeMismatchError, match=r"config\.lr_constant_epochs \(saved 1, now 2\)"):
        fit(_task(), *_loaders(n_train=8),
            _config(tmp_path, epochs=3, resume=True, scheduler="linear", lr_constant_epochs=2))
    with pytest.raises(ResumeMismatchError, match=r"config\.epochs \(saved 3, now 5\)"):
        fit(_task(), *_loaders(n_train=8), _config(tmp_path, epochs=5, resume=True, **linear))
    with pytest.raises(ResumeMismatchError, match=r"config\.scheduler \(saved 'linear', now None\)"):
        fit(_task(), *_loaders(n_train=8), _config(tmp_path, epochs=3, resume=True))
    with pytest.raises(ResumeMismatchError, match=r"config\.scheduler \(saved 'linear', now 'none'\)"):
        fit(_task(), *_loaders(n_train=8), _config(tmp_path, epochs=3, resume=True, scheduler="none"))


def test_schedule_settings_are_validated():
    with pytest.raises(ValueError, match=r"training\.scheduler must be one of plateau, linear, step, none, got 'cosine'"):
        TrainerConfig(epochs=3, scheduler="cosine")
    with pytest.raises(ValueError, match=r"training\.lr_constant_epochs is required"):
        TrainerConfig(epochs=3, scheduler="linear")
    with pytest.raises(ValueError, match=r"training\.lr_constant_epochs must be an integer in \[0, epochs=3\], got 4"):
        TrainerConfig(epochs=3, scheduler="linear", lr_constant_epochs=4)
    with pytest.raises(ValueError, match=r"training\.lr_constant_epochs must be an integer"):
        TrainerConfig(epochs=3, scheduler="linear", lr_constant_epochs=1.5)
    with pytest.raises(ValueError, match=r"training\.lr_constant_epochs only applies to training\.scheduler 'linear'"):
        TrainerConfig(epochs=3, lr_constant_epochs=1)
    config = TrainerConfig.from_params({"epochs": 4, "scheduler": "linear", "lr_constant_epochs": 2})
    assert (config.scheduler, config.lr_constant_epochs) == ("linear", 2)
    assert TrainerConfig(epochs=1).scheduler == "plateau"


# ------------------------------------------------------------------ state retention and the run lock


@pytest.mark.parametrize("keep, expected_epochs", [(1, [2]), (0, []), (None, [2, 1])])
def test_superseded_states_are_kept_as_configured(tmp_path, keep, expected_epochs, caplog):
    for epochs in (1, 2, 3):  # three fresh runs: the first two end up superseded
        fit(_task(), *_loaders(), _config(tmp_path, epochs=epochs, keep_superseded_states=keep))
    from gan_pipelines.training.state_files import superseded_states

    kept = superseded_states(tmp_path / "run" / "state.pt")
    assert [load_training_state(path)["epoch"] for path in kept] == expected_epochs
    assert load_training_state(tmp_path / "run" / "state.pt")["epoch"] == 3  # the live state is never pruned


def test_keep_superseded_states_is_checked():
    with pytest.raises(ValueError, match="keep_superseded_states must be a non-negative integer or null"):
        TrainerConfig(epochs=1, keep_superseded_states=-1)


def _hold_lock_in_another_process(state_path, tmp_path):
    """Start a process that holds the state path's lock as a running training run does."""
    import subprocess
    import sys
    import time

    ready = tmp_path / "ready"
    code = (
        "import sys, time, pathlib\n"
        "from gan_pipelines.training.state_files import StateLock\n"
        f"lock = StateLock({str(state_path)!r}).acquire()\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the lock holder did not start"
        time.sleep(0.05)
    return process


def test_a_second_run_on_the_same_state_path_is_refused(tmp_path):
    state_path = tmp_path / "run" / "state.pt"
    fit(_task(), *_loaders(), _config(tmp_path, epochs=1))  # an earlier run's state
    before = state_path.read_bytes()
    holder = _hold_lock_in_another_process(state_path, tmp_path)
    try:
        from gan_pipelines.training import StateLockedError

        with pytest.raises(StateLockedError, match=rf"is in use by another training run \(PID {holder.pid} on "):
            fit(_task(), *_loaders(), _config(tmp_path, epochs=1))
    finally:
        holder.kill()
        holder.wait()
    assert state_path.read_bytes() == before  # not moved aside, not overwritten
    assert not list(state_path.parent.glob("*.superseded-*"))


def test_a_crashed_run_does_not_leave_the_lock_stuck(tmp_path, caplog):
    state_path = tmp_path / "run" / "state.pt"
    holder = _hold_lock_in_another_process(state_path, tmp_path)
    holder.kill()  # SIGKILL: no cleanup runs, the lock file stays behind
    holder.wait()
    assert (tmp_path / "run" / "state.pt.lock").exists()
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.training.state_files"):
        fit(_task(), *_loaders(), _config(tmp_path, epochs=1))
    assert f"left by a run that is no longer running (PID {holder.pid} on " in caplog.text
    assert not (tmp_path / "run" / "state.pt.lock").exists()  # released at the end


def test_resume_under_other_library_versions_warns_naming_them(tmp_path, caplog):
    fit(_task(), *_loaders(), _config(tmp_path, epochs=1))
    state_path = tmp_path / "run" / "state.pt"
    state = torch.load(state_path, weights_only=True)
    assert state["versions"]["torch"] == importlib.metadata.version("torch")
    state["versions"] = {**state["versions"], "opencv": "4.13.0.92", "numpy": "1.26.0"}
    torch.save(state, state_path)
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.library_versions"):
        resumed = fit(_task(), *_loaders(), _config(tmp_path, epochs=2, resume=True))
    assert resumed.resumed_from_epoch == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"Resuming the training state {state_path}")
    assert "numpy 1.26.0 -> " in warnings[0] and "opencv 4.13.0.92 -> " in warnings[0]
    assert "torch" not in warnings[0].split("(")[1]  # only what differs is named


class RawWeightsTask(ToyGanTask):
    """Records the raw weights and buffers of every module after each training step."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.after_step: list[dict[str, dict[str, torch.Tensor]]] = []

    def train_step(self, batch, step):
        losses = super().train_step(batch, step)
        self.after_step.append({n: {k: v.detach().clone() for k, v in m.state_dict().items()}
                                for n, m in self.modules.items()})
        return losses


def test_ema_keeps_the_moving_average_and_trains_on_the_raw_weights(tmp_path):
    seed_everything(0)
    averaged_task = RawWeightsTask()
    averaged = fit(averaged_task, *_loaders(), _config(tmp_path, "ema", epochs=2, monitor=None,
                                                       ema_decay=0.5, ema_modules=["generator"]))
    plain = fit(_task(), *_loaders(), _config(tmp_path, "plain", epochs=2, monitor=None))

    # The average, worked out by hand from the raw weights after each of the 6 steps: the first
    # step's weights, then ema = 0.5 * ema + 0.5 * weights (parameters and float buffers alike).
    raw = [state["generator"] for state in averaged_task.after_step]
    assert len(raw) == 6
    for key, tensor in averaged.last_state_dicts["generator"].items():
        if not tensor.is_floating_point():
            continue
        expected = raw[0][key].clone()
        for weights in raw[1:]:
            expected = 0.5 * expected + 0.5 * weights[key]
        torch.testing.assert_close(tensor, expected, rtol=1e-5, atol=1e-6, msg=key)
        assert not torch.equal(tensor, raw[-1][key]) or key.endswith("num_batches_tracked"), key
    # The kept weights are the averages; the module not named is kept as trained.
    for key, tensor in averaged.best_state_dicts["generator"].items():
        assert torch.equal(tensor, averaged.last_state_dicts["generator"][key]), key
    for key, tensor in averaged.last_state_dicts["critic"].items():
        assert torch.equal(tensor, averaged_task.after_step[-1]["critic"][key]), key
    # Averaging changes nothing in training: the raw weights follow the run without it exactly,
    # and the validation figures are the averaged model's, not the raw one's.
    for name in ("generator", "critic"):
        for key, tensor in plain.last_state_dicts[name].items():
            assert torch.equal(tensor, averaged_task.after_step[-1][name][key]), f"{name}.{key}"
    assert averaged.history["train_g_loss"].tolist() == plain.history["train_g_loss"].tolist()
    assert averaged.history["val_loss"].tolist() != plain.history["val_loss"].tolist()


def test_ema_resumes_the_same_average(tmp_path):
    settings = dict(monitor=None, ema_decay=0.9)
    straight = fit(_task(), *_loaders(), _config(tmp_path, "a", epochs=4, **settings))
    fit(_task(), *_loaders(), _config(tmp_path, "b", epochs=2, **settings))
    resumed = fit(_task(seed=999), *_loaders(), _config(tmp_path, "b", epochs=4, resume=True, **settings))
    for name, weights in straight.last_state_dicts.items():
        for key, tensor in weights.items():
            assert torch.equal(tensor, resumed.last_state_dicts[name][key]), f"{name}.{key}"
    with pytest.raises(ResumeMismatchError):  # switching averaging on is another run
        fit(_task(), *_loaders(), _config(tmp_path, "a", epochs=5, resume=True, monitor=None, ema_decay=0.5))


def test_ema_settings_are_checked(tmp_path):
    for bad in (0.0, 1.0, 1.5, True):
        with pytest.raises(ValueError, match="training.ema_decay must be in"):
            TrainerConfig(epochs=1, ema_decay=bad)
    with pytest.raises(ValueError, match="training.ema_modules must be a list"):
        TrainerConfig(epochs=1, ema_decay=0.9, ema_modules="generator")
    with pytest.raises(ValueError, match=r"training.ema_modules names \['gen'\].*'critic', 'generator'"):
        fit(_task(), *_loaders(), _config(tmp_path, epochs=1, ema_decay=0.9, ema_modules=["gen"]))
