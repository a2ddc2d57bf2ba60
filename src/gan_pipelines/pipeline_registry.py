"""Project pipelines: one per stage, ``shadow`` = all stages, ``__default__`` = ``shadow``."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from gan_pipelines.pipelines import evaluate, ingest, preprocess, report, shadow_export, shadow_predict, train_attention, train_generator

# The shadow family's stages, in the order data flows through them.
SHADOW_STAGES = {
    "ingest": ingest,
    "preprocess": preprocess,
    "train_attention": train_attention,
    "train_generator": train_generator,
    "evaluate": evaluate,
    "report": report,
}


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {name: module.create_pipeline() for name, module in SHADOW_STAGES.items()}
    pipelines["shadow"] = sum(pipelines.values(), Pipeline([]))
    pipelines["__default__"] = pipelines["shadow"]
    # Not part of `shadow`: they use a trained model (on the user's own images; export to ONNX).
    pipelines["shadow_predict"] = shadow_predict.create_pipeline()
    pipelines["shadow_export"] = shadow_export.create_pipeline()
    return pipelines
