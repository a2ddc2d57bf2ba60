"""compare_label_to_photo in process, on random-weight checkpoints (the judge too: what is tested
here is the plumbing and the arithmetic, not the models): supervised and unsupervised models in
one table, the unsupervised ones fed the colour code of the test label maps, models not trained
listed, and diversity measured in the judge's feature space with the real pictures as the scale."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from gan_pipelines.families.paired.evaluation import evaluate_methods
from gan_pipelines.image_folders import content_hash
from gan_pipelines.metrics.diversity import feature_diversity, l1_pairs, real_feature_diversity, real_pair_diversity
from gan_pipelines.models.segmenter import JUDGE_FAMILY, build_segmenter, segmentation_judge_from_bundle

from .test_label_to_photo_models import _arrays
from .test_training_review import _bundle as paired_bundle

SEGMENTER = {"encoder": "resnet18", "encoder_depth": 3, "decoder_channels": [16, 8, 8]}


@pytest.fixture(autouse=True)
def _isolated(one_thread, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no LPIPS / Inception weights here
    yield


def _folder(labels_offset: int = 0) -> dict:
    """pix2pix's layout: 4 train, 4 val, 4 test samples of 32 px, classes 0..2 (+ offset)."""
    folder = {}
    for split, seed in (("train", 0), ("val", 1), ("test", 2)):
        arrays = _arrays(4, seed=seed)
        arrays["label_map"] = arrays["label_map"] + labels_offset
        for kind in ("label_map", "picture"):
            for index, array in enumerate(arrays[kind]):
                folder[f"{split}/{kind}/s{index}.png"] = (lambda a=array: a)
    return folder


def _judge(folder: dict, num_classes: int = 3) -> dict:
    """A random-weight segmentation judge of this data (recorded hash), as train_judge writes it."""
    torch.manual_seed(0)
    net = build_segmenter(SEGMENTER, num_classes)
    return {"state_dicts": {"segmenter": net.state_dict()},
            "model_config": {"segmenter": {**SEGMENTER, "num_classes": num_classes}},
            "meta": {"family": JUDGE_FAMILY, "resolution": [32, 32], "ignore_index": None, "num_classes": num_classes,
                     "image_kind": "picture", "label_kind": "label_map", "trained_at": "2026-12-07T00:00:00Z",
                     "judge": {"data_hash": content_hash(folder, ["picture", "label_map"]), "precision": "fp32",
                               "seed": 0}}}


def _cyclegan_bundle(namespace: str = "cyclegan_labels", **meta) -> dict:
    """A random-weight CycleGAN checkpoint of the unpaired family, as its train node writes it."""
    from gan_pipelines.families.unpaired.networks import build_cyclegan, generator_config
    from gan_pipelines.stages.training_setup import checkpoint_bundle

    torch.manual_seed(0)
    generator = generator_config({"ngf": 8, "n_blocks": 1}, 32)
    networks = build_cyclegan(generator)
    result = SimpleNamespace(
        best_state_dicts={name: net.state_dict() for name, net in networks.items()}, best_metrics={}, best_epoch=1,
        history=pd.DataFrame({"epoch": [1, 2], "seconds": [1.5, 2.5], "images_per_second": [10.0, 30.0]}),
        device="cpu", precision="fp32", resumed_from_epoch=None)
    return checkpoint_bundle(result, modules=("G_AB", "G_BA"),
                             model_config={"model": "cyclegan", "generator": generator, "resolution": 32},
                             meta={"family": namespace, "network": "generator", "resolution": 32, **meta})


def _munit_bundle() -> dict:
    """A random-weight MUNIT checkpoint (tiny auto-encoders, 8-d style code) of the unpaired family."""
    from gan_pipelines.families.unpaired.networks import build_munit, munit_generator_config
    from gan_pipelines.stages.training_setup import checkpoint_bundle

    torch.manual_seed(0)
    generator = munit_generator_config({"dim": 8, "style_dim": 8, "n_res": 1, "mlp_dim": 16}, 32)
    networks = build_munit(generator)
    result = SimpleNamespace(best_state_dicts={name: net.state_dict() for name, net in networks.items()},
                             best_metrics={}, best_epoch=1, history=pd.DataFrame({"seconds": [1.0]}), device="cpu",
                             precision="fp32", resumed_from_epoch=None)
    return checkpoint_bundle(result, modules=("G_A", "G_B"),
                             model_config={"model": "munit", "generator": generator, "resolution": 32},
                             meta={"family": "munit_labels", "network": "generator", "resolution": 32})


class _NotSaved:
    """A lazy checkpoint with nothing saved (Kedro's ``@lazy`` dataset before the first run)."""

    def exists(self) -> bool:
        return False

    def load(self):
        raise AssertionError("a checkpoint that does not exist is never loaded")


PARAMS = {"device": "cpu", "diversity_samples": 2, "num_examples": 1, "batch_size": 4,
          "metrics": {"device": "cpu", "bootstrap_resamples": 200}}


def test_supervised_and_unsupervised_models_in_one_table(monkeypatch):
    import gan_pipelines.families.unpaired.inference as inference
    from gan_pipelines.families.paired.nodes.compare import compare_label_to_photo_models
    from gan_pipelines.families.unpaired.synthetic import LABEL_COLOURS
    from gan_pipelines.models import count_parameters

    translated = []
    real_translate = inference.translate
    monkeypatch.setattr(inference, "translate", lambda generator, images, **kw: (
        translated.append(np.array(images)), real_translate(generator, images, **kw))[1])
    folder = _folder()
    judge = _judge(folder)
    cyclegan = _cyclegan_bundle()
    metrics, html, markdown = compare_label_to_photo_models(
        folder, judge, PARAMS, pix2pix=paired_bundle("pix2pix", "pix2pix"), cyclegan=cyclegan, ugatit=_NotSaved(),
        munit=_munit_bundle())

    assert set(metrics) == {"pix2pix", "cyclegan", "munit", "class_mean_painter", "nearest_neighbour", "real", "meta"}
    assert [metrics[m]["supervision"] for m in ("pix2pix", "cyclegan", "munit", "class_mean_painter")] \
        == ["supervised", "unsupervised", "unsupervised", "supervised"]
    meta = metrics["meta"]
    assert set(meta["not_trained"]) == {"pix2pixhd", "spade", "spade_vae", "ugatit"}
    assert "kedro run --pipeline ugatit_labels" in meta["not_trained"]["ugatit"]
    assert meta["models"]["cyclegan"]["namespace"] == "cyclegan_labels"
    for method in ("pix2pix", "cyclegan", "class_mean_painter", "real"):
        low, high = metrics[method]["seg_miou_ci95"]
        assert low <= metrics[method]["seg_miou"] <= high

    # the unpaired model's inputs: each test label map in the labels_photo colour code (class 1
    # of the first test map is (220, 20, 60)), first the scored outputs, then K = 2 copies per map
    test_labels = np.stack([folder[f"test/label_map/s{i}.png"]() for i in range(4)])
    expected = np.zeros((*test_labels.shape, 3), np.uint8)
    for class_id, colour in enumerate(LABEL_COLOURS):
        expected[test_labels == class_id] = colour
    assert tuple(translated[0][0][test_labels[0] == 1][0]) == (220, 20, 60)
    assert np.array_equal(translated[0], expected)
    # the scored outputs of cyclegan and munit, then per model K = 2 copies per map for the
    # diversity samples (drawn when the protocol scores that model)
    assert len(translated) == 2 * (1 + 4)
    assert np.array_equal(translated[1], expected)
    for calls in (translated[2:6], translated[6:]):
        assert all(np.array_equal(t, np.repeat(expected[i:i + 1], 2, axis=0)) for i, t in enumerate(calls))

    # training time and parameters from the checkpoint; deterministic models: diversity exactly 0
    from gan_pipelines.families.unpaired.bundles import generators_from_bundle

    assert metrics["cyclegan"]["train_seconds"] == 4.0 and metrics["cyclegan"]["train_images_per_second"] == 20.0
    generators = generators_from_bundle(cyclegan, "cyclegan_labels")[0]  # both directions were trained
    assert metrics["cyclegan"]["generator_parameters"] == count_parameters(generators["a2b"]) + count_parameters(
        generators["b2a"])
    for model in ("pix2pix", "cyclegan"):
        assert metrics[model]["diversity"] == 0.0 and metrics[model]["diversity_l1"] == 0.0
        assert metrics[model]["diversity_lpips"] is None
    # the scale: the real test pictures' mean pairwise distance in the judge's features
    targets = np.stack([folder[f"test/picture/s{i}.png"]() for i in range(4)])
    features = segmentation_judge_from_bundle(judge, device="cpu").features(targets)
    assert metrics["real"]["diversity"] == pytest.approx(real_feature_diversity(features), rel=1e-9)
    assert metrics["real"]["diversity"] > 0
    assert meta["unavailable"]["diversity_lpips"].startswith("LPIPS weights not found locally")
    assert meta["diversity"]["feature_space"].startswith("the paired judge's segmenter features, pooled")
    assert meta["models"]["cyclegan"]["diversity"]["samples_per_map"] == 2
    # MUNIT: K seeded style codes per map (as SPADE+VAE's z) give different outputs
    assert metrics["munit"]["diversity"] > 0 and metrics["munit"]["diversity_l1"] > 0
    assert meta["models"]["munit"]["diversity"]["style_codes"] == "numpy default_rng([0, map index])"

    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in markdown.splitlines() if line.startswith("|")}
    supervision = dict(zip(rows["metric"], rows["supervision"]))
    assert supervision["cyclegan"] == "unsupervised" and supervision["pix2pix"] == "supervised"
    assert dict(zip(rows["metric"], rows["diversity"]))["better"] == "scale: real"
    assert "Not trained yet" in html and "munit_labels" in html


def test_an_unpaired_model_is_refused_when_the_labels_have_no_colour():
    """Label maps with a class beyond the labels_photo colour code (6 colours) cannot be drawn as
    the unpaired models' inputs: refused by name, before anything is scored."""
    from gan_pipelines.families.paired.nodes.compare import compare_label_to_photo_models

    folder = _folder(labels_offset=5)  # classes 5..7
    with pytest.raises(ValueError, match=r"no model can be compared.*cyclegan: the test label maps hold class 7 "
                                         r"but the labels_photo colour code has 6 colours"):
        compare_label_to_photo_models(folder, _judge(folder, 8), PARAMS, cyclegan=_cyclegan_bundle())
    with pytest.raises(ValueError, match=r"cyclegan: its checkpoint records the label colours \[\[0, 0, 0\]\]"):
        compare_label_to_photo_models(_folder(), _judge(_folder()), PARAMS,
                                      cyclegan=_cyclegan_bundle(label_colours=[[0, 0, 0]]))
    with pytest.raises(ValueError, match=r"cyclegan: its generator was trained at 64 px but the pix2pix test split "
                                         r"is 32 px; retrain cyclegan_labels at 32 px"):
        compare_label_to_photo_models(_folder(), _judge(_folder()), PARAMS, cyclegan=_cyclegan_bundle(resolution=64))


def test_style_codes_reach_a_style_taking_translator_in_order():
    """MUNIT's translator takes ``(x, style)``; translate() calls ``generator(x)`` batch by batch:
    the wrapper hands each output its own code, in order, across batches."""
    from gan_pipelines.families.paired.nodes.compare import _StyledTranslator
    from gan_pipelines.families.unpaired.inference import translate

    class AddStyle(torch.nn.Module):  # output = input + the style code's first value
        n_downsampling = 2

        def forward(self, x, style):
            assert style.shape == (len(x), 2, 1, 1)
            return (x + style[:, :1]).clamp(-1, 1)

    codes = np.array([[0.0, 9], [0.25, 9], [0.5, 9], [0.75, 9], [1.5, 9]], np.float32)
    images = np.zeros((5, 8, 8, 3), np.uint8)  # -1 in the generator's scale
    out = translate(_StyledTranslator(AddStyle(), codes), images, device="cpu", batch_size=2)
    # (-1 + c + 1) * 127.5 rounded: 0, 31.875, 63.75, 95.625 and (clamped at 0.5) 191.25
    assert out[:, 0, 0, 0].tolist() == [0, 32, 64, 96, 191]
    with pytest.raises(ValueError, match="5 style codes for more pictures"):
        translate(_StyledTranslator(AddStyle(), codes), np.zeros((6, 8, 8, 3), np.uint8), device="cpu")


def test_diversity_in_the_paired_protocol_is_worked_out_by_hand():
    """K outputs per map: the judge-feature, pixel and (injected) LPIPS figures equal the metric
    functions on the same features; the real pictures' figures are their scale."""
    folder = _folder()
    judge_bundle = _judge(folder)
    targets = np.stack([folder[f"test/picture/s{i}.png"]() for i in range(4)])
    labels = np.stack([folder[f"test/label_map/s{i}.png"]() for i in range(4)]).astype(np.int64)
    rng = np.random.default_rng(0)
    varied = rng.integers(0, 256, (4, 3, 32, 32, 3), dtype=np.uint8)
    repeated = np.repeat(targets[:, None], 3, axis=1)
    metrics, per_image, meta = evaluate_methods(
        {"varied": varied[:, 0], "fixed": targets}, targets, labels, judge_bundle, PARAMS["metrics"],
        samples={"varied": varied, "fixed": lambda: repeated}, feature_extractors={"lpips": l1_pairs})
    judge = segmentation_judge_from_bundle(judge_bundle, device="cpu")
    features = judge.features(varied.reshape(12, 32, 32, 3)).reshape(4, 3, -1)
    assert metrics["varied"]["diversity"] == pytest.approx(feature_diversity(features).mean(), rel=1e-9)
    assert metrics["fixed"]["diversity"] == 0.0 and metrics["fixed"]["diversity_l1"] == 0.0
    # pixel L1 of uniform noise pairs: E|U - V| = 1/3 of the range, within sampling noise
    assert metrics["varied"]["diversity_l1"] == pytest.approx(1 / 3, abs=0.01)
    assert metrics["varied"]["diversity_lpips"] == metrics["varied"]["diversity_l1"]  # the injected distance
    assert metrics["real"]["diversity"] == pytest.approx(real_feature_diversity(judge.features(targets)), rel=1e-9)
    assert metrics["real"]["diversity_l1"] == pytest.approx(real_pair_diversity(targets, l1_pairs))
    assert "diversity_lpips" not in meta["unavailable"]  # LPIPS was given
    rows = per_image[per_image["method"] == "varied"]
    assert rows["diversity"].to_numpy() == pytest.approx(feature_diversity(features), rel=1e-9)
    with pytest.raises(ValueError, match=r"samples of 'varied' must be uint8 \(N, K >= 2, H, W, 3\)"):
        evaluate_methods({"varied": varied[:, 0]}, targets, labels, judge_bundle, PARAMS["metrics"],
                         samples={"varied": varied[:3]})
