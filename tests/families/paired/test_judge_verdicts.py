"""A judge whose verdicts hold across machines: fp32 always, its seed and data hash recorded,
one judge per data content shared between families, intervals beside every seg_* score, the
spread over judge seeds, and evaluate refusing a judge or generator trained on other data."""

import logging

import numpy as np
import pytest
import torch

from gan_pipelines.families.paired.evaluation import check_trained_on, evaluate_methods
from gan_pipelines.families.paired.judge import train_judge
from gan_pipelines.image_folders import content_hash
from gan_pipelines.metrics.intervals import bootstrap_interval
from gan_pipelines.metrics.segmentation import segmentation_score_intervals, segmentation_scores

from .judge_data import JUDGE_PARAMS, make_folder, stacked, trained_judge

SHORT = {**JUDGE_PARAMS, "training": {**JUDGE_PARAMS["training"], "epochs": 2}}


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- fp32 and what the judge records ---------------------------------------------------------

def test_the_judge_trains_in_fp32_and_records_precision_seed_and_data_hash():
    folder, bundle, _ = trained_judge()
    assert bundle["meta"]["precision"] == "fp32"
    assert bundle["meta"]["judge"] == {
        "precision": "fp32", "seed": 0, "data_hash": content_hash(folder, ["picture", "label_map"], ("train", "val")),
    }


@pytest.mark.parametrize("precision", ["auto", "bf16", "fp16"])
def test_another_judge_precision_is_refused_naming_the_key(precision):
    params = {**SHORT, "training": {**SHORT["training"], "precision": precision}}
    with pytest.raises(ValueError, match=rf"train_judge\.training\.precision is '{precision}'.*always trains in fp32"):
        train_judge(make_folder(), params)


def test_a_missing_precision_means_fp32(one_thread, monkeypatch):
    """What the engine is asked for, whatever the CPU would pick under auto."""
    import gan_pipelines.families.paired.judge as module

    seen = []
    real = module.run_training
    monkeypatch.setattr(module, "run_training", lambda f, args, config: seen.append(config.precision) or real(f, args, config))
    training = {k: v for k, v in SHORT["training"].items() if k != "precision"}
    bundle, _ = train_judge(make_folder(), {**SHORT, "training": {**training, "epochs": 1}})
    assert seen == ["fp32"] and bundle["meta"]["judge"]["precision"] == "fp32"


# -- content hash ----------------------------------------------------------------------------

def test_content_hash_is_the_same_for_byte_identical_folders_and_moves_with_one_pixel():
    first, second = make_folder(), make_folder()
    kinds = ["picture", "label_map"]
    assert content_hash(first, kinds) == content_hash(second, kinds)  # two renders, same bytes
    changed = dict(second)
    image = changed["train/picture/003.png"]().copy()
    image[5, 7, 1] ^= 1
    changed["train/picture/003.png"] = lambda: image
    assert content_hash(changed, kinds) != content_hash(first, kinds)
    # only the named kinds and splits count: the test split and other kinds are free to differ
    test_changed = {**first, "test/picture/000.png": lambda: image}
    assert content_hash(test_changed, kinds) == content_hash(first, kinds)
    assert content_hash({**first, "train/instance_map/000.png": lambda: image}, kinds) == content_hash(first, kinds)
    with pytest.raises(ValueError, match="no image of kind"):
        content_hash(first, ["sketch"])


# -- one judge per data set ------------------------------------------------------------------

def test_families_with_byte_identical_data_share_one_judge(tmp_path, one_thread, monkeypatch, caplog):
    import gan_pipelines.families.paired.judge as module

    trainings = []
    real = module.run_training
    monkeypatch.setattr(module, "run_training", lambda f, args, config: trainings.append(args[3]) or real(f, args, config))
    store = str(tmp_path / "judges")
    params = {**SHORT, "shared_store": store}
    first, history = train_judge(make_folder(), params, section="pix2pix.train_judge")
    with caplog.at_level(logging.INFO, logger=module.__name__):
        # another family (its own state path, spade_train_judge.pt), a re-render of the same scenes
        second, second_history = train_judge(make_folder(), params, section="spade.train_judge")
    assert trainings == ["pix2pix.train_judge"]  # trained once
    assert "reusing" in caplog.text
    for key, tensor in first["state_dicts"]["segmenter"].items():
        assert torch.equal(tensor, second["state_dicts"]["segmenter"][key])
    assert second["meta"]["judge"] == first["meta"]["judge"]
    assert list(second_history["val_miou"]) == list(history["val_miou"])
    # other data, or other learned settings: a judge of its own
    train_judge(make_folder(seed=1), params, section="x.train_judge")
    train_judge(make_folder(), {**params, "lr": 0.001}, section="y.train_judge")
    assert trainings == ["pix2pix.train_judge", "x.train_judge", "y.train_judge"]
    assert len(list((tmp_path / "judges").iterdir())) == 3


# -- intervals -------------------------------------------------------------------------------

def test_bootstrap_interval_of_a_proportion_matches_the_normal_approximation():
    """100 pictures of 10 pixels, half all right, half all wrong: pixel accuracy 0.5 with a
    standard error of sqrt(0.25 / 100) = 0.05, so a 95% interval of about 0.5 +- 0.098."""
    right = np.array([[10, 0], [0, 0]])
    wrong = np.array([[0, 10], [0, 0]])
    confusions = np.stack([right] * 50 + [wrong] * 50)
    intervals = segmentation_score_intervals(confusions, n_resamples=4000)
    low, high = intervals["pixel_acc"]
    assert 0.38 < low < 0.43 and 0.57 < high < 0.62
    assert intervals == segmentation_score_intervals(confusions, n_resamples=4000)  # seeded
    # identical pictures: no spread
    same = segmentation_score_intervals(np.stack([right + wrong] * 20), n_resamples=200)
    assert same["pixel_acc"] == (0.5, 0.5)


def test_resamples_keep_the_pooled_definition():
    """The statistic sees the resampled pictures' summed matrix: mIoU of a sum, not a mean of IoUs."""
    seen = []
    confusions = np.stack([np.array([[3, 1], [0, 4]]), np.array([[0, 0], [2, 5]])])

    def statistic(indices):
        seen.append(indices.copy())
        return [segmentation_scores(confusions[indices].sum(axis=0))["miou"]]

    [(low, high)] = bootstrap_interval(2, statistic, n_resamples=200)
    possible = {segmentation_scores(confusions[list(i)].sum(axis=0))["miou"] for i in ((0, 0), (0, 1), (1, 1))}
    assert low in possible and high in possible and low < high
    assert all(len(i) == 2 for i in seen)
    with pytest.raises(ValueError, match="at least 2 test images"):
        bootstrap_interval(1, statistic)


def test_every_seg_score_carries_its_interval_and_the_judge_is_described():
    folder, bundle, _ = trained_judge()
    labels = stacked(folder, "test", "label_map").astype(np.int64)
    real = stacked(folder, "test", "picture")
    grey = np.full_like(real, 120)
    metrics, _, meta = evaluate_methods({"grey": grey}, real, labels, bundle, {"bootstrap_resamples": 500})
    for method in ("grey", "real"):
        for name in ("pixel_acc", "mean_class_acc", "miou"):
            value, (low, high) = metrics[method][f"seg_{name}"], metrics[method][f"seg_{name}_ci95"]
            assert isinstance(value, float) and low <= value <= high
    assert metrics["real"]["seg_miou_ci95"][0] > metrics["grey"]["seg_miou_ci95"][1]  # told apart
    assert meta["judge"]["precision"] == "fp32" and meta["judge"]["seed"] == 0
    assert meta["judge"]["data_hash"] == bundle["meta"]["judge"]["data_hash"]
    assert "_judge_seeds" not in " ".join(metrics["real"])  # no spread judges trained


def test_spread_seeds_train_more_judges_and_score_under_each(one_thread):
    folder = make_folder()
    params = {**SHORT, "spread_seeds": [1, 2]}
    bundle, _ = train_judge(folder, params)
    assert [entry["seed"] for entry in bundle["spread_judges"]] == [1, 2]
    first = bundle["state_dicts"]["segmenter"]
    other = bundle["spread_judges"][0]["state_dicts"]["segmenter"]
    assert any(not torch.equal(first[k], other[k]) for k in first)  # another draw
    labels = stacked(folder, "test", "label_map").astype(np.int64)
    real = stacked(folder, "test", "picture")
    metrics, _, meta = evaluate_methods({}, real, labels, bundle, {"bootstrap_resamples": 200})
    seeds = metrics["real"]["seg_miou_judge_seeds"]
    assert len(seeds) == 3 and seeds[0] == metrics["real"]["seg_miou"]
    assert meta["judge"]["spread_seeds"] == [1, 2]
    with pytest.raises(ValueError, match="spread_seeds .* differ from training.seed 0"):
        train_judge(folder, {**SHORT, "spread_seeds": [0]})


# -- evaluate refuses stale judges and generators --------------------------------------------

def test_a_judge_of_other_data_is_refused_or_with_allow_stale_warned(caplog):
    folder, bundle, _ = trained_judge()
    assert check_trained_on(make_folder(), bundle, "segmentation judge", allow_stale=False, section="s")
    other = make_folder(seed=3)
    with pytest.raises(ValueError, match=r"s: the segmentation judge was trained on other data .*s\.allow_stale: true"):
        check_trained_on(other, bundle, "segmentation judge", allow_stale=False, section="s")
    with caplog.at_level(logging.WARNING):
        assert not check_trained_on(other, bundle, "segmentation judge", allow_stale=True, section="s")
    assert "scoring anyway" in caplog.text
    old = {**bundle, "meta": {k: v for k, v in bundle["meta"].items() if k != "judge"}}
    with pytest.raises(ValueError, match="records no hash of its training data"):
        check_trained_on(folder, old, "segmentation judge", allow_stale=False, section="s")


def test_a_generator_is_checked_over_the_kinds_it_learned_from():
    folder = make_folder()
    kinds = ["label_map", "picture"]
    generator = {"meta": {"data_hash": content_hash(folder, kinds), "data_hash_kinds": kinds}}
    assert check_trained_on(folder, generator, "pix2pix generator", allow_stale=False, section="s")
    with pytest.raises(ValueError, match="pix2pix generator was trained on other data"):
        check_trained_on(make_folder(seed=5), generator, "pix2pix generator", allow_stale=False, section="s")
