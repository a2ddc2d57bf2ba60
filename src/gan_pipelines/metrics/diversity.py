"""Diversity of a generator that gives several outputs per input (style sampling), measured one
way for every family: features in, numbers out.

A multi-modal generator (SPADE+VAE, Park et al. 2019; MUNIT, Huang et al. 2018) draws ``K``
outputs for one input from ``K`` style codes. Its diversity is how far apart those outputs are:

* :func:`feature_diversity`: per input, the mean Euclidean distance between the feature vectors
  of its ``K`` outputs over the ``K (K - 1) / 2`` unordered pairs, in a feature space the caller
  names (the project uses its own judges' pooled features, e.g. the paired families'
  segmentation judge). A deterministic generator, run ``K`` times, measures exactly 0: identical
  outputs are featurised once (:func:`sample_features`), so their features are identical.
* :func:`real_feature_diversity`: the scale. The mean distance between the features of distinct
  REAL images (different scenes) of the test set: all pairs, or a seeded sample of
  ``max_pairs`` of them. Outputs of one input are expected below it (they share the input's
  layout); a value near it means the styles change as much as a change of scene does.
* LPIPS (Zhang et al. 2018, piq's LPIPS-VGG port) only when its weights are local
  (:func:`lpips_distance` through :func:`gan_pipelines.models.pretrained.find_lpips_weights`):
  :func:`lpips_diversity` gives ``(None, reason)`` otherwise, never a stand-in value. Nothing is
  downloaded.

These are measures in a given feature space: comparable between methods scored in the same space
(the same judge checkpoint, the same test set), not with published diversity figures (which use
LPIPS on AlexNet or VGG features of other data sets). :func:`sample_diversity` takes any pair
distance (``l1_pairs``: the mean absolute difference on the 0..1 scale, a pixel measure).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

FeatureFunction = Callable[[np.ndarray], np.ndarray]  # uint8 (N, H, W, 3) -> (N, D)
PairFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]  # two uint8 (N, H, W, 3) stacks -> (N,)
# Pairs of real images the scale is measured on: 60 test images have 1770 pairs (all of them),
# 200 have 19900 (a seeded sample of 2000: its mean is within about 1% of the all-pairs mean).
DEFAULT_MAX_PAIRS = 2000
DEFAULT_SEED = 0
# Image pairs handed to a pair distance at once: bounds memory (2000 pairs of 256 px images would
# be 0.8 GB as uint8 and 6 GB as the float64 of a pixel distance).
PAIR_CHUNK = 64


def _check_samples(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 5 or samples.shape[1] < 2 or samples.shape[-1] != 3 or samples.dtype != np.uint8:
        raise ValueError(f"samples must be uint8 (M, K >= 2, H, W, 3), got {samples.dtype} {samples.shape}")
    return samples


def feature_diversity(features: np.ndarray) -> np.ndarray:
    """``(M,)`` float64: per input, the mean Euclidean distance between the features of its ``K``
    outputs over the ``K (K - 1) / 2`` unordered pairs (each pair once).

    Args:
        features: ``(M, K, D)``, K >= 2, finite: ``D``-dimensional features of ``K`` outputs for
            each of ``M`` inputs (any units: the distance is in the features' own units).

    Raises:
        ValueError: another shape, K < 2, or a value that is not finite.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 3 or features.shape[1] < 2:
        raise ValueError(f"features must be (M, K >= 2, D), got {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features hold values that are not finite")
    first, second = np.triu_indices(features.shape[1], 1)
    # differences, not |a|^2 + |b|^2 - 2 a.b: identical rows give exactly 0, not a rounding residue
    return np.linalg.norm(features[:, first] - features[:, second], axis=-1).mean(axis=1)


def distinct_pairs(count: int, *, max_pairs: int = DEFAULT_MAX_PAIRS, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(first, second)`` int64 index arrays of distinct unordered pairs ``i < j`` of ``count``
    items: all ``count (count - 1) / 2`` of them when there are at most ``max_pairs``, else
    ``max_pairs`` of them drawn without replacement by ``numpy.random.default_rng(seed)``,
    sorted. Raises ValueError for ``count`` < 2 or ``max_pairs`` < 1."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
        raise ValueError(f"need at least 2 items to pair, got {count!r}")
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) or max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive integer, got {max_pairs!r}")
    count = int(count)
    total = count * (count - 1) // 2
    if total <= max_pairs:
        first, second = np.triu_indices(count, 1)
        return first.astype(np.int64), second.astype(np.int64)
    linear = np.sort(np.random.default_rng(seed).choice(total, size=int(max_pairs), replace=False))
    # row i of the upper triangle starts at linear index i * count - i * (i + 1) / 2
    rows = np.arange(count, dtype=np.int64)
    starts = rows * count - rows * (rows + 1) // 2
    first = np.searchsorted(starts, linear, side="right") - 1
    second = linear - starts[first] + first + 1
    return first.astype(np.int64), second.astype(np.int64)


def real_feature_diversity(features: np.ndarray, *, max_pairs: int = DEFAULT_MAX_PAIRS,
                           seed: int = DEFAULT_SEED) -> float:
    """The scale of :func:`feature_diversity`: the mean Euclidean distance between the features
    of distinct real images, over the pairs of :func:`distinct_pairs` (all, or a seeded sample of
    ``max_pairs``).

    Args:
        features: ``(N, D)``, N >= 2, finite: one row per real image (of different scenes).
        max_pairs: at most this many pairs (all pairs when there are fewer).
        seed: the pair sample's seed (numpy ``default_rng``), used only when pairs are sampled.

    Raises:
        ValueError: another shape, N < 2, or a value that is not finite.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features hold values that are not finite")
    first, second = distinct_pairs(len(features), max_pairs=max_pairs, seed=seed)
    return float(np.linalg.norm(features[first] - features[second], axis=-1).mean())


def sample_features(samples: np.ndarray, features: FeatureFunction) -> np.ndarray:
    """``(M, K, D)`` features of uint8 ``samples`` ``(M, K, H, W, 3)`` (``K`` outputs for each of
    ``M`` inputs) by ``features`` (uint8 ``(N, H, W, 3)`` -> ``(N, D)``). Byte-identical images
    are featurised once and share one feature row, so a deterministic generator's ``K`` copies
    give identical features whatever the feature network's batching does. Raises ValueError
    for another shape or when ``features`` returns another number of rows."""
    samples = _check_samples(samples)
    count, k = samples.shape[:2]
    flat = samples.reshape(count * k, *samples.shape[2:])
    index_of: dict[bytes, int] = {}
    inverse = np.empty(len(flat), np.int64)
    unique = []
    for position, image in enumerate(flat):
        key = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()
        if key not in index_of:
            index_of[key] = len(unique)
            unique.append(position)
        inverse[position] = index_of[key]
    computed = np.asarray(features(flat[unique]), dtype=np.float64)
    if computed.ndim != 2 or len(computed) != len(unique):
        raise ValueError(f"the feature function returned {computed.shape} for {len(unique)} images; expected (N, D)")
    return computed[inverse].reshape(count, k, -1)


def sample_diversity(samples: np.ndarray, distance: PairFunction) -> np.ndarray:
    """``(M,)`` float64: per input, the mean pair ``distance`` between its ``K`` outputs over the
    ``K (K - 1) / 2`` unordered pairs (each once). ``samples``: uint8 ``(M, K >= 2, H, W, 3)``;
    ``distance`` maps two uint8 stacks ``(P, H, W, 3)`` to ``(P,)``, called once per input (so
    memory holds one input's pairs). Raises ValueError for another shape."""
    samples = _check_samples(samples)
    first, second = np.triu_indices(samples.shape[1], 1)
    return np.array([np.asarray(distance(outputs[first], outputs[second]), np.float64).mean() for outputs in samples])


def real_pair_diversity(images: np.ndarray, distance: PairFunction, *, max_pairs: int = DEFAULT_MAX_PAIRS,
                        seed: int = DEFAULT_SEED) -> float:
    """The mean pair ``distance`` between distinct real ``images`` (uint8 ``(N >= 2, H, W, 3)``)
    over the pairs of :func:`distinct_pairs`: the scale of :func:`sample_diversity` with the same
    distance. Raises ValueError for another shape."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    first, second = distinct_pairs(len(images), max_pairs=max_pairs, seed=seed)
    values = [np.asarray(distance(images[first[start:start + PAIR_CHUNK]], images[second[start:start + PAIR_CHUNK]]),
                         np.float64) for start in range(0, len(first), PAIR_CHUNK)]
    return float(np.concatenate(values).mean())


def l1_pairs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(N,)`` mean absolute differences on the 0..1 scale of two uint8 stacks ``(N, H, W, 3)``."""
    difference = np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)) / 255.0
    return difference.reshape(len(difference), -1).mean(axis=1)


def lpips_distance(weights_path: str | None = None, *, device: Any = None,
                   batch_size: int = 16) -> tuple[PairFunction | None, str]:
    """``(distance, reason)``: piq's LPIPS-VGG (:func:`gan_pipelines.models.pretrained.load_lpips`)
    as a pair function on uint8 stacks ``(N, H, W, 3)`` -> ``(N,)`` (0 for identical images),
    when its linear weights (``weights_path``, else the torch hub cache) and the VGG16 backbone
    are local; else ``(None, reason)`` naming what is missing. ``device``: a torch device or
    name; None picks the training engine's choice (CUDA > MPS > CPU). Runs in fp32,
    ``batch_size`` pairs at a time, without gradients."""
    from gan_pipelines.models.pretrained import find_lpips_weights

    path, reason = find_lpips_weights(weights_path)
    if path is None:
        return None, reason
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    import torch

    from gan_pipelines.models.pretrained import find_vgg16_weights, load_lpips
    from gan_pipelines.training.device import select_device

    device = select_device("auto") if device is None else torch.device(device)
    module = load_lpips(path, find_vgg16_weights()).to(device).eval()

    def batches(images: np.ndarray):
        for start in range(0, len(images), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
            yield chunk.to(device).permute(0, 3, 1, 2).float().div_(255.0)

    def distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0, np.float64)
        with torch.inference_mode():
            return np.concatenate([module(a, b).reshape(-1).double().cpu().numpy()
                                   for a, b in zip(batches(x), batches(y))])

    return distances, reason


def lpips_diversity(samples: np.ndarray, *, distance: PairFunction | None = None, weights_path: str | None = None,
                    device: Any = None, batch_size: int = 16) -> tuple[np.ndarray | None, str]:
    """``(per_input, reason)``: :func:`sample_diversity` of uint8 ``samples`` ``(M, K, H, W, 3)``
    under LPIPS: ``distance`` when given (e.g. one :func:`lpips_distance` loaded once for several
    calls), else :func:`lpips_distance` of ``weights_path`` on ``device``. ``per_input`` is
    ``(M,)`` float64, or None when the weights are not local, ``reason`` saying which are
    missing (never a stand-in value). Raises ValueError for another shape."""
    samples = _check_samples(samples)
    reason = "an injected LPIPS function"
    if distance is None:
        distance, reason = lpips_distance(weights_path, device=device, batch_size=batch_size)
        if distance is None:
            return None, reason
    return sample_diversity(samples, distance), reason
