"""The statistics and the rule of the verdict on hand-made per-seed tables."""

import math

import pandas as pd
import pytest

from gan_pipelines.families.segsynth.verdict import summarise, t_interval


def _table(scores):
    """scores: {arm: [object_f1 per seed]}"""
    return pd.DataFrame([{"seed": seed, "arm": arm, "object_f1": value, "miou": 0.5}
                         for arm, values in scores.items() for seed, value in enumerate(values)])


def test_t_interval_by_hand():
    mean, sd, low, high = t_interval([1.0, 2.0, 3.0], 0.95)
    # sd 1, t_{0.975, 2} = 4.302653, half width 4.302653 / sqrt(3)
    assert (mean, sd) == (2.0, 1.0)
    assert high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert low == pytest.approx(2 * mean - high)
    assert t_interval([1.0], 0.95) is None


def test_gan_data_helps_only_above_zero_and_above_the_cheap_arms():
    base = [0.60, 0.62, 0.58, 0.61, 0.59]
    helps = _table({"A": base, "A_steps": base, "A_aug": [v + 0.01 for v in base], "C": [v + 0.01 for v in base],
                    "B": [v + 0.03 + 0.002 * i for i, v in enumerate(base)], "B_mix": base})
    summary = summarise(helps, "object_f1", 0.95)
    assert summary["decision"]["gan_data_helps"] is True and summary["decision"]["use"] == "B"
    assert summary["verdict"].startswith("GAN data helps: B beats A_steps")
    assert summary["primary_metric"] == "object_f1"
    # B - C: each seed's B is 0.02 + 0.002 * i above C -> mean 0.024
    assert summary["differences"]["B-C"]["object_f1"]["mean"] == pytest.approx(0.024)

    # B is above A_steps beyond the noise, but copy-paste does better: the rule says no, use C
    better_c = _table({"A": base, "A_steps": base, "A_aug": base, "C": [v + 0.05 for v in base],
                       "B": [v + 0.03 + 0.002 * i for i, v in enumerate(base)], "B_mix": base})
    summary = summarise(better_c, "object_f1", 0.95)
    assert summary["decision"]["gan_data_helps"] is False and summary["decision"]["use"] == "C"
    assert summary["verdict"].startswith("GAN data does not help")
    assert "not above C's" in summary["verdict"] and "outside the noise" in summary["verdict"]


def test_an_interval_across_zero_is_no_gain():
    noisy = _table({"A": [0.6] * 4, "A_steps": [0.60, 0.61, 0.62, 0.63], "A_aug": [0.5] * 4, "C": [0.5] * 4,
                    "B": [0.65, 0.58, 0.66, 0.60], "B_mix": [0.5] * 4})
    summary = summarise(noisy, "object_f1", 0.95)
    low, high = summary["differences"]["B-A_steps"]["object_f1"]["ci95"]
    assert low < 0 < high
    assert summary["decision"]["gan_data_helps"] is False
    assert summary["arms"]["B"]["object_f1"] == pytest.approx(0.6225)
    assert summary["arms"]["B"]["object_f1_sd"] == pytest.approx(0.0386221, rel=1e-5)
    assert set(summary["differences"]) == {"A-A_steps", "A_aug-A_steps", "C-A_steps", "B-A_steps", "B_mix-A_steps",
                                           "B-C", "B-A_aug", "B_mix-C", "B_mix-A_aug"}


def test_a_table_without_the_reference_or_with_one_seed_is_refused():
    with pytest.raises(ValueError, match="A_steps"):
        summarise(_table({"A": [0.1, 0.2], "B": [0.2, 0.3]}), "object_f1", 0.95)
    with pytest.raises(ValueError, match="two seeds"):
        summarise(_table({"A": [0.1], "A_steps": [0.2]}), "object_f1", 0.95)
