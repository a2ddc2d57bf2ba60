from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_shadow_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=evaluate_shadow_model,
                inputs=[
                    "shadow_model_input",
                    "shadow_attention_checkpoint",
                    "shadow_generator_checkpoint",
                    "params:evaluate",
                ],
                outputs=["shadow_test_metrics_per_image", "shadow_metrics", "shadow_test_predictions"],
                name="evaluate_shadow_model",
            )
        ],
    )
