"""The ``unpaired_compare`` pipeline: CycleGAN, U-GAT-IT and MUNIT on one test split with one judge
(see :mod:`gan_pipelines.families.unpaired.nodes.compare`). Run it after the models:
``kedro run --pipeline unpaired_compare``. Models not trained yet are listed, not scored.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from gan_pipelines.families.unpaired.layout import KIND_TYPES  # noqa: F401 (the registry's fence test reads it)
from gan_pipelines.families.unpaired.nodes.compare import COMPARED, REFERENCE, compare_unpaired_models
from gan_pipelines.stages.comparison import comparison_pipeline

NAMESPACE = "unpaired_compare"


def create_pipelines(namespace: str) -> dict[str, Pipeline]:
    """``{"": the comparison}`` for the namespace ``unpaired_compare`` (ValueError for another)."""
    if namespace != NAMESPACE:
        raise ValueError(f"the comparison pipeline runs in the namespace {NAMESPACE!r}, not {namespace!r}")
    return {"": comparison_pipeline(compare_unpaired_models, namespace=NAMESPACE, reference=REFERENCE,
                                    models={name: name for name in COMPARED}, node_name="compare_unpaired_models")}
