"""The ``compare_label_to_photo`` pipeline: one table and one picture grid for every trained label
map -> photo model, supervised (pix2pix, pix2pixhd, spade, spade_vae) and unsupervised (cyclegan,
ugatit, munit, trained by the ``<model>_labels`` namespaces), on the same test split, scored by the
same judge (see :mod:`gan_pipelines.families.paired.nodes.compare`). Run it after the models:
``kedro run --pipeline compare_label_to_photo`` (``dvc repro compare_label_to_photo`` trains the
missing ones first). Models not trained yet are listed, not scored.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from gan_pipelines.families.paired.layout import KIND_TYPES  # noqa: F401 (the registry's fence test reads it)
from gan_pipelines.families.paired.nodes.compare import (
    MODEL_NAMESPACES, REFERENCE_FAMILY, SECTION, compare_label_to_photo_models,
)
from gan_pipelines.stages.comparison import comparison_pipeline

NAMESPACE = SECTION


def create_pipelines(namespace: str) -> dict[str, Pipeline]:
    """``{"": the comparison}`` for the namespace ``compare_label_to_photo`` (ValueError for another)."""
    if namespace != NAMESPACE:
        raise ValueError(f"the comparison pipeline runs in the namespace {NAMESPACE!r}, not {namespace!r}")
    return {"": comparison_pipeline(compare_label_to_photo_models, namespace=NAMESPACE, reference=REFERENCE_FAMILY,
                                    models=MODEL_NAMESPACES, node_name="compare_models")}
