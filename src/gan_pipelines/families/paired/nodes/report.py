"""<family>.report: the metric table (model, baselines, real ceiling), input / output / target
grids for the best, worst and random test samples, training curves, configuration and versions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import KIND_TYPES, REAL_TEST_SPLIT, TARGET_KIND
from gan_pipelines.image_folders import image_key
from gan_pipelines.families.paired.config import IngestParams, PreprocessParams, ReportParams, TrainParams
from gan_pipelines.params import as_plain

METHOD_ORDER = ("model", "plain_pix2pix", "class_mean_painter", "nearest_neighbour", "real")
# Metric names (or parts of them) where lower is better; everything else: higher is better.
LOWER_IS_BETTER_PARTS = ("l1", "frechet", "_fd", "fid", "kid", "lpips", "bleed", "mse", "rmse")
# Signed metrics whose best value is 0 (colourfulness_gap < 0: greyer than the target).
SIGNED_METRICS = ("colourfulness_gap",)
# Display colours of label classes (class i -> row i, cycled).
LABEL_COLOURS = np.array([
    [128, 128, 128], [200, 60, 50], [50, 100, 200], [60, 170, 60], [220, 190, 50], [150, 200, 240],
    [170, 90, 190], [240, 140, 40], [40, 170, 170], [250, 250, 250], [90, 60, 30], [0, 0, 0],
], np.uint8)


# Training-curve panels (title -> history columns) of a generator's <family>.generator_history (and
# sketch2color's plain_generator_history), shared by the report and notebooks/quickstart.ipynb.
GENERATOR_CURVE_PANELS = {
    "generator": ["train_g_loss", "train_g_adv"], "discriminator": ["train_d_loss", "train_d_real", "train_d_fake"],
    "reconstruction": ["train_l1", "val_l1"], "val PSNR (dB)": ["val_psnr"],
    # the terms a recipe has (feature matching, VGG, KL, ...); absent columns are left out
    "other generator terms": ["train_g_fm", "train_vgg19", "train_kl", "train_perceptual", "train_tv"],
}


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    if name.startswith("diversity"):  # a spread, read against the real pictures' (diversity_lpips / _l1 too)
        return False
    return any(part in name for part in LOWER_IS_BETTER_PARTS)


def metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Rows = metrics, columns = methods (model first, real last), plus which way is better."""
    methods = [m for m in METHOD_ORDER if m in metrics] + sorted(
        m for m in metrics if m not in METHOD_ORDER and m != "meta" and isinstance(metrics[m], Mapping))
    names: list[str] = []
    for method in methods:  # intervals and per-seed lists have their own table (score_intervals_table)
        names += [k for k, v in metrics[method].items() if k not in names and not isinstance(v, (list, tuple, Mapping))]
    frame = pd.DataFrame(
        {m: [_number(metrics[m].get(k)) for k in names] for m in methods}, index=names, dtype=float
    )
    frame.index.name = "metric"
    frame["better"] = ["closer to 0" if k in SIGNED_METRICS else "lower" if lower_is_better(k) else "higher"
                       for k in names]
    return frame


def score_intervals_table(metrics: Mapping[str, Any]) -> pd.DataFrame | None:
    """Rows = methods, columns = each ``seg_*`` score as ``value [low, high]`` (its bootstrap 95%
    interval over test pictures) and, when spread judges were trained, ``min-max`` of the score
    under each judge seed. None when the metrics carry no intervals (evaluated before they were)."""
    methods = [m for m, v in metrics.items() if m != "meta" and isinstance(v, Mapping)]
    scores = [k[: -len("_ci95")] for k in dict.fromkeys(k for m in methods for k in metrics[m]) if k.endswith("_ci95")]
    if not scores:
        return None

    def cell(values: Mapping[str, Any], score: str) -> str:
        value, interval = values.get(score), values.get(f"{score}_ci95")
        if value is None:
            return "n/a"
        text = f"{value:.3f}"
        if interval and None not in interval:
            text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
        return text

    rows = {}
    for method in methods:
        row = {f"{score} [95% interval]": cell(metrics[method], score) for score in scores}
        for score in scores:
            seeds = [v for v in metrics[method].get(f"{score}_judge_seeds") or [] if v is not None]
            if seeds:
                row[f"{score} over judge seeds"] = f"{min(seeds):.3f}-{max(seeds):.3f} ({len(seeds)} judges)"
        rows[method] = row
    frame = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    frame.index.name = "method"
    return frame


LOSSES_ROW = "losses in training"
# A perceptual term's recorded status (checkpoint meta key) and its loss_weights key.
PERCEPTUAL_STATUS_KEYS = (("perceptual", "perceptual"), ("vgg19_perceptual", "vgg19"))


def training_losses(generator_meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which generator losses a training run used, from its checkpoint's ``meta`` (or an
    evaluation's meta, which copies the fields): ``{"active": {term: weight}, "off": {term:
    status}}``, or None when the checkpoint records no ``loss_weights`` (written before they
    were recorded).

    ``active`` is ``meta["loss_weights"]`` (the terms that were in the generator loss, with their
    weights). ``off`` lists the perceptual terms that were asked for but not used, with their
    recorded status (``meta["perceptual"]``: Sketch2Color's VGG16 term; ``meta["vgg19_perceptual"]``:
    pix2pixHD's and SPADE's VGG19 term), e.g. ``{"vgg19": "disabled: weights not found (looked in
    ...)"}`` when ``vgg19.if_unavailable: disable`` found no local weights. A term whose weight was
    set to 0 (status ``off (loss_weights.<term> is 0)``) is not part of the recipe and not listed."""
    meta = dict(generator_meta or {})
    weights = meta.get("loss_weights")
    if not isinstance(weights, Mapping):
        return None
    active = {str(term): float(weight) for term, weight in weights.items()}
    off = {}
    for status_key, term in PERCEPTUAL_STATUS_KEYS:
        status = meta.get(status_key)
        if isinstance(status, str) and term not in active and not status.startswith("off (loss_weights."):
            off[term] = status
    return {"active": active, "off": off}


def losses_text(losses: Mapping[str, Any] | None) -> str:
    """One line for a table cell: ``"adversarial 1 + feature_matching 10; OFF: vgg19 (weights not
    found)"`` (weights in ``%g``; the reason shortened), or a note that the checkpoint does not
    record its losses. ``losses``: what :func:`training_losses` returns."""
    if losses is None:
        return "not recorded in the checkpoint (trained before losses were recorded)"
    text = " + ".join(f"{term} {weight:g}" for term, weight in losses["active"].items()) or "none"
    if losses["off"]:
        text += "; OFF: " + ", ".join(f"{term} ({_short_status(status)})" for term, status in losses["off"].items())
    return text


def _short_status(status: str) -> str:
    if status.startswith("disabled: weights not found"):
        return "weights not found"
    return status.removeprefix("disabled: ").removeprefix("disabled ")


def with_losses_row(table: pd.DataFrame, losses: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """``table`` (:func:`metrics_table`, methods as columns) with a last row :data:`LOSSES_ROW`:
    :func:`losses_text` for each method in ``losses`` (the trained models), empty for the others
    (baselines, real pictures). The result has object dtype (numbers stay floats)."""
    frame = table.astype(object)
    frame.loc[LOSSES_ROW] = [losses_text(losses[column]) if column in losses else "" for column in frame.columns]
    return frame


def losses_note(losses: Mapping[str, Mapping[str, Any] | None]) -> str:
    """HTML paragraph naming, per model, the losses it trained with and every term that was off
    with its full recorded status (where the weights were looked for)."""
    import html as html_module

    items = []
    for model, summary in losses.items():
        line = f"<li><b>{html_module.escape(model)}</b>: {html_module.escape(losses_text(summary))}"
        for term, status in ((summary or {}).get("off") or {}).items():
            line += f"<br>{html_module.escape(term)} was OFF: {html_module.escape(status)}"
        items.append(line + "</li>")
    return ("<p class='note'>Losses each model trained with (from its generator checkpoint). A perceptual term "
            "marked OFF was in the recipe but not used, e.g. VGG19 without local weights "
            "(<code>vgg19.if_unavailable: disable</code>): such a model did not train with the papers' full "
            "loss.</p><ul>" + "".join(items) + "</ul>")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def colourise_labels(labels: np.ndarray) -> np.ndarray:
    return LABEL_COLOURS[np.asarray(labels, np.int64) % len(LABEL_COLOURS)]


def pick_examples(per_image: pd.DataFrame, rank_by: str, count: int, seed: int) -> tuple[dict[str, list[str]], pd.Series]:
    """Best, worst and random test samples by the model's per-image ``rank_by``."""
    from gan_pipelines.reporting.html_report import best_worst_random

    rows = per_image[per_image["method"] == "model"] if "method" in per_image else per_image
    if rank_by not in rows:
        raise ValueError(f"rank_by {rank_by!r} is not a per-image metric; have {', '.join(c for c in rows.columns)}")
    rows = rows.dropna(subset=[rank_by])
    scores = rows.set_index("name")[rank_by]
    key = scores.abs() if rank_by in SIGNED_METRICS else scores
    ascending = lower_is_better(rank_by) or rank_by in SIGNED_METRICS
    return best_worst_random(key, count, seed, ascending=ascending), scores


def build_paired_report(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    predictions: Mapping[str, Callable[[], np.ndarray]],
    per_image: pd.DataFrame,
    metrics: dict[str, Any],
    generator_history: pd.DataFrame,
    judge_history: pd.DataFrame,
    ingest_params: IngestParams,
    preprocess_params: PreprocessParams,
    train_params: TrainParams,
    params: ReportParams,
    plain_generator_history: pd.DataFrame | None = None,
    *,
    family: str,
) -> tuple[str, str]:
    """Return (self-contained HTML, Markdown summary)."""
    from gan_pipelines.reporting.html_report import (
        config_block, curves_figure, html_table, image_grid_figure, image_tag, markdown_table, png_data_uri, render_html,
    )

    section = f"{family}.report"
    params = ReportParams.parse(params, section).as_dict()
    # the other stages' parameters are only shown
    ingest_params, preprocess_params, train_params = as_plain(ingest_params), as_plain(preprocess_params), as_plain(train_params)
    rank_by = params.get("rank_by", "l1")
    count = int(params.get("num_examples", 4))
    meta = dict(metrics.get("meta") or {})
    losses = {"model": training_losses(meta)}
    if "plain_pix2pix" in metrics:
        losses["plain_pix2pix"] = training_losses({"loss_weights": meta.get("plain_loss_weights")})
    table = with_losses_row(metrics_table(metrics), losses)
    input_kind = meta.get("input_kind") or train_params.get("input_kind")
    sections = [("Test metrics", html_table(table) + losses_note(losses) + _note(meta, family))]
    intervals = score_intervals_table(metrics)
    if intervals is not None:
        sections.append(("Segmentation scores with their uncertainty", (
            "<p class='note'>Judge scores with a bootstrap 95% interval over the test pictures: two methods whose "
            "intervals overlap are not shown apart by this test set. " + str((meta.get("judge") or {}).get("precision") or "")
            + " judge, seed " + str((meta.get("judge") or {}).get("seed")) + ".</p>" + html_table(intervals))))

    columns = [(input_kind, "input", model_input), ("model", "output", predictions)]
    if any(key.split("/")[1] == "plain_pix2pix" for key in predictions):
        columns.append(("plain_pix2pix", "plain pix2pix", predictions))
    columns.append((TARGET_KIND, "target", model_input))
    examples, scores = pick_examples(per_image, rank_by, count, int(params.get("seed", 0)))
    for label, names in examples.items():
        rows = [[_display(folder[image_key("test", kind, name)](), kind) for kind, _, folder in columns] for name in names]
        if not rows:
            continue
        figure = image_grid_figure(rows, [title for _, title, _ in columns],
                                   [f"{name}\n{rank_by} {scores[name]:.3g}" for name in names])
        sections.append((f"{label.capitalize()} test samples by {rank_by}", image_tag(png_data_uri(figure), label)))
    real_names = sorted({key.split("/")[2].rsplit(".", 1)[0] for key in predictions if key.startswith(f"{REAL_TEST_SPLIT}/")})
    if real_names:
        rows = [[_display(model_input[image_key(REAL_TEST_SPLIT, input_kind, n)](), input_kind),
                 predictions[image_key(REAL_TEST_SPLIT, "model", n)](),
                 model_input[image_key(REAL_TEST_SPLIT, TARGET_KIND, n)]()] for n in real_names]
        figure = image_grid_figure(rows, ["input", "output", "photo"], real_names)
        sections.append(("Real photos (scikit-image), lines extracted the same way", image_tag(png_data_uri(figure), "photos")))

    panels = GENERATOR_CURVE_PANELS
    curves = [image_tag(png_data_uri(curves_figure(generator_history, panels, f"{family} generator")), "generator curves")]
    if plain_generator_history is not None:
        curves.append(image_tag(png_data_uri(curves_figure(plain_generator_history, panels, "plain pix2pix")), "plain curves"))
    judge_columns = [c for c in judge_history.columns if c != "epoch"]
    if "epoch" in judge_history and judge_columns:
        curves.append(image_tag(png_data_uri(curves_figure(judge_history, {"judge": judge_columns[:6]}, "segmentation judge")),
                                "judge curves"))
    sections.append(("Training curves", "".join(curves)))
    config = {"ingest": ingest_params, "preprocess": preprocess_params, "train": train_params}
    sections.append(("Configuration and versions", config_block({"meta": meta, **config})))
    title = {"pix2pix": "pix2pix: label map to picture", "sketch2color": "Sketch2Color: sketch to colour picture",
             "pix2pixhd": "pix2pixHD: label map to picture", "spade": "SPADE: label map to picture",
             "spade_vae": "SPADE+VAE: label map to pictures in sampled styles"}.get(family, family)
    page = render_html(f"{title} report", sections)
    summary = "\n".join([
        f"# {title}: test summary", "",
        f"{meta.get('num_test_images', '?')} test images at {meta.get('resolution', '?')} px; model input version "
        f"{meta.get('model_input_version', '?')}.", "",
        markdown_table(table), "",
        f"Losses in training: {losses_text(losses['model'])}.", "",
        f"Full report with pictures and curves: {family}_report.html", "",
    ])
    return page, summary


def _display(image: np.ndarray, kind: str) -> np.ndarray:
    if KIND_TYPES.get(kind) == "labels":
        return colourise_labels(image)
    return image


def _note(meta: Mapping[str, Any], family: str) -> str:
    unavailable = meta.get("unavailable_metrics") or meta.get("unavailable") or {}
    listed = "".join(f"<li>{k}: {v}</li>" for k, v in dict(unavailable).items()) if isinstance(unavailable, Mapping) else ""
    return (
        f"<p class='note'>{meta.get('num_test_images', '?')} test images at {meta.get('resolution', '?')} px "
        f"(train {meta.get('num_train_images', '?')}). Segmentation scores: the project's own judge (a segmenter "
        "trained on the real train pictures) applied to each method's pictures, scored against the input label map; "
        "'real' is its score on the real test pictures (the ceiling). Baselines: class_mean_painter fills every class "
        "with its mean training colour; nearest_neighbour returns the training picture whose label map overlaps most. "
        "Distribution distances use the judge's features: not comparable to published FID.</p>"
        + (f"<p class='note'>Unavailable metrics:</p><ul>{listed}</ul>" if listed else "")
    )
