from kedro.pipeline import Node, Pipeline

from .nodes import train_generator


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_generator,
                inputs=["shadow_model_input", "shadow_attention_checkpoint", "params:train_generator"],
                outputs=["shadow_generator_checkpoint", "shadow_generator_history"],
                name="train_generator",
            )
        ],
    )
