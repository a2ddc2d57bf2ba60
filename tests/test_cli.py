"""`gan-pipelines` (gan_pipelines.cli) through click's CliRunner on throwaway project copies: help
everywhere, bare runs nothing, families and params from the registry and the config files,
predict / export on a tiny trained pix2pix model, report and prune. About 20 s on 2 cores."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gan_pipelines import cli as cli_module
from gan_pipelines.cli import cli
from gan_pipelines.pipeline_registry import FAMILIES

TINY_PIX2PIX = {"pix2pix": {
    "ingest": {"synthetic": {"resolution": 32, "num_train": 8, "num_test": 2}},
    "preprocess": {"resolution": 32, "val_fraction": 0.25},
    "train": {"batch_size": 4, "augmentation": None, "model": {"num_downs": 5, "ngf": 8},
              "training": {"epochs": 1, "lr_constant_epochs": 0, "progress": False, "cpu_threads": 1}},
}}


def invoke(*args, **kwargs):
    result = CliRunner().invoke(cli, [str(arg) for arg in args], **kwargs)
    return result


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory):
    """A project copy with a tiny pix2pix generator (ingest -> preprocess -> train, 1 epoch)."""
    from conftest import copy_project, run_pipeline

    project = copy_project(tmp_path_factory.mktemp("cli_trained"))
    for stage in ("ingest", "preprocess", "train"):
        run_pipeline(project, f"pix2pix.{stage}", TINY_PIX2PIX)
    return project


@pytest.fixture
def conf_project(tmp_path):
    from conftest import copy_project

    return copy_project(tmp_path / "project")


@pytest.fixture
def no_runs(monkeypatch):
    """Fail the test if any command starts a Kedro session or a run."""
    from kedro.framework.session import KedroSession

    def refuse(*args, **kwargs):
        raise AssertionError("a Kedro session was started")

    monkeypatch.setattr(KedroSession, "create", refuse)
    monkeypatch.setattr(KedroSession, "run", refuse)


def test_bare_prints_help_and_runs_nothing(no_runs):
    result = invoke()
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: gan-pipelines")
    for command in ("families", "params", "predict", "export", "report", "prune"):
        assert f"  {command} " in result.output


def test_python_m_is_the_same_command_line_and_help_imports_no_torch():
    bare = subprocess.run([sys.executable, "-m", "gan_pipelines"], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 0 and "Usage: gan-pipelines" in bare.stdout and "Commands:" in bare.stdout
    probe = ("import sys\nfrom click.testing import CliRunner\nfrom gan_pipelines.cli import cli\n"
             "assert CliRunner().invoke(cli, ['--help']).exit_code == 0\n"
             "print(sorted(m for m in ('torch', 'kedro.framework.session', 'gan_pipelines.pipeline_registry') if m in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "[]"


@pytest.mark.parametrize("command, expected", [
    ("families", "what each learns and its stages"),
    ("params", "[--params]"),
    ("predict", "--output"),
    ("export", "output_path"),
    ("report", "--open"),
    ("prune", "--keep"),  # prune's own (argparse) options
])
def test_every_command_has_help(command, expected, no_runs):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert expected in result.output
    if command in ("params", "predict", "export", "report"):
        assert "--env" in result.output


def test_families_come_from_the_registry(conf_project):
    result = invoke("families", "--project", conf_project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if not line.startswith(" ")] == list(FAMILIES)
    shadow = lines[lines.index("shadow") + 1: lines.index("pix2pix")]
    assert shadow[0].strip().startswith("Shadow generator (U-Net + refinement)")  # its parameters' header
    assert "ingest -> preprocess -> train_attention -> train_generator -> evaluate -> report" in shadow[1]
    assert shadow[2].strip() == "also: predict, export"
    start = lines.index("compare_label_to_photo") + 1  # its lines: up to the next family (or the end)
    compare = lines[start:next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))]
    assert compare[-1].strip() == "run: kedro run --pipelines compare_label_to_photo"


def _line(output, start):
    found = [line for line in output.splitlines() if line.strip().startswith(start)]
    assert found, f"no line starting with {start!r} in:\n{output}"
    return found[0]


def test_params_show_value_comment_and_environment(conf_project):
    result = invoke("params", "shadow.predict", "--project", conf_project)
    assert result.exit_code == 0, result.output
    line = _line(result.output, "mask_threshold:")
    assert line.split()[1] == "10.0" and line.rstrip().endswith("[base]")
    assert "# Light-consistency check: the generated shadow = pixels outside the object whose grey" in result.output
    assert "onnx_path: data/06_models/shadow_model.onnx" in _line(result.output, "onnx_path:")
    assert _line(result.output, "onnx_path:").endswith("[base]  # used when backend is onnx")
    assert "# [base] conf/base/shadow/parameters_predict.yml" in result.output

    (conf_project / "conf" / "local" / "parameters_mine.yml").write_text(
        "shadow:\n  predict:\n    mask_threshold: 25  # my photos are noisy\n", encoding="utf-8")
    local = invoke("params", "shadow.predict", "--project", conf_project, "--params", "shadow.predict.overlays=false")
    assert local.exit_code == 0, local.output
    assert _line(local.output, "mask_threshold:").split()[1:3] == ["25", "[local]"]
    assert "my photos are noisy" in _line(local.output, "mask_threshold:")
    assert _line(local.output, "overlays:").split()[1:3] == ["false", "[--params]"]
    assert _line(local.output, "backend:").split()[1:3] == ["torch", "[base]"]
    assert "# [local] conf/local/parameters_mine.yml" in local.output

    paper = invoke("params", "pix2pix.train", "--env", "paper", "--project", conf_project)
    assert paper.exit_code == 0, paper.output
    assert _line(paper.output, "ngf:").split()[1:3] == ["64", "[paper]"]
    assert _line(paper.output, "gan_mode:").split()[1:3] == ["vanilla", "[base]"]
    assert "mask_threshold" not in paper.output  # another family's parameters are not shown


def test_params_unknown_family_or_stage_lists_the_valid_ones(conf_project):
    family = invoke("params", "shadoww", "--project", conf_project)
    assert family.exit_code == 2
    assert "unknown family 'shadoww'; registered families: " + ", ".join(FAMILIES) in family.output
    stage = invoke("params", "shadow.train", "--project", conf_project)
    assert stage.exit_code == 2
    assert "shadow has no stage or parameter section 'train'; valid: ingest, preprocess, train_attention" in stage.output


def test_predict_files_and_folders_never_overwrites(trained_project, tmp_path):
    test_maps = sorted(trained_project.glob("data/05_model_input/pix2pix/*/pix2pix/test/label_map/*.png"))
    assert len(test_maps) == 2
    folder, elsewhere = tmp_path / "maps", tmp_path / "one"
    folder.mkdir(), elsewhere.mkdir()
    (folder / "a.png").write_bytes(test_maps[0].read_bytes())
    (folder / ".DS_Store").write_text("litter")  # ignored
    (elsewhere / "b.png").write_bytes(test_maps[1].read_bytes())
    output = tmp_path / "pictures"
    result = invoke("predict", "pix2pix", folder, elsewhere / "b.png", "--output", output, "--project", trained_project)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in output.iterdir()) == ["a.png", "b.png"]
    assert f"Wrote 2 file(s) to {output.resolve()}" in result.output
    before = {p.name: p.read_bytes() for p in output.iterdir()}

    again = invoke("predict", "pix2pix", folder, "--output", output, "--project", trained_project)
    assert again.exit_code == 1
    assert "already holds 1 of the output files" in again.output and "never replace" in again.output
    assert {p.name: p.read_bytes() for p in output.iterdir()} == before

    (elsewhere / "notes.txt").write_text("not a picture")  # refused, as the stage refuses it, never dropped
    not_picture = invoke("predict", "pix2pix", folder, elsewhere, "--output", tmp_path / "x", "--project", trained_project)
    assert not_picture.exit_code == 1 and "notes.txt: not a PNG or JPEG file" in not_picture.output
    assert "1 problem(s) with the inputs, nothing was run" in not_picture.output and not (tmp_path / "x").exists()


def test_predict_without_model_or_stage_says_what_to_do(trained_project, tmp_path):
    (tmp_path / "m.png").write_bytes(next(trained_project.glob("data/05_model_input/pix2pix/*/pix2pix/test/label_map/*.png")).read_bytes())
    missing = invoke("predict", "spade", tmp_path / "m.png", "--output", tmp_path / "out", "--project", trained_project)
    assert missing.exit_code == 1
    assert "no trained model for spade: spade.generator_checkpoint has nothing saved at" in missing.output
    assert "train first: kedro run --pipelines spade (or at least up to spade.train)" in missing.output
    assert not (tmp_path / "out").exists()
    no_stage = invoke("predict", "compare_label_to_photo", tmp_path / "m.png", "--output", tmp_path / "out", "--project", trained_project)
    assert no_stage.exit_code == 1 and "compare_label_to_photo has no predict stage; families with one: shadow, pix2pix" in no_stage.output


def test_export_prints_where_the_onnx_file_went(trained_project):
    result = invoke("export", "pix2pix", "--project", trained_project, "--params",
                    "pix2pix.export.output_path=data/06_models/cli_test.onnx")
    assert result.exit_code == 0, result.output
    onnx = trained_project / "data" / "06_models" / "cli_test.onnx"
    assert f"ONNX model: {onnx}" in result.output and onnx.stat().st_size > 1000


def test_report_path_open_and_missing(conf_project, monkeypatch):
    missing = invoke("report", "shadow", "--project", conf_project)
    assert missing.exit_code == 1
    assert "no report for shadow yet; make one with: kedro run --pipelines shadow.report or kedro run --pipelines shadow" in missing.output
    html = conf_project / "data" / "08_reporting" / "shadow_report.html"  # where the catalog puts it
    html.parent.mkdir(parents=True)
    html.write_text("<html></html>")
    opened = []
    monkeypatch.setattr(cli_module.click, "launch", lambda path: opened.append(path))
    found = invoke("report", "shadow", "--open", "--project", conf_project)
    assert found.exit_code == 0, found.output
    assert found.output.strip() == str(html) and opened == [str(html)]


def test_prune_wraps_the_prune_module(trained_project):
    before = sorted(trained_project.glob("data/06_models/pix2pix_generator.pt/*"))
    result = invoke("prune", "--keep", "1", "--project", trained_project)
    assert result.exit_code == 0, result.output
    assert "pix2pix.generator_checkpoint" in result.output and "Dry run:" in result.output
    assert sorted(trained_project.glob("data/06_models/pix2pix_generator.pt/*")) == before
    bad = invoke("prune", "--keep", "0", "--project", trained_project)
    assert bad.exit_code == 2 and "--keep must be at least 1" in bad.output


def test_outside_a_project_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("report", "shadow")
    assert result.exit_code == 1
    assert f"{os.fspath(tmp_path)} is not inside a Kedro project" in result.output
