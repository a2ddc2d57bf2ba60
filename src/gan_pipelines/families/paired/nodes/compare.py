"""compare_label_to_photo: every trained label map -> photo model, supervised and unsupervised,
side by side on ONE test split under ONE judge.

Each model family evaluates itself on its own data (spade_vae even trains on the
``palette: random_objects`` renders; the unpaired models on two-domain data), so their metric
files are not one table. This node takes the reference family's test split and segmentation
judge (:data:`REFERENCE_FAMILY`: pix2pix's ``per_class`` data), runs every trained generator of
:data:`COMPARED_MODELS` on those same label maps, and scores them all, the two baselines
(class-mean painter, nearest-neighbour retrieval) and the real pictures (the ceiling) with one
protocol (:func:`gan_pipelines.families.paired.evaluation.evaluate_methods`: ``seg_miou`` and
its bootstrap interval ``seg_miou_ci95``, ...).

* supervised (:data:`SUPERVISED`: pix2pix, pix2pixhd, spade, spade_vae): trained on the label map
  -> photo pairs, run on the label maps as in their own evaluation;
* unsupervised (:data:`UNSUPERVISED`: cyclegan, ugatit, munit): the unpaired family trained by the
  namespaces ``<model>_labels`` on its ``labels_photo`` pair, domain A the colour-coded label
  pictures (:data:`gan_pipelines.families.unpaired.synthetic.LABEL_COLOURS`), domain B the photos
  of the paired families' data, each domain from its own half of the train scenes (the pairing
  thrown away). Their input here is each test label map drawn by the very function that drew
  their training pictures (:func:`~gan_pipelines.families.unpaired.synthetic.label_picture`),
  translated A -> B (:func:`~gan_pipelines.families.unpaired.inference.translate`).

Per model it adds: ``supervision`` (``"supervised"`` | ``"unsupervised"``; the baselines, which
are fitted on the train pairs, ``"supervised"``), the ``diversity`` figures (``diversity_samples``
outputs per map, measured in the judge's feature space, ``real.diversity`` the scale; 0 for a
deterministic generator, measured; see :mod:`gan_pipelines.metrics.diversity`), training time
and speed from the checkpoint's own history (``train_seconds``: sum of the epoch times;
``train_images_per_second``: median over epochs), ``generator_parameters`` (what was trained to
draw the photos: the paired generator; both directions' generators of an unpaired model), and
which data version it was trained on. SPADE+VAE takes one z ~ N(0, I) per test map from
``style_seed`` for the scored outputs and MUNIT the prior's mean style code (zeros, as its own
evaluate); both take codes seeded ``[style_seed, map index]`` for the diversity samples. A model that has not been trained is
listed in ``meta.not_trained`` with the command to run, and one that cannot be scored on this
split (instance maps missing, another resolution, labels outside the colour code) in
``meta.refused`` with the reason: never scored as 0.

Parameters (``compare_label_to_photo``): ``batch_size``, ``device`` (auto | cpu | cuda...),
``style_seed``, ``diversity_samples`` (>= 2), ``num_examples`` (rows of the picture grid),
``metrics`` (the evaluation protocol's settings), ``allow_stale``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.config import CompareConfig
from gan_pipelines.families.paired.layout import LABEL_KIND, LABEL_TO_PHOTO, TARGET_KIND
from gan_pipelines.families.unpaired.layout import NAMESPACE_MODELS
from gan_pipelines.image_folders import folder_version, image_key, sample_names
from gan_pipelines.library_versions import library_versions

logger = logging.getLogger(__name__)

SECTION = "compare_label_to_photo"
REFERENCE_FAMILY = "pix2pix"  # whose test split and judge every model is scored on
SUPERVISED = LABEL_TO_PHOTO
# model -> the unpaired namespace that trains it on the labels_photo pair
UNSUPERVISED = {model: namespace for namespace, model in NAMESPACE_MODELS.items() if namespace.endswith("_labels")}
COMPARED_MODELS = (*SUPERVISED, *UNSUPERVISED)
# model -> the namespace whose generator_checkpoint it is
MODEL_NAMESPACES = {**{model: model for model in SUPERVISED}, **UNSUPERVISED}
BASELINES = ("class_mean_painter", "nearest_neighbour")
SUPERVISION_ROW = "supervision"


def _positive_int(params: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{SECTION}.{key} must be an integer >= {minimum}; got {value!r}")
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


def _colour_code_problem(bundle: Mapping[str, Any], labels: np.ndarray) -> str | None:
    """Why an unpaired model's colour-coded inputs cannot be drawn for these test labels, or None:
    a class without a colour in LABEL_COLOURS, or a checkpoint that records another colour code."""
    from gan_pipelines.families.unpaired.synthetic import LABEL_COLOURS

    recorded = (bundle.get("meta") or {}).get("label_colours")
    if recorded is not None and [list(c) for c in recorded] != [list(c) for c in LABEL_COLOURS]:
        return (f"its checkpoint records the label colours {recorded}, not this code's {[list(c) for c in LABEL_COLOURS]}: "
                "its domain A pictures would not be the ones it learned from")
    top = int(labels.max()) if labels.size else 0
    if labels.size and (labels.min() < 0 or top >= len(LABEL_COLOURS)):
        return (f"the test label maps hold class {top} but the labels_photo colour code has {len(LABEL_COLOURS)} "
                "colours (classes 0..5 of the embedded scenes): label maps of other data have no colour-coded picture")
    return None


class _StyledTranslator:
    """An unpaired translator that takes a style code, ``generator(x, style)``, seen as
    ``generator(x)`` by :func:`~gan_pipelines.families.unpaired.inference.translate`: the codes
    ``styles`` (``(N, style_dim)`` float32, one per input picture, in order) are handed out batch
    by batch, as ``(n, style_dim, 1, 1)``. ``eval`` and ``to`` act on the generator; any other
    attribute (e.g. the size factor translate reads) is the generator's. Raises ValueError when
    asked for more outputs than there are codes."""

    def __init__(self, generator: Any, styles: np.ndarray) -> None:
        self._generator = generator
        self._styles = styles
        self._used = 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not set yet: never look it up on the generator
            raise AttributeError(name)
        return getattr(self._generator, name)

    def eval(self) -> _StyledTranslator:
        self._generator.eval()
        return self

    def to(self, *args: Any, **kwargs: Any) -> _StyledTranslator:
        self._generator.to(*args, **kwargs)
        return self

    def __call__(self, x):
        import torch

        codes = self._styles[self._used:self._used + len(x)]
        if len(codes) != len(x):
            raise ValueError(f"{len(self._styles)} style codes for more pictures than that")
        self._used += len(x)
        style = torch.from_numpy(np.ascontiguousarray(codes)).to(device=x.device, dtype=x.dtype)
        return self._generator(x, style.reshape(len(x), -1, 1, 1))


class _Model:
    """One compared model: how to draw its scored outputs and its diversity samples."""

    def __init__(self, name: str, bundle: Mapping[str, Any]) -> None:
        self.name, self.bundle = name, bundle
        self.supervised = name in SUPERVISED
        self.namespace = MODEL_NAMESPACES[name]
        if self.supervised:
            from gan_pipelines.families.paired.bundles import generator_from_bundle

            self.net, self.input_cfg = generator_from_bundle(bundle, name)
            self.style_dim = self.net.z_dim
            self.translator = None
        else:
            from gan_pipelines.families.unpaired.bundles import generators_from_bundle

            generators, self.model_config = generators_from_bundle(bundle, self.namespace)
            self.translator = generators["a2b"]
            # MUNIT: the length of the target domain's style code (None: a deterministic translator)
            self.style_dim = self.model_config.get("style_dim") or getattr(self.translator, "style_dim", None)
            self.net, self.input_cfg = self.translator, {}

    @property
    def resolution(self) -> int | None:
        recorded = (self.bundle.get("meta") or {}).get("resolution") or (self.bundle.get("model_config") or {}).get("resolution")
        return None if recorded is None else int(recorded)

    def run(self, test: Mapping[str, np.ndarray], inputs: np.ndarray | None, styles: np.ndarray | None,
            batch_size: int, device: str, index: slice | None = None, repeat: int = 1) -> np.ndarray:
        """uint8 ``(n, H, W, 3)`` outputs for the test maps ``index`` (all when None), each repeated
        ``repeat`` times, with one style code per output (``styles``) for a style-sampling model."""
        def pick(array: np.ndarray) -> np.ndarray:
            chosen = array if index is None else array[index]
            return np.repeat(chosen, repeat, axis=0) if repeat > 1 else chosen

        if self.supervised:
            from gan_pipelines.families.paired.inference import generate

            instances = pick(test[self.input_cfg["instance_kind"]]) if self.input_cfg.get("instance_kind") else None
            return generate(self.net, self.input_cfg["type"], pick(test[self.input_cfg["kind"]]), instances,
                            batch_size=batch_size, device=device, z=styles)
        from gan_pipelines.families.unpaired.inference import translate

        translator = self.translator if styles is None else _StyledTranslator(self.translator, styles)
        return translate(translator, pick(inputs), device=device, batch_size=batch_size)

    def samples(self, test, inputs, count: int, seed: int, batch_size: int, device: str) -> np.ndarray:
        """uint8 ``(N, count, H, W, 3)``: ``count`` outputs per test map, style codes seeded
        ``[seed, map index]`` for a style-sampling model, else the same input ``count`` times."""
        from gan_pipelines.families.paired.networks import style_codes

        num_maps = len(test[LABEL_KIND])
        return np.stack([
            self.run(test, inputs, None if self.style_dim is None else style_codes(count, self.style_dim, [seed, i]),
                     batch_size, device, slice(i, i + 1), repeat=count)
            for i in range(num_maps)
        ])


def compare_label_to_photo_models(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    judge_checkpoint: Mapping[str, Any],
    params: CompareConfig,
    **generator_checkpoints: Any,
) -> tuple[dict[str, Any], str, str]:
    """Return ``(metrics, report_html, report_markdown)``.

    ``generator_checkpoints``: ``<model>=`` a lazy checkpoint (``exists()`` / ``load()``) or a
    loaded bundle, for the models of :data:`COMPARED_MODELS` (the supervised ones from their own
    namespace, the unsupervised ones from ``<model>_labels``). Instance maps are loaded only when a
    compared model uses them (pix2pixHD's instance boundaries). ``meta.models.<model>.losses`` and
    the table's ``losses in training`` row say which generator losses each supervised model
    trained with, and which perceptual term was off (e.g. VGG19 without local weights).

    Raises:
        ValueError: no model has a trained generator, or every trained one is refused (naming
            each), or the judge was trained on other data (``allow_stale`` false).
    """
    from gan_pipelines.families.paired.baselines import class_mean_painter, nearest_neighbour_retrieval
    from gan_pipelines.families.paired.evaluation import check_trained_on, evaluate_methods, same_content
    from gan_pipelines.families.paired.networks import style_codes
    from gan_pipelines.families.paired.nodes.evaluate import resolve_device, sampling_meta
    from gan_pipelines.families.paired.nodes.report import training_losses
    from gan_pipelines.families.paired.nodes.train import load_split
    from gan_pipelines.families.unpaired.synthetic import label_picture
    from gan_pipelines.models import count_parameters

    params = CompareConfig.parse(params).as_dict()
    batch_size = _positive_int(params, "batch_size", 16, 1)
    style_seed = _positive_int(params, "style_seed", 0, 0)
    diversity_samples = _positive_int(params, "diversity_samples", 8, 2)
    num_examples = _positive_int(params, "num_examples", 6, 1)
    device = resolve_device(params.get("device", "auto"), f"{SECTION}.device")
    allow_stale = params.get("allow_stale", False)
    if not isinstance(allow_stale, bool):
        raise ValueError(f"{SECTION}.allow_stale must be true or false; got {allow_stale!r}")
    judge_on_this_data = check_trained_on(model_input, judge_checkpoint, f"{REFERENCE_FAMILY} segmentation judge",
                                          allow_stale=allow_stale, section=SECTION)

    models: dict[str, _Model] = {}
    not_trained: dict[str, str] = {}
    for name in COMPARED_MODELS:
        checkpoint = generator_checkpoints.get(name)
        namespace = MODEL_NAMESPACES[name]
        if checkpoint is None or (hasattr(checkpoint, "exists") and not checkpoint.exists()):
            not_trained[name] = (f"no {namespace}.generator_checkpoint yet: run `kedro run --pipeline {namespace}` "
                                 f"(or `dvc repro {SECTION}`, which trains every missing model)")
            continue
        models[name] = _Model(name, checkpoint.load() if hasattr(checkpoint, "load") else checkpoint)
    if not models:
        raise ValueError(f"{SECTION}: no label map -> photo model is trained yet; run e.g. "
                         f"`kedro run --pipeline {REFERENCE_FAMILY}` first ({', '.join(COMPARED_MODELS)} are compared)")

    refused = _refuse_missing_instances(model_input, {n: m.input_cfg for n, m in models.items() if m.supervised})
    # instance maps only for the models whose input uses them (pix2pixHD's instance boundaries)
    instance_kinds = sorted({m.input_cfg["instance_kind"] for n, m in models.items()
                             if n not in refused and m.input_cfg.get("instance_kind")})
    names, test = load_split(model_input, "test", [LABEL_KIND, TARGET_KIND, *instance_kinds])
    labels = test[LABEL_KIND].astype(np.int64)
    resolution = int(labels.shape[1])
    for name, model in models.items():
        if name in refused:
            continue
        if model.resolution is not None and model.resolution != resolution:
            refused[name] = (f"its generator was trained at {model.resolution} px but the {REFERENCE_FAMILY} test "
                             f"split is {resolution} px; retrain {model.namespace} at {resolution} px")
        elif not model.supervised:
            problem = _colour_code_problem(model.bundle, labels)
            if problem:
                refused[name] = problem
    for name, why in refused.items():
        logger.warning("%s: %s is not compared: %s", SECTION, name, why)
        del models[name]
    if not models:
        raise ValueError(f"{SECTION}: no model can be compared on the reference test split: "
                         + "; ".join(f"{name}: {why}" for name, why in refused.items()))
    _, train = load_split(model_input, "train", [TARGET_KIND, LABEL_KIND])
    data_version = folder_version(model_input) or "unversioned"
    # the unpaired models' domain A: the colour-coded label pictures, drawn as their training data was
    colour_coded = label_picture(labels) if any(not m.supervised for m in models.values()) else None

    outputs: dict[str, np.ndarray] = {}
    samples: dict[str, Callable[[], np.ndarray]] = {}
    extra: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        # SPADE+VAE: one seeded z per map, as its own evaluate; MUNIT: the prior's mean style code
        # (zeros, the translator's default), as its own evaluate
        codes = None if model.style_dim is None or not model.supervised else style_codes(
            len(names), model.style_dim, style_seed)
        outputs[name] = model.run(test, colour_coded, codes, batch_size, device)
        samples[name] = (lambda m=model: m.samples(test, colour_coded, diversity_samples, style_seed, batch_size,
                                                   device))
        meta = model.bundle.get("meta") or {}
        extra[name] = {
            "supervision": "supervised" if model.supervised else "unsupervised",
            **_training_figures(model.bundle),
            # the network(s) trained to make the pictures: the paired generator; both directions'
            # generators of an unpaired model (every tensor of the checkpoint's state dicts)
            "generator_parameters": (int(count_parameters(model.net)) if model.supervised else
                                     sum(int(t.numel()) for state in model.bundle["state_dicts"].values()
                                         for t in state.values())),
            "_info": {
                "namespace": model.namespace,
                "supervision": "supervised" if model.supervised else "unsupervised",
                "generator_type": (model.bundle["model_config"]["generator"].get("type", "unet") if model.supervised
                                   else model.model_config.get("model")),
                "input": (model.input_cfg.get("kind") if model.supervised
                          else "the test label map drawn in the labels_photo colour code (domain A), translated A -> B"),
                "trained_on_data_version": meta.get("model_input_version"),
                # by content, not by save time: a byte-identical render of the same scenes counts
                # as the same data; None when the checkpoint records no data hash, or (unpaired)
                # when its data (domains A and B) has other kinds than this model input
                "trained_on_this_data": same_content(model_input, model.bundle) if model.supervised else None,
                "vgg19_perceptual": meta.get("vgg19_perceptual"),
                "losses": training_losses(meta) if model.supervised else None,
                "diversity": sampling_meta(model.style_dim is not None, diversity_samples, style_seed, len(names)),
            },
        }

    num_classes = int(judge_checkpoint.get("meta", {}).get("num_classes") or 0)
    ignore_index = judge_checkpoint.get("meta", {}).get("ignore_index")
    train_labels = train[LABEL_KIND].astype(np.int64)
    outputs["class_mean_painter"] = class_mean_painter(train[TARGET_KIND], train_labels, num_classes, ignore_index)(labels)
    outputs["nearest_neighbour"] = nearest_neighbour_retrieval(train[TARGET_KIND], train_labels, ignore_index)(labels)
    metrics, per_image, protocol_meta = evaluate_methods(
        outputs, test[TARGET_KIND], labels, judge_checkpoint, dict(params.get("metrics") or {}),
        samples=samples, section=f"{SECTION}.metrics",
    )
    for name, values in extra.items():
        metrics[name].update({k: v for k, v in values.items() if not k.startswith("_")})
    for baseline in BASELINES:  # fitted on the train pairs
        metrics[baseline]["supervision"] = "supervised"

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
        "models": {name: values["_info"] for name, values in extra.items()},
        "supervision": {"supervised": "trained on the label map -> photo pairs (the baselines: fitted on them)",
                        "unsupervised": "trained on the labels_photo pair as two unpaired domains (colour-coded label "
                                        "pictures, photos), each from its own half of the train scenes"},
        "style_codes": (f"SPADE+VAE: z ~ N(0, I) from numpy default_rng({style_seed}), one per test map; MUNIT: the "
                        "prior's mean style code (zeros), as in its own evaluate; random codes only for diversity"),
        "versions": library_versions(),
    })
    metrics = {**metrics, "meta": meta}
    logger.info("%s on %d test maps of %s: %s", SECTION, len(names), data_version,
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
    # diversity is neither better high nor low for a label map -> photo model: real is its scale
    table.loc[[i for i in table.index if str(i).startswith("diversity")], "better"] = "scale: real"
    losses = {model: info.get("losses") for model, info in metrics["meta"]["models"].items()
              if info.get("supervision") == "supervised"}
    table = with_losses_row(table.drop(index=SUPERVISION_ROW, errors="ignore"), losses)
    supervision = pd.DataFrame([[metrics.get(c, {}).get(SUPERVISION_ROW, "") if c != "better" else ""
                                 for c in table.columns]], index=[SUPERVISION_ROW], columns=table.columns, dtype=object)
    table = pd.concat([supervision, table])
    table.index.name = "metric"
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
             "against these per_class pictures measure a different thing than its segmentation score. The unsupervised "
             "models (cyclegan, ugatit, munit) never saw a label map paired with its photo: they translate the test "
             "label maps drawn in the labels_photo colour code into photos. diversity: mean pairwise distance of "
             "several outputs per map in the judge's features; real's value, between the photos of different scenes, "
             "is its scale.</p>")
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
    markdown = "# Label map -> photo models compared\n\n" + markdown_table(table) + "\n"
    if intervals is not None:
        markdown += "\n## Segmentation scores, bootstrap 95% intervals\n\n" + markdown_table(intervals) + "\n"
    if meta["refused"]:
        markdown += "\nNot compared: " + "; ".join(f"{f}: {why}" for f, why in meta["refused"].items()) + "\n"
    return render_html("Label map -> photo models compared", sections), markdown
