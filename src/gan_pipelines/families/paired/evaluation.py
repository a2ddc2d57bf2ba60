"""Offline evaluation protocol of the paired families: every method's test outputs against the
real test pictures, on one split at one resolution.

:func:`evaluate_methods` scores each method (a model, a baseline) and ``real`` (the test
pictures themselves, the ceiling) with:

* per-pixel, against the target: ``l1`` (mean absolute difference on the 0..1 scale), ``psnr``
  (dB, capped at 100) and ``ssim`` (Gaussian window), means over images, from
  :mod:`gan_pipelines.metrics.image_quality`;
* the segmentation score (FCN-score): the segmentation judge (trained on the real train pictures,
  see ``train_judge``) segments the method's outputs, scored against the input label maps over the
  whole test set: ``seg_pixel_acc``, ``seg_mean_class_acc``, ``seg_miou``
  (:func:`gan_pipelines.metrics.segmentation.segmentation_scores`). Beside each, ``<name>_ci95``:
  ``[low, high]``, its percentile bootstrap 95% interval over the test pictures
  (``bootstrap_resamples`` resamples, seed 0; see :mod:`gan_pipelines.metrics.intervals`), and,
  when the judge checkpoint holds judges of other seeds (``train_judge.spread_seeds``),
  ``<name>_judge_seeds``: the score under the judge and under each of them. The judge always
  runs in fp32; ``meta.judge`` records its ``precision``, ``seed`` and ``data_hash``;
* ``judge_fd`` / ``judge_kid``: Frechet and kernel distances between the judge's pooled encoder
  features of the outputs and of the real test pictures. These are the project's own measures in
  the judge's feature space: comparable between methods evaluated with the same judge checkpoint
  on the same test set, NOT with published FID/KID. ``real`` is the reference set itself, so these
  are null for it;
* ``fid_inception`` / ``kid_inception`` (Inception pool3 features) and ``lpips`` (piq's LPIPS-VGG,
  mean over images) only when their weights are found locally (torch hub cache or a configured
  path); otherwise null, with the reason in ``meta["unavailable"]``. Never 0 for "not computed".
  With torchvision's Inception file instead of pytorch-fid's TF-Inception port, the values are not
  the published FID (``meta["inception"]`` says which);
* for generators that sample styles (SPADE+VAE, Park et al. 2019; MUNIT in the comparison), and
  for comparison any other generator, when the caller gives ``samples`` (``K`` outputs per test
  map; a deterministic generator is simply run ``K`` times), with
  :mod:`gan_pipelines.metrics.diversity`:

  - ``diversity``: per test map, the mean Euclidean distance between the judge's features (the
    pooled encoder features of ``judge_fd`` / ``judge_kid``) of its ``K`` outputs over the
    ``K (K - 1) / 2`` pairs, averaged over the maps. A deterministic generator measures exactly 0.
    ``real.diversity`` is the scale: the mean distance between distinct real test pictures
    (different scenes) in the same features, over all pairs or a seeded sample of
    :data:`~gan_pipelines.metrics.diversity.DEFAULT_MAX_PAIRS`. The project's own measure, in
    the units of this judge's features: comparable between methods scored with the same judge
    on the same test set only. Until 2026-12-07 ``diversity`` was LPIPS when its weights were
    local, else the pixel L1 below: figures from before then are not comparable with it;
  - ``diversity_lpips``: the same mean pairwise distance under LPIPS, only when its weights are
    found locally, else null with the reason in ``meta["unavailable"]["diversity_lpips"]``;
  - ``diversity_l1``: the same under the mean absolute difference on the 0..1 scale (a pixel
    measure kept for continuity: it is what ``diversity`` was before 2026-12-07 without LPIPS
    weights);

  ``meta["diversity"]`` names the feature space and the pairs; ``style_reconstruction_psnr`` /
  ``_ssim`` (:func:`reconstruction_scores`, computed by the evaluate node): each real test
  picture encoded into its style code (the encoder's mean) and decoded with its own label map,
  against that picture;
* with sketches (the model inputs of a sketch colouring family):

  - ``colourfulness_gap``: mean over images of ``C(output) - C(target)``, with Hasler and
    Susstrunk's colourfulness ``C = sqrt(sd(rg)^2 + sd(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)``,
    ``rg = R - G``, ``yb = (R + G) / 2 - B`` on the 0..255 scale. Negative: greyer than the target
    (the grey collapse of an L1-dominated colouriser);
  - ``bleed_rate``: how often colour crosses a sketch line. Line pixels are those whose sketch grey
    value is below ``bleed.line_threshold``. For each line pixel ``p`` and each axis (horizontal,
    vertical) take the two pixels ``a = p - d e`` and ``b = p + d e`` at ``d = bleed.offset`` on
    either side; the crossing counts when both are inside the image, neither is a line pixel, and the
    target's colours there differ, ``|T(a) - T(b)| >= bleed.min_contrast`` (Euclidean RGB, 0..255): a
    line separating two differently coloured regions. At each end of a crossing, the output pixel
    *bleeds* when it is nearer (Euclidean RGB) to the target colour across the line than to its own
    target colour, e.g. ``|O(b) - T(a)| < |O(b) - T(b)|``: it took the other region's colour.
    ``bleed_rate`` = bleeding ends / (2 x crossings), pooled over the test set (0 for the target
    itself; NaN, reported null, when no line separates two colours).

Everything comes back as plain floats; a value that cannot be computed (NaN) is ``None`` and its
reason is in ``meta["unavailable"]["<method>.<metric>"]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from gan_pipelines.metrics.image_quality import psnr, ssim_map
from gan_pipelines.params import check_known_keys

logger = logging.getLogger(__name__)

REAL = "real"
EVALUATE_DEFAULTS: dict[str, Any] = {
    "judge_batch_size": 16,
    "device": "auto",
    "inception_weights_path": None,
    "lpips_weights_path": None,
    "feature_batch_size": 16,
    "bleed": {"line_threshold": 128, "offset": 2, "min_contrast": 30.0},
    "bootstrap_resamples": 2000,
}
PIXEL_METRICS = ("l1", "psnr", "ssim")
JUDGE_DISTANCES = ("judge_fd", "judge_kid")

FeatureFunction = Callable[[np.ndarray], np.ndarray]  # uint8 (N, H, W, 3) -> (N, D)
PairFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]  # two uint8 stacks -> (N,)


def same_content(model_input: Mapping[str, Callable[[], np.ndarray]], checkpoint: Mapping[str, Any]) -> bool | None:
    """Whether a generator ``checkpoint`` learned from this model input's content (its recorded
    ``data_hash`` over ``data_hash_kinds``, see :func:`check_trained_on`); None when it records
    no hash or this model input lacks one of those kinds."""
    from gan_pipelines.image_folders import content_hash

    meta = checkpoint.get("meta") or {}
    recorded, kinds = meta.get("data_hash"), meta.get("data_hash_kinds")
    if not recorded or not kinds:
        return None
    try:
        return content_hash(model_input, list(kinds), ("train", "val")) == recorded
    except ValueError:  # a kind this model input does not have
        return None


def check_trained_on(
    model_input: Mapping[str, Callable[[], np.ndarray]], checkpoint: Mapping[str, Any], what: str, *,
    allow_stale: bool, section: str,
) -> bool:
    """Whether ``checkpoint`` (a generator's or a judge's) learned from this model input's content.

    The checkpoint's recorded ``data_hash`` (a generator's ``meta.data_hash`` over
    ``meta.data_hash_kinds``; a judge's ``meta.judge.data_hash`` over its image and label kinds)
    is compared with :func:`gan_pipelines.image_folders.content_hash` of the same kinds of this
    model input's train and val splits, so a byte-identical re-render counts as the same data.
    Returns True when they match. Otherwise raises ValueError naming ``what``, both hashes and the
    ``allow_stale`` key; with ``allow_stale`` it logs a warning and returns False instead. A
    checkpoint that records no hash (made before hashes were kept) counts as a mismatch.
    """
    from gan_pipelines.image_folders import content_hash

    meta = checkpoint.get("meta") or {}
    if "judge" in meta:
        recorded = (meta.get("judge") or {}).get("data_hash")
        kinds = [meta.get("image_kind"), meta.get("label_kind")]
    else:
        recorded, kinds = meta.get("data_hash"), meta.get("data_hash_kinds")
    if recorded and kinds and all(kinds):
        current = content_hash(model_input, list(kinds), ("train", "val"))
        if current == recorded:
            return True
        problem = (f"the {what} was trained on other data than this model input: {', '.join(kinds)} of train/val "
                   f"hash {current[:16]} here, {recorded[:16]} in the checkpoint")
    else:
        problem = f"the {what} records no hash of its training data (made before hashes were kept), so it cannot be checked"
    if not allow_stale:
        raise ValueError(f"{section}: {problem}. Retrain it on this model input, or set {section}.allow_stale: true "
                         "to score it anyway (the metrics then record it)")
    logger.warning("%s: %s; scoring anyway (allow_stale: true).", section, problem)
    return False


class PairedEvaluation(NamedTuple):
    """What :func:`evaluate_methods` returns (unpacks as ``metrics, per_image, meta``)."""

    metrics: dict[str, dict[str, float | None]]
    per_image: pd.DataFrame
    meta: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Sketch metrics
# --------------------------------------------------------------------------------------------


def colourfulness(image: np.ndarray) -> float:
    """Hasler and Susstrunk's colourfulness of one uint8 RGB image (0 for a grey image)."""
    rgb = np.asarray(image, dtype=np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def sketch_lines(sketch: np.ndarray, threshold: float) -> np.ndarray:
    """Bool (H, W) line pixels of a sketch (dark lines on a light ground): grey value < threshold.
    A (H, W, 3) sketch is converted to grey as the mean of its channels."""
    grey = np.asarray(sketch, dtype=np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=-1)
    return grey < threshold


def bleed_counts(
    output: np.ndarray, target: np.ndarray, lines: np.ndarray, *, offset: int, min_contrast: float
) -> tuple[int, int]:
    """``(bleeding ends, crossing ends)`` of one image (see the module docstring)."""
    out = np.asarray(output, dtype=np.float64)
    tgt = np.asarray(target, dtype=np.float64)
    height, width = lines.shape
    bled = ends = 0
    for dy, dx in ((0, offset), (offset, 0)):
        if 2 * dy >= height or 2 * dx >= width:
            continue
        # a = p - d e, p, b = p + d e for every p whose a and b are inside the image
        center = lines[dy : height - dy, dx : width - dx]
        side_a = (slice(0, height - 2 * dy), slice(0, width - 2 * dx))
        side_b = (slice(2 * dy, height), slice(2 * dx, width))
        crossing = center & ~lines[side_a] & ~lines[side_b]
        ta, tb, oa, ob = tgt[side_a][crossing], tgt[side_b][crossing], out[side_a][crossing], out[side_b][crossing]
        separating = np.linalg.norm(ta - tb, axis=-1) >= min_contrast
        ta, tb, oa, ob = ta[separating], tb[separating], oa[separating], ob[separating]
        bled += int((np.linalg.norm(oa - tb, axis=-1) < np.linalg.norm(oa - ta, axis=-1)).sum())
        bled += int((np.linalg.norm(ob - ta, axis=-1) < np.linalg.norm(ob - tb, axis=-1)).sum())
        ends += 2 * len(ta)
    return bled, ends


# --------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------


def _settings(params: Mapping[str, Any] | None, section: str) -> dict[str, Any]:
    params = dict(params or {})
    check_known_keys(params, EVALUATE_DEFAULTS, section)
    settings = {**EVALUATE_DEFAULTS, **params}
    bleed = dict(settings["bleed"] or {})
    check_known_keys(bleed, EVALUATE_DEFAULTS["bleed"], f"{section}.bleed")
    settings["bleed"] = {**EVALUATE_DEFAULTS["bleed"], **bleed}
    offset = settings["bleed"]["offset"]
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
        raise ValueError(f"{section}.bleed.offset must be a positive integer (pixels), got {offset!r}")
    resamples = settings["bootstrap_resamples"]
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"{section}.bootstrap_resamples must be an integer >= 100, got {resamples!r}")
    return settings


def _check_inputs(
    outputs: Mapping[str, np.ndarray], targets: np.ndarray, labels: np.ndarray, sketches: np.ndarray | None
) -> None:
    targets = np.asarray(targets)
    if targets.dtype != np.uint8 or targets.ndim != 4 or targets.shape[-1] != 3:
        raise ValueError(f"targets must be uint8 (N, H, W, 3), got {targets.dtype} {targets.shape}")
    if REAL in outputs:
        raise ValueError(f"{REAL!r} is the name of the real test pictures; give the method another name")
    for method, images in outputs.items():
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape != targets.shape:
            raise ValueError(
                f"outputs of {method!r} must be uint8 {targets.shape} like the targets, got {images.dtype} {images.shape}"
            )
    if np.shape(labels) != targets.shape[:3]:
        raise ValueError(f"labels must be (N, H, W) = {targets.shape[:3]}, got {np.shape(labels)}")
    if sketches is not None and np.shape(sketches)[:3] != targets.shape[:3]:
        raise ValueError(f"sketches must be (N, H, W[, 3]) with (N, H, W) = {targets.shape[:3]}, got {np.shape(sketches)}")


def _plain(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _standard_extractors(
    settings: Mapping[str, Any], injected: Mapping[str, Any] | None, device: Any
) -> tuple[FeatureFunction | None, PairFunction | None, dict[str, str]]:
    """The Inception feature function and the LPIPS pair function (or None) and the reasons."""
    from gan_pipelines.models.pretrained import find_inception_weights

    injected = dict(injected or {})
    unknown = sorted(set(injected) - {"inception", "lpips"})
    if unknown:
        raise ValueError(f"unknown feature extractors {unknown}; known: inception, lpips")
    reasons: dict[str, str] = {}
    inception = injected.get("inception")
    if inception is not None:
        reasons["inception"] = "an injected feature extractor"
    else:
        path, reasons["inception"] = find_inception_weights(settings["inception_weights_path"])
        if path is not None:
            from gan_pipelines.models.pretrained import load_inception_features

            inception = _torch_features(load_inception_features(path), device, settings["feature_batch_size"])
    lpips, reasons["lpips"] = _lpips_pairs(settings, injected.get("lpips"), device)
    return inception, lpips, reasons


def _lpips_pairs(settings: Mapping[str, Any], injected: PairFunction | None, device: Any) -> tuple[PairFunction | None, str]:
    """piq's LPIPS-VGG as a pair function on uint8 stacks (local weights only), or None, and why."""
    from gan_pipelines.metrics.diversity import lpips_distance

    if injected is not None:
        return injected, "an injected LPIPS function"
    return lpips_distance(settings["lpips_weights_path"], device=device, batch_size=settings["feature_batch_size"])


def reconstruction_scores(reconstructions: np.ndarray, targets: np.ndarray) -> tuple[dict[str, float | None], pd.DataFrame]:
    """Mean PSNR (dB, capped at 100) and SSIM of uint8 ``(N, H, W, 3)`` reconstructions against
    their targets (same metrics as the per-pixel scores), and the per-image values."""
    _check_inputs({"reconstruction": reconstructions}, targets, np.zeros(np.shape(targets)[:3]), None)
    per = pd.DataFrame({
        "psnr": [psnr(t, o) for t, o in zip(targets, reconstructions)],
        "ssim": [float(ssim_map(t, o).mean()) for t, o in zip(targets, reconstructions)],
    })
    return {name: _plain(per[name].mean()) for name in per}, per


def _batches01(images: np.ndarray, device: Any, batch_size: int):
    import torch

    for start in range(0, len(images), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
        yield chunk.to(device).permute(0, 3, 1, 2).float().div_(255.0)


def _torch_features(module: Any, device: Any, batch_size: int) -> FeatureFunction:
    import torch

    module = module.to(device).eval()

    def features(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate([module(b).double().cpu().numpy() for b in _batches01(images, device, batch_size)])

    return features


def _distances(
    features: np.ndarray, reference: np.ndarray, fd_name: str, kid_name: str
) -> tuple[dict[str, float | None], dict[str, str]]:
    from gan_pipelines.metrics.distribution import frechet_distance, kernel_distance

    if len(features) < 2:
        reason = f"needs at least 2 test images, got {len(features)}"
        return {fd_name: None, kid_name: None}, {fd_name: reason, kid_name: reason}
    return {
        fd_name: _plain(frechet_distance(features, reference)),
        kid_name: _plain(kernel_distance(features, reference)),
    }, {}


def _output_diversity(method: str, stack: np.ndarray | Callable[[], np.ndarray], shape: tuple[int, ...], judge: Any,
                      lpips: PairFunction | None, per: pd.DataFrame) -> dict[str, float | None]:
    """``diversity`` (judge features), ``diversity_lpips`` (None without LPIPS) and
    ``diversity_l1`` of one method's ``K`` outputs per test map; the per-map values go into
    ``per`` (its rows are the test maps)."""
    from gan_pipelines.metrics.diversity import feature_diversity, l1_pairs, sample_diversity, sample_features

    stack = np.asarray(stack() if callable(stack) else stack)
    if stack.dtype != np.uint8 or stack.ndim != 5 or stack.shape[1] < 2 or (stack.shape[0], *stack.shape[2:]) != shape:
        raise ValueError(f"samples of {method!r} must be uint8 (N, K >= 2, H, W, 3) with (N, H, W, 3) = {shape}, "
                         f"got {stack.dtype} {stack.shape}")
    per["diversity"] = feature_diversity(sample_features(stack, judge.features))
    per["diversity_l1"] = sample_diversity(stack, l1_pairs)
    values = {"diversity": _plain(per["diversity"].mean()), "diversity_lpips": None,
              "diversity_l1": _plain(per["diversity_l1"].mean())}
    if lpips is not None:
        per["diversity_lpips"] = sample_diversity(stack, lpips)
        values["diversity_lpips"] = _plain(per["diversity_lpips"].mean())
    return values


def _real_diversity(targets: np.ndarray, features: np.ndarray, lpips: PairFunction | None,
                    unavailable: dict[str, str]) -> dict[str, float | None]:
    """The scale of the diversity figures: the same distances between distinct real test pictures."""
    from gan_pipelines.metrics.diversity import l1_pairs, real_feature_diversity, real_pair_diversity

    if len(targets) < 2:
        for name in ("diversity", "diversity_lpips", "diversity_l1"):
            unavailable[f"{REAL}.{name}"] = f"the scale needs at least 2 test pictures, got {len(targets)}"
        return {"diversity": None, "diversity_lpips": None, "diversity_l1": None}
    return {
        "diversity": _plain(real_feature_diversity(features)),
        "diversity_lpips": None if lpips is None else _plain(real_pair_diversity(targets, lpips)),
        "diversity_l1": _plain(real_pair_diversity(targets, l1_pairs)),
    }


def _diversity_meta(real_features: np.ndarray | None, samples: Mapping[str, Any], lpips: PairFunction | None,
                    lpips_source: str, num_images: int) -> dict[str, Any]:
    from gan_pipelines.metrics.diversity import DEFAULT_MAX_PAIRS, DEFAULT_SEED

    dimension = None if real_features is None else int(real_features.shape[1])
    pairs = num_images * (num_images - 1) // 2
    sampled = pairs > DEFAULT_MAX_PAIRS
    return {
        "feature_space": f"the paired judge's segmenter features, pooled: the spatial mean of its deepest encoder "
                         f"stage ({dimension}-d), fp32; the features of judge_fd / judge_kid. The project's own "
                         "space: comparable between methods scored with the same judge on the same test set only",
        "diversity": "per test map, the mean Euclidean distance between the features of its K outputs over the "
                     "K (K - 1) / 2 pairs, averaged over the maps (a deterministic generator measures 0)",
        "real": f"real.diversity*: the scale, the same distance between distinct real test pictures (different "
                f"scenes): {min(pairs, DEFAULT_MAX_PAIRS)} pairs"
                + (f" (a sample drawn with numpy default_rng({DEFAULT_SEED}) from the {pairs})" if sampled
                   else " (all)"),
        "diversity_lpips": lpips_source if lpips is not None else f"null: {lpips_source}",
        "diversity_l1": "mean absolute difference on the 0..1 scale (pixels): what diversity was before "
                        "2026-12-07 when the LPIPS weights were missing",
        "methods": list(samples),
        "changed": "2026-12-07: diversity became this feature-space distance; before, it was LPIPS when its "
                   "weights were local, else pixel L1. Figures from before are not comparable with it",
    }


def evaluate_methods(
    outputs: Mapping[str, np.ndarray],
    targets: np.ndarray,
    labels: np.ndarray,
    judge_bundle: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    sketches: np.ndarray | None = None,
    feature_extractors: Mapping[str, Any] | None = None,
    samples: Mapping[str, np.ndarray | Callable[[], np.ndarray]] | None = None,
    section: str = "evaluate",
) -> PairedEvaluation:
    """Score every method's outputs (``{method: uint8 (N, H, W, 3)}``) and the real ``targets``
    (``uint8 (N, H, W, 3)``, method ``"real"``) against the test ``labels`` (int ``(N, H, W)``),
    with the segmentation judge of ``judge_bundle``. ``params`` (``<family>.evaluate`` keys, see
    :data:`EVALUATE_DEFAULTS`). ``sketches`` (uint8 ``(N, H, W)`` or ``(N, H, W, 3)``, dark lines)
    adds the colourfulness gap and the bleed rate. ``feature_extractors`` replaces the local
    weight lookup (tests, or other networks): ``{"inception": images -> (N, D) features,
    "lpips": (x, y) -> (N,) distances}`` on uint8 images. ``samples`` (``{method: uint8
    (N, K >= 2, H, W, 3)}``, ``K`` outputs per test map, or a function returning them: called when
    that method is scored, so one method's samples are in memory at a time) adds ``diversity``,
    ``diversity_lpips`` and ``diversity_l1`` to those methods and, as the scale, to ``real``.

    Returns ``(metrics, per_image, meta)``: ``metrics[method][metric]`` plain floats or None;
    ``per_image`` one row per (method, image) with the per-image values; ``meta`` with
    ``unavailable`` (``{metric or "<method>.<metric>": reason}``), what the distances were
    computed with, the judge checkpoint's description and the set size and resolution.
    """
    from gan_pipelines.metrics.segmentation import (
        SEGMENTATION_SCORES, check_class_indices, class_confusion_matrix, segmentation_score_intervals,
        segmentation_scores,
    )
    from gan_pipelines.models.segmenter import segmentation_judge_from_bundle

    settings = _settings(params, section)
    _check_inputs(outputs, targets, labels, sketches)
    targets = np.asarray(targets)
    labels = np.asarray(labels)
    judge = segmentation_judge_from_bundle(judge_bundle, batch_size=settings["judge_batch_size"], device=settings["device"])
    # judges of the same data trained with other seeds (train_judge.spread_seeds): their scores
    # show how much of a difference between methods the judge's own training could explain
    spread_judges = [
        (int(entry["seed"]), segmentation_judge_from_bundle(
            {**judge_bundle, "state_dicts": entry["state_dicts"]}, batch_size=settings["judge_batch_size"],
            device=settings["device"]))
        for entry in judge_bundle.get("spread_judges") or []
    ]
    ignore_index = judge.ignore_index
    check_class_indices(labels, judge.num_classes, ignore_index, "test labels")
    inception, lpips, sources = _standard_extractors(settings, feature_extractors, judge.device)
    samples = dict(samples or {})
    strays = sorted(set(samples) - set(outputs))
    if strays:
        raise ValueError(f"samples given for {strays}, which have no outputs ({sorted(outputs)})")

    methods = {**{name: np.asarray(images) for name, images in outputs.items()}, REAL: targets}
    num_images = len(targets)
    unavailable: dict[str, str] = {}
    if inception is None:
        unavailable["fid_inception"] = unavailable["kid_inception"] = sources["inception"]
    if lpips is None:
        unavailable["lpips"] = sources["lpips"]
        if samples:
            unavailable["diversity_lpips"] = sources["lpips"]

    real_inception = inception(targets) if inception is not None else None
    lines = None
    if sketches is not None:
        lines = np.stack([sketch_lines(s, settings["bleed"]["line_threshold"]) for s in np.asarray(sketches)])

    metrics: dict[str, dict[str, float | None]] = {}
    rows: dict[str, pd.DataFrame] = {}
    real_judge_features = None
    for method in [REAL, *outputs]:  # the real pictures first: the others' distances need their features
        images = methods[method]
        logger.info("Evaluating %s on %d test images", method, num_images)
        per = pd.DataFrame({"method": method, "image": np.arange(num_images)})
        per["l1"] = [float(np.abs(o.astype(np.float64) - t).mean()) / 255.0 for o, t in zip(images, targets)]
        per["psnr"] = [psnr(t, o) for t, o in zip(targets, images)]
        per["ssim"] = [float(ssim_map(t, o).mean()) for t, o in zip(targets, images)]
        values: dict[str, float | None] = {name: _plain(per[name].mean()) for name in PIXEL_METRICS}

        predicted, judge_features = judge.predict_with_features(images)
        confusions = np.stack([class_confusion_matrix(p, t, judge.num_classes, ignore_index)
                               for p, t in zip(predicted, labels)])
        intervals = (segmentation_score_intervals(confusions, n_resamples=settings["bootstrap_resamples"])
                     if num_images >= 2 else {})
        for name, value in segmentation_scores(confusions.sum(axis=0)).items():
            values[f"seg_{name}"] = _plain(value)
            values[f"seg_{name}_ci95"] = list(intervals[name]) if name in intervals else None
            if values[f"seg_{name}_ci95"] is None:
                unavailable[f"{method}.seg_{name}_ci95"] = "a bootstrap interval needs at least 2 test pictures"
        if spread_judges:
            spread_scores = [
                segmentation_scores(class_confusion_matrix(other.predict(images), labels, judge.num_classes, ignore_index))
                for _, other in spread_judges
            ]
            for name in SEGMENTATION_SCORES:
                values[f"seg_{name}_judge_seeds"] = [values[f"seg_{name}"], *(_plain(s[name]) for s in spread_scores)]
        image_scores = [segmentation_scores(confusion) for confusion in confusions]
        per["seg_pixel_acc"] = [s["pixel_acc"] for s in image_scores]
        per["seg_miou"] = [s["miou"] for s in image_scores]

        if method == REAL and samples:
            values.update(_real_diversity(images, judge_features, lpips, unavailable))
        elif method in samples:
            values.update(_output_diversity(method, samples[method], targets.shape, judge, lpips, per))
        if method == REAL:
            real_judge_features = judge_features
            reason = "the real test pictures are the reference set of this distance"
            for name in (*JUDGE_DISTANCES, "fid_inception", "kid_inception"):
                values[name] = None
                if name in JUDGE_DISTANCES or inception is not None:
                    unavailable[f"{REAL}.{name}"] = reason
        else:
            distances, reasons = _distances(judge_features, real_judge_features, *JUDGE_DISTANCES)
            values.update(distances)
            unavailable.update({f"{method}.{k}": v for k, v in reasons.items()})
            if inception is not None:
                distances, reasons = _distances(inception(images), real_inception, "fid_inception", "kid_inception")
                values.update(distances)
                unavailable.update({f"{method}.{k}": v for k, v in reasons.items()})
            else:
                values["fid_inception"] = values["kid_inception"] = None
        if lpips is not None:
            per["lpips"] = np.asarray(lpips(images, targets), dtype=np.float64)
            values["lpips"] = _plain(per["lpips"].mean())
        else:
            values["lpips"] = None

        if lines is not None:
            per["colourfulness_gap"] = [colourfulness(o) - colourfulness(t) for o, t in zip(images, targets)]
            counts = [
                bleed_counts(o, t, m, offset=settings["bleed"]["offset"], min_contrast=settings["bleed"]["min_contrast"])
                for o, t, m in zip(images, targets, lines)
            ]
            per["bleed_rate"] = [b / e if e else math.nan for b, e in counts]
            values["colourfulness_gap"] = _plain(per["colourfulness_gap"].mean())
            total_ends = sum(e for _, e in counts)
            values["bleed_rate"] = _plain(sum(b for b, _ in counts) / total_ends) if total_ends else None
            if not total_ends:
                unavailable[f"{method}.bleed_rate"] = "no sketch line separates two differently coloured target regions"

        for name, value in values.items():
            if value is None and name not in unavailable and f"{method}.{name}" not in unavailable:
                unavailable[f"{method}.{name}"] = "not a finite number (e.g. no pixel counted)"
        metrics[method] = values
        rows[method] = per
    metrics = {method: metrics[method] for method in methods}

    meta = {
        "num_images": int(num_images),
        "resolution": [int(targets.shape[1]), int(targets.shape[2])],
        "methods": list(methods),
        "unavailable": unavailable,
        "inception": sources["inception"],
        "lpips": sources["lpips"],
        "judge": {
            key: judge_bundle.get("meta", {}).get(key)
            for key in ("trained_at", "model_input_version", "num_classes", "ignore_index", "weights_status")
        } | {
            key: (judge_bundle.get("meta", {}).get("judge") or {}).get(key) for key in ("precision", "seed", "data_hash")
        } | {
            "val_metrics": dict(judge_bundle.get("val_metrics") or {}), "best_epoch": judge_bundle.get("best_epoch"),
            "spread_seeds": [seed for seed, _ in spread_judges],
        },
        **({"diversity": _diversity_meta(real_judge_features, samples, lpips, sources["lpips"], num_images)}
           if samples else {}),
        "intervals": f"seg_*_ci95: percentile bootstrap 95% interval over the {int(num_images)} test pictures "
                     f"({settings['bootstrap_resamples']} resamples, seed 0); seg_*_judge_seeds: the score under the "
                     "judge and under each spread judge, in meta.judge.seed, spread_seeds order",
        "notes": {
            "judge_fd": "Frechet distance in the segmentation judge's pooled encoder features: the project's own "
            "measure, comparable only between methods scored with the same judge on the same test set, not "
            "with published FID",
            "judge_kid": "unbiased polynomial-kernel MMD^2 in the same features (can be slightly negative)",
        },
    }
    return PairedEvaluation(metrics, pd.concat([rows[m] for m in methods], ignore_index=True), meta)
