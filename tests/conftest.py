import copy
import os
import shutil
from pathlib import Path

import pytest

# Keep test runs offline and quiet whatever the environment says.
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "locked_numerics(**versions): the test's expected values were recorded with these library "
        "versions (the locked set in constraints.txt); a failure under other versions says so",
    )


def pytest_collection_modifyitems(session, config, items):
    """The documentation pages' tests last: their commands run in the background from the first
    test of tests/docs on (tests/docs/conftest.py), overlapping with everything before them."""
    pages = [item for item in items if getattr(item, "originalname", None) == "test_page_commands"]
    if pages:
        items[:] = [item for item in items if item not in pages] + pages


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing ``locked_numerics`` test names the libraries whose installed version differs
    from the one its expected values were recorded with, so a version drift is not taken for a
    regression (or the other way round)."""
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("locked_numerics")
    if marker is None or report.when != "call" or not report.failed:
        return
    from gan_pipelines.library_versions import version_differences

    differences = version_differences(marker.kwargs)
    note = (
        "expected values recorded with " + ", ".join(f"{k} {v}" for k, v in marker.kwargs.items()) + "; "
        + ("installed here: " + ", ".join(f"{k} {now}" for k, (_, now) in differences.items())
           + ". Install the locked set (pip install -c constraints.txt ...) before reading this as a regression."
           if differences else "the installed versions are the same, so this is a real change.")
    )
    report.sections.append(("locked numerics", note))

# Runtime parameters that shrink the `shadow` pipeline to about 30 s on 2 cores, yet train long
# enough that the model beats adding no shadow on the test LRMSE. Measured 2026-12-06 (AMD EPYC,
# identity 77.9): with 16 generator epochs 68.0-75.5 over 1 or 2 threads, bf16 or fp32 and seeds
# 0/1; with the 10 used before, 76.4 on 2 threads in bf16, too close to the baseline to test.
TINY_PARAMS = {
    "shadow": {
        "ingest": {"synthetic": {"num_train": 24, "num_test": 6, "resolution": 64}},
        "preprocess": {"resolution": 32, "val_fraction": 0.2},
        "train_attention": {"batch_size": 4, "training": {"epochs": 2, "progress": False}},
        # The weight average spans about 10 of the 64 steps, as base's 0.99 spans 100 of 460.
        "train_generator": {"batch_size": 4, "training": {"epochs": 16, "lr_constant_epochs": 8, "ema_decay": 0.9,
                                                          "progress": False}},
        "report": {"num_examples": 2},
    }
}


def copy_project(target: Path) -> Path:
    """A throwaway Kedro project at ``target``: the real conf/, pyproject.toml and .telemetry, so
    runs write under ``target/data`` and never touch the repository's data."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("conf", "pyproject.toml", ".telemetry"):
        source = PROJECT_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / name)
    (target / "src").mkdir(exist_ok=True)  # bootstrap_project checks it exists; the package is installed
    return target


def compile_status_is_right(status: str) -> bool:
    """Whether a compiled predictor's status is what this machine allows: ``"compiled"`` where a
    C++ compiler exists (Inductor's CPU code generation needs one), else the eager fallback that
    says why. Both are behaviour the tests hold; neither is skipped."""
    compiler = os.environ.get("CXX") or any(shutil.which(name) for name in ("g++", "c++", "clang++"))
    return status == "compiled" if compiler else status.startswith("eager: compiling failed")


def run_pipeline(project: Path, pipeline: str, params: dict | None = None, **kwargs):
    """Run one registered pipeline through a real KedroSession, with ``project`` as the working
    directory (some parameters, e.g. training.state_path, are paths relative to it)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    params = TINY_PARAMS if params is None else params
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        with KedroSession.create(project_path=project, runtime_params=copy.deepcopy(params)) as session:
            return session.run(pipeline_names=[pipeline], **kwargs)


@pytest.fixture
def one_thread():
    """Train on one intra-op thread: on a small shared CPU, two OpenMP threads competing with
    other processes for two cores can make a step 20-30x slower; one thread stays predictable."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def kedro_run():
    """``kedro_run(project, pipeline, params=None, **session_run_kwargs)``: see run_pipeline."""
    return run_pipeline


@pytest.fixture
def tiny_params():
    """A private copy of the tiny runtime parameters, free to modify."""
    return copy.deepcopy(TINY_PARAMS)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh, empty project copy (no data) under tmp_path, also the working directory."""
    from kedro.framework.startup import bootstrap_project

    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def tiny_trained_project(tmp_path_factory):
    """A project copy on which the whole `shadow` pipeline ran once, with TINY_PARAMS.

    Shared by every test of the session (the run takes about a minute on 2 cores), so tests must
    only read it: copy what you need elsewhere before running more pipelines."""
    project = copy_project(tmp_path_factory.mktemp("tiny_trained_project"))
    run_pipeline(project, "shadow")
    return project
