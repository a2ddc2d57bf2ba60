"""shadow.evaluate: the test-split metrics of the trained model and of two baselines, one protocol.

Baselines on the same images: ``identity`` (output = noshadow, adds no shadow) and
``ground_truth_attention`` (the generator fed the true robject/rshadow: an upper bound for the
attention block). Metrics are computed on uint8 images at the model's resolution.

Besides the protocol's metrics, every method gets the project's own shadow direction / length
metrics and the light-consistency check of
:mod:`gan_pipelines.families.shadow.shadow_direction` (per image in the CSV, aggregated in the
JSON), and the metrics JSON gets three more entries: ``constant_direction`` (the best single
shadow direction for every test image: what a model that draws every shadow the same way would
score), ``light_estimate`` (how well the occluders' shadows predict the true shadow direction)
and ``light_consistency_spearman`` (does the ground-truth-free light-consistency score rank the
model's outputs as the true angle error does).

Every method also gets the project's own shadow strength
(:mod:`gan_pipelines.families.shadow.shadow_strength`): per image ``shadow_darkening``,
``shadow_darkening_darkest5``, ``scene_shadow_darkening`` (the scene's own shadows where the
attention block finds them) and ``shadow_strength`` (their ratio; null with ``strength_note``),
aggregated as medians (``shadow_strength_median`` ...); ``shadow_strength_ground_truth`` scores
the ground-truth shadow images the same way (what a model that drew the true shadows would score).

Beside the main values of every method, ``<name>_ci95``: ``[low, high]``, the percentile
bootstrap 95% interval over the test scenes (:mod:`gan_pipelines.metrics.intervals`;
``bootstrap_resamples`` resamples, seed ``seed``): each resample draws scenes with replacement and
recomputes the metric as defined (LRMSE: the mean of the per-image values; ``within_30deg_share``:
the share of the resampled scenes with a true direction; medians as medians). A null interval has
its reason in ``meta.unavailable``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gan_pipelines.families.shadow.data import load_split_arrays, sample_names, shadow_mask_source
from gan_pipelines.families.shadow.layout import SHADOW_MASK_KIND
from gan_pipelines.image_folders import folder_version, image_key
from gan_pipelines.library_versions import library_versions
from gan_pipelines.images import MASK_THRESHOLD
from gan_pipelines.families.shadow.config import EvaluateConfig

logger = logging.getLogger(__name__)

SECTION = "shadow.evaluate"
METHODS = ("model", "identity", "ground_truth_attention")
# The values that get a bootstrap interval (<name>_ci95), for every method.
INTERVAL_KEYS = (
    "GRMSE", "LRMSE", "GSSIM", "LSSIM", "GPSNR", "LPSNR", "GBER", "LBER",
    "angle_error_mean_deg", "within_30deg_share", "within_45deg_share", "light_consistency_mean",
    "shadow_strength_median", "shadow_darkening_median", "shadow_darkening_darkest5_median",
)
NO_INTERVAL = "the value is not a finite number"
NAN_RESAMPLES = "undefined (no image defines it) in some bootstrap resamples"
TOO_FEW_IMAGES = "a bootstrap interval needs at least 2 test images"


def evaluate_shadow_model(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    attention_checkpoint: Mapping[str, Any],
    generator_checkpoint: Mapping[str, Any],
    params: EvaluateConfig,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, np.ndarray]]:
    """Return (per-image rows, metrics.json content, test predictions image folder)."""
    import torch

    from gan_pipelines.families.shadow.evaluation import SHADOW_DIFF_THRESHOLD, evaluate_image
    from gan_pipelines.metrics.segmentation import ber_from_counts, confusion_counts, iou_from_counts
    from gan_pipelines.families.shadow.bundles import attention_from_bundle, generator_from_bundle
    from gan_pipelines.families.shadow.inference import ShadowInference, predict_shadows, shadow_layer_to_uint8
    from gan_pipelines.families.shadow.shadow_direction import (
        DIRECTION_CONVENTION, PRED_MAPS_SUFFIX, constant_direction_baseline,
        direction_metrics, light_columns, light_consistency_spearman, light_estimate_accuracy, scene_shadow_direction,
    )
    from gan_pipelines.families.shadow.shadow_strength import STRENGTH_DEFINITION, aggregate_strength, shadow_strength
    from gan_pipelines.training import select_device, select_precision

    params = EvaluateConfig.parse(params).as_dict()
    threshold = float(params.get("mask_threshold", SHADOW_DIFF_THRESHOLD))
    names = sample_names(model_input, "test")
    if not names:
        raise ValueError(f"{SECTION}: the test split is empty")
    if image_key("test", "shadow", names[0]) not in model_input:
        raise ValueError(f"{SECTION}: the test split has no 'shadow' ground truth (inference-only data?)")
    kinds = ("noshadow", "shadow", "mask", "robject", "rshadow", SHADOW_MASK_KIND)
    has_exact_mask = shadow_mask_source(model_input, "test") == "exact"  # a partial shadow_mask folder is an error
    data = load_split_arrays(model_input, "test", kinds)

    device = select_device(params.get("device", "auto"))
    precision = select_precision(device, params.get("precision", "auto"))
    model = ShadowInference(attention_from_bundle(attention_checkpoint), generator_from_bundle(generator_checkpoint))
    run = dict(batch_size=int(params.get("batch_size", 16)), device=device, autocast_dtype=precision.autocast_dtype)
    predicted = predict_shadows(model, data["noshadow"], data["mask"], **run)
    with_true_maps = predict_shadows(
        model, data["noshadow"], data["mask"], robject=data["robject"], rshadow=data["rshadow"], **run
    )
    outputs = {"model": predicted.image, "identity": data["noshadow"], "ground_truth_attention": with_true_maps.image}

    rows, truth_strength = [], []
    for index, name in enumerate(tqdm(names, desc="evaluate", unit="image")):
        # The scene's shadow direction from its occluders: from the true maps (what the Spearman
        # check uses) and from the attention block's maps (what shadow.predict has on a photo).
        scene = scene_shadow_direction(data["robject"][index], data["rshadow"][index], data["mask"][index])
        scene_pred_maps = scene_shadow_direction(predicted.robject[index], predicted.rshadow[index], data["mask"][index])
        # Shadow strength against the scene's own shadows where the attention block finds them, as on a photo.
        scene_maps = (predicted.robject[index], predicted.rshadow[index])
        truth_strength.append(shadow_strength(
            data["shadow"][index], data["noshadow"][index], data["mask"][index], *scene_maps, mask_threshold=threshold,
        ).as_row())
        for method in METHODS:
            metrics = evaluate_image(
                data["shadow"][index], outputs[method][index], data["noshadow"][index],
                data[SHADOW_MASK_KIND][index], mask_threshold=threshold,
            )
            direction = direction_metrics(
                outputs[method][index], data["noshadow"][index], data["mask"][index], data[SHADOW_MASK_KIND][index],
                mask_threshold=threshold,
            )
            strength = shadow_strength(
                outputs[method][index], data["noshadow"][index], data["mask"][index], *scene_maps, mask_threshold=threshold,
            )
            rows.append({
                "name": name, "method": method, **metrics, **direction,
                **light_columns(direction, scene), **light_columns(direction, scene_pred_maps, suffix=PRED_MAPS_SUFFIX),
                **strength.as_row(),
            })
    table = pd.DataFrame(rows)

    truth = torch.from_numpy(np.stack([data["robject"], data["rshadow"]], axis=1) >= MASK_THRESHOLD).float()
    probs = torch.from_numpy(np.stack([predicted.robject, predicted.rshadow], axis=1) >= MASK_THRESHOLD).float()
    counts = confusion_counts(probs, truth)
    iou, ber = iou_from_counts(counts), ber_from_counts(counts)

    metrics: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    resamples, seed = int(params.get("bootstrap_resamples", 2000)), int(params.get("seed", 0))
    for method in METHODS:
        method_rows = table[table.method == method].drop(columns=["name", "method"]).to_dict("records")
        summary = {k: _number(v) for k, v in summarise(method_rows).items()}
        intervals = bootstrap_intervals(method_rows, INTERVAL_KEYS, resamples, seed)
        for key in INTERVAL_KEYS:  # each interval right after its value
            summary = _insert_after(summary, key, f"{key}_ci95", intervals[key] if summary.get(key) is not None else None)
            if summary[f"{key}_ci95"] is None:
                unavailable[f"{method}.{key}_ci95"] = (
                    NO_INTERVAL if summary.get(key) is None else TOO_FEW_IMAGES if len(method_rows) < 2 else NAN_RESAMPLES)
        metrics[method] = summary
    metrics["shadow_strength_ground_truth"] = {
        **_json_safe(aggregate_strength(truth_strength)),
        "scores": ("the ground-truth shadow images against the attention block's scene shadows: "
                   "the strength of the true shadows"),
    }
    metrics["attention"] = {
        "iou": float(iou.mean()), "iou_robject": float(iou[0]), "iou_rshadow": float(iou[1]),
        "ber": float(ber.mean()), "ber_robject": float(ber[0]), "ber_rshadow": float(ber[1]),
    }
    # The project's own direction entries (shadow_direction.py), over the model's test images.
    model_rows = table[table.method == "model"]
    metrics["constant_direction"] = _json_safe(constant_direction_baseline(model_rows["shadow_angle_true_deg"]))
    metrics["light_estimate"] = {
        "ground_truth_maps": _json_safe(light_estimate_accuracy(model_rows.to_dict("records"))),
        "predicted_maps": _json_safe(light_estimate_accuracy(model_rows.to_dict("records"), suffix=PRED_MAPS_SUFFIX)),
    }
    metrics["light_consistency_spearman"] = _json_safe({
        **light_consistency_spearman(model_rows["shadow_angle_error_deg"], model_rows["light_angle_diff_deg"]),
        "method": "model", "scene_from": "ground-truth robject/rshadow",
    })
    metrics["light_consistency_spearman_predicted_maps"] = _json_safe({
        **light_consistency_spearman(model_rows["shadow_angle_error_deg"], model_rows[f"light_angle_diff_deg{PRED_MAPS_SUFFIX}"]),
        "method": "model", "scene_from": "the attention block's predicted robject/rshadow",
    })
    metrics["meta"] = {
        "resolution": int(data["noshadow"].shape[1]),
        "num_test_images": len(names),
        "shadow_mask": "exact (synthetic)" if has_exact_mask else f"derived: grey |shadow - noshadow| > {threshold:g}",
        "predicted_mask_threshold": threshold,
        "model_input_version": folder_version(model_input) or "unversioned",
        "attention_trained_at": attention_checkpoint.get("meta", {}).get("trained_at", "unknown"),
        "generator_trained_at": generator_checkpoint.get("meta", {}).get("trained_at", "unknown"),
        "device": str(device),
        "precision": precision.name,
        "direction_convention": DIRECTION_CONVENTION,
        "shadow_strength_definition": STRENGTH_DEFINITION,
        "intervals": (f"<name>_ci95: percentile bootstrap 95% interval over the test scenes ({resamples} resamples, "
                      f"seed {seed}); each resample recomputes the metric as defined from the drawn scenes"),
        "unavailable": unavailable,
        "versions": library_versions(),
    }
    _log_table(metrics)

    predictions = {}
    for index, name in enumerate(names):
        predictions[image_key("test", "output", name)] = predicted.image[index]
        predictions[image_key("test", "robject", name)] = predicted.robject[index]
        predictions[image_key("test", "rshadow", name)] = predicted.rshadow[index]
        predictions[image_key("test", "shadow_layer", name)] = shadow_layer_to_uint8(predicted.shadow_layer[index])
        predictions[image_key("test", "output_gt_attention", name)] = with_true_maps.image[index]
    if model.generator.projection_hint:  # what the generator was told, for the report's pictures
        hints = projection_hints(data["mask"], predicted.robject, predicted.rshadow)
        for index, name in enumerate(names):
            predictions[image_key("test", "projection_hint", name)] = hints[index]
    return table, metrics, predictions


def summarise(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    """One method's whole-split values from its per-image rows: the protocol's means
    (:func:`~gan_pipelines.families.shadow.evaluation.aggregate`), the direction and
    light-consistency aggregates and the shadow-strength medians (NaN where undefined)."""
    from gan_pipelines.families.shadow.evaluation import aggregate
    from gan_pipelines.families.shadow.shadow_direction import aggregate_direction, aggregate_light
    from gan_pipelines.families.shadow.shadow_strength import aggregate_strength

    return {**aggregate(rows), **aggregate_direction(rows), **aggregate_light(rows), **aggregate_strength(rows)}


def bootstrap_intervals(
    rows: list[Mapping[str, Any]], keys: tuple[str, ...], resamples: int, seed: int
) -> dict[str, list[float] | None]:
    """Percentile bootstrap 95% intervals ``[low, high]`` of :func:`summarise`'s ``keys`` over the
    per-image ``rows`` (one per test scene): each resample draws the scenes with replacement and
    recomputes every value by its own definition (a mean of per-image values, a share, a median).
    None for a key that is NaN in some resample, and for every key when there are fewer than 2
    rows. Raises ValueError for ``resamples`` < 100."""
    from gan_pipelines.metrics.intervals import bootstrap_interval

    if len(rows) < 2:
        return {key: None for key in keys}
    rows = list(rows)

    def statistic(indices: np.ndarray) -> list[float]:
        summary = summarise([rows[i] for i in indices])
        return [float(summary[key]) for key in keys]

    pairs = bootstrap_interval(len(rows), statistic, n_resamples=resamples, seed=seed)
    return {key: (None if low is None else [low, high]) for key, (low, high) in zip(keys, pairs)}


def _insert_after(values: Mapping[str, Any], key: str, new_key: str, new_value: Any) -> dict[str, Any]:
    """``values`` with ``new_key: new_value`` placed right after ``key`` (at the end when absent)."""
    if key not in values:
        return {**values, new_key: new_value}
    result: dict[str, Any] = {}
    for k, v in values.items():
        result[k] = v
        if k == key:
            result[new_key] = new_value
    return result


def projection_hints(mask: np.ndarray, robject: np.ndarray, rshadow: np.ndarray) -> np.ndarray:
    """The generator's projection hint for uint8 0/255 (N, H, W) masks, as 0/255 uint8 (N, H, W)."""
    import torch

    from gan_pipelines.families.shadow.projection import projected_shadow_hint

    signed = [torch.from_numpy(m >= MASK_THRESHOLD).float()[:, None] * 2 - 1 for m in (mask, robject, rshadow)]
    return ((projected_shadow_hint(*signed)[:, 0] > 0).numpy() * 255).astype(np.uint8)


def _json_safe(values: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers through :func:`_number` (NaN -> null); strings and None kept as they are."""
    return {k: v if v is None or isinstance(v, str) else _number(v) for k, v in values.items()}


def _number(value: Any) -> float | int | None:
    """JSON-safe number: NaN (e.g. every local mask empty) becomes null."""
    value = float(value)
    if np.isnan(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**31 else value


def _log_table(metrics: Mapping[str, Any]) -> None:
    keys = ("GRMSE", "LRMSE", "GSSIM", "LSSIM", "GPSNR", "LPSNR", "GBER", "LBER")
    lines = [f"{'':24s}" + "".join(f"{k:>8s}" for k in keys)]
    for method in METHODS:
        values = metrics[method]
        lines.append(f"{method:24s}" + "".join(f"{values[k]:8.3f}" if values[k] is not None else "     n/a" for k in keys))
    logger.info("Test metrics (%d images):\n%s", metrics["meta"]["num_test_images"], "\n".join(lines))
    heads = ("angle err mean", "angle err median", "within 30", "within 45", "length ratio", "light consist.")
    keys = ("angle_error_mean_deg", "angle_error_median_deg", "within_30deg_share", "within_45deg_share",
            "length_ratio_median", "light_consistency_mean")
    lines = [f"{'':24s}" + "".join(f"{h:>17s}" for h in heads)]
    for method in (*METHODS, "constant_direction"):
        values = metrics[method]
        lines.append(f"{method:24s}" + "".join(
            f"{values[k]:17.3f}" if values.get(k) is not None else f"{'n/a':>17s}" for k in keys))
    spearman = metrics["light_consistency_spearman"]
    logger.info(
        "Shadow direction (degrees, image coordinates; constant_direction = %s deg):\n%s\n"
        "light_consistency_spearman (true angle error vs light-consistency difference): rho %s over %d images",
        metrics["constant_direction"]["direction_deg"], "\n".join(lines),
        "n/a" if spearman["rho"] is None else f"{spearman['rho']:.3f}", spearman["n_images"],
    )
