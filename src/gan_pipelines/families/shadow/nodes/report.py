"""report: metrics side by side, best / worst / random test samples as pictures, the model on the
user's own photos (no ground truth), training curves, and the configuration and versions they
came from."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.image_folders import image_key
from gan_pipelines.image_inputs import is_litter
from gan_pipelines.params import check_known_keys

SECTION = "shadow.report"
METRIC_ORDER = ("GRMSE", "LRMSE", "GSSIM", "LSSIM", "GPSNR", "LPSNR", "GBER", "LBER")
LOWER_IS_BETTER = {"GRMSE", "LRMSE", "GBER", "LBER"}
METHODS = ("model", "identity", "ground_truth_attention")
GRID_COLUMNS = (
    ("noshadow", "input", "model_input"),
    ("mask", "object mask", "model_input"),
    ("robject", "pred. robject", "predictions"),
    ("rshadow", "pred. rshadow", "predictions"),
    ("projection_hint", "projection hint", "predictions"),  # only when the generator uses it
    ("shadow_layer", "shadow layer", "predictions"),
    ("output", "output", "predictions"),
    ("shadow", "ground truth", "model_input"),
)
OPTIONAL_COLUMNS = {"projection_hint"}  # shown when the predictions have it
# The project's own shadow direction metrics (shadow_direction.py), with the constant-direction
# baseline as an extra column; metrics JSONs written before they existed show n/a.
DIRECTION_ORDER = (
    "angle_error_mean_deg", "angle_error_median_deg", "within_30deg_share", "within_45deg_share",
    "length_ratio_median", "light_consistency_mean",
)
DIRECTION_LOWER_IS_BETTER = {"angle_error_mean_deg", "angle_error_median_deg"}
DIRECTION_METHODS = (*METHODS, "constant_direction")
# The extra picture column: the output with the object's outline and the two direction arrows.
DIRECTION_COLUMN_TITLE = "direction\n(red: shadow, cyan: scene)"
# The user's own photos, without ground truth, in shadow.predict's layout.
REAL_PHOTOS_PARAMETER = f"{SECTION}.real_photos_dir"
REAL_PHOTOS_DEFAULT = "data/00_source/real_photos"
REAL_PHOTOS_LAYOUT = "noshadow/<name>.png|jpg with the object's mask as mask/<name>.png|jpg (same name and size, any size)"
REAL_PHOTO_COLUMNS = ("input", "output", "|output - input| x3", DIRECTION_COLUMN_TITLE)
DIFF_GAIN = 3  # the difference picture is amplified so faint smudges show


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rows = protocol metrics, columns = model and baselines."""
    frame = pd.DataFrame(
        {method: [metrics[method].get(k) for k in METRIC_ORDER] for method in METHODS}, index=list(METRIC_ORDER)
    ).astype(float)
    frame.index.name = "metric"
    frame["better"] = ["lower" if k in LOWER_IS_BETTER else "higher" for k in METRIC_ORDER]
    return frame


def direction_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rows = shadow direction metrics, columns = model, baselines and ``constant_direction``
    (methods missing from ``metrics`` are left out; missing values are NaN). ``length_ratio_median``
    is best at 1."""
    methods = [m for m in DIRECTION_METHODS if m in metrics]
    frame = pd.DataFrame(
        {method: [metrics[method].get(k) for k in DIRECTION_ORDER] for method in methods}, index=list(DIRECTION_ORDER)
    ).astype(float)
    frame.index.name = "direction metric"
    frame["better"] = [
        "lower" if k in DIRECTION_LOWER_IS_BETTER else "closer to 1" if k == "length_ratio_median" else "higher"
        for k in DIRECTION_ORDER
    ]
    return frame


def direction_overlay(noshadow: np.ndarray, output: np.ndarray, mask: np.ndarray, robject: np.ndarray,
                      rshadow: np.ndarray, threshold: float) -> np.ndarray:
    """The output with the object's outline, its generated shadow's direction (red) and the scene's
    direction estimated from the given ``robject``/``rshadow`` (cyan)."""
    from gan_pipelines.families.shadow.shadow_direction import draw_direction_overlay, light_consistency

    check = light_consistency(output, noshadow, mask, robject, rshadow, mask_threshold=threshold)
    return draw_direction_overlay(output, mask, check)


def pick_examples(per_image: pd.DataFrame, rank_by: str, count: int, seed: int) -> dict[str, list[str]]:
    """Best, worst and random test samples by the model's ``rank_by`` metric (NaN rows left out)."""
    from gan_pipelines.reporting.html_report import best_worst_random

    model_rows = per_image[per_image.method == "model"].dropna(subset=[rank_by])
    return best_worst_random(model_rows.set_index("name")[rank_by], count, seed, ascending=rank_by in LOWER_IS_BETTER)


def build_report(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    predictions: Mapping[str, Callable[[], np.ndarray]],
    per_image: pd.DataFrame,
    metrics: dict[str, Any],
    attention_history: pd.DataFrame,
    generator_history: pd.DataFrame,
    ingest_params: dict[str, Any],
    preprocess_params: dict[str, Any],
    attention_params: dict[str, Any],
    generator_params: dict[str, Any],
    params: dict[str, Any],
    attention_checkpoint: Mapping[str, Any],
    generator_checkpoint: Mapping[str, Any],
) -> tuple[str, str]:
    """Return (self-contained HTML, Markdown summary).

    The checkpoints (the trained bundles) are used only for the "Real photos" section: when
    ``params["real_photos_dir"]`` (default :data:`REAL_PHOTOS_DEFAULT`; null leaves the section
    out) holds photos, the model runs on each as shadow.predict does (see
    :func:`real_photos_section`). Raises ValueError for unknown or wrong parameters and for bad
    real photos (every one listed, as shadow.predict lists them)."""
    from gan_pipelines.reporting.html_report import (
        config_block, curves_figure, html_table, image_grid_figure, image_tag, markdown_table, png_data_uri, render_html,
    )

    check_known_keys(params, {"num_examples", "rank_by", "seed", "real_photos_dir"}, SECTION)
    rank_by = params.get("rank_by", "LRMSE")
    if rank_by not in METRIC_ORDER:
        raise ValueError(f"{SECTION}.rank_by must be one of {', '.join(METRIC_ORDER)}; got {rank_by!r}")
    real_photos_dir = real_photos_setting(params)
    table = metrics_table(metrics)
    attention = pd.DataFrame({"value": metrics["attention"]})
    attention.index.name = "attention (test)"
    meta = metrics["meta"]

    directions = direction_table(metrics)
    sources = {"model_input": model_input, "predictions": predictions}
    sections = [
        ("Test metrics", html_table(table) + _protocol_note(meta) + html_table(attention)),
        ("Shadow direction and light consistency", html_table(directions) + _direction_note(metrics)),
    ]
    examples = pick_examples(per_image, rank_by, int(params.get("num_examples", 4)), int(params.get("seed", 0)))
    scores = per_image[per_image.method == "model"].set_index("name")[rank_by]
    threshold = float(meta["predicted_mask_threshold"])
    for label, names in examples.items():
        rows = []
        columns = [
            c for c in GRID_COLUMNS
            if c[0] not in OPTIONAL_COLUMNS or all(image_key("test", c[0], n) in sources[c[2]] for n in names)
        ]
        for name in names:
            row = [sources[src][image_key("test", kind, name)]() for kind, _, src in columns]
            kinds = {kind: image for (kind, _, _), image in zip(columns, row)}
            true_maps = [model_input[image_key("test", kind, name)]() for kind in ("robject", "rshadow")]
            rows.append([*row, direction_overlay(kinds["noshadow"], kinds["output"], kinds["mask"], *true_maps, threshold)])
        titles = [title for _, title, _ in columns] + [DIRECTION_COLUMN_TITLE]
        figure = image_grid_figure(rows, titles, [f"{n}\n{rank_by} {scores[n]:.1f}" for n in names])
        sections.append((f"{label.capitalize()} test samples by {rank_by}", image_tag(png_data_uri(figure), label)))

    def make_predictor():
        from gan_pipelines.families.shadow.predict import ShadowPredictor

        return ShadowPredictor(attention_checkpoint, generator_checkpoint)  # device and precision "auto", as predict

    real_photos_html, real_photos_line = real_photos_section(real_photos_dir, make_predictor, threshold)
    if real_photos_html is not None:
        sections.append(("Real photos", real_photos_html))

    sections.append(("Training curves", "".join([
        image_tag(png_data_uri(curves_figure(attention_history, {
            "Dice loss": ["train_dice", "val_loss"], "val IoU / BER": ["val_iou", "val_ber"]}, "attention")), "attention curves"),
        image_tag(png_data_uri(curves_figure(generator_history, {
            "generator": ["train_generator", "val_loss"], "adversarial": ["train_adversarial", "train_discriminator"],
            "val error in shadow (0..255)": ["val_local_rmse"]}, "shadow generator")), "generator curves"),
    ])))
    config = {
        "ingest": ingest_params, "preprocess": preprocess_params,
        "train_attention": attention_params, "train_generator": generator_params,
    }
    sections.append(("Configuration and versions", config_block({"meta": meta, **config})))
    html_page = render_html("Shadow generation report", sections)

    summary = "\n".join([
        "# Shadow generation: test summary", "",
        f"{meta['num_test_images']} test images at {meta['resolution']} px; model input version "
        f"{meta['model_input_version']}; shadow mask {meta['shadow_mask']}.", "",
        markdown_table(table), "",
        markdown_table(attention), "",
        "Shadow direction (the project's own metric; angles in degrees, image coordinates):", "",
        markdown_table(directions), "",
        _spearman_line(metrics), "",
        real_photos_line, "",
        "Full report with pictures and curves: shadow_report.html", "",
    ])
    return html_page, summary


def real_photos_setting(params: Mapping[str, Any]) -> str | None:
    """``params["real_photos_dir"]``: a folder path (default :data:`REAL_PHOTOS_DEFAULT`) or None
    (null: no section). Raises ValueError naming ``shadow.report.real_photos_dir`` for anything
    else (a number, a list, an empty string)."""
    value = params.get("real_photos_dir", REAL_PHOTOS_DEFAULT)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{REAL_PHOTOS_PARAMETER} must be a folder path or null (no section), got {value!r}")
    return value


def real_photo_row(done: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
    """One photo of the "Real photos" section, from a
    :class:`~gan_pipelines.families.shadow.predict.PairPrediction`: ``(pictures, table row)``.

    Pictures at the photo's full size: input and output uint8 (H, W, 3), the grey
    ``|output - input|`` times :data:`DIFF_GAIN` uint8 (H, W) clipped to 255, and the direction
    overlay (:func:`~gan_pipelines.families.shadow.shadow_direction.draw_direction_overlay`: object
    outline, generated shadow direction in red, scene direction in cyan) uint8 (H, W, 3). Row:
    ``size`` ("WxH"), ``light_consistency`` (0..1), ``light_angle_diff_deg`` (0..180), both NaN
    when undefined, and ``light_note`` (why; "" when scored)."""
    from gan_pipelines.families.shadow.evaluation import grey_abs_difference
    from gan_pipelines.families.shadow.shadow_direction import draw_direction_overlay

    output = done.result.image
    diff = np.clip(grey_abs_difference(output, done.image) * DIFF_GAIN, 0, 255).round().astype(np.uint8)
    pictures = [done.image, output, diff, draw_direction_overlay(output, done.object_mask, done.check)]
    light = done.check.as_row()
    row = {
        "size": f"{done.image.shape[1]}x{done.image.shape[0]}",
        "light_consistency": _number(light["light_consistency"]),
        "light_angle_diff_deg": _number(light["light_angle_diff_deg"]),
        "light_note": light["light_note"],
    }
    return pictures, row


def real_photos_section(
    directory: str | None, make_predictor: Callable[[], Any], threshold: float
) -> tuple[str | None, str]:
    """The "Real photos" section: ``(html body, or None when directory is None; one Markdown
    summary line)``.

    When ``directory`` holds files, ``make_predictor()`` (a
    :class:`~gan_pipelines.families.shadow.predict.ShadowPredictor`, or anything with its
    ``predict``) runs on every pair at full resolution through
    :func:`~gan_pipelines.families.shadow.predict.predict_pairs`, with ``threshold`` (0..255 grey
    ``|output - input|``) for the generated shadow; nothing is written. The body has a table (one
    row per photo, :func:`real_photo_row`) and one picture row per photo. A missing folder, or one
    holding no files (OS litter aside), gives a one-sentence body naming the parameter and the
    layout instead. Raises ValueError, as shadow.predict does, for a wrong layout or bad inputs
    (unreadable image, mask of another size, empty mask), listing every one."""
    from gan_pipelines.families.shadow.predict import predict_pairs
    from gan_pipelines.reporting.html_report import html_table, image_grid_figure, image_tag, png_data_uri

    if directory is None:
        return None, f"Real photos: not configured ({REAL_PHOTOS_PARAMETER} is null)."
    root = Path(directory)
    missing = "does not exist" if not root.exists() else "holds no files" if root.is_dir() and not _holds_files(root) else None
    if missing:
        sentence = (f"Real photos not configured: {REAL_PHOTOS_PARAMETER} ({directory}) {missing}; put your own "
                    f"photos there as {REAL_PHOTOS_LAYOUT} to see the model on them, or set it to null to leave this "
                    "section out.")
        return f"<p class='note'>{html.escape(sentence)}</p>", f"Real photos: not configured ({directory} {missing})."

    rows, figures = {}, []
    for done in predict_pairs(make_predictor(), root, threshold, parameter=REAL_PHOTOS_PARAMETER):
        pictures, rows[done.name] = real_photo_row(done)
        figure = image_grid_figure([pictures], REAL_PHOTO_COLUMNS, [f"{done.name}\n{rows[done.name]['size']}"])
        figures.append(image_tag(png_data_uri(figure), f"real photo {done.name}"))  # rendered now: one photo in memory
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "name"
    note = (f"The trained model on each photo of {directory} at full resolution, as shadow.predict runs it (nothing "
            f"is written). |output - input| is the grey difference times {DIFF_GAIN}. light_consistency = 1 - "
            "light_angle_diff_deg / 180: the generated shadow's direction (grey |output - input| > "
            f"{threshold:g} outside the object) against the scene's, estimated from the predicted occluders' "
            "shadows; no ground truth is needed.")
    scores = table["light_consistency"].dropna()
    if len(scores):
        scored = f"mean light_consistency {scores.mean():.3f} over {len(scores)} of {len(table)} scored"
    else:
        scored = f"light_consistency not scored for any ({table['light_note'].iloc[0]})"
    body = html_table(table, float_format="{:.3f}") + f"<p class='note'>{html.escape(note)}</p>" + "".join(figures)
    return body, f"Real photos: {len(table)} shown from {directory}; {scored}."


def _holds_files(root: Path) -> bool:
    """True when ``root`` (a folder) holds any file other than OS litter, at any depth."""
    return any(path.is_file() and not is_litter(path.relative_to(root).as_posix()) for path in root.rglob("*"))


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _spearman_line(metrics: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (("light_consistency_spearman", "true maps"), ("light_consistency_spearman_predicted_maps", "predicted maps")):
        result = metrics.get(key)
        if result is None:
            continue
        rho = "n/a" if result.get("rho") is None else f"{result['rho']:.3f}"
        why = f" ({result['reason']})" if result.get("reason") else ""
        parts.append(f"{label}: rho {rho} over {result.get('n_images', 0)} images{why}")
    if not parts:
        return "light_consistency_spearman: not computed."
    return ("Spearman rank correlation, model's true angle error vs its light-consistency angle difference "
            "(scene direction from the " + "; ".join(parts) + ").")


def _direction_note(metrics: Mapping[str, Any]) -> str:
    constant = metrics.get("constant_direction", {})
    estimate = metrics.get("light_estimate", {}).get("ground_truth_maps", {})
    convention = metrics.get("meta", {}).get("direction_convention", "")
    median = estimate.get("angle_error_median_deg")
    return (
        "<p class='note'>{convention}. constant_direction = the single direction ({direction} deg) that puts the most "
        "test shadows within 30 deg, fitted on the test images themselves: a model that draws every shadow the same "
        "way scores about this. Scene direction from the true occluders' shadows vs the true shadow: median error "
        "{median} deg. {spearman}</p>"
    ).format(
        convention=html.escape(convention), direction=constant.get("direction_deg", "n/a"),
        median="n/a" if median is None else f"{median:.1f}", spearman=html.escape(_spearman_line(metrics)),
    )


def _protocol_note(meta: Mapping[str, Any]) -> str:
    return (
        "<p class='note'>Per image on uint8 RGB at {res} px, averaged over {n} test images. Local metrics "
        "inside the inserted object's shadow mask ({mask}). Predicted shadow = grey |output - input| &gt; "
        "{thr:g}. identity = the input unchanged (adds no shadow); ground_truth_attention = the generator fed "
        "the true robject/rshadow maps.</p>"
    ).format(res=meta["resolution"], n=meta["num_test_images"], mask=meta["shadow_mask"], thr=meta["predicted_mask_threshold"])
