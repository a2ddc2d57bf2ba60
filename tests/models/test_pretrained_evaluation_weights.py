"""Local lookup of the Inception-v3 and LPIPS weights used by offline evaluation: absent ->
(None, reason); present -> the networks really load from the files (random weights here)."""

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from gan_pipelines.models.pretrained import (
    LPIPS_CHANNELS, LPIPS_FILE_NAME, VGG16_FILE_NAME, find_inception_weights, find_lpips_weights,
    fid_inception_network, load_inception_features, load_lpips,
)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    return checkpoints


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def test_absent_weights_give_reasons(hub):
    path, reason = find_inception_weights()
    assert path is None
    assert reason.startswith("Inception-v3 weights not found locally") and "pt_inception-2015-12-05-*.pth" in reason
    path, reason = find_lpips_weights()
    assert path is None and "LPIPS linear weights" in reason and "VGG16 backbone" in reason


def test_fid_inception_file_is_preferred_and_loads(hub):
    torch.manual_seed(0)
    net = fid_inception_network()
    fid_file = hub / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(net.state_dict(), fid_file)
    (hub / "inception_v3_google-0cc3c7bd.pth").write_bytes(b"not read")
    path, reason = find_inception_weights()
    assert path == fid_file and reason.startswith("TF-Inception")
    features = load_inception_features(path)
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out = features(images)
    assert out.shape == (2, 2048) and torch.isfinite(out).all()
    assert torch.equal(features.body.blocks[0][0].conv.weight, net.Conv2d_1a_3x3.conv.weight)


def test_torchvision_inception_file_loads_with_a_warning_reason(hub):
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    torch.save(net.state_dict(), hub / "inception_v3_google-0cc3c7bd.pth")
    path, reason = find_inception_weights()
    assert path.name.startswith("inception_v3_google") and "not the TF-Inception" in reason
    with torch.no_grad():
        out = load_inception_features(path)(torch.rand(2, 3, 40, 40))
    assert out.shape == (2, 2048)
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, hub / "inception_v3_google-0cc3c7bd.pth")
    with pytest.raises(ValueError, match="inception_v3_google-0cc3c7bd.pth: weights do not fit"):
        load_inception_features(path)


def test_lpips_needs_both_files_and_is_zero_for_identical_images(hub):
    torch.manual_seed(1)
    torch.save([torch.rand(1, c, 1, 1) for c in LPIPS_CHANNELS], hub / LPIPS_FILE_NAME)
    path, reason = find_lpips_weights()
    assert path is None and "VGG16 backbone" in reason and "LPIPS linear" not in reason
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}, hub / VGG16_FILE_NAME)
    path, reason = find_lpips_weights()
    assert path == hub / LPIPS_FILE_NAME and reason.startswith("LPIPS-VGG")
    lpips = load_lpips(path, hub / VGG16_FILE_NAME)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        same, different = lpips(x, x), lpips(x, y)
    assert same.shape == (2,) and torch.allclose(same, torch.zeros(2))
    assert (different > 0).all()
    torch.save([torch.rand(3)], hub / LPIPS_FILE_NAME)
    with pytest.raises(ValueError, match="expected 5 LPIPS layer weights"):
        load_lpips(path, hub / VGG16_FILE_NAME)
