from kedro.pipeline import Node, Pipeline

from .nodes import train_attention


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_attention,
                inputs=["shadow_model_input", "params:train_attention"],
                outputs=["shadow_attention_checkpoint", "shadow_attention_history"],
                name="train_attention",
            )
        ],
    )
