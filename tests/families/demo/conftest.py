"""One demo server for tests/families/demo: a project copy with the tiny shadow models of the suite's
shared ``tiny_trained_project`` and a tiny pix2pix trained here (sketch2color and the other
label -> photo families stay untrained), served in this process on a free localhost port."""

from __future__ import annotations

import shutil
import socket

import pytest

# tests/test_cli.py's tiny pix2pix (32 px, one epoch): enough for real outputs of the right size.
TINY_PIX2PIX = {"pix2pix": {
    "ingest": {"synthetic": {"resolution": 32, "num_train": 8, "num_test": 2}},
    "preprocess": {"resolution": 32, "val_fraction": 0.25},
    "train": {"batch_size": 4, "augmentation": None, "model": {"num_downs": 5, "ngf": 8},
              "training": {"epochs": 1, "lr_constant_epochs": 0, "progress": False, "cpu_threads": 1}},
}}
# A small size limit (above the 256 x 256 painting canvas), so the "over the size limit" answer is
# reached with a small picture.
MAX_PIXELS = 300 * 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="package")
def demo_project(tiny_trained_project, tmp_path_factory):
    """The project copy the demo serves: the tiny shadow models and a tiny pix2pix, nothing else trained."""
    import torch

    from conftest import copy_project, run_pipeline

    torch.set_num_threads(1)
    project = copy_project(tmp_path_factory.mktemp("demo_project"))
    for name in ("shadow_attention.pt", "shadow_generator.pt"):  # the shared tiny shadow models, all versions
        shutil.copytree(tiny_trained_project / "data/06_models" / name, project / "data/06_models" / name)
    for stage in ("ingest", "preprocess", "train"):
        run_pipeline(project, f"pix2pix.{stage}", TINY_PIX2PIX)
    return project


def data_files(project) -> dict[str, int]:
    """Every file under the project's ``data/`` with its size: what the demo must never change."""
    return {str(path.relative_to(project)): path.stat().st_size for path in sorted((project / "data").rglob("*"))
            if path.is_file()}


@pytest.fixture(scope="package")
def data_before_serving(demo_project) -> dict[str, int]:
    return data_files(demo_project)


@pytest.fixture(scope="package")
def demo_server(demo_project, data_before_serving):
    """``(url, app)`` of the running demo; closed after the package's tests."""
    from gan_pipelines.families.demo import serve

    app, url = serve(demo_project, host="127.0.0.1", port=free_port(), max_pixels=MAX_PIXELS, device="cpu", block=False)
    yield url, app
    app.close()
