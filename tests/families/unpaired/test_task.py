"""CycleGAN's training task: the history buffer, the losses on known values, one step checked
against the same step written out by hand, validation on known generators, and an overfit."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.families.unpaired.networks import build_cyclegan, discriminator_config, generator_config
from gan_pipelines.families.unpaired.tasks import CycleGANTask, effective_identity_weight
from gan_pipelines.models.gan_losses import GANLoss
from gan_pipelines.training.device import FP32
from gan_pipelines.training.engine import StepContext
from gan_pipelines.training.gan import ImageHistoryBuffer


def _images(*values: float) -> torch.Tensor:
    """One constant 1 x 2 x 2 picture per value: easy to tell apart."""
    return torch.stack([torch.full((1, 2, 2), float(v)) for v in values])


def _labels(batch: torch.Tensor) -> list[float]:
    return [float(image[0, 0, 0]) for image in batch]


# ---------------------------------------------------------------------------------------------
# history buffer
# ---------------------------------------------------------------------------------------------


def test_history_buffer_fills_then_swaps_half_the_time_on_a_seeded_case():
    pool = ImageHistoryBuffer(3, seed=0)
    # while it fills: every image is stored and returned, no random draw is made
    assert _labels(pool.query(_images(1, 2))) == [1, 2] and pool.count == 2
    assert _labels(pool.query(_images(3))) == [3] and pool.count == 3
    assert _labels(pool.images) == [1, 2, 3]
    # full: per image, a draw u; u > 0.5 returns the image in a uniformly drawn slot and stores
    # the new one there, else returns the new one. The draws of torch.Generator seeded 0:
    draws = torch.Generator().manual_seed(0)
    u1 = float(torch.rand((), generator=draws))              # 0.4963 -> the new image 4 returned
    u2 = float(torch.rand((), generator=draws))              # 0.7682 -> a swap,
    slot2 = int(torch.randint(0, 3, (), generator=draws))    # in slot 2: image 3 out, 5 in
    u3 = float(torch.rand((), generator=draws))              # 0.1320 -> the new image 6 returned
    assert (round(u1, 4), round(u2, 4), slot2, round(u3, 4)) == (0.4963, 0.7682, 2, 0.132)
    assert _labels(pool.query(_images(4, 5, 6))) == [4, 3, 6]
    assert _labels(pool.images) == [1, 2, 5] and pool.count == 3
    # the same seed and images give the same results; another seed other draws
    again = ImageHistoryBuffer(3, seed=0)
    for batch in (_images(1, 2), _images(3), _images(4, 5, 6)):
        last = again.query(batch)
    assert _labels(last) == [4, 3, 6]
    outputs = []
    for seed in range(6):
        other = ImageHistoryBuffer(1, seed=seed)
        other.query(_images(0))
        outputs.append(tuple(_labels(other.query(_images(*range(1, 9))))))
    assert len(set(outputs)) > 1


def test_history_buffer_state_round_trip_and_pass_through():
    pool = ImageHistoryBuffer(2, seed=5)
    pool.query(_images(1, 2, 3))
    restored = ImageHistoryBuffer(2, seed=99)  # a fresh, empty pool: its state comes from the saved one
    restored.load_state_dict(copy.deepcopy(pool.state_dict()))
    assert restored.count == 2 and torch.equal(restored.images, pool.images)
    for batch in (_images(4, 5, 6, 7), _images(8, 9, 10)):
        assert torch.equal(restored.query(batch), pool.query(batch))
    assert torch.equal(restored.images, pool.images)
    # capacity 0: the batch as it is, nothing stored
    off = ImageHistoryBuffer(0)
    batch = _images(1, 2)
    assert off.query(batch) is batch and off.images.numel() == 0
    with pytest.raises(ValueError, match="one pool serves one image size"):
        pool.query(torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="capacity"):
        ImageHistoryBuffer(-1)


# ---------------------------------------------------------------------------------------------
# losses on known values
# ---------------------------------------------------------------------------------------------


def _task(identity_weight=5.0, pool_size=50, lr=2e-4, seed=0, size=16):
    torch.manual_seed(seed)
    nets = build_cyclegan(generator_config({"ngf": 4, "n_blocks": 1}, size), discriminator_config({"ndf": 4}, size))
    return CycleGANTask({k: nets[k] for k in ("G_AB", "G_BA")}, {k: nets[k] for k in ("D_A", "D_B")},
                        GANLoss("lsgan"), identity_weight=identity_weight, pool_size=pool_size, lr=lr)


def test_identity_weight_conventions():
    assert effective_identity_weight(0.5, 10.0, "times_cycle") == 5.0  # junyanz: lambda_identity x lambda_A
    assert effective_identity_weight(0.5, 10.0, "absolute") == 0.5  # mmagic
    with pytest.raises(ValueError, match="identity_convention must be one of times_cycle, absolute"):
        effective_identity_weight(0.5, 10.0, "reference")


@pytest.mark.parametrize("identity_weight, expected", [(5.0, 7.75), (0.5, 4.6), (0.0, 4.25)])
def test_generator_loss_on_known_values(identity_weight, expected):
    """LSGAN: D_B(fake_B) = 0.5 everywhere -> (0.5 - 1)^2 = 0.25, D_A(fake_A) = 0 -> 1;
    cycle L1 0.1 (A) and 0.2 (B); identity L1 0.3 (A) and 0.4 (B).
    g_loss = 1 x (0.25 + 1) + 10 x (0.1 + 0.2) + w_idt x (0.3 + 0.4)."""
    task = _task(identity_weight)
    a, b = torch.full((2, 3, 4, 4), -0.2), torch.full((2, 3, 4, 4), 0.3)
    outputs = {"fake_B": b, "fake_A": a, "rec_A": a + 0.1, "rec_B": b - 0.2, "idt_A": a + 0.3, "idt_B": b - 0.4}
    terms = task.generator_losses(a, b, outputs, torch.full((2, 1, 3, 3), 0.5), torch.zeros(2, 1, 3, 3))
    assert terms["g_adv_a2b"].item() == pytest.approx(0.25) and terms["g_adv_b2a"].item() == pytest.approx(1.0)
    assert terms["cycle_a"].item() == pytest.approx(0.1) and terms["cycle_b"].item() == pytest.approx(0.2)
    if identity_weight:
        assert terms["identity_a"].item() == pytest.approx(0.3) and terms["identity_b"].item() == pytest.approx(0.4)
    else:
        assert "identity_a" not in terms
    assert terms["g_loss"].item() == pytest.approx(expected, rel=1e-6)


def test_discriminator_loss_is_halved_lsgan():
    """0.5 x ((0.8 - 1)^2 + 0.3^2) = 0.065."""
    task = _task()
    assert task.discriminator_loss(torch.full((1, 1, 2, 2), 0.8), torch.full((1, 1, 2, 2), 0.3)).item() == \
        pytest.approx(0.065)


# ---------------------------------------------------------------------------------------------
# one step, against the same step by hand
# ---------------------------------------------------------------------------------------------


def _step_context(task) -> StepContext:
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    step = StepContext(torch.device("cpu"), FP32, scaler, task.optimizers, None)
    step._training_modules = dict(task.modules)
    return step


def _batch(seed=1, n=2, size=16):
    generator = torch.Generator().manual_seed(seed)
    return {"A": torch.rand(n, 3, size, size, generator=generator) * 2 - 1,
            "B": torch.rand(n, 3, size, size, generator=generator) * 2 - 1}


def test_one_step_combines_the_losses_as_configured(one_thread):
    """The task's G and D losses and updated weights equal those of the reference's step written
    out here: G step on g_loss with D frozen, then one D step on the sum of both halved D losses,
    D seeing the fakes of the same forward pass (the pool returns them while it fills)."""
    task = _task(identity_weight=5.0, lr=1e-3)
    nets = {name: copy.deepcopy(task.modules[name]) for name in ("G_AB", "G_BA", "D_A", "D_B")}
    batch = _batch()
    a, b = batch["A"], batch["B"]

    # by hand
    opt_g = torch.optim.Adam([*nets["G_AB"].parameters(), *nets["G_BA"].parameters()], lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam([*nets["D_A"].parameters(), *nets["D_B"].parameters()], lr=1e-3, betas=(0.5, 0.999))
    fake_b, fake_a = nets["G_AB"](a), nets["G_BA"](b)
    rec_a, rec_b = nets["G_BA"](fake_b), nets["G_AB"](fake_a)
    idt_b, idt_a = nets["G_AB"](b), nets["G_BA"](a)
    d_b_fake, d_a_fake = nets["D_B"](fake_b), nets["D_A"](fake_a)
    g_loss = (((d_b_fake - 1) ** 2).mean() + ((d_a_fake - 1) ** 2).mean()
              + 10 * (F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)) + 5 * (F.l1_loss(idt_a, a) + F.l1_loss(idt_b, b)))
    opt_g.zero_grad()
    g_loss.backward()
    for name in ("D_A", "D_B"):  # the G loss's gradient never reaches the discriminators
        for parameter in nets[name].parameters():
            parameter.grad = None
    opt_g.step()
    d_loss = (0.5 * (((nets["D_A"](a) - 1) ** 2).mean() + (nets["D_A"](fake_a.detach()) ** 2).mean())
              + 0.5 * (((nets["D_B"](b) - 1) ** 2).mean() + (nets["D_B"](fake_b.detach()) ** 2).mean()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    step = _step_context(task)
    step.global_step = 1
    logs = task.train_step(batch, step)
    assert logs["g_loss"].item() == pytest.approx(g_loss.item(), rel=1e-5)
    assert logs["d_loss"].item() == pytest.approx(d_loss.item(), rel=1e-5)
    assert logs["d_loss"].item() == pytest.approx((logs["d_a"] + logs["d_b"]).item())
    for name, net in nets.items():
        for (key, mine), theirs in zip(task.modules[name].state_dict().items(), net.state_dict().values()):
            assert torch.allclose(mine, theirs, atol=1e-6), f"{name}.{key} differs"
    # both pools now hold the two fakes
    assert task.pools.fake_A.count == 2 and torch.allclose(task.pools.fake_A.images[:2], fake_a.detach(), atol=1e-6)


def test_validation_metrics_on_known_generators():
    """Generators that add 0.2 (on [-1, 1]): the cycle adds 0.4 (0.2 on [0, 1]), identity 0.2
    (0.1); loss = 10 x (0.4 + 0.4) + 5 x (0.2 + 0.2) = 10."""

    class Shift(nn.Module):
        def __init__(self):
            super().__init__()
            self.shift = nn.Parameter(torch.tensor(0.2))

        def forward(self, x):
            return x + self.shift

    task = CycleGANTask({"G_AB": Shift(), "G_BA": Shift()}, {"D_A": nn.Conv2d(3, 1, 1), "D_B": nn.Conv2d(3, 1, 1)},
                        GANLoss("lsgan"), identity_weight=5.0)
    batch = {"A": torch.rand(3, 3, 8, 8) - 0.5, "B": torch.rand(3, 3, 8, 8) - 0.5}
    metrics = task.validation_step(batch, _step_context(task))
    assert metrics["cycle_l1_a2b"] == pytest.approx(0.2, abs=1e-6) and metrics["cycle_l1_b2a"] == pytest.approx(0.2, abs=1e-6)
    assert metrics["identity_l1_a2b"] == pytest.approx(0.1, abs=1e-6) and metrics["identity_l1"] == pytest.approx(0.1, abs=1e-6)
    assert metrics["loss"] == pytest.approx(10.0, rel=1e-5)
    grid = task.sample_images(batch)
    assert grid.shape == (6, 3, 8, 24) and 0 <= grid.min() and grid.max() <= 1
    assert torch.allclose(grid[0, :, :, :8], (batch["A"][0] + 1) / 2)  # real A | fake B | rec A
    assert torch.allclose(grid[3, :, :, 16:], (batch["B"][0] + 0.4 + 1) / 2)  # real B | fake A | rec B


def test_hparams_hold_the_loss_weights_and_the_pool():
    task = _task(identity_weight=0.5, pool_size=7)
    assert task.hparams["loss_weights"] == {"adversarial": 1.0, "cycle": 10.0, "identity_effective": 0.5}
    assert task.hparams["pool_size"] == 7 and task.hparams["gan_loss"]["mode"] == "lsgan"
    assert set(task.modules) == {"G_AB", "G_BA", "D_A", "D_B", "history_buffers"}
    with pytest.raises(ValueError, match="cycle_weight must be a finite number >= 0"):
        CycleGANTask(*[{k: v for k, v in task.modules.items() if k in names} for names in (("G_AB", "G_BA"), ("D_A", "D_B"))],
                     GANLoss("lsgan"), cycle_weight=-1)


def test_overfit_a_tiny_batch_cycle_l1_drops(one_thread):
    """Two smooth 16 px pictures per domain, 60 steps: the cycle L1 falls below 30 % of its first
    value (measured: 0.80 -> 0.16), in training and in validation (eval mode, [0, 1] scale)."""
    task = _task(identity_weight=5.0, pool_size=4, lr=2e-3)
    step = _step_context(task)
    generator = torch.Generator().manual_seed(3)
    batch = {domain: F.interpolate(torch.rand(2, 3, 4, 4, generator=generator) * 2 - 1, size=16, mode="bilinear")
             for domain in ("A", "B")}
    first = None
    for index in range(60):
        step.global_step = index + 1
        logs = task.train_step(batch, step)
        cycle = (logs["cycle_a"] + logs["cycle_b"]).item()
        first = cycle if first is None else first
    assert cycle < 0.3 * first, (first, cycle)
    for module in task.modules.values():
        module.eval()
    metrics = task.validation_step(batch, step)
    assert metrics["cycle_l1_a2b"] + metrics["cycle_l1_b2a"] < 0.3 * first / 2
