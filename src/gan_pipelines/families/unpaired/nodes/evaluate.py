"""<family>.evaluate: the trained generators, the baselines and the real target-domain pictures
on the same test split, both directions, scored by the unpaired protocol
(:mod:`gan_pipelines.families.unpaired.evaluation`: hidden-pair L1/PSNR/SSIM, target-domain
rate, content kept, the project's KID, standard FID/KID with local weights only, cycle L1).

Methods: ``model`` (``G_AB`` for a2b, ``G_BA`` for b2a; its cycle reconstruction is the other
generator applied to its output), ``identity``, ``colour_transfer`` and ``histogram_matching``
(:mod:`gan_pipelines.families.unpaired.baselines`, fitted on the train pictures), ``real``.

Beside the protocol: every model's ``diversity`` (``diversity_samples`` outputs per test
picture: MUNIT from random style codes, a deterministic model measures 0); MUNIT's example-guided
scores (``<metric>_<direction>_example``, style codes of the hidden targets) and pictures
(``test/model_example_<direction>/``); U-GAT-IT's attention heatmaps
(``test/model_attention_<direction>/``), which the report shows.

A generator or judge trained on other data than this model input (its recorded content hash
differs) is refused unless ``allow_stale: true``; the metrics then record it
(``meta.trained_on_this_data``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.unpaired.config import EvaluateParams

logger = logging.getLogger(__name__)

PREDICTED_METHODS = ("model", "colour_transfer", "histogram_matching")  # written to test_predictions
# MUNIT's example-guided scores reported beside the prior-mean ones (cycle L1 has no example form)
EXAMPLE_METRICS = ("hidden_l1", "hidden_psnr", "hidden_ssim", "target_rate", "content_miou", "kid")


def evaluate_unpaired_model(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    ingest_summary: Mapping[str, Any],
    generator_checkpoint: Mapping[str, Any],
    judge_checkpoint: Mapping[str, Any],
    params: EvaluateParams,
    *,
    family: str,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, np.ndarray]]:
    """Return ``(test_metrics_per_image, metrics, test_predictions)``.

    ``test_metrics_per_image``: one row per (method, direction, test picture) with the columns
    ``name, direction, method, hidden_l1, hidden_psnr, hidden_ssim, target_prob, content_miou,
    cycle_l1`` (NaN where a value does not apply). ``metrics``: ``{"model", "identity",
    "colour_transfer", "histogram_matching", "real"}`` each a flat map ``<metric>_<direction>``
    -> number or null (and ``<metric>_<direction>_ci95`` -> [low, high] or null), plus ``meta``
    (resolution, split sizes, data version, judge facts, ``unavailable`` {metric: reason}).
    ``test_predictions``: ``test/<method>_<direction>/<name>.png`` for the model and the two
    fitted baselines, ``test/model_cycle_<direction>/<name>.png`` for the reconstructions.

    Raises ValueError for a checkpoint of another family or network, a generator or judge
    trained on other data (unless ``allow_stale``), or test pictures of another size than the
    generator was trained at.
    """
    from gan_pipelines.families.paired.evaluation import check_trained_on
    from gan_pipelines.families.unpaired.baselines import baseline_translators
    from gan_pipelines.families.unpaired.bundles import check_family, generators_from_bundle
    from gan_pipelines.families.unpaired.evaluation import evaluate_translations, load_test_domains, load_train_domains
    from gan_pipelines.families.unpaired.inference import translate as run_generator
    from gan_pipelines.families.unpaired.judge import judge_from_bundle
    from gan_pipelines.families.unpaired.layout import DIRECTIONS, DOMAINS, SPLITS, check_namespace, direction_domains
    from gan_pipelines.image_folders import folder_version, image_key, sample_names
    from gan_pipelines.library_versions import library_versions
    from gan_pipelines.training.device import select_device

    check_namespace(family)
    section = f"{family}.evaluate"
    settings = EvaluateParams.parse(params, section)
    ingest_summary = dict(ingest_summary or {})
    check_family(generator_checkpoint, family, "generator")
    check_family(judge_checkpoint, family, "judge")
    same_data = {
        "generator": check_trained_on(model_input, generator_checkpoint, f"{family} generator",
                                      allow_stale=settings.allow_stale, section=section),
        "judge": check_trained_on(model_input, judge_checkpoint, f"{family} judge",
                                  allow_stale=settings.allow_stale, section=section),
    }
    device = select_device(settings.device, setting=f"{section}.device")
    generators, model_config = generators_from_bundle(generator_checkpoint, family)
    test = load_test_domains(model_input)
    resolution = int(test["A"].images.shape[1])
    trained_at = int(model_config.get("resolution", resolution))
    if trained_at != resolution or test["A"].images.shape[1] != test["A"].images.shape[2]:
        raise ValueError(f"{section}: the generator was trained at {trained_at} px but the test pictures are "
                         f"{test['A'].images.shape[1]}x{test['A'].images.shape[2]}; re-run {family}.train on this "
                         "model input")

    def translate(direction: str, images: np.ndarray) -> np.ndarray:
        return run_generator(generators[direction], images, device=device, batch_size=settings.batch_size)

    def reconstruct(direction: str, translated: np.ndarray) -> np.ndarray:  # back with the other generator
        return translate("b2a" if direction == "a2b" else "a2b", translated)

    baselines, baseline_meta = baseline_translators(load_train_domains(model_input), seed=settings.seed)
    judge = judge_from_bundle(judge_checkpoint, batch_size=settings.batch_size, device=device)
    result = evaluate_translations(
        test, translate, judge, baselines=baselines, reconstruct=reconstruct,
        min_classifier_accuracy=settings.min_classifier_accuracy, bootstrap_resamples=settings.bootstrap_resamples,
        seed=settings.seed, inception_weights_path=settings.inception_weights_path, batch_size=settings.batch_size,
    )

    predictions: dict[str, np.ndarray] = {}
    for direction in DIRECTIONS:
        names = test[direction_domains(direction)[0]].names
        for method in PREDICTED_METHODS:
            for name, image in zip(names, result.outputs[method].get(direction, [])):
                predictions[image_key("test", f"{method}_{direction}", name)] = image
        for name, image in zip(names, result.reconstructions.get("model", {}).get(direction, [])):
            predictions[image_key("test", f"model_cycle_{direction}", name)] = image

    meta = dict(result.meta)
    meta["unavailable"] = {**dict(ingest_summary.get("unavailable") or {}), **meta["unavailable"]}
    generator_meta = generator_checkpoint.get("meta") or {}
    meta.update({
        "family": family,
        "resolution": resolution,  # px, square (checked above against the generator's)
        "split_sizes": {split: {d: len(sample_names(model_input, split, d)) for d in DOMAINS} for split in SPLITS},
        "data": {"source": ingest_summary.get("source"), "pair": ingest_summary.get("pair"),
                 "domains": ingest_summary.get("domains"), "test_pairs": ingest_summary.get("test_pairs"),
                 "model_input_version": folder_version(model_input) or "unversioned"},
        "baselines": baseline_meta,
        "generator": {"trained_at": generator_meta.get("trained_at"), "precision": generator_meta.get("precision"),
                      "device": generator_meta.get("device"), "model": model_config.get("model"),
                      "generator": model_config.get("generator")},
        "trained_on_this_data": same_data,
        "device": str(device),
        "versions": library_versions(),
    })
    style_dim = model_config.get("style_dim")
    per_image = result.per_image
    if style_dim:
        # MUNIT: the scores above use the prior's mean style (zeros); beside them, example-guided
        # ones with the style code of each hidden target picture.
        example = _example_guided(test, generators, run_generator, judge, settings, device)
        per_image = pd.concat([per_image, example.per_image.assign(method="model_example")], ignore_index=True)
        _add_example_scores(result.metrics["model"], meta, example)
        predictions.update(_example_pictures(example))
    if model_config.get("model") == "ugatit":  # where the generators attend, for the report
        predictions.update(_attention_pictures(test, generators, device, settings.batch_size))
    if settings.diversity_samples:
        from gan_pipelines.families.unpaired.evaluation import translation_diversity
        from gan_pipelines.families.unpaired.inference import sample_translations

        def sample(direction: str, images: np.ndarray, count: int) -> np.ndarray:
            return sample_translations(generators[direction], images, count, style_dim=style_dim,
                                       seed=settings.style_seed, device=device, batch_size=settings.batch_size)

        diversity, meta["diversity"], missing = translation_diversity(
            test, sample, judge, samples=settings.diversity_samples, bootstrap_resamples=settings.bootstrap_resamples,
            seed=settings.seed)
        for method, values in diversity.items():
            result.metrics[method].update(values)
        meta["unavailable"].update(missing)
        meta["diversity"]["style_codes"] = (f"numpy default_rng([{settings.style_seed}, picture index]), N(0, I)"
                                            if style_dim else "none: a deterministic generator, run once per sample")
    else:
        meta["unavailable"]["diversity"] = "diversity_samples is 0 (off)"
    metrics = {**result.metrics, "meta": meta}
    logger.info("%s: %s", section, {m: {k: v for k, v in values.items() if not k.endswith("_ci95")}
                                    for m, values in result.metrics.items()})
    return per_image, metrics, predictions


def _example_guided(test, generators, run_generator, judge, settings, device):
    """The protocol on the hidden pairs only, each source picture translated with the style code
    of its hidden target (MUNIT's example-guided use); no baselines."""
    from gan_pipelines.families.unpaired.evaluation import DomainPictures, evaluate_translations
    from gan_pipelines.families.unpaired.inference import style_codes
    from gan_pipelines.families.unpaired.layout import DIRECTIONS, direction_domains

    paired = sorted(set(test["A"].names) & set(test["B"].names))
    subset = {domain: _only(test[domain], paired) for domain in test}
    styles = {}
    for direction in DIRECTIONS:
        target = subset[direction_domains(direction)[1]]
        styles[direction] = style_codes(generators[direction], target.images, device=device,
                                        batch_size=settings.batch_size)

    def translate(direction: str, images: np.ndarray) -> np.ndarray:
        return run_generator(generators[direction], images, device=device, batch_size=settings.batch_size,
                             style=styles[direction])

    return evaluate_translations(
        subset, translate, judge, baselines={}, min_classifier_accuracy=settings.min_classifier_accuracy,
        bootstrap_resamples=settings.bootstrap_resamples, seed=settings.seed,
        inception_weights_path=settings.inception_weights_path, batch_size=settings.batch_size,
    )


def _add_example_scores(model_metrics: dict[str, Any], meta: dict[str, Any], example) -> None:
    """The example-guided protocol's :data:`EXAMPLE_METRICS` into the model's metrics as
    ``<metric>_<direction>_example`` (and ``_ci95``), a null's reason into ``meta.unavailable``."""
    reasons = example.meta["unavailable"]
    for key, value in example.metrics["model"].items():
        stem, ci = (key[:-5], "_ci95") if key.endswith("_ci95") else (key, "")
        if not stem.startswith(EXAMPLE_METRICS):
            continue
        model_metrics[f"{stem}_example{ci}"] = value
        why = reasons.get(stem) or reasons.get(f"model.{stem}")
        if value is None and why and not ci:
            meta["unavailable"][f"model.{stem}_example"] = why
    meta["example_guided"] = ("metrics *_example: each test picture translated with the style code of its hidden "
                              "target (the same scene in the target domain), over the hidden pairs only")


def _example_pictures(example) -> dict[str, np.ndarray]:
    """``test/model_example_<direction>/<name>.png``: the example-guided translations."""
    from gan_pipelines.families.unpaired.layout import DIRECTIONS
    from gan_pipelines.image_folders import image_key

    pictures = {}
    for direction in DIRECTIONS:
        rows = example.per_image[example.per_image["direction"] == direction]
        for name, image in zip(rows["name"], example.outputs["model"].get(direction, [])):
            pictures[image_key("test", f"model_example_{direction}", name)] = image
    return pictures


def _attention_pictures(test, generators, device, batch_size: int) -> dict[str, np.ndarray]:
    """``test/model_attention_<direction>/<name>.png``: U-GAT-IT's attention heatmap of each test
    source picture, grey (bright: attended), for the report."""
    from gan_pipelines.families.unpaired.inference import attention_maps
    from gan_pipelines.families.unpaired.layout import DIRECTIONS, direction_domains
    from gan_pipelines.image_folders import image_key

    pictures = {}
    for direction in DIRECTIONS:
        source = test[direction_domains(direction)[0]]
        if not len(source.images):
            continue
        heat = attention_maps(generators[direction], source.images, device=device, batch_size=batch_size)
        for name, grey in zip(source.names, heat):
            pictures[image_key("test", f"model_attention_{direction}", name)] = np.repeat(grey[..., None], 3, axis=-1)
    return pictures


def _only(pictures, names):
    """``pictures`` (a DomainPictures) restricted to ``names``, in that order."""
    from dataclasses import replace

    index = [pictures.names.index(name) for name in names]
    fields = {"names": list(names), "images": pictures.images[index]}
    if getattr(pictures, "labels", None) is not None:
        fields["labels"] = pictures.labels[index]
    return replace(pictures, **fields)
