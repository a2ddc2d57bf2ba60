"""The shadow family's Kedro pipelines, one per stage, all in the ``shadow`` namespace.

Inside a stage, datasets and parameters have short names (``raw``, ``model_input``,
``params:ingest``); the namespace makes them ``shadow.raw``, ``params:shadow.ingest``, which the
shared dataset factories of ``conf/base/catalog.yml`` resolve to this family's own paths.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.shadow.layout import KIND_TYPES  # noqa: F401 (the registry's fence test reads it)
from gan_pipelines.families.shadow.nodes.evaluate import evaluate_shadow_model
from gan_pipelines.families.shadow.nodes.export import export_shadow_onnx
from gan_pipelines.families.shadow.nodes.ingest import ingest_shadow_data
from gan_pipelines.families.shadow.nodes.predict import predict_shadow_folder
from gan_pipelines.families.shadow.nodes.preprocess import preprocess_shadow_data
from gan_pipelines.families.shadow.nodes.report import build_report
from gan_pipelines.families.shadow.nodes.train_attention import train_attention
from gan_pipelines.families.shadow.nodes.train_generator import train_generator

FAMILY = "shadow"
# The training chain, in the order data flows through it: `kedro run --pipeline shadow`.
TRAINING_STAGES = ("ingest", "preprocess", "train_attention", "train_generator", "evaluate", "report")
# Stages that use a trained model; not part of the chain.
USE_STAGES = ("predict", "export")


def _stage_nodes() -> dict[str, list[Node]]:
    return {
        "ingest": [Node(
            ingest_shadow_data, "params:ingest", ["raw", "ingest_skipped", "ingest_summary"], name="ingest_shadow_data",
        )],
        "preprocess": [Node(
            preprocess_shadow_data, ["raw", "params:preprocess"], ["model_input", "preprocess_summary"],
            name="preprocess_shadow_data",
        )],
        "train_attention": [Node(
            train_attention, ["model_input", "params:train_attention"], ["attention_checkpoint", "attention_history"],
            name="train_attention",
        )],
        "train_generator": [Node(
            train_generator, ["model_input", "attention_checkpoint", "params:train_generator"],
            ["generator_checkpoint", "generator_history"], name="train_generator",
        )],
        "evaluate": [Node(
            evaluate_shadow_model,
            ["model_input", "attention_checkpoint", "generator_checkpoint", "params:evaluate"],
            ["test_metrics_per_image", "metrics", "test_predictions"], name="evaluate_shadow_model",
        )],
        "report": [Node(
            build_report,
            {
                "model_input": "model_input",
                "predictions": "test_predictions",
                "per_image": "test_metrics_per_image",
                "metrics": "metrics",
                "attention_history": "attention_history",
                "generator_history": "generator_history",
                "ingest_params": "params:ingest",
                "preprocess_params": "params:preprocess",
                "attention_params": "params:train_attention",
                "generator_params": "params:train_generator",
                "params": "params:report",
                "attention_checkpoint": "attention_checkpoint",
                "generator_checkpoint": "generator_checkpoint",
                "real_photos": "real_photos",  # the user's own photos (catalog: shadow.real_photos)
            },
            ["report_html", "report_summary"], name="build_shadow_report",
        )],
        "predict": [Node(
            predict_shadow_folder, ["attention_checkpoint@lazy", "generator_checkpoint@lazy", "params:predict"],
            "predict_summary",
            name="predict_shadow_folder",
        )],
        "export": [Node(
            export_shadow_onnx, ["attention_checkpoint", "generator_checkpoint", "params:export"], "export_summary",
            name="export_shadow_onnx",
        )],
    }


def create_pipelines(namespace: str = FAMILY) -> dict[str, Pipeline]:
    """``{stage: Pipeline}`` for every stage, each in the ``shadow`` namespace, plus ``""`` for the
    training chain (the registry names them ``shadow.<stage>`` and ``shadow``). Raises ValueError
    for another namespace: the nodes' messages and parameters are the shadow family's own."""
    if namespace != FAMILY:
        raise ValueError(f"the shadow family's pipelines run in the {FAMILY!r} namespace, not {namespace!r}")
    stages = {
        stage: Pipeline(nodes, namespace=FAMILY, prefix_datasets_with_namespace=True)
        for stage, nodes in _stage_nodes().items()
    }
    stages[""] = sum((stages[stage] for stage in TRAINING_STAGES), Pipeline([]))
    return stages
