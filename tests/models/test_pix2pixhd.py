"""pix2pixHD generators: reference layout, sizes, the frozen global phase of the local enhancer,
loading a trained global generator, and an overfit check per generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.models import count_parameters
from gan_pipelines.models.generators import ResnetBlock
from gan_pipelines.models.pix2pixhd import GlobalGenerator, LocalEnhancer

IN_CHANNELS = 5  # e.g. 4 one-hot classes + an instance boundary channel


def _tiny_global(**kwargs) -> GlobalGenerator:
    return GlobalGenerator(IN_CHANNELS, ngf=4, n_downsampling=2, n_blocks=1, **kwargs)


def _tiny_enhancer(**kwargs) -> LocalEnhancer:
    return LocalEnhancer(IN_CHANNELS, ngf=2, n_downsampling_global=2, n_blocks_global=1, n_blocks_local=1, **kwargs)


def test_global_generator_reference_layout():
    with torch.device("meta"):  # no memory, no init cost
        generator = GlobalGenerator(IN_CHANNELS, ngf=64, n_downsampling=4, n_blocks=9, init_gain=None)
    convs = [m for m in generator.trunk if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1024]
    assert convs[0].kernel_size == (7, 7) and isinstance(generator.trunk[0], nn.ReflectionPad2d)
    blocks = [m for m in generator.trunk if isinstance(m, ResnetBlock)]
    assert len(blocks) == 9 and blocks[0].conv_block[1].in_channels == 1024
    ups = [m for m in generator.trunk if isinstance(m, nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [512, 256, 128, 64]
    assert all(isinstance(m, nn.InstanceNorm2d) for m in generator.trunk if "Norm" in type(m).__name__)
    assert isinstance(generator.head[-1], nn.Tanh) and generator.head[1].kernel_size == (7, 7)
    assert generator.size_multiple == 16


def test_local_enhancer_reference_layout():
    with torch.device("meta"):
        enhancer = LocalEnhancer(IN_CHANNELS, ngf=32, init_gain=None)
    global_convs = [m for m in enhancer.global_trunk if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in global_convs] == [64, 128, 256, 512, 1024]  # G1 at 2 * ngf
    assert not any(isinstance(m, nn.Tanh) for m in enhancer.global_trunk)  # output layer removed
    assert [c.out_channels for c in enhancer.local_down if isinstance(c, nn.Conv2d)] == [32, 64]
    assert sum(isinstance(m, ResnetBlock) for m in enhancer.local_up) == 3
    assert enhancer.size_multiple == 32


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (64, 128)])
def test_output_shapes(size):
    torch.manual_seed(0)
    x = torch.randn(2, IN_CHANNELS, *size)
    with torch.no_grad():
        for generator in (_tiny_global(), _tiny_enhancer(), _tiny_global(upsample="upsample_conv")):
            out = generator(x)
            assert out.shape == (2, 3, *size)
            assert out.abs().max().item() <= 1.0


def test_global_features_are_the_trunk_output():
    generator = _tiny_global()
    x = torch.randn(1, IN_CHANNELS, 16, 16)
    features = generator.features(x)
    assert features.shape == (1, 4, 16, 16)
    torch.testing.assert_close(generator(x), generator.head(features))


def test_sizes_that_are_not_a_multiple_name_size_and_multiple():
    with pytest.raises(ValueError, match=r"GlobalGenerator input 20x16: .* multiples of 8 .* at least 16"):
        GlobalGenerator(IN_CHANNELS, ngf=4, n_downsampling=3, n_blocks=1)(torch.zeros(1, IN_CHANNELS, 20, 16))
    with pytest.raises(ValueError, match=r"LocalEnhancer input 64x40: .* multiples of 16 .* at least 32"):
        LocalEnhancer(IN_CHANNELS, ngf=2, n_downsampling_global=3, n_blocks_global=1)(
            torch.zeros(1, IN_CHANNELS, 64, 40)
        )
    with pytest.raises(ValueError, match=r"at least 16"):  # a multiple, but a 1x1 bottleneck
        GlobalGenerator(IN_CHANNELS, ngf=4, n_downsampling=3, n_blocks=1)(torch.zeros(1, IN_CHANNELS, 8, 8))
    with pytest.raises(ValueError, match=r"expects \(N, 5, H, W\)"):
        _tiny_global()(torch.zeros(1, 3, 16, 16))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ngf": 0}, "ngf"),
        ({"n_downsampling": -1}, "n_downsampling"),
        ({"n_blocks": 1.5}, "n_blocks"),
        ({"norm": "group"}, "norm must be one of"),
        ({"upsample": "pixelshuffle"}, "upsample must be one of"),
        ({"init_gain": -1}, "init_gain"),
    ],
)
def test_global_generator_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GlobalGenerator(IN_CHANNELS, **kwargs)


def test_local_enhancer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_blocks_local"):
        LocalEnhancer(IN_CHANNELS, n_blocks_local=-1)
    with pytest.raises(ValueError, match="n_downsampling"):
        LocalEnhancer(IN_CHANNELS, n_downsampling_global=-2)
    with pytest.raises(ValueError, match="frozen must be True or False"):
        _tiny_enhancer().set_global_frozen(1)


def test_parameter_groups_partition_the_enhancer():
    enhancer = _tiny_enhancer()
    global_ids = {id(p) for p in enhancer.global_parameters()}
    local_ids = {id(p) for p in enhancer.local_parameters()}
    assert global_ids and local_ids and not global_ids & local_ids
    assert global_ids | local_ids == {id(p) for p in enhancer.parameters()}
    assert count_parameters(enhancer) == sum(p.numel() for p in enhancer.parameters())


def test_frozen_global_phase_changes_only_the_local_weights():
    torch.manual_seed(1)
    enhancer = _tiny_enhancer()
    optimiser = torch.optim.Adam(enhancer.parameters(), lr=1e-2)
    x, target = torch.randn(2, IN_CHANNELS, 32, 32), torch.rand(2, 3, 32, 32) * 2 - 1

    def step() -> None:
        optimiser.zero_grad()
        F.l1_loss(enhancer(x), target).backward()
        optimiser.step()

    global_before = [p.detach().clone() for p in enhancer.global_parameters()]
    local_before = [p.detach().clone() for p in enhancer.local_parameters()]
    enhancer.set_global_frozen(True)
    assert enhancer.global_frozen
    step()
    assert all(torch.equal(a, b) for a, b in zip(global_before, enhancer.global_parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(local_before, enhancer.local_parameters()) if a.ndim > 1)

    enhancer.set_global_frozen(False)  # then the whole generator trains
    assert not enhancer.global_frozen
    step()
    assert any(not torch.equal(a, b) for a, b in zip(global_before, enhancer.global_parameters()))


def test_load_global_generator_copies_the_trunk_and_refuses_a_mismatch():
    torch.manual_seed(2)
    enhancer = _tiny_enhancer()
    trained = GlobalGenerator(IN_CHANNELS, ngf=4, n_downsampling=2, n_blocks=1)  # 2 * the enhancer's ngf
    for parameter in trained.parameters():
        parameter.data.normal_()
    enhancer.load_global_generator(trained)
    for ours, theirs in zip(enhancer.global_parameters(), trained.trunk.parameters()):
        assert torch.equal(ours, theirs)
    # The global part computes what the trained generator's trunk computes at half size.
    x = torch.randn(1, IN_CHANNELS, 32, 32)
    half = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    torch.testing.assert_close(enhancer.global_trunk(half), trained.features(half))
    with pytest.raises(ValueError, match="does not fit this LocalEnhancer"):
        enhancer.load_global_generator(GlobalGenerator(IN_CHANNELS, ngf=2, n_downsampling=2, n_blocks=1))
    with pytest.raises(ValueError, match="does not fit this LocalEnhancer"):
        enhancer.load_global_generator(GlobalGenerator(IN_CHANNELS, ngf=4, n_downsampling=2, n_blocks=2))


# ---------------------------------------------------------------------------------------------
# Overfit one tiny batch
# ---------------------------------------------------------------------------------------------


def _paired_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 32 px one-hot label maps of 4x4 px regions (+ an empty boundary channel) and targets
    that colour each class its own way."""
    generator = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 4, (2, 8, 8), generator=generator).repeat_interleave(4, 1).repeat_interleave(4, 2)
    one_hot = F.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    palette = torch.tensor([[-0.8, 0.5, 0.2], [0.7, -0.6, 0.1], [0.1, 0.9, -0.7], [-0.3, -0.2, 0.8]])
    target = torch.einsum("nkhw,kc->nchw", one_hot, palette)
    return torch.cat([one_hot, torch.zeros(2, 1, 32, 32)], dim=1), target


def _overfit(generator: nn.Module, steps: int) -> tuple[float, float]:
    x, target = _paired_batch()
    optimiser = torch.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    with torch.no_grad():
        start = F.l1_loss(generator(x), target).item()
    for _ in range(steps):
        optimiser.zero_grad()
        F.l1_loss(generator(x), target).backward()
        optimiser.step()
    with torch.no_grad():
        end = F.l1_loss(generator(x), target).item()
    return start, end


def test_global_generator_overfits_one_batch(one_thread):
    torch.manual_seed(4)
    start, end = _overfit(GlobalGenerator(IN_CHANNELS, ngf=8, n_downsampling=2, n_blocks=2), steps=60)
    assert end < start / 4, (start, end)


def test_local_enhancer_overfits_one_batch(one_thread):
    torch.manual_seed(5)
    enhancer = LocalEnhancer(IN_CHANNELS, ngf=4, n_downsampling_global=2, n_blocks_global=2, n_blocks_local=1)
    start, end = _overfit(enhancer, steps=60)
    assert end < start / 4, (start, end)
