"""segsynth's statistics and verdict: mean and sd per arm over the paired seeds, paired differences
against ``A_steps`` with t-intervals, and the rule.

The rule: GAN data helps when, for B or B_mix, the ``confidence`` t-interval of its paired
difference to ``A_steps`` (same seed, same steps, real pictures only) lies above 0 AND its mean
beats the means of C (copy-paste, no GAN) and A_aug (plain augmentation), those that ran.
Otherwise the verdict names the arm to use instead: the non-GAN practical arm
(A, A_steps, A_aug, C) with the highest mean, saying whether its lead over A_steps is itself
outside the noise. With S seeds the interval is ``mean +- t_{(1+c)/2, S-1} sd / sqrt(S)``
(Student's t, :func:`scipy.stats.t.ppf`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.segsynth.layout import GAN_ARMS, METRICS, PRACTICAL_ARMS, REFERENCE_ARM, RIVAL_ARMS


def t_interval(values: Sequence[float], confidence: float) -> tuple[float, float, float, float] | None:
    """``(mean, sd, low, high)`` of ``values`` (sd with ddof 1; the t-interval of the mean), or None
    with fewer than two values."""
    from scipy.stats import t

    array = np.asarray([v for v in values if v is not None and not math.isnan(v)], float)
    if len(array) < 2:
        return None
    mean, sd = float(array.mean()), float(array.std(ddof=1))
    half = float(t.ppf((1 + confidence) / 2, len(array) - 1)) * sd / math.sqrt(len(array))
    return mean, sd, mean - half, mean + half


def metric_columns(results: pd.DataFrame) -> list[str]:
    return [c for c in (*METRICS, *sorted(c for c in results if c.startswith("recall_size_"))) if c in results]


def difference_name(arm: str, other: str) -> str:
    """The metrics file's key of a paired difference, e.g. ``"B-A_steps"``."""
    return f"{arm}-{other}"


def compared_pairs(arms: Sequence[str]) -> list[tuple[str, str]]:
    """Every arm against the reference arm, and each GAN arm against the cheap rivals C and A_aug
    (the pairs the verdict reads), for the arms that ran."""
    pairs = [(arm, REFERENCE_ARM) for arm in arms if arm != REFERENCE_ARM]
    pairs += [(arm, rival) for arm in GAN_ARMS for rival in RIVAL_ARMS if arm in arms and rival in arms]
    return pairs


def summarise(results: pd.DataFrame, metric: str, confidence: float) -> dict[str, Any]:
    """The metrics file's content from the per-seed table (columns ``seed``, ``arm``, metrics).

    ``arms``: per arm ``{<metric>: mean, <metric>_sd: sd, "seeds": count}``;
    ``differences``: per compared pair (``"B-A_steps"``, ``"B-C"``, ...; :func:`compared_pairs`)
    and metric ``{"mean", "ci<confidence>": [low, high], "seeds"}`` of the per-seed differences;
    ``verdict``: one sentence starting "GAN data helps" or "GAN data does not help";
    ``primary_metric``; ``decision`` (the rule, ``gan_data_helps``, ``use``, reasons) and ``meta``.
    Raises ValueError when the table lacks A_steps or has fewer than two seeds."""
    arms = list(dict.fromkeys(results["arm"]))
    if REFERENCE_ARM not in arms:
        raise ValueError(f"the per-seed results have no {REFERENCE_ARM} rows: the differences are taken against it")
    seeds = sorted(results["seed"].unique())
    if len(seeds) < 2:
        raise ValueError(f"a verdict needs at least two seeds; the results have {len(seeds)}")
    if metric not in results:
        raise ValueError(f"the per-seed results have no {metric!r} column to judge by")
    columns = metric_columns(results)
    wide = {m: results.pivot(index="seed", columns="arm", values=m).astype(float) for m in columns}
    key = interval_key(confidence)
    summary: dict[str, Any] = {"arms": {}, "differences": {}}
    for arm in arms:
        entry: dict[str, Any] = {}
        for m in columns:
            values = wide[m][arm].dropna()
            entry[m] = float(values.mean()) if len(values) else None
            entry[f"{m}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else None
        entry["seeds"] = int(wide[metric][arm].notna().sum())
        summary["arms"][arm] = entry
    for arm, other in compared_pairs(arms):
        entry = {}
        for m in columns:
            diff = (wide[m][arm] - wide[m][other]).dropna()
            stats = t_interval(diff.tolist(), confidence)
            entry[m] = ({"mean": stats[0], key: [stats[2], stats[3]], "seeds": int(len(diff))} if stats is not None
                        else {"mean": None, key: None, "seeds": int(len(diff)),
                              "reason": "fewer than two seeds with both values"})
        summary["differences"][difference_name(arm, other)] = entry
    decision = verdict(summary, metric, key)
    summary["verdict"] = decision.pop("sentence")
    summary["primary_metric"] = metric
    summary["decision"] = decision
    summary["meta"] = {"seeds": [int(s) for s in seeds], "confidence": confidence, "reference_arm": REFERENCE_ARM,
                       "interval": "paired Student t over seeds (scipy.stats.t), sd with ddof 1"}
    return summary


def interval_key(confidence: float) -> str:
    """``"ci95"`` for 0.95."""
    return f"ci{round(confidence * 100)}"


def _fmt(value: float) -> str:
    return f"{value:+.3f}"


def verdict(summary: dict[str, Any], metric: str, key: str) -> dict[str, Any]:
    """``{"metric", "rule", "gan_data_helps", "use", "sentence", ...}`` by the module's rule, from a
    summary's ``arms`` and ``differences``."""
    means = {arm: summary["arms"][arm][metric] for arm in summary["arms"]}
    differences = summary["differences"]
    seeds = summary["arms"][REFERENCE_ARM]["seeds"]

    def interval(arm: str):
        entry = differences.get(difference_name(arm, REFERENCE_ARM), {}).get(metric) or {}
        return entry.get("mean"), entry.get(key)

    rivals = [arm for arm in RIVAL_ARMS if means.get(arm) is not None]
    qualified = []
    for arm in GAN_ARMS:
        if means.get(arm) is None:
            continue
        mean_diff, ci = interval(arm)
        if ci is not None and ci[0] > 0 and all(means[arm] > means[r] for r in rivals):
            qualified.append(arm)
    result: dict[str, Any] = {"metric": metric, "rule": (
        f"GAN data helps when the {key} t-interval of B - {REFERENCE_ARM} (or B_mix - {REFERENCE_ARM}) lies above 0 "
        f"and that arm's mean beats C's and A_aug's")}
    if qualified:
        best = max(qualified, key=lambda arm: means[arm])
        mean_diff, ci = interval(best)
        result.update(gan_data_helps=True, use=best, sentence=(
            f"GAN data helps: {best} beats {REFERENCE_ARM} on {metric} by {_fmt(mean_diff)} "
            f"[{_fmt(ci[0])}, {_fmt(ci[1])}] over {seeds} paired seeds, and beats "
            + " and ".join(f"{r} ({means[best] - means[r]:+.3f})" for r in rivals) + "."))
        return result
    others = [arm for arm in PRACTICAL_ARMS if arm not in GAN_ARMS and means.get(arm) is not None]
    best = max(others, key=lambda arm: means[arm])
    gan = [arm for arm in GAN_ARMS if means.get(arm) is not None]
    reasons = []
    for arm in gan:
        mean_diff, ci = interval(arm)
        if ci is None:
            reasons.append(f"{arm}: no interval")
            continue
        why = []
        if ci[0] <= 0:
            why.append(f"its difference to {REFERENCE_ARM} is {_fmt(mean_diff)} [{_fmt(ci[0])}, {_fmt(ci[1])}], "
                       "not above 0")
        behind = [r for r in rivals if means[arm] <= means[r]]
        if behind:
            why.append(f"its mean {means[arm]:.3f} is not above " + " and ".join(f"{r}'s {means[r]:.3f}" for r in behind))
        reasons.append(f"{arm}: " + "; ".join(why))
    if best == REFERENCE_ARM:
        lead = f"{best} has the highest mean {metric} ({means[best]:.3f})"
    else:
        mean_diff, ci = interval(best)
        significant = ci is not None and ci[0] > 0
        lead = (f"{best} has the highest mean {metric} ({means[best]:.3f}; {_fmt(mean_diff)} "
                f"[{_fmt(ci[0])}, {_fmt(ci[1])}] over {REFERENCE_ARM}, "
                + ("outside the noise" if significant else "within the noise") + ")") if ci is not None else \
            f"{best} has the highest mean {metric} ({means[best]:.3f})"
    result.update(gan_data_helps=False, use=best, reasons=reasons, sentence=(
        f"GAN data does not help here (on {metric} over {seeds} paired seeds, " + "; ".join(reasons) + f"). Use {best} instead: {lead}."))
    return result
