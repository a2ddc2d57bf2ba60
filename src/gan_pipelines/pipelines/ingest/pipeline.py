from kedro.pipeline import Node, Pipeline

from .nodes import ingest_shadow_data


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=ingest_shadow_data,
                inputs="params:ingest",
                outputs=["shadow_raw", "shadow_ingest_skipped", "shadow_ingest_summary"],
                name="ingest_shadow_data",
            )
        ],
    )
