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

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.paired.layout import KIND_TYPES, check_namespace  # noqa: F401 (KIND_TYPES: the registry's fence test reads it)
from gan_pipelines.families.paired.nodes.evaluate import evaluate_paired_model
from gan_pipelines.families.paired.nodes.export import export_paired_onnx
from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data
from gan_pipelines.families.paired.nodes.predict import predict_paired_folder
from gan_pipelines.families.paired.nodes.preprocess import preprocess_paired_data
from gan_pipelines.families.paired.nodes.report import build_paired_report
from gan_pipelines.families.paired.nodes.train import train_generator
from gan_pipelines.families.paired.nodes.train_judge import train_paired_judge
from gan_pipelines.params import namespaced_node as _node

# The training chain, in the order data flows: `kedro run --pipeline <family>`.
TRAINING_STAGES = ("ingest", "preprocess", "train_judge", "train", "evaluate", "report")
USE_STAGES = ("predict", "export")
# Families that also train plain pix2pix on their data as a measured comparison.
WITH_PLAIN_PIX2PIX = ("sketch2color",)


def _stage_nodes(family: str) -> dict[str, list[Node]]:
    plain = family in WITH_PLAIN_PIX2PIX
    # params:ingest: the checkpoint keeps how label maps were read (palette, ignore value) for predict.
    train_nodes = [_node(
        train_generator, ["model_input", "params:train", "params:ingest"], ["generator_checkpoint", "generator_history"],
        "train_generator", family=family, stage="train",
    )]
    if plain:
        train_nodes.append(_node(
            train_generator, ["model_input", "params:train_plain", "params:ingest"],
            ["plain_generator_checkpoint", "plain_generator_history"], "train_plain_pix2pix", family=family,
            stage="train_plain",
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
        "ingest": [_node(ingest_paired_data, "params:ingest", ["raw", "ingest_skipped", "ingest_summary"],
                         "ingest_paired_data", family=family)],
        "preprocess": [_node(preprocess_paired_data, ["raw", "params:preprocess", "params:train"],
                             ["model_input", "preprocess_summary"], "preprocess_paired_data", family=family)],
        "train_judge": [_node(train_paired_judge, ["model_input", "params:train_judge", "params:ingest"],
                              ["judge_checkpoint", "judge_history"], "train_judge", family=family)],
        "train": train_nodes,
        "evaluate": [_node(evaluate_paired_model, evaluate_inputs, ["test_metrics_per_image", "metrics", "test_predictions"],
                           "evaluate_paired_model", family=family)],
        "report": [_node(build_paired_report, report_inputs, ["report_html", "report_summary"], "build_paired_report",
                         family=family)],
        "predict": [_node(predict_paired_folder, ["generator_checkpoint@lazy", "params:predict"], "predict_summary",
                          "predict_paired_folder", family=family)],
        "export": [_node(export_paired_onnx, ["generator_checkpoint", "params:export"], "export_summary",
                         "export_paired_onnx", family=family)],
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
