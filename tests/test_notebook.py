"""notebooks/quickstart.ipynb runs top to bottom against a tiny trained project of each kind of
family, chosen by its `parameters` cell: FAMILY = "shadow" on the session's tiny trained shadow
project, FAMILY = "pix2pix" on a tiny pix2pix project trained here (ingest, preprocess, a 1-epoch
judge, a 1-epoch generator, evaluate: about 10 s on 2 cores). The notebook is committed without
outputs. The pix2pix case adds about 30 s (training, and the kernel's imports)."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import gan_pipelines

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
DEFAULT_PARAMETER = 'FAMILY = "shadow"'

# tests/test_cli.py's TINY_PIX2PIX plus what the metrics need: a tiny judge (1 epoch, a shallow
# encoder, no shared judge store) and few bootstrap resamples.
TINY_PIX2PIX = {"pix2pix": {
    "ingest": {"synthetic": {"resolution": 32, "num_train": 8, "num_test": 2}},
    "preprocess": {"resolution": 32, "val_fraction": 0.25},
    "train_judge": {"batch_size": 4, "shared_store": None,
                    "model": {"encoder_depth": 3, "decoder_channels": [16, 16, 16]},
                    "training": {"epochs": 1, "lr_constant_epochs": 0, "progress": False, "cpu_threads": 1}},
    "train": {"batch_size": 4, "augmentation": None, "model": {"num_downs": 5, "ngf": 8},
              "training": {"epochs": 1, "lr_constant_epochs": 0, "progress": False, "cpu_threads": 1}},
    "evaluate": {"metrics": {"bootstrap_resamples": 100}},
}}
PAIRED_METHODS = ("model", "class_mean_painter", "nearest_neighbour", "real")


@pytest.fixture(scope="module")
def tiny_trained_pix2pix(tmp_path_factory):
    """A project copy with a tiny pix2pix generator, its judge and test metrics (no report)."""
    from conftest import copy_project, run_pipeline

    project = copy_project(tmp_path_factory.mktemp("tiny_trained_pix2pix"))
    for stage in ("ingest", "preprocess", "train_judge", "train", "evaluate"):
        run_pipeline(project, f"pix2pix.{stage}", TINY_PIX2PIX)
    return project


def _read():
    return nbformat.read(NOTEBOOK, as_version=4)


def _tagged(notebook, tag):
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


def _pngs(cell):
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


def _tables(cell):
    """The HTML tables a cell displayed (Kedro's rich log lines are HTML outputs too: left out)."""
    html = (output.get("data", {}).get("text/html", "") for output in cell.outputs)
    return [text for text in html if "<table" in text]


def _text(cell):
    return "".join(output.get("text", "") for output in cell.outputs)


def with_family(notebook, family):
    """The notebook with its `parameters` cell set to ``family`` (what papermill would do)."""
    cell = _tagged(notebook, "parameters")
    assert DEFAULT_PARAMETER in cell.source
    cell.source = cell.source.replace(DEFAULT_PARAMETER, f"FAMILY = {family!r}")
    return notebook


def test_committed_notebook_is_valid_and_has_no_outputs():
    notebook = _read()
    nbformat.validate(notebook)
    dirty = [
        cell.get("id", index)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"clear the outputs of these cells before committing: {dirty}"
    # the family is picked in the first code cell, which papermill and the test below can set
    first_code = next(c for c in notebook.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", []) and DEFAULT_PARAMETER in first_code.source


@pytest.mark.parametrize("family, project_fixture", [
    ("shadow", "tiny_trained_project"),
    ("pix2pix", "tiny_trained_pix2pix"),
])
def test_quickstart_runs_on_a_trained_family(family, project_fixture, request, tmp_path, monkeypatch):
    project = request.getfixturevalue(project_fixture)
    notebook = with_family(_read(), family)
    # Started where a user would open it (notebooks/ inside the project), so the notebook has to
    # find the project root by walking up; the variable would bypass that, so it is removed.
    workdir = project / "notebooks"
    workdir.mkdir(exist_ok=True)
    monkeypatch.delenv("GAN_PIPELINES_PROJECT", raising=False)
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    # The kernel is a subprocess that inherits the environment: the same gan_pipelines as this
    # test (not another checkout an editable install may point at), no display, no $HOME state.
    source_root = str(Path(gan_pipelines.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails

    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    printed = "".join(_text(c) for c in notebook.cells if c.cell_type == "code")
    assert f"Kedro project: {project.resolve()}" in printed
    assert f"family {family!r}" in printed

    catalog = "".join(_tables(_tagged(notebook, "catalog")))
    assert f"{family}.generator_checkpoint" in catalog and "VersionedImageFolderDataset" in catalog
    assert _pngs(_tagged(notebook, "data-samples")) == 1
    assert _pngs(_tagged(notebook, "metrics-plot")) == 1

    metrics = json.loads((project / f"data/08_reporting/{family}_metrics.json").read_text())
    tables = _tables(_tagged(notebook, "metrics-table"))
    if family == "shadow":
        for name in ("model", "identity", "ground_truth_attention", "LRMSE"):
            assert f">{name}<" in tables[0], name
        assert f"{metrics['model']['LRMSE']:.3f}".rstrip("0") in tables[0]
    else:
        assert all(f">{method}<" in tables[0] for method in PAIRED_METHODS)  # the report's table: methods as columns
        intervals = tables[1]  # methods as rows, each seg_* score with its bootstrap interval
        assert "seg_miou [95% interval]" in intervals
        for method in PAIRED_METHODS:
            value, (low, high) = metrics[method]["seg_miou"], metrics[method]["seg_miou_ci95"]
            assert f"<th>{method}</th>" in intervals, method
            assert f"{value:.3f} [{low:.3f}, {high:.3f}]" in intervals, method

    # one figure per <family>.<net>_history: shadow attention + generator, pix2pix generator + judge
    assert _pngs(_tagged(notebook, "training-curves")) == 2

    prediction = _tagged(notebook, "prediction")
    assert _pngs(prediction) == 1
    sizes = re.search(r"input (\d+)x(\d+) px, prediction (\d+)x(\d+) px; (.*)", _text(prediction))
    assert sizes, _text(prediction)
    full_size = {"shadow": "64", "pix2pix": "32"}[family]  # the ingested (raw) size, not the training size
    assert sizes.group(1, 2) == sizes.group(3, 4) == (full_size, full_size)
    assert sizes.group(5).startswith({"shadow": "model at 32 px", "pix2pix": "pix2pix generator at 32 px"}[family])

    where_next = _text(_tagged(notebook, "where-next"))
    for command in (f"kedro run --pipeline {family}", f"gan-pipelines predict {family} ",
                    f"gan-pipelines export {family}", f"gan-pipelines report {family}"):
        assert command in where_next, command
