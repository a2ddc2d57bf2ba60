"""segsynth.ingest: the paired families' ingest (embedded scenes with label, instance and picture,
or a user's paired folder / aligned images with class maps), under segsynth's name."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gan_pipelines.families.segsynth.config import IngestParams


def ingest_segsynth_data(params: IngestParams, *, family: str) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """``(images, skipped, summary)``: the paired ingest reading spade's kinds
    (:func:`gan_pipelines.families.paired.nodes.ingest.ingest_paired_data`); the summary adds the
    background classes. Raises ValueError naming ``segsynth.ingest.<key>`` for bad settings or data."""
    from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data
    from gan_pipelines.families.segsynth.layout import DATA_FAMILY

    params = IngestParams.parse(params, f"{family}.ingest")
    images, skipped, summary = ingest_paired_data(params.paired_ingest(), family=family, data_family=DATA_FAMILY)
    summary["background_classes"] = list(params.backgrounds())
    return images, skipped, summary
