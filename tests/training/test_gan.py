import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.models.gan_losses import GANLoss
from gan_pipelines.training import ResumeMismatchError, StepContext, TrainerConfig, fit, seed_everything
from gan_pipelines.training.data import PairedImageDataset, make_loader
from gan_pipelines.training.device import select_precision
from gan_pipelines.training.gan import PairedGANTask, discriminator_step, frozen

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _step(optimizers, modules, global_step=1) -> StepContext:
    """What fit hands the task: fp32 on the CPU, no scaler, no clipping."""
    step = StepContext(CPU, select_precision(CPU, "fp32"), torch.amp.GradScaler("cpu", enabled=False), optimizers, None)
    step._training_modules = dict(modules)
    step.global_step = global_step
    return step


class ConstantD(nn.Module):
    """Outputs its one parameter everywhere (a 2x2 patch map); records the channels it saw."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.full((1, 1, 1, 1), value))
        self.seen_channels: list[int] = []

    def forward(self, x):
        self.seen_channels.append(x.shape[1])
        return self.value.expand(x.shape[0], 1, 2, 2)


def _half_generator() -> nn.Module:
    """fake = 0.5 * input (a 1x1 conv with weight 0.5 * identity)."""
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(0.5 * torch.eye(3).view(3, 3, 1, 1))
    return conv


def _l1(fake, target, batch):
    return (fake - target).abs().mean()


def _constant_batch(n=2, size=8):
    return {"input": torch.full((n, 3, size, size), 0.8), "target": torch.full((n, 3, size, size), 0.2)}


def _conv_d(in_channels=6):
    return nn.Sequential(
        nn.Conv2d(in_channels, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3, padding=1)
    )


# -- frozen ------------------------------------------------------------------------------------


def test_frozen_restores_each_parameters_own_flag_even_on_error():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    first.bias.requires_grad_(False)  # frozen before: must stay frozen
    shared = nn.Sequential(first)  # the same parameters reached twice
    params = [first.weight, first.bias, second.weight, second.bias]
    with frozen(first, second, shared):
        assert [p.requires_grad for p in params] == [False] * 4
    assert [p.requires_grad for p in params] == [True, False, True, True]

    with pytest.raises(RuntimeError, match="boom"):
        with frozen(second):
            assert not second.weight.requires_grad
            raise RuntimeError("boom")
    assert [p.requires_grad for p in params] == [True, False, True, True]


def test_frozen_passes_gradients_to_the_input_but_not_the_weights():
    d = _conv_d(3)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with frozen(d):
        d(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters())
    d(x).sum().backward()  # after the block the weights learn again
    assert all(p.grad is not None for p in d.parameters())


# -- discriminator_step ------------------------------------------------------------------------


@pytest.mark.parametrize("mode, real, fake", [
    # D outputs c = 0.25 everywhere
    ("lsgan", (0.25 - 1) ** 2, 0.25**2),  # 0.5625, 0.0625
    ("vanilla", math.log1p(math.exp(-0.25)), math.log1p(math.exp(0.25))),  # softplus(-c), softplus(c)
    ("hinge", 1 - 0.25, 1 + 0.25),
])
def test_discriminator_step_gives_the_hand_computed_loss_for_a_constant_d(mode, real, fake):
    d = ConstantD(0.25)
    optimizers = {"discriminator": torch.optim.SGD(d.parameters(), lr=0.1)}
    step = _step(optimizers, {"discriminator": d})
    images = torch.zeros(2, 3, 4, 4)
    out = discriminator_step(step, d, GANLoss(mode), images, images.requires_grad_())
    assert out["d_real"].item() == pytest.approx(real, abs=1e-6)
    assert out["d_fake"].item() == pytest.approx(fake, abs=1e-6)
    assert out["d_loss"].item() == pytest.approx(0.5 * (real + fake), abs=1e-6)
    assert not any(v.requires_grad for v in out.values())
    if mode == "lsgan":  # d/dc 0.5((c-1)^2 + c^2) = 2c - 1 = -0.5; SGD: c += 0.1 * 0.5
        assert d.value.item() == pytest.approx(0.3, abs=1e-6)


def test_discriminator_step_detaches_the_fake_and_checks_the_name():
    d = _conv_d(3)
    step = _step({"discriminator": torch.optim.Adam(d.parameters(), lr=1e-3)}, {"discriminator": d})
    generator_output = torch.randn(2, 3, 8, 8, requires_grad=True)
    discriminator_step(step, d, GANLoss("lsgan"), torch.randn(2, 3, 8, 8), generator_output * 2)
    assert generator_output.grad is None
    other = _conv_d(3)
    with pytest.raises(ValueError, match=r"step\.module\('discriminator'\) is not the discriminator"):
        discriminator_step(step, other, GANLoss("lsgan"), torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8))


def test_discriminator_step_lowers_the_loss_on_a_toy_problem():
    torch.manual_seed(0)
    d = _conv_d(3)
    step = _step({"discriminator": torch.optim.Adam(d.parameters(), lr=1e-2)}, {"discriminator": d})
    losses = []
    for _ in range(40):
        real = 0.5 + 0.1 * torch.randn(4, 3, 8, 8)
        fake = -0.5 + 0.1 * torch.randn(4, 3, 8, 8)
        losses.append(discriminator_step(step, d, GANLoss("lsgan"), real, fake)["d_loss"].item())
    assert losses[0] > 0.1
    assert np.mean(losses[-5:]) < 0.2 * losses[0]


# -- PairedGANTask -----------------------------------------------------------------------------


def _pinned_task(l1_weight=100.0, conditional=True, **kwargs):
    return PairedGANTask(
        _half_generator(), ConstantD(0.25), GANLoss("lsgan"), conditional=conditional,
        extra_losses={"l1": (l1_weight, _l1)}, lr_generator=0.0, lr_discriminator=0.0, **kwargs,
    )


@pytest.mark.parametrize("l1_weight, g_loss", [(100.0, 0.5625 + 100 * 0.2), (10.0, 0.5625 + 10 * 0.2)])
def test_train_step_values_by_hand(l1_weight, g_loss):
    """fake = 0.4, target = 0.2 (l1 0.2); D says 0.25 everywhere: lsgan D terms (0.25-1)^2 on
    real and 0.25^2 on fake, G term (0.25-1)^2. lr 0: nothing moves within the step."""
    task = _pinned_task(l1_weight)
    logs = task.train_step(_constant_batch(), _step(task.optimizers, task.modules))
    assert logs["d_real"].item() == pytest.approx(0.5625)
    assert logs["d_fake"].item() == pytest.approx(0.0625)  # swapped targets would give 0.0625 / 0.5625
    assert logs["d_loss"].item() == pytest.approx(0.3125)
    assert logs["g_adv"].item() == pytest.approx(0.5625)
    assert logs["l1"].item() == pytest.approx(0.2)
    assert logs["g_loss"].item() == pytest.approx(g_loss)
    assert not any(v.requires_grad for v in logs.values())


def test_conditional_d_sees_input_and_image():
    for conditional, channels in ((True, 6), (False, 3)):
        task = _pinned_task(conditional=conditional)
        task.train_step(_constant_batch(), _step(task.optimizers, task.modules))
        assert set(task.discriminator.seen_channels) == {channels}


def test_adversarial_weight_and_validation_metrics_by_hand():
    task = _pinned_task(adversarial_weight=2.0)
    logs = task.train_step(_constant_batch(), _step(task.optimizers, task.modules))
    assert logs["g_loss"].item() == pytest.approx(2 * 0.5625 + 100 * 0.2)
    metrics = task.validation_step(_constant_batch(), _step(task.optimizers, task.modules))
    # [0, 1] range: fake 0.7, target 0.6 -> l1 0.1, mse 0.01 -> psnr 20 dB; loss = 100 * 0.2
    assert metrics == pytest.approx({"loss": 20.0, "l1": 0.1, "psnr": 20.0}, abs=1e-4)
    no_extras = PairedGANTask(_half_generator(), ConstantD(0.25), GANLoss("lsgan"))
    step = _step(no_extras.optimizers, no_extras.modules)
    assert no_extras.validation_step(_constant_batch(), step)["loss"] == pytest.approx(0.1)


def test_discriminator_gets_no_weight_gradients_in_the_generator_pass():
    torch.manual_seed(0)
    generator, d = nn.Conv2d(3, 3, 3, padding=1), _conv_d(6)
    task = PairedGANTask(generator, d, GANLoss("lsgan"), extra_losses={"l1": (100.0, _l1)})
    computed = []
    for parameter in d.parameters():
        parameter.register_hook(lambda grad: computed.append(1))
    batch = {"input": torch.randn(2, 3, 8, 8), "target": torch.randn(2, 3, 8, 8)}
    task.train_step(batch, _step(task.optimizers, task.modules))
    assert len(computed) == len(list(d.parameters()))  # once each: the D step, not the G pass
    assert all(p.requires_grad for p in d.parameters())
    assert all(p.grad is not None for p in generator.parameters())


@pytest.mark.parametrize("d_every, global_step, d_changes", [(2, 1, False), (2, 3, False), (2, 2, True), (1, 1, True)])
def test_d_every_skips_the_discriminator_on_odd_steps(d_every, global_step, d_changes):
    torch.manual_seed(0)
    generator, d = nn.Conv2d(3, 3, 3, padding=1), _conv_d(6)
    task = PairedGANTask(generator, d, GANLoss("lsgan"), d_every=d_every, extra_losses={"l1": (1.0, _l1)})
    before_d = [p.detach().clone() for p in d.parameters()]
    before_g = [p.detach().clone() for p in generator.parameters()]
    batch = {"input": torch.randn(2, 3, 8, 8), "target": torch.randn(2, 3, 8, 8)}
    logs = task.train_step(batch, _step(task.optimizers, task.modules, global_step))
    same_d = all(torch.equal(a, b) for a, b in zip(before_d, d.parameters()))
    assert same_d is not d_changes
    assert not all(torch.equal(a, b) for a, b in zip(before_g, generator.parameters()))
    assert {"d_loss", "d_real", "d_fake", "g_loss", "g_adv", "l1"} <= set(logs)  # logged either way
    assert logs["d_loss"].item() == pytest.approx(0.5 * (logs["d_real"] + logs["d_fake"]).item())


class FeatureD(nn.Module):
    """A two-scale discriminator returning [[features, logits], ...]."""

    def __init__(self):
        super().__init__()
        self.features, self.logits = nn.Conv2d(6, 4, 3, padding=1), nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x):
        scales = []
        for image in (x, F.avg_pool2d(x, 2)):
            features = self.features(image)
            scales.append([features, self.logits(features)])
        return scales


def test_feature_matching_term_enters_the_generator_loss():
    torch.manual_seed(0)
    batch = {"input": torch.randn(2, 3, 8, 8), "target": torch.randn(2, 3, 8, 8)}
    task = PairedGANTask(nn.Conv2d(3, 3, 1), FeatureD(), GANLoss("hinge"), feature_matching_weight=10.0,
                         extra_losses={"l1": (100.0, _l1)}, lr_generator=0.0, lr_discriminator=0.0)
    logs = task.train_step(batch, _step(task.optimizers, task.modules))
    assert logs["g_fm"].item() > 0
    expected = logs["g_adv"] + 10.0 * logs["g_fm"] + 100.0 * logs["l1"]
    assert logs["g_loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    plain = PairedGANTask(nn.Conv2d(3, 3, 1), _conv_d(6), GANLoss("lsgan"), feature_matching_weight=10.0)
    with pytest.raises(ValueError, match="return_features=True"):
        plain.train_step(batch, _step(plain.optimizers, plain.modules))


def test_sample_images_are_input_output_target_rows_in_unit_range():
    task = _pinned_task()
    batch = {"input": torch.full((6, 1, 4, 4), 0.8).expand(-1, 3, -1, -1), "target": torch.full((6, 3, 4, 4), 0.2)}
    grid = task.sample_images(batch)
    assert grid.shape == (4, 3, 4, 12)
    assert torch.allclose(grid[..., :4], torch.tensor(0.9))
    assert torch.allclose(grid[..., 4:8], torch.tensor(0.7))
    assert torch.allclose(grid[..., 8:], torch.tensor(0.6))


def test_optimisers_and_hparams():
    task = PairedGANTask(_half_generator(), ConstantD(0.25), GANLoss("vanilla", real_label=0.9),
                         extra_losses={"l1": (100.0, _l1)}, lr_generator=1e-3, betas_discriminator=(0.0, 0.9),
                         d_every=2, hparams={"ngf": 64})
    assert task.optimizers["generator"].defaults["lr"] == 1e-3
    assert task.optimizers["generator"].defaults["betas"] == (0.5, 0.999)
    assert task.optimizers["discriminator"].defaults["betas"] == (0.0, 0.9)
    hp = task.hparams
    assert hp["gan_loss"]["mode"] == "vanilla" and hp["gan_loss"]["real_label"] == 0.9
    assert hp["loss_weights"] == {"l1": 100.0} and hp["loss_functions"]["l1"].endswith("test_gan._l1")
    assert hp["d_every"] == 2 and hp["ngf"] == 64 and hp["conditional"] is True
    with pytest.raises(ValueError, match=r"redefine.*d_every"):
        PairedGANTask(_half_generator(), ConstantD(0.25), GANLoss(), hparams={"d_every": 3})
    with pytest.raises(ValueError, match=r"d_every must be a positive integer"):
        PairedGANTask(_half_generator(), ConstantD(0.25), GANLoss(), d_every=0)
    with pytest.raises(ValueError, match=r"extra_losses\['l1'\] must be a \(weight, fn\) pair"):
        PairedGANTask(_half_generator(), ConstantD(0.25), GANLoss(), extra_losses={"l1": _l1})


# -- with the engine ---------------------------------------------------------------------------


def _fit(tmp_path, l1_weight, epochs, resume=False):
    seed_everything(0)
    rng = np.random.default_rng(0)
    arrays = {"input": rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8),
              "target": rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)}
    kinds = {"input": "rgb", "target": "rgb"}
    train = make_loader(PairedImageDataset({k: v[:4] for k, v in arrays.items()}, kinds), 2, shuffle=True)
    val = make_loader(PairedImageDataset({k: v[4:] for k, v in arrays.items()}, kinds), 2, shuffle=False)
    task = PairedGANTask(nn.Conv2d(3, 3, 3, padding=1), _conv_d(6), GANLoss("lsgan"),
                         extra_losses={"l1": (l1_weight, _l1)})
    config = TrainerConfig(epochs=epochs, device="cpu", precision="fp32", progress=False, cpu_threads=1,
                           state_path=str(tmp_path / "state.pt"), resume=resume)
    return fit(task, train, val, config)


def test_fit_and_resume_refuses_a_changed_loss_weight(tmp_path):
    first = _fit(tmp_path, 100.0, epochs=1)
    assert {"train_g_loss", "train_d_loss", "train_l1", "val_loss", "val_l1", "val_psnr"} <= set(first.history.columns)
    assert np.isfinite(first.history["val_psnr"]).all()
    with pytest.raises(ResumeMismatchError, match=r"task_hparams\.loss_weights\.l1 \(saved 100\.0, now 10\.0\)"):
        _fit(tmp_path, 10.0, epochs=2, resume=True)
    assert _fit(tmp_path, 100.0, epochs=2, resume=True).resumed_from_epoch == 1


def test_bf16_fit_with_feature_matching_and_d_every(tmp_path):
    """Autocast forward passes, fp32 losses, D on alternate steps: the whole task under fit."""
    seed_everything(0)
    rng = np.random.default_rng(1)
    images = {"input": rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8),
              "target": rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)}
    kinds = {"input": "rgb", "target": "rgb"}
    train = make_loader(PairedImageDataset({k: v[:4] for k, v in images.items()}, kinds), 2, shuffle=True)
    val = make_loader(PairedImageDataset({k: v[4:] for k, v in images.items()}, kinds), 2, shuffle=False)
    task = PairedGANTask(nn.Conv2d(3, 3, 3, padding=1), FeatureD(), GANLoss("hinge"), feature_matching_weight=10.0,
                         extra_losses={"l1": (100.0, _l1)}, d_every=2)
    config = TrainerConfig(epochs=2, device="cpu", precision="bf16", progress=False, cpu_threads=1,
                           scheduler="linear", lr_constant_epochs=1)
    history = fit(task, train, val, config).history
    numeric = history.drop(columns=["seconds", "images_per_second"])
    assert np.isfinite(numeric.to_numpy()).all()
    assert {"train_g_fm", "train_d_loss", "val_psnr"} <= set(history.columns)
    assert list(history["lr_generator"]) == pytest.approx([2e-4, 1e-4])
