"""GANLoss, feature matching and total variation against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from gan_pipelines.models.gan_losses import GANLoss, feature_matching_loss, total_variation_loss


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _logits(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


def _softplus(x: float) -> float:
    return math.log(1.0 + math.exp(x))


# ---------------------------------------------------------------------------------------------
# GANLoss on known logits
# ---------------------------------------------------------------------------------------------

# Logits (0, 2). BCE-with-logits against label t: t * softplus(-x) + (1 - t) * softplus(x).
VANILLA_REAL = (math.log(2.0) + math.log(1.0 + math.exp(-2.0))) / 2  # 0.410038
VANILLA_FAKE = (math.log(2.0) + math.log(1.0 + math.exp(2.0))) / 2  # 1.410038


def test_vanilla_loss_values():
    loss = GANLoss("vanilla")
    x = _logits(0.0, 2.0)
    assert loss(x, True).item() == pytest.approx(VANILLA_REAL, abs=1e-6)
    assert loss(x, False).item() == pytest.approx(VANILLA_FAKE, abs=1e-6)
    # Generator, non-saturating: -log sigmoid(x) = softplus(-x), the same number as D's real term.
    assert loss(x, True, for_discriminator=False).item() == pytest.approx(VANILLA_REAL, abs=1e-6)


def test_vanilla_generator_loss_is_non_saturating():
    # d/dx mean(softplus(-x)) = -(1 - sigmoid(x)) / n: at x = -10 (D sure it is fake) the gradient
    # stays near -1/n instead of vanishing as it would for the saturating log(1 - sigmoid(x)).
    x = _logits(-10.0, 0.0).requires_grad_(True)
    GANLoss("vanilla")(x, True, for_discriminator=False).backward()
    expected = [-(1 - 1 / (1 + math.exp(10.0))) / 2, -0.5 / 2]
    assert x.grad.flatten().tolist() == pytest.approx(expected, abs=1e-6)


def test_lsgan_loss_values():
    loss = GANLoss("lsgan")
    x = _logits(0.0, 2.0)
    assert loss(x, True).item() == pytest.approx(((0 - 1) ** 2 + (2 - 1) ** 2) / 2)  # 1
    assert loss(x, False).item() == pytest.approx((0**2 + 2**2) / 2)  # 2
    assert loss(x, True, for_discriminator=False).item() == pytest.approx(1.0)


def test_hinge_loss_values():
    loss = GANLoss("hinge")
    x = _logits(-0.5, 2.0)
    assert loss(x, True).item() == pytest.approx((1.5 + 0.0) / 2)  # mean relu(1 - x)
    assert loss(x, False).item() == pytest.approx((0.5 + 3.0) / 2)  # mean relu(1 + x)
    assert loss(x, True, for_discriminator=False).item() == pytest.approx(-(-0.5 + 2.0) / 2)  # -mean x


def test_label_smoothing_changes_only_the_discriminator_real_term():
    x = _logits(0.0, 2.0)
    plain, smooth = GANLoss("vanilla"), GANLoss("vanilla", real_label=0.9)
    # 0.9 * softplus(-x) + 0.1 * softplus(x), averaged over x = 0, 2.
    expected = (math.log(2.0) + 0.9 * _softplus(-2.0) + 0.1 * _softplus(2.0)) / 2  # 0.510038
    assert smooth(x, True).item() == pytest.approx(expected, abs=1e-6)
    assert smooth(x, True).item() != pytest.approx(plain(x, True).item(), abs=1e-3)
    assert smooth(x, False).item() == pytest.approx(plain(x, False).item(), abs=1e-7)
    assert smooth(x, True, for_discriminator=False).item() == pytest.approx(VANILLA_REAL, abs=1e-6)

    ls_plain, ls_smooth = GANLoss("lsgan"), GANLoss("lsgan", real_label=0.9)
    assert ls_smooth(x, True).item() == pytest.approx((0.9**2 + 1.1**2) / 2)  # 1.01
    assert ls_smooth(x, False).item() == pytest.approx(ls_plain(x, False).item())
    assert ls_smooth(x, True, for_discriminator=False).item() == pytest.approx(1.0)


def test_fake_label_sets_the_discriminator_fake_target():
    x = _logits(0.0, 2.0)
    assert GANLoss("lsgan", fake_label=-1.0)(x, False).item() == pytest.approx((1**2 + 3**2) / 2)


def test_scales_are_averaged_not_pooled():
    loss = GANLoss("lsgan")
    big, small = _logits(0.0, 2.0), _logits(3.0)  # per-scale real losses 1 and 4
    assert loss([big, small], True).item() == pytest.approx(2.5)  # pooled mean would be 2
    # Feature lists (MultiScaleDiscriminator / return_features): only the last entry counts.
    features = [[torch.full((1, 4, 2, 2), 100.0), big], [torch.full((1, 4, 1, 1), -7.0), small]]
    assert loss(features, True).item() == pytest.approx(2.5)
    assert loss([[torch.zeros(1, 2, 2, 2), big]], True).item() == pytest.approx(1.0)
    hinge = GANLoss("hinge")
    assert hinge([big, small], True, for_discriminator=False).item() == pytest.approx((-1.0 + -3.0) / 2)


def test_float32_result_for_low_precision_inputs_and_under_autocast():
    x = torch.tensor([[0.3, -1.7, 2.5]])
    x_bf16 = x.bfloat16()
    for mode in ("vanilla", "lsgan", "hinge"):
        loss = GANLoss(mode)
        expected = loss(x_bf16.float(), True)
        value = loss(x_bf16, True)
        assert value.dtype == torch.float32
        assert value.item() == pytest.approx(expected.item(), abs=1e-7)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            inside = loss(x_bf16, False)
        assert inside.dtype == torch.float32
        assert inside.item() == pytest.approx(loss(x_bf16.float(), False).item(), abs=1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "wgan"}, "mode must be one of"),
        ({"mode": "hinge", "real_label": 0.9}, "hinge loss has no target labels"),
        ({"mode": "vanilla", "real_label": 1.2}, "fake_label < real_label <= 1"),
        ({"mode": "lsgan", "real_label": 0.0}, "fake_label < real_label <= 1"),
        ({"mode": "vanilla", "fake_label": -0.5}, r"lie in \[0, 1\]"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GANLoss(**kwargs)


def test_bad_calls_raise():
    loss = GANLoss("lsgan")
    with pytest.raises(ValueError, match="aims at real"):
        loss(_logits(1.0), False, for_discriminator=False)
    with pytest.raises(ValueError, match="non-empty list"):
        loss([], True)
    with pytest.raises(ValueError, match=r"prediction\[1\]"):
        loss([_logits(1.0), "logits"], True)


# ---------------------------------------------------------------------------------------------
# Feature matching
# ---------------------------------------------------------------------------------------------


def _one_scale(first: float, second: tuple[float, float], logits: float) -> list[torch.Tensor]:
    return [
        torch.full((1, 1, 2, 2), first),
        torch.tensor(second).view(1, 2, 1, 1),
        torch.full((1, 1, 3, 3), logits),
    ]


def test_feature_matching_single_scale_hand_value():
    real = _one_scale(0.0, (0.0, 0.0), logits=0.0)
    fake = _one_scale(0.5, (1.0, 3.0), logits=50.0)  # logits ignored
    # Two intermediate features -> layer weight 4 / 2 = 2; L1 means 0.5 and 2.
    assert feature_matching_loss(real, fake).item() == pytest.approx(2 * 0.5 + 2 * 2.0)


def test_feature_matching_multi_scale_hand_value_and_gradients():
    real = [_one_scale(0.0, (0.0, 0.0), 0.0), [torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 1, 1)]]
    fake = [_one_scale(0.5, (1.0, 3.0), 9.0), [torch.ones(1, 3, 2, 2), torch.ones(1, 1, 1, 1)]]
    for scale in real:
        for f in scale:
            f.requires_grad_(True)
    for scale in fake:
        for f in scale:
            f.requires_grad_(True)
    loss = feature_matching_loss(real, fake)
    # Scale weight 1 / 2; scale 0: 2 * 0.5 + 2 * 2 = 5; scale 1: one feature, weight 4, L1 1 -> 4.
    assert loss.item() == pytest.approx((5.0 + 4.0) / 2)
    loss.backward()
    assert all(f.grad is None for scale in real for f in scale)  # real is detached
    assert fake[0][0].grad is not None and fake[1][0].grad is not None
    assert fake[0][-1].grad is None  # logits are not matched


def test_feature_matching_is_float32_and_zero_for_equal_features():
    real = [torch.randn(1, 2, 4, 4).bfloat16(), torch.randn(1, 1, 2, 2).bfloat16()]
    loss = feature_matching_loss(real, [f.clone() for f in real])
    assert loss.dtype == torch.float32 and loss.item() == 0.0


def test_feature_matching_rejects_mismatched_or_featureless_inputs():
    real = _one_scale(0.0, (0.0, 0.0), 0.0)
    with pytest.raises(ValueError, match="scales"):
        feature_matching_loss([real, real], [real])
    with pytest.raises(ValueError, match="feature maps"):
        feature_matching_loss(real, real[1:])
    with pytest.raises(ValueError, match="differ in shape"):
        feature_matching_loss(real, [torch.zeros(1, 1, 4, 4), *real[1:]])
    logits_only = [[torch.zeros(1, 1, 3, 3)]]
    with pytest.raises(ValueError, match="return_features=True"):
        feature_matching_loss(logits_only, logits_only)


# ---------------------------------------------------------------------------------------------
# Total variation
# ---------------------------------------------------------------------------------------------


def test_total_variation_hand_value():
    image = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]).view(1, 1, 2, 3)
    # Vertical |2-0|, |2-1|, |2-3| -> mean 4/3; horizontal 1, 2, 0, 0 -> mean 3/4.
    assert total_variation_loss(image).item() == pytest.approx(4 / 3 + 3 / 4)
    assert total_variation_loss(image.half()).dtype == torch.float32


def test_total_variation_is_zero_for_constant_images_and_batch_averaged():
    assert total_variation_loss(torch.full((2, 3, 4, 5), 0.7)).item() == 0.0
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 3, 4)  # horizontal steps of 1
    batch = torch.cat([ramp, torch.zeros_like(ramp)])
    assert total_variation_loss(ramp).item() == pytest.approx(1.0)
    assert total_variation_loss(batch).item() == pytest.approx(0.5)


@pytest.mark.parametrize("shape", [(3, 4, 4), (1, 1, 1, 4), (1, 1, 4, 1)])
def test_total_variation_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="H, W >= 2"):
        total_variation_loss(torch.zeros(shape))
