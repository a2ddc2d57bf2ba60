"""Report pieces: the metric table keeps every method (model first, real last) and says which
way is better; examples are ranked by a per-image metric in the right direction."""

import math

import numpy as np
import pandas as pd
import pytest

from gan_pipelines.families.paired.nodes.report import colourise_labels, metrics_table, pick_examples


def test_metrics_table_orders_methods_and_keeps_nulls_as_nan():
    metrics = {
        "real": {"l1": 0.0, "seg_miou": 0.9, "judge_fd": None},
        "class_mean_painter": {"l1": 0.2, "seg_miou": 0.5, "judge_fd": 30.0},
        "model": {"l1": 0.1, "seg_miou": 0.7, "judge_fd": 10.0},
        "meta": {"resolution": 64},
    }
    table = metrics_table(metrics)
    assert list(table.columns) == ["model", "class_mean_painter", "real", "better"]
    assert table.loc["l1", "better"] == "lower" and table.loc["seg_miou", "better"] == "higher"
    assert table.loc["judge_fd", "better"] == "lower" and math.isnan(table.loc["judge_fd", "real"])


def test_examples_are_ranked_in_the_metric_direction():
    per_image = pd.DataFrame({
        "method": ["model"] * 4 + ["real"] * 4, "name": list("abcd") * 2,
        "l1": [0.3, 0.1, 0.2, np.nan, 0, 0, 0, 0], "seg_miou": [0.5, 0.9, 0.7, 0.1, 1, 1, 1, 1],
    })
    examples, scores = pick_examples(per_image, "l1", 2, 0)
    assert examples["best"] == ["b", "c"] and examples["worst"] == ["a", "c"] and len(examples["random"]) == 2
    examples, _ = pick_examples(per_image, "seg_miou", 1, 0)
    assert examples["best"] == ["b"] and examples["worst"] == ["d"]
    with pytest.raises(ValueError, match="rank_by 'lpips' is not a per-image metric"):
        pick_examples(per_image, "lpips", 1, 0)


def test_label_maps_are_shown_in_colour():
    shown = colourise_labels(np.array([[0, 1], [2, 13]]))
    assert shown.shape == (2, 2, 3) and shown.dtype == np.uint8 and (shown[0, 0] != shown[0, 1]).any()
