"""The cyclegan namespace end to end on a tiny config through a real Kedro session: the embedded
two-domain data, the judges, CycleGAN, evaluation against the baselines and the report; the
model beats identity on hidden-pair L1 in both directions; predict and export use the result."""

import json

import numpy as np
import pytest
from PIL import Image

from gan_pipelines.families.unpaired.pipeline import create_pipelines
from gan_pipelines.pipeline_registry import register_pipelines

SIZE = 32


def _tiny() -> dict:
    training = {"progress": False, "cpu_threads": 1}
    return {"cyclegan": {
        "ingest": {"synthetic": {"resolution": SIZE, "num_train": 60, "num_test": 12}},
        "preprocess": {"resolution": SIZE, "val_fraction": 0.1},
        "train_judge": {
            "classifier": {"batch_size": 16, "training": {**training, "epochs": 4}},
            "segmenter": {"batch_size": 16, "training": {**training, "epochs": 4}},
        },
        "train": {
            "batch_size": 4,
            "augmentation": {"load_size": SIZE + 4, "crop_size": SIZE},
            "model": {"ngf": 8, "n_blocks": 2},
            "discriminator": {"ndf": 8, "n_layers": 2},
            "training": {**training, "epochs": 8, "lr_constant_epochs": 4},
        },
        "evaluate": {"bootstrap_resamples": 200},
        "report": {"num_examples": 2},
    }}


def test_the_module_serves_the_cyclegan_namespace_only():
    pipelines = register_pipelines()
    assert {f"cyclegan.{stage}" for stage in ("ingest", "preprocess", "train_judge", "train", "evaluate", "report",
                                              "predict", "export")} <= set(pipelines)
    assert all(d.startswith(("cyclegan.", "params:cyclegan.")) for d in pipelines["cyclegan"].datasets())
    with pytest.raises(ValueError, match="not 'pix2pix'"):
        create_pipelines("pix2pix")


@pytest.mark.slow
def test_cyclegan_end_to_end(tmp_path, kedro_run, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / "cyclegan")
    kedro_run(project, "cyclegan", _tiny())
    metrics = json.loads((project / "data/08_reporting/cyclegan_metrics.json").read_text())
    assert set(metrics) == {"model", "identity", "colour_transfer", "histogram_matching", "real", "meta"}
    for direction in ("a2b", "b2a"):
        model, identity = metrics["model"], metrics["identity"]
        assert model[f"hidden_l1_{direction}"] < identity[f"hidden_l1_{direction}"], (direction, model, identity)
        low, high = model[f"hidden_l1_{direction}_ci95"]
        assert low <= model[f"hidden_l1_{direction}"] <= high
    assert metrics["meta"]["resolution"] == SIZE
    report = (project / "data/08_reporting/cyclegan_report.html").read_text()
    assert report.count("data:image/png;base64,") >= 4

    pictures = project / "my_pictures"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (37, 45, 3), dtype=np.uint8)).save(pictures / "odd.png")
    kedro_run(project, "cyclegan.predict", {**_tiny(), "cyclegan": {**_tiny()["cyclegan"], "predict": {
        "input_dir": str(pictures), "output_dir": str(project / "out"), "direction": "a2b"}}})
    assert Image.open(project / "out" / "odd.png").size == (45, 37)
    kedro_run(project, "cyclegan.export", _tiny())
    assert (project / "data/06_models/cyclegan_generator_a2b.onnx").is_file()
    assert (project / "data/06_models/cyclegan_generator_b2a.onnx").is_file()
