"""paired_compare: every trained label map -> photo model side by side on ONE test split.

Each model family evaluates itself on its own data (spade_vae even trains on the
``palette: random_objects`` renders), so their metric files are not one table. This node takes the
reference family's test split and segmentation judge (:data:`REFERENCE_FAMILY`: pix2pix's
``per_class`` data), runs every trained generator of :data:`COMPARED_FAMILIES` on those same
label maps, and scores them all, the two baselines and the real pictures with one protocol
(:func:`gan_pipelines.families.paired.evaluation.evaluate_methods`).

Per model it adds: ``diversity`` (mean pairwise distance of ``diversity_samples`` outputs per
map; 0 for a deterministic generator, measured), training time and speed from the checkpoint's
own history (``train_seconds``: sum of the epoch times; ``train_images_per_second``: median over
epochs), ``generator_parameters``, and which data version and palette it was trained on.
A family that has not been trained is listed in ``meta.not_trained`` with the command to run,
never scored as 0.

Parameters (``paired_compare``): ``batch_size``, ``device`` (auto | cpu | cuda...),
``style_seed`` (the seeded z of style-sampling generators), ``diversity_samples`` (>= 2),
``num_examples`` (rows of the picture grid), ``metrics`` (the evaluation protocol's settings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import LABEL_KIND, LABEL_TO_PHOTO, TARGET_KIND
from gan_pipelines.image_folders import folder_version
from gan_pipelines.library_versions import library_versions
from gan_pipelines.params import check_known_keys

logger = logging.getLogger(__name__)

REFERENCE_FAMILY = "pix2pix"  # whose test split and judge every model is scored on
COMPARED_FAMILIES = LABEL_TO_PHOTO
KEYS = {"batch_size", "device", "style_seed", "diversity_samples", "num_examples", "metrics"}
BASELINES = ("class_mean_painter", "nearest_neighbour")


def _positive_int(params: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"paired_compare.{key} must be an integer >= {minimum}; got {value!r}")
    return value


def _training_figures(bundle: Mapping[str, Any]) -> dict[str, float | None]:
    history = pd.DataFrame(bundle.get("history") or {})
    seconds = float(history["seconds"].sum()) if "seconds" in history else None
    speed = float(history["images_per_second"].median()) if "images_per_second" in history else None
    return {"train_seconds": seconds, "train_images_per_second": speed, "train_epochs": int(len(history))}


def compare_paired_models(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    judge_checkpoint: Mapping[str, Any],
    params: dict[str, Any],
    **generator_checkpoints: Any,
) -> tuple[dict[str, Any], str, str]:
    """Return ``(metrics, report_html, report_markdown)``.

    ``generator_checkpoints``: ``<family>=`` a lazy checkpoint (``exists()`` / ``load()``) or a
    loaded bundle, for the families of :data:`COMPARED_FAMILIES`. Raises ValueError when no
    family has a trained generator, or a generator was trained at another resolution than the
    reference test split's.
    """
    from gan_pipelines.families.paired.baselines import class_mean_painter, nearest_neighbour_retrieval
    from gan_pipelines.families.paired.evaluation import evaluate_methods
    from gan_pipelines.families.paired.inference import generate
    from gan_pipelines.families.paired.networks import generator_from_bundle, style_codes
    from gan_pipelines.families.paired.nodes.evaluate import output_diversity, resolve_device
    from gan_pipelines.families.paired.nodes.train import load_split
    from gan_pipelines.models import count_parameters

    check_known_keys(params, KEYS, "paired_compare")
    batch_size = _positive_int(params, "batch_size", 16, 1)
    style_seed = _positive_int(params, "style_seed", 0, 0)
    diversity_samples = _positive_int(params, "diversity_samples", 8, 2)
    num_examples = _positive_int(params, "num_examples", 6, 1)
    device = resolve_device(params.get("device", "auto"))

    bundles: dict[str, Mapping[str, Any]] = {}
    not_trained: dict[str, str] = {}
    for family in COMPARED_FAMILIES:
        checkpoint = generator_checkpoints.get(family)
        if checkpoint is None or (hasattr(checkpoint, "exists") and not checkpoint.exists()):
            not_trained[family] = f"no {family}.generator_checkpoint yet: run `kedro run --pipeline {family}`"
            continue
        bundles[family] = checkpoint.load() if hasattr(checkpoint, "load") else checkpoint
    if not bundles:
        raise ValueError("paired_compare: no label map -> photo model is trained yet; run e.g. "
                         f"`kedro run --pipeline {REFERENCE_FAMILY}` first ({', '.join(COMPARED_FAMILIES)} are compared)")

    kinds = [LABEL_KIND, TARGET_KIND, "instance_map"]
    names, test = load_split(model_input, "test", kinds)
    _, train = load_split(model_input, "train", [TARGET_KIND, LABEL_KIND])
    labels = test[LABEL_KIND].astype(np.int64)
    resolution = int(labels.shape[1])
    data_version = folder_version(model_input) or "unversioned"

    outputs: dict[str, np.ndarray] = {}
    extra: dict[str, dict[str, Any]] = {}
    for family, bundle in bundles.items():
        net, input_cfg = generator_from_bundle(bundle, family)
        trained_at = int(bundle.get("meta", {}).get("resolution", resolution))
        if trained_at != resolution:
            raise ValueError(f"paired_compare: {family}'s generator was trained at {trained_at} px but the "
                             f"{REFERENCE_FAMILY} test split is {resolution} px; retrain one of them at the other size")
        instances = test["instance_map"] if input_cfg.get("instance_kind") else None
        z = None if net.z_dim is None else style_codes(len(names), net.z_dim, style_seed)
        outputs[family] = generate(net, input_cfg["type"], test[input_cfg["kind"]], instances,
                                   batch_size=batch_size, device=device, z=z)
        per_map, diversity_meta = output_diversity(net, input_cfg, test, diversity_samples, style_seed, batch_size,
                                                   device, params, "paired_compare.metrics")
        meta = bundle.get("meta", {})
        extra[family] = {
            "diversity": float(per_map.mean()),
            **_training_figures(bundle),
            "generator_parameters": int(count_parameters(net)),
            "_trained_on": meta.get("model_input_version"),
            "_generator_type": bundle["model_config"]["generator"].get("type", "unet"),
            "_diversity": diversity_meta,
            "_vgg19": meta.get("vgg19_perceptual"),
        }

    num_classes = int(judge_checkpoint.get("meta", {}).get("num_classes") or 0)
    ignore_index = judge_checkpoint.get("meta", {}).get("ignore_index")
    train_labels = train[LABEL_KIND].astype(np.int64)
    outputs["class_mean_painter"] = class_mean_painter(train[TARGET_KIND], train_labels, num_classes, ignore_index)(labels)
    outputs["nearest_neighbour"] = nearest_neighbour_retrieval(train[TARGET_KIND], train_labels, ignore_index)(labels)
    metrics, per_image, protocol_meta = evaluate_methods(
        outputs, test[TARGET_KIND], labels, judge_checkpoint, dict(params.get("metrics") or {}),
        section="paired_compare.metrics",
    )
    for family, values in extra.items():
        metrics[family].update({k: v for k, v in values.items() if not k.startswith("_")})

    meta = dict(protocol_meta)
    meta.update({
        "reference": f"{REFERENCE_FAMILY}'s test split and segmentation judge",
        "data_version": data_version,
        "resolution": resolution,
        "num_test_images": len(names),
        "judge_trained_at": judge_checkpoint.get("meta", {}).get("trained_at"),
        "not_trained": not_trained,
        "models": {family: {
            "generator_type": values["_generator_type"],
            "trained_on_data_version": values["_trained_on"],
            "same_data_version": values["_trained_on"] == data_version,
            "vgg19_perceptual": values["_vgg19"],
            "diversity": values["_diversity"],
        } for family, values in extra.items()},
        "style_codes": f"style-sampling generators: z ~ N(0, I) from numpy default_rng({style_seed}), one per test map",
        "versions": library_versions(),
    })
    metrics = {**metrics, "meta": meta}
    logger.info("paired_compare on %d test maps of %s: %s", len(names), data_version,
                {m: round(v["seg_miou"], 3) for m, v in metrics.items() if m != "meta" and v.get("seg_miou") is not None})
    html, markdown = _report(metrics, outputs, test, labels, names, per_image, num_examples)
    return metrics, html, markdown


def _report(metrics, outputs, test, labels, names, per_image, num_examples) -> tuple[str, str]:
    from gan_pipelines.families.paired.nodes.report import colourise_labels, metrics_table
    from gan_pipelines.reporting.html_report import (
        config_block, html_table, image_grid_figure, markdown_table, png_data_uri, render_html,
    )

    table = metrics_table(metrics)
    models = [m for m in outputs if m not in BASELINES]
    order = [*models, *BASELINES, "real"]
    table = table[[c for c in order if c in table.columns] + ["better"]]
    # the same test maps for every column: a seeded draw, so each model is seen on the same scenes
    picks = sorted(np.random.default_rng(0).choice(len(names), size=min(num_examples, len(names)), replace=False))
    rows = [[colourise_labels(labels[i]), *(outputs[m][i] for m in [*models, *BASELINES]), test[TARGET_KIND][i]]
            for i in picks]
    grid = png_data_uri(image_grid_figure(rows, ["label map", *models, *BASELINES, "real"], [names[i] for i in picks]))
    meta = metrics["meta"]
    not_trained = meta["not_trained"]
    notes = (f"<p>All models on the same {meta['num_test_images']} test label maps of data version "
             f"<code>{meta['data_version']}</code> ({meta['reference']}), {meta['resolution']} px. "
             "spade_vae trains on the palette: random_objects renders and draws its objects' colours from z, so its L1/PSNR "
             "against these per_class pictures measure a different thing than its segmentation score.</p>")
    if not_trained:
        notes += "<p>Not trained yet: " + "; ".join(f"{f}: {why}" for f, why in not_trained.items()) + "</p>"
    unavailable = meta.get("unavailable") or {}
    if unavailable:
        notes += "<p>Unavailable metrics: " + "; ".join(f"{k}: {v}" for k, v in unavailable.items()) + "</p>"
    sections = [
        ("Comparison", notes + html_table(table)),
        ("The same test label maps, one column per model", f"<img src='{grid}' alt='comparison grid'>"),
        ("Details", config_block({k: v for k, v in meta.items() if k != "unavailable"})),
    ]
    markdown = "# Paired models compared\n\n" + markdown_table(table) + "\n"
    return render_html("Paired models compared", sections), markdown
