"""The ``compare_label_to_photo`` pipeline: one table and one picture grid for every trained label
map -> photo model, supervised (pix2pix, pix2pixhd, spade, spade_vae) and unsupervised (cyclegan,
ugatit, munit, trained by the ``<model>_labels`` namespaces), on the same test split, scored by the
same judge (see :mod:`gan_pipelines.families.paired.nodes.compare`). Run it after the models:
``kedro run --pipeline compare_label_to_photo`` (``dvc repro compare_label_to_photo`` trains the
missing ones first). Models not trained yet are listed, not scored.
"""

from __future__ import annotations

import warnings

from kedro.pipeline import Node, Pipeline

from gan_pipelines.families.paired.layout import KIND_TYPES  # noqa: F401 (the registry's fence test reads it)
from gan_pipelines.families.paired.nodes.compare import (
    COMPARED_MODELS, MODEL_NAMESPACES, REFERENCE_FAMILY, SECTION, compare_label_to_photo_models,
)

NAMESPACE = SECTION


def create_pipelines(namespace: str) -> dict[str, Pipeline]:
    """``{"": the comparison}`` for the namespace ``compare_label_to_photo`` (ValueError for another)."""
    if namespace != NAMESPACE:
        raise ValueError(f"the comparison pipeline runs in the namespace {NAMESPACE!r}, not {namespace!r}")
    node = Node(
        compare_label_to_photo_models,
        {"model_input": "reference_model_input", "judge_checkpoint": "reference_judge_checkpoint",
         "params": "params:settings", **{model: f"{model}_generator" for model in COMPARED_MODELS}},
        ["metrics", "report_html", "report_summary"],
        name="compare_models",
    )
    inputs = {
        "reference_model_input": f"{REFERENCE_FAMILY}.model_input",
        "reference_judge_checkpoint": f"{REFERENCE_FAMILY}.judge_checkpoint",
        # lazy: a model that has not been trained yet is reported, not a failed load
        **{f"{model}_generator": f"{MODEL_NAMESPACES[model]}.generator_checkpoint@lazy" for model in COMPARED_MODELS},
    }
    with warnings.catch_warnings():
        # Kedro warns about dotted dataset names; here they are the other namespaces' datasets,
        # which is the point of a comparison
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        pipeline = Pipeline([node], namespace=NAMESPACE, prefix_datasets_with_namespace=True, inputs=inputs,
                            parameters={"params:settings": f"params:{NAMESPACE}"})
    return {"": pipeline}
