"""segsynth.report: the verdict in one sentence, the arms' table (mean +- sd over seeds and paired
differences to A_steps with intervals), a forest plot of those differences, recall per object
size, and grids of the made pictures beside real ones."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.segsynth.config import ReportParams


def arms_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """One row per arm: ``<metric>`` as "mean +- sd" and the difference to the reference arm with
    its interval, for the verdict metric and the other headline metrics."""
    from gan_pipelines.families.segsynth.layout import METRICS
    from gan_pipelines.families.segsynth.verdict import difference_name, interval_key

    key = interval_key(metrics["meta"]["confidence"])
    reference = metrics["meta"]["reference_arm"]
    primary = metrics["primary_metric"]
    rows = {}
    for arm, scores in metrics["arms"].items():
        row = {}
        for m in METRICS:
            mean, sd = scores.get(m), scores.get(f"{m}_sd")
            row[m] = "n/a" if mean is None else f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f}"
        diff = (metrics["differences"].get(difference_name(arm, reference)) or {}).get(primary) or {}
        row[f"{primary} - {reference} [{key}]"] = (
            "reference" if arm == reference else "n/a" if diff.get(key) is None else
            f"{diff['mean']:+.3f} [{diff[key][0]:+.3f}, {diff[key][1]:+.3f}]")
        rows[arm] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "arm"
    return frame


def forest_figure(metrics: Mapping[str, Any]):
    """Paired differences to the reference arm with their intervals, one panel per headline metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_pipelines.families.segsynth.verdict import interval_key

    key = interval_key(metrics["meta"]["confidence"])
    primary = metrics["primary_metric"]
    shown = [primary] + [m for m in ("object_recall", "fg_iou", "miou") if m != primary]
    names = list(metrics["differences"])
    figure, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 0.45 * len(names) + 1.4), squeeze=False)
    for axis, metric in zip(axes[0], shown):
        for row, name in enumerate(names):
            entry = metrics["differences"][name].get(metric) or {}
            if entry.get(key) is None:
                continue
            low, high = entry[key]
            colour = "tab:green" if low > 0 else "tab:red" if high < 0 else "tab:grey"
            axis.plot([low, high], [row, row], color=colour, linewidth=2)
            axis.plot([entry["mean"]], [row], "o", color=colour)
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_yticks(range(len(names)))
        axis.set_yticklabels(names if axis is axes[0][0] else [""] * len(names), fontsize=8)
        axis.invert_yaxis()
        axis.set_title(metric, fontsize=10)
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle(f"paired differences over {len(metrics['meta']['seeds'])} seeds ({key} t-intervals)", fontsize=10)
    figure.tight_layout()
    return figure


def size_recall_figure(metrics: Mapping[str, Any], size_bins: Mapping[str, str], objects_per_size: list[int] | None = None):
    """Mean recall per object size bin, one line per arm; the bins' true object counts under their
    names when known (a bin of a few objects gives a coarse recall)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = list(size_bins)
    figure, axis = plt.subplots(figsize=(6.0, 3.6))
    for arm, scores in metrics["arms"].items():
        values = [scores.get(c) for c in columns]
        axis.plot(range(len(columns)), [np.nan if v is None else v for v in values], marker="o", label=arm)
    axis.set_xticks(range(len(columns)))
    counts = objects_per_size or [None] * len(columns)
    axis.set_xticklabels([size_bins[c] + ("" if n is None else f"\n({n} objects)") for c, n in zip(columns, counts)])
    axis.set_xlabel("object area (share of the picture)")
    axis.set_ylabel("object recall (IoU >= 0.5)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    return figure


EXAMPLE_COLUMNS = (  # (kind, title, is a label map)
    ("real_map", "real map", True), ("real_picture", "real picture", False),
    ("synthetic_map", "pasted map", True), ("gan_picture", "GAN picture", False),
    ("predicted_map", "A-predicted map", True), ("predicted_gan_picture", "its GAN picture", False),
    ("copy_paste_map", "copy-paste map", True), ("copy_paste_picture", "copy-paste picture", False),
)


def examples_figure(examples: Mapping[str, Callable[[], np.ndarray]], count: int):
    """Rows of made pairs beside real ones (the first seed's), or None without examples."""
    from gan_pipelines.families.segsynth.experiment import colour_maps
    from gan_pipelines.image_folders import split_key
    from gan_pipelines.reporting.html_report import image_grid_figure

    by_kind: dict[str, list[str]] = {}
    for key in sorted(examples):
        _, kind, name = split_key(key)
        by_kind.setdefault(kind, []).append(key)
    columns = [(kind, title, is_map) for kind, title, is_map in EXAMPLE_COLUMNS if by_kind.get(kind)]
    rows_count = min([count] + [len(by_kind[kind]) for kind, _, _ in columns]) if columns else 0
    if not rows_count:
        return None
    rows = []
    for index in range(rows_count):
        row = []
        for kind, _, is_map in columns:
            image = np.asarray(examples[by_kind[kind][index]]())
            row.append(colour_maps(image) if is_map else image)
        rows.append(row)
    return image_grid_figure(rows, [title for _, title, _ in columns], [f"#{i}" for i in range(rows_count)])


def build_segsynth_report(
    seed_results: pd.DataFrame, metrics: dict[str, Any], examples: Mapping[str, Callable[[], np.ndarray]],
    experiment_summary: dict[str, Any], params: ReportParams, *, family: str,
) -> tuple[str, str]:
    """``(report_html, report_markdown)``."""
    from gan_pipelines.reporting.html_report import config_block, html_table, image_tag, markdown_table, png_data_uri, render_html

    params = ReportParams.parse(params, f"{family}.report")
    table = arms_table(metrics)
    per_seed = seed_results.set_index(["seed", "arm"])
    sections = [
        ("Verdict", f"<p><b>{html.escape(metrics['verdict'])}</b></p>"
                    f"<p class='note'>Rule: {html.escape(metrics['decision']['rule'])}."
                    "</p>"),
        ("Arms", html_table(table) + "<ul>" + "".join(
            f"<li><b>{html.escape(a)}</b>: {html.escape(d)}</li>" for a, d in experiment_summary["arms"].items())
         + "".join(f"<li><b>{html.escape(a)}</b> left out: {html.escape(why)}</li>"
                   for a, why in experiment_summary.get("arms_left_out", {}).items()) + "</ul>"),
        ("Paired differences", image_tag(png_data_uri(forest_figure(metrics)), "forest plot")),
        ("Recall per object size", image_tag(png_data_uri(size_recall_figure(metrics, experiment_summary["size_bins"],
                                                                                experiment_summary.get("test_objects_per_size"))),
                                             "recall per object size")),
    ]
    figure = examples_figure(examples, params.num_examples)
    if figure is not None:
        sections.append(("Made pictures beside real ones (first seed)", image_tag(png_data_uri(figure), "examples")))
    sections += [("Every seed", html_table(per_seed)), ("Run", config_block(experiment_summary))]
    title = f"{family}: does GAN-made data help the segmenter?"
    markdown = "\n\n".join([f"# {title}", metrics["verdict"], markdown_table(table)])
    return render_html(title, sections), markdown + "\n"
