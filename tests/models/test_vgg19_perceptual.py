"""pix2pixHD/SPADE VGG19 perceptual loss: local-only lookup, loading, layer weights, values."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import vgg19
from torchvision.models.vgg import cfgs, make_layers

from gan_pipelines.models.losses import VGG19_LAYER_INDICES, VGG19_LAYER_WEIGHTS, VGG19PerceptualLoss
from gan_pipelines.models.pretrained import (
    VGG19_FILE_NAME,
    build_vgg19_perceptual_loss,
    find_vgg19_weights,
    load_vgg19_features,
)


@pytest.fixture(scope="module")
def vgg19_state_dict() -> dict[str, torch.Tensor]:
    """A random state dict with torchvision's vgg19(weights=None) feature keys and shapes.

    The shapes come from vgg19(weights=None) built on the meta device; the values from the same
    layers built for real. The 400 MB classifier is left out (the loader ignores it)."""
    with torch.device("meta"):
        reference = {k: v.shape for k, v in vgg19(weights=None).state_dict().items() if k.startswith("features.")}
    torch.manual_seed(0)
    state_dict = {f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}
    assert {k: v.shape for k, v in state_dict.items()} == reference
    return state_dict


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub folder: TORCH_HOME/hub/checkpoints."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    return checkpoints


def test_layer_indices_are_the_relu_x_1_activations():
    features = make_layers(cfgs["E"])
    convs_before = [sum(isinstance(m, torch.nn.Conv2d) for m in features[:i]) for i in VGG19_LAYER_INDICES]
    # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 follow the 1st, 3rd, 5th, 9th and 13th conv.
    assert convs_before == [1, 3, 5, 9, 13]
    assert all(isinstance(features[i], torch.nn.ReLU) for i in VGG19_LAYER_INDICES)
    assert VGG19_LAYER_WEIGHTS == (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def test_missing_weights_give_none_and_a_reason(hub, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.models.pretrained"):
        loss, reason = build_vgg19_perceptual_loss({"weights_path": str(tmp_path / "absent.pth")})
    assert loss is None
    assert reason.startswith("disabled: weights not found (looked in ")
    assert str(tmp_path / "absent.pth") in reason and VGG19_FILE_NAME in reason and "vgg19-*.pth" in reason
    assert any("VGG19 perceptual loss is disabled" in r.getMessage() for r in caplog.records)
    assert find_vgg19_weights() is None
    with pytest.raises(FileNotFoundError, match="VGG19 weights .* not found"):
        build_vgg19_perceptual_loss({"if_unavailable": "error"})
    assert build_vgg19_perceptual_loss({"enabled": False}) == (None, "disabled by config")


def test_bad_config_is_refused(hub):
    with pytest.raises(ValueError, match="unknown VGG19 perceptual loss config keys"):
        build_vgg19_perceptual_loss({"reduction": "mean"})
    with pytest.raises(ValueError, match="if_unavailable must be one of"):
        build_vgg19_perceptual_loss({"if_unavailable": "download"})


def test_a_local_file_loads_and_the_loss_is_zero_only_for_identical_images(hub, tmp_path, vgg19_state_dict):
    path = tmp_path / "vgg19-xxxx.pth"
    torch.save(vgg19_state_dict, path)
    loss, status = build_vgg19_perceptual_loss({"weights_path": str(path)})
    assert isinstance(loss, VGG19PerceptualLoss) and status == f"loaded {path}"
    assert len(loss.features) == 30
    assert torch.equal(loss.features[28].weight, vgg19_state_dict["features.28.weight"])  # conv5_1

    torch.manual_seed(1)
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    other = torch.rand(2, 3, 32, 32) * 2 - 1
    assert loss(image, image.clone()).item() == 0.0
    value = loss(image, other)
    assert value.item() > 0.0 and value.dtype == torch.float32
    assert not any(p.requires_grad for p in loss.parameters())


def test_the_hub_cache_is_searched_and_vgg19_bn_is_not_taken(hub, vgg19_state_dict):
    torch.save({"features.0.weight": torch.zeros(1)}, hub / "vgg19_bn-c79401a0.pth")
    assert find_vgg19_weights() is None
    torch.save(vgg19_state_dict, hub / "vgg19-12345678.pth")
    assert find_vgg19_weights() == hub / "vgg19-12345678.pth"
    loss, status = build_vgg19_perceptual_loss()
    assert isinstance(loss, VGG19PerceptualLoss) and status == f"loaded {hub / 'vgg19-12345678.pth'}"


def test_a_file_that_does_not_fit_is_refused(tmp_path, vgg19_state_dict):
    path = tmp_path / "vgg19-bad.pth"
    broken = dict(vgg19_state_dict)
    broken["features.28.weight"] = torch.zeros(512, 256, 3, 3)
    torch.save(broken, path)
    with pytest.raises(ValueError, match=r"vgg19-bad.pth: weights do not fit the network: wrong shapes"):
        load_vgg19_features(path)


def test_loss_value_is_the_weighted_l1_of_the_five_activations(vgg19_state_dict):
    features = make_layers(cfgs["E"])
    features.load_state_dict({k[len("features."):]: v for k, v in vgg19_state_dict.items()})
    loss = VGG19PerceptualLoss(features)
    torch.manual_seed(2)
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1

    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = 0.0
    with torch.no_grad():
        a, b = ((x + 1) / 2 - mean) / std, ((y + 1) / 2 - mean) / std
        for index, layer in enumerate(features[:30]):
            a, b = layer(a), layer(b)
            if index in VGG19_LAYER_INDICES:
                expected += VGG19_LAYER_WEIGHTS[VGG19_LAYER_INDICES.index(index)] * F.l1_loss(a, b).item()
    assert loss(x, y).item() == pytest.approx(expected, rel=1e-5)

    prediction = x.clone().requires_grad_()
    loss(prediction, y).backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"VGG19PerceptualLoss expects two \(N, 3, H, W\) images"):
        loss(x, y[:, :1])
    with pytest.raises(ValueError, match="at least 30 layers"):
        VGG19PerceptualLoss(features[:20])
