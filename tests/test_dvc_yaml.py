"""dvc.yaml, as DVC resolves it (templates expanded): one stage per family and Kedro stage, named
as docs/dvc.md says, and the template's per-family fields agree with the conf files they mirror."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gan_pipelines import pipeline_registry

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOT_DVC_STAGES = {"predict", "export"}  # run on the user's own pictures, not part of the data pipeline


@pytest.fixture(scope="module")
def stages():
    from dvc.repo import Repo

    with Repo(str(PROJECT_ROOT)) as repo:
        return {stage.addressing: stage for stage in repo.index.stages}


@pytest.fixture(scope="module")
def templated() -> dict[str, dict]:
    """``vars: label_to_photo`` of dvc.yaml: the families the `foreach` templates run over."""
    data = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
    (entry,) = [v for v in data["vars"] if isinstance(v, dict) and "label_to_photo" in v]
    return entry["label_to_photo"]


def test_every_kedro_stage_has_one_dvc_stage_named_as_documented(stages, templated):
    kedro = sorted(name for name in pipeline_registry.register_pipelines()
                   if "." in name and name.split(".")[1] not in NOT_DVC_STAGES) + ["compare_label_to_photo", "unpaired_compare"]
    by_cmd: dict[str, list[str]] = {}
    for name, stage in stages.items():
        by_cmd.setdefault(stage.cmd, []).append(name)
    expected = {}
    for pipeline in kedro:
        family, _, stage = pipeline.partition(".")
        expected[f"kedro run --pipelines {pipeline}"] = [
            f"{stage}@{family}" if family in templated else f"{family}_{stage}" if stage else family]
    assert by_cmd == expected
    assert sorted(templated) == ["pix2pix", "pix2pixhd", "spade", "spade_vae"]
    assert len(stages) == 79


@pytest.mark.parametrize("stage, field", [("ingest", "ingest_block"), ("evaluate", "evaluate_block")])
def test_template_fields_are_the_blocks_the_conf_files_take(templated, stage, field):
    """`ingest_block: ingest_with_instances` for pix2pixhd because its parameters_ingest.yml says
    `ingest: ${_label_to_photo.ingest_with_instances}`: the DVC params then track what Kedro reads."""
    for family, item in templated.items():
        text = (PROJECT_ROOT / "conf" / "base" / family / f"parameters_{stage}.yml").read_text()
        taken = re.findall(rf"^  {stage}: \$\{{_label_to_photo\.(\w+)\}}", text, re.M)
        assert taken == [item[field]], (family, taken)


def test_templated_stage_resolves_like_a_written_one(stages):
    """One expanded copy, spelled out: the shared block of its family is what its params track."""
    from dvc.dependency.param import ParamsDependency

    stage = stages["train_judge@pix2pixhd"]
    params = {dep.def_path: sorted(dep.params) for dep in stage.deps if isinstance(dep, ParamsDependency)}
    assert params == {
        "conf/base/pix2pixhd/parameters_train_judge.yml": ["pix2pixhd.train_judge"],
        "conf/base/pix2pixhd/parameters_ingest.yml": ["pix2pixhd.ingest"],
        "conf/base/label_to_photo/parameters.yml": [
            "_label_to_photo.ingest_with_instances.ignore_value",
            "_label_to_photo.ingest_with_instances.label_nc",
            "_label_to_photo.train_judge"],
    }
    outs = {out.def_path: (out.persist, out.use_cache, bool(out.plot)) for out in stage.outs}
    assert outs == {"data/06_models/pix2pixhd_judge.pt": (True, True, False),
                    "data/08_reporting/pix2pixhd_judge_history.csv": (False, False, True)}


def test_shadow_report_depends_on_the_real_photos_catalog_entry(stages):
    """The report reads the catalog entry shadow.real_photos, so its folder is a DVC dep, and it
    exists in every clone (a tracked .gitkeep) since DVC refuses a stage whose dep is missing."""
    import subprocess

    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    path = catalog["shadow.real_photos"]["path"]
    assert path in [dep.def_path for dep in stages["shadow_report"].deps]
    tracked = subprocess.run(["git", "ls-files", f"{path}/.gitkeep"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == [f"{path}/.gitkeep"]
