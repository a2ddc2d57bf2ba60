import os

import pytest

# The training nodes write their state and TensorBoard logs to paths derived from the stage
# (data/06_models/training_state/<family>_<stage>.pt, data/08_reporting/tensorboard/...),
# relative to the working directory: these tests run in scratch folders, never in the repository.


@pytest.fixture(scope="package", autouse=True)
def _package_in_a_scratch_folder(tmp_path_factory):
    """For module-scoped fixtures that train (they are set up before any test's own folder)."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("unpaired_workdir"))
    yield
    os.chdir(previous)


@pytest.fixture(autouse=True)
def _in_a_scratch_folder(tmp_path, monkeypatch):
    """Each test in its own empty working directory."""
    monkeypatch.chdir(tmp_path)
