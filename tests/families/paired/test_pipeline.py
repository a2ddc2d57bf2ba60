"""Both paired namespaces end to end on a tiny config through a real Kedro session: one module,
two namespaces, each family's own files; the model beats nearest-neighbour retrieval on L1; the
judge segments real pictures; predict and export use the result.

Both families run at 32 px on 54 train pictures with a judge that may read colour: enough to
check the plumbing and that training learned something in about a minute each. Whether
pix2pix's pictures beat the class-mean painter on the segmentation score needs 64 px and about
280 train pictures (the colour-jittered judge needs that many to recognise shapes; with fewer it
falls back on silhouettes and the painter's clean flat fills win: at 32 px / 54 pictures it
scored painter 0.55, real 0.53): that check is the slow quality test's
(tests/families/paired/test_quality.py), with ``_tiny(family, quality=True)``."""

import json

import numpy as np
import pytest
from PIL import Image

from gan_pipelines.families.paired.pipeline import create_pipelines
from gan_pipelines.pipeline_registry import register_pipelines


def _tiny(family, quality=False):
    """Kedro parameters of a tiny run. ``quality``: pix2pix's size for the judge's verdict (64 px,
    330 train+val scenes, the default colour-jittered judge); else 32 px, 64 scenes."""
    size, scenes = (64, 330) if quality else (32, 64)
    training = {"progress": False, "cpu_threads": 1}
    train = {"batch_size": 8, "augmentation": None, "model": {"num_downs": 6 if size == 64 else 5},
             "training": {**training, "epochs": 12, "lr_constant_epochs": 6}}
    params = {
        "ingest": {"synthetic": {"resolution": size, "num_train": scenes, "num_test": 16}},
        "preprocess": {"resolution": size, "val_fraction": 0.15},
        # the tiny judge this test was tuned with: 25 epochs at a constant lr
        "train_judge": {"batch_size": 8, "training": {**training, "epochs": 25, "scheduler": "none",
                                                      "lr_constant_epochs": None}},
        "train": train,
        "report": {"num_examples": 2},
    }
    if not quality:
        # 32 px and 54 pictures are too few for the colour-blind judge to learn shapes (real mIoU
        # 0.27): the tiny run's judge may read colour
        params["train_judge"]["augmentation"] = {"hflip_p": 0.5, "colour_jitter": None}
    if family == "sketch2color":
        params["ingest"]["real_test_photos"] = True
        params["train_plain"] = {**train, "training": {**train["training"], "epochs": 10, "lr_constant_epochs": 5}}
    return {family: params}


def test_one_module_serves_both_namespaces():
    pipelines = register_pipelines()
    for family in ("pix2pix", "sketch2color"):
        assert {f"{family}.{stage}" for stage in ("ingest", "preprocess", "train_judge", "train", "evaluate", "report",
                                                  "predict", "export")} <= set(pipelines)
        assert all(d.startswith((f"{family}.", f"params:{family}.")) for d in pipelines[family].datasets())
    plain = {n.name for n in pipelines["sketch2color.train"].nodes}
    assert plain == {"sketch2color.train_generator", "sketch2color.train_plain_pix2pix"}
    assert {n.name for n in pipelines["pix2pix.train"].nodes} == {"pix2pix.train_generator"}
    with pytest.raises(ValueError, match="not 'shadow'"):
        create_pipelines("shadow")


@pytest.mark.parametrize("family", ["pix2pix", "sketch2color"])
def test_family_end_to_end(tmp_path, kedro_run, family, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / family)
    kedro_run(project, family, _tiny(family))
    metrics = json.loads((project / f"data/08_reporting/{family}_metrics.json").read_text())
    expected = {"model", "class_mean_painter", "nearest_neighbour", "real", "meta"}
    if family == "sketch2color":
        expected |= {"plain_pix2pix", "model_on_xdog_sketch"}
    assert set(metrics) == expected
    assert metrics["meta"]["resolution"] == 32 and metrics["meta"]["num_test_images"] == 16
    assert metrics["meta"]["num_train_images"] + metrics["meta"]["num_val_images"] == 64
    seg = {method: metrics[method]["seg_miou"] for method in expected - {"meta"}}
    assert seg["real"] > 0.5, seg  # the judge segments real pictures: the scores below mean something
    assert metrics["model"]["l1"] < metrics["nearest_neighbour"]["l1"]
    if family == "pix2pix":
        # measured at this config (2026-12-07): model 0.68, retrieval 0.26, real 0.91; the painter
        # (0.91) wins here, as the colour-reading judge scores flat class colours
        assert seg["model"] > seg["nearest_neighbour"], seg
    if family == "sketch2color":
        # A sketch model needs far more steps than this tiny run to colour objects by their
        # shape (the 64 px default run does: README); here: the sketch metrics are there.
        assert metrics["model"]["colourfulness_gap"] < 0 and 0 <= metrics["model"]["bleed_rate"] <= 1
    report = (project / f"data/08_reporting/{family}_report.html").read_text()
    assert "class_mean_painter" in report and "data:image/png;base64" in report
    predictions = list((project / f"data/07_model_output/{family}_test_predictions").rglob("*.png"))
    assert len([p for p in predictions if p.parent.name == "model" and p.parent.parent.name == "test"]) == 16
    checkpoint = list((project / "data/06_models").glob(f"{family}_generator.pt/*/{family}_generator.pt"))
    assert len(checkpoint) == 1

    # use the trained model: a folder of inputs of any size, and the ONNX export
    inputs = project / "own_inputs"
    inputs.mkdir()
    if family == "pix2pix":
        Image.fromarray(np.full((40, 50), 3, np.uint8)).save(inputs / "map.png")
    else:
        sketch = np.full((40, 50, 3), 255, np.uint8)
        sketch[10:30, 20] = 0
        Image.fromarray(sketch).save(inputs / "map.png")
    use = {family: {"predict": {"input_dir": "own_inputs", "output_dir": "own_outputs"},
                    "export": {"output_path": "model.onnx"}}}
    kedro_run(project, f"{family}.predict", use)
    assert np.asarray(Image.open(project / "own_outputs" / "map.png")).shape == (40, 50, 3)
    with pytest.raises(Exception, match="never replace"):
        kedro_run(project, f"{family}.predict", use)
    kedro_run(project, f"{family}.export", use)
    assert (project / "model.onnx").stat().st_size > 0
    onnx = {family: {"predict": {"input_dir": "own_inputs", "output_dir": "onnx_outputs", "backend": "onnx",
                                 "onnx_path": "model.onnx"}}}
    kedro_run(project, f"{family}.predict", onnx)
    torch_picture = np.asarray(Image.open(project / "own_outputs" / "map.png")).astype(int)
    onnx_picture = np.asarray(Image.open(project / "onnx_outputs" / "map.png")).astype(int)
    assert np.abs(torch_picture - onnx_picture).max() <= 1  # both fp32: rounding only
