"""<family>.train_judge: the judges that score translated pictures, trained on the real train
pictures of both domains: the domain classifier (target-domain rate, the project's KID) and one
segmenter per domain with class maps (content kept). The training itself is
:func:`gan_pipelines.families.unpaired.judge.train_domain_judge`; this node binds the namespace
(for error messages) and imports it only when the stage runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.unpaired.config import TrainJudgeParams


def train_unpaired_judge(
    model_input: Mapping[str, Callable[[], np.ndarray]], ingest_summary: Mapping[str, Any],
    params: TrainJudgeParams, *, family: str,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """``(judge_checkpoint, judge_history)``. ``model_input``: the preprocess node's image
    folder (train, val, test; kinds A, B, optional A_labels / B_labels); ``ingest_summary``: the
    ingest node's (``label_nc``, ``label_colours``); ``params``: ``<family>.train_judge``."""
    from gan_pipelines.families.unpaired.judge import train_domain_judge
    from gan_pipelines.families.unpaired.layout import check_namespace

    check_namespace(family)
    section = f"{family}.train_judge"
    stage = TrainJudgeParams.parse(params, section)  # Kedro's object as it is; a dict parsed once
    return train_domain_judge(model_input, dict(ingest_summary or {}), stage, section=section, family=family)
