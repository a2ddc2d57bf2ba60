"""The ``unpaired_compare`` pipeline: CycleGAN, U-GAT-IT and MUNIT on one test split with one judge
(see :mod:`gan_pipelines.families.unpaired.nodes.compare`). Run it after the models:
``kedro run --pipeline unpaired_compare``. Models not trained yet are listed, not scored.
"""

from __future__ import annotations

import warnings

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.unpaired.layout import KIND_TYPES  # noqa: F401 (the registry's fence test reads it)
from gan_pipelines.families.unpaired.nodes.compare import COMPARED, REFERENCE, compare_unpaired_models

NAMESPACE = "unpaired_compare"


def create_pipelines(namespace: str) -> dict[str, Pipeline]:
    """``{"": the comparison}`` for the namespace ``unpaired_compare`` (ValueError for another)."""
    if namespace != NAMESPACE:
        raise ValueError(f"the comparison pipeline runs in the namespace {NAMESPACE!r}, not {namespace!r}")
    node = Node(
        compare_unpaired_models,
        {"model_input": "reference_model_input", "judge_checkpoint": "reference_judge_checkpoint",
         "params": "params:settings", **{name: f"{name}_generator" for name in COMPARED}},
        ["metrics", "report_html", "report_summary"],
        name="compare_unpaired_models",
    )
    inputs = {
        "reference_model_input": f"{REFERENCE}.model_input",
        "reference_judge_checkpoint": f"{REFERENCE}.judge_checkpoint",
        # lazy: a model that has not been trained yet is reported, not a failed load
        **{f"{name}_generator": f"{name}.generator_checkpoint@lazy" for name in COMPARED},
    }
    with warnings.catch_warnings():
        # Kedro warns about dotted dataset names; here they are the other namespaces' datasets,
        # which is the point of a comparison
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        pipeline = Pipeline([node], namespace=NAMESPACE, prefix_datasets_with_namespace=True, inputs=inputs,
                            parameters={"params:settings": f"params:{NAMESPACE}"})
    return {"": pipeline}
