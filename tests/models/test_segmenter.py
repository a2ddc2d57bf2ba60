"""The segmenter, the judge wrapper and the segmentation training task."""

import contextlib

import numpy as np
import pytest
import torch

from gan_pipelines.metrics.segmentation import class_confusion_matrix, segmentation_scores
from gan_pipelines.models.segmenter import (
    JUDGE_FAMILY, SegmentationJudge, Segmenter, build_segmenter, segmentation_judge_from_bundle,
)
from gan_pipelines.training.segmentation import SegmentationTask, class_palette

SMALL = {"encoder": "resnet18", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def test_segmenter_shapes_and_features():
    torch.manual_seed(0)
    net = build_segmenter(SMALL, 4).eval()
    images = torch.rand(2, 3, 16, 24) * 2 - 1
    assert net(images).shape == (2, 4, 16, 24)
    features = net.features(images)
    assert features.shape == (2, net.feature_size) and net.feature_size == 128  # resnet18 layer2
    assert net.weights_status.startswith("random init")
    with pytest.raises(ValueError, match="multiple of 8"):
        net(torch.zeros(1, 3, 12, 16))


def test_segmenter_config_is_checked():
    with pytest.raises(ValueError, match="Unknown parameter"):
        build_segmenter({"encoderr": "resnet18"}, 3)
    with pytest.raises(ValueError, match="did you mean"):
        build_segmenter({"encoder": "resnet81"}, 3)
    with pytest.raises(ValueError, match="decoder_channels must be 3"):
        build_segmenter({"encoder_depth": 3}, 3)  # the default widths are 5
    with pytest.raises(ValueError, match="num_classes"):
        build_segmenter(SMALL, 1)


def test_imagenet_weights_are_looked_up_locally_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    net = build_segmenter({**SMALL, "encoder_weights": "imagenet"}, 3)
    assert net.weights_status.startswith("random: ImageNet weights for encoder 'resnet18' not found")
    with pytest.raises(FileNotFoundError):
        build_segmenter({**SMALL, "encoder_weights": "imagenet", "if_unavailable": "error"}, 3)


def _bundle(net: Segmenter, **meta):
    return {
        "state_dicts": {"segmenter": net.state_dict()},
        "model_config": {"segmenter": {**SMALL, "num_classes": net.num_classes}},
        "meta": {"family": JUDGE_FAMILY, "resolution": [16, 16], "ignore_index": None, **meta},
    }


def test_judge_predicts_and_embeds_in_batches():
    torch.manual_seed(1)
    net = build_segmenter(SMALL, 3)
    judge = segmentation_judge_from_bundle(_bundle(net), batch_size=2, device="cpu")
    images = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    predicted, features = judge.predict(images), judge.features(images)
    assert predicted.dtype == np.int64 and predicted.shape == (5, 16, 16)
    assert predicted.min() >= 0 and predicted.max() < 3
    assert features.dtype == np.float64 and features.shape == (5, 128)
    # the same numbers one image at a time and all at once (eval mode: no batch statistics)
    single = SegmentationJudge(judge.net, batch_size=1, device="cpu")
    np.testing.assert_array_equal(single.predict(images), predicted)
    np.testing.assert_allclose(single.features(images), features, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1).argmax(1).numpy()
    np.testing.assert_array_equal(predicted, expected)


def test_judge_refuses_other_checkpoints_and_sizes():
    net = build_segmenter(SMALL, 3)
    with pytest.raises(ValueError, match="not a segmentation judge: its meta.family is 'shadow'"):
        segmentation_judge_from_bundle(_bundle(net, family="shadow"))
    with pytest.raises(ValueError, match="not a segmentation judge"):
        segmentation_judge_from_bundle({"state_dicts": {}})
    judge = segmentation_judge_from_bundle(_bundle(net), device="cpu")
    with pytest.raises(ValueError, match="trained on 16x16"):
        judge.predict(np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        judge.predict(np.zeros((1, 16, 16), np.uint8))


class _LookupNet(torch.nn.Module):
    """'Predicts' a fixed class map per image, looked up by the image's first pixel value."""

    def __init__(self, maps: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.maps, self.num_classes = maps, num_classes
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, images):
        index = images[:, 0, 0, 0].round().long()
        return torch.nn.functional.one_hot(self.maps[index], self.num_classes).permute(0, 3, 1, 2).float() * self.scale


class _Step:
    device = torch.device("cpu")

    def __init__(self, epoch=1):
        self.epoch = epoch

    def autocast(self):
        return contextlib.nullcontext()


def test_validation_gives_whole_set_scores_not_batch_means():
    rng = np.random.default_rng(0)
    num_classes, n = 4, 6
    targets = torch.from_numpy(rng.integers(0, num_classes, (n, 8, 8)))
    predicted = targets.clone()
    predicted[:3] = torch.from_numpy(rng.integers(0, num_classes, (3, 8, 8)))  # first images badly predicted
    predicted[3:, :2] = 3  # later ones partly
    targets[4, 0, :] = 255  # don't care
    task = SegmentationTask(_LookupNet(predicted, num_classes), num_classes, 1e-3, ignore_index=255)
    images = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 3, 8, 8)
    step = _Step()
    sums, batch_means = {}, []
    for start, stop in ((0, 2), (2, 3), (3, 6)):  # uneven batches, as the engine may give
        out = task.validation_step({"image": images[start:stop], "target": targets[start:stop, None]}, step)
        batch_means.append(segmentation_scores(class_confusion_matrix(predicted[start:stop], targets[start:stop], 4, 255)))
        for key, value in out.items():
            sums[key] = sums.get(key, 0.0) + value * (stop - start)
    whole = segmentation_scores(class_confusion_matrix(predicted, targets, num_classes, 255))
    for name in ("pixel_acc", "mean_class_acc", "miou"):
        assert sums[name] / n == pytest.approx(whole[name], rel=1e-9)
    naive = (batch_means[0]["miou"] * 2 + batch_means[1]["miou"] + batch_means[2]["miou"] * 3) / n
    assert abs(naive - whole["miou"]) > 1e-3  # the case does tell the two apart
    # a new epoch starts a new sum
    out = task.validation_step({"image": images[3:], "target": targets[3:, None]}, _Step(epoch=2))
    alone = segmentation_scores(class_confusion_matrix(predicted[3:], targets[3:], num_classes, 255))
    assert out["miou"] == pytest.approx(alone["miou"])


def test_cross_entropy_ignores_dont_care_pixels():
    num_classes = 3
    maps = torch.tensor([[[0, 1], [2, 2]]])
    task = SegmentationTask(_LookupNet(maps, num_classes), num_classes, 1e-3, ignore_index=255)
    images = torch.zeros(1, 3, 2, 2)
    perfect = task._loss(task.net, {"image": images, "target": maps[:, None]}, _Step())[0]
    wrong_where_ignored = maps.clone()
    wrong_where_ignored[0, 0, 0] = 255
    loss = task._loss(task.net, {"image": images, "target": wrong_where_ignored[:, None]}, _Step())[0]
    # one-hot logits: each counted pixel costs log(e + 2) - 1 whatever is ignored
    expected = float(np.log(np.e + 2) - 1)
    assert perfect.item() == pytest.approx(expected, rel=1e-5)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    everything_ignored = torch.full_like(maps, 255)[:, None]
    assert task._loss(task.net, {"image": images, "target": everything_ignored}, _Step())[0].item() == 0.0


def test_palette_and_samples():
    palette = class_palette(6)
    assert palette.shape == (6, 3) and palette.min() >= 0 and palette.max() <= 1
    assert len({tuple(row.tolist()) for row in palette}) == 6
    maps = torch.tensor([[[0, 1], [2, 2]]])
    task = SegmentationTask(_LookupNet(maps, 3), 3, 1e-3)
    grid = task.sample_images({"image": torch.zeros(1, 3, 2, 2), "target": maps[:, None]})
    assert grid.shape == (3, 3, 2, 2)
    torch.testing.assert_close(grid[1], grid[2])  # prediction == target here


def test_recalibrate_batchnorm_gives_the_average_batch_statistics():
    from gan_pipelines.training.segmentation import recalibrate_batchnorm

    net = torch.nn.Sequential(torch.nn.BatchNorm2d(2)).eval()
    batches = [torch.randn(4, 2, 3, 3) * 2 + 5, torch.randn(4, 2, 3, 3) - 1]
    assert recalibrate_batchnorm(net, batches) == 2
    layer = net[0]
    expected_mean = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    expected_var = torch.stack([b.var(dim=(0, 2, 3), unbiased=True) for b in batches]).mean(0)
    torch.testing.assert_close(layer.running_mean, expected_mean)
    torch.testing.assert_close(layer.running_var, expected_var)
    assert layer.momentum == 0.1 and not net.training


class _NormThenLookup(_LookupNet):
    def __init__(self, maps, num_classes):
        super().__init__(maps, num_classes)
        self.norm = torch.nn.BatchNorm2d(3)

    def forward(self, images):
        self.norm(images)  # only its statistics matter here
        return super().forward(images * 0)  # map 0 whatever the image


def test_batchnorm_statistics_are_recomputed_before_each_validation():
    maps = torch.zeros(1, 4, 4, dtype=torch.long)
    net = _NormThenLookup(maps, 2).eval()
    calls = []

    def calibration():
        calls.append(1)
        yield {"image": torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)}  # 1.0 in model range
        yield {"image": torch.zeros((2, 3, 4, 4), dtype=torch.uint8)}  # -1.0

    task = SegmentationTask(net, 2, 1e-3, calibration_batches=calibration, calibration_max_batches=1)
    batch = {"image": torch.zeros(1, 3, 4, 4), "target": maps[:, None]}
    task.validation_step(batch, _Step(epoch=1))
    torch.testing.assert_close(net.norm.running_mean, torch.ones(3))  # only the first batch (max 1)
    assert not net.training and len(calls) == 1
    step = _Step(epoch=2)
    task.validation_step(batch, step)
    task.validation_step(batch, step)  # same pass: no second calibration
    assert len(calls) == 2
    assert task.hparams["precise_batchnorm"] == 1


def test_one_pass_gives_both_predictions_and_features():
    torch.manual_seed(2)
    judge = SegmentationJudge(build_segmenter(SMALL, 3), batch_size=2, device="cpu")
    images = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    classes, features = judge.predict_with_features(images)
    np.testing.assert_array_equal(classes, judge.predict(images))
    np.testing.assert_allclose(features, judge.features(images), rtol=1e-6)
