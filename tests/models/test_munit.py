"""MUNIT's networks (gan_pipelines.models.munit): AdaIN and the decoder's LayerNorm on hand-worked
tensors, the MLP -> AdaIN parameter layout, style sampling and example-guided translation, the
multi-scale discriminator's scales and refusals, the initialisation, and the parameter counts at
the reference's widths."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.models import count_parameters
from gan_pipelines.models.discriminators import MultiScaleDiscriminator
from gan_pipelines.models.munit import (
    AdaptiveInstanceNorm2d,
    LayerNorm,
    MUNITAutoencoder,
    MUNITDiscriminator,
    MUNITTranslation,
    count_breakdown,
)

# one intra-op thread: tiny convolutions on a shared 2-core machine run faster without OpenMP contention
pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"dim": 4, "style_dim": 3, "n_res": 1, "mlp_dim": 8}


def _pair(seed: int = 0) -> tuple[MUNITAutoencoder, MUNITAutoencoder]:
    torch.manual_seed(seed)
    return MUNITAutoencoder(**TINY), MUNITAutoencoder(**TINY)


def _pictures(n: int = 2, size: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ---------------------------------------------------------------------------------------------
# AdaIN and LayerNorm on hand-worked tensors
# ---------------------------------------------------------------------------------------------


def test_adain_normalises_each_sample_and_channel_then_applies_its_own_weight_and_bias():
    """Sample 0 channel 0 = [1, 2, 3, 4]: mean 2.5, biased variance 1.25, so the normalised
    values are (-1.5, -0.5, 0.5, 1.5) / sqrt(1.25 + 1e-5) = +-1.34164, +-0.44721; channel 1 =
    [0, 0, 0, 2]: mean 0.5, variance 0.75 -> (-0.57735 x 3, 1.73205). Sample 1 holds the same
    pictures times 10 plus 7 (same normalised values). Each (sample, channel) gets its own
    weight and bias."""
    x0 = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 2.0]]])
    x = torch.stack([x0, x0 * 10 + 7])
    weight = torch.tensor([[2.0, 1.0], [-1.0, 0.5]])
    bias = torch.tensor([[0.0, 1.0], [3.0, -2.0]])
    out = AdaptiveInstanceNorm2d(2)(x, weight, bias)
    a, b = 1.5 / math.sqrt(1.25 + 1e-5), 0.5 / math.sqrt(1.25 + 1e-5)
    c, d = 0.5 / math.sqrt(0.75 + 1e-5), 1.5 / math.sqrt(0.75 + 1e-5)
    ch0 = torch.tensor([[-a, -b], [b, a]])
    ch1 = torch.tensor([[-c, -c], [-c, d]])
    expected = torch.stack([torch.stack([2 * ch0 + 0, 1 * ch1 + 1]), torch.stack([-1 * ch0 + 3, 0.5 * ch1 - 2])])
    # sample 1's statistics are 10x larger: the eps weighs less there; compare loosely enough
    assert torch.allclose(out[0], expected[0], atol=1e-6)
    assert torch.allclose(out[1], expected[1], atol=1e-5)
    # the reference's formulation: batch_norm over an (1, N*C, H, W) view with training statistics
    reference = F.batch_norm(x.reshape(1, 4, 2, 2), None, None, weight.reshape(-1), bias.reshape(-1), True,
                             0.1, 1e-5).reshape(2, 2, 2, 2)
    assert torch.allclose(out, reference, atol=1e-6)
    with pytest.raises(ValueError, match=r"AdaptiveInstanceNorm2d\(2\) expects"):
        AdaptiveInstanceNorm2d(2)(x, weight[:, :1], bias)


def test_decoder_layernorm_uses_the_unbiased_std_of_each_sample_and_a_per_channel_affine():
    """Sample 0 = channels [1, 2] and [3, 6]: mean 3, unbiased std sqrt(14 / 3) = 2.160247;
    (x - 3) / (std + 1e-5), then gamma (2, 0.5) and beta (0.1, -0.1) per channel. Sample 1 has
    its own statistics (mean 0, std sqrt(2 / 3) for [-1, 0, 0, 1])."""
    norm = LayerNorm(2)
    assert norm.gamma.shape == (2,) and 0 <= norm.gamma.min() and norm.gamma.max() < 1  # U(0, 1), the reference's
    assert torch.equal(norm.beta, torch.zeros(2))
    with torch.no_grad():
        norm.gamma.copy_(torch.tensor([2.0, 0.5]))
        norm.beta.copy_(torch.tensor([0.1, -0.1]))
    x = torch.tensor([[[[1.0, 2.0]], [[3.0, 6.0]]], [[[-1.0, 0.0]], [[0.0, 1.0]]]])  # (2, 2, 1, 2)
    out = norm(x)
    std0, std1 = math.sqrt(14 / 3) + 1e-5, math.sqrt(2 / 3) + 1e-5
    expected = torch.tensor([
        [[[2 * -2 / std0 + 0.1, 2 * -1 / std0 + 0.1]], [[0.5 * 0 / std0 - 0.1, 0.5 * 3 / std0 - 0.1]]],
        [[[2 * -1 / std1 + 0.1, 0.1]], [[-0.1, 0.5 * 1 / std1 - 0.1]]],
    ])
    assert torch.allclose(out, expected, atol=1e-6)
    # not torch's LayerNorm (biased variance inside the square root)
    assert not torch.allclose(out[0, 0], 2 * F.layer_norm(x[0], x[0].shape)[0] + 0.1, atol=1e-3)


def test_the_mlp_output_feeds_each_adain_layer_its_bias_then_weight_per_sample():
    """The reference's layout of the MLP output: per AdaIN layer, C biases then C weights. The
    hooks see, for each sample, exactly those slices of mlp(style) of that sample."""
    g, _ = _pair()
    channels = 4 * TINY["dim"]
    assert g.decoder.num_adain_params == 2 * 2 * channels * TINY["n_res"]
    seen = {}

    def keep(name):
        def hook(module, args, output):
            seen[name] = (args[1].detach(), args[2].detach())
        return hook

    block = g.decoder.res_blocks[0]
    block.norm1.register_forward_hook(keep("norm1"))
    block.norm2.register_forward_hook(keep("norm2"))
    content, _ = g.encode(_pictures())
    styles = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    with torch.no_grad():
        g.decode(content, styles)
        params = g.mlp(styles)
    assert torch.equal(seen["norm1"][1], params[:, :channels])  # the bias: first C values
    assert torch.equal(seen["norm1"][0], params[:, channels:2 * channels])  # the weight: next C
    assert torch.equal(seen["norm2"][1], params[:, 2 * channels:3 * channels])
    assert torch.equal(seen["norm2"][0], params[:, 3 * channels:])
    assert not torch.equal(params[0], params[1])  # one set per sample


# ---------------------------------------------------------------------------------------------
# Auto-encoder, style sampling, example-guided translation
# ---------------------------------------------------------------------------------------------


def test_autoencoder_shapes_and_size_refusals():
    g, _ = _pair()
    pictures = torch.rand(2, 3, 16, 32) * 2 - 1  # not square: fully convolutional
    with torch.no_grad():
        content, style = g.encode(pictures)
        assert content.shape == (2, 4 * TINY["dim"], 4, 8) and style.shape == (2, TINY["style_dim"], 1, 1)
        recon = g(pictures)
        assert recon.shape == pictures.shape and recon.abs().max() <= 1
        assert torch.equal(recon, g.decode(content, style))
        assert torch.equal(g(pictures, mode="content"), content)
        assert torch.equal(g(content, style.flatten(1), mode="decode"), recon)  # (N, style_dim) codes too
    assert (g.min_size, g.min_content_size, g.size_multiple, g.n_downsampling) == (16, 8, 4, 2)
    with pytest.raises(ValueError, match="content encoder needs .* multiples of 4"):
        g.encode(torch.zeros(1, 3, 18, 20))
    with pytest.raises(ValueError, match="content encoder needs .* at least 8 px"):
        g.encode(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="style encoder needs at least 16 px"):
        g.encode(torch.zeros(1, 3, 12, 12))
    # a translation runs the content encoder only: 8 px pictures are fine, their style code is not
    a2b = MUNITTranslation(g, g)
    with torch.no_grad():
        assert a2b(torch.zeros(1, 3, 8, 12)).shape == (1, 3, 8, 12) and a2b.n_downsampling == 2
    with pytest.raises(ValueError, match="style encoder needs at least 16 px"):
        a2b.style_of(torch.zeros(1, 3, 8, 12))
    with pytest.raises(ValueError, match=r"style codes must be \(N, 3\)"):
        g.decode(content, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="2 content codes but 1 style codes"):
        g.decode(content, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        g(pictures, mode="translate")
    with pytest.raises(ValueError, match="pad_type must be one of"):
        MUNITAutoencoder(pad_type="circular")


def test_style_sampling_same_code_same_output_other_code_other_output_zeros_by_default():
    g_a, g_b = _pair()
    a2b = MUNITTranslation(g_a, g_b)
    pictures = _pictures()
    with torch.no_grad():
        torch.manual_seed(5)
        first = a2b(pictures, torch.randn(2, TINY["style_dim"]))
        torch.manual_seed(5)
        again = a2b(pictures, torch.randn(2, TINY["style_dim"]))
        other = a2b(pictures, torch.randn(2, TINY["style_dim"]))
        default = a2b(pictures)
        zeros = a2b(pictures, torch.zeros(2, TINY["style_dim"], 1, 1))
    assert torch.equal(first, again)
    assert (first - other).abs().mean() > 0.05  # measured 0.27 at this seed
    assert torch.equal(default, zeros)  # None: the prior's mean
    assert a2b.style_dim == TINY["style_dim"]
    assert {key.split(".")[0] for key in a2b.state_dict()} == {"source", "target"}


def test_example_guided_translation_uses_the_target_pictures_style_code():
    g_a, g_b = _pair()
    a2b = MUNITTranslation(g_a, g_b)
    sources, targets = _pictures(seed=1), _pictures(seed=2)
    with torch.no_grad():
        codes = a2b.style_of(targets)
        assert codes.shape == (2, TINY["style_dim"], 1, 1) and torch.equal(codes, g_b.encode(targets)[1])
        guided = a2b(sources, codes)
        by_hand = g_b.decode(g_a.encode(sources)[0], g_b.encode(targets)[1])
    assert torch.equal(guided, by_hand)
    # the other direction decodes with A's decoder
    with torch.no_grad():
        assert torch.equal(MUNITTranslation(g_b, g_a)(targets), g_a.decode(g_b.encode(targets)[0], torch.zeros(2, 3)))


# ---------------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------------


def test_discriminator_scales_sizes_avg_pool_and_refusal():
    torch.manual_seed(0)
    d = MUNITDiscriminator(dim=2, n_layers=4, num_scales=3)
    assert isinstance(d, MultiScaleDiscriminator) and len(d.discriminators) == 3
    assert MUNITDiscriminator.min_input_size(4, 3) == 61 and MUNITDiscriminator.min_input_size(2, 3) == 13
    assert MUNITDiscriminator.output_sizes(64, 64) == [(4, 4), (2, 2), (1, 1)]
    x = torch.rand(2, 3, 61, 64) * 2 - 1  # the smallest height; ceil halvings 61 -> 31 -> 16
    with torch.no_grad():
        out = d(x)
        assert [tuple(scale[-1].shape) for scale in out] == [(2, 1, 3, 4), (2, 1, 1, 2), (2, 1, 1, 1)]
        # scale 1 sees the picture average-pooled 3x3 / 2 / pad 1 without counting the padding
        pooled = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        assert torch.allclose(out[1][0], d.discriminators[1](pooled), atol=1e-6)
        assert torch.allclose(out[2][0], d.discriminators[2](F.avg_pool2d(pooled, 3, 2, 1, count_include_pad=False)),
                              atol=1e-6)
    with pytest.raises(ValueError, match=r"too small for num_scales=3 and n_layers=4 \(at least 61 px"):
        d(torch.zeros(1, 3, 60, 64))
    with pytest.raises(ValueError, match="lower num_scales or n_layers"):
        d(torch.zeros(1, 3, 64, 32))
    layers = list(d.discriminators[0].modules())
    assert not any(isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)) for m in layers)  # no norm
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in layers) == 4
    assert all(m.negative_slope == 0.2 for m in layers if isinstance(m, nn.LeakyReLU))


# ---------------------------------------------------------------------------------------------
# Reference widths: parameter counts and initialisation
# ---------------------------------------------------------------------------------------------


def test_reference_widths_parameter_counts_and_init():
    """edges2shoes settings. The counts equal those of NVlabs/MUNIT's AdaINGen / MsImageDis
    (measured by building the reference's networks.py). Worked out:

    - MLP 8 -> 256 -> 256 -> 4096 (= 2 AdaIN x 2 x 256 channels x 4 blocks): 2,304 + 65,792 +
      1,052,672 = 1,120,768;
    - one D scale: 4x4 convs 3 -> 64 -> 128 -> 256 -> 512 (with biases) and 1x1 512 -> 1:
      3,136 + 131,200 + 524,544 + 2,097,664 + 513 = 2,757,057; three scales 8,271,171.
    """
    torch.manual_seed(0)
    g, d = MUNITAutoencoder(), MUNITDiscriminator()
    assert count_breakdown(g) == {"content_encoder": 5_385_856, "style_encoder": 2_764_936, "mlp": 1_120_768,
                                  "decoder": 5_754_627}
    assert count_parameters(g) == 15_026_187
    assert g.decoder.num_adain_params == 4096
    assert count_parameters(d) == 3 * 2_757_057 == 8_271_171
    # init: the reference's kaiming (fan_in, a=0) for the auto-encoder, N(0, 0.02) for D, biases 0
    conv = g.decoder.upsample[1][1]  # the first 5x5 conv, 256 -> 128
    assert conv.kernel_size == (5, 5)
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (256 * 25)), rel=0.03)
    linear = g.mlp.model[-1]
    assert linear.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.03)
    assert all(m.bias.abs().max() == 0 for m in g.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    d_conv = d.discriminators[0].model[3][1]
    assert d_conv.weight.std().item() == pytest.approx(0.02, rel=0.03)
    assert all(m.bias.abs().max() == 0 for m in d.modules() if isinstance(m, nn.Conv2d))
