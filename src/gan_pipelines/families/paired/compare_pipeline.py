"""The ``paired_compare`` pipeline: one table and one picture grid for every trained label map ->
photo model (pix2pix, pix2pixhd, spade, spade_vae) on the same test split, scored by the same
judge (see :mod:`gan_pipelines.families.paired.nodes.compare`). Run it after the models:
``kedro run --pipeline paired_compare``. Models not trained yet are listed, not scored.
"""

from __future__ import annotations

import warnings

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.paired.layout import KIND_TYPES  # noqa: F401 (the registry's fence test reads it)
from gan_pipelines.families.paired.nodes.compare import COMPARED_FAMILIES, REFERENCE_FAMILY, compare_paired_models

NAMESPACE = "paired_compare"


def create_pipelines(namespace: str) -> dict[str, Pipeline]:
    """``{"": the comparison}`` for the namespace ``paired_compare`` (ValueError for another)."""
    if namespace != NAMESPACE:
        raise ValueError(f"the comparison pipeline runs in the namespace {NAMESPACE!r}, not {namespace!r}")
    node = Node(
        compare_paired_models,
        {"model_input": "reference_model_input", "judge_checkpoint": "reference_judge_checkpoint",
         "params": "params:settings", **{family: f"{family}_generator" for family in COMPARED_FAMILIES}},
        ["metrics", "report_html", "report_summary"],
        name="compare_paired_models",
    )
    inputs = {
        "reference_model_input": f"{REFERENCE_FAMILY}.model_input",
        "reference_judge_checkpoint": f"{REFERENCE_FAMILY}.judge_checkpoint",
        # lazy: a family that has not been trained yet is reported, not a failed load
        **{f"{family}_generator": f"{family}.generator_checkpoint@lazy" for family in COMPARED_FAMILIES},
    }
    with warnings.catch_warnings():
        # Kedro warns about dotted dataset names; here they are the other namespaces' datasets,
        # which is the point of a comparison
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        pipeline = Pipeline([node], namespace=NAMESPACE, prefix_datasets_with_namespace=True, inputs=inputs,
                            parameters={"params:settings": f"params:{NAMESPACE}"})
    return {"": pipeline}
