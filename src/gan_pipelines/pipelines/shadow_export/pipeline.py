from kedro.pipeline import Node, Pipeline

from .nodes import export_shadow_onnx


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=export_shadow_onnx,
                inputs=["shadow_attention_checkpoint", "shadow_generator_checkpoint", "params:shadow_export"],
                outputs="shadow_export_summary",
                name="export_shadow_onnx",
            )
        ],
    )
