"""The unpaired report from tiny hand-made inputs: the metric table (values with intervals, nulls
with their reason), the model-vs-baseline verdicts, grids of the right scenes in the right
columns, curves and the classifier's accuracy, all inline in one page."""

import re

import numpy as np
import pandas as pd
import pytest

from gan_pipelines.families.unpaired.nodes import report as report_module
from gan_pipelines.families.unpaired.nodes.report import (
    build_unpaired_report, classifier_accuracy, generator_panels, judge_panels, metric_cells, pick_scenes, verdict_table,
)
from gan_pipelines.params import ParameterError

NAMES = ("s0", "s1", "s2")
# The model's per-image hidden-pair L1, a2b: best s1, worst s0; b2a: best s0, worst s2.
HIDDEN_L1 = {"a2b": {"s0": 0.30, "s1": 0.10, "s2": 0.20}, "b2a": {"s0": 0.05, "s1": 0.15, "s2": 0.25}}


def picture(value):
    return np.full((16, 16, 3), value, np.uint8)


def folders(with_b=True):
    """Every picture a distinct constant, so a grid cell tells which picture it shows."""
    model_input, predictions = {}, {}
    for i, name in enumerate(NAMES):
        model_input[f"test/A/{name}.png"] = lambda v=10 + i: picture(v)
        if with_b:
            model_input[f"test/B/{name}.png"] = lambda v=20 + i: picture(v)
        for d, offset in (("a2b", 30), ("b2a", 60)):
            predictions[f"test/model_{d}/{name}.png"] = picture(offset + i)
            predictions[f"test/colour_transfer_{d}/{name}.png"] = picture(offset + 10 + i)
            predictions[f"test/histogram_matching_{d}/{name}.png"] = picture(offset + 20 + i)
    return model_input, predictions


def per_image_table(hidden=True):
    rows = []
    for d in ("a2b", "b2a"):
        for method in ("model", "identity", "colour_transfer"):
            for name in NAMES:
                rows.append({"name": name, "direction": d, "method": method,
                             "hidden_l1": HIDDEN_L1[d][name] + (0 if method == "model" else 0.5) if hidden else np.nan,
                             "target_prob": {"s0": 0.9, "s1": 0.2, "s2": 0.6}[name]})
    return pd.DataFrame(rows)


def metrics_json():
    return {
        "model": {"hidden_l1_a2b": 0.2, "hidden_l1_a2b_ci95": [0.1, 0.3], "target_rate_a2b": 0.9,
                  "content_miou_a2b": None, "hidden_l1_b2a": 0.15, "target_rate_b2a": 0.4, "content_miou_b2a": 0.6,
                  "kid_a2b": None},
        "identity": {"hidden_l1_a2b": 0.7, "target_rate_a2b": 0.0, "content_miou_a2b": None, "hidden_l1_b2a": 0.65,
                     "target_rate_b2a": 0.0, "content_miou_b2a": 0.9},
        "colour_transfer": {"hidden_l1_a2b": 0.5, "target_rate_a2b": 0.3, "hidden_l1_b2a": 0.1,
                            "target_rate_b2a": 0.5},
        "histogram_matching": {"hidden_l1_a2b": 0.55, "target_rate_a2b": 0.35},
        "real": {"target_rate_a2b": 1.0, "hidden_l1_a2b": None, "content_miou_b2a": 0.8},
        "meta": {"resolution": [16, 16], "split_sizes": {"train": {"A": 8, "B": 8}, "test": {"A": 3, "B": 3}},
                 "hidden_pairs": {"a2b": 3, "b2a": 3}, "data": {"model_input_version": "2026-01-01T00.00.00.000Z"},
                 "classifier": {"test_accuracy": 0.97, "test_accuracy_per_domain": {"A": 0.96, "B": 0.98},
                                "min_accuracy": 0.95, "target_rate_void": None, "val_accuracy": 0.985},
                 "judge": {"segmenter_B_val_accuracy": 0.7, "seed": 0},
                 "unavailable": {"content_miou_a2b": "no class maps for domain B (ingest found no trainB_labels/)",
                                 "kid": "fewer than 2 test pictures per domain"}},
    }


def test_table_shows_values_with_intervals_and_nulls_with_their_reason():
    table, footnotes = metric_cells(metrics_json(), metrics_json()["meta"]["unavailable"])
    assert list(table.columns) == ["model", "identity", "colour_transfer", "histogram_matching", "real", "better"]
    # protocol order per direction: hidden_l1, target_rate, content_miou, kid for a2b, then b2a
    assert list(table.index) == ["hidden_l1_a2b", "target_rate_a2b", "content_miou_a2b", "kid_a2b",
                                 "hidden_l1_b2a", "target_rate_b2a", "content_miou_b2a"]
    assert table.loc["hidden_l1_a2b", "model"] == "0.2 [0.1, 0.3]"
    assert table.loc["hidden_l1_a2b", "identity"] == "0.7"
    assert footnotes == {"no class maps for domain B (ingest found no trainB_labels/)": 1,
                         "fewer than 2 test pictures per domain": 2}
    assert table.loc["content_miou_a2b", "model"] == "n/a [1]" == table.loc["content_miou_a2b", "identity"]
    assert table.loc["kid_a2b", "model"] == "n/a [2]"  # the reason given for the base name "kid"
    assert table.loc["hidden_l1_a2b", "real"] == "n/a"  # null without a recorded reason
    assert table.loc["kid_a2b", "identity"] == ""  # a metric the method does not have
    assert table.loc["hidden_l1_a2b", "better"] == "lower" and table.loc["target_rate_b2a", "better"] == "higher"


def test_verdicts_compare_the_model_with_the_best_baseline():
    verdict = verdict_table(metrics_json())
    assert verdict.loc["hidden_l1_a2b"].tolist() == ["0.2", "colour_transfer 0.5", "model better"]
    assert verdict.loc["hidden_l1_b2a"].tolist() == ["0.15", "colour_transfer 0.1", "model NOT better"]
    assert verdict.loc["target_rate_b2a", "verdict"] == "model NOT better"  # 0.4 < colour transfer's 0.5
    # 0.6 >= 0.7 x 0.8 = 0.56: content kept; a2b has no content numbers: no row
    assert verdict.loc["content_miou_b2a", "verdict"] == "content kept" and "content_miou_a2b" not in verdict.index


def test_scenes_are_ranked_by_the_models_hidden_l1_else_target_probability():
    groups, scores, metric = pick_scenes(per_image_table(), "a2b", 1, 0)
    assert metric == "hidden_l1" and groups["best"] == ["s1"] and groups["worst"] == ["s0"]
    assert scores["s1"] == pytest.approx(0.10)
    groups, _, _ = pick_scenes(per_image_table(), "b2a", 2, 0)
    assert groups["best"] == ["s0", "s1"] and groups["worst"] == ["s2", "s1"] and len(groups["random"]) == 2
    groups, _, metric = pick_scenes(per_image_table(hidden=False), "a2b", 1, 0)
    assert metric == "target_prob" and groups["best"] == ["s0"] and groups["worst"] == ["s1"]


def judge_history():
    """As train_judge writes it: one row per (network, epoch); a segmenter's pixel accuracy is not
    the classifier's."""
    return pd.DataFrame({"epoch": [1, 2, 1, 2, 3], "network": ["classifier"] * 2 + ["segmenter_B"] * 3,
                         "val_accuracy": [0.8, 0.99, 0.5, 0.6, 0.7], "val_loss": [0.5, 0.1, 1.0, 0.9, 0.8],
                         "val_miou": [np.nan, np.nan, 0.3, 0.4, 0.5]})


def test_classifier_accuracy_from_meta_and_history():
    found = classifier_accuracy(metrics_json()["meta"], judge_history())
    # the threshold min_accuracy and the segmenter's pixel accuracy are not the classifier's accuracy
    assert found == {"classifier.test_accuracy": 0.97, "classifier.test_accuracy_per_domain.A": 0.96,
                     "classifier.test_accuracy_per_domain.B": 0.98, "classifier.val_accuracy": 0.985,
                     "history: classifier val_accuracy (last epoch)": 0.99}
    plain = pd.DataFrame({"epoch": [1, 2], "val_accuracy": [0.8, 0.9]})  # one network, no network column
    assert classifier_accuracy({}, plain) == {"history: val_accuracy (last epoch)": 0.9}
    void = report_module._accuracy_html({"classifier.test_accuracy": 0.8},
                                        {"min_accuracy": 0.95, "target_rate_void": "accuracy 0.800 on real test pictures"})
    assert "below 0.95. <b>Void in this run:</b> accuracy 0.800 on real test pictures" in void


def test_generator_curves_are_grouped_by_loss_name():
    columns = ["train_g_adv_a2b", "train_cycle_a", "train_identity_b", "train_idt", "train_d_a", "train_d_loss",
               "train_g_loss", "val_loss", "val_cycle_l1_a2b", "lr", "lr_generator", "seconds", "images_per_second",
               "train_grad_norm"]
    history = pd.DataFrame({"epoch": [1, 2], **{c: [1.0, 0.5] for c in columns}})
    assert generator_panels(history) == {
        "generator objective (weighted)": ["train_g_loss", "val_loss"], "validation": ["val_cycle_l1_a2b"],
        "cycle / identity": ["train_cycle_a", "train_identity_b", "train_idt"],
        "discriminators": ["train_d_a", "train_d_loss"], "adversarial (generators)": ["train_g_adv_a2b"],
        "other": ["train_grad_norm"]}
    judge = pd.DataFrame({"epoch": [1], "train_ce": [2.4], "val_loss": [2.2], "val_miou": [0.3], "val_pixel_acc": [0.5],
                          "lr_segmenter": [1e-3]})
    assert judge_panels(judge) == {"accuracy / IoU": ["val_miou", "val_pixel_acc"], "loss": ["train_ce", "val_loss"]}


@pytest.fixture
def grids(monkeypatch):
    """Every grid drawn: (column titles, row titles, rows of pictures)."""
    from gan_pipelines.reporting import html_report

    drawn = []
    real = html_report.image_grid_figure

    def record(rows, column_titles, row_titles):
        drawn.append((list(column_titles), list(row_titles), rows))
        return real(rows, column_titles, row_titles)

    monkeypatch.setattr(html_report, "image_grid_figure", record)
    return drawn


def run_report(per_image, model_input, predictions, **params):
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_g_adv": [1.0, 0.8, 0.7], "train_cycle": [3.0, 2.0, 1.5],
                            "train_idt": [1.0, 0.7, 0.6], "train_d": [0.3, 0.25, 0.24]})
    judge = judge_history()
    ingest = {"source": "synthetic", "pair": "day_dusk", "domains": {"A": "day", "B": "dusk"}}
    return build_unpaired_report(model_input, predictions, per_image, metrics_json(), history, judge, ingest,
                                 {"model": {"ngf": 4}}, {"num_examples": 1, "seed": 0, **params}, family="cyclegan")


def test_report_page_holds_table_pictures_reasons_and_curves(grids):
    model_input, predictions = folders()
    page, markdown = run_report(per_image_table(), model_input, predictions)
    # 2 directions x (best, worst, random) grids + generator, classifier and segmenter curves, all inline
    assert len(re.findall(r"<img src='data:image/png;base64,[A-Za-z0-9+/=]{100,}'", page)) == 6 + 3
    assert "alt='classifier curves'" in page and "alt='segmenter_B curves'" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert "<td>0.2 [0.1, 0.3]</td>" in page and "n/a [1]" in page
    assert "no class maps for domain B (ingest found no trainB_labels/)" in page
    assert "A = day, B = dusk" in page and "classifier.val_accuracy</th><td>0.9850" in page
    assert "below 0.95. It stands in this run." in page
    assert "Test set: 16x16 px; split sizes: train A 8, B 8; test A 3, B 3; hidden pairs: a2b 3, b2a 3" in page
    assert "&quot;ngf&quot;: 4" in page and "&quot;torch&quot;:" in page  # config and library versions
    columns, rows_titles, rows = grids[0]  # a2b best: s1
    assert columns == ["source", "model", "hidden target", "colour transfer"]
    assert rows_titles == ["s1\nhidden_l1 0.1"]
    assert [int(image[0, 0, 0]) for image in rows[0]] == [11, 31, 21, 41]  # A s1, model_a2b s1, B s1, colour s1
    b2a_worst = grids[4]  # a2b best, worst, random, then b2a best, worst (s2), random
    assert b2a_worst[1] == ["s2\nhidden_l1 0.25"]
    assert [int(image[0, 0, 0]) for image in b2a_worst[2][0]] == [22, 62, 12, 72]  # B s2, model_b2a, A s2, colour
    assert "| hidden_l1_a2b | 0.2 [0.1, 0.3] |" in markdown and "[1] no class maps for domain B" in markdown
    assert "model NOT better" in markdown


def test_without_hidden_pairs_the_grids_have_no_target_column(grids):
    model_input, predictions = folders(with_b=False)
    # no test B pictures: b2a has no sources, a2b has no hidden targets; ranked by target_prob
    page, _ = run_report(per_image_table(hidden=False), model_input, predictions)
    assert {tuple(g[0]) for g in grids} == {("source", "model", "colour transfer")}
    assert len(grids) == 3 and grids[0][1] == ["s0\ntarget_prob 0.9"]
    assert "Not shown: hidden target" in page


def test_bad_report_parameters_are_refused_by_name():
    model_input, predictions = folders()
    with pytest.raises(ParameterError, match=r"cyclegan\.report\.num_examples"):
        run_report(per_image_table(), model_input, predictions, num_examples=0)
    with pytest.raises(ParameterError, match=r"cyclegan\.report\.rank_by: unknown parameter"):
        run_report(per_image_table(), model_input, predictions, rank_by="l1")
