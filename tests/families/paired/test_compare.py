"""compare_label_to_photo through a real Kedro session: tiny pix2pix and SPADE trained in one project,
scored together on pix2pix's test split with one judge; untrained families are listed, not
scored; a project with no trained model gets a clear error."""

import json

import pytest

from .test_label_to_photo_families import _tiny


def test_compare_scores_every_trained_model_on_one_split(tmp_path, kedro_run, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / "compare")
    pix2pix = _tiny("spade")["spade"]
    pix2pix["train"] = {"batch_size": 8, "model": {"num_downs": 5}, "augmentation": None,
                        "training": {"progress": False, "cpu_threads": 1, "epochs": 2, "lr_constant_epochs": 1}}
    pix2pix.pop("evaluate")
    kedro_run(project, "pix2pix", {"pix2pix": pix2pix})
    kedro_run(project, "spade", _tiny("spade"))
    kedro_run(project, "compare_label_to_photo", {"compare_label_to_photo": {"diversity_samples": 3, "num_examples": 2}})

    metrics = json.loads((project / "data/08_reporting/compare_label_to_photo_metrics.json").read_text())
    assert set(metrics) == {"pix2pix", "spade", "class_mean_painter", "nearest_neighbour", "real", "meta"}
    meta = metrics["meta"]
    assert set(meta["not_trained"]) == {"pix2pixhd", "spade_vae", "cyclegan", "ugatit", "munit"}
    assert "kedro run --pipeline pix2pixhd" in meta["not_trained"]["pix2pixhd"]
    assert "kedro run --pipeline cyclegan_labels" in meta["not_trained"]["cyclegan"]
    assert meta["num_test_images"] == 4 and meta["resolution"] == 32
    # pix2pix was trained on the reference data itself; spade on its own render of the same
    # scenes: byte-identical, so the same data by content (a save-time version would say no)
    assert meta["models"]["pix2pix"]["trained_on_this_data"] is True
    assert meta["models"]["spade"]["trained_on_this_data"] is True
    assert meta["models"]["spade"]["trained_on_data_version"] != meta["data_version"]
    assert meta["judge_trained_on_this_data"] is True
    # one judge for both families: spade reused the one pix2pix trained (the shared store)
    spade_own = json.loads((project / "data/08_reporting/spade_metrics.json").read_text())
    assert spade_own["meta"]["judge"]["trained_at"] == meta["judge"]["trained_at"]
    assert spade_own["meta"]["judge"]["data_hash"] == meta["judge"]["data_hash"]
    assert meta["judge"]["precision"] == "fp32"
    assert meta["models"]["spade"]["generator_type"] == "spade"
    for model in ("pix2pix", "spade"):
        values = metrics[model]
        assert 0 <= values["seg_miou"] <= 1 and 0 <= values["l1"] <= 1
        assert values["generator_parameters"] > 1000 and values["train_epochs"] == 2
        assert values["train_seconds"] > 0 and values["train_images_per_second"] > 0
        assert values["diversity"] == 0  # deterministic generators: measured, not assumed
        assert values["supervision"] == "supervised"
        low, high = values["seg_miou_ci95"]
        assert low <= values["seg_miou"] <= high
    # the reference family's own evaluation scored its model on the same split with the same judge
    own = json.loads((project / "data/08_reporting/pix2pix_metrics.json").read_text())
    assert metrics["pix2pix"]["seg_miou"] == pytest.approx(own["model"]["seg_miou"], abs=1e-6)
    assert metrics["real"]["seg_miou"] == pytest.approx(own["real"]["seg_miou"], abs=1e-6)
    assert metrics["class_mean_painter"]["l1"] == pytest.approx(own["class_mean_painter"]["l1"], abs=1e-9)
    html = (project / "data/08_reporting/compare_label_to_photo_report.html").read_text()
    assert "one column per model" in html and "data:image/png;base64" in html and "Not trained yet" in html
    assert "Segmentation scores with their uncertainty" in html


def test_compare_without_any_trained_model_says_what_to_run(tmp_path, kedro_run, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / "empty")
    params = _tiny("spade")["spade"]
    kedro_run(project, "pix2pix.ingest", {"pix2pix": {"ingest": params["ingest"]}})
    kedro_run(project, "pix2pix.preprocess", {"pix2pix": {"preprocess": params["preprocess"],
                                                          "train": {"model": {"num_downs": 5}, "augmentation": None}}})
    kedro_run(project, "pix2pix.train_judge", {"pix2pix": {"train_judge": params["train_judge"]}})
    with pytest.raises(ValueError, match=r"no label map -> photo model is trained yet.*kedro run --pipeline pix2pix"):
        kedro_run(project, "compare_label_to_photo")
