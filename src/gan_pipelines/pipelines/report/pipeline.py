from kedro.pipeline import Node, Pipeline

from .nodes import build_report


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=build_report,
                inputs={
                    "model_input": "shadow_model_input",
                    "predictions": "shadow_test_predictions",
                    "per_image": "shadow_test_metrics_per_image",
                    "metrics": "shadow_metrics",
                    "attention_history": "shadow_attention_history",
                    "generator_history": "shadow_generator_history",
                    "ingest_params": "params:ingest",
                    "preprocess_params": "params:preprocess",
                    "attention_params": "params:train_attention",
                    "generator_params": "params:train_generator",
                    "params": "params:report",
                },
                outputs=["shadow_report_html", "shadow_report_summary"],
                name="build_shadow_report",
            )
        ],
    )
