"""The paired evaluation protocol: methods, baselines and the real ceiling on one test set."""

import json
import math

import numpy as np
import pytest

from gan_pipelines.families.paired.baselines import class_mean_painter, nearest_neighbour_retrieval
from gan_pipelines.families.paired.evaluation import (
    bleed_counts, colourfulness, evaluate_methods, sketch_lines,
)
from gan_pipelines.families.paired.judge import judge_from_bundle
from gan_pipelines.metrics.distribution import frechet_distance, kernel_distance

from .judge_data import stacked, trained_judge


@pytest.fixture(autouse=True)
def _isolated(one_thread, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no Inception / LPIPS weights here
    yield


@pytest.fixture(scope="module")
def data():
    folder, bundle, _ = trained_judge()
    train_images, train_labels = stacked(folder, "train", "picture"), stacked(folder, "train", "label_map")
    targets = np.minimum(stacked(folder, "test", "picture"), 240)  # room for +10 below
    labels = stacked(folder, "test", "label_map").astype(np.int64)
    outputs = {
        "painter": class_mean_painter(train_images, train_labels, 3)(labels),
        "retrieval": nearest_neighbour_retrieval(train_images, train_labels)(labels),
        "noise": np.random.default_rng(0).integers(0, 256, targets.shape, dtype=np.uint8),
        "plus10": targets + 10,
    }
    return bundle, targets, labels, outputs


PARAMS = {"device": "cpu"}


def test_scores_order_methods_and_real_is_the_ceiling(data):
    bundle, targets, labels, outputs = data
    metrics, per_image, meta = evaluate_methods(outputs, targets, labels, bundle, PARAMS)
    assert list(metrics) == ["painter", "retrieval", "noise", "plus10", "real"]
    real, painter, noise = metrics["real"], metrics["painter"], metrics["noise"]
    assert real["l1"] == 0.0 and real["psnr"] == 100.0 and real["ssim"] == pytest.approx(1.0)
    assert metrics["plus10"]["l1"] == pytest.approx(10 / 255)
    assert metrics["plus10"]["psnr"] == pytest.approx(20 * math.log10(255 / 10))
    assert real["seg_miou"] > 0.6 and real["seg_pixel_acc"] > 0.85
    assert painter["seg_miou"] > noise["seg_miou"] + 0.3
    assert noise["seg_miou"] < 0.5
    assert painter["judge_fd"] < noise["judge_fd"]
    # the judge distances are exactly the distribution metrics on the judge's features
    judge = judge_from_bundle(bundle, device="cpu")
    real_features = judge.features(targets)
    assert painter["judge_fd"] == pytest.approx(frechet_distance(judge.features(outputs["painter"]), real_features))
    assert painter["judge_kid"] == pytest.approx(kernel_distance(judge.features(outputs["painter"]), real_features))
    # null with a reason, never 0
    assert real["judge_fd"] is None and "reference set" in meta["unavailable"]["real.judge_fd"]
    for name in ("fid_inception", "kid_inception", "lpips"):
        assert all(values[name] is None for values in metrics.values())
    assert meta["unavailable"]["fid_inception"].startswith("Inception-v3 weights not found locally")
    assert meta["unavailable"]["lpips"].startswith("LPIPS weights not found locally")
    assert "colourfulness_gap" not in painter  # no sketches given
    json.dumps(metrics, allow_nan=False)  # plain floats and None only
    assert meta["num_images"] == 4 and meta["resolution"] == [32, 32]
    assert meta["judge"]["num_classes"] == 3 and "miou" in meta["judge"]["val_metrics"]
    assert len(per_image) == 5 * 4 and set(per_image["method"]) == set(metrics)
    noise_rows = per_image[per_image["method"] == "noise"]
    expected = np.abs(outputs["noise"][2].astype(float) - targets[2]).mean() / 255
    assert noise_rows["l1"].iloc[2] == pytest.approx(expected)


def test_injected_feature_networks_are_used(data):
    bundle, targets, labels, outputs = data

    def colour_statistics(images):
        pixels = images.reshape(len(images), -1, 3).astype(np.float64)
        return np.concatenate([pixels.mean(axis=1), pixels.std(axis=1)], axis=1)

    def mean_difference(x, y):
        return np.abs(x.astype(np.float64) - y).reshape(len(x), -1).mean(axis=1) / 255

    chosen = {"painter": outputs["painter"], "noise": outputs["noise"]}
    metrics, per_image, meta = evaluate_methods(
        chosen, targets, labels, bundle, PARAMS,
        feature_extractors={"inception": colour_statistics, "lpips": mean_difference},
    )
    expected = frechet_distance(colour_statistics(outputs["noise"]), colour_statistics(targets))
    assert metrics["noise"]["fid_inception"] == pytest.approx(expected)
    assert metrics["noise"]["kid_inception"] == pytest.approx(
        kernel_distance(colour_statistics(outputs["noise"]), colour_statistics(targets))
    )
    assert metrics["noise"]["lpips"] == pytest.approx(metrics["noise"]["l1"])
    assert metrics["real"]["lpips"] == 0.0 and metrics["real"]["fid_inception"] is None
    assert "real.fid_inception" in meta["unavailable"] and "fid_inception" not in meta["unavailable"]
    assert meta["inception"] == "an injected feature extractor"
    assert "lpips" in per_image.columns


def test_colourfulness_by_hand():
    assert colourfulness(np.full((4, 4, 3), 90, np.uint8)) == 0.0
    half = np.zeros((2, 2, 3), np.uint8)
    half[:, 0] = [255, 0, 0]
    # rg: 255 or 0, yb: 127.5 or 0 -> sd and mean both (127.5, 63.75)
    assert colourfulness(half) == pytest.approx(1.3 * math.hypot(127.5, 63.75))


def test_bleed_by_hand():
    target = np.zeros((5, 9, 3), np.uint8)
    target[:, :4] = [220, 30, 30]  # red left of the line
    target[:, 5:] = [30, 30, 220]  # blue right of it
    lines = np.zeros((5, 9), bool)
    lines[:, 4] = True
    # each row: one horizontal crossing (cols 2 and 6), two ends; vertical ones land on the line
    assert bleed_counts(target, target, lines, offset=2, min_contrast=30) == (0, 10)
    output = target.copy()
    output[:2, 5:7] = [200, 40, 40]  # red crossed the line in rows 0 and 1
    assert bleed_counts(output, target, lines, offset=2, min_contrast=30) == (2, 10)
    # a line inside one colour region separates nothing: no crossing
    flat = np.full((5, 9, 3), 120, np.uint8)
    assert bleed_counts(output, flat, lines, offset=2, min_contrast=30) == (0, 0)
    sketch = np.full((5, 9), 255, np.uint8)
    sketch[:, 4] = 0
    np.testing.assert_array_equal(sketch_lines(sketch, 128), lines)
    np.testing.assert_array_equal(sketch_lines(np.repeat(sketch[..., None], 3, axis=2), 128), lines)


def test_sketch_metrics_in_the_protocol(data):
    bundle, targets, labels, outputs = data
    sketches = np.full(labels.shape, 255, np.uint8)
    sketches[:, :, :-1][labels[:, :, :-1] != labels[:, :, 1:]] = 0  # a line where the class changes
    sketches[:, :-1, :][labels[:, :-1, :] != labels[:, 1:, :]] = 0
    grey = np.repeat(targets.mean(axis=3, keepdims=True).astype(np.uint8), 3, axis=3)
    smeared = np.roll(targets, 4, axis=2)  # colours pushed 4 px right, across the lines
    metrics, per_image, meta = evaluate_methods(
        {"grey": grey, "smeared": smeared}, targets, labels, bundle, PARAMS, sketches=sketches,
    )
    assert metrics["real"]["colourfulness_gap"] == 0.0 and metrics["real"]["bleed_rate"] == 0.0
    assert metrics["grey"]["colourfulness_gap"] < -50
    assert metrics["smeared"]["bleed_rate"] > 0.2
    assert metrics["smeared"]["colourfulness_gap"] == pytest.approx(0.0, abs=15)
    assert {"colourfulness_gap", "bleed_rate"} <= set(per_image.columns)


def test_inputs_are_checked(data):
    bundle, targets, labels, outputs = data
    with pytest.raises(ValueError, match="'real' is the name"):
        evaluate_methods({"real": targets}, targets, labels, bundle, PARAMS)
    with pytest.raises(ValueError, match="outputs of 'small'"):
        evaluate_methods({"small": targets[:, :16]}, targets, labels, bundle, PARAMS)
    bad = labels.copy()
    bad[0, 0, :5] = 9
    with pytest.raises(ValueError, match=r"test labels holds values outside .*9 \(5 pixels\)"):
        evaluate_methods({"painter": outputs["painter"]}, targets, bad, bundle, PARAMS)
    with pytest.raises(ValueError, match="Unknown parameter"):
        evaluate_methods({}, targets, labels, bundle, {"devise": "cpu"})
    with pytest.raises(ValueError, match="not a segmentation judge"):
        evaluate_methods({}, targets, labels, {"meta": {"family": "pix2pix"}}, PARAMS)


def test_weights_found_locally_are_used_through_the_torch_wrappers(data, monkeypatch, tmp_path):
    """The present path of the lookup: the loaders' modules (tiny stand-ins here) run batched on
    [0, 1] images and their results become the metrics."""
    import torch

    import gan_pipelines.models.pretrained as pretrained

    class MeanColour(torch.nn.Module):  # stands in for Inception: (N, 3, H, W) in [0, 1] -> (N, 3)
        def forward(self, images):
            return images.mean(dim=(2, 3))

    class MeanAbs(torch.nn.Module):  # stands in for LPIPS: (N,) distances
        def forward(self, x, y):
            return (x - y).abs().mean(dim=(1, 2, 3))

    fake = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    monkeypatch.setattr(pretrained, "find_inception_weights", lambda path=None: (fake, f"TF-Inception from {fake}"))
    monkeypatch.setattr(pretrained, "load_inception_features", lambda path: MeanColour())
    monkeypatch.setattr(pretrained, "find_lpips_weights", lambda path=None: (fake, "LPIPS-VGG from here"))
    monkeypatch.setattr(pretrained, "find_vgg16_weights", lambda path=None: fake)
    monkeypatch.setattr(pretrained, "load_lpips", lambda lpips_path, vgg_path: MeanAbs())
    bundle, targets, labels, outputs = data
    metrics, _, meta = evaluate_methods({"noise": outputs["noise"]}, targets, labels, bundle,
                                        {"device": "cpu", "feature_batch_size": 3})
    colours = lambda images: images.reshape(len(images), -1, 3).mean(axis=1) / 255.0  # noqa: E731
    assert metrics["noise"]["fid_inception"] == pytest.approx(frechet_distance(colours(outputs["noise"]), colours(targets)))
    assert metrics["noise"]["lpips"] == pytest.approx(metrics["noise"]["l1"])
    assert meta["inception"].startswith("TF-Inception") and "fid_inception" not in meta["unavailable"]
