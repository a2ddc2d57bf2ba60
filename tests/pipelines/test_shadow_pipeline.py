"""The whole `shadow` pipeline through a real Kedro session on a tiny config.

The tiny run itself is the session-scoped ``tiny_trained_project`` fixture (tests/conftest.py),
shared with the notebook test so it happens once per test session."""

import json
import shutil

import pandas as pd
import pytest

from gan_pipelines.pipeline_registry import register_pipelines


def test_registry_has_each_stage_and_shadow_is_their_sum():
    pipelines = register_pipelines()
    stages = ["ingest", "preprocess", "train_attention", "train_generator", "evaluate", "report"]
    assert set(stages) <= set(pipelines)
    shadow_nodes = {n.name for n in pipelines["shadow"].nodes}
    assert shadow_nodes == {n.name for s in stages for n in pipelines[s].nodes}
    assert pipelines["__default__"].nodes == pipelines["shadow"].nodes


def test_shadow_pipeline_end_to_end(tiny_trained_project, project, kedro_run):
    data = tiny_trained_project / "data"
    # Versioned image folders: one snapshot each, with the Shadow-AR layout inside.
    (raw_version,) = list((data / "01_raw/shadow_raw").iterdir())
    raw = raw_version / "shadow_raw"
    assert len(list((raw / "train/noshadow").glob("*.png"))) == 10
    assert len(list((raw / "test/shadow_mask").glob("*.png"))) == 3
    (input_version,) = list((data / "05_model_input/shadow").iterdir())
    assert {p.name for p in (input_version / "shadow").iterdir()} == {"train", "val", "test"}
    assert len(list((data / "06_models/shadow_generator.pt").glob("*/shadow_generator.pt"))) == 1

    metrics = json.loads((data / "08_reporting/metrics.json").read_text())
    assert {"model", "identity", "ground_truth_attention", "attention", "meta"} <= set(metrics)
    assert metrics["identity"]["GBER"] == pytest.approx(0.5)
    assert metrics["meta"]["num_test_images"] == 3 and metrics["meta"]["resolution"] == 32
    per_image = pd.read_csv(data / "08_reporting/shadow_test_metrics_per_image.csv")
    assert len(per_image) == 3 * 3
    html = (data / "08_reporting/shadow_report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5  # 3 grids + 2 curve figures
    assert "ground_truth_attention" in html

    # A second run adds snapshots instead of overwriting the first. It runs on a copy of the raw
    # data (in the fresh `project`), so the shared tiny project stays as the full run left it.
    shutil.copytree(data / "01_raw", project / "data/01_raw")
    kedro_run(project, "ingest")
    assert len(list((project / "data/01_raw/shadow_raw").iterdir())) == 2


def test_bad_parameter_stops_before_training(project, kedro_run, tiny_params):
    params = {**tiny_params, "train_attention": {**tiny_params["train_attention"], "model": {"encoder": "resnet999"}}}
    kedro_run(project, "ingest", params)
    kedro_run(project, "preprocess", params)
    with pytest.raises(ValueError, match="train_attention.model.*resnet999"):
        kedro_run(project, "train_attention", params)
    assert not (project / "data/06_models/shadow_attention.pt").exists()
