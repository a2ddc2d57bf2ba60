"""U-Net and ResNet generators: reference layout, output range and size, dropout, upsampling
choice, input checks and config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_pipelines.models.generators import ResnetBlock, ResnetGenerator, UNetGenerator, build_generator


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _of_type(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


# ---------------------------------------------------------------------------------------------
# U-Net
# ---------------------------------------------------------------------------------------------


def test_unet_output_size_and_tanh_range():
    model = UNetGenerator(num_downs=3, ngf=4)
    x = torch.randn(2, 3, 16, 24)
    out = model(x)
    assert out.shape == (2, 3, 16, 24)
    assert out.abs().max() <= 1.0
    saturated = model(x * 1e4)  # the outermost skip is not normalised: huge inputs saturate tanh
    assert saturated.abs().max() <= 1.0 and saturated.abs().max() > 0.99


def test_unet_256_reference_layout():
    model = UNetGenerator(init_gain=None)  # num_downs=8, ngf=64: pix2pix unet_256
    assert [block[-1 if i in (0, 7) else -2].out_channels for i, block in enumerate(model.encoder)] == [
        64, 128, 256, 512, 512, 512, 512, 512
    ]
    ups = _of_type(model, nn.ConvTranspose2d)
    assert [(u.in_channels, u.out_channels) for u in ups] == [
        (128, 3), (256, 64), (512, 128), (1024, 256), (1024, 512), (1024, 512), (1024, 512), (512, 512)
    ]
    assert {u.kernel_size for u in ups} == {(4, 4)} and {u.stride for u in ups} == {(2, 2)}
    dropout_levels = [level for level, block in enumerate(model.decoder) if _of_type(block, nn.Dropout)]
    assert dropout_levels == [4, 5, 6]  # pix2pix: the first three decoder layers
    # Reference count 54,413,955 plus the biases of the two encoder convs without a norm (64 + 512).
    assert _count(model) == 54_413_955 + 64 + 512


def test_unet_skip_connection_carries_the_input_past_a_dead_bottleneck():
    model = UNetGenerator(num_downs=2, ngf=4, norm="none").eval()
    with torch.no_grad():
        inner = model.decoder[1][1]  # innermost transposed conv
        inner.weight.zero_()
        inner.bias.zero_()
        a, b = model(torch.randn(1, 3, 8, 8)), model(torch.randn(1, 3, 8, 8))
        # Only the level-0 skip reaches the output: tanh(up0(relu([encoder0(x), 0]))).
        x = torch.randn(1, 3, 8, 8)
        skip = model.encoder[0](x)
        expected = model.decoder[0](torch.cat([skip, torch.zeros_like(skip)], dim=1))
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert not torch.allclose(a, b)


def test_unet_dropout_follows_train_and_eval():
    x = torch.randn(2, 3, 64, 64)
    noisy = UNetGenerator(num_downs=6, ngf=2, use_dropout=True)
    assert len(_of_type(noisy, nn.Dropout)) == 1  # level 4 only when num_downs=6
    noisy.train()
    with torch.no_grad():
        assert not torch.equal(noisy(x), noisy(x))
        noisy.eval()
        assert torch.equal(noisy(x), noisy(x))
    plain = UNetGenerator(num_downs=6, ngf=2, use_dropout=False).train()
    assert not _of_type(plain, nn.Dropout)
    with torch.no_grad():
        assert torch.equal(plain(x), plain(x))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_unet_upsample_conv_replaces_transposed_convolutions(mode):
    model = UNetGenerator(num_downs=3, ngf=4, upsample="upsample_conv", upsample_mode=mode)
    assert not _of_type(model, nn.ConvTranspose2d)
    assert [u.mode for u in _of_type(model, nn.Upsample)] == [mode] * 3
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_unet_upsample_conv_has_no_checkerboard_on_a_constant_input():
    # A constant bottleneck feature map, upsampled: nearest + 3x3 conv gives a constant interior,
    # a stride-2 transposed 4x4 conv gives a period-2 pattern (uneven kernel overlap).
    torch.manual_seed(1)
    conv = nn.ConvTranspose2d(1, 1, kernel_size=4, stride=2, padding=1, bias=False)
    resize = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3, padding=1, bias=False))
    flat = torch.ones(1, 1, 6, 6)
    with torch.no_grad():
        transposed = conv(flat)[0, 0, 2:-2, 2:-2]
        resized = resize(flat)[0, 0, 2:-2, 2:-2]
    assert transposed.std() > 1e-3
    assert resized.std() < 1e-6
    # The module of the generator is that same resize-then-conv construction.
    model = UNetGenerator(num_downs=1, ngf=2, upsample="upsample_conv")
    kinds = [type(m).__name__ for m in model.decoder[0]]
    assert kinds == ["ReLU", "Upsample", "Conv2d", "Tanh"]


def test_unet_rejects_indivisible_sizes_and_bad_channels():
    model = UNetGenerator(num_downs=3, ngf=2)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*num_downs = 8"):
        model(torch.zeros(1, 3, 16, 20))
    with pytest.raises(ValueError, match=r"expects \(N, 3, H, W\)"):
        model(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="num_downs"):
        UNetGenerator(num_downs=0)
    with pytest.raises(ValueError, match="upsample must be one of"):
        UNetGenerator(upsample="pixelshuffle")


# ---------------------------------------------------------------------------------------------
# ResNet generator
# ---------------------------------------------------------------------------------------------


def test_resnet_output_size_and_tanh_range():
    model = ResnetGenerator(ngf=4, n_blocks=2)
    out = model(torch.randn(2, 3, 16, 20) * 100)
    assert out.shape == (2, 3, 16, 20)
    assert out.abs().max() <= 1.0 and out.abs().max() > 0.5


def test_resnet_9blocks_reference_layout():
    model = ResnetGenerator(init_gain=None)  # CycleGAN resnet_9blocks: instance norm, ngf=64
    convs = _of_type(model, nn.Conv2d)
    assert convs[0].kernel_size == (7, 7) and convs[-1].kernel_size == (7, 7)
    assert [c.out_channels for c in convs[:3]] == [64, 128, 256] and convs[-1].out_channels == 3
    assert len(_of_type(model, ResnetBlock)) == 9
    assert len(_of_type(model, nn.ReflectionPad2d)) == 2 + 2 * 9
    ups = _of_type(model, nn.ConvTranspose2d)
    assert [(u.in_channels, u.out_channels, u.kernel_size, u.output_padding) for u in ups] == [
        (256, 128, (3, 3), (1, 1)), (128, 64, (3, 3), (1, 1))
    ]
    assert _count(model) == 11_378_179


def test_resnet_block_is_a_residual():
    block = ResnetBlock(4, norm="none")
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        assert not torch.allclose(block(x), x)
        last_conv = block.conv_block[-1]
        last_conv.weight.zero_()
        last_conv.bias.zero_()
        assert torch.equal(block(x), x)
    assert len(_of_type(ResnetBlock(4, use_dropout=True), nn.Dropout)) == 1


def test_resnet_upsample_conv_uses_reflection_padding():
    model = ResnetGenerator(ngf=4, n_blocks=1, upsample="upsample_conv", upsample_mode="bilinear")
    assert not _of_type(model, nn.ConvTranspose2d)
    assert len(_of_type(model, nn.ReflectionPad2d)) == 2 + 2 * 1 + 2
    assert model(torch.randn(1, 3, 12, 8)).shape == (1, 3, 12, 8)


@pytest.mark.parametrize("size", [(18, 16), (16, 6), (4, 4)])
def test_resnet_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="divisible by 4"):
        ResnetGenerator(ngf=2, n_blocks=1)(torch.zeros(1, 3, *size))


# ---------------------------------------------------------------------------------------------
# build_generator
# ---------------------------------------------------------------------------------------------


def test_factory_defaults_per_type():
    unet = build_generator({"type": "unet", "ngf": 4, "num_downs": 6})
    assert isinstance(unet, UNetGenerator) and unet.weights_status == "random init"
    assert _of_type(unet, nn.BatchNorm2d) and len(_of_type(unet, nn.Dropout)) == 1  # pix2pix
    resnet = build_generator({"type": "resnet", "ngf": 4, "n_blocks": 2})
    assert isinstance(resnet, ResnetGenerator)
    assert _of_type(resnet, nn.InstanceNorm2d) and not _of_type(resnet, nn.Dropout)  # CycleGAN
    custom = build_generator(
        {"type": "unet", "in_channels": 1, "out_channels": 2, "ngf": 4, "num_downs": 2, "norm": "none",
         "upsample": "upsample_conv", "init_gain": None}
    )
    assert custom(torch.zeros(1, 1, 8, 8)).shape == (1, 2, 8, 8)
    assert not _of_type(custom, nn.BatchNorm2d)


@pytest.mark.parametrize(
    "config, names",
    [
        ({"ngf": 4}, ["generator.type", "'unet', 'resnet'"]),
        ({"type": "unet_256"}, ["generator.type", "'unet', 'resnet'"]),
        ({"type": "unet", "n_blocks": 9}, ["generator.n_blocks", "num_downs"]),
        ({"type": "resnet", "num_downs": 8}, ["generator.num_downs", "n_blocks"]),
        ({"type": "resnet", "n_blocks": -1}, ["generator.n_blocks", "non-negative integer"]),
        ({"type": "unet", "norm": "layer"}, ["generator.norm", "'batch', 'instance', 'none'"]),
        ({"type": "unet", "upsample": "deconv"}, ["generator.upsample", "'transpose', 'upsample_conv'"]),
        ({"type": "unet", "upsample_mode": "bicubic"}, ["generator.upsample_mode", "'nearest', 'bilinear'"]),
        ({"type": "unet", "use_dropout": 1}, ["generator.use_dropout", "true or false"]),
        ({"type": "unet", "ngf": 0}, ["generator.ngf", "positive integer"]),
        ({"type": "unet", "init_gain": "0.02"}, ["generator.init_gain"]),
        (None, ["generator config must be a mapping"]),
    ],
)
def test_factory_rejects_bad_configs_by_name(config, names):
    with pytest.raises(ValueError) as error:
        build_generator(config)
    for name in names:
        assert name in str(error.value)
