from kedro.pipeline import Node, Pipeline

from .nodes import predict_shadow_folder


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=predict_shadow_folder,
                inputs=["shadow_attention_checkpoint", "shadow_generator_checkpoint", "params:shadow_predict"],
                outputs="shadow_predict_summary",
                name="predict_shadow_folder",
            )
        ],
    )
