"""unpaired_compare: CycleGAN, U-GAT-IT and MUNIT on ONE test split with ONE judge, beside the
baselines, in one table and one picture grid.

The reference is the ``cyclegan`` namespace: its model input (test split) and its judge (domain
classifier and segmenters). The three models were trained by their own namespaces on the same
default two-domain data; a model trained on other data (its recorded content hash differs from
the reference model input's) is refused unless ``allow_stale`` (then recorded). A model not trained
yet is listed with the command that trains it, not scored.

Per model (:func:`~gan_pipelines.families.unpaired.evaluation.evaluate_translations` and
:func:`~gan_pipelines.families.unpaired.evaluation.translation_diversity`, both directions):
hidden-pair L1/SSIM, target-domain rate, content kept, the project's KID, diversity (MUNIT:
random style codes; the others are deterministic and measure 0), each with its 95% bootstrap
interval; training time, training img/s and generator parameters from the checkpoint. MUNIT is
scored with the prior's mean style code (zeros), as in its own evaluate. Between models, the
paired differences of hidden-pair L1 over the same test pictures, with their intervals
(``meta.paired_differences``): the marginal intervals of two models overlap more often than
their difference's interval holds zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.unpaired.config import UnpairedCompareParams

logger = logging.getLogger(__name__)

REFERENCE = "cyclegan"  # whose model input and judge the comparison uses
COMPARED = ("cyclegan", "ugatit", "munit")
BASELINES = ("identity", "colour_transfer", "histogram_matching")
TABLE_METRICS = ("hidden_l1", "hidden_ssim", "target_rate", "content_miou", "kid", "diversity")


def compare_unpaired_models(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    judge_checkpoint: Mapping[str, Any],
    params: UnpairedCompareParams,
    **generator_checkpoints: Any,
) -> tuple[dict[str, Any], str, str]:
    """Return ``(metrics, report_html, report_markdown)``.

    ``generator_checkpoints``: ``<namespace>=`` a lazy checkpoint (``exists()`` / ``load()``) or a
    loaded bundle, for :data:`COMPARED`. ``metrics``: one entry per trained model (``cyclegan``,
    ``ugatit``, ``munit``), per baseline and ``real``, each a flat map ``<metric>_<direction>``
    (and ``_ci95``) plus, for the models, ``train_seconds``, ``train_images_per_second``,
    ``train_epochs``, ``generator_parameters``; ``meta``: the reference, data version,
    ``not_trained``, ``paired_differences``, ``unavailable`` reasons. Raises ValueError when no
    model is trained, or one was trained at another resolution or (without ``allow_stale``) on
    other data than the reference test split.
    """
    from gan_pipelines.families.paired.evaluation import check_trained_on
    from gan_pipelines.families.unpaired.baselines import baseline_translators
    from gan_pipelines.families.unpaired.bundles import generators_from_bundle
    from gan_pipelines.families.unpaired.evaluation import (
        evaluate_translations, load_test_domains, load_train_domains, translation_diversity,
    )
    from gan_pipelines.families.unpaired.inference import sample_translations, translate as run_generator
    from gan_pipelines.families.unpaired.judge import judge_from_bundle
    from gan_pipelines.families.unpaired.layout import DOMAINS
    from gan_pipelines.image_folders import folder_version
    from gan_pipelines.training.device import select_device

    section = "unpaired_compare"
    settings = UnpairedCompareParams.parse(params, section)
    device = select_device(settings.device, setting=f"{section}.device")
    judge_on_this_data = check_trained_on(model_input, judge_checkpoint, f"{REFERENCE} judge",
                                          allow_stale=settings.allow_stale, section=section)
    bundles, not_trained = {}, {}
    for name in COMPARED:
        checkpoint = generator_checkpoints.get(name)
        if checkpoint is None or (hasattr(checkpoint, "exists") and not checkpoint.exists()):
            not_trained[name] = f"no {name}.generator_checkpoint yet: run `kedro run --pipeline {name}`"
            continue
        bundles[name] = checkpoint.load() if hasattr(checkpoint, "load") else checkpoint
    if not bundles:
        raise ValueError(f"{section}: no unpaired model is trained yet; run e.g. `kedro run --pipeline {REFERENCE}` "
                         f"({', '.join(COMPARED)} are compared)")

    test = load_test_domains(model_input)
    resolution = int(test["A"].images.shape[1])
    baselines, baseline_meta = baseline_translators(load_train_domains(model_input), seed=settings.seed)
    judge = judge_from_bundle(judge_checkpoint, batch_size=settings.batch_size, device=device)
    common = dict(min_classifier_accuracy=settings.min_classifier_accuracy,
                  bootstrap_resamples=settings.bootstrap_resamples, seed=settings.seed, batch_size=settings.batch_size)

    metrics: dict[str, dict[str, Any]] = {}
    per_image, outputs, unavailable, models_meta = [], {}, {}, {}
    for index, (name, bundle) in enumerate(bundles.items()):
        same_data = check_trained_on(model_input, bundle, f"{name} generator", allow_stale=settings.allow_stale,
                                     section=section)
        generators, model_config = generators_from_bundle(bundle, name)
        trained_at = int(model_config.get("resolution", resolution))
        if trained_at != resolution:
            raise ValueError(f"{section}: {name}'s generators were trained at {trained_at} px but the {REFERENCE} test "
                             f"split is {resolution} px; retrain one of them at the other size")
        style_dim = model_config.get("style_dim")

        def translate(direction: str, images: np.ndarray, generators=generators) -> np.ndarray:
            return run_generator(generators[direction], images, device=device, batch_size=settings.batch_size)

        def sample(direction: str, images: np.ndarray, count: int, generators=generators, style_dim=style_dim):
            return sample_translations(generators[direction], images, count, style_dim=style_dim,
                                       seed=settings.style_seed, device=device, batch_size=settings.batch_size)

        # the baselines and the real pictures once, with the first model
        result = evaluate_translations(test, translate, judge, baselines=baselines if index == 0 else {}, **common)
        for method, values in result.metrics.items():
            metrics[name if method == "model" else method] = values
        frame = result.per_image
        per_image.append(frame.assign(method=frame["method"].replace({"model": name})))
        outputs.update({name: result.outputs["model"]} | ({b: result.outputs[b] for b in BASELINES if b in result.outputs}
                                                          if index == 0 else {}))
        unavailable.update({key.replace("model.", f"{name}."): why for key, why in result.meta["unavailable"].items()})
        diversity, diversity_meta, missing = translation_diversity(
            test, sample, judge, samples=settings.diversity_samples, bootstrap_resamples=settings.bootstrap_resamples,
            seed=settings.seed)
        metrics[name].update(diversity["model"])
        metrics.setdefault("real", {}).update(diversity["real"])
        unavailable.update({key.replace("model.", f"{name}."): why for key, why in missing.items()})
        metrics[name].update(_training_figures(bundle))
        models_meta[name] = {"model": model_config.get("model"), "generator": model_config.get("generator"),
                             "trained_at": (bundle.get("meta") or {}).get("trained_at"),
                             "precision": (bundle.get("meta") or {}).get("precision"),
                             "trained_on_this_data": same_data,
                             "style_codes": ("the prior's mean (zeros) for every score but diversity" if style_dim
                                             else "none (deterministic)")}
        logger.info("%s: %s scored", section, name)

    per = pd.concat(per_image, ignore_index=True)
    meta = {
        "reference": f"{REFERENCE}'s test split and judge",
        "resolution": resolution,
        "data_version": folder_version(model_input) or "unversioned",
        "test_counts": {d: len(test[d].names) for d in DOMAINS},
        "judge_trained_at": (judge_checkpoint.get("meta") or {}).get("trained_at"),
        "judge_trained_on_this_data": judge_on_this_data,
        "not_trained": not_trained,
        "models": models_meta,
        "baselines": baseline_meta,
        "diversity": diversity_meta,
        "paired_differences": paired_differences(per, list(bundles), settings.bootstrap_resamples, settings.seed),
        "unavailable": unavailable,
        "device": str(device),
    }
    metrics["meta"] = meta
    html_page, markdown = _report(metrics, test, outputs, list(bundles), settings)
    return metrics, html_page, markdown


def _training_figures(bundle: Mapping[str, Any]) -> dict[str, float | int | None]:
    """Training time (s), median training img/s, epochs, and the parameters of the two
    generators together (every tensor of their state dicts)."""
    history = pd.DataFrame(bundle.get("history") or {})
    seconds = float(history["seconds"].sum()) if "seconds" in history else None
    speed = float(history["images_per_second"].median()) if "images_per_second" in history else None
    parameters = sum(int(np.prod(tuple(t.shape))) for state in bundle["state_dicts"].values() for t in state.values())
    return {"train_seconds": seconds, "train_images_per_second": speed, "train_epochs": int(len(history)),
            "generator_parameters": parameters}


def paired_differences(per_image: pd.DataFrame, models: list[str], resamples: int, seed: int,
                       metric: str = "hidden_l1") -> dict[str, dict[str, Any]]:
    """``{"<metric>_<dir>": {"<b> - <a>": {"mean": d, "ci95": [low, high], "n": n}}}`` for every
    pair of ``models`` (a before b in the list): the mean over the same hidden pairs of b's
    per-image ``metric`` minus a's, with its percentile bootstrap 95% interval over the pictures
    (:func:`gan_pipelines.metrics.intervals.bootstrap_interval`). An interval that holds 0 says
    the two models are not told apart on this test split."""
    from gan_pipelines.metrics.intervals import bootstrap_interval

    out: dict[str, dict[str, Any]] = {}
    for direction, rows in per_image.groupby("direction"):
        table = rows.pivot_table(index="name", columns="method", values=metric)
        entries = {}
        for i, first in enumerate(models):
            for second in models[i + 1:]:
                if first not in table or second not in table:
                    continue
                diff = (table[second] - table[first]).dropna().to_numpy(np.float64)
                if len(diff) < 2:
                    continue
                (low, high), = bootstrap_interval(len(diff), lambda idx, d=diff: [d[idx].mean()],
                                                  n_resamples=resamples, seed=seed)
                entries[f"{second} - {first}"] = {"mean": float(diff.mean()), "ci95": [low, high], "n": int(len(diff))}
        out[f"{metric}_{direction}"] = entries
    return out


def _cell(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    if value is None:
        return "n/a"
    text = f"{value:.4g}"
    interval = values.get(f"{key}_ci95")
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and None not in interval:
        text += f" [{interval[0]:.3g}, {interval[1]:.3g}]"
    return text


def comparison_table(metrics: Mapping[str, Any], models: list[str]) -> pd.DataFrame:
    """Rows = metric per direction (and the training figures), columns = the models, the
    baselines and ``real``; cells ``value [low, high]``."""
    columns = [m for m in [*models, *BASELINES, "real"] if isinstance(metrics.get(m), Mapping)]
    rows = {}
    for base in TABLE_METRICS:
        for direction in ("a2b", "b2a"):
            key = f"{base}_{direction}"
            rows[key] = {m: _cell(metrics[m], key) if key in metrics[m] else "" for m in columns}
    for key in ("train_seconds", "train_images_per_second", "train_epochs", "generator_parameters"):
        rows[key] = {m: (_cell(metrics[m], key) if key in metrics[m] else "") for m in columns}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    frame.index.name = "metric"
    return frame


def _report(metrics, test, outputs, models, settings) -> tuple[str, str]:
    from gan_pipelines.reporting.html_report import (
        html_table, image_grid_figure, image_tag, markdown_table, png_data_uri, render_html,
    )

    table = comparison_table(metrics, models)
    meta = metrics["meta"]
    differences = [(metric, pair, entry) for metric, entries in meta["paired_differences"].items()
                   for pair, entry in entries.items()]
    diff_frame = pd.DataFrame([{"metric": m, "difference": p, "mean": f"{e['mean']:.4g}",
                                "ci95": f"[{e['ci95'][0]:.3g}, {e['ci95'][1]:.3g}]",
                                "verdict": "no difference shown" if e["ci95"][0] <= 0 <= e["ci95"][1]
                                else f"{p.split(' - ')[0]} {'lower' if e['ci95'][1] < 0 else 'higher'}"}
                               for m, p, e in differences])
    if not diff_frame.empty:  # the metric as the row label (the tables print the index)
        diff_frame = diff_frame.set_index("metric")
    sections = [("Test metrics (one judge, one test split)", html_table(table) + (
        "<p class='note'>Value [95% bootstrap interval]. hidden_l1 lower is better; target_rate, content_miou, "
        "hidden_ssim higher; kid lower (the domain classifier's feature space, the project's own measure); "
        "diversity: mean feature distance between outputs of one picture (real: between different real "
        "pictures, the scale). MUNIT is scored with the prior's mean style code.</p>"))]
    if not diff_frame.empty:
        sections.append(("Paired differences of hidden-pair L1", html_table(diff_frame) + (
            "<p class='note'>Difference = the model named first minus the one named second (per picture, over the "
            "same hidden pairs; lower L1 is better); an interval holding 0 does not tell the two apart.</p>")))
    shared = sorted(set(test["A"].names) & set(test["B"].names))[: settings.num_examples]
    for direction, (src, tgt) in {"a2b": ("A", "B"), "b2a": ("B", "A")}.items():
        if not shared:
            break
        index = {name: i for i, name in enumerate(test[src].names)}
        target_index = {name: i for i, name in enumerate(test[tgt].names)}
        methods = [m for m in [*models, "colour_transfer"] if direction in outputs.get(m, {})]
        rows = [[test[src].images[index[n]], *[outputs[m][direction][index[n]] for m in methods],
                 test[tgt].images[target_index[n]]] for n in shared]
        figure = image_grid_figure(rows, ["source", *methods, "hidden target"], shared)
        sections.append((f"Pictures {direction}", image_tag(png_data_uri(figure), f"grid {direction}")))
    not_trained = meta["not_trained"]
    if not_trained:
        sections.append(("Not trained yet", "<ul>" + "".join(f"<li>{k}: {v}</li>" for k, v in not_trained.items())
                         + "</ul>"))
    page = render_html("Unpaired models compared", sections)
    markdown = "\n".join(["# Unpaired models compared", "", markdown_table(table.fillna("")), "",
                          *([markdown_table(diff_frame), ""] if not diff_frame.empty else []),
                          *[f"- not trained: {k}: {v}" for k, v in not_trained.items()], ""])
    return page, markdown
