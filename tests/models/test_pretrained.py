"""Local VGG16 lookup for the perceptual loss: found, missing + disable, missing + error."""

from __future__ import annotations

import logging

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from gan_pipelines.models import PerceptualLoss, build_perceptual_loss, find_vgg16_weights
from gan_pipelines.models.pretrained import VGG16_FILE_NAME


def _vgg16_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's VGG16 key layout (``features.N.*``); the classifier is left out to keep the
    file small (the loader ignores it)."""
    torch.manual_seed(3)
    return {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub folder: TORCH_HOME/hub/checkpoints."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    return checkpoints


def test_key_layout_matches_torchvision_vgg16():
    from torchvision.models import vgg16

    with torch.device("meta"):  # no memory, no init cost
        reference = vgg16(weights=None).state_dict()
    ours = _vgg16_state_dict()
    assert {k: v.shape for k, v in reference.items() if k.startswith("features.")} == {
        k: v.shape for k, v in ours.items()
    }


def test_found_in_hub_cache_and_really_loaded(hub):
    state_dict = _vgg16_state_dict()
    torch.save(state_dict, hub / VGG16_FILE_NAME)
    loss, status = build_perceptual_loss({"enabled": True})
    assert isinstance(loss, PerceptualLoss)
    assert status == f"loaded {hub / VGG16_FILE_NAME}"
    assert torch.equal(loss.features[0].weight, state_dict["features.0.weight"])
    assert torch.equal(loss.features[14].bias, state_dict["features.14.bias"])
    assert len(loss.features) == 16 and isinstance(loss.features[15], torch.nn.ReLU)


def test_configured_path_first_then_any_vgg16_file(hub, tmp_path):
    torch.save(_vgg16_state_dict(), hub / "vgg16-12345678.pth")
    assert find_vgg16_weights(None) == hub / "vgg16-12345678.pth"
    own = tmp_path / "my_vgg.pth"
    torch.save(_vgg16_state_dict(), own)
    assert find_vgg16_weights(str(own)) == own
    assert find_vgg16_weights(str(tmp_path / "absent.pth")) == hub / "vgg16-12345678.pth"


def test_missing_and_disable_logs_warning(hub, caplog):
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.models.pretrained"):
        loss, status = build_perceptual_loss({"if_unavailable": "disable"})
    assert loss is None
    assert status.startswith("disabled: weights not found (looked in ") and VGG16_FILE_NAME in status
    assert any(r.levelno == logging.WARNING and "perceptual loss is disabled" in r.getMessage() for r in caplog.records)


def test_missing_and_error_lists_places(hub):
    with pytest.raises(FileNotFoundError) as error:
        build_perceptual_loss({"if_unavailable": "error", "weights_path": "/nowhere/vgg.pth"})
    message = str(error.value)
    assert "/nowhere/vgg.pth" in message and str(hub / VGG16_FILE_NAME) in message and "vgg16-*.pth" in message


def test_disabled_by_config_looks_nowhere(hub):
    assert build_perceptual_loss({"enabled": False}) == (None, "disabled by config")


def test_wrong_shapes_are_refused(hub):
    state_dict = _vgg16_state_dict()
    state_dict["features.5.weight"] = torch.zeros(128, 32, 3, 3)
    torch.save(state_dict, hub / VGG16_FILE_NAME)
    with pytest.raises(ValueError, match=r"weights do not fit the network: wrong shapes \['5.weight"):
        build_perceptual_loss({})


def test_bad_config_is_refused(hub):
    with pytest.raises(ValueError, match=r"unknown perceptual loss config keys \['layer'\]"):
        build_perceptual_loss({"layer": "relu3_3"})
    with pytest.raises(ValueError, match="if_unavailable must be one of"):
        build_perceptual_loss({"if_unavailable": "random"})
