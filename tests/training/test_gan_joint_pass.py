"""The joint discriminator pass (SPADE's way of scoring real and fake): D runs ONCE on
cat([fake, real]); for a D without spectral norm or batch statistics it gives exactly the split
result; with spectral norm the two separate calls see different power-iterated weights; and the
task's ``generate`` hook hands extra tensors to the extra losses."""

import copy

import pytest
import torch
from torch import nn

from gan_pipelines.models.discriminators import build_discriminator
from gan_pipelines.models.gan_losses import GANLoss
from gan_pipelines.training import StepContext
from gan_pipelines.training.device import select_precision
from gan_pipelines.training.gan import PairedGANTask, discriminate, discriminator_step, split_batch

CPU = torch.device("cpu")


class Counting(nn.Module):
    """Wraps a discriminator and counts its forward calls and the batch sizes it saw."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.batches: list[int] = []

    def forward(self, x):
        self.batches.append(x.shape[0])
        return self.inner(x)


def _multiscale(spectral_norm: bool, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_discriminator({"type": "multiscale", "num_D": 2, "discriminator": {
        "type": "patchgan", "in_channels": 6, "ndf": 8, "n_layers": 2, "norm": "instance",
        "spectral_norm": spectral_norm, "return_features": True}})


def _step(optimizers, modules, global_step=1) -> StepContext:
    step = StepContext(CPU, select_precision(CPU, "fp32"), torch.amp.GradScaler("cpu", enabled=False), optimizers, None)
    step._training_modules = dict(modules)
    step.global_step = global_step
    return step


def _pairs(n_real=3, n_fake=3, size=32):
    torch.manual_seed(1)
    return torch.randn(n_real, 6, size, size), torch.randn(n_fake, 6, size, size)


def _flat(output):
    return [t for scale in output for t in scale]


def test_split_batch_keeps_the_nested_structure():
    output = [[torch.arange(10.0).view(5, 2), torch.zeros(5, 1, 2, 2)], [torch.ones(5, 3)]]
    first, second = split_batch(output, 2)
    assert [[t.shape[0] for t in scale] for scale in first] == [[2, 2], [2]]
    assert [[t.shape[0] for t in scale] for scale in second] == [[3, 3], [3]]
    assert torch.equal(first[0][0], output[0][0][:2]) and torch.equal(second[0][0], output[0][0][2:])
    with pytest.raises(ValueError, match="cannot split"):
        split_batch(torch.zeros(2, 3), 2)
    with pytest.raises(ValueError, match="Tensor or \\(nested\\) lists"):
        split_batch({"a": torch.zeros(3)}, 1)


def test_joint_pass_calls_d_once_and_equals_the_split_for_a_d_without_spectral_norm():
    real, fake = _pairs(n_real=3, n_fake=2)
    d = Counting(_multiscale(spectral_norm=False)).train()
    split_real, split_fake = discriminate(d, real, fake, joint=False)
    assert d.batches == [3, 2]
    joint_real, joint_fake = discriminate(d, real, fake, joint=True)
    assert d.batches == [3, 2, 5]  # one call on the 5 samples, fakes first
    for a, b in zip(_flat(split_real) + _flat(split_fake), _flat(joint_real) + _flat(joint_fake)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        discriminate(d, real, fake[:, :, :16, :16], joint=True)


def test_spectral_norm_separate_calls_see_different_weights_the_joint_call_one():
    real, _ = _pairs()
    d = _multiscale(spectral_norm=True).train()
    # the same input twice: separate calls differ (a power iteration in between), a joint call does not
    first, second = discriminate(d, real, real.clone(), joint=False)
    assert not torch.allclose(first[0][-1], second[0][-1], atol=0, rtol=0)
    first, second = discriminate(d, real, real.clone(), joint=True)
    for a, b in zip(_flat(first), _flat(second)):
        torch.testing.assert_close(a, b)


def test_discriminator_step_joint_equals_split_and_runs_d_once():
    real, fake = _pairs()
    losses = {}
    for joint in (False, True):
        d = Counting(_multiscale(spectral_norm=False))
        optimizer = torch.optim.SGD(d.parameters(), lr=0.1)
        step = _step({"discriminator": optimizer}, {"discriminator": d})
        losses[joint] = discriminator_step(step, d, GANLoss("hinge"), real, fake, joint=joint)
        assert d.batches == ([6] if joint else [3, 3])
        losses[joint]["weight"] = next(d.parameters()).detach().clone()
    for key in ("d_real", "d_fake", "d_loss", "weight"):
        torch.testing.assert_close(losses[True][key], losses[False][key], rtol=1e-5, atol=1e-6)


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(0.5))

    def forward(self, x):
        return torch.tanh(self.weight * x)


def test_task_train_step_with_the_joint_pass_matches_the_split_one():
    real_batch = {"input": torch.rand(2, 3, 32, 32) * 2 - 1, "target": torch.rand(2, 3, 32, 32) * 2 - 1}
    logs, weights = {}, {}
    for joint in (False, True):
        d = Counting(_multiscale(spectral_norm=False))
        g = Scale()
        # lr_discriminator 0: Adam's first step is lr * sign(grad), which would turn float rounding
        # of near-zero gradients into different D weights for the generator pass compared here
        task = PairedGANTask(g, d, GANLoss("hinge"), feature_matching_weight=10.0, joint_discriminator_pass=joint,
                             lr_discriminator=0.0)
        step = _step(task.optimizers, task.modules)
        logs[joint] = task.train_step(dict(real_batch), step)
        # D step (1 joint or 2 split calls), then the generator pass (1 joint or 2 split calls)
        assert d.batches == ([4, 4] if joint else [2, 2, 2, 2])
        weights[joint] = g.weight.detach().clone()
    assert task.hparams["joint_discriminator_pass"] is True
    for key in ("g_loss", "g_adv", "g_fm", "d_loss"):
        torch.testing.assert_close(logs[True][key], logs[False][key], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights[True], weights[False])
    with pytest.raises(ValueError, match="joint_discriminator_pass must be True or False"):
        PairedGANTask(Scale(), _multiscale(False), GANLoss(), joint_discriminator_pass="yes")


def test_generate_hook_hands_its_tensors_to_the_extra_losses():
    seen = {}

    def extra(fake, target, batch):
        seen["code"] = batch["code"]
        return batch["code"].pow(2).mean()

    class CodeTask(PairedGANTask):
        def generate(self, generator, condition, batch):
            code = generator.weight * torch.ones(condition.shape[0], 4)
            return generator(condition), {"code": code}

    task = CodeTask(Scale(), copy.deepcopy(_multiscale(False)), GANLoss("lsgan"), extra_losses={"code": (2.0, extra)},
                    conditional=False, input_key="input", target_key="target")
    batch = {"input": torch.rand(2, 6, 32, 32), "target": torch.rand(2, 6, 32, 32)}
    logs = task.train_step(batch, _step(task.optimizers, task.modules))
    assert seen["code"].shape == (2, 4) and torch.isclose(logs["code"], torch.tensor(0.25))
    metrics = task.validation_step(batch, _step(task.optimizers, task.modules))
    assert metrics["loss"] == pytest.approx(2.0 * task.generator.weight.item() ** 2, rel=1e-5)
