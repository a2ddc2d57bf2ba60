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
from gan_pipelines.image_folders import folder_version, image_key, sample_names
from gan_pipelines.library_versions import library_versions
from gan_pipelines.families.paired.config import CompareConfig

logger = logging.getLogger(__name__)

REFERENCE_FAMILY = "pix2pix"  # whose test split and judge every model is scored on
COMPARED_FAMILIES = LABEL_TO_PHOTO
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


def _refuse_missing_instances(model_input: Mapping[str, Any], input_configs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{family: why}`` for each model whose input needs instance maps (``instance_kind``, e.g.
    pix2pixHD's boundary map) that not every test sample of ``model_input`` has; models without
    instance maps need none and are never refused here."""
    names = sample_names(model_input, "test", TARGET_KIND)
    refused = {}
    for family, cfg in input_configs.items():
        kind = cfg.get("instance_kind")
        if not kind:
            continue
        have = sum(image_key("test", kind, name) in model_input for name in names)
        if have < len(names):
            refused[family] = (f"its generator uses instance boundaries (instance_edges) but only {have} of "
                               f"{len(names)} test samples of the {REFERENCE_FAMILY} model input have a {kind} "
                               f"(e.g. test/{kind}/{names[0]}.png); ingest instance maps, or retrain {family} with "
                               "instance_edges: false")
    return refused


def compare_paired_models(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    judge_checkpoint: Mapping[str, Any],
    params: CompareConfig,
    **generator_checkpoints: Any,
) -> tuple[dict[str, Any], str, str]:
    """Return ``(metrics, report_html, report_markdown)``.

    ``generator_checkpoints``: ``<family>=`` a lazy checkpoint (``exists()`` / ``load()``) or a
    loaded bundle, for the families of :data:`COMPARED_FAMILIES`. Instance maps are loaded only
    when a compared model uses them (pix2pixHD's instance boundaries); a model that needs them
    where the test split has none is not scored and is named in ``meta.refused`` with the reason
    (and in the report). ``meta.models.<family>.losses`` and the table's ``losses in training`` row
    say which generator losses each model trained with, and which perceptual term was off (e.g.
    VGG19 without local weights). Raises ValueError when no family has a trained generator, when
    every trained one is refused (naming each), or a generator was trained at another resolution
    than the reference test split's.
    """
    from gan_pipelines.families.paired.baselines import class_mean_painter, nearest_neighbour_retrieval
    from gan_pipelines.families.paired.evaluation import check_trained_on, evaluate_methods, same_content
    from gan_pipelines.families.paired.bundles import generator_from_bundle
    from gan_pipelines.families.paired.inference import generate
    from gan_pipelines.families.paired.networks import style_codes
    from gan_pipelines.families.paired.nodes.evaluate import output_diversity, resolve_device
    from gan_pipelines.families.paired.nodes.report import training_losses
    from gan_pipelines.families.paired.nodes.train import load_split
    from gan_pipelines.models import count_parameters

    params = CompareConfig.parse(params).as_dict()
    batch_size = _positive_int(params, "batch_size", 16, 1)
    style_seed = _positive_int(params, "style_seed", 0, 0)
    diversity_samples = _positive_int(params, "diversity_samples", 8, 2)
    num_examples = _positive_int(params, "num_examples", 6, 1)
    device = resolve_device(params.get("device", "auto"), "paired_compare.device")
    allow_stale = params.get("allow_stale", False)
    if not isinstance(allow_stale, bool):
        raise ValueError(f"paired_compare.allow_stale must be true or false; got {allow_stale!r}")
    judge_on_this_data = check_trained_on(model_input, judge_checkpoint, f"{REFERENCE_FAMILY} segmentation judge",
                                          allow_stale=allow_stale, section="paired_compare")

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

    nets = {family: generator_from_bundle(bundle, family) for family, bundle in bundles.items()}
    refused = _refuse_missing_instances(model_input, {family: cfg for family, (_, cfg) in nets.items()})
    for family, why in refused.items():
        logger.warning("paired_compare: %s is not compared: %s", family, why)
        del bundles[family], nets[family]
    if not bundles:
        raise ValueError("paired_compare: no model can be compared on the reference test split: "
                         + "; ".join(f"{family}: {why}" for family, why in refused.items()))
    # instance maps only for the models whose input uses them (pix2pixHD's instance boundaries)
    instance_kinds = sorted({cfg["instance_kind"] for _, cfg in nets.values() if cfg.get("instance_kind")})
    kinds = [LABEL_KIND, TARGET_KIND, *instance_kinds]
    names, test = load_split(model_input, "test", kinds)
    _, train = load_split(model_input, "train", [TARGET_KIND, LABEL_KIND])
    labels = test[LABEL_KIND].astype(np.int64)
    resolution = int(labels.shape[1])
    data_version = folder_version(model_input) or "unversioned"

    outputs: dict[str, np.ndarray] = {}
    extra: dict[str, dict[str, Any]] = {}
    for family, bundle in bundles.items():
        net, input_cfg = nets[family]
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
            "_same_content": same_content(model_input, bundle),
            "_generator_type": bundle["model_config"]["generator"].get("type", "unet"),
            "_diversity": diversity_meta,
            "_vgg19": meta.get("vgg19_perceptual"),
            "_losses": training_losses(meta),
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
        "judge_trained_on_this_data": judge_on_this_data,
        "not_trained": not_trained,
        "refused": refused,
        "models": {family: {
            "generator_type": values["_generator_type"],
            "trained_on_data_version": values["_trained_on"],
            # by content, not by save time: a byte-identical render of the same scenes counts
            # as the same data; None when the checkpoint records no data hash
            "trained_on_this_data": values["_same_content"],
            "vgg19_perceptual": values["_vgg19"],
            "losses": values["_losses"],
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
    from gan_pipelines.families.paired.nodes.report import (
        colourise_labels, losses_note, metrics_table, score_intervals_table, with_losses_row,
    )
    from gan_pipelines.reporting.html_report import (
        config_block, html_table, image_grid_figure, markdown_table, png_data_uri, render_html,
    )

    table = metrics_table(metrics)
    models = [m for m in outputs if m not in BASELINES]
    order = [*models, *BASELINES, "real"]
    table = table[[c for c in order if c in table.columns] + ["better"]]
    losses = {model: info.get("losses") for model, info in metrics["meta"]["models"].items()}
    table = with_losses_row(table, losses)
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
    if meta["refused"]:
        notes += "<p>Not compared: " + "; ".join(f"{f}: {why}" for f, why in meta["refused"].items()) + "</p>"
    unavailable = meta.get("unavailable") or {}
    if unavailable:
        notes += "<p>Unavailable metrics: " + "; ".join(f"{k}: {v}" for k, v in unavailable.items()) + "</p>"
    intervals = score_intervals_table(metrics)
    judge = meta.get("judge") or {}
    interval_section = [] if intervals is None else [(
        "Segmentation scores with their uncertainty",
        f"<p class='note'>{judge.get('precision')} judge, seed {judge.get('seed')}, data hash "
        f"<code>{str(judge.get('data_hash'))[:16]}</code>. Bootstrap 95% intervals over the "
        f"{meta['num_test_images']} test maps: two models whose intervals overlap are not told apart by this "
        "test set.</p>" + html_table(intervals),
    )]
    sections = [
        ("Comparison", notes + html_table(table) + losses_note(losses)),
        *interval_section,
        ("The same test label maps, one column per model", f"<img src='{grid}' alt='comparison grid'>"),
        ("Details", config_block({k: v for k, v in meta.items() if k != "unavailable"})),
    ]
    markdown = "# Paired models compared\n\n" + markdown_table(table) + "\n"
    if intervals is not None:
        markdown += "\n## Segmentation scores, bootstrap 95% intervals\n\n" + markdown_table(intervals) + "\n"
    if meta["refused"]:
        markdown += "\nNot compared: " + "; ".join(f"{f}: {why}" for f, why in meta["refused"].items()) + "\n"
    return render_html("Paired models compared", sections), markdown
