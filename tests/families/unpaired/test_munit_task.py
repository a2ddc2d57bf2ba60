"""MUNIT in the unpaired family: the builders and size checks (networks.py), and the training
task (tasks.py): the losses on known values, one step against the same step written out by hand
(the reference's order: discriminators, then generators), validation and samples, an overfit."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.families.unpaired.networks import (
    MUNIT_DISCRIMINATOR_DEFAULTS,
    MUNIT_GENERATOR_DEFAULTS,
    build_munit,
    check_munit_size,
    munit_discriminator_config,
    munit_generator_config,
    munit_translators,
)
from gan_pipelines.families.unpaired.tasks import CycleGANTask, MUNITTask
from gan_pipelines.models.gan_losses import GANLoss
from gan_pipelines.models.munit import MUNITAutoencoder, MUNITDiscriminator, MUNITTranslation
from gan_pipelines.training.device import FP32
from gan_pipelines.training.engine import StepContext

# one intra-op thread: tiny convolutions on a shared 2-core machine run faster without OpenMP contention
pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = 16
TINY_G = {"dim": 4, "style_dim": 3, "n_res": 1, "mlp_dim": 8}
TINY_D = {"dim": 4, "n_layers": 2}  # 3 scales of 2 layers: at least 13 px


def _nets(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    return build_munit(munit_generator_config(TINY_G, SIZE), munit_discriminator_config(TINY_D, SIZE))


def _task(seed: int = 0, **kwargs) -> MUNITTask:
    nets = _nets(seed)
    return MUNITTask({k: nets[k] for k in ("G_A", "G_B")}, {k: nets[k] for k in ("D_A", "D_B")}, **kwargs)


def _step_context(task) -> StepContext:
    step = StepContext(torch.device("cpu"), FP32, torch.amp.GradScaler("cpu", enabled=False), task.optimizers, None)
    step._training_modules = dict(task.modules)
    return step


def _batch(seed: int = 1, n: int = 2, size: int = SIZE) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"A": torch.rand(n, 3, size, size, generator=generator) * 2 - 1,
            "B": torch.rand(n, 3, size, size, generator=generator) * 2 - 1}


# ---------------------------------------------------------------------------------------------
# networks.py: builders, translators, size checks
# ---------------------------------------------------------------------------------------------


def test_builders_defaults_and_translators():
    assert {k: MUNIT_GENERATOR_DEFAULTS[k] for k in ("dim", "style_dim", "n_downsample", "n_res", "mlp_dim")} == \
        {"dim": 64, "style_dim": 8, "n_downsample": 2, "n_res": 4, "mlp_dim": 256}
    assert {k: MUNIT_DISCRIMINATOR_DEFAULTS[k] for k in ("dim", "n_layers", "num_scales")} == \
        {"dim": 64, "n_layers": 4, "num_scales": 3}
    assert munit_generator_config({"dim": 8, "n_res": None}, 64)["n_res"] == 4  # None: the default
    nets = _nets()
    assert set(nets) == {"G_A", "G_B", "D_A", "D_B"}
    assert isinstance(nets["G_A"], MUNITAutoencoder) and isinstance(nets["D_B"], MUNITDiscriminator)
    assert nets["D_A"].n_layers == 2 and nets["D_A"].num_scales == 3
    assert set(build_munit(munit_generator_config(TINY_G, SIZE))) == {"G_A", "G_B"}
    translators = munit_translators(nets["G_A"], nets["G_B"])
    assert isinstance(translators["a2b"], MUNITTranslation)
    assert translators["a2b"].source is nets["G_A"] and translators["a2b"].target is nets["G_B"]
    assert translators["b2a"].source is nets["G_B"] and translators["b2a"].target is nets["G_A"]
    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) model.ngf"):
        build_munit({**munit_generator_config(TINY_G, SIZE), "ngf": 4})
    with pytest.raises(ValueError, match=r"model.activ must be one of \['relu', 'lrelu'\]"):
        build_munit(munit_generator_config({**TINY_G, "activ": "gelu"}, SIZE))
    with pytest.raises(ValueError, match="discriminator.num_scales must be a positive integer"):
        build_munit(munit_generator_config(TINY_G, SIZE), munit_discriminator_config({"num_scales": 0}, SIZE))


def test_check_munit_size_names_the_key_to_change():
    generator, discriminator = munit_generator_config({}, 64), munit_discriminator_config({}, 64)
    check_munit_size(64, generator, discriminator, "munit.train")  # 64 >= 61
    with pytest.raises(ValueError, match=r"munit.train.augmentation.crop_size is 62 px: .* multiple of 4"):
        check_munit_size(62, generator, discriminator, "munit.train")
    with pytest.raises(ValueError, match=r"munit.preprocess.resolution is 12 px: .*at least 16 px"):
        check_munit_size(12, generator, {"num_scales": 1, "n_layers": 1}, "munit.train", "munit.preprocess.resolution")
    with pytest.raises(ValueError, match=r"munit.train.discriminator.num_scales is 3 and "
                                         r"munit.train.discriminator.n_layers is 4: .* at least 61 px.*"
                                         r"use munit.train.discriminator.num_scales <= 2 or "
                                         r"munit.train.discriminator.n_layers <= 3"):
        check_munit_size(32, generator, discriminator, "munit.train")
    check_munit_size(32, generator, {**discriminator, "num_scales": 2}, "munit.train")  # 31 px suffice
    with pytest.raises(ValueError, match=r"^discriminator.num_scales is 3"):  # no section: bare keys
        check_munit_size(32, generator, discriminator, "")


# ---------------------------------------------------------------------------------------------
# losses on known values
# ---------------------------------------------------------------------------------------------


def test_generator_loss_on_known_values_each_weight_on_its_term():
    """D_B(x_ab) over two scales = 0.5 and 0 -> (0.5 - 1)^2 + (0 - 1)^2 = 1.25 (summed over the
    scales, as the reference); D_A(x_ba) = 1 and 2 -> 0 + 1 = 1. L1 terms: image 0.1 / 0.2, style
    0.3 / 0.4, content 0.5 / 0.6, cycle 0.7 / 0.8. With weights adversarial 2, image 3, style 5,
    content 7, cycle 11: g_loss = 2 x 2.25 + 3 x 0.3 + 5 x 0.7 + 7 x 1.1 + 11 x 1.5 = 33.1."""
    task = _task(adversarial_weight=2, image_weight=3, style_weight=5, content_weight=7, cycle_weight=11)
    a, b = torch.full((2, 3, 4, 4), -0.2), torch.full((2, 3, 4, 4), 0.3)
    s_a, s_b = torch.randn(2, 3, 1, 1), torch.randn(2, 3, 1, 1)
    c_a, c_b = torch.randn(2, 16, 1, 1), torch.randn(2, 16, 1, 1)
    outputs = {"x_a_recon": a + 0.1, "x_b_recon": b - 0.2, "s_a": s_a, "s_b": s_b, "s_a_recon": s_a + 0.3,
               "s_b_recon": s_b - 0.4, "c_a": c_a, "c_b": c_b, "c_a_recon": c_a + 0.5, "c_b_recon": c_b - 0.6,
               "x_aba": a + 0.7, "x_bab": b - 0.8}
    d_fake_b = [[torch.full((2, 1, 4, 4), 0.5)], [torch.zeros(2, 1, 2, 2)]]
    d_fake_a = [[torch.ones(2, 1, 4, 4)], [torch.full((2, 1, 2, 2), 2.0)]]
    terms = task.generator_losses(a, b, outputs, d_fake_b, d_fake_a)
    expected = {"g_adv_a2b": 1.25, "g_adv_b2a": 1.0, "recon_x_a": 0.1, "recon_x_b": 0.2, "recon_s_a": 0.3,
                "recon_s_b": 0.4, "recon_c_a": 0.5, "recon_c_b": 0.6, "cycle_a": 0.7, "cycle_b": 0.8, "g_loss": 33.1}
    assert set(terms) == set(expected)
    for key, value in expected.items():
        assert terms[key].dtype == torch.float32 and terms[key].item() == pytest.approx(value, rel=1e-5), key
    # without the cycle decodes (weight 0) there are no cycle terms
    without_cycle = {k: v for k, v in outputs.items() if k not in ("x_aba", "x_bab")}
    no_cycle = _task().generator_losses(a, b, without_cycle, d_fake_b, d_fake_a)
    assert "cycle_a" not in no_cycle
    assert no_cycle["g_loss"].item() == pytest.approx(2.25 + 10 * 0.3 + 0.7 + 1.1, rel=1e-5)


def test_discriminator_loss_sums_lsgan_over_scales_not_halved():
    """Real 0.8 and 1.5, fake 0.3 and -0.5 on two scales: (0.3^2 + 0.2^2) + (0.5^2 + 0.5^2) = 0.63."""
    task = _task()
    real = [[torch.full((1, 1, 4, 4), 0.8)], [torch.full((1, 1, 2, 2), 1.5)]]
    fake = [[torch.full((1, 1, 4, 4), 0.3)], [torch.full((1, 1, 2, 2), -0.5)]]
    assert task.discriminator_loss(real, fake).item() == pytest.approx(0.63, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# one step, against the same step by hand
# ---------------------------------------------------------------------------------------------


def _scales(prediction):
    return [scale[-1] for scale in prediction]


def test_one_step_is_the_reference_order_and_losses_written_out():
    """Seeded the same way, the task's step equals: D step first (dis_update, its own random
    styles), then the generator step (gen_update, new random styles, against the updated D) with
    the cycle term on, Adam with weight decay 1e-4 in both; the losses and gradients match, and
    the discriminators' updated weights."""
    task = _task(cycle_weight=10.0, lr=1e-3)
    nets = {name: copy.deepcopy(module) for name, module in task.modules.items()}
    g_a, g_b, d_a, d_b = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]
    batch = _batch()
    a, b = batch["A"], batch["B"]

    def lsgan(prediction, target):
        return sum(((logits - target) ** 2).mean() for logits in _scales(prediction))

    def l1(x, y):
        return (x - y).abs().mean()

    adam = {"lr": 1e-3, "betas": (0.5, 0.999), "weight_decay": 1e-4}
    opt_g = torch.optim.Adam([*g_a.parameters(), *g_b.parameters()], **adam)
    opt_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], **adam)
    torch.manual_seed(123)
    # dis_update
    s_a, s_b = torch.randn(2, 3, 1, 1), torch.randn(2, 3, 1, 1)
    x_ba = g_a.decode(g_b.encode(b)[0], s_a).detach()
    x_ab = g_b.decode(g_a.encode(a)[0], s_b).detach()
    d_loss_a = lsgan(d_a(x_ba), 0) + lsgan(d_a(a), 1)
    d_loss_b = lsgan(d_b(x_ab), 0) + lsgan(d_b(b), 1)
    opt_d.zero_grad()
    (d_loss_a + d_loss_b).backward()
    opt_d.step()
    d_grads = {name: [p.grad.clone() for p in nets[name].parameters()] for name in ("D_A", "D_B")}
    # gen_update
    s_a, s_b = torch.randn(2, 3, 1, 1), torch.randn(2, 3, 1, 1)
    c_a, s_a_prime = g_a.encode(a)
    c_b, s_b_prime = g_b.encode(b)
    x_ba, x_ab = g_a.decode(c_b, s_a), g_b.decode(c_a, s_b)
    c_b_recon, s_a_recon = g_a.encode(x_ba)
    c_a_recon, s_b_recon = g_b.encode(x_ab)
    g_loss = (lsgan(d_a(x_ba), 1) + lsgan(d_b(x_ab), 1)
              + 10 * (l1(g_a.decode(c_a, s_a_prime), a) + l1(g_b.decode(c_b, s_b_prime), b))
              + l1(s_a_recon, s_a) + l1(s_b_recon, s_b) + l1(c_a_recon, c_a) + l1(c_b_recon, c_b)
              + 10 * (l1(g_a.decode(c_a_recon, s_a_prime), a) + l1(g_b.decode(c_b_recon, s_b_prime), b)))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()  # D got gradients too, but only the generator optimiser steps (as the reference)

    torch.manual_seed(123)
    step = _step_context(task)
    logs = task.train_step(batch, step)
    assert logs["d_a"].item() == pytest.approx(d_loss_a.item(), rel=1e-5)
    assert logs["d_loss"].item() == pytest.approx((d_loss_a + d_loss_b).item(), rel=1e-5)
    assert logs["g_loss"].item() == pytest.approx(g_loss.item(), rel=1e-5)
    assert set(logs) == {"g_loss", "g_adv_a2b", "g_adv_b2a", "recon_x_a", "recon_x_b", "recon_s_a", "recon_s_b",
                         "recon_c_a", "recon_c_b", "cycle_a", "cycle_b", "d_loss", "d_a", "d_b"}
    # The discriminators: same gradients and same updated weights.
    for name in ("D_A", "D_B"):
        for (key, mine), grad in zip(task.modules[name].named_parameters(), d_grads[name]):
            assert torch.allclose(mine.grad, grad, atol=1e-6), f"{name}.{key} gradient differs"
        for (key, mine), theirs in zip(task.modules[name].state_dict().items(), nets[name].state_dict().values()):
            assert torch.allclose(mine, theirs, atol=1e-6), f"{name}.{key} differs"
    # The auto-encoders: same gradients. (Their updated weights are not compared: the biases of
    # convolutions followed by IN / AdaIN have a gradient that is zero up to float noise, ~1e-9,
    # which Adam's first step turns into +-lr of either sign.)
    for name in ("G_A", "G_B"):
        for (key, mine), (_, theirs) in zip(task.modules[name].named_parameters(), nets[name].named_parameters()):
            assert torch.allclose(mine.grad, theirs.grad, atol=1e-6, rtol=1e-4), f"{name}.{key} gradient differs"


# ---------------------------------------------------------------------------------------------
# validation, samples, hparams
# ---------------------------------------------------------------------------------------------


def test_validation_has_cyclegans_keys_and_uses_zero_styles_deterministically():
    task = _task(cycle_weight=0.0)
    batch = _batch(n=3)
    a, b = batch["A"], batch["B"]
    state = torch.get_rng_state()
    metrics = task.validation_step(batch, _step_context(task))
    assert torch.equal(torch.get_rng_state(), state)  # no random draw
    assert metrics == task.validation_step(batch, _step_context(task))

    cyclegan = CycleGANTask({"G_AB": nn.Conv2d(3, 3, 1), "G_BA": nn.Conv2d(3, 3, 1)},
                            {"D_A": nn.Conv2d(3, 1, 1), "D_B": nn.Conv2d(3, 1, 1)}, GANLoss("lsgan"))
    assert set(metrics) == set(cyclegan.validation_step(batch, _step_context(cyclegan)))

    g_a, g_b = task.G_A, task.G_B
    zeros = torch.zeros(3, 3, 1, 1)
    with torch.no_grad():
        c_a, s_a_prime = g_a.encode(a)
        c_b, s_b_prime = g_b.encode(b)
        x_ab, x_ba = g_b.decode(c_a, zeros), g_a.decode(c_b, zeros)
        c_a_recon, s_b_recon = g_b.encode(x_ab)
        c_b_recon, s_a_recon = g_a.encode(x_ba)
        x_aba = g_a.decode(c_a_recon, s_a_prime)
        x_b_recon, x_a_recon = g_b.decode(c_b, s_b_prime), g_a.decode(c_a, s_a_prime)
    unit = lambda x: (x.clamp(-1, 1) + 1) / 2  # noqa: E731
    assert metrics["cycle_l1_a2b"] == pytest.approx((unit(x_aba) - unit(a)).abs().mean().item(), rel=1e-5)
    assert metrics["identity_l1_a2b"] == pytest.approx((unit(x_b_recon) - unit(b)).abs().mean().item(), rel=1e-5)
    assert metrics["identity_l1_b2a"] == pytest.approx((unit(x_a_recon) - unit(a)).abs().mean().item(), rel=1e-5)
    assert metrics["identity_l1"] == pytest.approx((metrics["identity_l1_a2b"] + metrics["identity_l1_b2a"]) / 2)
    loss = (10 * (F.l1_loss(x_a_recon, a) + F.l1_loss(x_b_recon, b)) + F.l1_loss(s_a_recon, zeros)
            + F.l1_loss(s_b_recon, zeros) + F.l1_loss(c_a_recon, c_a) + F.l1_loss(c_b_recon, c_b))
    assert metrics["loss"] == pytest.approx(loss.item(), rel=1e-5)  # cycle weight 0: no cycle part


def test_sample_images_rows_and_fixed_styles():
    task = _task()
    batch = _batch(n=3)
    state = torch.get_rng_state()
    grid = task.sample_images(batch)
    assert torch.equal(torch.get_rng_state(), state) and torch.equal(grid, task.sample_images(batch))
    assert grid.shape == (6, 3, SIZE, 5 * SIZE) and 0 <= grid.min() and grid.max() <= 1
    columns = grid.split(SIZE, dim=3)
    with torch.no_grad():
        zero_style = MUNITTranslation(task.G_A, task.G_B)(batch["A"])
        recon_b = task.G_B(batch["B"])
    assert torch.allclose(columns[0][:3], (batch["A"] + 1) / 2)
    assert torch.allclose(columns[1][:3], (zero_style + 1) / 2, atol=1e-6)
    assert torch.allclose(columns[4][3:], (recon_b + 1) / 2, atol=1e-6)
    assert (columns[2] - columns[3]).abs().mean() > 1e-3  # two different random styles


def test_hparams_and_argument_checks():
    task = _task(cycle_weight=10.0)
    assert task.hparams["loss_weights"] == {"adversarial": 1.0, "image": 10.0, "style": 1.0, "content": 1.0,
                                            "cycle": 10.0}
    assert task.hparams["weight_decay"] == 1e-4 and task.hparams["lr"] == 1e-4
    assert task.hparams["step_order"] == "discriminator_then_generator"
    assert all(group["weight_decay"] == 1e-4 for opt in task.optimizers.values() for group in opt.param_groups)
    generators = {k: task.modules[k] for k in ("G_A", "G_B")}
    discriminators = {k: task.modules[k] for k in ("D_A", "D_B")}
    with pytest.raises(ValueError, match="needs generators G_A, G_B and discriminators D_A, D_B"):
        MUNITTask({"G_AB": task.G_A, "G_BA": task.G_B}, discriminators)
    with pytest.raises(ValueError, match="style_weight must be a finite number >= 0"):
        MUNITTask(generators, discriminators, style_weight=-1)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        MUNITTask(generators, discriminators, weight_decay=float("nan"))
    with pytest.raises(ValueError, match="lr must be a number in"):
        MUNITTask(generators, discriminators, lr=0)
    with pytest.raises(ValueError, match="G_A must be a MUNIT auto-encoder"):
        MUNITTask({"G_A": nn.Identity(), "G_B": task.G_B}, discriminators)
    with pytest.raises(ValueError, match=r"may not redefine the task's own settings \['lr'\]"):
        MUNITTask(generators, discriminators, hparams={"lr": 1})


def test_mean_style_share_sets_that_share_of_training_codes_to_zero_and_zero_keeps_the_reference_stream():
    like = torch.zeros(4000, 3, 2, 2)
    reference = _task()
    torch.manual_seed(5)
    expected = MUNITTask.random_styles(reference.G_A, like)
    torch.manual_seed(5)
    assert torch.equal(reference.training_styles(reference.G_A, like), expected)  # p = 0: the paper's draws, untouched
    assert reference.hparams["mean_style_p"] == 0.0
    task = _task(mean_style_p=0.25)
    assert task.hparams["mean_style_p"] == 0.25
    torch.manual_seed(5)
    codes = task.training_styles(task.G_A, like)
    assert codes.shape == (4000, task.G_A.style_dim, 1, 1)
    zero_rows = (codes.flatten(1) == 0).all(dim=1)
    assert 0.22 < zero_rows.float().mean().item() < 0.28  # binomial sd 0.007 around 0.25
    assert torch.equal(codes[~zero_rows], expected[~zero_rows])  # the other rows are the N(0, I) draws
    assert torch.count_nonzero(_task(mean_style_p=1.0).training_styles(task.G_A, like)) == 0
    generators = {k: task.modules[k] for k in ("G_A", "G_B")}
    discriminators = {k: task.modules[k] for k in ("D_A", "D_B")}
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="mean_style_p must be a probability in"):
            MUNITTask(generators, discriminators, mean_style_p=bad)


# ---------------------------------------------------------------------------------------------
# overfit
# ---------------------------------------------------------------------------------------------


def test_overfit_one_couple_image_reconstruction_drops():
    """One smooth 16 px picture per domain, 40 steps at lr 2e-3: the image-reconstruction L1
    (recon_x_a + recon_x_b) falls below 45 % of its first value (measured 1.03 -> 0.28), and
    validation's within-domain reconstruction ([0, 1] scale, so a quarter of that sum) too (0.074)."""
    task = _task(lr=2e-3)
    step = _step_context(task)
    generator = torch.Generator().manual_seed(3)
    batch = {domain: F.interpolate(torch.rand(1, 3, 4, 4, generator=generator) * 2 - 1, size=SIZE, mode="bilinear")
             for domain in ("A", "B")}
    torch.manual_seed(0)
    first = None
    for index in range(40):
        step.global_step = index + 1
        logs = task.train_step(batch, step)
        recon = (logs["recon_x_a"] + logs["recon_x_b"]).item()
        first = recon if first is None else first
    assert recon < 0.45 * first, (first, recon)
    assert task.validation_step(batch, step)["identity_l1"] < 0.45 * first / 4
