"""The unpaired evaluation protocol on tiny hand-made domains (A dark, B bright, a red square
on a plain ground, class map square vs ground) with a hand-made judge whose verdicts are known:
the classifier calls a picture B when it is bright, the segmenter finds red. Then the evaluate
node end to end on a tiny generator and judge."""

import math

import numpy as np
import pytest
import torch

from gan_pipelines.families.unpaired.baselines import identity
from gan_pipelines.families.unpaired.evaluation import (
    PER_IMAGE_COLUMNS, DomainPictures, empty_domain, evaluate_translations, load_test_domains,
)
from gan_pipelines.families.unpaired.judge import DomainClassifier, UnpairedJudge

SIZE, COUNT = 16, 8
GROUND = {"A": (40, 40, 40), "B": (200, 200, 200)}
SQUARE = {"A": (90, 20, 20), "B": (250, 120, 120)}
# hidden-pair L1 of identity, by hand: 240 ground pixels differ by 160 in each channel, the 16
# square pixels by (160, 100, 100); over 256 pixels x 3 channels on the 0..1 scale
IDENTITY_L1 = (240 * 3 * 160 + 16 * (160 + 100 + 100)) / (256 * 3 * 255)
IDENTITY_MSE = (240 * 3 * 160**2 + 16 * (160**2 + 2 * 100**2)) / (256 * 3 * 255**2)
# a translation that paints everything B's ground: wrong on the 16 square pixels only
FLAT_L1 = 16 * (250 - 200 + 200 - 120 + 200 - 120) / (256 * 3 * 255)
# ... and its content: ground IoU 240/256 (the squares are called ground), square IoU 0
FLAT_MIOU = (240 / 256 + 0.0) / 2


def labels_of(index: int) -> np.ndarray:
    labels = np.zeros((SIZE, SIZE), np.int64)
    row, col = 1 + index % 4 * 3, 1 + index // 4 * 5
    labels[row:row + 4, col:col + 4] = 1
    return labels


def paint(labels: np.ndarray, domain: str) -> np.ndarray:
    return np.where(labels[..., None] == 1, np.array(SQUARE[domain], np.uint8), np.array(GROUND[domain], np.uint8))


def domains(*, with_labels=True, count=COUNT) -> dict[str, DomainPictures]:
    labels = np.stack([labels_of(i) for i in range(count)])
    names = [f"t{i}" for i in range(count)]
    return {d: DomainPictures(names, np.stack([paint(m, d) for m in labels]), labels if with_labels else None)
            for d in "AB"}


def perfect(direction: str, images: np.ndarray) -> np.ndarray:
    source, target = ("A", "B") if direction == "a2b" else ("B", "A")
    square = (images == np.array(SQUARE[source], np.uint8)).all(axis=-1)
    return np.where(square[..., None], np.array(SQUARE[target], np.uint8), np.array(GROUND[target], np.uint8))


def back(direction: str, translated: np.ndarray) -> np.ndarray:
    return perfect("b2a" if direction == "a2b" else "a2b", translated)


def flat(direction: str, images: np.ndarray) -> np.ndarray:
    target = "B" if direction == "a2b" else "A"
    return np.broadcast_to(np.array(GROUND[target], np.uint8), images.shape).copy()


def brightness_classifier(invert: bool = False) -> DomainClassifier:
    """Calls a picture B when its mean brightness is above mid-grey (A when ``invert``)."""
    net = DomainClassifier([1])
    with torch.no_grad():
        net.body[0].weight.zero_()
        net.body[0].weight[0, :, 1, 1] = 1 / 3  # the pixel's mean channel, in [-1, 1]
        net.body[0].bias.zero_()
        net.head.weight.copy_(torch.tensor([[-10.0], [10.0]]) * (-1 if invert else 1))
        net.head.bias.zero_()
    return net


class RedFinder:
    """A segmenter stand-in: class 1 where red exceeds green by more than 40."""

    def predict(self, images: np.ndarray) -> np.ndarray:
        return (images[..., 0].astype(np.int64) - images[..., 1] > 40).astype(np.int64)


def hand_judge(*, segmenters=True, invert=False) -> UnpairedJudge:
    found = {"A": RedFinder(), "B": RedFinder()} if segmenters else {}
    return UnpairedJudge(brightness_classifier(invert), found, resolution=(SIZE, SIZE), num_classes=2, device="cpu",
                         meta={"classifier_val_accuracy": 1.0})


def evaluate(test=None, translate=perfect, judge=None, **kwargs):
    kwargs.setdefault("baselines", {"identity": identity})
    kwargs.setdefault("bootstrap_resamples", 200)
    return evaluate_translations(test or domains(), translate, judge or hand_judge(), **kwargs)


def test_perfect_translation_scores_perfectly_and_identity_worse():
    result = evaluate(reconstruct=back)
    model, ident, real = result.metrics["model"], result.metrics["identity"], result.metrics["real"]
    for d in ("a2b", "b2a"):
        assert model[f"hidden_l1_{d}"] == 0.0 and model[f"hidden_psnr_{d}"] == 100.0
        assert model[f"hidden_ssim_{d}"] == pytest.approx(1.0)
        assert model[f"target_rate_{d}"] == 1.0 and model[f"content_miou_{d}"] == 1.0
        assert model[f"cycle_l1_{d}"] == 0.0
        assert ident[f"hidden_l1_{d}"] == pytest.approx(IDENTITY_L1)
        assert ident[f"hidden_psnr_{d}"] == pytest.approx(-10 * math.log10(IDENTITY_MSE))
        assert ident[f"target_rate_{d}"] == 0.0
        assert ident[f"cycle_l1_{d}"] is None  # a baseline has no inverse
        assert real[f"target_rate_{d}"] == 1.0 and real[f"content_miou_{d}"] == 1.0
        assert real[f"hidden_l1_{d}"] is None and real[f"kid_{d}"] is None
        # the model's pictures ARE the real target set; identity's are the other domain
        assert ident[f"kid_{d}"] > model[f"kid_{d}"]
        # intervals beside the values
        assert model[f"hidden_l1_{d}_ci95"] == [0.0, 0.0]
        low, high = ident[f"hidden_l1_{d}_ci95"]
        assert low == pytest.approx(IDENTITY_L1) and high == pytest.approx(IDENTITY_L1)
        assert model[f"content_miou_{d}_ci95"] == [1.0, 1.0]
        assert model[f"kid_{d}_ci95"] is None
    assert result.meta["hidden_pairs"] == {"a2b": COUNT, "b2a": COUNT}
    assert result.meta["classifier"]["test_accuracy"] == 1.0
    assert "kid_a2b_ci95" in result.meta["unavailable"]
    np.testing.assert_array_equal(result.outputs["model"]["a2b"], domains()["B"].images)
    np.testing.assert_array_equal(result.reconstructions["model"]["b2a"], domains()["B"].images)


def test_content_score_catches_a_translation_that_drops_the_objects():
    result = evaluate(translate=flat)
    model = result.metrics["model"]
    assert model["target_rate_a2b"] == 1.0  # bright enough to pass for B...
    assert model["hidden_l1_a2b"] == pytest.approx(FLAT_L1)
    assert model["content_miou_a2b"] == pytest.approx(FLAT_MIOU)  # ... but the squares are gone
    low, high = model["content_miou_a2b_ci95"]
    assert low <= FLAT_MIOU <= high and high < 0.6
    assert model["cycle_l1_a2b"] is None and result.meta["unavailable"]["model.cycle_l1_a2b"].startswith("no reconstruction")


def test_interval_of_a_varying_score_brackets_it():
    test = domains()
    images = test["B"].images.copy()
    images[:4] = 0  # four of the eight hidden targets are black: identity's L1 varies by picture
    test["B"] = DomainPictures(test["B"].names, images, test["B"].labels)
    model = evaluate(test, translate=perfect, judge=hand_judge(), min_classifier_accuracy=0.5).metrics["model"]
    low, high = model["hidden_l1_a2b_ci95"]
    assert low < model["hidden_l1_a2b"] < high


def test_target_rate_void_when_the_classifier_errs_on_real_pictures():
    test = domains()
    images = test["B"].images.copy()
    images[0] = paint(test["B"].labels[0], "A")  # one real B picture looks like A: B accuracy 7/8
    test["B"] = DomainPictures(test["B"].names, images, test["B"].labels)
    result = evaluate(test)
    assert result.meta["classifier"]["test_accuracy"] == pytest.approx((1.0 + 7 / 8) / 2)  # balanced
    for method in ("model", "identity", "real"):
        for d in ("a2b", "b2a"):
            assert result.metrics[method][f"target_rate_{d}"] is None
            assert result.metrics[method][f"target_rate_{d}_ci95"] is None
    assert "below min_classifier_accuracy 0.95" in result.meta["unavailable"]["target_rate_a2b"]
    assert result.per_image["target_prob"].notna().all()  # the probabilities stay, for inspection
    # the same classifier passes a looser bar
    passed = evaluate(test, min_classifier_accuracy=0.9)
    assert passed.metrics["model"]["target_rate_a2b"] == 1.0
    assert passed.metrics["real"]["target_rate_a2b"] == pytest.approx(7 / 8)
    inverted = evaluate(judge=hand_judge(invert=True))
    assert inverted.metrics["model"]["target_rate_b2a"] is None
    assert inverted.meta["classifier"]["test_accuracy"] == 0.0


def test_content_null_with_the_reason_without_class_maps():
    no_maps = evaluate(domains(with_labels=False))
    for method in ("model", "identity", "real"):
        assert no_maps.metrics[method]["content_miou_a2b"] is None
    assert no_maps.meta["unavailable"]["content_miou_a2b"] == "the test pictures of domain A have no class maps"
    assert "no class maps" in no_maps.meta["unavailable"]["real.content_miou_a2b"]
    assert no_maps.metrics["model"]["hidden_l1_a2b"] == 0.0  # the rest is scored as before
    no_segmenter = evaluate(judge=hand_judge(segmenters=False))
    assert no_segmenter.metrics["model"]["content_miou_b2a"] is None
    assert "no segmenter" in no_segmenter.meta["unavailable"]["content_miou_b2a"]


def test_without_test_b_there_are_no_hidden_pairs_and_no_b2a():
    test = domains()
    test["B"] = empty_domain(SIZE, SIZE)
    result = evaluate(test)
    model = result.metrics["model"]
    assert model["hidden_l1_a2b"] is None and "no hidden pairs" in result.meta["unavailable"]["hidden_l1_a2b"]
    assert model["target_rate_a2b"] == 1.0  # the classifier was checked on the A pictures there are
    assert result.meta["classifier"]["test_accuracy_per_domain"] == {"A": 1.0}
    assert model["kid_a2b"] is None and model["target_rate_b2a"] is None
    assert result.meta["unavailable"]["target_rate_b2a"] == "no test pictures of domain B"
    b2a = result.per_image[result.per_image["direction"] == "b2a"]
    assert set(b2a["method"]) == {"real"}  # the real A pictures are b2a's target set: still scored
    assert result.metrics["real"]["target_rate_b2a"] == 1.0 and result.metrics["real"]["target_rate_a2b"] is None


def test_per_image_rows():
    result = evaluate(reconstruct=back)
    rows = result.per_image
    assert list(rows.columns) == list(PER_IMAGE_COLUMNS)
    assert len(rows) == 3 * 2 * COUNT  # model, identity, real; both directions
    identity_rows = rows[(rows["method"] == "identity") & (rows["direction"] == "b2a")]
    np.testing.assert_allclose(identity_rows["hidden_l1"], IDENTITY_L1)
    assert list(identity_rows["name"]) == [f"t{i}" for i in range(COUNT)]
    assert rows.loc[rows["method"] == "real", "hidden_l1"].isna().all()
    assert (rows.loc[rows["method"] == "model", "cycle_l1"] == 0).all()


def test_standard_fid_only_with_inception_features(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: no local weights
    without = evaluate()
    assert without.metrics["model"]["fid_inception_a2b"] is None
    assert "not found locally" in without.meta["unavailable"]["fid_inception_a2b"]
    mean_colour = lambda images: images.reshape(len(images), -1, 3).mean(axis=1).astype(np.float64)  # noqa: E731
    injected = evaluate(feature_extractors={"inception": mean_colour}, translate=perfect)
    assert injected.metrics["model"]["fid_inception_a2b"] == pytest.approx(0.0, abs=1e-6)
    assert injected.metrics["identity"]["fid_inception_a2b"] > 1.0


def test_refusals():
    with pytest.raises(ValueError, match="'real'"):
        evaluate(baselines={"real": identity})
    with pytest.raises(ValueError, match="'model' must be uint8"):
        evaluate(translate=lambda d, x: x.astype(np.float32))
    with pytest.raises(ValueError, match="min_classifier_accuracy"):
        evaluate(min_classifier_accuracy=0)


# --------------------------------------------------------------------------------------------
# The node
# --------------------------------------------------------------------------------------------


def model_input(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    folder = {}
    for split, count in (("train", 12), ("val", 4), ("test", 4)):
        for domain in "AB":
            for i in range(count):
                name = f"t{i}" if split == "test" else f"{domain.lower()}{i}"
                labels = labels_of(i + (0 if split == "test" else 3))
                picture = np.clip(paint(labels, domain) + rng.normal(0, 8, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
                folder[f"{split}/{domain}/{name}.png"] = (lambda v=picture: v)
                folder[f"{split}/{domain}_labels/{name}.png"] = (lambda v=labels.astype(np.uint8): v)
    return folder


@pytest.fixture(scope="module")
def node_inputs():
    from gan_pipelines.families.unpaired.networks import build_cyclegan, generator_config
    from gan_pipelines.families.unpaired.nodes.train_judge import train_unpaired_judge
    from gan_pipelines.image_folders import content_hash

    torch.set_num_threads(1)
    folder = model_input()
    summary = {"source": "synthetic", "pair": "test", "label_nc": 2, "label_colours": None,
               "unavailable": {"standard_fid": "a note from ingest"}}
    params = {"classifier": {"channels": [8], "batch_size": 8, "training": {"epochs": 2, "progress": False}},
              "segmenter": {"model": {"encoder": "mobilenet_v2", "encoder_depth": 3, "decoder_channels": [8, 8, 8]},
                            "batch_size": 8, "training": {"epochs": 1, "progress": False}}}
    judge, _ = train_unpaired_judge(folder, summary, params, family="cyclegan")
    torch.manual_seed(0)
    config = generator_config({"ngf": 4, "n_blocks": 1}, SIZE)
    networks = build_cyclegan(config)
    generator = {
        "state_dicts": {name: net.state_dict() for name, net in networks.items()},
        "model_config": {"model": "cyclegan", "generator": config, "resolution": SIZE},
        "meta": {"family": "cyclegan", "network": "generator", "data_hash_kinds": ["A", "B"],
                 "data_hash": content_hash(folder, ["A", "B"], ("train", "val"))},
    }
    return folder, summary, generator, judge


def test_evaluate_node_scores_every_method_and_writes_predictions(node_inputs):
    from gan_pipelines.families.unpaired.nodes.evaluate import evaluate_unpaired_model

    folder, summary, generator, judge = node_inputs
    params = {"device": "cpu", "bootstrap_resamples": 100}
    per_image, metrics, predictions = evaluate_unpaired_model(folder, summary, generator, judge, params,
                                                              family="cyclegan")
    assert set(metrics) == {"model", "identity", "colour_transfer", "histogram_matching", "real", "meta"}
    for name in ("hidden_l1", "hidden_psnr", "hidden_ssim", "target_rate", "content_miou", "kid", "cycle_l1"):
        for d in ("a2b", "b2a"):
            assert f"{name}_{d}" in metrics["model"] and f"{name}_{d}_ci95" in metrics["model"]
            assert f"{name}_{d}" in metrics["colour_transfer"]
    assert metrics["model"]["cycle_l1_a2b"] is not None and metrics["model"]["hidden_l1_b2a"] is not None
    expected = {f"test/{m}_{d}/t{i}.png" for m in ("model", "colour_transfer", "histogram_matching", "model_cycle")
                for d in ("a2b", "b2a") for i in range(4)}
    assert set(predictions) == expected
    assert all(image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8 for image in predictions.values())
    assert list(per_image.columns) == list(PER_IMAGE_COLUMNS)
    assert set(per_image["method"]) == {"model", "identity", "colour_transfer", "histogram_matching", "real"}
    meta = metrics["meta"]
    assert meta["resolution"] == SIZE
    assert meta["trained_on_this_data"] == {"generator": True, "judge": True}
    assert meta["split_sizes"]["train"] == {"A": 12, "B": 12} and meta["split_sizes"]["test"] == {"A": 4, "B": 4}
    assert meta["unavailable"]["standard_fid"] == "a note from ingest"
    assert meta["baselines"]["histogram_matching"]["B"]["reference"].startswith("train/B/")
    loaded = load_test_domains(folder)
    np.testing.assert_array_equal(predictions["test/model_a2b/t0.png"].shape, loaded["A"].images[0].shape)


def test_evaluate_node_refuses_a_judge_trained_on_other_data(node_inputs):
    from gan_pipelines.families.unpaired.nodes.evaluate import evaluate_unpaired_model

    folder, summary, generator, judge = node_inputs
    other = dict(folder)
    other.update({key: (lambda v=loader(): 255 - v) for key, loader in folder.items()
                  if key.startswith("train/B_labels/")})  # other class maps: another content hash
    params = {"device": "cpu", "bootstrap_resamples": 100}
    assert "B_labels" in judge["meta"]["data_hash_kinds"]
    with pytest.raises(ValueError, match=r"cyclegan.evaluate: the cyclegan judge was trained on other data.*allow_stale"):
        evaluate_unpaired_model(other, summary, generator, judge, params, family="cyclegan")
    _, metrics, _ = evaluate_unpaired_model(other, summary, generator, judge, {**params, "allow_stale": True},
                                            family="cyclegan")
    assert metrics["meta"]["trained_on_this_data"] == {"generator": True, "judge": False}
    with pytest.raises(ValueError, match="belongs to"):
        evaluate_unpaired_model(folder, summary, {**generator, "meta": {"family": "pix2pix"}}, judge, params,
                                family="cyclegan")


def test_compare_node_scores_trained_models_lists_the_others_and_pairs_their_differences(node_inputs):
    from gan_pipelines.families.unpaired.networks import build_munit, munit_generator_config
    from gan_pipelines.families.unpaired.nodes.compare import compare_unpaired_models

    folder, _, cyclegan, judge = node_inputs
    torch.manual_seed(1)
    config = munit_generator_config({"dim": 4, "n_res": 1, "mlp_dim": 8}, SIZE)
    networks = build_munit(config)
    munit = {
        "state_dicts": {name: networks[name].state_dict() for name in ("G_A", "G_B")},
        "model_config": {"model": "munit", "generator": config, "resolution": SIZE, "style_dim": 8},
        "meta": {**cyclegan["meta"], "family": "munit"},
        "history": {"seconds": [2.0, 3.0], "images_per_second": [10.0, 12.0]},
    }
    params = {"device": "cpu", "bootstrap_resamples": 100, "diversity_samples": 3, "num_examples": 2}
    metrics, html, markdown = compare_unpaired_models(folder, judge, params, cyclegan=cyclegan, munit=munit,
                                                      ugatit=None)
    assert {"cyclegan", "munit", "identity", "colour_transfer", "histogram_matching", "real", "meta"} == set(metrics)
    assert "kedro run --pipeline ugatit" in metrics["meta"]["not_trained"]["ugatit"]
    assert metrics["cyclegan"]["diversity_a2b"] == 0.0 and metrics["munit"]["diversity_a2b"] > 0
    assert metrics["munit"]["train_seconds"] == 5.0 and metrics["munit"]["train_epochs"] == 2
    parameters = sum(t.numel() for name in ("G_A", "G_B") for t in networks[name].state_dict().values())
    assert metrics["munit"]["generator_parameters"] == parameters
    # the paired difference is the mean of the per-picture differences over the hidden pairs
    difference = metrics["meta"]["paired_differences"]["hidden_l1_a2b"]["munit - cyclegan"]
    assert difference["n"] == 4 and difference["ci95"][0] <= difference["mean"] <= difference["ci95"][1]
    assert html.count("data:image/png;base64,") == 2 and "| hidden_l1_a2b |" in markdown
