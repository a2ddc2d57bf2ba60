"""Training across machines: two `kedro run` processes in one project folder on localhost play two
nodes (training.nodes 2, one gloo worker each, c10d rendezvous on a free port), and their model is
compared with one ordinary process at the same global batch; node 1 must write nothing and say so.

pix2pix at 32 px with its norm layers and dropout off: with no batch statistics and no random
masks, two workers with 2 samples each take exactly the steps of one process with 4 (up to float
rounding of the averaged gradients)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TINY_PIX2PIX = """\
pix2pix:
  ingest:
    synthetic: {resolution: 32, num_train: 16, num_test: 4}
  preprocess: {resolution: 32, val_fraction: 0.25}
  train:
    batch_size: 4
    model: {num_downs: 5, ngf: 8, norm: none, use_dropout: false}
    discriminator: {ndf: 8, norm: none}
    augmentation: {crop_size: 32, load_size: 36}
    training: {epochs: 2, lr_constant_epochs: 1, progress: false, cpu_threads: 1, precision: fp32, device: cpu}
"""
CHECKPOINTS = Path("data/06_models/pix2pix_generator.pt")
# What one training run of pix2pix.train writes in a fresh project (after ingest and preprocess),
# sorted: kedro-viz's record of the run, then the catalog's and the engine's files.
ONE_RUN_WRITES = [
    r"\.viz/kedro_pipeline_events\.json",
    r"\.viz/stats\.json",
    r"data/06_models/pix2pix_generator\.pt/[^/]+/pix2pix_generator\.pt",
    r"data/06_models/training_state/pix2pix_train\.pt",
    r"data/08_reporting/pix2pix_generator_history\.csv",
    r"data/08_reporting/tensorboard/pix2pix_train/events\.out\.tfevents\.[^/]+",
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _files(project: Path) -> dict[str, tuple[int, int]]:
    """Every file of the project folder: relative path -> (size, mtime in ns)."""
    return {path.relative_to(project).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in project.rglob("*") if path.is_file()}


def _catalog(values: dict):
    """A stand-in for a Kedro catalog of parameters: ``load(name)`` only."""

    class Catalog:
        def load(self, name):
            return values[name]

    return Catalog()


def _node(project: Path, rank: int, port: int) -> subprocess.Popen:
    params = ",".join(f"pix2pix.train.training.{key}" for key in
                      ("nodes=2", f"node_rank={rank}", f"rdzv_endpoint=127.0.0.1:{port}"))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1", "NO_COLOR": "1", "COLUMNS": "400"}
    return subprocess.Popen([sys.executable, "-m", "kedro", "run", "--pipelines", "pix2pix.train", "--params", params],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def two_nodes_then_one(tmp_path_factory):
    """``(project, files written by the two-node run, {rank: log})``; the project then also holds
    the one-process run's checkpoint, the newer version."""
    from conftest import copy_project, run_pipeline

    project = copy_project(tmp_path_factory.mktemp("multinode"))
    (project / "conf" / "local" / "parameters_multinode.yml").write_text(TINY_PIX2PIX)
    for stage in ("pix2pix.ingest", "pix2pix.preprocess"):
        run_pipeline(project, stage, params={})
    before = _files(project)
    port = _free_port()
    nodes = {rank: _node(project, rank, port) for rank in (1, 0)}  # node 1 first: it waits for node 0's store
    logs = {}
    try:
        for rank, process in nodes.items():
            logs[rank] = process.communicate(timeout=240)[0]
    finally:
        for process in nodes.values():
            process.kill()
    for rank, process in nodes.items():
        assert process.returncode == 0, f"node {rank} failed:\n{logs[rank][-4000:]}"
    after = _files(project)
    written = sorted(path for path in after if before.get(path) != after[path])
    run_pipeline(project, "pix2pix.train", params={})  # one process, the same global batch of 4
    return project, written, logs


def test_two_nodes_train_the_weights_of_one_process(two_nodes_then_one):
    project, _, _ = two_nodes_then_one
    versions = sorted((project / CHECKPOINTS).iterdir())
    assert len(versions) == 2, versions  # the two-node run's (node 0's only), then the one-process run's
    two_nodes, one = (torch.load(v / CHECKPOINTS.name, weights_only=True) for v in versions)
    assert two_nodes["history"]["epoch"] == one["history"]["epoch"] == [1, 2]
    weights = one["state_dicts"]["generator"]
    assert weights.keys() == two_nodes["state_dicts"]["generator"].keys()
    for name, value in weights.items():
        assert torch.allclose(two_nodes["state_dicts"]["generator"][name], value, atol=1e-5), name
    # the losses of every epoch, summed over both nodes' workers, are the one process's too
    losses = [key for key in one["history"] if key.startswith("train_")]
    assert losses
    for key in losses:
        assert two_nodes["history"][key] == pytest.approx(one["history"][key], rel=1e-4), key


def test_node_1_writes_nothing_and_says_so(two_nodes_then_one):
    _, written, logs = two_nodes_then_one
    # exactly one training run's files: node 0's (a second checkpoint version or TensorBoard file
    # would be node 1's; its state lock would have stopped node 0; its kedro-viz hooks were off)
    assert len(written) == len(ONE_RUN_WRITES), written
    for pattern, path in zip(ONE_RUN_WRITES, written):
        assert re.fullmatch(pattern, path), (pattern, path)
    assert "This run saves nothing (pix2pix.train.training.node_rank=1 of nodes=2)" in logs[1]
    assert "pix2pix.generator_checkpoint: not saved" in logs[1]
    assert "it saved no file" in logs[1]
    assert re.search(r"Kedro plugin hooks off for this run: .*kedro.viz", logs[1]), logs[1][-3000:]
    assert "saves nothing" not in logs[0] and "Saved checkpoint" in logs[0]


def test_the_other_nodes_are_found_from_the_training_blocks_the_run_reads():
    from kedro.io import DatasetError

    from gan_pipelines.datasets import NotSavedDataset
    from gan_pipelines.params import other_node_trainings

    class Pipeline:
        def inputs(self):
            return {"params:pix2pix.train", "params:pix2pix.ingest", "model_input"}

    node = {"training": {"epochs": 1, "nodes": 2, "node_rank": 1, "rdzv_endpoint": "node0:29400"}}
    catalog = {"params:pix2pix.ingest": {"label_nc": 6}, "params:pix2pix.train": node}
    assert other_node_trainings(Pipeline(), _catalog(catalog)) == [("pix2pix.train.training", 1, 2)]
    node["training"]["node_rank"] = 0  # node 0 saves
    assert other_node_trainings(Pipeline(), _catalog(catalog)) == []
    catalog["params:pix2pix.train"] = {"judge": {"training": {"nodes": 3, "node_rank": 2}}}  # any nesting
    assert other_node_trainings(Pipeline(), _catalog(catalog)) == [("pix2pix.train.judge.training", 2, 3)]

    stand_in = NotSavedDataset(name="pix2pix.generator_checkpoint", reason="node 1 of 2; node 0 saves")
    stand_in.save({"state_dicts": {}})  # writes nothing
    with pytest.raises(DatasetError, match="pix2pix.generator_checkpoint was not saved in this run"):
        stand_in.load()
