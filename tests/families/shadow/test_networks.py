"""Shapes, value ranges, learnability and config errors of the shadow networks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from gan_pipelines.families.shadow.networks import (
    ATTENTION_CHANNELS,
    AttentionNet,
    ShadowGeneratorOutput,
    attention_to_generator_input,
    build_attention_net,
    build_shadow_generator,
    check_resolution,
    to_uint8_images,
)
from gan_pipelines.models import GANLoss, dice_loss
from gan_pipelines.models.discriminators import SRGANPatchDiscriminator as PatchDiscriminator
from gan_pipelines.models.discriminators import build_discriminator

# Small enough for a 2-core CPU, same structure as the reference.
TINY_UNET = {"encoder": "resnet18", "decoder_channels": [32, 16, 16, 8, 8]}
TINY_D = {"base_channels": 8}


def _images(n: int = 2, height: int = 64, width: int = 64, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    noshadow = torch.rand(n, 3, height, width, generator=generator) * 2 - 1
    masks = [(torch.rand(n, 1, height, width, generator=generator) > 0.7).float() * 2 - 1 for _ in range(3)]
    return noshadow, *masks


# ---------------------------------------------------------------------------------------------
# Shapes and ranges
# ---------------------------------------------------------------------------------------------


def test_attention_net_gives_two_logit_maps_of_input_size():
    torch.manual_seed(0)
    model = build_attention_net(TINY_UNET)
    noshadow, mask, _, _ = _images(2, 64, 96)
    logits = model(noshadow, mask)
    assert logits.shape == (2, len(ATTENTION_CHANNELS), 64, 96)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    assert model.weights_status == "random init (encoder_weights: null)"


def test_attention_maps_become_signed_generator_inputs():
    logits = torch.tensor([[[[-3.0, 0.2]], [[5.0, -0.1]]]])  # (1, 2, 1, 2)
    robject, rshadow = attention_to_generator_input(logits)
    assert robject.tolist() == [[[[-1.0, 1.0]]]] and rshadow.tolist() == [[[[1.0, -1.0]]]]
    soft_robject, _ = attention_to_generator_input(logits, threshold=None)
    expected = torch.sigmoid(torch.tensor([-3.0, 0.2])) * 2 - 1
    assert torch.allclose(soft_robject.flatten(), expected)


def test_generator_outputs_are_noshadow_plus_layers():
    torch.manual_seed(0)
    model = build_shadow_generator(TINY_UNET)
    inputs = _images(2, 64, 96)
    output = model(*inputs)
    assert isinstance(output, ShadowGeneratorOutput)
    for tensor in output:
        assert tensor.shape == (2, 3, 64, 96)
    assert torch.equal(output.coarse, inputs[0] + output.coarse_layer)
    assert torch.equal(output.refined, inputs[0] + output.refined_layer)
    # Zero-initialised heads: an untrained generator is the identity baseline.
    assert torch.equal(output.refined, inputs[0]) and torch.equal(output.coarse, inputs[0])


def test_generator_never_changes_the_inserted_object_pixels():
    torch.manual_seed(0)
    model = build_shadow_generator(TINY_UNET)
    for head in (model.coarse_head, model.refined_head):  # non-zero heads: a trained-like generator
        torch.nn.init.normal_(head.weight, std=0.5)
    noshadow, mask, robject, rshadow = _images(2, 64, 96)
    mask = -torch.ones_like(mask)
    mask[:, :, 20:40, 30:50] = 1.0
    output = model(noshadow, mask, robject, rshadow)
    inside = mask.expand_as(noshadow) > 0
    assert torch.equal(output.refined[inside], noshadow[inside]) and torch.equal(output.coarse[inside], noshadow[inside])
    assert (output.refined_layer[~inside].abs() > 1e-4).float().mean() > 0.5  # outside, the layer does act


def test_multiplicative_generator_scales_noshadow_by_the_exp_of_its_layer():
    torch.manual_seed(0)
    model = build_shadow_generator({**TINY_UNET, "composition": "multiplicative"}).eval()
    noshadow, mask, robject, rshadow = _images(1, 64, 64)
    assert torch.equal(model(noshadow, mask, robject, rshadow).refined, noshadow)  # zero heads: identity
    with torch.no_grad():
        model.refined_head.bias.copy_(torch.tensor([np.log(0.5), 0.0, 0.0]))  # red halved, others kept
    noshadow = torch.full((1, 3, 64, 64), 0.2)  # 0.6 on the [0, 1] scale
    mask = -torch.ones(1, 1, 64, 64)
    mask[:, :, 10:20, 10:20] = 1.0
    refined = model(noshadow, mask, robject, rshadow).refined
    outside = mask[0, 0] < 0
    assert torch.allclose(refined[0, 0][outside], torch.tensor(-0.4))  # (0.2 + 1) * 0.5 - 1
    assert torch.allclose(refined[0, 1:], noshadow[0, 1:]) and torch.equal(refined[0, 0][~outside], noshadow[0, 0][~outside])


def test_projection_hint_is_the_generators_seventh_input():
    from gan_pipelines.families.shadow.projection import projected_shadow_hint

    torch.manual_seed(0)
    model = build_shadow_generator({**TINY_UNET, "projection_hint": True}).eval()
    assert model.encoder.conv1.in_channels == 7
    noshadow, mask, robject, rshadow = _images(2, 64, 64)
    seen = {}
    model.encoder.conv1.register_forward_hook(lambda module, args, out: seen.update(x=args[0]))
    model(noshadow, mask, robject, rshadow)
    assert torch.equal(seen["x"][:, :6], torch.cat([noshadow, mask, robject, rshadow], dim=1))
    assert torch.equal(seen["x"][:, 6:], projected_shadow_hint(mask, robject, rshadow))


@pytest.mark.parametrize(
    "config, message",
    [
        ({"composition": "screen"}, "composition must be one of"),
        ({"projection_hint": "yes"}, "projection_hint must be true or false"),
    ],
)
def test_bad_generator_options_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        build_shadow_generator(config)


def test_generator_default_is_reference_architecture():
    model = build_shadow_generator()
    assert model.encoder_name == "resnet18" and model.encoder.conv1.in_channels == 6
    assert model.coarse_head.in_channels == 16 and model.refined_head.in_channels == 16
    kinds = [type(layer).__name__ for layer in model.refinement]
    assert kinds == ["BatchNorm2d", "ReLU", "Conv2d"] * 4


def test_to_uint8_images_inverts_the_dataset_mapping_and_clamps():
    original = np.random.default_rng(0).integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    tensor = torch.from_numpy(original).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert np.array_equal(to_uint8_images(tensor), original)
    assert np.array_equal(to_uint8_images(tensor[0]), original[0])
    out_of_range = torch.tensor([[[[-1.7, 1.3]]]])  # (1, 1, 1, 2): masks are squeezed
    assert to_uint8_images(out_of_range).tolist() == [[[0, 255]]]


def test_discriminator_patch_map_on_non_square_input():
    model = build_discriminator(TINY_D)
    patches = model(torch.rand(2, 3, 64, 96) * 2 - 1)
    assert patches.shape == (2, 1, 4, 6)
    assert PatchDiscriminator.output_size(64, 96) == (4, 6)


def test_discriminator_reference_widths_and_block_layout():
    model = build_discriminator()
    convs = [m for m in model.model if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512, 1]
    assert [c.stride[0] for c in convs] == [1, 2] * 4 + [1]
    kinds = [type(m).__name__ for m in model.model][:5]
    assert kinds == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU"]  # no BN first


@pytest.mark.parametrize("size", [(70, 64), (64, 72)])
def test_discriminator_rejects_sizes_not_divisible_by_16(size):
    with pytest.raises(ValueError, match="divisible by 16"):
        build_discriminator(TINY_D)(torch.zeros(1, 3, *size))


def test_unets_reject_sizes_not_divisible_by_32():
    noshadow, mask, robject, rshadow = _images(1, 64, 80)
    with pytest.raises(ValueError, match="resolution 80 is not divisible by 32"):
        AttentionNet("resnet18", [16, 8, 8, 8, 8])(noshadow, mask)


def test_inputs_with_wrong_channels_are_named():
    model = build_shadow_generator(TINY_UNET)
    noshadow, mask, robject, rshadow = _images(1)
    with pytest.raises(ValueError, match="rshadow must have shape"):
        model(noshadow, mask, robject, torch.cat([rshadow, rshadow], dim=1))


# ---------------------------------------------------------------------------------------------
# Learnability: a few dozen Adam steps on one tiny batch
# ---------------------------------------------------------------------------------------------


def _blob_targets(n: int = 2, size: int = 64) -> torch.Tensor:
    target = torch.zeros(n, 2, size, size)
    target[:, 0, 10:30, 12:34] = 1
    target[:, 1, 30:50, 20:44] = 1
    return target


def test_attention_overfits_one_batch_with_dice(one_thread):
    torch.manual_seed(0)
    model = build_attention_net(TINY_UNET)
    noshadow, mask, _, _ = _images(2)
    target = _blob_targets()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = dice_loss(torch.sigmoid(model(noshadow, mask)), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_generator_overfits_one_batch_with_l2(one_thread):
    torch.manual_seed(0)
    model = build_shadow_generator(TINY_UNET)
    noshadow, mask, robject, rshadow = _images(2)
    shadow = noshadow.clone()
    shadow[:, :, 32:56, 8:40] = (shadow[:, :, 32:56, 8:40] + 1) * 0.4 - 1  # darker region
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        output = model(noshadow, mask, robject, rshadow)
        loss = torch.nn.functional.mse_loss(output.coarse, shadow) + torch.nn.functional.mse_loss(
            output.refined, shadow
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_discriminator_learns_real_from_fake_with_lsgan(one_thread):
    torch.manual_seed(0)
    model = build_discriminator(TINY_D)
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    fake = (real + 0.5 * torch.randn_like(real)).clamp(-1, 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = 0.5 * (GANLoss("lsgan")(model(real), True) + GANLoss("lsgan")(model(fake), False))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


# ---------------------------------------------------------------------------------------------
# Config errors
# ---------------------------------------------------------------------------------------------


def test_unknown_encoder_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown attention encoder 'resnet35'.*resnet34"):
        build_attention_net({"encoder": "resnet35"})


def test_unknown_config_keys_are_named():
    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) generator.decoder_chanels; allowed under generator: "):
        build_shadow_generator({"decoder_chanels": [16, 8, 8, 8, 8]})
    with pytest.raises(ValueError, match=r"discriminator.width"):
        build_discriminator({"width": 8})


@pytest.mark.parametrize(
    "config, message",
    [
        ({"decoder_channels": [16, 8, 8]}, "decoder_channels must be a list of 5"),
        ({"decoder_channels": [16, 8, 8, 8, 0]}, "positive integer"),
        ({"encoder_weights": "ssl"}, "encoder_weights must be null or 'imagenet'"),
        ({"if_unavailable": "download"}, "if_unavailable must be one of"),
    ],
)
def test_bad_unet_values(config, message):
    with pytest.raises(ValueError, match=message):
        build_attention_net(config)


def test_bad_discriminator_values():
    with pytest.raises(ValueError, match="base_channels must be a positive integer"):
        build_discriminator({"base_channels": 0})


def test_check_resolution():
    check_resolution(256)
    check_resolution((480, 640))
    message = r"^resolution 100 is not divisible by 32 \(the U-Net encoder downsamples 5 times\)$"
    with pytest.raises(ValueError, match=message):
        check_resolution(100)
    with pytest.raises(ValueError, match="resolution 72 is not divisible by 16"):
        check_resolution((64, 72), multiple=16)
    with pytest.raises(ValueError, match="positive integer"):
        check_resolution(-32)


# ---------------------------------------------------------------------------------------------
# ImageNet encoder weights: local files only
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Point torch hub and the Hugging Face cache at empty temporary folders."""
    from huggingface_hub import constants

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


def test_imagenet_encoder_loaded_from_torch_hub_cache(empty_caches):
    import torchvision

    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None).state_dict()  # torchvision layout, with fc
    checkpoints = empty_caches / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(reference, checkpoints / "resnet18-f37072fd.pth")

    model = build_shadow_generator({**TINY_UNET, "encoder_weights": "imagenet", "if_unavailable": "error"})
    assert model.weights_status.startswith("loaded ") and "resnet18-f37072fd.pth" in model.weights_status
    assert torch.equal(model.encoder.layer4[1].conv2.weight, reference["layer4.1.conv2.weight"])
    # First conv adapted as smp does for 6 channels: RGB weights repeated, scaled by 3 / 6.
    expected_conv1 = reference["conv1.weight"].repeat(1, 2, 1, 1) * 0.5
    assert torch.allclose(model.encoder.conv1.weight, expected_conv1)


def test_imagenet_encoder_with_wrong_shapes_is_refused(empty_caches, tmp_path):
    import torchvision

    wrong = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), wrong)
    with pytest.raises(ValueError, match="weights do not fit the network"):
        build_attention_net({**TINY_UNET, "encoder_weights": "imagenet", "weights_path": str(wrong)})


def test_imagenet_encoder_missing_random_or_error(empty_caches, caplog):
    config = {**TINY_UNET, "encoder_weights": "imagenet"}
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.models.pretrained"):
        model = build_attention_net({**config, "if_unavailable": "random"})
    assert model.weights_status.startswith("random: ImageNet weights for encoder 'resnet18' not found")
    assert any(r.levelno == logging.WARNING and "random weights" in r.getMessage() for r in caplog.records)
    with pytest.raises(FileNotFoundError, match=r"looked in: .*my/resnet18\.pth.*resnet18-\*\.pth"):
        build_attention_net({**config, "if_unavailable": "error", "weights_path": "my/resnet18.pth"})
