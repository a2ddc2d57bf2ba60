"""notebooks/quickstart.ipynb runs top to bottom against the tiny trained project, and is
committed without outputs."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "quickstart.ipynb"


def _read():
    return nbformat.read(NOTEBOOK, as_version=4)


def _tagged(notebook, tag):
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


def _has_png(cell):
    return any("image/png" in output.get("data", {}) for output in cell.outputs)


def _html(cell):
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)


def test_committed_notebook_is_valid_and_has_no_outputs():
    notebook = _read()
    nbformat.validate(notebook)
    dirty = [
        cell.get("id", index)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"clear the outputs of these cells before committing: {dirty}"


def test_quickstart_runs_on_a_trained_project(tiny_trained_project, tmp_path, monkeypatch):
    notebook = _read()
    # Started where a user would open it (notebooks/ inside the project), so the notebook has to
    # find the project root by walking up; the variable would bypass that, so it is removed.
    workdir = tiny_trained_project / "notebooks"
    workdir.mkdir(exist_ok=True)
    monkeypatch.delenv("GAN_PIPELINES_PROJECT", raising=False)
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no history or profile in $HOME
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails

    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert f"Kedro project: {tiny_trained_project.resolve()}" in printed

    catalog = _html(_tagged(notebook, "catalog"))
    assert "shadow.generator_checkpoint" in catalog and "VersionedImageFolderDataset" in catalog
    assert _has_png(_tagged(notebook, "data-samples"))
    metrics = _html(_tagged(notebook, "metrics-table"))
    for name in ("model", "identity", "ground_truth_attention", "LRMSE"):
        assert f">{name}<" in metrics, name
    curves = _tagged(notebook, "training-curves")
    assert sum("image/png" in o.get("data", {}) for o in curves.outputs) == 2
    prediction = _tagged(notebook, "prediction")
    assert _has_png(prediction)
    assert "model at 32 px" in "".join(o.get("text", "") for o in prediction.outputs)

