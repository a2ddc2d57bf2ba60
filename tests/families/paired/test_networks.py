"""The paired families' factories, input encoding, size checks and checkpoint ownership."""

import numpy as np
import pytest
import torch

from gan_pipelines.families.paired.bundles import check_family, generator_from_bundle
from gan_pipelines.families.paired.config import input_config, network_configs
from gan_pipelines.families.paired.layout import KIND_TYPES
from gan_pipelines.families.paired.networks import (
    InputEncoder, PairedGenerator, check_resolution, instance_boundaries, size_multiple,
)
from gan_pipelines.families.paired.nodes.train import check_train_params
from gan_pipelines.models.discriminators import build_discriminator
from gan_pipelines.models.generators import build_generator

PIX2PIX = {
    "input_kind": "label_map", "target_kind": "picture", "label_nc": 6,
    "model": {"type": "unet", "num_downs": 6, "ngf": 8},
    "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 2},
    "batch_size": 2, "training": {"epochs": 1},
}


def test_label_input_sets_the_channel_counts_of_both_networks():
    generator, discriminator = network_configs(PIX2PIX, input_config(PIX2PIX, KIND_TYPES, "pix2pix.train"), "pix2pix.train")
    assert generator["in_channels"] == 6 and generator["out_channels"] == 3
    assert discriminator["in_channels"] == 9  # conditional: one-hot labels + picture


def test_instance_edges_add_one_channel_and_a_wrong_channel_count_is_refused():
    params = {**PIX2PIX, "instance_edges": True, "instance_kind": "instance_map"}
    generator, _ = network_configs(params, input_config(params, KIND_TYPES, "s"), "s")
    assert generator["in_channels"] == 7
    bad = {**PIX2PIX, "model": {**PIX2PIX["model"], "in_channels": 3}}
    with pytest.raises(ValueError, match="pix2pix.train.model.in_channels is 3 but the input needs 6"):
        network_configs(bad, input_config(bad, KIND_TYPES, "pix2pix.train"), "pix2pix.train")


def test_sketch_input_is_three_channels():
    params = {**PIX2PIX, "input_kind": "line_art"}
    settings = check_train_params(params, "sketch2color.train")
    assert settings["generator"]["in_channels"] == 3 and settings["discriminator"]["in_channels"] == 6
    assert settings["loss_weights"] == {"adversarial": 1.0, "l1": 100.0, "perceptual": 0.0, "tv": 0.0}


@pytest.mark.parametrize("change, message", [
    ({"input_kind": "photo"}, "pix2pix.train.input_kind must be one of"),
    ({"label_nc": 0}, "pix2pix.train.label_nc must be an integer in 1..255"),
    ({"gan_mode": "wgan"}, "pix2pix.train.gan_mode: Input should be 'vanilla', 'lsgan' or 'hinge'"),
    ({"real_label": 1.2}, r"pix2pix.train.real_label: Input should be less than or equal to 1"),
    ({"loss_weights": {"l2": 1.0}}, "l2"),
    ({"d_every": 0}, "pix2pix.train.d_every: Input should be greater than or equal to 1"),
    ({"model": {"type": "unet", "num_downs": 6, "widht": 3}}, "widht"),
])
def test_bad_train_parameters_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        check_train_params({**PIX2PIX, **change}, "pix2pix.train")


def test_patchgan_of_the_reference_gives_30x30_at_256():
    params = {**PIX2PIX, "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 3}}
    _, config = network_configs(params, input_config(params, KIND_TYPES, "p"), "p")
    out = build_discriminator(config)(torch.zeros(1, 9, 256, 256))
    assert out.shape == (1, 1, 30, 30)
    out64 = build_discriminator(network_configs(PIX2PIX, input_config(PIX2PIX, KIND_TYPES, "p"), "p")[1])(
        torch.zeros(2, 9, 64, 64))
    assert out64.shape == (2, 1, 14, 14)


def test_resolutions_the_networks_cannot_take_are_refused_clearly():
    generator, discriminator = network_configs(PIX2PIX, input_config(PIX2PIX, KIND_TYPES, "p"), "p")
    assert size_multiple(generator) == 64 and size_multiple({"type": "resnet"}) == 4
    with pytest.raises(ValueError, match="resolution 96 px: the unet generator needs a multiple of 64; use e.g. 64"):
        check_resolution(96, generator, discriminator, "pix2pix.train")
    with pytest.raises(ValueError, match=r"n_layers=3 leaves a 0x0 map.*needs > 1x1"):
        check_resolution(16, {"type": "resnet"}, {"type": "patchgan", "n_layers": 3}, "p")
    check_resolution(64, generator, discriminator, "p")
    net = build_generator(generator)
    with pytest.raises(ValueError, match="divisible by 2\\*\\*num_downs = 64"):
        net(torch.zeros(1, 6, 96, 96))


def test_generator_output_shapes():
    for model in ({"type": "unet", "num_downs": 6, "ngf": 8}, {"type": "resnet", "n_blocks": 2, "ngf": 8}):
        params = {**PIX2PIX, "model": model}
        generator, _ = network_configs(params, input_config(params, KIND_TYPES, "p"), "p")
        net = PairedGenerator(InputEncoder("labels", 6), build_generator(generator)).eval()
        out = net(torch.randint(0, 6, (2, 1, 64, 64)))
        assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1


def test_one_hot_encoding_leaves_ignore_values_empty_and_instance_edges_mark_boundaries():
    labels = torch.tensor([[[[0, 1], [5, 255]]]])
    encoded = InputEncoder("labels", 6)(labels)
    assert encoded.shape == (1, 6, 2, 2)
    assert encoded[0, :, 1, 1].sum() == 0 and encoded[0, 5, 1, 0] == 1 and encoded.sum() == 3
    instances = torch.zeros(1, 1, 4, 4, dtype=torch.int64)
    instances[..., 1:3, 1:3] = 1
    edges = instance_boundaries(instances)[0, 0]
    assert edges[0, 0] == 0 and edges[1, 1] == 1 and edges[0, 1] == 1 and edges.sum() == 12
    with pytest.raises(ValueError, match="needs an instance map"):
        InputEncoder("labels", 6, instance_edges=True)(labels)


def _bundle(family):
    generator, _ = network_configs(PIX2PIX, input_config(PIX2PIX, KIND_TYPES, "p"), "p")
    net = build_generator(generator)
    return {"state_dicts": {"generator": net.state_dict()},
            "model_config": {"generator": generator, "input": input_config(PIX2PIX, KIND_TYPES, "p")},
            "meta": {"family": family, "network": "generator", "resolution": 64}}


def test_a_checkpoint_of_another_family_is_refused():
    net, cfg = generator_from_bundle(_bundle("pix2pix"), "pix2pix")
    assert cfg["label_nc"] == 6 and not net.training
    with pytest.raises(ValueError, match="belongs to the 'sketch2color' family, not 'pix2pix'"):
        generator_from_bundle(_bundle("sketch2color"), "pix2pix")
    shadow_like = {"state_dicts": {"generator": {}}, "model_config": {}, "meta": {"resolution": 32}}
    with pytest.raises(ValueError, match="belongs to no family"):
        check_family(shadow_like, "pix2pix")
    with pytest.raises(ValueError, match="not a checkpoint bundle"):
        check_family(np.zeros(3), "pix2pix")


def test_preprocess_refuses_a_resolution_the_generator_cannot_take():
    from gan_pipelines.families.paired.nodes.preprocess import preprocess_paired_data

    raw = {"train/picture/a.png": lambda: np.zeros((70, 70, 3), np.uint8),
           "train/label_map/a.png": lambda: np.zeros((70, 70), np.uint8)}
    train = {"model": {"num_downs": 6}, "batch_size": 1, "training": {"epochs": 1}}
    with pytest.raises(ValueError, match="pix2pix.preprocess.resolution must be a positive multiple of 64"):
        preprocess_paired_data(raw, {"resolution": 96, "val_fraction": 0.1}, train, family="pix2pix")
    images, summary = preprocess_paired_data(raw, {"resolution": 64, "val_fraction": 0.1}, train, family="pix2pix")
    assert images["train/label_map/a.png"]().shape == (64, 64) and summary["resolution"] == 64
