"""Offline evaluation protocol of the unpaired families (model-agnostic: CycleGAN now, U-GAT-IT
and MUNIT later): any ``translate(direction, images) -> images`` (uint8 ``(N, H, W, 3)`` in and
out, ``direction`` ``a2b`` or ``b2a``) scored on the test split, in both directions, beside the
baselines and the real pictures of the target domain.

:func:`evaluate_translations` scores each method (``model``, the baselines ``identity``,
``colour_transfer``, ``histogram_matching`` of :mod:`~gan_pipelines.families.unpaired.baselines`)
and ``real`` (the real test pictures of the target domain, where a metric applies to them).
Metric names carry the direction, ``<metric>_a2b`` / ``<metric>_b2a``:

* ``hidden_l1`` (mean absolute difference on the 0..1 scale), ``hidden_psnr`` (dB, capped at
  100) and ``hidden_ssim`` (Gaussian window), from :mod:`gan_pipelines.metrics.image_quality`:
  each translated picture against the same scene in the target domain, over the *hidden pairs*
  only (the test names that hold both an A and a B picture; models never see them paired),
  means over pairs;
* ``target_rate``: the share of translated pictures that the domain classifier (see
  :mod:`~gan_pipelines.families.unpaired.judge`) calls the target domain (higher probability).
  VOID (null, the reason in ``meta.unavailable``) for every method when the classifier's
  accuracy on the real test pictures is below ``min_classifier_accuracy``: a classifier that
  errs on real pictures says nothing about translated ones. The accuracy is balanced over the
  two domains (the mean of the per-domain accuracies; the plain accuracy when the domains have
  as many test pictures), so a classifier that calls everything B cannot pass on a test set of
  mostly B;
* ``content_miou``: the FCN-score idea (pix2pix, CycleGAN): the target domain's segmenter, trained
  on that domain's real train pictures, segments the translated picture, scored against the
  SOURCE scene's class map (mIoU of the confusion matrices summed over the test pictures,
  :mod:`gan_pipelines.metrics.segmentation`). Into a colour-coded label domain the translated
  label picture is decoded (nearest label colour) instead. A colour-coded source domain without
  its own class maps is decoded for the reference. Null with the reason where there are no
  class maps. For ``real``: the segmenter on the real target pictures against their own class
  maps (the ceiling the translations are measured against);
* ``kid``: KID in the domain classifier's feature space (its pooled last-layer features):
  unbiased polynomial-kernel MMD^2 (:func:`gan_pipelines.metrics.distribution.kernel_distance`)
  between the translated pictures and the real test pictures of the target domain. The
  project's own measure: comparable between methods scored with the same judge on the same test
  split, NOT with published KID. The estimator pairs the sets row by row, so the larger set is
  cut to the smaller's size by a seeded draw without replacement (``meta.kid``);
* ``fid_inception`` / ``kid_inception``: standard FID/KID on Inception pool3 features, only when
  the weights are found locally (:func:`gan_pipelines.models.pretrained.find_inception_weights`),
  else null with the reason; nothing is downloaded;
* ``cycle_l1``: the mean absolute difference (0..1 scale) between each source picture and its
  reconstruction ``reconstruct(direction, translated)`` (back into the source domain), for the
  methods given a ``reconstruct``; null with the reason for the others.

Beside each value, ``<name>_ci95``: its percentile bootstrap 95% interval over the test pictures
(:func:`gan_pipelines.metrics.intervals.bootstrap_interval`; ``bootstrap_resamples`` resamples,
``seed``), the pooled mIoU recomputed from each resample's summed confusion matrices. KID gets
no interval: a resample repeats pictures, and repeated rows count as distinct pairs in the
unbiased estimator, which biases it; ``kid_*_ci95`` is null with that reason.

Everything comes back as plain floats or None (never 0 for "not computed"), with the reasons in
``meta["unavailable"]``: ``"<metric>"`` when it holds for every method, ``"<method>.<metric>"``
when for one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from gan_pipelines.families.unpaired.layout import DIRECTIONS, DOMAINS, direction_domains, labels_kind
from gan_pipelines.metrics.image_quality import psnr, ssim_map

logger = logging.getLogger(__name__)

REAL = "real"
MODEL = "model"
Translate = Callable[[str, np.ndarray], np.ndarray]
FeatureFunction = Callable[[np.ndarray], np.ndarray]  # uint8 (N, H, W, 3) -> (N, D)
HIDDEN_METRICS = ("hidden_l1", "hidden_psnr", "hidden_ssim")
# Every metric of a method per direction, in the order the metrics JSON lists them.
METRICS = (*HIDDEN_METRICS, "target_rate", "content_miou", "kid", "fid_inception", "kid_inception", "cycle_l1")
NO_INTERVAL = ("kid", "fid_inception", "kid_inception")
PER_IMAGE_COLUMNS = ("name", "direction", "method", "hidden_l1", "hidden_psnr", "hidden_ssim", "target_prob",
                     "content_miou", "cycle_l1")
KID_NO_INTERVAL = ("a bootstrap resample repeats pictures, and repeated rows count as distinct pairs in the unbiased "
                   "KID estimator, which biases it: no interval")


@dataclass(frozen=True)
class DomainPictures:
    """One domain's test pictures: sorted ``names``, ``images`` uint8 ``(N, H, W, 3)`` and
    ``labels`` int64 ``(N, H, W)`` class maps or None."""

    names: list[str]
    images: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"test pictures must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        if len(self.names) != len(images) or len(set(self.names)) != len(self.names):
            raise ValueError(f"need one distinct name per picture; got {len(self.names)} names for {len(images)} pictures")
        if self.labels is not None and np.shape(self.labels) != images.shape[:3]:
            raise ValueError(f"class maps must be (N, H, W) = {images.shape[:3]}, got {np.shape(self.labels)}")


class UnpairedEvaluation(NamedTuple):
    """What :func:`evaluate_translations` returns."""

    metrics: dict[str, dict[str, Any]]  # method -> flat {metric name: float | None | [low, high]}
    per_image: pd.DataFrame  # PER_IMAGE_COLUMNS, one row per (method, direction, source picture)
    meta: dict[str, Any]
    outputs: dict[str, dict[str, np.ndarray]]  # method -> direction -> uint8 (N, H, W, 3), source-name order
    reconstructions: dict[str, dict[str, np.ndarray]]  # method -> direction -> reconstructed source pictures


def empty_domain(height: int, width: int) -> DomainPictures:
    """A domain without test pictures (e.g. user data without ``testB``)."""
    return DomainPictures([], np.zeros((0, height, width, 3), np.uint8), None)


def load_test_domains(model_input: Mapping[str, Callable[[], np.ndarray]]) -> dict[str, DomainPictures]:
    """The test pictures of both domains of a model-input image folder, with their class maps
    (``test/A_labels``...) when the test split has them. A domain without test pictures comes
    back empty. Raises ValueError when only some pictures of a domain have a class map."""
    from gan_pipelines.image_folders import split_key, stack_split

    kinds_present = {split_key(key)[1] for key in model_input if split_key(key)[0] == "test"}
    domains: dict[str, DomainPictures] = {}
    for domain in DOMAINS:
        label_kind = labels_kind(domain)
        kinds = [domain, label_kind] if label_kind in kinds_present else [domain]
        names, arrays = stack_split(model_input, "test", kinds, anchor_kind=domain, required=False)
        if not names:
            continue
        labels = arrays[label_kind].astype(np.int64) if label_kind in arrays else None
        domains[domain] = DomainPictures(names, arrays[domain], labels)
    if not domains:
        raise ValueError("the model input's test split has no pictures of domain A or B; check ingest/preprocess")
    height, width = next(iter(domains.values())).images.shape[1:3]
    return {domain: domains.get(domain) or empty_domain(height, width) for domain in DOMAINS}


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


def load_train_domains(model_input: Mapping[str, Callable[[], np.ndarray]]) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"A": (names, uint8 (N, H, W, 3)), "B": ...}``: each domain's train pictures, what the
    recolouring baselines are fitted on."""
    from gan_pipelines.image_folders import stack_split

    train = {}
    for domain in DOMAINS:
        names, arrays = stack_split(model_input, "train", [domain], anchor_kind=domain)
        train[domain] = (names, arrays[domain])
    return train


def _plain(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def l1_per_image(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(N,)`` mean absolute differences on the 0..1 scale of two uint8 stacks ``(N, H, W, 3)``."""
    difference = np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)) / 255.0
    return difference.reshape(len(difference), -1).mean(axis=1) if len(difference) else np.zeros(0)


def _checked_output(images: Any, sources: np.ndarray, method: str, what: str = "translation") -> np.ndarray:
    array = np.asarray(images)
    if array.dtype != np.uint8 or array.shape != sources.shape:
        raise ValueError(f"the {what} of {method!r} must be uint8 {sources.shape} like its input pictures, got "
                         f"{array.dtype} {array.shape}")
    return array


def _mean_intervals(columns: Mapping[str, np.ndarray], resamples: int, seed: int) -> dict[str, list[float] | None]:
    """Bootstrap 95% intervals of the means of ``columns`` (same length N >= 2), one resampling
    for all of them; ``None`` where an interval cannot be had."""
    from gan_pipelines.metrics.intervals import bootstrap_interval

    names = list(columns)
    arrays = [np.asarray(columns[name], np.float64) for name in names]
    if not names or len(arrays[0]) < 2:
        return dict.fromkeys(names)
    intervals = bootstrap_interval(len(arrays[0]), lambda idx: [a[idx].mean() for a in arrays],
                                   n_resamples=resamples, seed=seed)
    return {name: (list(pair) if pair[0] is not None else None) for name, pair in zip(names, intervals)}


def _equal_size_kid(features: np.ndarray, reference: np.ndarray, seed: int) -> tuple[float | None, str | None]:
    """KID of two feature sets; the larger one cut to the smaller's size by a seeded draw."""
    from gan_pipelines.metrics.distribution import kernel_distance

    size = min(len(features), len(reference))
    if size < 2:
        return None, f"KID needs at least 2 pictures on each side, got {len(features)} and {len(reference)}"
    rng = np.random.default_rng(seed)
    if len(features) > size:
        features = features[np.sort(rng.choice(len(features), size, replace=False))]
    if len(reference) > size:
        reference = reference[np.sort(rng.choice(len(reference), size, replace=False))]
    return _plain(kernel_distance(features, reference)), None


def _inception_function(weights_path: str | None, injected: FeatureFunction | None, device: Any,
                        batch_size: int) -> tuple[FeatureFunction | None, str]:
    """Inception pool3 features of uint8 pictures (local weights only), or None, and why."""
    if injected is not None:
        return injected, "an injected feature extractor"
    from gan_pipelines.models.pretrained import find_inception_weights

    path, reason = find_inception_weights(weights_path)
    if path is None:
        return None, reason
    import torch

    from gan_pipelines.models.pretrained import load_inception_features

    module = load_inception_features(path).to(device).eval()

    def features(images: np.ndarray) -> np.ndarray:
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device)
                chunks.append(module(batch.permute(0, 3, 1, 2).float().div_(255.0)).double().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 2048))

    return features, reason


def _pairs(source: DomainPictures, target: DomainPictures) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(in source, in target)`` of the hidden pairs (names in both), source order."""
    where = {name: index for index, name in enumerate(target.names)}
    src = [i for i, name in enumerate(source.names) if name in where]
    return np.asarray(src, np.int64), np.asarray([where[source.names[i]] for i in src], np.int64)


def _source_maps(judge, domain: str, pictures: DomainPictures) -> tuple[np.ndarray | None, str | None]:
    """The source pictures' class maps: their own, else decoded colours, else (None, why)."""
    if pictures.labels is not None:
        return pictures.labels, None
    if domain == judge.colour_coded_domain and len(pictures.images):
        return judge.class_maps(domain, pictures.images), None
    return None, f"the test pictures of domain {domain} have no class maps"


# --------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------


def evaluate_translations(
    test: Mapping[str, DomainPictures],
    translate: Translate,
    judge,
    *,
    baselines: Mapping[str, Translate] | None = None,
    reconstruct: Translate | None = None,
    min_classifier_accuracy: float = 0.95,
    bootstrap_resamples: int = 2000,
    seed: int = 0,
    inception_weights_path: str | None = None,
    feature_extractors: Mapping[str, FeatureFunction] | None = None,
    batch_size: int = 16,
) -> UnpairedEvaluation:
    """Score the model's ``translate`` and the ``baselines`` (``{name: translate-like}``;
    default: only :func:`~gan_pipelines.families.unpaired.baselines.identity`) on ``test``
    (``{"A": DomainPictures, "B": ...}``, e.g. :func:`load_test_domains`) with the trained
    ``judge`` (an :class:`~gan_pipelines.families.unpaired.judge.UnpairedJudge`), both
    directions; see the module docstring for the metrics. ``reconstruct(direction, translated)``
    gives the model's cycle reconstructions back into the source domain (``cycle_l1``);
    ``feature_extractors``: ``{"inception": uint8 pictures -> (N, D)}`` replaces the local
    Inception lookup (tests, other networks). Raises ValueError for a method named ``real``,
    a translation of another shape or dtype than its input, or bad settings."""
    from gan_pipelines.families.unpaired.baselines import identity
    from gan_pipelines.families.unpaired.judge import DOMAIN_INDEX

    if not 0 < min_classifier_accuracy <= 1:
        raise ValueError(f"min_classifier_accuracy must be in (0, 1], got {min_classifier_accuracy!r}")
    if isinstance(bootstrap_resamples, bool) or not isinstance(bootstrap_resamples, int) or bootstrap_resamples < 100:
        raise ValueError(f"bootstrap_resamples must be an integer >= 100, got {bootstrap_resamples!r}")
    missing = [d for d in DOMAINS if d not in test]
    if missing:
        raise ValueError(f"test must hold both domains' pictures (empty ones allowed); missing {missing}")
    methods: dict[str, Translate] = {MODEL: translate, **(dict(baselines) if baselines is not None else {"identity": identity})}
    if REAL in methods:
        raise ValueError(f"{REAL!r} is the name of the real target-domain pictures; give the method another name")
    unknown_extractors = sorted(set(feature_extractors or {}) - {"inception"})
    if unknown_extractors:
        raise ValueError(f"unknown feature extractors {unknown_extractors}; known: inception")
    unavailable: dict[str, str] = {}

    # The classifier on the real test pictures decides whether its verdicts count.
    real_probabilities, real_features, accuracies = {}, {}, {}
    for domain in DOMAINS:
        real_probabilities[domain], real_features[domain] = judge.probabilities_and_features(test[domain].images)
        if len(test[domain].images):
            called = real_probabilities[domain].argmax(axis=1)
            accuracies[domain] = float((called == DOMAIN_INDEX[domain]).mean())
    balanced = float(np.mean(list(accuracies.values()))) if accuracies else math.nan
    void_reason = None
    if not accuracies:
        void_reason = "no real test pictures to check the domain classifier on"
    elif balanced < min_classifier_accuracy:
        void_reason = (f"the domain classifier's accuracy on the real test pictures is {balanced:.3f} "
                       f"(balanced over {', '.join(sorted(accuracies))}), below min_classifier_accuracy "
                       f"{min_classifier_accuracy}: its verdicts on translated pictures would mean little")

    inception, inception_source = _inception_function(
        inception_weights_path, (feature_extractors or {}).get("inception"), judge.device, batch_size)
    real_inception = {d: inception(test[d].images) for d in DOMAINS} if inception is not None else {}

    metrics: dict[str, dict[str, Any]] = {name: {} for name in [*methods, REAL]}
    rows: list[pd.DataFrame] = []
    outputs: dict[str, dict[str, np.ndarray]] = {name: {} for name in methods}
    reconstructions: dict[str, dict[str, np.ndarray]] = {MODEL: {}} if reconstruct is not None else {}
    pair_counts: dict[str, int] = {}

    def put(method: str, name: str, value: float | None, interval: list[float] | None = None,
            reason: str | None = None, shared_reason: bool = False) -> None:
        metrics[method][name] = value
        if name.rsplit("_", 1)[0] in NO_INTERVAL:
            metrics[method][f"{name}_ci95"] = None
            if value is not None:
                unavailable[f"{name}_ci95"] = KID_NO_INTERVAL
        else:
            metrics[method][f"{name}_ci95"] = interval if value is not None else None
        if value is None and reason:
            unavailable[name if shared_reason else f"{method}.{name}"] = reason

    for direction in DIRECTIONS:
        src_domain, tgt_domain = direction_domains(direction)
        source, target = test[src_domain], test[tgt_domain]
        tgt_index = DOMAIN_INDEX[tgt_domain]
        pair_src, pair_tgt = _pairs(source, target)
        pair_counts[direction] = int(len(pair_src))
        hidden_reason = None if len(pair_src) else (
            f"no test name holds both an {src_domain} and a {tgt_domain} picture: no hidden pairs")
        source_maps, source_maps_reason = _source_maps(judge, src_domain, source)
        content_reason = None
        if not judge.can_segment(tgt_domain):
            content_reason = (f"domain {tgt_domain}'s train pictures had no class maps: no segmenter to read the content "
                              f"of pictures translated into it")
        elif source_maps is None:
            content_reason = source_maps_reason
        num_classes = judge.num_classes

        def content_scores(pictures: np.ndarray, reference: np.ndarray) -> tuple[float | None, list | None, np.ndarray]:
            from gan_pipelines.metrics.segmentation import (
                class_confusion_matrix, segmentation_score_intervals, segmentation_scores,
            )

            predicted = judge.class_maps(tgt_domain, pictures)
            confusions = np.stack([class_confusion_matrix(p, t, num_classes) for p, t in zip(predicted, reference)])
            pooled = _plain(segmentation_scores(confusions.sum(axis=0))["miou"])
            interval = None
            if len(confusions) >= 2:
                low, high = segmentation_score_intervals(confusions, n_resamples=bootstrap_resamples, seed=seed)["miou"]
                interval = [low, high] if low is not None else None
            per = np.asarray([segmentation_scores(c)["miou"] for c in confusions], np.float64)
            return pooled, interval, per

        no_source = f"no test pictures of domain {src_domain}" if not len(source.images) else None
        for method, function in methods.items():
            suffix = f"_{direction}"
            if no_source:
                for name in METRICS:
                    put(method, name + suffix, None, reason=no_source, shared_reason=True)
                continue
            logger.info("Evaluating %s %s on %d test pictures", method, direction, len(source.images))
            out = _checked_output(function(direction, source.images), source.images, method)
            outputs[method][direction] = out
            per = pd.DataFrame({"name": source.names, "direction": direction, "method": method})
            for name in (*HIDDEN_METRICS, "target_prob", "content_miou", "cycle_l1"):
                per[name] = np.nan

            # hidden pairs
            if hidden_reason is None:
                translated, truth = out[pair_src], target.images[pair_tgt]
                hidden = {
                    "hidden_l1": l1_per_image(translated, truth),
                    "hidden_psnr": np.asarray([psnr(t, o) for t, o in zip(truth, translated)]),
                    "hidden_ssim": np.asarray([float(ssim_map(t, o).mean()) for t, o in zip(truth, translated)]),
                }
                intervals = _mean_intervals(hidden, bootstrap_resamples, seed)
                for name, values in hidden.items():
                    per.loc[pair_src, name] = values
                    put(method, name + suffix, _plain(values.mean()), intervals[name])
            else:
                for name in HIDDEN_METRICS:
                    put(method, name + suffix, None, reason=hidden_reason, shared_reason=True)

            # target-domain rate and the project's KID
            probabilities, features = judge.probabilities_and_features(out)
            per["target_prob"] = probabilities[:, tgt_index]
            if void_reason is None:
                called = (probabilities.argmax(axis=1) == tgt_index).astype(np.float64)
                put(method, "target_rate" + suffix, _plain(called.mean()),
                    _mean_intervals({"rate": called}, bootstrap_resamples, seed)["rate"])
            else:
                put(method, "target_rate" + suffix, None, reason=void_reason, shared_reason=True)
            if len(target.images):
                kid, why = _equal_size_kid(features, real_features[tgt_domain], seed)
                put(method, "kid" + suffix, kid, reason=why, shared_reason=True)
            else:
                put(method, "kid" + suffix, None, reason=f"no real test pictures of domain {tgt_domain}",
                    shared_reason=True)

            # content kept
            if content_reason is None:
                value, interval, per_miou = content_scores(out, source_maps)
                per["content_miou"] = per_miou
                put(method, "content_miou" + suffix, value, interval)
            else:
                put(method, "content_miou" + suffix, None, reason=content_reason, shared_reason=True)

            # standard FID/KID
            for name in ("fid_inception", "kid_inception"):
                if inception is None:
                    put(method, name + suffix, None, reason=inception_source, shared_reason=True)
            if inception is not None:
                from gan_pipelines.metrics.distribution import frechet_distance

                own, reference = inception(out), real_inception[tgt_domain]
                if min(len(own), len(reference)) < 2:
                    why = f"needs at least 2 pictures on each side, got {len(own)} and {len(reference)}"
                    put(method, "fid_inception" + suffix, None, reason=why, shared_reason=True)
                    put(method, "kid_inception" + suffix, None, reason=why, shared_reason=True)
                else:
                    put(method, "fid_inception" + suffix, _plain(frechet_distance(own, reference)))
                    kid, why = _equal_size_kid(own, reference, seed)
                    put(method, "kid_inception" + suffix, kid, reason=why, shared_reason=True)

            # cycle reconstruction
            if method == MODEL and reconstruct is not None:
                back = _checked_output(reconstruct(direction, out), source.images, method, "reconstruction")
                reconstructions[MODEL][direction] = back
                cycle = l1_per_image(back, source.images)
                per["cycle_l1"] = cycle
                put(method, "cycle_l1" + suffix, _plain(cycle.mean()),
                    _mean_intervals({"cycle": cycle}, bootstrap_resamples, seed)["cycle"])
            else:
                why = ("no reconstruction given for the model" if method == MODEL else
                       "a baseline has no learned inverse to reconstruct the source picture with")
                put(method, "cycle_l1" + suffix, None, reason=why)
            rows.append(per)

        # the real target-domain pictures, where a metric applies to them
        suffix = f"_{direction}"
        reference_reason = f"the real {tgt_domain} test pictures are this metric's reference"
        for name in (*HIDDEN_METRICS, "kid", "fid_inception", "kid_inception"):
            put(REAL, name + suffix, None, reason=reference_reason)
        put(REAL, "cycle_l1" + suffix, None, reason="real pictures are not translated")
        if not len(target.images):
            put(REAL, "target_rate" + suffix, None, reason=f"no real test pictures of domain {tgt_domain}")
            put(REAL, "content_miou" + suffix, None, reason=f"no real test pictures of domain {tgt_domain}")
            continue
        per = pd.DataFrame({"name": target.names, "direction": direction, "method": REAL})
        for name in (*HIDDEN_METRICS, "target_prob", "content_miou", "cycle_l1"):
            per[name] = np.nan
        per["target_prob"] = real_probabilities[tgt_domain][:, tgt_index]
        if void_reason is None:
            called = (real_probabilities[tgt_domain].argmax(axis=1) == tgt_index).astype(np.float64)
            put(REAL, "target_rate" + suffix, _plain(called.mean()),
                _mean_intervals({"rate": called}, bootstrap_resamples, seed)["rate"])
        else:
            put(REAL, "target_rate" + suffix, None, reason=void_reason, shared_reason=True)
        if not judge.can_segment(tgt_domain):
            put(REAL, "content_miou" + suffix, None, reason=content_reason)
        elif target.labels is None:
            why = (f"the real {tgt_domain} test pictures have no class maps of their own"
                   + (" (decoding their colours against themselves would score 1 by construction)"
                      if tgt_domain == judge.colour_coded_domain else ""))
            put(REAL, "content_miou" + suffix, None, reason=why)
        else:
            value, interval, per_miou = content_scores(target.images, target.labels)
            per["content_miou"] = per_miou
            put(REAL, "content_miou" + suffix, value, interval)
        rows.append(per)

    for method, values in metrics.items():  # a null without a reason yet: say why
        for key, value in values.items():
            if value is not None or key in unavailable or f"{method}.{key}" in unavailable:
                continue
            if not key.endswith("_ci95"):
                unavailable[f"{method}.{key}"] = "not a finite number"
            elif values.get(key.removesuffix("_ci95")) is not None:
                unavailable[f"{method}.{key}"] = ("a bootstrap interval needs at least 2 test pictures (pairs, for "
                                                  "hidden_*) and a finite score in every resample")
    ordered = {}
    for method, values in metrics.items():  # the JSON lists each direction's metrics together
        ordered[method] = {key: values[key] for direction in DIRECTIONS for name in METRICS
                           for key in (f"{name}_{direction}", f"{name}_{direction}_ci95") if key in values}
    per_image = (pd.concat(rows, ignore_index=True)[list(PER_IMAGE_COLUMNS)] if rows
                 else pd.DataFrame(columns=list(PER_IMAGE_COLUMNS)))
    meta = {
        "num_test_pictures": {d: int(len(test[d].images)) for d in DOMAINS},
        "hidden_pairs": pair_counts,
        "resolution": [int(v) for v in next(iter(test.values())).images.shape[1:3]],
        "methods": [*methods, REAL],
        "classifier": {
            "test_accuracy": _plain(balanced) if accuracies else None,
            "test_accuracy_per_domain": accuracies,
            "min_accuracy": float(min_classifier_accuracy),
            "target_rate_void": void_reason,
            "val_accuracy": judge.meta.get("classifier_val_accuracy"),
        },
        "class_maps": {d: judge.how(d) for d in DOMAINS},
        "segmenter_val_miou": judge.meta.get("segmenter_val_miou"),
        "judge": {key: judge.meta.get(key) for key in ("trained_at", "precision", "seed", "data_hash",
                                                       "model_input_version", "family")},
        "inception": inception_source,
        "kid": ("KID in the domain classifier's feature space (its pooled last-layer features): the project's own "
                "measure, comparable between methods scored with the same judge on the same test split, not with "
                "published KID; unbiased polynomial-kernel MMD^2 (can be slightly negative); the larger set cut to "
                f"the smaller's size by numpy default_rng({seed}).choice without replacement"),
        "intervals": (f"<name>_ci95: percentile bootstrap 95% interval over the test pictures ({bootstrap_resamples} "
                      f"resamples, seed {seed}); content_miou pooled from each resample's summed confusion matrices; "
                      f"none for KID/FID ({KID_NO_INTERVAL})"),
        "unavailable": unavailable,
    }
    return UnpairedEvaluation(ordered, per_image, meta, outputs, reconstructions)


# --------------------------------------------------------------------------------------------
# diversity: several outputs per input
# --------------------------------------------------------------------------------------------

Sampler = Callable[[str, np.ndarray, int], np.ndarray]  # (direction, (M, H, W, 3), K) -> (M, K, H, W, 3)
DIVERSITY_SPACE = "the domain classifier's pooled last-layer features (the space of the project's KID)"


def translation_diversity(
    test: Mapping[str, DomainPictures],
    sample: Sampler,
    judge,
    *,
    samples: int,
    bootstrap_resamples: int = 2000,
    seed: int = 0,
    lpips_weights_path: str | None = None,
    lpips: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, str]]:
    """Diversity of a translator, both directions, measured one way for every family
    (:mod:`gan_pipelines.metrics.diversity`): ``sample(direction, sources, K)`` gives ``K``
    outputs per source picture (uint8 ``(M, K, H, W, 3)``: K style codes for MUNIT, the same
    picture K times for a deterministic model, which measures exactly 0).

    Returns ``(metrics, meta, unavailable)``: ``metrics["model"]`` holds ``diversity_<dir>``
    (mean over the source pictures of the mean pairwise Euclidean distance between the
    features of its K outputs, in :data:`DIVERSITY_SPACE`) with ``diversity_<dir>_ci95``
    (percentile bootstrap over the source pictures) and ``diversity_lpips_<dir>`` (LPIPS, only
    when its weights are local, else null with the reason in ``unavailable``);
    ``metrics["real"]["diversity_<dir>"]`` is the scale: the mean feature distance between
    distinct real test pictures of the target domain (different scenes). Raises ValueError for
    ``samples`` < 2 or a sampler output of another shape."""
    from gan_pipelines.metrics.diversity import (
        feature_diversity, lpips_diversity, lpips_distance, real_feature_diversity, sample_features,
    )

    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2 (diversity is a distance between outputs), got {samples!r}")
    metrics: dict[str, dict[str, Any]] = {MODEL: {}, REAL: {}}
    unavailable: dict[str, str] = {}
    reason = "an injected LPIPS function"
    if lpips is None:
        lpips, reason = lpips_distance(lpips_weights_path, device=judge.device)
    for direction in DIRECTIONS:
        src_domain, tgt_domain = direction_domains(direction)
        sources, targets = test[src_domain].images, test[tgt_domain].images
        name = f"diversity_{direction}"
        if not len(sources):
            for key in (name, f"diversity_lpips_{direction}"):
                metrics[MODEL][key], metrics[MODEL][f"{key}_ci95"] = None, None
                unavailable[f"{MODEL}.{key}"] = f"no test pictures of domain {src_domain}"
        else:
            outputs = np.asarray(sample(direction, sources, samples))
            if outputs.shape != (len(sources), samples, *sources.shape[1:]) or outputs.dtype != np.uint8:
                raise ValueError(f"the sampler gave {outputs.dtype} {outputs.shape} for {len(sources)} pictures and "
                                 f"{samples} samples; expected uint8 {(len(sources), samples, *sources.shape[1:])}")
            per = feature_diversity(sample_features(outputs, judge.features))
            metrics[MODEL][name] = _plain(per.mean())
            metrics[MODEL][f"{name}_ci95"] = _mean_intervals({"d": per}, bootstrap_resamples, seed)["d"]
            lpips_key = f"diversity_lpips_{direction}"
            if lpips is None:
                metrics[MODEL][lpips_key], metrics[MODEL][f"{lpips_key}_ci95"] = None, None
                unavailable[f"{MODEL}.{lpips_key}"] = f"LPIPS weights are not local: {reason}"
            else:
                lpips_per, _ = lpips_diversity(outputs, distance=lpips)
                metrics[MODEL][lpips_key] = _plain(lpips_per.mean())
                metrics[MODEL][f"{lpips_key}_ci95"] = _mean_intervals({"d": lpips_per}, bootstrap_resamples, seed)["d"]
        if len(targets) >= 2:
            metrics[REAL][name] = real_feature_diversity(judge.features(targets), seed=seed)
        else:
            metrics[REAL][name] = None
            unavailable[f"{REAL}.{name}"] = f"fewer than 2 real test pictures of domain {tgt_domain}"
        metrics[REAL][f"{name}_ci95"] = None
    meta = {"space": DIVERSITY_SPACE, "samples_per_picture": samples,
            "distance": "mean Euclidean distance over the K (K - 1) / 2 pairs of one picture's outputs",
            "real_scale": "mean feature distance between distinct real test pictures of the target domain",
            "lpips": reason if lpips is not None else None}
    return metrics, meta, unavailable
