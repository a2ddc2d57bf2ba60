"""report: metrics side by side, best / worst / random test samples as pictures, the model on the
user's own photos (no ground truth), training curves, and the configuration and versions they
came from."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from gan_pipelines.datasets.input_folder import InputFolder
from gan_pipelines.families.shadow.config import (
    AttentionConfig, GeneratorConfig, IngestConfig, PreprocessConfig, ReportConfig,
)
from gan_pipelines.image_folders import image_key
from gan_pipelines.image_inputs import is_litter
from gan_pipelines.params import as_plain

SECTION = "shadow.report"
METRIC_ORDER = ("GRMSE", "LRMSE", "GSSIM", "LSSIM", "GPSNR", "LPSNR", "GBER", "LBER")
LOWER_IS_BETTER = {"GRMSE", "LRMSE", "GBER", "LBER"}
METHODS = ("model", "identity", "ground_truth_attention")
# Training-curve panels (title -> history columns) of each network's <family>.<net>_history, shared
# by the report and notebooks/quickstart.ipynb; columns a history lacks are left out.
CURVE_PANELS = {
    "attention": {"Dice loss": ["train_dice", "val_loss"],
                  "val IoU / BER": ["val_iou", "val_iou_robject", "val_iou_rshadow", "val_ber"]},
    "generator": {"generator loss": ["train_generator", "val_loss"],
                  "adversarial": ["train_adversarial", "train_discriminator"],
                  "val error in the shadow (0..255)": ["val_local_rmse"],
                  # what training.monitor picks the kept epoch by (shadow direction)
                  "val shadow angle error (deg)": ["val_angle_error_deg"]},
}
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
    # the project's shadow strength (shadow_strength.py): darkening / the scene's own shadows'
    "shadow_strength_median", "shadow_darkening_median", "shadow_darkening_darkest5_median",
)
DIRECTION_LOWER_IS_BETTER = {"angle_error_mean_deg", "angle_error_median_deg"}
DIRECTION_METHODS = (*METHODS, "constant_direction", "shadow_strength_ground_truth")  # the last: the true shadows' strength
# The extra picture column: the output with the object's outline and the two direction arrows.
DIRECTION_COLUMN_TITLE = "direction\n(red: shadow, cyan: scene)"
# The user's own photos, without ground truth, in shadow.predict's layout: the catalog entry
# shadow.real_photos (an InputFolderDataset, conf/base/catalog.yml); shadow.report.real_photos
# (default true) says whether the report shows them.
REAL_PHOTOS_DATASET = "shadow.real_photos"
REAL_PHOTOS_SOURCE = f"catalog entry {REAL_PHOTOS_DATASET}"  # names the folder in messages
REAL_PHOTOS_PARAMETER = f"{SECTION}.real_photos"
REAL_PHOTOS_DEFAULT = "data/00_source/real_photos"  # the catalog entry's path in conf/base
REAL_PHOTOS_LAYOUT = "noshadow/<name>.png|jpg with the object's mask as mask/<name>.png|jpg (same name and size, any size)"
REAL_PHOTO_COLUMNS = ("input", "output", "|output - input| x3", DIRECTION_COLUMN_TITLE)
DIFF_GAIN = 3  # the difference picture is amplified so faint smudges show
INTERVAL_NOTE = ("The test split's noise: {}. Two runs whose values differ by less than these intervals may differ "
                 "by the choice of test scenes only.")
# An earlier model's outputs on the same photos, shown beside the current model's: shadow.predict's
# output_dir, of which <folder>/shadow/<name>.png|jpg is read.
REAL_PHOTOS_BEFORE_PARAMETER = f"{SECTION}.real_photos_before"
REAL_PHOTOS_BEFORE_LABEL_PARAMETER = f"{SECTION}.real_photos_before_label"
REAL_PHOTOS_BEFORE_LABEL_DEFAULT = "before"
REAL_PHOTOS_BEFORE_KIND = "shadow"  # the sub-folder of shadow.predict's output_dir with its outputs
REAL_PHOTOS_BEFORE_LABEL_MAX = 24  # characters; the label heads picture columns 1.9 inches wide
NOW_LABEL = "now"  # the current model's columns when an earlier model's are shown beside them
# The light-consistency and shadow-strength columns of a real photo's table row (one set per model shown).
LIGHT_KEYS = ("light_consistency", "light_angle_diff_deg", "light_note")
STRENGTH_KEYS = ("shadow_strength", "shadow_darkening", "shadow_darkening_darkest5", "scene_shadow_darkening",
                 "strength_note")


class RealPhotosBefore(NamedTuple):
    """An earlier model's outputs on the real photos (:func:`real_photos_before_setting`):
    ``directory``, shadow.predict's output_dir (``<directory>/shadow/<name>.png|jpg`` is read), and
    ``label``, the title of its columns."""

    directory: str
    label: str


def real_photo_columns(before_label: str | None = None) -> tuple[str, ...]:
    """Titles of a real photo's picture row: :data:`REAL_PHOTO_COLUMNS`, or, with an earlier
    model's outputs labelled ``before_label``, input | before output | now output | before
    difference | now difference | now direction overlay."""
    if before_label is None:
        return REAL_PHOTO_COLUMNS
    return ("input", f"{before_label}\noutput", f"{NOW_LABEL}\noutput", f"{before_label}\n|output - input| x3",
            f"{NOW_LABEL}\n|output - input| x3", f"{NOW_LABEL} {DIRECTION_COLUMN_TITLE}")


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rows = protocol metrics, columns = model and baselines."""
    frame = pd.DataFrame(
        {method: [metrics[method].get(k) for k in METRIC_ORDER] for method in METHODS}, index=list(METRIC_ORDER)
    ).astype(float)
    frame.index.name = "metric"
    frame["better"] = ["lower" if k in LOWER_IS_BETTER else "higher" for k in METRIC_ORDER]
    return frame


def interval_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame | None:
    """Rows = the values with a bootstrap interval (``<name>_ci95``), columns = model and baselines;
    cells ``"low .. high"`` (3 significant digits) or ``"n/a"``. None for a metrics JSON written
    before the intervals existed."""
    from gan_pipelines.families.shadow.nodes.evaluate import INTERVAL_KEYS

    keys = [k for k in INTERVAL_KEYS if any(f"{k}_ci95" in metrics[m] for m in METHODS)]
    if not keys:
        return None

    def cell(interval: Any) -> str:
        return "n/a" if not interval else f"{interval[0]:.3g} .. {interval[1]:.3g}"

    frame = pd.DataFrame({m: [cell(metrics[m].get(f"{k}_ci95")) for k in keys] for m in METHODS}, index=keys)
    frame.index.name = "95% interval"
    return frame


def direction_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Rows = shadow direction, light-consistency and shadow-strength metrics, columns = model,
    baselines, ``constant_direction`` and ``shadow_strength_ground_truth`` (the true shadow images'
    strength values only) (methods missing from ``metrics`` are left out; missing values are NaN).
    ``length_ratio_median`` and ``shadow_strength_median`` are best at 1."""
    methods = [m for m in DIRECTION_METHODS if m in metrics]
    frame = pd.DataFrame(
        {method: [metrics[method].get(k) for k in DIRECTION_ORDER] for method in methods}, index=list(DIRECTION_ORDER)
    ).astype(float)
    frame.index.name = "direction metric"
    frame["better"] = [
        "lower" if k in DIRECTION_LOWER_IS_BETTER
        else "closer to 1" if k in ("length_ratio_median", "shadow_strength_median")
        else "as the true shadows'" if k.startswith("shadow_darkening") else "higher"
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
    ingest_params: IngestConfig,
    preprocess_params: PreprocessConfig,
    attention_params: AttentionConfig,
    generator_params: GeneratorConfig,
    params: ReportConfig,
    attention_checkpoint: Mapping[str, Any],
    generator_checkpoint: Mapping[str, Any],
    real_photos: InputFolder,
) -> tuple[str, str]:
    """Return (self-contained HTML, Markdown summary).

    The checkpoints (the trained bundles) are used only for the "Real photos" section: when
    ``real_photos`` (the catalog entry :data:`REAL_PHOTOS_DATASET`, a folder in shadow.predict's
    layout) holds photos, the model runs on each as shadow.predict does (see
    :func:`real_photos_section`; ``params["real_photos"]`` false leaves the section out, and the
    folder unread); ``params["real_photos_before"]`` (default null) adds an earlier
    model's outputs on the same photos beside the current one's, titled
    ``params["real_photos_before_label"]`` (default "before"; see
    :func:`real_photos_before_setting`). Raises ValueError for unknown or wrong parameters, for bad
    real photos (every one listed, as shadow.predict lists them) and for missing or mis-sized
    earlier outputs (every one listed)."""
    from gan_pipelines.reporting.html_report import (
        config_block, curves_figure, html_table, image_grid_figure, image_tag, markdown_table, png_data_uri, render_html,
    )

    params = ReportConfig.parse(params).as_dict()
    # the other stages' parameters are only shown
    ingest_params, preprocess_params = as_plain(ingest_params), as_plain(preprocess_params)
    attention_params, generator_params = as_plain(attention_params), as_plain(generator_params)
    rank_by = params.get("rank_by", "LRMSE")
    real_photos_dir = real_photos.path if real_photos_setting(params) else None
    real_photos_before = real_photos_before_setting(params)
    table = metrics_table(metrics)
    attention = pd.DataFrame({"value": metrics["attention"]})
    attention.index.name = "attention (test)"
    meta = metrics["meta"]

    directions = direction_table(metrics)
    intervals = interval_table(metrics)
    interval_note = ("" if intervals is None
                     else f"<p class='note'>{html.escape(INTERVAL_NOTE.format(meta.get('intervals', '')))}</p>")
    sources = {"model_input": model_input, "predictions": predictions}
    sections = [
        ("Test metrics", html_table(table) + _protocol_note(meta)
         + ("" if intervals is None else html_table(intervals) + interval_note) + html_table(attention)),
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

    real_photos_html, real_photos_line = real_photos_section(
        real_photos_dir, make_predictor, threshold, before=real_photos_before
    )
    if real_photos_html is not None:
        sections.append(("Real photos", real_photos_html))

    sections.append(("Training curves", "".join([
        image_tag(png_data_uri(curves_figure(attention_history, CURVE_PANELS["attention"], "attention")),
                  "attention curves"),
        image_tag(png_data_uri(curves_figure(generator_history, CURVE_PANELS["generator"], "shadow generator")),
                  "generator curves"),
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
        *([] if intervals is None else [markdown_table(intervals), "", INTERVAL_NOTE.format(meta.get("intervals", "")), ""]),
        markdown_table(attention), "",
        "Shadow direction (the project's own metric; angles in degrees, image coordinates):", "",
        markdown_table(directions), "",
        _spearman_line(metrics), "",
        real_photos_line, "",
        "Full report with pictures and curves: shadow_report.html", "",
    ])
    return html_page, summary


def real_photos_setting(params: Mapping[str, Any]) -> bool:
    """``params["real_photos"]``: whether the report has the "Real photos" section (default true;
    the photos are the catalog entry :data:`REAL_PHOTOS_DATASET`). Raises ValueError naming
    ``shadow.report.real_photos`` for anything but true or false, and for the former
    ``real_photos_dir``, saying where the folder is set now."""
    if "real_photos_dir" in params:
        raise ValueError(
            f"{SECTION}.real_photos_dir is gone: the photos are the {REAL_PHOTOS_SOURCE} (conf/base/catalog.yml, "
            f"path {REAL_PHOTOS_DEFAULT}; give it another path in conf/local/catalog.yml), and "
            f"{REAL_PHOTOS_PARAMETER}: false leaves the section out"
        )
    value = params.get("real_photos", True)
    if not isinstance(value, bool):
        raise ValueError(f"{REAL_PHOTOS_PARAMETER} must be true (show the section) or false, got {value!r}")
    return value


def real_photos_before_setting(params: Mapping[str, Any]) -> RealPhotosBefore | None:
    """``params["real_photos_before"]`` (a folder path, or None: default, no comparison) with
    ``params["real_photos_before_label"]`` (default :data:`REAL_PHOTOS_BEFORE_LABEL_DEFAULT`; the
    title of the earlier model's columns, 1 to :data:`REAL_PHOTOS_BEFORE_LABEL_MAX` characters on
    one line, not :data:`NOW_LABEL`). Only the values are checked here; the folder is read by
    :func:`find_before_outputs`. Raises ValueError naming ``shadow.report.real_photos_before`` or
    ``shadow.report.real_photos_before_label`` for anything else (a number, a list, an empty
    string)."""
    value = params.get("real_photos_before")
    label = params.get("real_photos_before_label", REAL_PHOTOS_BEFORE_LABEL_DEFAULT)
    if not isinstance(label, str) or not label.strip() or "\n" in label or len(label) > REAL_PHOTOS_BEFORE_LABEL_MAX \
            or label.strip() == NOW_LABEL:
        raise ValueError(
            f"{REAL_PHOTOS_BEFORE_LABEL_PARAMETER} must be a one-line title of 1 to {REAL_PHOTOS_BEFORE_LABEL_MAX} "
            f"characters other than {NOW_LABEL!r} (the current model's columns), got {label!r}"
        )
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{REAL_PHOTOS_BEFORE_PARAMETER} must be a folder path (shadow.predict's output_dir from an earlier model) "
            f"or null (no comparison), got {value!r}"
        )
    return RealPhotosBefore(value, label.strip())


def find_before_outputs(directory: str | Path, pairs: list[tuple[str, Path, Path]]) -> dict[str, Path]:
    """The earlier model's output for every real photo: name -> ``<directory>/shadow/<name>.<ext>``
    (``ext`` png, jpg or jpeg in any case; names compared in Unicode NFC, OS litter and other
    files ignored, as :mod:`gan_pipelines.image_inputs` lists files). ``pairs`` are
    :func:`~gan_pipelines.families.shadow.predict.find_input_pairs`' (name, photo, mask).

    Every earlier output and its photo are decoded here, as every entry point decodes them
    (:func:`gan_pipelines.image_inputs.read_kind`; the arrays are dropped), so a bad one stops
    the report before any prediction. Raises ValueError naming
    ``shadow.report.real_photos_before`` and the path when ``directory`` or its ``shadow/`` folder
    is missing, and otherwise listing every problem at once: a photo with no earlier output (the
    file expected), two files for one photo, an unreadable file, a file whose size differs from the
    photo's (both sizes, W x H as shown)."""
    from gan_pipelines.families.shadow import layout
    from gan_pipelines.image_inputs import format_problems, not_an_image, read_kind, sample_name
    from gan_pipelines.images import ImageError

    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"{REAL_PHOTOS_BEFORE_PARAMETER} ({directory}) is not a folder; it must be shadow.predict's "
                         f"output_dir from the earlier model, holding {REAL_PHOTOS_BEFORE_KIND}/<name>.png")
    folder = root / REAL_PHOTOS_BEFORE_KIND
    if not folder.is_dir():
        raise ValueError(f"{REAL_PHOTOS_BEFORE_PARAMETER} ({directory}) has no {REAL_PHOTOS_BEFORE_KIND}/ folder "
                         f"({folder}); it must be shadow.predict's output_dir, holding "
                         f"{REAL_PHOTOS_BEFORE_KIND}/<name>.png")
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not is_litter(path.name) and not_an_image(path.name) is None:
            found.setdefault(sample_name(path.name), []).append(path)

    kind_type = layout.KIND_TYPES[REAL_PHOTOS_BEFORE_KIND]
    problems, chosen = [], {}
    for name, image_path, _ in pairs:
        files = found.get(name, [])
        if not files:
            problems.append((name, f"missing {folder / name}.png|jpg"))
            continue
        if len(files) > 1:
            problems.append((name, f"{len(files)} files for one photo ({', '.join(str(f) for f in files)}); keep one"))
            continue
        try:
            before = read_kind(files[0].read_bytes(), kind_type, name=str(files[0]))[0].shape[:2]
        except (OSError, ImageError) as exc:
            problems.append((name, f"{files[0]}: cannot be read ({exc})"))
            continue
        shown = read_kind(image_path.read_bytes(), layout.KIND_TYPES["noshadow"], name=str(image_path))[0].shape[:2]
        if before != shown:
            problems.append((name, f"{files[0]} is {before[1]}x{before[0]} but the photo {image_path} is "
                                   f"{shown[1]}x{shown[0]}"))
            continue
        chosen[name] = files[0]
    if problems:
        raise ValueError(format_problems(
            problems, f"{len(problems)} problem(s) with the earlier outputs of {REAL_PHOTOS_BEFORE_PARAMETER} "
                      f"({directory}; one {REAL_PHOTOS_BEFORE_KIND}/<name>.png|jpg of the photo's size per photo):"))
    return chosen


def real_photo_row(
    done: Any, before: np.ndarray | None = None, *, threshold: float | None = None,
    before_label: str = REAL_PHOTOS_BEFORE_LABEL_DEFAULT,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """One photo of the "Real photos" section, from a
    :class:`~gan_pipelines.families.shadow.predict.PairPrediction`: ``(pictures, table row)``.

    Pictures at the photo's full size: input and output uint8 (H, W, 3), the grey
    ``|output - input|`` times :data:`DIFF_GAIN` uint8 (H, W) clipped to 255, and the direction
    overlay (:func:`~gan_pipelines.families.shadow.shadow_direction.draw_direction_overlay`: object
    outline, generated shadow direction in red, scene direction in cyan) uint8 (H, W, 3). Row:
    ``size`` ("WxH"), ``light_consistency`` (0..1), ``light_angle_diff_deg`` (0..180), both NaN
    when undefined, and ``light_note`` (why; "" when scored); then the shadow strength
    (:mod:`~gan_pipelines.families.shadow.shadow_strength`): ``shadow_strength`` (> 0, 1 = as dark
    as the scene's own shadows), ``shadow_darkening`` and ``shadow_darkening_darkest5`` (median and
    95th percentile over the darkened pixels, 0..1), ``scene_shadow_darkening``, NaN when
    undefined, and ``strength_note`` (why).

    ``before``: an earlier model's output on the same photo, uint8 (H, W, 3) of the photo's size,
    with ``threshold`` (0..255 grey ``|output - input|``, the one ``done.check`` used). Pictures
    then read as :func:`real_photo_columns`: input, before, output, the two differences, overlay;
    the row gains ``"<before_label> light_consistency"``, ``"... light_angle_diff_deg"`` and
    ``"... light_note"``, from
    :func:`~gan_pipelines.families.shadow.shadow_direction.light_consistency` against the current
    model's scene estimate (``done.result.robject``/``rshadow``), and the strength columns the
    same way (``"<before_label> shadow_strength"`` ...). Raises ValueError for a
    ``before`` of another shape or without ``threshold``."""
    from gan_pipelines.families.shadow.evaluation import grey_abs_difference
    from gan_pipelines.families.shadow.shadow_direction import draw_direction_overlay, light_consistency
    from gan_pipelines.families.shadow.shadow_strength import shadow_strength

    def difference(output: np.ndarray) -> np.ndarray:
        return np.clip(grey_abs_difference(output, done.image) * DIFF_GAIN, 0, 255).round().astype(np.uint8)

    output = done.result.image
    overlay = draw_direction_overlay(output, done.object_mask, done.check)
    row = {"size": f"{done.image.shape[1]}x{done.image.shape[0]}", **_light_columns(done.check.as_row()),
           **_light_columns(done.strength.as_row(), keys=STRENGTH_KEYS)}
    if before is None:
        return [done.image, output, difference(output), overlay], row
    if before.shape != done.image.shape or threshold is None:
        raise ValueError(f"{done.name}: the earlier output must be uint8 {done.image.shape} with a threshold; got "
                         f"{before.shape}, threshold {threshold!r}")
    check = light_consistency(before, done.image, done.object_mask, done.result.robject, done.result.rshadow,
                              mask_threshold=threshold).as_row()
    row.update(_light_columns(check, prefix=f"{before_label} "))
    strength = shadow_strength(before, done.image, done.object_mask, done.result.robject, done.result.rshadow,
                               mask_threshold=threshold).as_row()
    row.update(_light_columns(strength, prefix=f"{before_label} ", keys=STRENGTH_KEYS))
    return [done.image, before, output, difference(before), difference(output), overlay], row


def real_photos_section(
    directory: str | Path | None, make_predictor: Callable[[], Any], threshold: float,
    before: RealPhotosBefore | None = None,
) -> tuple[str | None, str]:
    """The "Real photos" section: ``(html body, or None when directory is None; one Markdown
    summary line)``. ``directory`` is the path of the catalog entry :data:`REAL_PHOTOS_DATASET`
    (or None when ``shadow.report.real_photos`` is false); messages name that entry.

    When ``directory`` holds files, ``make_predictor()`` (a
    :class:`~gan_pipelines.families.shadow.predict.ShadowPredictor`, or anything with its
    ``predict``) runs on every pair at full resolution through
    :func:`~gan_pipelines.families.shadow.predict.predict_pairs`, with ``threshold`` (0..255 grey
    ``|output - input|``) for the generated shadow; nothing is written. The body has a table (one
    row per photo, :func:`real_photo_row`) and one picture row per photo. A missing folder, or one
    holding no files (OS litter aside), gives a one-sentence body naming the parameter and the
    layout instead (an :class:`~gan_pipelines.datasets.InputFolder`'s ``missing``). Raises ValueError, as shadow.predict does, for a wrong layout or bad inputs
    (unreadable image, mask of another size, empty mask), listing every one.

    ``before`` (:func:`real_photos_before_setting`) adds an earlier model's output on every photo
    (:func:`find_before_outputs`, read one at a time as the photos are) beside the current one's:
    the picture row of :func:`real_photo_columns` and the table's ``"<label> ..."`` columns, scored
    against the current model's scene estimate; the summary line gives both means. It is not read
    when there are no photos. Raises ValueError (:func:`find_before_outputs`) for missing or
    mis-sized earlier outputs, after the photos are checked and before any prediction."""
    from gan_pipelines.families.shadow import layout
    from gan_pipelines.families.shadow.predict import find_input_pairs, predict_pairs
    from gan_pipelines.image_inputs import read_kind
    from gan_pipelines.reporting.html_report import html_table, image_grid_figure, image_tag, png_data_uri

    if directory is None:
        return None, f"Real photos: not shown ({REAL_PHOTOS_PARAMETER} is false)."
    root = Path(directory)
    missing = InputFolder(root).missing
    if missing == "does not exist" or missing == "holds no files":
        sentence = (f"Real photos not configured: the {REAL_PHOTOS_SOURCE} ({directory}) {missing}; put your own "
                    f"photos there as {REAL_PHOTOS_LAYOUT} to see the model on them, or set {REAL_PHOTOS_PARAMETER} "
                    "to false to leave this section out.")
        return f"<p class='note'>{html.escape(sentence)}</p>", f"Real photos: not configured ({directory} {missing})."

    pairs = find_input_pairs(root, parameter=REAL_PHOTOS_SOURCE)
    predictions = predict_pairs(make_predictor(), root, threshold, pairs=pairs, parameter=REAL_PHOTOS_SOURCE)
    before_files = {} if before is None else find_before_outputs(before.directory, pairs)
    label = None if before is None else before.label
    row_label = {} if before is None else {"before_label": before.label}
    rows, figures = {}, []
    for done in predictions:
        earlier = None
        if before is not None:
            path = before_files[done.name]
            earlier = read_kind(path.read_bytes(), layout.KIND_TYPES[REAL_PHOTOS_BEFORE_KIND], name=str(path))[0]
        pictures, rows[done.name] = real_photo_row(done, earlier, threshold=threshold, **row_label)
        figure = image_grid_figure([pictures], real_photo_columns(label), [f"{done.name}\n{rows[done.name]['size']}"])
        figures.append(image_tag(png_data_uri(figure), f"real photo {done.name}"))  # rendered now: one photo in memory
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "name"
    note = (f"The trained model on each photo of {directory} at full resolution, as shadow.predict runs it (nothing "
            f"is written). |output - input| is the grey difference times {DIFF_GAIN}. light_consistency = 1 - "
            "light_angle_diff_deg / 180: the generated shadow's direction (grey |output - input| > "
            f"{threshold:g} outside the object) against the scene's, estimated from the predicted occluders' "
            "shadows; no ground truth is needed. shadow_strength (the project's own measure) = shadow_darkening / "
            "scene_shadow_darkening: the median darkening (1 - luma(output) / luma(input)) over the pixels the "
            "generated shadow darkens, against the median darkening of the scene's own shadows (the predicted "
            "rshadow) relative to the lit ground around them; 1 = as dark as the scene's shadows. "
            "shadow_darkening_darkest5: the darkening the darkest 5% of the generated shadow's pixels reach.")
    line = f"Real photos: {len(table)} shown from {directory}; {_scored(table, '')}; {_strength_scored(table, '')}"
    if before is not None:
        note += (f" {label} = the earlier model's outputs read from {before.directory}/{REAL_PHOTOS_BEFORE_KIND}/ "
                 f"(shadow.predict's output_dir), {NOW_LABEL} = this model's. The {label} scores use this model's "
                 "scene estimate (its predicted occluders and their shadows), not the earlier model's, so both are "
                 "measured against the same scene direction and differ only by the generated shadow.")
        line += (f"; {label} (the earlier outputs in {before.directory}, scored against this model's scene "
                 f"estimate): {_scored(table, f'{label} ')}{_paired(table, f'{label} ')}; "
                 f"{_strength_scored(table, f'{label} ')}")
    body = html_table(table, float_format="{:.3f}") + f"<p class='note'>{html.escape(note)}</p>" + "".join(figures)
    return body, line + "."


def _scored(table: pd.DataFrame, prefix: str) -> str:
    """``mean light_consistency <mean> over <k> of <n> scored`` from the columns ``prefix`` + key (or
    why none is scored)."""
    scores = table[f"{prefix}light_consistency"].dropna()
    if len(scores):
        return f"mean light_consistency {scores.mean():.3f} over {len(scores)} of {len(table)} scored"
    return f"light_consistency not scored for any ({table[f'{prefix}light_note'].iloc[0]})"


def _strength_scored(table: pd.DataFrame, prefix: str) -> str:
    """``median shadow_strength <median> over <k> of <n> scored`` from the columns ``prefix`` + key
    (or why none is scored)."""
    ratios = table[f"{prefix}shadow_strength"].dropna()
    if len(ratios):
        return f"median shadow_strength {ratios.median():.3f} over {len(ratios)} of {len(table)} scored"
    return f"shadow_strength not scored for any ({table[f'{prefix}strength_note'].iloc[0]})"


def _paired(table: pd.DataFrame, prefix: str) -> str:
    """``; on the <k> scored by both, <label> <mean> vs now <mean>``: both means over the photos
    scored with and without ``prefix``; "" when there are none."""
    both = table[["light_consistency", f"{prefix}light_consistency"]].dropna()
    if not len(both):
        return ""
    return (f"; on the {len(both)} scored by both, {prefix.strip()} {both.iloc[:, 1].mean():.3f} vs {NOW_LABEL} "
            f"{both.iloc[:, 0].mean():.3f}")


def _light_columns(light: Mapping[str, Any], prefix: str = "", keys: tuple[str, ...] = LIGHT_KEYS) -> dict[str, Any]:
    """``light``'s ``keys`` (default :data:`LIGHT_KEYS`) as table columns named ``prefix + key``: the
    numbers as floats (NaN when undefined), the notes as they are."""
    return {f"{prefix}{key}": light[key] if key.endswith("_note") else _number(light[key]) for key in keys}


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
    strength = metrics.get("meta", {}).get("shadow_strength_definition", "")
    return (
        "<p class='note'>{convention}. constant_direction = the single direction ({direction} deg) that puts the most "
        "test shadows within 30 deg, fitted on the test images themselves: a model that draws every shadow the same "
        "way scores about this. Scene direction from the true occluders' shadows vs the true shadow: median error "
        "{median} deg. {spearman}{strength}</p>"
    ).format(
        convention=html.escape(convention), direction=constant.get("direction_deg", "n/a"),
        median="n/a" if median is None else f"{median:.1f}", spearman=html.escape(_spearman_line(metrics)),
        strength=html.escape(f" Shadow strength: {strength}." if strength else ""),
    )


def _protocol_note(meta: Mapping[str, Any]) -> str:
    return (
        "<p class='note'>Per image on uint8 RGB at {res} px, averaged over {n} test images. Local metrics "
        "inside the inserted object's shadow mask ({mask}). Predicted shadow = grey |output - input| &gt; "
        "{thr:g}. identity = the input unchanged (adds no shadow); ground_truth_attention = the generator fed "
        "the true robject/rshadow maps.</p>"
    ).format(res=meta["resolution"], n=meta["num_test_images"], mask=meta["shadow_mask"], thr=meta["predicted_mask_threshold"])
