"""The soft Dice term of the segmentation task on hand-worked cases."""

import math

import pytest
import torch

from gan_pipelines.training.segmentation import SegmentationTask, soft_dice_loss


def _logits(probs):
    return torch.log(torch.tensor(probs, dtype=torch.float32))


def test_dice_of_a_perfect_and_a_half_right_prediction():
    target = torch.tensor([[[0, 1]]])  # one image, 1 x 2 pixels
    confident = torch.full((1, 2, 1, 2), -30.0)
    confident[0, 0, 0, 0] = confident[0, 1, 0, 1] = 30.0
    assert soft_dice_loss(confident, target).item() == pytest.approx(0.0, abs=1e-6)
    # softmax 0.5 / 0.5 everywhere: per class 2 * 0.5 / (1 + 1) with +1 smoothing: (1 + 1) / (2 + 1)
    even = torch.zeros((1, 2, 1, 2))
    assert soft_dice_loss(even, target).item() == pytest.approx(1 - 2 / 3, abs=1e-6)


def test_dice_leaves_out_ignored_pixels():
    target = torch.tensor([[[0, 255]]])
    logits = torch.full((1, 2, 1, 2), -30.0)
    logits[0, 0, 0, 0] = 30.0
    logits[0, 1, 0, 1] = 30.0  # wrong there, but the pixel is don't-care
    assert soft_dice_loss(logits, target, ignore_index=255).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_dice_loss(logits, torch.tensor([[[0, 0]]])).item() > 0.2


def test_the_task_adds_the_weighted_dice_term():
    class Step:
        def autocast(self):
            import contextlib
            return contextlib.nullcontext()

        def module(self, name):
            return net

        def backward_and_step(self, loss, name):
            self.loss = loss.item()

    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 2, 1)
    batch = {"image": torch.randn(2, 3, 4, 4), "target": torch.randint(0, 2, (2, 1, 4, 4))}
    step = Step()
    out = SegmentationTask(net, 2, 1e-3, dice_weight=0.5).train_step(batch, step)
    assert step.loss == pytest.approx(out["ce"].item() + 0.5 * out["dice"].item(), rel=1e-6)
    plain = SegmentationTask(net, 2, 1e-3).train_step(batch, step)
    assert "dice" not in plain and step.loss == pytest.approx(plain["ce"].item())
    with pytest.raises(ValueError, match="dice_weight"):
        SegmentationTask(net, 2, 1e-3, dice_weight=-1)
    assert not math.isnan(out["dice"].item())


def test_batchnorm_recalibration_waits_for_its_start_epoch(monkeypatch):
    import contextlib

    class Step:
        def __init__(self, epoch):
            self.epoch = epoch

        def autocast(self):
            return contextlib.nullcontext()

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.BatchNorm2d(2))
    task = SegmentationTask(net, 2, 1e-3, calibration_batches=lambda: [], calibration_start_epoch=3)
    calls = []
    monkeypatch.setattr(task, "_recalibrate", lambda step: calls.append(step.epoch))
    batch = {"image": torch.randn(2, 3, 4, 4), "target": torch.randint(0, 2, (2, 1, 4, 4))}
    for epoch in (1, 2, 3):
        task.validation_step(batch, Step(epoch))
    assert calls == [3]
