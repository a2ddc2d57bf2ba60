"""What the comparison pipelines share (``compare_label_to_photo``, ``unpaired_compare``): one node
that scores other namespaces' trained generators on a reference namespace's test split with its
judge. Kedro is imported at module level (pipelines are built when the registry loads)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

from kedro.pipeline import Node, Pipeline


def comparison_pipeline(function: Callable, *, namespace: str, reference: str, models: Mapping[str, str],
                        node_name: str) -> Pipeline:
    """The pipeline of one comparison node in ``namespace``:
    ``function(model_input, judge_checkpoint, params, **{model: lazy generator checkpoint})`` ->
    ``metrics``, ``report_html``, ``report_summary`` (the namespace's own datasets).

    ``reference``: the namespace whose ``model_input`` and ``judge_checkpoint`` score every model;
    ``models``: model name (the keyword ``function`` receives) -> the namespace whose
    ``generator_checkpoint`` it reads, loaded lazily so that a model not trained yet is reported,
    not a failed load; ``params`` is ``params:<namespace>``."""
    node = Node(
        function,
        {"model_input": "reference_model_input", "judge_checkpoint": "reference_judge_checkpoint",
         "params": "params:settings", **{model: f"{model}_generator" for model in models}},
        ["metrics", "report_html", "report_summary"],
        name=node_name,
    )
    inputs = {
        "reference_model_input": f"{reference}.model_input",
        "reference_judge_checkpoint": f"{reference}.judge_checkpoint",
        **{f"{model}_generator": f"{source}.generator_checkpoint@lazy" for model, source in models.items()},
    }
    with warnings.catch_warnings():
        # Kedro warns about dotted dataset names; here they are the other namespaces' datasets,
        # which is the point of a comparison
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")
        return Pipeline([node], namespace=namespace, prefix_datasets_with_namespace=True, inputs=inputs,
                        parameters={"params:settings": f"params:{namespace}"})
