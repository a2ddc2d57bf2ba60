"""Dice, LSGAN and perceptual losses: hand values, dtype under autocast, agreement with piq."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from gan_pipelines.models import PerceptualLoss, dice_loss


def test_dice_loss_hand_values():
    probs = torch.tensor([[[[1.0, 0.5, 0.0, 0.0]], [[0.0, 0.0, 0.0, 0.0]]]])  # (1, 2, 1, 4)
    target = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0, 0.0]]]])
    # channel 0: 1 - (2 * 1.5 + 1) / (1.5 + 2 + 1) = 1 - 4 / 4.5; channel 1 (both empty): 0
    expected = (1 - 4 / 4.5 + 0.0) / 2
    assert dice_loss(probs, target).item() == pytest.approx(expected)
    assert dice_loss(target, target, eps=1e-6).item() == pytest.approx(0.0, abs=1e-6)
    assert dice_loss(1 - target[:, :1], target[:, :1], eps=1e-6).item() == pytest.approx(1.0, abs=1e-6)


def test_dice_loss_pools_the_batch_and_is_fp32():
    probs = torch.tensor([[[[1.0]]], [[[0.0]]]], dtype=torch.bfloat16)  # (2, 1, 1, 1)
    target = torch.tensor([[[[1.0]]], [[[1.0]]]])
    loss = dice_loss(probs, target, eps=0.0)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(1 - 2 / 3)
    with pytest.raises(ValueError, match="differ in shape"):
        dice_loss(probs, target[:1])


@pytest.fixture(scope="module")
def perceptual() -> PerceptualLoss:
    torch.manual_seed(0)
    return PerceptualLoss(make_layers(cfgs["D"])[:16])


def test_perceptual_zero_for_identical_and_positive_otherwise(perceptual):
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    assert perceptual(image, image.clone()).item() == 0.0
    other = (image + 0.3 * torch.randn_like(image)).clamp(-1, 1)
    assert perceptual(other, image).item() > 0


def test_perceptual_gradient_reaches_prediction_and_extractor_stays_frozen(perceptual):
    prediction = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_()
    perceptual.train()
    assert not perceptual.features.training
    perceptual(prediction, torch.zeros(1, 3, 32, 32)).backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in perceptual.parameters())


def test_perceptual_under_autocast_is_fp32_and_matches(perceptual):
    prediction = torch.rand(2, 3, 32, 32) * 2 - 1
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    plain = perceptual(prediction, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = perceptual(prediction.bfloat16(), target.bfloat16())
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(plain.item(), rel=0.05)  # inputs rounded to bf16 only


def test_perceptual_matches_piq_content_loss(perceptual):
    from piq import ContentLoss

    x01 = torch.rand(2, 3, 32, 32)
    y01 = torch.rand(2, 3, 32, 32)
    piq_loss = ContentLoss(feature_extractor=perceptual.features, layers=("15",), weights=[1.0])
    expected = piq_loss(x01, y01)
    assert perceptual(x01 * 2 - 1, y01 * 2 - 1).item() == pytest.approx(expected.item(), rel=1e-5)
    mean_loss = PerceptualLoss(perceptual.features, reduction="mean")
    assert mean_loss(x01 * 2 - 1, y01 * 2 - 1).item() == pytest.approx(expected.item() / 256, rel=1e-5)


def test_perceptual_rejects_bad_shapes_and_reduction(perceptual):
    with pytest.raises(ValueError, match=r"two \(N, 3, H, W\) images"):
        perceptual(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="reduction must be one of"):
        PerceptualLoss(perceptual.features, reduction="sum")


def test_perceptual_pair_equals_two_separate_calls_with_gradients(perceptual):
    torch.manual_seed(1)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    first = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    second = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    separate = perceptual(first, target) + perceptual(second, target)
    grads = torch.autograd.grad(separate, [first, second])
    paired = perceptual.pair(first, second, target)
    paired_grads = torch.autograd.grad(paired, [first, second])
    torch.testing.assert_close(paired, separate, rtol=1e-5, atol=1e-6)
    for a, b in zip(paired_grads, grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="same shape"):
        perceptual.pair(first, second[:1], target)


def test_perceptual_precision_auto_runs_vgg_at_the_steps_precision(perceptual):
    fast = PerceptualLoss(perceptual.features, precision="auto")
    torch.manual_seed(2)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    prediction = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()

    # Outside autocast "auto" is the fp32 loss to the digit.
    assert fast(prediction, target).item() == perceptual(prediction, target).item()

    conv_dtypes: list[torch.dtype] = []
    hook = perceptual.features[0].register_forward_hook(lambda module, args, out: conv_dtypes.append(out.dtype))
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            exact = perceptual(prediction, target)
            assert conv_dtypes == [torch.float32, torch.float32]  # fp32: autocast is off inside
            conv_dtypes.clear()
            rounded = fast(prediction, target)
            assert conv_dtypes == [torch.bfloat16, torch.bfloat16]  # auto: the step's bf16
    finally:
        hook.remove()
    assert rounded.dtype == torch.float32  # the reduction stays fp32
    assert rounded.item() == pytest.approx(exact.item(), rel=0.03)
    exact_grad, = torch.autograd.grad(exact, prediction)
    rounded_grad, = torch.autograd.grad(rounded, prediction)
    cosine = torch.nn.functional.cosine_similarity(exact_grad.flatten(), rounded_grad.flatten(), dim=0)
    assert cosine.item() > 0.98
    with pytest.raises(ValueError, match="precision must be one of"):
        PerceptualLoss(perceptual.features, precision="bf16")
