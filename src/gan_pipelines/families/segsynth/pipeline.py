"""segsynth's Kedro pipeline (``kedro run --pipeline segsynth``), in the namespace ``segsynth``:
ingest (the paired ingest: embedded scenes or your labelled folder) -> preprocess (resolution,
a fixed val split) -> experiment (every arm of every paired seed: ``seed_results``, ``examples``,
``experiment_summary``) -> verdict (``metrics``: means, paired differences with t-intervals, the
verdict) -> report. Each stage is also ``segsynth.<stage>``.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.segsynth.config import stage_model
from gan_pipelines.families.segsynth.layout import KIND_TYPES, NAMESPACE  # noqa: F401 (KIND_TYPES: the registry's fence test reads it)
from gan_pipelines.families.segsynth.nodes.experiment import run_segsynth_experiment
from gan_pipelines.families.segsynth.nodes.ingest import ingest_segsynth_data
from gan_pipelines.families.segsynth.nodes.preprocess import preprocess_segsynth_data
from gan_pipelines.families.segsynth.nodes.report import build_segsynth_report
from gan_pipelines.families.segsynth.nodes.verdict import judge_segsynth_results
from gan_pipelines.params import namespaced_node

TRAINING_STAGES = ("ingest", "preprocess", "experiment", "verdict", "report")


def _node(*args, **kwargs):
    return namespaced_node(*args, stage_models=stage_model, **kwargs)


def _stage_nodes(family: str) -> dict[str, list[Node]]:
    return {
        "ingest": [_node(ingest_segsynth_data, "params:ingest", ["raw", "ingest_skipped", "ingest_summary"],
                         "ingest_segsynth_data", family=family)],
        "preprocess": [_node(preprocess_segsynth_data, ["raw", "params:preprocess"], ["model_input", "preprocess_summary"],
                             "preprocess_segsynth_data", family=family)],
        "experiment": [_node(run_segsynth_experiment,
                             ["model_input", "params:experiment", "params:generator", "params:ingest",
                              "params:unpaired_generator"],
                             ["seed_results", "examples", "experiment_summary"], "run_segsynth_experiment", family=family)],
        "verdict": [_node(judge_segsynth_results, ["seed_results", "params:verdict", "experiment_summary"], "metrics",
                          "judge_segsynth_results", family=family)],
        "report": [_node(build_segsynth_report,
                         {"seed_results": "seed_results", "metrics": "metrics", "examples": "examples",
                          "experiment_summary": "experiment_summary", "params": "params:report"},
                         ["report_html", "report_summary"], "build_segsynth_report", family=family)],
    }


def create_pipelines(namespace: str) -> dict:
    """``{stage: Pipeline}`` for every stage, plus ``""`` for the chain. Raises ValueError for a
    namespace other than ``segsynth``."""
    if namespace != NAMESPACE:
        raise ValueError(f"the segsynth pipelines run in the namespace {NAMESPACE!r}, not {namespace!r}")
    stages = {stage: Pipeline(nodes, namespace=namespace, prefix_datasets_with_namespace=True)
              for stage, nodes in _stage_nodes(namespace).items()}
    stages[""] = sum((stages[stage] for stage in TRAINING_STAGES), Pipeline([]))
    return stages
