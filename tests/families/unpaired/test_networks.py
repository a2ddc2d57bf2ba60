"""CycleGAN's networks (sizes, the reference's layout and parameter count, refusals), their
rebuild from a checkpoint bundle, and translation of pictures of any size."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.families.unpaired.bundles import check_family, generators_from_bundle
from gan_pipelines.families.unpaired.config import CycleGANTrainParams as TrainParams, train_problems
from gan_pipelines.families.unpaired.inference import padded_size, translate
from gan_pipelines.families.unpaired.networks import (
    build_cyclegan, check_image_size, default_n_blocks, default_n_layers, discriminator_config, generator_config,
    generators_from_config,
)
from gan_pipelines.models import count_parameters
from gan_pipelines.params import ParameterError

TRAINING = {"epochs": 1}


def _small(size: int, **model) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return build_cyclegan(generator_config({"ngf": 4, "n_blocks": 1, **model}, size),
                          discriminator_config({"ndf": 4}, size))


@pytest.mark.parametrize("size, n_layers, patch_map", [(16, 1, 6), (32, 1, 14), (64, 2, 14), (96, 3, 10)])
def test_shapes_at_several_sizes(size, n_layers, patch_map):
    """The generators keep the picture's shape (in [-1, 1]); each PatchGAN gives one logit per
    patch: floor(size / 2**n_layers) - 2 per side, n_layers chosen from the size."""
    nets = _small(size)
    assert set(nets) == {"G_AB", "G_BA", "D_A", "D_B"}
    assert nets["D_A"].n_layers == n_layers
    pictures = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        for name in ("G_AB", "G_BA"):
            out = nets[name](pictures)
            assert out.shape == (2, 3, size, size) and out.abs().max() <= 1
        assert nets["D_B"](pictures).shape == (2, 1, patch_map, patch_map)
    # non-square pictures too (fully convolutional): 16 x 40
    with torch.no_grad():
        assert nets["G_AB"](torch.zeros(1, 3, 16, 40)).shape == (1, 3, 16, 40)


def test_defaults_follow_the_reference_per_size():
    assert [default_n_blocks(s) for s in (64, 128, 255, 256, 512)] == [6, 6, 6, 9, 9]
    # the deepest PatchGAN whose receptive field (9 * 2**n - 2) fits: 16, 34, 70 px
    assert [default_n_layers(s) for s in (16, 33, 34, 64, 69, 70, 256)] == [1, 1, 2, 2, 2, 3, 3]
    assert generator_config({"ngf": 8}, 256)["n_blocks"] == 9 and generator_config({}, 64)["n_blocks"] == 6
    assert generator_config({"n_blocks": 2}, 256)["n_blocks"] == 2


def test_reference_scale_generator_has_11_378_m_parameters_and_the_reference_layout():
    """ngf 64 / 9 blocks at 256 px: 11,378,179 parameters (the reference prints 11.378 M);
    the 70x70 PatchGAN with instance norm 2,764,737 (2.765 M)."""
    nets = build_cyclegan(generator_config({}, 256), discriminator_config({}, 256))
    generator, discriminator = nets["G_AB"], nets["D_A"]
    assert count_parameters(generator) == 11_378_179
    assert count_parameters(discriminator) == 2_764_737
    layers = list(generator.modules())
    convs = [m for m in layers if type(m) is nn.Conv2d]
    assert (convs[0].kernel_size, convs[0].out_channels) == ((7, 7), 64) and convs[-1].kernel_size == (7, 7)
    assert [c.stride for c in convs if c.stride == (2, 2)] == [(2, 2)] * 2
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in layers) == 2
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in layers) == 2 + 2 * 9
    norms = [m for m in layers if isinstance(m, nn.InstanceNorm2d)]
    assert norms and not any(n.affine or n.track_running_stats for n in norms)
    assert isinstance(layers[-1], nn.Tanh)
    assert discriminator.n_layers == 3 and discriminator.receptive_field(3) == 70


def test_weights_start_from_normal_0_002():
    torch.manual_seed(0)
    nets = build_cyclegan(generator_config({}, 256), discriminator_config({}, 256))
    block_conv = nets["G_AB"].model[10].conv_block[1]  # a 256 -> 256 3x3 conv of the first residual block
    assert block_conv.weight.numel() == 589_824
    assert abs(block_conv.weight.std().item() - 0.02) < 2e-4 and abs(block_conv.weight.mean().item()) < 2e-4
    assert torch.count_nonzero(block_conv.bias) == 0
    d_conv = nets["D_B"].blocks[3][0]
    assert abs(d_conv.weight.std().item() - 0.02) < 5e-4
    # the two generators are drawn one after the other: different weights
    assert not torch.equal(nets["G_AB"].model[1].weight, nets["G_BA"].model[1].weight)


def test_a_size_the_generator_cannot_take_is_refused_naming_the_parameter():
    with pytest.raises(ParameterError, match=r"cyclegan\.train\.augmentation\.crop_size is 30 px: .*multiple of 4.*use e\.g\. 28"):
        TrainParams.parse({"training": TRAINING, "augmentation": {"crop_size": 30}}, "cyclegan.train")
    with pytest.raises(ParameterError, match=r"crop_size is 4 px: .*at least 8 px"):
        TrainParams.parse({"training": TRAINING, "augmentation": {"crop_size": 4}}, "cyclegan.train")
    with pytest.raises(ParameterError, match=r"cyclegan\.train\.discriminator\.n_layers is 3: a PatchGAN that deep "
                                             r"needs at least 24 px .*augmentation\.crop_size is 16 px; use n_layers <= 2"):
        TrainParams.parse({"training": TRAINING, "augmentation": {"crop_size": 16}, "discriminator": {"n_layers": 3}},
                          "cyclegan.train")
    with pytest.raises(ParameterError, match=r"augmentation\.load_size \(60\) must be at least crop_size \(64\)"):
        TrainParams.parse({"training": TRAINING, "augmentation": {"crop_size": 64, "load_size": 60}}, "cyclegan.train")
    # against the model input's resolution (what check_stages and the node use)
    train = TrainParams.parse({"training": TRAINING, "discriminator": {"n_layers": 3}}, "cyclegan.train")
    assert train_problems(train, 64, "cyclegan") == []
    assert "cyclegan.preprocess.resolution is 18 px" in train_problems(train, 18, "cyclegan")[0]
    assert "cyclegan.train.discriminator.n_layers is 3" in train_problems(train, 20, "cyclegan")[0]
    cropped = TrainParams.parse({"training": TRAINING, "augmentation": {"crop_size": 32}}, "cyclegan.train")
    assert "crop_size is 32 but the model input (cyclegan.preprocess.resolution) is 64 px" in \
        train_problems(cropped, 64, "cyclegan")[0]
    with pytest.raises(ValueError, match=r"x\.augmentation\.crop_size is 10 px"):
        check_image_size(10, generator_config({}, 10), discriminator_config({"n_layers": 1}, 10), "x", None)
    # the generator itself refuses such a picture too
    with pytest.raises(ValueError, match="divisible by 4"):
        _small(16)["G_AB"](torch.zeros(1, 3, 30, 30))


def test_generators_from_config_refuses_another_model():
    with pytest.raises(ValueError, match="model_config.model is 'pix2pix'"):
        generators_from_config({"model": "pix2pix", "generator": {}})


# ---------------------------------------------------------------------------------------------
# bundles
# ---------------------------------------------------------------------------------------------


def _bundle(family="cyclegan", versions=None) -> dict:
    nets = _small(16)
    meta = {"family": family, "network": "generator", "trained_at": "2026-01-01T00:00:00Z"}
    if versions is not None:
        meta["versions"] = versions
    return {"state_dicts": {n: nets[n].state_dict() for n in ("G_AB", "G_BA")},
            "model_config": {"model": "cyclegan", "generator": generator_config({"ngf": 4, "n_blocks": 1}, 16),
                             "resolution": 16},
            "meta": meta}


def test_generators_from_bundle_rebuild_both_directions():
    bundle = _bundle()
    generators, config = generators_from_bundle(bundle, "cyclegan")
    assert set(generators) == {"a2b", "b2a"} and config["resolution"] == 16
    for direction, name in (("a2b", "G_AB"), ("b2a", "G_BA")):
        net = generators[direction]
        assert not net.training and next(net.parameters()).device.type == "cpu"
        assert all(torch.equal(net.state_dict()[k], v) for k, v in bundle["state_dicts"][name].items())


def test_another_familys_checkpoint_is_refused_by_name(caplog):
    with pytest.raises(ValueError, match=r"belongs to the 'pix2pix' family, not 'cyclegan'"):
        generators_from_bundle(_bundle(family="pix2pix"), "cyclegan")
    with pytest.raises(ValueError, match="not a checkpoint bundle"):
        check_family({"generator": {}}, "cyclegan")
    judge = _bundle()
    judge["meta"]["network"] = "judge"
    with pytest.raises(ValueError, match="holds a 'judge' network, not a generator"):
        check_family(judge, "cyclegan")
    with caplog.at_level(logging.WARNING, logger="gan_pipelines"):
        generators_from_bundle(_bundle(versions={"torch": "1.0.0"}), "cyclegan")
    assert "under other library versions" in caplog.text and "torch 1.0.0 ->" in caplog.text


# ---------------------------------------------------------------------------------------------
# translation at any size
# ---------------------------------------------------------------------------------------------


def test_translate_pads_to_what_the_generator_takes_and_crops_back():
    generator = _small(16)["G_AB"].eval()
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (3, 13, 22, 3), dtype=np.uint8)
    out = translate(generator, pictures, device="cpu", batch_size=2)
    assert out.shape == pictures.shape and out.dtype == np.uint8
    assert padded_size(13, 4, 8) == 16 and padded_size(22, 4, 8) == 24 and padded_size(3, 4, 8) == 8
    # by hand: reflect-pad bottom/right to 16 x 24, run, crop, map [-1, 1] to 0..255
    x = torch.from_numpy(pictures).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        y = generator(F.pad(x, (0, 2, 0, 3), mode="reflect"))[..., :13, :22]
    expected = ((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(out, expected)
    # a size it takes as it is: nothing padded
    square = pictures[:, :12, :12]
    with torch.no_grad():
        direct = generator(torch.from_numpy(np.ascontiguousarray(square)).permute(0, 3, 1, 2).float() / 127.5 - 1)
    assert np.array_equal(translate(generator, square, device="cpu"),
                          ((direct.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    # tiny pictures (the pad is larger than the picture): edge pixels repeated
    assert translate(generator, pictures[:1, :3, :5], device="cpu").shape == (1, 3, 5, 3)
    with pytest.raises(ValueError, match="uint8 \\(N, H, W, 3\\)"):
        translate(generator, pictures.astype(np.float32))
