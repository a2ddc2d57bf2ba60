"""The unpaired families' Kedro pipelines: ONE module reused under the namespaces of
:data:`~gan_pipelines.families.unpaired.layout.NAMESPACES` (``cyclegan``, ``ugatit``, ``munit``
and their ``_labels`` twins, each training the model of ``layout.NAMESPACE_MODELS``), with their
own parameters and data (Kedro pipeline reuse).

Inside a stage, datasets and parameters have short names (``raw``, ``params:train``); the
namespace makes them ``cyclegan.raw``, ``params:cyclegan.train``, which the shared dataset
factories of ``conf/base/catalog.yml`` resolve to that family's own paths. The chain:
ingest (two domains, hidden test pairs) -> preprocess (resolution, val split per domain) ->
train_judge (domain classifier and per-domain segmenters, on real train pictures) -> train (the
two generators) -> evaluate (hidden pairs, target-domain rate, content kept, KID, cycle, against
identity and two recolouring baselines) -> report.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.unpaired.layout import KIND_TYPES, check_namespace  # noqa: F401 (KIND_TYPES: the registry's fence test reads it)
from gan_pipelines.families.unpaired.nodes.evaluate import evaluate_unpaired_model
from gan_pipelines.families.unpaired.nodes.export import export_unpaired_onnx
from gan_pipelines.families.unpaired.nodes.ingest import ingest_unpaired_data
from gan_pipelines.families.unpaired.nodes.predict import predict_unpaired_folder
from gan_pipelines.families.unpaired.nodes.preprocess import preprocess_unpaired_data
from gan_pipelines.families.unpaired.nodes.report import build_unpaired_report
from gan_pipelines.families.unpaired.nodes.train import train_unpaired_model
from gan_pipelines.families.unpaired.nodes.train_judge import train_unpaired_judge
from gan_pipelines.families.unpaired.config import stage_model
from gan_pipelines.params import namespaced_node


def _node(*args, **kwargs):
    # the train (and MUNIT's predict) parameters' model depends on the namespace's model
    return namespaced_node(*args, stage_models=stage_model, **kwargs)

# The training chain, in the order data flows: `kedro run --pipeline <family>`.
TRAINING_STAGES = ("ingest", "preprocess", "train_judge", "train", "evaluate", "report")
USE_STAGES = ("predict", "export")


def _stage_nodes(family: str) -> dict[str, list[Node]]:
    return {
        "ingest": [_node(ingest_unpaired_data, "params:ingest", ["raw", "ingest_summary"], "ingest_unpaired_data",
                         family=family)],
        "preprocess": [_node(preprocess_unpaired_data, ["raw", "params:preprocess"],
                             ["model_input", "preprocess_summary"], "preprocess_unpaired_data", family=family)],
        "train_judge": [_node(train_unpaired_judge, ["model_input", "ingest_summary", "params:train_judge"],
                              ["judge_checkpoint", "judge_history"], "train_unpaired_judge", family=family)],
        "train": [_node(train_unpaired_model, ["model_input", "params:train"],
                        ["generator_checkpoint", "generator_history"], "train_unpaired_model", family=family)],
        "evaluate": [_node(
            evaluate_unpaired_model,
            {"model_input": "model_input", "ingest_summary": "ingest_summary",
             "generator_checkpoint": "generator_checkpoint", "judge_checkpoint": "judge_checkpoint",
             "params": "params:evaluate"},
            ["test_metrics_per_image", "metrics", "test_predictions"], "evaluate_unpaired_model", family=family,
        )],
        "report": [_node(
            build_unpaired_report,
            {"model_input": "model_input", "test_predictions": "test_predictions",
             "per_image": "test_metrics_per_image", "metrics": "metrics", "generator_history": "generator_history",
             "judge_history": "judge_history", "ingest_summary": "ingest_summary", "train_params": "params:train",
             "params": "params:report"},
            ["report_html", "report_summary"], "build_unpaired_report", family=family,
        )],
        "predict": [_node(predict_unpaired_folder, ["generator_checkpoint@lazy", "params:predict"], "predict_summary",
                          "predict_unpaired_folder", family=family)],
        "export": [_node(export_unpaired_onnx, ["generator_checkpoint", "params:export"], "export_summary",
                         "export_unpaired_onnx", family=family)],
    }


def create_pipelines(namespace: str) -> dict:
    """``{stage: Pipeline}`` for every stage in ``namespace`` (one of
    :data:`~gan_pipelines.families.unpaired.layout.NAMESPACES`), plus ``""`` for the training
    chain. Raises ValueError for another namespace."""
    check_namespace(namespace)
    stages = {
        stage: Pipeline(nodes, namespace=namespace, prefix_datasets_with_namespace=True)
        for stage, nodes in _stage_nodes(namespace).items()
    }
    stages[""] = sum((stages[stage] for stage in TRAINING_STAGES), Pipeline([]))
    return stages
