"""The whole `shadow` pipeline through a real Kedro session on a tiny config.

The tiny run itself is the session-scoped ``tiny_trained_project`` fixture (tests/conftest.py),
shared with the notebook test so it happens once per test session."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from gan_pipelines.images import read_image
from gan_pipelines.pipeline_registry import register_pipelines


def test_registry_has_each_stage_and_shadow_is_their_sum():
    pipelines = register_pipelines()
    stages = [f"shadow.{s}" for s in ("ingest", "preprocess", "train_attention", "train_generator", "evaluate", "report")]
    assert set(stages) | {"shadow.predict", "shadow.export"} <= set(pipelines)
    shadow_nodes = {n.name for n in pipelines["shadow"].nodes}
    assert shadow_nodes == {n.name for s in stages for n in pipelines[s].nodes}
    assert pipelines["__default__"].nodes == pipelines["shadow"].nodes


def test_shadow_pipeline_end_to_end(tiny_trained_project, project, kedro_run):
    data = tiny_trained_project / "data"
    # Versioned image folders: one snapshot each, with the Shadow-AR layout inside.
    (raw_version,) = list((data / "01_raw/shadow_raw").iterdir())
    raw = raw_version / "shadow_raw"
    assert len(list((raw / "train/noshadow").glob("*.png"))) == 24
    assert len(list((raw / "test/shadow_mask").glob("*.png"))) == 6
    (input_version,) = list((data / "05_model_input/shadow").iterdir())
    assert {p.name for p in (input_version / "shadow").iterdir()} == {"train", "val", "test"}
    assert len(list((data / "06_models/shadow_generator.pt").glob("*/shadow_generator.pt"))) == 1

    metrics = json.loads((data / "08_reporting/shadow_metrics.json").read_text())
    assert {"model", "identity", "ground_truth_attention", "attention", "meta"} <= set(metrics)
    assert metrics["identity"]["GBER"] == pytest.approx(0.5)
    assert metrics["meta"]["num_test_images"] == 6 and metrics["meta"]["resolution"] == 32
    assert metrics["meta"]["shadow_mask"] == "exact (synthetic)"
    # The trained model's numbers are real numbers and it beats adding no shadow where it matters.
    for method in ("model", "identity", "ground_truth_attention"):
        assert all(math.isfinite(metrics[method][key]) for key in ("GRMSE", "LRMSE", "GSSIM", "LSSIM", "GPSNR", "LPSNR"))
    # margin: the tiny run's spread across machines (tests/conftest.py, TINY_PARAMS) leaves >= 2.4
    assert metrics["model"]["LRMSE"] < metrics["identity"]["LRMSE"] - 1
    assert metrics["model"]["LPSNR"] > metrics["identity"]["LPSNR"]
    # Bootstrap intervals beside the values; adding no shadow has GBER 0.5 on every image: no noise.
    for key in ("LRMSE", "GBER", "within_30deg_share"):
        low, high = metrics["model"][f"{key}_ci95"]
        assert low <= metrics["model"][key] <= high
    assert metrics["identity"]["GBER_ci95"] == [0.5, 0.5]
    assert metrics["identity"]["shadow_strength_median"] is None  # identity draws no shadow
    assert "identity.shadow_strength_median_ci95" in metrics["meta"]["unavailable"]
    assert {"shadow_strength_median", "shadow_darkening_median", "n_strength_scored"} <= set(metrics["model"])
    per_image = pd.read_csv(data / "08_reporting/shadow_test_metrics_per_image.csv")
    assert len(per_image) == 6 * 3
    html = (data / "08_reporting/shadow_report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5  # 3 grids + 2 curve figures
    assert "ground_truth_attention" in html
    # The default generator takes the projection hint: evaluate saves it for the report's grids.
    (predictions,) = list((data / "07_model_output/shadow_test_predictions").iterdir())
    hints = [read_image(p) for p in (predictions / "shadow_test_predictions/test/projection_hint").glob("*.png")]
    assert len(hints) == 6 and all(set(np.unique(h)) <= {0, 255} for h in hints)

    # A second run adds snapshots instead of overwriting the first. It runs on a copy of the raw
    # data (in the fresh `project`), so the shared tiny project stays as the full run left it.
    shutil.copytree(data / "01_raw", project / "data/01_raw")
    kedro_run(project, "shadow.ingest")
    assert len(list((project / "data/01_raw/shadow_raw").iterdir())) == 2


def test_bad_parameter_stops_before_training(project, kedro_run, tiny_params):
    tiny_params["shadow"]["train_attention"]["model"] = {"encoder": "resnet999"}
    kedro_run(project, "shadow.ingest", tiny_params)
    kedro_run(project, "shadow.preprocess", tiny_params)
    with pytest.raises(ValueError, match="shadow.train_attention.model.*resnet999"):
        kedro_run(project, "shadow.train_attention", tiny_params)
    assert not (project / "data/06_models/shadow_attention.pt").exists()
