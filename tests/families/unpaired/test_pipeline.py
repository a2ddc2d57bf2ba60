"""The cyclegan, ugatit and munit namespaces end to end on a tiny config through a real Kedro
session: the embedded two-domain data, the judges, the model, evaluation against the baselines
and the report; each model beats identity on hidden-pair L1 in both directions, MUNIT's
diversity is above zero by more than its interval; predict and export use the result."""

import json

import numpy as np
import pytest
from PIL import Image

from gan_pipelines.families.unpaired.pipeline import create_pipelines
from gan_pipelines.pipeline_registry import register_pipelines

SIZE = 32


TINY_MODELS = {
    "cyclegan": {"model": {"ngf": 8, "n_blocks": 2}, "discriminator": {"ndf": 8, "n_layers": 2}},
    "ugatit": {"model": {"ngf": 8, "n_blocks": 2, "light": False}, "discriminator": {"ndf": 8}},
    "munit": {"model": {"dim": 8, "n_res": 2, "mlp_dim": 32}, "discriminator": {"dim": 8, "n_layers": 3, "num_scales": 2},
              "lr": 3e-3, "batch_size": 2},
}


def _tiny(family: str = "cyclegan") -> dict:
    training = {"progress": False, "cpu_threads": 1}
    return {family: {
        "ingest": {"synthetic": {"resolution": SIZE, "num_train": 60, "num_test": 12}},
        "preprocess": {"resolution": SIZE, "val_fraction": 0.1},
        "train_judge": {
            "classifier": {"batch_size": 16, "training": {**training, "epochs": 4}},
            "segmenter": {"batch_size": 16, "training": {**training, "epochs": 4}},
        },
        "train": {
            "batch_size": 4,
            "augmentation": {"load_size": SIZE + 4, "crop_size": SIZE},
            **({"lr": 1e-3} if family != "cyclegan" else {}),
            **TINY_MODELS[family],
            "training": {**training, "epochs": 8, **({"lr_constant_epochs": 4} if family != "munit" else
                                                     {"scheduler": "step", "lr_step_epochs": 4})},
        },
        "evaluate": {"bootstrap_resamples": 200, "diversity_samples": 4},
        "report": {"num_examples": 2},
    }}


@pytest.mark.parametrize("family", ["cyclegan", "ugatit", "munit", "ugatit_labels"])
def test_the_module_serves_each_unpaired_namespace(family):
    pipelines = register_pipelines()
    assert {f"{family}.{stage}" for stage in ("ingest", "preprocess", "train_judge", "train", "evaluate", "report",
                                              "predict", "export")} <= set(pipelines)
    assert all(d.startswith((f"{family}.", f"params:{family}.")) for d in pipelines[family].datasets())
    with pytest.raises(ValueError, match="not 'pix2pix'"):
        create_pipelines("pix2pix")


@pytest.mark.slow
@pytest.mark.parametrize("family", ["cyclegan", "ugatit", "munit"])
def test_end_to_end(family, tmp_path, kedro_run, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / family)
    kedro_run(project, family, _tiny(family))
    metrics = json.loads((project / f"data/08_reporting/{family}_metrics.json").read_text())
    assert set(metrics) == {"model", "identity", "colour_transfer", "histogram_matching", "real", "meta"}
    for direction in ("a2b", "b2a"):
        model, identity = metrics["model"], metrics["identity"]
        assert model[f"hidden_l1_{direction}"] < identity[f"hidden_l1_{direction}"], (direction, model, identity)
        low, high = model[f"hidden_l1_{direction}_ci95"]
        assert low <= model[f"hidden_l1_{direction}"] <= high
    assert metrics["meta"]["resolution"] == SIZE
    diversity = [metrics["model"][f"diversity_{d}_ci95"][0] for d in ("a2b", "b2a")]
    if family == "munit":  # random style codes: outputs differ by more than the interval's noise
        assert min(diversity) > 0, metrics["model"]
        assert metrics["model"]["hidden_l1_a2b_example"] is not None
    else:  # deterministic
        assert max(metrics["model"][f"diversity_{d}"] for d in ("a2b", "b2a")) == 0
    report = (project / f"data/08_reporting/{family}_report.html").read_text()
    assert report.count("data:image/png;base64,") >= 4

    pictures = project / "my_pictures"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (37, 45, 3), dtype=np.uint8)).save(pictures / "odd.png")
    kedro_run(project, f"{family}.predict", {family: {**_tiny(family)[family], "predict": {
        "input_dir": str(pictures), "output_dir": str(project / "out"), "direction": "a2b"}}})
    assert Image.open(project / "out" / "odd.png").size == (45, 37)
    kedro_run(project, f"{family}.export", _tiny(family))
    assert (project / f"data/06_models/{family}_generator_a2b.onnx").is_file()
    assert (project / f"data/06_models/{family}_generator_b2a.onnx").is_file()
