"""U-GAT-IT's networks (gan_pipelines.models.ugatit): AdaLIN / LIN on hand-worked tensors, rho
clipping, the CAM head on known weights, the generator's sizes and parameter counts, and the
discriminator's depth limits."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan_pipelines.models import count_parameters
from gan_pipelines.models.ugatit import (
    LIN,
    AdaLIN,
    UGATITDiscriminator,
    UGATITGenerator,
    class_activation_map,
    clip_rho_,
)

# Two channels of one 2x2 picture, chosen for round statistics (worked out by hand):
#   channel 0 [[1, 2], [3, 6]]: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5
#   channel 1 [[0, 0], [4, 4]]: mean 2, biased variance 4
#   all eight values:           mean 2.5, biased variance 32 / 8 = 4 (unbiased: 32 / 7)
X = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]], [[0.0, 0.0], [4.0, 4.0]]]])
IN_X = torch.tensor([[[[-2.0, -1.0], [0.0, 3.0]]]]) / math.sqrt(3.5)
IN_X = torch.cat([IN_X, torch.tensor([[[[-1.0, -1.0], [1.0, 1.0]]]])], dim=1)  # channel 1: (x - 2) / 2
LN_X = (X - 2.5) / 2.0


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs networks: one intra-op thread keeps them fast on the shared CPU."""
    yield


def _adalin(rho: float, channels: int = 2) -> AdaLIN:
    norm = AdaLIN(channels, eps=0.0)
    with torch.no_grad():
        norm.rho.fill_(rho)
    return norm


def test_adalin_on_a_hand_worked_tensor():
    ones, zeros = torch.ones(1, 2), torch.zeros(1, 2)
    assert torch.allclose(_adalin(1.0)(X, ones, zeros), IN_X, atol=1e-6)  # rho 1: instance norm
    assert torch.allclose(_adalin(0.0)(X, ones, zeros), LN_X, atol=1e-6)  # rho 0: layer norm
    # a mix, then the per-picture affine map (gamma, beta per channel)
    gamma, beta = torch.tensor([[2.0, -1.0]]), torch.tensor([[0.5, 3.0]])
    expected = (0.25 * IN_X + 0.75 * LN_X) * gamma[:, :, None, None] + beta[:, :, None, None]
    assert torch.allclose(_adalin(0.25)(X, gamma, beta), expected, atol=1e-6)
    # the layer part used the BIASED variance: 4, not 32 / 7
    assert float(_adalin(0.0)(X, ones, zeros)[0, 0, 1, 1].detach()) == pytest.approx((6.0 - 2.5) / 2.0)
    # the default rho and a shape error
    assert torch.all(AdaLIN(3).rho == 0.9) and AdaLIN(3).rho.shape == (1, 3, 1, 1)
    with pytest.raises(ValueError, match=r"gamma and beta of shape \(1, 2\)"):
        _adalin(0.5)(X, torch.ones(1, 3), zeros)


def test_the_variance_is_spatial_not_a_variance_of_row_variances():
    """Channel 1 [[0, 0], [4, 4]]: its spatial variance is 4, but the public port's
    var(var(x, dim=2), dim=3) is 0 (both columns have the same variance), which would blow the
    channel up by 1 / sqrt(eps)."""
    port_variance = torch.var(torch.var(X, dim=2, keepdim=True), dim=3, keepdim=True)
    assert float(port_variance[0, 1]) == 0.0
    assert float(X[0, 1].var(unbiased=False)) == 4.0
    out = AdaLIN(2)(X, torch.ones(1, 2), torch.zeros(1, 2))  # rho 0.9, eps 1e-5
    assert out.abs().max() < 2.0  # normalised by the spatial spread: bounded
    # equals torch's own biased norms on a random tensor (rho 1 / rho 0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 5, 6, generator=generator) * 3 + 1
    ones, zeros = torch.ones(3, 4), torch.zeros(3, 4)
    norm = AdaLIN(4)
    with torch.no_grad():
        norm.rho.fill_(1.0)
    assert torch.allclose(norm(x, ones, zeros), F.instance_norm(x, eps=1e-5), atol=1e-5)
    with torch.no_grad():
        norm.rho.fill_(0.0)
    assert torch.allclose(norm(x, ones, zeros), F.layer_norm(x, x.shape[1:], eps=1e-5), atol=1e-5)


def test_lin_starts_as_layer_norm_and_learns_its_affine_map():
    norm = LIN(2, eps=0.0)
    assert float(norm.rho.detach().sum()) == 0.0 and torch.all(norm.gamma == 1) and torch.all(norm.beta == 0)
    assert torch.allclose(norm(X), LN_X, atol=1e-6)
    with torch.no_grad():
        norm.rho.fill_(1.0)
        norm.gamma.copy_(torch.tensor([3.0, 0.5]).view(1, 2, 1, 1))
        norm.beta.copy_(torch.tensor([-1.0, 2.0]).view(1, 2, 1, 1))
    expected = IN_X * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1) + torch.tensor([-1.0, 2.0]).view(1, 2, 1, 1)
    assert torch.allclose(norm(X), expected, atol=1e-6)


def test_norms_keep_the_input_dtype_and_compute_in_float32():
    x16 = X.to(torch.bfloat16)
    out = _adalin(1.0)(x16, torch.ones(1, 2), torch.zeros(1, 2))
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), IN_X, atol=2e-2)


def test_clip_rho_clamps_every_adalin_and_lin_into_the_unit_interval():
    generator = UGATITGenerator(ngf=2, n_blocks=2, image_size=16, light=True)
    norms = [m for m in generator.modules() if isinstance(m, (AdaLIN, LIN))]
    assert len(norms) == 2 * 2 + 2  # two AdaLIN per decoder block, one LIN per up-sampling step
    with torch.no_grad():
        for index, norm in enumerate(norms):
            norm.rho.fill_(1.7 if index % 2 else -0.3)
    gamma_before = norms[-1].gamma.detach().clone()
    assert clip_rho_(generator) is generator
    for index, norm in enumerate(norms):
        assert torch.all(norm.rho == (1.0 if index % 2 else 0.0))
    assert torch.equal(norms[-1].gamma, gamma_before)  # only rho is touched
    inside = AdaLIN(2)
    with torch.no_grad():
        inside.rho.copy_(torch.tensor([0.3, 0.6]).view(1, 2, 1, 1))
    clip_rho_(inside)
    assert torch.allclose(inside.rho.flatten(), torch.tensor([0.3, 0.6]))
    with pytest.raises(ValueError, match="low <= high"):
        clip_rho_(inside, 1.0, 0.0)


# ---------------------------------------------------------------------------------------------
# CAM
# ---------------------------------------------------------------------------------------------


def test_class_activation_map_on_hand_values():
    """Channel 0 [1, 3], channel 1 [-2, 4]: means (2, 1), maxima (3, 4).
    gap weight (1, -1): 2 - 1 = 1; gmp weight (0.5, 2): 1.5 + 8 = 9.5."""
    features = torch.tensor([[[[1.0, 3.0]], [[-2.0, 4.0]]]])
    w_gap, w_gmp = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, 2.0]])
    weighted, cam_logit = class_activation_map(features, w_gap, w_gmp)
    assert cam_logit.tolist() == [[1.0, 9.5]]
    assert weighted.shape == (1, 4, 1, 2)
    assert weighted[0, :, 0].tolist() == [[1.0, 3.0], [2.0, -4.0], [0.5, 1.5], [-4.0, 8.0]]


def test_generator_cam_head_with_set_weights():
    torch.manual_seed(0)
    generator = UGATITGenerator(ngf=2, n_blocks=1, image_size=16, light=True)  # C = 8
    w_gap = torch.linspace(-1, 1, 8).view(1, 8)
    w_gmp = torch.arange(8.0).view(1, 8) / 10
    with torch.no_grad():
        generator.gap_fc.weight.copy_(w_gap)
        generator.gmp_fc.weight.copy_(w_gmp)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    image, cam_logit, heatmap = generator.forward_with_attention(x)
    features = generator.encode(x)
    assert features.shape == (2, 8, 4, 4)
    expected = torch.stack([(features.mean(dim=(2, 3)) * w_gap).sum(1),
                            (features.amax(dim=(2, 3)) * w_gmp).sum(1)], dim=1)
    assert torch.allclose(cam_logit, expected, atol=1e-6)
    weighted = torch.cat([features * w_gap.view(1, 8, 1, 1), features * w_gmp.view(1, 8, 1, 1)], dim=1)
    assert torch.allclose(heatmap, F.relu(generator.conv1x1(weighted)).sum(1, keepdim=True), atol=1e-6)
    assert image.shape == (2, 3, 16, 16) and image.abs().max() <= 1
    assert torch.equal(generator(x), image)  # forward: the picture only
    assert all(torch.equal(a, b) for a, b in zip(generator(x, return_attention=True), (image, cam_logit, heatmap)))


def test_discriminator_cam_uses_the_spectrally_normalised_weight():
    """A (1, C) weight's spectral norm is its Euclidean norm, so after a training pass the
    CAM weight is w / |w| and the logits are (w / |w|) . mean / max of the features."""
    torch.manual_seed(0)
    discriminator = UGATITDiscriminator(ndf=2, n_layers=3)  # C = 4
    x = torch.rand(2, 3, 16, 16)
    patch, cam_logit, heatmap = discriminator(x)
    assert patch.shape == (2, 1, 6, 6) and cam_logit.shape == (2, 2) and heatmap.shape == (2, 1, 7, 7)
    w_gap = discriminator.gap_fc.parametrizations.weight.original.detach()
    w_gmp = discriminator.gmp_fc.parametrizations.weight.original.detach()
    features = discriminator.features(x)
    expected = torch.stack([features.mean(dim=(2, 3)) @ (w_gap / w_gap.norm())[0],
                            features.amax(dim=(2, 3)) @ (w_gmp / w_gmp.norm())[0]], dim=1)
    assert torch.allclose(cam_logit, expected, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Generator sizes and parameter counts
# ---------------------------------------------------------------------------------------------


def _expected_generator_parameters(ngf: int, n_blocks: int, size: int, light: bool) -> int:
    """The count worked out layer by layer (3 -> 3 channels, C = 4 ngf), independently of the code."""
    c = 4 * ngf
    encoder = 3 * ngf * 49 + ngf * 2 * ngf * 9 + 2 * ngf * c * 9 + n_blocks * 2 * c * c * 9
    cam = 2 * c + 2 * c * c + c  # gap_fc, gmp_fc (no bias), conv1x1 with bias
    dense = c * c if light else (size // 4) ** 2 * c * c
    mlp = dense + c * c + 2 * c * c  # + second linear, gamma, beta (no biases)
    decoder = n_blocks * (2 * c * c * 9 + 2 * c)  # AdaLIN blocks: two convs, two rho
    up = c * (c // 2) * 9 + (c // 2) * (c // 4) * 9 + 3 * (c // 2) + 3 * (c // 4) + ngf * 3 * 49
    return encoder + cam + mlp + decoder + up


def test_dense_layer_size_formula_matches_built_models():
    assert UGATITGenerator.dense_weights(64, 256) == 268_435_456
    assert UGATITGenerator.dense_weights(64, 128) == 67_108_864
    assert UGATITGenerator.dense_weights(64, 256, light=True) == 65_536
    for ngf, size, light in ((2, 16, False), (3, 24, False), (2, 16, True)):
        generator = UGATITGenerator(ngf=ngf, n_blocks=1, image_size=size, light=light)
        assert generator.mlp[0].weight.numel() == UGATITGenerator.dense_weights(ngf, size, light)
        assert count_parameters(generator) == _expected_generator_parameters(ngf, 1, size, light)


@pytest.mark.parametrize("size, light, expected", [
    (64, True, 10_589_888), (128, True, 10_589_888), (256, True, 10_589_888),
    (64, False, 27_301_568), (128, False, 77_633_216), (256, False, 278_959_808),
])
def test_parameter_counts_at_ngf_64(size, light, expected):
    """Counted on the meta device (nothing allocated; the 256 px full model is 1.1 GB)."""
    with torch.device("meta"):
        generator = UGATITGenerator(ngf=64, n_blocks=4, image_size=size, light=light)
    assert count_parameters(generator) == expected == _expected_generator_parameters(64, 4, size, light)


def test_generator_input_sizes():
    full = UGATITGenerator(ngf=2, n_blocks=1, image_size=16)
    assert full(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"takes only 16x16 images .*image_size=16.*got 24x24"):
        full(torch.zeros(1, 3, 24, 24))
    light = UGATITGenerator(ngf=2, n_blocks=1, image_size=16, light=True)
    assert light(torch.zeros(1, 3, 24, 32)).shape == (1, 3, 24, 32)
    with pytest.raises(ValueError, match="multiples of 4 of at least 8 px, got 18x16"):
        light(torch.zeros(1, 3, 18, 16))
    with pytest.raises(ValueError, match="got 4x4"):
        light(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="image_size must be a multiple of 4"):
        UGATITGenerator(image_size=30)
    with pytest.raises(ValueError, match="ngf must be a positive integer"):
        UGATITGenerator(ngf=0)


# ---------------------------------------------------------------------------------------------
# Discriminator depth
# ---------------------------------------------------------------------------------------------


def test_discriminator_output_sizes_and_deepest_layers():
    # the reference at 256 px: global 7 layers -> 6x6 patches, local 5 -> 30x30
    assert UGATITDiscriminator.output_size(256, 7) == 6 and UGATITDiscriminator.output_size(256, 5) == 30
    assert UGATITDiscriminator.output_size(64, 7) == 0  # the reference's global D vanishes at 64 px
    assert {size: UGATITDiscriminator.deepest_layers(size) for size in (5, 6, 8, 16, 32, 64, 128, 256)} == \
        {5: 0, 6: 3, 8: 3, 16: 4, 32: 5, 64: 6, 128: 7, 256: 8}
    x = torch.zeros(1, 3, 32, 32)
    for n_layers, side in ((3, 14), (4, 6), (5, 2)):
        discriminator = UGATITDiscriminator(ndf=2, n_layers=n_layers)
        patch, cam_logit, heatmap = discriminator(x)
        assert patch.shape[-1] == side == UGATITDiscriminator.output_size(32, n_layers)
        assert heatmap.shape[-1] == side + 1 and discriminator.channels == 2 * 2 ** (n_layers - 2)
    with pytest.raises(ValueError, match=r"n_layers is 6: .* needs at least 48 px .* use n_layers <= 5"):
        UGATITDiscriminator(ndf=2, n_layers=6)(x)
    with pytest.raises(ValueError, match="n_layers must be an integer >= 3"):
        UGATITDiscriminator(n_layers=2)


def test_discriminator_spectral_norm_sits_where_the_reference_puts_it():
    from torch.nn.utils import parametrize

    discriminator = UGATITDiscriminator(ndf=2, n_layers=4)
    convs = [m for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    normalised = [parametrize.is_parametrized(m, "weight") for m in convs]
    # 3 feature convs and the output conv are SN; the CAM's 1x1 conv is not
    assert normalised == [True, True, True, False, True]
    assert parametrize.is_parametrized(discriminator.gap_fc, "weight")
    assert discriminator.classifier[1].bias is None and discriminator.conv1x1.bias is not None


def test_generator_exports_to_onnx_as_a_plain_image_to_image_model():
    """forward(x) -> picture: one input, one output; the light model keeps H and W dynamic."""
    import io
    import warnings

    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    generator = UGATITGenerator(ngf=2, n_blocks=1, image_size=16, light=True).eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(generator, (torch.zeros(1, 3, 16, 16),), buffer, dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}})
    graph = onnx.load_from_string(buffer.getvalue()).graph
    assert [i.name for i in graph.input] == ["x"] and [o.name for o in graph.output] == ["y"]
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for shape in ((1, 3, 16, 16), (2, 3, 24, 32)):
        x = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            expected = generator(x).numpy()
        assert abs(session.run(None, {"x": x.numpy()})[0] - expected).max() < 1e-4
