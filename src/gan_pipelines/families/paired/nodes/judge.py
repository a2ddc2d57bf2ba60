"""<family>.train_judge: the segmenter that scores generated pictures (the FCN-score idea),
trained on the real train pictures. The training itself is
:func:`gan_pipelines.families.paired.nodes.train_judge.train_judge`; this node binds the
namespace (for error messages) and imports it only when the stage runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def train_paired_judge(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: dict[str, Any], *, family: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    """``(judge_checkpoint_bundle, judge_history)``."""
    from gan_pipelines.families.paired.nodes.train_judge import train_judge

    return train_judge(model_input, params, section=f"{family}.train_judge")
