"""SPADE / GauGAN networks: the layer keeps the label where InstanceNorm washes it out, spectral
norm, the SPADE discriminator config, KL values, z sampling, sizes, and an overfit check."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.models.discriminators import build_discriminator
from gan_pipelines.models.gan_losses import GANLoss, feature_matching_loss
from gan_pipelines.models.spade import (
    SPADE,
    SPADEGenerator,
    SPADEResBlock,
    StyleEncoder,
    kl_divergence,
    reparameterize,
)

LABEL_NC = 4


def _one_hot(labels: torch.Tensor, classes: int = LABEL_NC) -> torch.Tensor:
    """(N, H, W) int64 -> (N, classes, H, W) float one-hot."""
    return F.one_hot(labels, classes).permute(0, 3, 1, 2).float()


def _constant_segmap(label: int, size: int = 16) -> torch.Tensor:
    return _one_hot(torch.full((1, size, size), label))


def _random_segmap(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return _one_hot(torch.randint(0, LABEL_NC, (batch, height, width), generator=generator))


def _largest_singular_value(conv: nn.Conv2d) -> float:
    weight = conv.weight.detach()  # the normalised weight when spectral norm is registered
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2).item()


# ---------------------------------------------------------------------------------------------
# SPADE layer
# ---------------------------------------------------------------------------------------------


class _SpadeStack(nn.Module):
    """conv(one-hot) -> SPADE(instance norm, modulated by the same map) -> conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(LABEL_NC, 8, 3, padding=1, padding_mode="reflect")
        self.norm = SPADE(8, LABEL_NC, hidden=16, norm="instance")
        self.conv_out = nn.Conv2d(8, 3, 3, padding=1, padding_mode="reflect")

    def forward(self, segmap: torch.Tensor) -> torch.Tensor:
        return self.conv_out(torch.relu(self.norm(self.conv_in(segmap), segmap)))


def _instance_norm_stack() -> nn.Module:
    """The same network with a plain InstanceNorm (what pix2pixHD-style generators do)."""
    return nn.Sequential(
        nn.Conv2d(LABEL_NC, 8, 3, padding=1, padding_mode="reflect"),
        nn.InstanceNorm2d(8, affine=True),
        nn.ReLU(),
        nn.Conv2d(8, 3, 3, padding=1, padding_mode="reflect"),
    )


def _keeps_the_label(network: nn.Module) -> bool:
    """Whether two different uniform (one-class) label maps give different outputs."""
    with torch.no_grad():
        first = network(_constant_segmap(1))
        second = network(_constant_segmap(2))
    return (first - second).abs().max().item() > 1e-3


def test_spade_keeps_a_uniform_label_that_instance_norm_washes_out():
    torch.manual_seed(0)
    # A uniform map makes conv(segmap) constant per channel; InstanceNorm maps that to 0, so
    # every label gives the same output (SPADE paper, section 3.2). SPADE re-injects the label.
    assert not _keeps_the_label(_instance_norm_stack())
    assert _keeps_the_label(_SpadeStack())


def test_spade_layer_formula_and_nearest_resize():
    torch.manual_seed(1)
    layer = SPADE(3, LABEL_NC, hidden=5, norm="instance")
    x = torch.randn(2, 3, 8, 8)
    segmap = _random_segmap(2, 4, 4)
    out = layer(x, segmap)
    resized = segmap.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # nearest x2
    hidden = layer.shared(resized)
    expected = F.instance_norm(x) * (1 + layer.gamma(hidden)) + layer.beta(hidden)
    torch.testing.assert_close(out, expected)
    assert isinstance(SPADE(3, LABEL_NC).param_free_norm, nn.BatchNorm2d)
    assert not SPADE(3, LABEL_NC).param_free_norm.affine
    with pytest.raises(ValueError, match="segmap of shape"):
        layer(x, segmap[:1])
    with pytest.raises(ValueError, match="norm must be one of"):
        SPADE(3, LABEL_NC, norm="group")
    with pytest.raises(ValueError, match="hidden"):
        SPADE(3, LABEL_NC, hidden=0)


def test_res_block_shortcut_and_widths():
    same = SPADEResBlock(8, 8, LABEL_NC, hidden=4)
    assert not same.learned_shortcut and len(same.block_convs()) == 2
    narrowing = SPADEResBlock(8, 4, LABEL_NC, hidden=4, spectral_norm=False)
    assert narrowing.learned_shortcut
    assert narrowing.conv_0.out_channels == 4 and narrowing.conv_shortcut.kernel_size == (1, 1)
    assert narrowing.conv_shortcut.bias is None
    out = narrowing(torch.randn(2, 8, 8, 8), _random_segmap(2, 16, 16))
    assert out.shape == (2, 4, 8, 8)


def test_spectral_norm_keeps_the_largest_singular_value_near_one():
    torch.manual_seed(2)
    block = SPADEResBlock(8, 4, LABEL_NC, hidden=4, norm="instance", spectral_norm=True).train()
    with torch.no_grad():
        for conv in block.block_convs():  # move the raw weights far from unit norm
            conv.parametrizations.weight.original.mul_(5.0)
    raw = [torch.linalg.matrix_norm(c.parametrizations.weight.original.reshape(c.out_channels, -1), ord=2).item()
           for c in block.block_convs()]
    assert min(raw) > 2.0, raw  # 1 is not the raw weights' value by chance
    with torch.no_grad():
        for _ in range(30):  # one power iteration per training forward pass
            block(torch.randn(2, 8, 8, 8), _random_segmap(2, 8, 8))
    block.eval()
    sigmas = [_largest_singular_value(c) for c in block.block_convs()]
    # The power-iteration estimate is a lower bound of sigma, so the normalised value is >= 1.
    assert len(sigmas) == 3 and all(0.999 <= s <= 1.02 for s in sigmas), sigmas

    generator = SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=2, spade_hidden=4).train()
    with torch.no_grad():
        for _ in range(30):
            generator(_random_segmap(2, 16, 16))
    generator.eval()
    convs = [c for b in generator.blocks for c in b.block_convs()]
    raw = [torch.linalg.matrix_norm(c.parametrizations.weight.original.reshape(c.out_channels, -1), ord=2).item()
           for c in convs]
    assert max(raw) < 0.1, raw  # Glorot with gain 0.02: far below 1 without the normalisation
    sigmas = [_largest_singular_value(c) for c in convs]
    # Tiny random convs can have two close top singular values: the power iteration converges slower.
    assert len(sigmas) == 18 and all(0.999 <= s <= 1.05 for s in sigmas), sigmas

    encoder = StyleEncoder(16, ndf=4, z_dim=8, n_downsampling=2).train()
    with torch.no_grad():
        for _ in range(30):
            encoder(torch.randn(2, 3, 16, 16))
    encoder.eval()
    sigmas = [_largest_singular_value(c) for c in encoder.convs if isinstance(c, nn.Conv2d)]
    assert len(sigmas) == 2 and all(0.999 <= s <= 1.02 for s in sigmas), sigmas


# ---------------------------------------------------------------------------------------------
# The SPADE discriminator: the shared multi-scale PatchGAN
# ---------------------------------------------------------------------------------------------


def _spade_discriminator():
    return build_discriminator({
        "type": "multiscale",
        "num_D": 2,
        "discriminator": {"type": "patchgan", "in_channels": LABEL_NC + 3, "ndf": 4, "n_layers": 3,
                          "norm": "instance", "spectral_norm": True, "return_features": True},
    })


def test_spade_discriminator_config_features_per_scale_and_feature_matching():
    torch.manual_seed(3)
    discriminator = _spade_discriminator()
    first = discriminator.discriminators[0]
    assert isinstance(first.blocks[1][1], nn.InstanceNorm2d)
    assert "blocks.0.0.parametrizations.weight.original" in first.state_dict()
    segmap = _random_segmap(2, 64, 64)
    real = torch.cat([segmap, torch.rand(2, 3, 64, 64) * 2 - 1], dim=1)
    fake = torch.cat([segmap, torch.rand(2, 3, 64, 64) * 2 - 1], dim=1)
    # In train mode each forward pass runs one power iteration, so two passes see slightly
    # different weights: run D once on the concatenated batch, as the SPADE reference does.
    outputs = discriminator(torch.cat([real, real.clone(), fake], dim=0))
    real_out, same_out, fake_out = ([[f[i:i + 2] for f in scale] for scale in outputs] for i in (0, 2, 4))
    assert [len(scale) for scale in real_out] == [5, 5]  # 4 intermediate maps + logits per scale
    assert [tuple(scale[-1].shape) for scale in real_out] == [(2, 1, 6, 6), (2, 1, 2, 2)]
    assert feature_matching_loss(real_out, same_out).item() == 0.0
    assert feature_matching_loss(real_out, fake_out).item() > 0.0
    discriminator.eval()  # the stored estimate: separate passes agree
    assert feature_matching_loss(discriminator(real), discriminator(real.clone())).item() == 0.0
    hinge = GANLoss("hinge")
    assert hinge(fake_out, True, for_discriminator=False).ndim == 0


# ---------------------------------------------------------------------------------------------
# KL term and z
# ---------------------------------------------------------------------------------------------


def test_kl_divergence_known_values():
    zeros = torch.zeros(3, 8)
    assert kl_divergence(zeros, zeros).item() == 0.0
    # One element with mu = 1, logvar = 0: -0.5 * (1 + 0 - 1 - 1) = 0.5. Another with mu = 0,
    # logvar = log 2: -0.5 * (1 + log 2 - 0 - 2) = 0.5 * (1 - log 2). The rest contribute 0.
    mu = torch.zeros(2, 3)
    logvar = torch.zeros(2, 3)
    mu[0, 1] = 1.0
    logvar[1, 2] = math.log(2.0)
    expected = 0.5 + 0.5 * (1 - math.log(2.0))
    assert kl_divergence(mu, logvar).item() == pytest.approx(expected, rel=1e-6)
    # Summed, not averaged: a batch twice as large with the same rows doubles the value.
    assert kl_divergence(mu.repeat(2, 1), logvar.repeat(2, 1)).item() == pytest.approx(2 * expected, rel=1e-6)
    assert kl_divergence(mu.half(), logvar.half()).dtype == torch.float32
    with pytest.raises(ValueError, match="differ in shape"):
        kl_divergence(mu, logvar[:1])


def test_reparameterize_is_reproducible_and_has_the_right_moments():
    mu = torch.full((4000, 2), 3.0)
    logvar = torch.full((4000, 2), math.log(4.0))  # std 2
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.equal(z, reparameterize(mu, logvar, torch.Generator().manual_seed(0)))
    assert z.mean().item() == pytest.approx(3.0, abs=0.1)
    assert z.std().item() == pytest.approx(2.0, abs=0.1)
    assert torch.equal(reparameterize(mu, torch.full_like(mu, -1e4)), mu)  # zero variance -> mu


def _vae_generator() -> SPADEGenerator:
    torch.manual_seed(4)
    return SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=3, spade_hidden=4, use_vae=True, z_dim=8,
                          image_size=16, init_gain=None).eval()


def test_vae_generator_z_sampling_and_fixed_z():
    generator = _vae_generator()
    segmap = _random_segmap(2, 16, 16)
    with torch.no_grad():
        first, second = generator(segmap), generator(segmap)
        assert (first - second).abs().max().item() > 1e-3  # a new z each call
        z = torch.randn(2, 8)
        assert torch.equal(generator(segmap, z), generator(segmap, z))
        seeded = [generator(segmap, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
        assert torch.equal(*seeded)
        assert generator.fc.in_features == 8 and generator.fc.out_features == 32 * 2 * 2


@pytest.mark.parametrize("shape", [(2, 7), (8,), (1, 8), (2, 8, 1)])
def test_vae_generator_refuses_a_wrong_z_shape(shape):
    with pytest.raises(ValueError, match=r"z must have shape \(N, z_dim\) = \(2, 8\)"):
        _vae_generator()(_random_segmap(2, 16, 16), torch.randn(*shape))


def test_generator_without_vae_refuses_z_and_vae_needs_image_size():
    generator = SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=2, spade_hidden=4)
    with pytest.raises(ValueError, match="without use_vae"):
        generator(_random_segmap(1, 8, 8), torch.randn(1, 256))
    with pytest.raises(ValueError, match="needs image_size"):
        SPADEGenerator(LABEL_NC, use_vae=True)
    with pytest.raises(ValueError, match="built for image_size 16x16"):
        _vae_generator()(_random_segmap(1, 32, 32))


def test_style_encoder_shapes_and_size_checks():
    encoder = StyleEncoder((32, 64), ndf=4, z_dim=8, n_downsampling=3)
    widths = [c.out_channels for c in encoder.convs if isinstance(c, nn.Conv2d)]
    assert widths == [4, 8, 16]
    assert StyleEncoder(256, ndf=64, n_downsampling=6, spectral_norm=False).fc_mu.in_features == 512 * 4 * 4
    mu, logvar = encoder(torch.randn(2, 3, 32, 64))
    assert mu.shape == logvar.shape == (2, 8)
    with pytest.raises(ValueError, match="built for image_size 32x64"):
        encoder(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="multiples of 2\\*\\*n_downsampling = 8"):
        StyleEncoder(36, n_downsampling=3)
    with pytest.raises(ValueError, match="leaves a 1x1 map"):
        StyleEncoder(64, n_downsampling=6)


# ---------------------------------------------------------------------------------------------
# Generator widths and sizes
# ---------------------------------------------------------------------------------------------


def test_reference_widths_and_upsampling_count():
    generator = SPADEGenerator(LABEL_NC, ngf=64, spectral_norm=False, init_gain=None)
    assert [b.conv_1.out_channels for b in generator.blocks] == [1024, 1024, 1024, 512, 256, 128, 64]
    assert generator.blocks[0].norm_0.shared[0].out_channels == 128
    assert generator.size_multiple == 32
    most = SPADEGenerator(LABEL_NC, ngf=4, num_upsampling_layers=7, spectral_norm=False)
    assert [b.conv_1.out_channels for b in most.blocks][-2:] == [4, 2]


@pytest.mark.parametrize("ups", [1, 2, 3, 4, 5, 6, 7])
def test_upsamplings_reach_the_input_size(ups):
    generator = SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=ups, spade_hidden=4, norm="instance")
    side = 2 ** (ups + 1)
    with torch.no_grad():
        assert generator(_random_segmap(1, side, 2 * side)).shape == (1, 3, side, 2 * side)


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (64, 128)])
def test_generator_output_shapes(size):
    generator = SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=4, spade_hidden=4)
    with torch.no_grad():
        out = generator(_random_segmap(2, *size))
    assert out.shape == (2, 3, *size)
    assert out.abs().max().item() <= 1.0


def test_vae_generator_non_square_output():
    generator = SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=4, spade_hidden=4, use_vae=True,
                               z_dim=8, image_size=(64, 128))
    with torch.no_grad():
        assert generator(_random_segmap(2, 64, 128)).shape == (2, 3, 64, 128)


def test_size_not_a_multiple_names_size_and_multiple():
    generator = SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=4, spade_hidden=4)
    with pytest.raises(ValueError, match=r"input 40x64: .* multiples of 2\*\*num_upsampling_layers = 16"):
        generator(_random_segmap(1, 40, 64))
    with pytest.raises(ValueError, match=r"image_size 40x40: .* multiples of .* = 16"):
        SPADEGenerator(LABEL_NC, ngf=2, num_upsampling_layers=4, use_vae=True, image_size=40)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_upsampling_layers": 0}, "num_upsampling_layers"),
        ({"num_upsampling_layers": 8}, "num_upsampling_layers"),
        ({"ngf": 0}, "ngf"),
        ({"ngf": 1, "num_upsampling_layers": 7}, "ngf must be >= 2"),
        ({"norm": "none"}, "norm must be one of"),
        ({"spade_hidden": -1}, "hidden"),
        ({"init_gain": 0}, "init_gain"),
        ({"use_vae": "yes"}, "use_vae"),
        ({"image_size": (16,)}, "image_size"),
    ],
)
def test_generator_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SPADEGenerator(LABEL_NC, **kwargs)


def test_glorot_init_with_the_reference_gain():
    generator = SPADEGenerator(LABEL_NC, ngf=4, num_upsampling_layers=2, spade_hidden=8, spectral_norm=False)
    weight = generator.conv_img.weight
    fan_in, fan_out = weight.shape[1] * 9, weight.shape[0] * 9
    expected_std = 0.02 * math.sqrt(2.0 / (fan_in + fan_out))
    assert weight.std().item() == pytest.approx(expected_std, rel=0.5)
    assert torch.count_nonzero(generator.conv_img.bias) == 0


# ---------------------------------------------------------------------------------------------
# Overfit one tiny batch
# ---------------------------------------------------------------------------------------------


def _overfit(
    generator: nn.Module, segmap: torch.Tensor, target: torch.Tensor, steps: int, **call
) -> tuple[float, float]:
    optimiser = torch.optim.Adam(generator.parameters(), lr=5e-3, betas=(0.5, 0.999))
    generator.train()
    with torch.no_grad():
        start = F.l1_loss(generator(segmap, **call), target).item()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = F.l1_loss(generator(segmap, **call), target)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        end = F.l1_loss(generator(segmap, **call), target).item()
    return start, end


def _paired_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 32 px label maps and targets that colour each class its own way."""
    segmap = _random_segmap(2, 32, 32, seed=5)
    palette = torch.tensor([[-0.8, 0.5, 0.2], [0.7, -0.6, 0.1], [0.1, 0.9, -0.7], [-0.3, -0.2, 0.8]])
    target = torch.einsum("nkhw,kc->nchw", segmap, palette)
    return segmap, target


def test_generator_overfits_one_batch(one_thread):
    torch.manual_seed(6)
    segmap, target = _paired_batch()
    generator = SPADEGenerator(LABEL_NC, ngf=4, num_upsampling_layers=3, spade_hidden=16)
    # The reference's Glorot gain 0.02 starts every output near 0 and learns slowly at first.
    start, end = _overfit(generator, segmap, target, steps=120)
    assert end < start / 3, (start, end)


def test_vae_generator_overfits_one_batch_with_a_fixed_z(one_thread):
    torch.manual_seed(7)
    segmap, target = _paired_batch()
    generator = SPADEGenerator(LABEL_NC, ngf=4, num_upsampling_layers=3, spade_hidden=16, use_vae=True, z_dim=8,
                               image_size=32)
    start, end = _overfit(generator, segmap, target, steps=120, z=torch.randn(2, 8))
    assert end < start / 3, (start, end)
