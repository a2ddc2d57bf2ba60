"""<family>.report: one self-contained HTML page (pictures and curves inline as PNG data URIs) and
a Markdown summary of an unpaired model's test run.

Sections: the metric table (model, identity, colour transfer, histogram matching, real target
pictures; each value with its bootstrap 95% interval where the evaluation gave one, every null
with the reason ``meta.unavailable`` gives), the model against every baseline on the headline
metrics, picture grids (source | model | hidden target | colour transfer; without hidden pairs
source | model | colour transfer) for the best, worst and random test scenes of each direction,
the training curves of the two generators and of the judges, the domain classifier's accuracy,
and the configuration and library versions.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.unpaired.config import ReportParams
from gan_pipelines.families.unpaired.layout import DIRECTIONS, direction_domains
from gan_pipelines.image_folders import image_key
from gan_pipelines.params import as_plain

METHOD_ORDER = ("model", "identity", "colour_transfer", "histogram_matching", "real")
BASELINES = ("identity", "colour_transfer", "histogram_matching")
# The protocol's metrics (evaluate), shown per direction in this order; "lower" is better for these.
METRIC_BASES = ("hidden_l1", "hidden_psnr", "hidden_ssim", "target_rate", "content_miou", "kid", "fid_inception",
                "kid_inception", "cycle_l1")
LOWER_IS_BETTER = ("hidden_l1", "kid", "fid", "cycle_l1")
# The headline comparison: the model against every baseline (issue 26's "done when").
HEADLINE = ("hidden_l1", "target_rate")
# Content kept is judged against the real target pictures' own score: at least this share of it.
CONTENT_SHARE = 0.7
CI_SUFFIX = "_ci95"
# Picture grid columns: (title, image folder, key kind; {src}, {tgt}, {d} filled per direction).
GRID_COLUMNS = (
    ("source", "model_input", "{src}"),
    ("attention", "test_predictions", "model_attention_{d}"),  # U-GAT-IT's CAM heatmap (bright: attended)
    ("model", "test_predictions", "model_{d}"),
    ("model, target's style", "test_predictions", "model_example_{d}"),  # MUNIT, example-guided
    ("hidden target", "model_input", "{tgt}"),
    ("colour transfer", "test_predictions", "colour_transfer_{d}"),
)
# Columns only some models have: their absence is not reported as missing.
OPTIONAL_COLUMNS = ("attention", "model, target's style")
# Training-curve panels of the generator history: (title, rule on the column name's tokens, split at
# "_"; the leading "train" dropped). A column goes to the first panel whose rule holds; the rest to
# "other". CycleGAN logs train_g_adv_a2b, train_cycle_a, train_identity_a, train_d_a, train_g_loss
# (the weighted sum), val_cycle_l1_a2b, val_loss, ...; panels keep terms of one scale together.
GENERATOR_PANELS = (
    ("generator objective (weighted)", lambda t: t in (["g", "loss"], ["val", "loss"], ["loss"])),
    ("validation", lambda t: t[0] == "val"),
    ("cycle / identity", lambda t: any(w.startswith(("cycle", "idt", "identity", "rec")) for w in t)),
    ("discriminators", lambda t: any(w in ("d", "da", "db", "dab", "dba") or w.startswith("disc") for w in t)),
    ("adversarial (generators)", lambda t: any(w in ("g", "ga", "gb", "gab", "gba") or w.startswith(("adv", "gen"))
                                               for w in t)),
)
LOSS_TOKENS = ("loss", "ce", "bce", "nll", "dice", "focal")
NOT_CURVES = ("epoch", "step", "lr", "seconds", "time", "images_per_second")


def build_unpaired_report(
    model_input: Mapping[str, Callable[[], np.ndarray] | np.ndarray],
    test_predictions: Mapping[str, Callable[[], np.ndarray] | np.ndarray],
    per_image: pd.DataFrame,
    metrics: Mapping[str, Any],
    generator_history: pd.DataFrame,
    judge_history: pd.DataFrame,
    ingest_summary: Mapping[str, Any],
    train_params: Any,
    params: ReportParams,
    *,
    family: str,
) -> tuple[str, str]:
    """Return ``(html, markdown)``: the report page and its summary.

    ``model_input``: the image folder of preprocess (``test/A/<name>.png``, ``test/B/<name>.png``:
    a name in both is a hidden pair); ``test_predictions``: evaluate's
    (``test/<method>_<direction>/<name>.png``); ``per_image``: evaluate's per-image table
    (columns name, direction, method, hidden_l1, target_prob, ...); ``metrics``: evaluate's JSON
    (one flat map per method, ``meta`` with ``unavailable`` {metric: reason}); the histories:
    one row per epoch (any loss columns; ``epoch`` optional). ``train_params`` are only shown.
    Raises :class:`~gan_pipelines.params.ParameterError` for bad ``params``."""
    from gan_pipelines.reporting.html_report import config_block, image_tag, markdown_table, png_data_uri, render_html

    section = f"{family}.report"
    params = ReportParams.parse(params, section)
    meta = dict(metrics.get("meta") or {})
    unavailable = {str(k): str(v) for k, v in dict(meta.get("unavailable") or {}).items()}
    ingest_summary = dict(ingest_summary or {})
    domains = dict(ingest_summary.get("domains") or {})

    table, footnotes = metric_cells(metrics, unavailable)
    data = (f"<p><b>Domains</b>: {html.escape(_domains_text(domains))}.</p>"
            f"<p class='note'>{html.escape(_sizes_text(meta))}</p>")
    sections = [("Data", data), ("Test metrics", _table_html(table) + _footnotes_html(footnotes) + _protocol_note())]
    verdict = verdict_table(metrics)
    if not verdict.empty:
        sections.append(("The model against the baselines", _table_html(verdict) + (
            "<p class='note'>Each baseline is the best of identity, colour transfer (Reinhard et al. 2001, Lab "
            "mean/std to the target domain's train statistics) and histogram matching. Content kept passes at "
            f"{CONTENT_SHARE:g} x the real target pictures' mIoU.</p>")))
    accuracy = classifier_accuracy(meta, judge_history)
    sections.append(("Domain classifier", _accuracy_html(accuracy, dict(meta.get("classifier") or {}))))

    for direction in DIRECTIONS:
        for label, uri, note in example_grids(model_input, test_predictions, per_image, direction,
                                              count=params.num_examples, seed=params.seed):
            sections.append((label, note + image_tag(uri, label)))

    curves = []
    figure = history_figure(generator_history, generator_panels(generator_history), f"{family} generators")
    if figure is not None:
        curves.append(image_tag(png_data_uri(figure), "generator curves"))
    for network, rows in history_by_network(judge_history).items():
        figure = history_figure(rows, judge_panels(rows), f"{family} judge: {network}")
        if figure is not None:
            curves.append(image_tag(png_data_uri(figure), f"{network} curves"))
    sections.append(("Training curves", "".join(curves) or "<p class='note'>No training history rows.</p>"))
    config = {"train": as_plain(train_params), "report": params.as_dict(), "ingest_summary": ingest_summary,
              "evaluation meta": meta, "library versions (report)": _versions()}
    sections.append(("Configuration and versions", config_block(config)))

    from gan_pipelines.families.unpaired.layout import MODEL_TITLES, model_of

    model = model_of(family)
    title = MODEL_TITLES[model] if family == model else f"{MODEL_TITLES[model]} ({family})"
    pair = ingest_summary.get("pair") or ingest_summary.get("source") or "?"
    page = render_html(f"{title} report: {pair}", sections)
    markdown = "\n".join([
        f"# {title}: test summary ({pair})", "",
        f"Domains: {_domains_text(domains)}. {_sizes_text(meta)}", "",
        markdown_table(table.fillna("")), "",
        *[f"[{n}] {reason}" for reason, n in footnotes.items()], "",
        *([markdown_table(verdict), ""] if not verdict.empty else []),
        "Domain classifier: " + (", ".join(f"{k} {v:.3f}" for k, v in accuracy.items()) or "no accuracy recorded") + ".",
        "", f"Full report with pictures and curves: {family}_report.html", "",
    ])
    return page, markdown


# --------------------------------------------------------------------------------------------
# the metric table
# --------------------------------------------------------------------------------------------

def metric_names(metrics: Mapping[str, Any]) -> list[str]:
    """The table's rows: the protocol's metrics per direction in :data:`METRIC_BASES` order, then
    any other scalar metric a method holds (sorted). Interval keys are not rows."""
    methods = [m for m, v in metrics.items() if m != "meta" and isinstance(v, Mapping)]
    present = {k for m in methods for k, v in metrics[m].items() if not k.endswith(CI_SUFFIX)
               and not isinstance(v, (list, tuple, Mapping))}
    ordered = [f"{base}_{d}" for d in DIRECTIONS for base in METRIC_BASES if f"{base}_{d}" in present]
    return ordered + sorted(present - set(ordered))


def lower_is_better(metric: str) -> bool:
    return any(metric.startswith(base) for base in LOWER_IS_BETTER)


def unavailable_reason(unavailable: Mapping[str, str], method: str, metric: str) -> str | None:
    """Why ``method``'s ``metric`` is null: the most specific entry of ``meta.unavailable``
    (``<method>.<metric>``, ``<metric>``, ``<method>.<base>``, ``<base>`` where base drops the
    ``_a2b``/``_b2a`` suffix, then ``<method>``), or None."""
    base = metric.rsplit("_", 1)[0] if metric.endswith(tuple(f"_{d}" for d in DIRECTIONS)) else metric
    for key in (f"{method}.{metric}", metric, f"{method}.{base}", base, method):
        if key in unavailable:
            return unavailable[key]
    return None


def metric_cells(metrics: Mapping[str, Any], unavailable: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """``(table, footnotes)``: rows = metrics (:func:`metric_names`), columns = methods
    (:data:`METHOD_ORDER` first) + ``better``; a cell is ``"0.123 [0.100, 0.150]"`` (value and
    95% interval, 4 significant digits), ``"n/a [k]"`` for a null whose reason is footnote ``k``
    (``footnotes``: reason -> k), ``"n/a"`` for a null without a recorded reason, ``""`` where the
    method has no such metric."""
    methods = [m for m in METHOD_ORDER if isinstance(metrics.get(m), Mapping)] + sorted(
        m for m, v in metrics.items() if m not in METHOD_ORDER and m != "meta" and isinstance(v, Mapping))
    footnotes: dict[str, int] = {}
    rows = {}
    for metric in metric_names(metrics):
        row = {}
        for method in methods:
            values = metrics[method]
            if metric not in values:
                row[method] = ""
                continue
            value = _number(values[metric])
            if value is None:
                reason = unavailable_reason(unavailable, method, metric)
                if reason is None:
                    row[method] = "n/a"
                else:
                    number = footnotes.setdefault(reason, len(footnotes) + 1)
                    row[method] = f"n/a [{number}]"
                continue
            text = f"{value:.4g}"
            interval = values.get(metric + CI_SUFFIX)
            if isinstance(interval, (list, tuple)) and len(interval) == 2 and None not in interval:
                text += f" [{interval[0]:.4g}, {interval[1]:.4g}]"
            row[method] = text
        row["better"] = "lower" if lower_is_better(metric) else "higher"
        rows[metric] = row
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[*methods, "better"])
    frame.index.name = "metric"
    return frame, footnotes


def verdict_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Per direction: the model against the best baseline on :data:`HEADLINE` metrics, and its
    content mIoU against :data:`CONTENT_SHARE` x the real pictures'. Rows whose numbers are
    missing are left out. Columns: model, best baseline (``name value``), verdict."""
    model = metrics.get("model") or {}
    rows = {}
    for direction in DIRECTIONS:
        for base in HEADLINE:
            metric = f"{base}_{direction}"
            value = _number(model.get(metric))
            baselines = {b: _number((metrics.get(b) or {}).get(metric)) for b in BASELINES}
            baselines = {b: v for b, v in baselines.items() if v is not None}
            if value is None or not baselines:
                continue
            pick = min if lower_is_better(metric) else max
            best = pick(baselines, key=baselines.get)
            beats = value < baselines[best] if lower_is_better(metric) else value > baselines[best]
            rows[metric] = {"model": f"{value:.4g}", "reference": f"{best} {baselines[best]:.4g}",
                            "verdict": "model better" if beats else "model NOT better"}
        metric = f"content_miou_{direction}"
        value, real = _number(model.get(metric)), _number((metrics.get("real") or {}).get(metric))
        if value is not None and real is not None:
            kept = value >= CONTENT_SHARE * real
            rows[metric] = {"model": f"{value:.4g}", "reference": f"{CONTENT_SHARE:g} x real {real:.4g}",
                            "verdict": "content kept" if kept else "content NOT kept"}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["model", "reference", "verdict"])
    frame.index.name = "metric"
    return frame


def classifier_accuracy(meta: Mapping[str, Any], judge_history: pd.DataFrame | None) -> dict[str, float]:
    """The domain classifier's accuracies: every number whose key path in the evaluation
    ``meta`` names ``accuracy`` (or ``acc``) at any depth (``classifier.val_accuracy``,
    ``classifier.test_accuracy_per_domain.A``), except paths naming a segmenter and thresholds
    (``min_*``, ``max_*``), and the last epoch's value of each such column of the
    classifier's rows of ``judge_history`` (``history: classifier <column> (last epoch)``; a
    history without a ``network`` column is taken as the classifier's)."""
    found: dict[str, float] = {}

    def visit(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                visit(inner, f"{path}.{key}" if path else str(key))
            return
        parts = path.split(".")
        if (_number(value) is not None and any(_names_accuracy(p) for p in parts) and "segment" not in path
                and not any(p.startswith(("min_", "max_")) for p in parts)):  # thresholds are not accuracies
            found[path] = float(value)

    visit(meta, "")
    rows = history_by_network(judge_history)
    rows = {n: r for n, r in rows.items() if "classifier" in n} or ({"": judge_history} if len(rows) == 1 else {})
    for network, history in rows.items():
        for column in history.columns:
            if _names_accuracy(str(column)):
                values = pd.to_numeric(history[column], errors="coerce").dropna()
                if len(values):
                    where = f"{network} " if network else ""
                    found[f"history: {where}{column} (last epoch)"] = float(values.iloc[-1])
    return found


def history_by_network(history: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """A judge history split by its ``network`` column (``classifier``, ``segmenter_A``, ...;
    one row per network and epoch), the column dropped; ``{"judge": history}`` without that
    column; ``{}`` without rows."""
    if not isinstance(history, pd.DataFrame) or history.empty:
        return {}
    if "network" not in history:
        return {"judge": history}
    return {str(network): rows.drop(columns="network").dropna(axis=1, how="all").reset_index(drop=True)
            for network, rows in history.groupby("network", sort=False)}


def _names_accuracy(key: str) -> bool:
    key = key.lower()
    return "accuracy" in key or key.endswith("_acc") or key.startswith("acc_") or key == "acc"


# --------------------------------------------------------------------------------------------
# picture grids
# --------------------------------------------------------------------------------------------

def pick_scenes(per_image: pd.DataFrame, direction: str, count: int,
                seed: int) -> tuple[dict[str, list[str]], pd.Series | None, str | None]:
    """``(groups, scores, metric)`` for one direction's grids: the model's per-image
    ``hidden_l1`` (best = lowest) where the test split has hidden pairs, else its ``target_prob``
    (best = highest), else no ranking (``{"random": [...]}`` only, scores and metric None)."""
    from gan_pipelines.reporting.html_report import best_worst_random

    rows = per_image
    if "method" in rows:
        rows = rows[rows["method"] == "model"]
    if "direction" in rows:
        rows = rows[rows["direction"] == direction]
    for metric, ascending in (("hidden_l1", True), ("target_prob", False)):
        if metric in rows:
            scores = pd.to_numeric(rows.set_index("name")[metric], errors="coerce").dropna()
            if len(scores):
                return best_worst_random(scores, count, seed, ascending=ascending), scores, metric
    names = sorted(set(rows["name"])) if "name" in rows else []
    if not names:
        return {}, None, None
    rng = np.random.default_rng(seed)
    return {"random": sorted(rng.choice(names, size=min(count, len(names)), replace=False).tolist())}, None, None


def example_grids(model_input: Mapping[str, Any], test_predictions: Mapping[str, Any], per_image: pd.DataFrame,
                  direction: str, *, count: int, seed: int) -> list[tuple[str, str, str]]:
    """``[(section title, PNG data URI, note html)]``: a grid per group (best, worst, random) of
    ``direction``; the hidden target column only when every shown scene has one."""
    from gan_pipelines.reporting.html_report import image_grid_figure, png_data_uri

    source, target = direction_domains(direction)
    groups, scores, metric = pick_scenes(per_image, direction, count, seed)
    fill = {"src": source, "tgt": target, "d": direction}
    folders = {"model_input": model_input, "test_predictions": test_predictions}
    out = []
    for group, names in groups.items():
        names = [n for n in names if image_key("test", source, n) in model_input]
        if not names:
            continue
        columns = [(title, folders[folder], kind.format(**fill)) for title, folder, kind in GRID_COLUMNS]
        columns = [c for c in columns if all(image_key("test", c[2], n) in c[1] for n in names)]
        rows = [[_load(folder[image_key("test", kind, n)]) for _, folder, kind in columns] for n in names]
        row_titles = [n if scores is None else f"{n}\n{metric} {scores[n]:.3g}" for n in names]
        figure = image_grid_figure(rows, [title for title, _, _ in columns], row_titles)
        how = f"by the model's {metric}" if metric else "(no per-image score to rank by)"
        label = f"{direction} ({source} -> {target}): {group} test scenes {how}"  # the domains are named above
        missing = [title for title, _, _ in GRID_COLUMNS
                   if title not in [c[0] for c in columns] and title not in OPTIONAL_COLUMNS]
        note = (f"<p class='note'>Not shown: {html.escape(', '.join(missing))} (not in the test data or predictions "
                "for these scenes).</p>") if missing else ""
        out.append((label, png_data_uri(figure), note))
    return out


# --------------------------------------------------------------------------------------------
# curves
# --------------------------------------------------------------------------------------------

def _curve_columns(history: pd.DataFrame) -> list[str]:
    """Numeric columns with a value, except bookkeeping (epoch, step, learning rates ``lr*``, timings)."""
    def bookkeeping(column: Any) -> bool:
        name = str(column).lower()
        return name in NOT_CURVES or name.startswith("lr") or "seconds" in name or "per_second" in name

    return [c for c in history.columns
            if not bookkeeping(c) and pd.api.types.is_numeric_dtype(history[c]) and history[c].notna().any()]


def generator_panels(history: pd.DataFrame) -> dict[str, list[str]]:
    """Panel title -> columns of a generator history, by :data:`GENERATOR_PANELS` (first match
    wins; the rest under ``other``); panels with no column are left out."""
    panels: dict[str, list[str]] = {title: [] for title, _ in GENERATOR_PANELS}
    panels["other"] = []
    for column in _curve_columns(history):
        tokens = [t for t in re.split(r"[^a-z0-9]+", str(column).lower()) if t]
        tokens = tokens[1:] if tokens[:1] == ["train"] and len(tokens) > 1 else tokens
        title = next((t for t, rule in GENERATOR_PANELS if tokens and rule(tokens)), "other")
        panels[title].append(column)
    return {t: c for t, c in panels.items() if c}


def judge_panels(history: pd.DataFrame) -> dict[str, list[str]]:
    """Accuracy-like columns (accuracy, acc, iou) in one panel, losses (a token of
    :data:`LOSS_TOKENS`: ``train_ce``, ``val_loss``) in another, the rest in a third."""
    panels: dict[str, list[str]] = {"accuracy / IoU": [], "loss": [], "other": []}
    for column in _curve_columns(history):
        name = str(column).lower()
        if _names_accuracy(name) or "iou" in name:
            panels["accuracy / IoU"].append(column)
        elif any(token in LOSS_TOKENS for token in re.split(r"[^a-z0-9]+", name)):
            panels["loss"].append(column)
        else:
            panels["other"].append(column)
    return {t: c for t, c in panels.items() if c}


def history_figure(history: pd.DataFrame | None, panels: Mapping[str, Sequence[str]], title: str):
    """:func:`~gan_pipelines.reporting.html_report.curves_figure` of ``history`` (x = its
    ``epoch`` column, else the row number + 1), or None without rows or panels."""
    from gan_pipelines.reporting.html_report import curves_figure

    if not isinstance(history, pd.DataFrame) or history.empty or not panels:
        return None
    frame = history.reset_index(drop=True)
    if "epoch" not in frame:
        frame = frame.assign(epoch=np.arange(1, len(frame) + 1))
    return curves_figure(frame, panels, title)


# --------------------------------------------------------------------------------------------
# small pieces
# --------------------------------------------------------------------------------------------

def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _load(value: Any) -> np.ndarray:
    return np.asarray(value() if callable(value) else value)


def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or "", *frame.columns])
    body = "".join("<tr><th>" + html.escape(str(index)) + "</th>"
                   + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for index, row in zip(frame.index, frame.itertuples(index=False)))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _footnotes_html(footnotes: Mapping[str, int]) -> str:
    if not footnotes:
        return ""
    items = "".join(f"<li>[{n}] {html.escape(reason)}</li>" for reason, n in footnotes.items())
    return f"<p class='note'>Why a value is n/a (the evaluation's <code>meta.unavailable</code>):</p><ul>{items}</ul>"


def _protocol_note() -> str:
    return ("<p class='note'>Hidden-pair metrics compare each translated "
            "test picture with the same scene rendered in the target domain (never seen in training); the target rate "
            "is the share the project's domain classifier puts in the target domain; content mIoU segments the "
            "translation with the target domain's segmenter against the source scene's class map; KID is measured in "
            "the domain classifier's feature space (the project's own, not comparable to published KID); 'real' is "
            "the real target-domain test pictures. Values in brackets: bootstrap 95% interval over test pictures.</p>")


def _sizes_text(meta: Mapping[str, Any]) -> str:
    """``"64x64 px; split sizes: train A 90, B 90; val A 10, B 10; test A 20, B 20; hidden pairs:
    a2b 20, b2a 20; data version ..."`` from the evaluation meta (what it has of it)."""
    parts = []
    resolution = meta.get("resolution")
    if isinstance(resolution, (list, tuple)) and resolution:
        parts.append("x".join(str(v) for v in resolution) + " px")
    elif resolution:
        parts.append(f"{resolution} px")
    sizes = meta.get("split_sizes")
    if isinstance(sizes, Mapping) and sizes:
        parts.append("split sizes: " + "; ".join(
            f"{split} " + (", ".join(f"{d} {n}" for d, n in counts.items()) if isinstance(counts, Mapping) else str(counts))
            for split, counts in sizes.items()))
    pairs = meta.get("hidden_pairs")
    if isinstance(pairs, Mapping) and pairs:
        parts.append("hidden pairs: " + ", ".join(f"{d} {n}" for d, n in pairs.items()))
    version = (meta.get("data") or {}).get("model_input_version") if isinstance(meta.get("data"), Mapping) else None
    if version:
        parts.append(f"data version {version}")
    return ("Test set: " + "; ".join(parts) + ".") if parts else ""


def _domains_text(domains: Mapping[str, str]) -> str:
    return f"A = {domains.get('A', 'A')}, B = {domains.get('B', 'B')}"


def _accuracy_html(accuracy: Mapping[str, float], classifier: Mapping[str, Any]) -> str:
    """The accuracy table and the rule that voids the target rate (``meta.classifier``:
    ``min_accuracy``, ``target_rate_void``: the reason, or None when the rate stands)."""
    minimum = _number(classifier.get("min_accuracy"))
    rule = (f"The target-domain rate is void (null, with the reason) when the classifier's balanced accuracy on "
            f"the real test pictures is below {minimum:g}." if minimum is not None else "")
    void = classifier.get("target_rate_void")
    verdict = (f" <b>Void in this run:</b> {html.escape(str(void))}" if void else
               " It stands in this run." if minimum is not None else "")
    note = f"<p class='note'>{html.escape(rule)}{verdict}</p>" if rule or void else ""
    if not accuracy:
        return "<p class='note'>No accuracy of the domain classifier was recorded.</p>" + note
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4f}</td></tr>" for k, v in accuracy.items())
    return ("<table><thead><tr><th>domain classifier</th><th>accuracy</th></tr></thead><tbody>" + rows
            + "</tbody></table>" + note)


def _versions() -> dict[str, Any]:
    from gan_pipelines.library_versions import library_versions

    return library_versions()
