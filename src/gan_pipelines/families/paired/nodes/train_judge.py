"""<family>.train_judge: the segmenter that scores generated pictures (the FCN-score idea),
trained on the real train pictures. The training itself is
:func:`gan_pipelines.families.paired.judge.train_judge`; this node binds the
namespace (for error messages) and imports it only when the stage runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.config import IngestParams, JudgeParams, TrainJudgeParams
from gan_pipelines.params import as_plain


def train_paired_judge(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: TrainJudgeParams,
    ingest_params: IngestParams | None = None, *, family: str,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """``(judge_checkpoint_bundle, judge_history)``. The class count and the don't-care value
    come from ``<family>.ingest`` (``label_nc``, ``ignore_value``), the one place they are set;
    ``train_judge.num_classes`` / ``ignore_index`` are refused, naming the ingest keys."""
    from gan_pipelines.families.paired.nodes.ingest import ingested_class_count
    from gan_pipelines.families.paired.judge import train_judge

    section = f"{family}.train_judge"
    if ingest_params is not None:
        stage = TrainJudgeParams.parse(params, section)  # Kedro's object as it is; a dict parsed once
        label_nc, ignore_value = ingested_class_count(as_plain(ingest_params), family)
        if label_nc is None:
            raise ValueError(f"{family}.ingest.label_nc is null: the segmentation judge needs the number of classes "
                             f"of the class maps ({stage.label_kind}); set it there")
        params = JudgeParams.with_classes(stage, label_nc, ignore_value)
    return train_judge(model_input, params, section=section)
