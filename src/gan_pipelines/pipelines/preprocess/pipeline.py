from kedro.pipeline import Node, Pipeline

from .nodes import preprocess_shadow_data


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=preprocess_shadow_data,
                inputs=["shadow_raw", "params:preprocess"],
                outputs=["shadow_model_input", "shadow_preprocess_summary"],
                name="preprocess_shadow_data",
            )
        ],
    )
