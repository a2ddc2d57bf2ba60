"""The paired families' Kedro pipelines: ONE module reused under the namespaces ``pix2pix``,
``pix2pixhd``, ``spade``, ``spade_vae`` (label map -> photo) and ``sketch2color`` (Kedro pipeline
reuse), with different parameters and data; the generator is the ``train.model.type`` parameter.

Inside a stage, datasets and parameters have short names (``raw``, ``params:train``); the
namespace makes them ``pix2pix.raw``, ``params:pix2pix.train``, which the shared dataset
factories of ``conf/base/catalog.yml`` resolve to that family's own paths. sketch2color adds
one node: plain pix2pix trained on the same sketches (``train_plain``), so that the effect of
its extra losses is measured on the same test split.
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.paired.layout import KIND_TYPES, check_namespace  # noqa: F401 (KIND_TYPES: the registry's fence test reads it)
from gan_pipelines.families.paired.nodes.evaluate import evaluate_paired_model
from gan_pipelines.families.paired.nodes.export import export_paired_onnx
from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data
from gan_pipelines.families.paired.nodes.judge import train_paired_judge
from gan_pipelines.families.paired.nodes.predict import predict_paired_folder
from gan_pipelines.families.paired.nodes.preprocess import preprocess_paired_data
from gan_pipelines.families.paired.nodes.report import build_paired_report
from gan_pipelines.families.paired.nodes.train import train_generator

# The training chain, in the order data flows: `kedro run --pipeline <family>`.
TRAINING_STAGES = ("ingest", "preprocess", "train_judge", "train", "evaluate", "report")
USE_STAGES = ("predict", "export")
# Families that also train plain pix2pix on their data as a measured comparison.
WITH_PLAIN_PIX2PIX = ("sketch2color",)


def _bound(function, **kwargs):
    """``function`` with the family bound, keeping its name and docstring for Kedro and viz."""
    return update_wrapper(partial(function, **kwargs), function)


def _stage_nodes(family: str) -> dict[str, list[Node]]:
    plain = family in WITH_PLAIN_PIX2PIX
    # params:ingest: the checkpoint keeps how label maps were read (palette, ignore value) for predict.
    train_nodes = [Node(
        _bound(train_generator, family=family, stage="train"), ["model_input", "params:train", "params:ingest"],
        ["generator_checkpoint", "generator_history"], name="train_generator",
    )]
    if plain:
        train_nodes.append(Node(
            _bound(train_generator, family=family, stage="train_plain"),
            ["model_input", "params:train_plain", "params:ingest"],
            ["plain_generator_checkpoint", "plain_generator_history"], name="train_plain_pix2pix",
        ))
    evaluate_inputs = {
        "model_input": "model_input", "generator_checkpoint": "generator_checkpoint",
        "judge_checkpoint": "judge_checkpoint", "params": "params:evaluate",
    }
    report_inputs = {
        "model_input": "model_input", "predictions": "test_predictions", "per_image": "test_metrics_per_image",
        "metrics": "metrics", "generator_history": "generator_history", "judge_history": "judge_history",
        "ingest_params": "params:ingest", "preprocess_params": "params:preprocess", "train_params": "params:train",
        "params": "params:report",
    }
    if plain:
        evaluate_inputs["plain_generator_checkpoint"] = "plain_generator_checkpoint"
        report_inputs["plain_generator_history"] = "plain_generator_history"
    return {
        "ingest": [Node(
            _bound(ingest_paired_data, family=family), "params:ingest", ["raw", "ingest_skipped", "ingest_summary"],
            name="ingest_paired_data",
        )],
        "preprocess": [Node(
            _bound(preprocess_paired_data, family=family), ["raw", "params:preprocess", "params:train"],
            ["model_input", "preprocess_summary"], name="preprocess_paired_data",
        )],
        "train_judge": [Node(
            _bound(train_paired_judge, family=family), ["model_input", "params:train_judge", "params:ingest"],
            ["judge_checkpoint", "judge_history"], name="train_judge",
        )],
        "train": train_nodes,
        "evaluate": [Node(
            _bound(evaluate_paired_model, family=family), evaluate_inputs,
            ["test_metrics_per_image", "metrics", "test_predictions"], name="evaluate_paired_model",
        )],
        "report": [Node(
            _bound(build_paired_report, family=family), report_inputs, ["report_html", "report_summary"],
            name="build_paired_report",
        )],
        "predict": [Node(
            _bound(predict_paired_folder, family=family), ["generator_checkpoint@lazy", "params:predict"],
            "predict_summary", name="predict_paired_folder",
        )],
        "export": [Node(
            _bound(export_paired_onnx, family=family), ["generator_checkpoint", "params:export"], "export_summary",
            name="export_paired_onnx",
        )],
    }


def create_pipelines(namespace: str) -> dict:
    """``{stage: Pipeline}`` for every stage in ``namespace`` (one of
    :data:`~gan_pipelines.families.paired.layout.NAMESPACES`), plus ``""`` for the training
    chain. Raises ValueError for another namespace."""
    check_namespace(namespace)
    stages = {
        stage: Pipeline(nodes, namespace=namespace, prefix_datasets_with_namespace=True)
        for stage, nodes in _stage_nodes(namespace).items()
    }
    stages[""] = sum((stages[stage] for stage in TRAINING_STAGES), Pipeline([]))
    return stages
