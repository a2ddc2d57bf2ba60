"""Discriminators: checkpoint compatibility, receptive field, patch sizes, spectral norm,
multi-scale pyramid and config errors, with values rather than shapes where possible."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.models.discriminators import (
    MultiScaleDiscriminator,
    NLayerPatchDiscriminator,
    SRGANPatchDiscriminator,
    build_discriminator,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _largest_singular_value(conv: nn.Conv2d) -> float:
    weight = conv.weight.detach()
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2).item()


# ---------------------------------------------------------------------------------------------
# SRGANPatchDiscriminator: drop-in for the former PatchDiscriminator
# ---------------------------------------------------------------------------------------------


class _LegacyLayout(nn.Module):
    """The layer list of the former ``PatchDiscriminator`` (the layout its checkpoints hold):
    per block conv3x3 s1 [BN] LReLU conv3x3 s2 BN LReLU, widths base * (1, 2, 4, 8), conv -> 1."""

    def __init__(self, in_channels: int, base: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = in_channels
        for index, width in enumerate(base * m for m in (1, 2, 4, 8)):
            layers.append(nn.Conv2d(width_in, width, 3, 1, 1))
            if index:
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
            width_in = width
        layers.append(nn.Conv2d(width_in, 1, 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _randomise_batch_norm(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.5, 0.5)


def test_srgan_loads_a_legacy_state_dict_and_gives_identical_outputs():
    legacy = _LegacyLayout(in_channels=4, base=8)
    _randomise_batch_norm(legacy)
    state = legacy.state_dict()
    model = SRGANPatchDiscriminator(in_channels=4, base_channels=8)
    assert list(model.state_dict()) == list(state)
    assert [v.shape for v in model.state_dict().values()] == [v.shape for v in state.values()]
    model.load_state_dict(state, strict=True)
    x = torch.randn(2, 4, 32, 48)
    legacy.eval(), model.eval()
    assert torch.equal(model(x), legacy(x))
    legacy.train(), model.train()
    assert torch.equal(model(x), legacy(x))


def test_srgan_reference_layout_and_errors():
    model = SRGANPatchDiscriminator()
    convs = _convs(model)
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512, 1]
    assert [c.stride[0] for c in convs] == [1, 2] * 4 + [1]
    assert SRGANPatchDiscriminator(base_channels=4)(torch.zeros(1, 3, 64, 96)).shape == (1, 1, 4, 6)
    with pytest.raises(ValueError, match="divisible by 16"):
        SRGANPatchDiscriminator(base_channels=4)(torch.zeros(1, 3, 70, 64))
    with pytest.raises(ValueError, match=r"expects \(N, 3, H, W\)"):
        SRGANPatchDiscriminator(base_channels=4)(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="must be positive"):
        SRGANPatchDiscriminator(base_channels=0)
    with pytest.raises(ValueError, match="norm must be one of"):
        SRGANPatchDiscriminator(norm="layer")


def test_srgan_receptive_field_measured_by_gradient():
    model = SRGANPatchDiscriminator(in_channels=1, base_channels=4, norm="none").eval()
    x = torch.randn(1, 1, 192, 192, requires_grad=True)
    model(x)[0, 0, 6, 6].backward()
    touched = x.grad[0, 0] != 0
    rows = touched.any(dim=1).nonzero().flatten()
    cols = touched.any(dim=0).nonzero().flatten()
    side = SRGANPatchDiscriminator.receptive_field()
    assert side == 93
    assert (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)) == (side, side)


def test_srgan_norm_options():
    instance = SRGANPatchDiscriminator(base_channels=4, norm="instance")
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in instance.modules()) == 7
    assert not any(isinstance(m, nn.BatchNorm2d) for m in instance.modules())
    plain = SRGANPatchDiscriminator(base_channels=4, norm="none").train()
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in plain.modules())
    # Without batch norm a sample's score does not depend on the rest of the batch (train mode).
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(plain(x)[:1], plain(x[:1]), atol=1e-6)
        batch = SRGANPatchDiscriminator(base_channels=4).train()
        assert not torch.allclose(batch(x)[:1], batch(x[:1]), atol=1e-3)


def test_srgan_features_end_with_the_logits():
    model = SRGANPatchDiscriminator(base_channels=4).eval()
    x = torch.randn(2, 3, 32, 32)
    logits = model(x)
    model.return_features = True
    features = model(x)
    shapes = [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4), (2, 32, 2, 2), (2, 1, 2, 2)]
    assert [tuple(f.shape) for f in features] == shapes
    assert torch.equal(features[-1], logits)
    # The first feature is the first block's output (after its second LeakyReLU).
    first_block = model.model[:5]
    assert torch.equal(features[0], first_block(x))


# ---------------------------------------------------------------------------------------------
# NLayerPatchDiscriminator (pix2pix PatchGAN)
# ---------------------------------------------------------------------------------------------


def _measured_receptive_field(n_layers: int, size: int) -> tuple[int, int]:
    model = NLayerPatchDiscriminator(in_channels=1, ndf=4, n_layers=n_layers, norm="none").eval()
    x = torch.randn(1, 1, size, size, requires_grad=True)
    out = model(x)
    row, col = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, 0, row, col].backward()
    touched = x.grad[0, 0] != 0
    rows = touched.any(dim=1).nonzero().flatten()
    cols = touched.any(dim=0).nonzero().flatten()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("n_layers, size", [(1, 48), (2, 64), (3, 128)])
def test_receptive_field_measured_by_gradient_matches_formula(n_layers, size):
    measured = _measured_receptive_field(n_layers, size)
    assert measured == (NLayerPatchDiscriminator.receptive_field(n_layers),) * 2


def test_70x70_patchgan():
    assert NLayerPatchDiscriminator.receptive_field(3) == 70
    assert _measured_receptive_field(3, 128) == (70, 70)
    assert NLayerPatchDiscriminator.output_size(256, 256) == (30, 30)
    assert NLayerPatchDiscriminator(ndf=2)(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)


@pytest.mark.parametrize("n_layers, height, width", [(3, 24, 24), (3, 64, 100), (2, 37, 50), (1, 16, 9)])
def test_output_size_formula_matches_the_network(n_layers, height, width):
    model = NLayerPatchDiscriminator(ndf=2, n_layers=n_layers, norm="none")
    out = model(torch.zeros(1, 3, height, width))
    assert tuple(out.shape[-2:]) == NLayerPatchDiscriminator.output_size(height, width, n_layers)


def test_too_small_input_raises_with_the_minimum():
    assert NLayerPatchDiscriminator.min_input_size(3) == 24
    with pytest.raises(ValueError, match="at least 24"):
        NLayerPatchDiscriminator(ndf=2)(torch.zeros(1, 3, 23, 64))
    with pytest.raises(ValueError, match=r"expects \(N, 6, H, W\)"):
        NLayerPatchDiscriminator(in_channels=6, ndf=2)(torch.zeros(1, 3, 64, 64))


def test_reference_widths_biases_and_parameter_count():
    model = NLayerPatchDiscriminator()
    convs = _convs(model)
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert {c.kernel_size for c in convs} == {(4, 4)} and {c.padding for c in convs} == {(1, 1)}
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]
    # 3*64*16 + 64 | 64*128*16 + BN 256 | 128*256*16 + 512 | 256*512*16 + 1024 | 512*16 + 1
    assert sum(p.numel() for p in model.parameters()) == 2_765_633
    deep = NLayerPatchDiscriminator(ndf=8, n_layers=5)
    assert [c.out_channels for c in _convs(deep)] == [8, 16, 32, 64, 64, 64, 1]  # ndf * min(2**i, 8)
    instance = NLayerPatchDiscriminator(ndf=8, norm="instance")
    assert all(c.bias is not None for c in _convs(instance))


def test_pix2pix_initialisation():
    model = NLayerPatchDiscriminator(ndf=8)
    weight = _convs(model)[2].weight  # 16 -> 32 channels, 8192 weights
    assert weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert abs(weight.mean().item()) < 0.002
    assert all((c.bias is None or not c.bias.any()) for c in _convs(model))
    default = NLayerPatchDiscriminator(ndf=8, init_gain=None)
    # PyTorch's default: uniform(+-1/sqrt(fan_in)), std 1 / (16 * sqrt(3)) = 0.036 for fan_in 256.
    assert _convs(default)[2].weight.std().item() == pytest.approx(0.036, rel=0.1)


def test_features_are_the_block_outputs_and_end_with_the_logits():
    model = NLayerPatchDiscriminator(ndf=4, n_layers=3).eval()
    x = torch.randn(2, 3, 64, 64)
    logits = model(x)
    model.return_features = True
    features = model(x)
    assert len(features) == 3 + 2
    shapes = [(2, 4, 32, 32), (2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 7, 7), (2, 1, 6, 6)]
    assert [tuple(f.shape) for f in features] == shapes
    assert torch.equal(features[-1], logits)


def test_spectral_norm_bounds_the_largest_singular_value():
    plain = NLayerPatchDiscriminator(ndf=8)
    assert all(abs(_largest_singular_value(c) - 1.0) > 0.2 for c in _convs(plain))

    model = NLayerPatchDiscriminator(ndf=8, spectral_norm=True).train()
    assert "blocks.0.0.parametrizations.weight.original" in model.state_dict()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for conv in _convs(model):  # weights far from unit norm, then a few power iterations
            conv.parametrizations.weight.original.add_(torch.randn_like(conv.parametrizations.weight.original))
        model.eval()
        first = [_largest_singular_value(c) for c in _convs(model)]
        model.train()
        for _ in range(40):  # one power iteration per training forward pass
            model(x)
    model.eval()
    sigmas = [_largest_singular_value(c) for c in _convs(model)]
    # The power-iteration estimate is a lower bound of sigma, so the normalised value is >= 1.
    assert all(0.999 <= s <= 1.02 for s in sigmas), sigmas
    assert max(first) > 1.05  # the stale estimate right after the change was worse


def test_spectral_norm_on_the_srgan_discriminator():
    model = SRGANPatchDiscriminator(base_channels=4, spectral_norm=True).train()
    assert "model.0.parametrizations.weight.original" in model.state_dict()
    with torch.no_grad():
        for _ in range(30):
            model(torch.randn(2, 3, 32, 32))
    model.eval()
    sigmas = [_largest_singular_value(c) for c in _convs(model)]
    assert all(0.999 <= s <= 1.02 for s in sigmas), sigmas


# ---------------------------------------------------------------------------------------------
# MultiScaleDiscriminator
# ---------------------------------------------------------------------------------------------


def test_multiscale_three_scales_sizes_and_values():
    model = MultiScaleDiscriminator(lambda: NLayerPatchDiscriminator(ndf=4, n_layers=2, norm="none"), num_D=3).eval()
    x = torch.randn(2, 3, 64, 64)
    outputs = model(x)
    assert len(outputs) == 3
    assert MultiScaleDiscriminator.scale_sizes(64, 64, 3) == [(64, 64), (32, 32), (16, 16)]
    for logits_list, (h, w) in zip(outputs, MultiScaleDiscriminator.scale_sizes(64, 64, 3)):
        assert len(logits_list) == 1
        assert tuple(logits_list[-1].shape) == (2, 1, *NLayerPatchDiscriminator.output_size(h, w, 2))
    # Scale 2 sees the input average-pooled twice (3x3, stride 2, padding not counted).
    pooled = x
    for _ in range(2):
        pooled = F.avg_pool2d(pooled, 3, stride=2, padding=1, count_include_pad=False)
    assert torch.allclose(outputs[2][-1], model.discriminators[2](pooled), atol=1e-6)
    # The scales do not share weights.
    pointers = {d.blocks[0][0].weight.data_ptr() for d in model.discriminators}
    assert len(pointers) == 3


def test_multiscale_downsampling_ignores_padding_and_rounds_up():
    ones = torch.ones(1, 1, 7, 7)
    assert torch.equal(MultiScaleDiscriminator.downsample(ones), torch.ones(1, 1, 4, 4))  # corners 1, not 4/9
    assert MultiScaleDiscriminator.scale_sizes(63, 20, 3) == [(63, 20), (32, 10), (16, 5)]
    assert MultiScaleDiscriminator.downsample(torch.zeros(1, 1, 63, 20)).shape[-2:] == (32, 10)


def test_multiscale_feature_lists():
    model = build_discriminator(
        {"type": "multiscale", "num_D": 2, "discriminator": {"ndf": 4, "n_layers": 2, "return_features": True}}
    )
    outputs = model(torch.randn(1, 3, 64, 64))
    assert [len(scale) for scale in outputs] == [4, 4]
    assert [tuple(scale[-1].shape) for scale in outputs] == [(1, 1, 14, 14), (1, 1, 6, 6)]


def test_multiscale_with_srgan_discriminators():
    model = build_discriminator({"type": "multiscale", "discriminator": {"type": "srgan", "base_channels": 4}})
    assert isinstance(model.discriminators[0], SRGANPatchDiscriminator)
    outputs = model(torch.randn(2, 3, 64, 64))  # batch 2: BatchNorm trains on the 1x1 last scale
    assert [tuple(scale[-1].shape[-2:]) for scale in outputs] == [(4, 4), (2, 2), (1, 1)]


def test_multiscale_rejects_shared_modules():
    shared = NLayerPatchDiscriminator(ndf=2)
    with pytest.raises(ValueError, match="new module"):
        MultiScaleDiscriminator(lambda: shared, num_D=2)
    with pytest.raises(ValueError, match="num_D"):
        MultiScaleDiscriminator(lambda: NLayerPatchDiscriminator(ndf=2), num_D=0)


# ---------------------------------------------------------------------------------------------
# build_discriminator
# ---------------------------------------------------------------------------------------------


def test_factory_defaults_to_the_shadow_discriminator():
    model = build_discriminator({"base_channels": 8})
    assert isinstance(model, SRGANPatchDiscriminator)
    assert model.weights_status == "random init"
    assert list(model.state_dict()) == list(_LegacyLayout(3, 8).state_dict())
    assert isinstance(build_discriminator(None), SRGANPatchDiscriminator)


def test_factory_builds_each_type_with_its_options():
    patch = build_discriminator(
        {"type": "patchgan", "in_channels": 6, "ndf": 8, "n_layers": 2, "norm": "instance", "spectral_norm": True}
    )
    assert isinstance(patch, NLayerPatchDiscriminator) and patch.in_channels == 6
    assert [c.out_channels for c in _convs(patch)] == [8, 16, 32, 1]
    assert any(isinstance(m, nn.InstanceNorm2d) for m in patch.modules())
    assert "blocks.1.0.parametrizations.weight.original" in patch.state_dict()
    multi = build_discriminator({"type": "multiscale"})
    assert isinstance(multi, MultiScaleDiscriminator) and multi.num_D == 3
    assert all(isinstance(d, NLayerPatchDiscriminator) for d in multi.discriminators)


@pytest.mark.parametrize(
    "config, names",
    [
        ({"ndff": 4}, ["discriminator.ndff", "base_channels"]),
        ({"type": "srgan", "n_layers": 3}, ["discriminator.n_layers", "base_channels"]),
        ({"type": "patchgan", "base_channels": 8}, ["discriminator.base_channels", "ndf"]),
        ({"type": "pix2pix"}, ["discriminator.type", "patchgan", "multiscale"]),
        ({"type": "patchgan", "norm": "layer"}, ["discriminator.norm", "'batch', 'instance', 'none'"]),
        ({"type": "patchgan", "spectral_norm": "yes"}, ["discriminator.spectral_norm", "true or false"]),
        ({"type": "patchgan", "n_layers": 0}, ["discriminator.n_layers", "positive integer"]),
        ({"type": "patchgan", "ndf": True}, ["discriminator.ndf", "positive integer"]),
        ({"type": "patchgan", "init_gain": -1}, ["discriminator.init_gain", "positive number or null"]),
        ({"type": "multiscale", "num_D": 0}, ["discriminator.num_D", "positive integer"]),
        ({"type": "multiscale", "ndf": 4}, ["discriminator.ndf", "num_D"]),
        ({"type": "multiscale", "discriminator": {"bogus": 1}}, ["discriminator.discriminator.bogus"]),
        ({"type": "multiscale", "discriminator": {"type": "multiscale"}}, ["discriminator.discriminator.type"]),
        ({"type": "multiscale", "discriminator": {"norm": "group"}}, ["discriminator.discriminator.norm"]),
        (["srgan"], ["discriminator config must be a mapping"]),
    ],
)
def test_factory_rejects_bad_configs_by_name(config, names):
    with pytest.raises(ValueError) as error:
        build_discriminator(config)
    for name in names:
        assert name in str(error.value)
