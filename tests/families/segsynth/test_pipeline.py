"""segsynth end to end through real Kedro sessions: the embedded data with every arm, and a
labelled folder made outside the project (tests/external/make_cells.py) in the paired ``folders``
layout under ``--env quick`` with only source, path and label_nc set (plus sizes that keep CI
short). The full-size run and its verdict are measured in docs/results.md, not here."""

import copy
import html
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
import pytest

from gan_pipelines.families.segsynth.layout import ARMS

SHORT = {  # sizes that keep a test run under half a minute; the behaviour checked does not depend on them
    "experiment": {"seeds": 2, "num_labelled": 16, "num_synthetic": 24, "num_examples": 3,
                   "segmenter": {"epochs": 3, "pretrain_epochs": 1, "progress": False}},
    "generator": {"training": {"epochs": 1, "lr_constant_epochs": 1, "progress": False}},
}


def _run(project: Path, params: dict, env: str | None = None):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        with KedroSession.create(project_path=project, env=env, runtime_params=copy.deepcopy(params)) as session:
            session.run(pipeline_names=["segsynth"])


def _outputs(project: Path):
    reporting = project / "data" / "08_reporting"
    metrics = json.loads((reporting / "segsynth_metrics.json").read_text())
    results = pd.read_csv(reporting / "segsynth_seed_results.csv")
    return metrics, results, (reporting / "segsynth_report.html").read_text()


def _check_consistent(metrics, results, arms):
    assert list(dict.fromkeys(results["arm"])) == arms
    assert sorted(results["seed"].unique()) == [0, 1]
    for column in ("miou", "fg_iou", "object_recall"):
        assert results[column].between(0, 1).all(), column
    for name, entry in metrics["differences"].items():
        f1 = entry["object_f1"]
        if f1["ci95"] is not None:
            assert f1["ci95"][0] <= f1["mean"] <= f1["ci95"][1], name
    decision = metrics["decision"]
    assert metrics["verdict"].startswith("GAN data helps" if decision["gan_data_helps"] else "GAN data does not help")
    if decision["gan_data_helps"]:
        assert metrics["differences"][f"{decision['use']}-A_steps"]["object_f1"]["ci95"][0] > 0
    else:
        assert decision["use"] in ("A", "A_steps", "A_aug", "C")
    experiment = metrics["meta"]["experiment"]
    assert sum(experiment["test_objects_per_size"]) == experiment["test_objects"] > 0
    for arm in arms:
        assert {"fg_iou", "fg_iou_sd", "object_precision", "object_recall", "object_f1_sd"} <= set(metrics["arms"][arm])
    # A_steps trains as many steps as B: its step count is B's
    steps = results.groupby("arm")["steps"].first()
    assert abs(steps["A_steps"] - steps["B"]) <= max(1, steps["B"] // 10)


def test_segsynth_on_the_embedded_data(tmp_path, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / "embedded")
    params = {"segsynth": {**SHORT, "ingest": {"synthetic": {"num_train": 32, "num_test": 20}}}}
    _run(project, params)
    metrics, results, page = _outputs(project)
    _check_consistent(metrics, results, list(ARMS))
    assert metrics["meta"]["experiment"]["background_classes"] == [0, 5]
    assert metrics["meta"]["experiment"]["fresh_scenes"] == 24
    # the real-data arm learns the objects; the GAN-only arm is scored on the same test set
    a_steps = results[results["arm"] == "A_steps"]
    assert (a_steps["fg_iou"] > 0.3).all(), a_steps
    assert "Verdict" in page and page.count("<img") >= 3 and html.escape(metrics["verdict"]) in page
    examples = project / "data" / "07_model_output" / "segsynth_examples"
    kinds = {p.name for p in next(examples.iterdir()).glob("*/examples/*")}
    assert {"gan_picture", "synthetic_map", "copy_paste_picture", "predicted_map"} <= kinds


def test_segsynth_on_a_labelled_folder_made_elsewhere(tmp_path, one_thread):
    from conftest import PROJECT_ROOT, copy_project

    sys.path.insert(0, str(PROJECT_ROOT / "tests" / "external"))
    import make_cells

    folder = make_cells.write(tmp_path / "cells", size=96, train=36, test=16, seed=4)
    project = copy_project(tmp_path / "project")
    # the user-folder run also takes the unsupervised generator: U-GAT-IT on the maps and pictures unpaired
    experiment = {**SHORT["experiment"], "generator": "ugatit"}
    unpaired = {"training": {"epochs": 1, "lr_constant_epochs": 1, "progress": False},
                "model": {"ngf": 8, "n_blocks": 2}, "discriminator": {"ndf": 8}}
    _run(project, {"segsynth": {**SHORT, "experiment": experiment, "unpaired_generator": unpaired,
                                "ingest": {"source": "folders", "path": str(folder), "label_nc": 3}}},
         env="quick")
    metrics, results, _ = _outputs(project)
    arms = [arm for arm in ARMS if arm != "D"]
    _check_consistent(metrics, results, arms)
    assert metrics["meta"]["experiment"]["arms_left_out"]["D"].startswith("needs freshly rendered scenes")
    assert metrics["meta"]["experiment"]["background_classes"] == [0]
    assert metrics["meta"]["experiment"]["resolution"] == [64, 64] and metrics["meta"]["experiment"]["num_test"] == 16
    assert {info["generator"] for info in json.loads(next((project / "data" / "08_reporting").glob(
        "segsynth_experiment_summary.json/*/segsynth_experiment_summary.json")).read_text())["per_seed"]} == {"ugatit"}
    examples = project / "data" / "07_model_output" / "segsynth_examples"
    gan = [p for p in next(examples.iterdir()).glob("*/examples/gan_picture/*.png")]
    assert gan and all(np.asarray(Image.open(p)).shape == (64, 64, 3) for p in gan)


@pytest.mark.parametrize("ingest, message", [
    ({"source": "folders", "path": "somewhere", "label_nc": 3, "background_classes": [0, 3]},
     "segsynth.ingest.background_classes must be classes of 0..label_nc-1"),
    ({"source": "folders", "path": "somewhere", "label_nc": 2, "background_classes": [0, 1]},
     "lists every one of the 2 classes"),
    ({"source": "folders", "path": "somewhere"}, "segsynth.ingest.label_nc must be set"),
])
def test_bad_ingest_parameters_are_named(ingest, message):
    from gan_pipelines.families.segsynth.config import IngestParams
    from gan_pipelines.params import ParameterError

    with pytest.raises(ParameterError, match=message):
        IngestParams.parse(ingest, "segsynth.ingest")


def test_a_resolution_too_small_for_the_generators_discriminator_is_refused_before_training():
    from kedro.config import OmegaConfigLoader

    from conftest import PROJECT_ROOT
    from gan_pipelines.families.segsynth.config import check_stages
    from gan_pipelines.params import ParameterError

    params = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")["parameters"]
    stages = copy.deepcopy(params["segsynth"])
    check_stages("segsynth", stages)  # the defaults fit: 64 px, two scales of a 3-layer PatchGAN (24 px each)
    stages["preprocess"]["resolution"] = stages["ingest"]["synthetic"]["resolution"] = 32
    # 32 px halves to 16 at the second scale, below the 24 px a 3-layer PatchGAN takes
    with pytest.raises(ParameterError, match=r"a 16 px input at its coarsest scale; its n_layers needs at least 24 px"):
        check_stages("segsynth", stages)


def test_an_unpaired_generator_crop_other_than_the_resolution_is_refused_before_training():
    from kedro.config import OmegaConfigLoader

    from conftest import PROJECT_ROOT
    from gan_pipelines.families.segsynth.config import check_stages
    from gan_pipelines.params import ParameterError

    params = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")["parameters"]
    stages = copy.deepcopy(params["segsynth"])
    stages["unpaired_generator"]["augmentation"]["crop_size"] = 48
    check_stages("segsynth", stages)  # the paired generator paints: the U-GAT-IT block is not used
    stages["experiment"]["generator"] = "ugatit"
    with pytest.raises(ParameterError, match=r"segsynth.unpaired_generator.augmentation.crop_size \(48\) differs from "
                                             r"segsynth.preprocess.resolution \(64\)"):
        check_stages("segsynth", stages)
