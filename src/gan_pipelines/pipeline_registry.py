"""Project pipelines: for every family ``<family>.<stage>`` and ``<family>`` (its training chain);
``__default__`` is the shadow family's chain.

A family is a module with ``create_pipelines(namespace) -> {stage: Pipeline}`` (``""`` for its
chain) and ``KIND_TYPES`` (its image kinds); registering one is one line in :data:`FAMILIES`. One
module may serve several namespaces with different parameters and data (Kedro pipeline reuse).
"""

from __future__ import annotations

import importlib

from kedro.pipeline import Pipeline

# namespace -> module whose create_pipelines(namespace) builds its pipelines
FAMILIES: dict[str, str] = {
    "shadow": "gan_pipelines.families.shadow.pipeline",
    "pix2pix": "gan_pipelines.families.paired.pipeline",
    "sketch2color": "gan_pipelines.families.paired.pipeline",
    "pix2pixhd": "gan_pipelines.families.paired.pipeline",
    "spade": "gan_pipelines.families.paired.pipeline",
    "spade_vae": "gan_pipelines.families.paired.pipeline",
    # not a model: every trained label map -> photo model, supervised and unsupervised, on one test split
    "compare_label_to_photo": "gan_pipelines.families.paired.compare_pipeline",
    "cyclegan": "gan_pipelines.families.unpaired.pipeline",
    "ugatit": "gan_pipelines.families.unpaired.pipeline",
    "munit": "gan_pipelines.families.unpaired.pipeline",
    # the same three models on the labels_photo pair, for compare_label_to_photo
    "cyclegan_labels": "gan_pipelines.families.unpaired.pipeline",
    "ugatit_labels": "gan_pipelines.families.unpaired.pipeline",
    "munit_labels": "gan_pipelines.families.unpaired.pipeline",
    # not a model: the three unpaired models on one test split with one judge
    "unpaired_compare": "gan_pipelines.families.unpaired.compare_pipeline",
    # not a model: does GAN-made training data help a segmenter? arms over paired seeds, a verdict
    "segsynth": "gan_pipelines.families.segsynth.pipeline",
}
DEFAULT_FAMILY = "shadow"
# The demo page (`gan-pipelines demo`): not a family but the one place that puts every family's
# predictors on one page, so it lives beside them and shared code reaches it by name, as here.
DEMO_MODULE = "gan_pipelines.families.demo"


def family_pipelines(family: str, module_name: str) -> dict[str, Pipeline]:
    """``{"<family>": chain, "<family>.<stage>": stage}`` from one family module."""
    stages = importlib.import_module(module_name).create_pipelines(family)
    return {family if stage == "" else f"{family}.{stage}": pipeline for stage, pipeline in stages.items()}


def register_pipelines() -> dict[str, Pipeline]:
    pipelines: dict[str, Pipeline] = {}
    for family, module_name in FAMILIES.items():
        pipelines.update(family_pipelines(family, module_name))
    pipelines["__default__"] = pipelines[DEFAULT_FAMILY]
    return pipelines
