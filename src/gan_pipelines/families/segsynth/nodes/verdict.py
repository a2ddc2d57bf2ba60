"""segsynth.verdict: arms' means and sds, paired differences to A_steps with t-intervals, and the
verdict (:mod:`gan_pipelines.families.segsynth.verdict`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gan_pipelines.families.segsynth.config import VerdictParams


def judge_segsynth_results(seed_results: pd.DataFrame, params: VerdictParams, experiment_summary: dict[str, Any], *,
                           family: str) -> dict[str, Any]:
    """The metrics file: :func:`~gan_pipelines.families.segsynth.verdict.summarise` with the run's
    sizes and times in ``meta.experiment``."""
    from gan_pipelines.families.segsynth.verdict import summarise

    params = VerdictParams.parse(params, f"{family}.verdict")
    metrics = summarise(seed_results, params.metric, params.confidence)
    metrics["meta"]["experiment"] = {k: v for k, v in experiment_summary.items() if k != "per_seed"}
    return metrics
