"""The whole `shadow` pipeline through a real Kedro session on a tiny config."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from gan_pipelines.pipeline_registry import register_pipelines

PROJECT_ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "ingest": {"synthetic": {"num_train": 10, "num_test": 3, "resolution": 64}},
    "preprocess": {"resolution": 32, "val_fraction": 0.2},
    "train_attention": {"batch_size": 4, "training": {"epochs": 1, "progress": False}},
    "train_generator": {"batch_size": 4, "training": {"epochs": 1, "progress": False}},
    "report": {"num_examples": 2},
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throwaway copy of the project's conf/ so runs write under tmp_path/data."""
    for name in ("conf", "pyproject.toml", ".telemetry"):
        source = PROJECT_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    (tmp_path / "src").mkdir()  # bootstrap_project checks it exists; the package is installed
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


def _run(project, pipeline, params=TINY, **kwargs):
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        return session.run(pipeline_names=[pipeline], **kwargs)


def test_registry_has_each_stage_and_shadow_is_their_sum():
    pipelines = register_pipelines()
    stages = ["ingest", "preprocess", "train_attention", "train_generator", "evaluate", "report"]
    assert set(stages) <= set(pipelines)
    shadow_nodes = {n.name for n in pipelines["shadow"].nodes}
    assert shadow_nodes == {n.name for s in stages for n in pipelines[s].nodes}
    assert pipelines["__default__"].nodes == pipelines["shadow"].nodes


def test_shadow_pipeline_end_to_end(project):
    _run(project, "shadow")
    data = project / "data"
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

    # A second run adds snapshots instead of overwriting the first.
    _run(project, "ingest")
    assert len(list((data / "01_raw/shadow_raw").iterdir())) == 2


def test_bad_parameter_stops_before_training(project):
    params = {**TINY, "train_attention": {**TINY["train_attention"], "model": {"encoder": "resnet999"}}}
    _run(project, "ingest", params)
    _run(project, "preprocess", params)
    with pytest.raises(ValueError, match="train_attention.model.*resnet999"):
        _run(project, "train_attention", params)
    assert not (project / "data/06_models/shadow_attention.pt").exists()
