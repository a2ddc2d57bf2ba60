"""Baselines of unpaired translation, scored by the protocol on the same test pictures as the
models (:mod:`gan_pipelines.families.unpaired.evaluation`): a model that does not beat them on
the target-domain rate while keeping content has learned no more than a recolouring.

* :func:`identity`: the source picture itself (no translation at all).
* :func:`colour_transfer`: Reinhard et al. 2001, "Color Transfer between Images" (IEEE CG&A
  21(5)): each picture's per-channel mean and standard deviation in CIE Lab moved to the target
  domain's: ``out_c = (x_c - mean_c(picture)) * std_c(target) / std_c(picture) + mean_c(target)``,
  with the target statistics pooled over every pixel of the target domain's TRAIN pictures
  (:func:`lab_statistics`). Reinhard et al. work in l-alpha-beta; CIE Lab (scikit-image's
  ``rgb2lab`` / ``lab2rgb``, D65) is the usual stand-in and what the issue asks for.
* :func:`histogram_matching`: scikit-image's ``exposure.match_histograms`` per RGB channel
  (``channel_axis=-1``) to ONE target-domain train picture, chosen by seed
  (:func:`histogram_reference_index`).

Pictures are uint8 ``(H, W, 3)`` or ``(N, H, W, 3)`` in and out (same shape). A translator has
the signature of a model's ``translate(direction, images) -> images`` (``direction`` ``a2b`` or
``b2a``, see :func:`baseline_translators`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gan_pipelines.families.unpaired.layout import DIRECTIONS, direction_domains

Translate = Callable[[str, np.ndarray], np.ndarray]
# A Lab channel whose standard deviation in a picture is below this (Lab units: L 0..100, a and
# b about -128..127) has no visible spread to scale: it is only shifted to the target mean. A
# flat grey picture has a = b = 0 up to rounding noise, which a ratio of two tiny numbers would
# otherwise blow up into false colours.
MIN_SOURCE_STD = 0.5
LAB_CHUNK = 64  # pictures converted at a time by lab_statistics (bounded memory at any size)


def _check_pictures(images: Any, name: str) -> np.ndarray:
    array = np.asarray(images)
    if array.dtype != np.uint8 or array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise ValueError(f"{name} must be uint8 RGB pictures (H, W, 3) or (N, H, W, 3), got {array.dtype} {array.shape}")
    return array


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats on the 0..1 scale to uint8 (rounded, clipped)."""
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def identity(direction: str, images: np.ndarray) -> np.ndarray:
    """The identity baseline: a copy of ``images`` whatever the ``direction``."""
    direction_domains(direction)  # a bad direction fails here as it would for a model
    return _check_pictures(images, "images").copy()


def lab_statistics(images: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)``, float64 ``(3,)`` each: the per-channel mean and (population) standard
    deviation in CIE Lab (L in 0..100) over every pixel of ``images`` (uint8 ``(N, H, W, 3)`` or
    one ``(H, W, 3)`` picture). Computed ``LAB_CHUNK`` pictures at a time (sums of x and x^2 in
    float64), so memory does not grow with the set. Raises ValueError for an empty set."""
    from skimage.color import rgb2lab

    array = _check_pictures(images, "images")
    stack = array[None] if array.ndim == 3 else array
    if stack.shape[0] == 0 or stack.shape[1] == 0 or stack.shape[2] == 0:
        raise ValueError(f"lab_statistics needs at least one pixel, got pictures of shape {array.shape}")
    total = np.zeros(3)
    squares = np.zeros(3)
    count = 0
    for start in range(0, len(stack), LAB_CHUNK):
        lab = rgb2lab(stack[start:start + LAB_CHUNK]).reshape(-1, 3)
        total += lab.sum(axis=0)
        squares += (lab * lab).sum(axis=0)
        count += len(lab)
    mean = total / count
    variance = np.maximum(squares / count - mean * mean, 0.0)  # rounding can make it -1e-12
    return mean, np.sqrt(variance)


def _check_statistics(mean: Any, std: Any) -> tuple[np.ndarray, np.ndarray]:
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    if mean.shape != (3,) or std.shape != (3,) or not np.isfinite(mean).all() or not np.isfinite(std).all():
        raise ValueError(f"target statistics must be finite (3,) Lab means and standard deviations; got {mean!r}, {std!r}")
    if (std < 0).any():
        raise ValueError(f"target standard deviations must be >= 0; got {std.tolist()}")
    return mean, std


def colour_transfer(images: Any, target_mean: Any, target_std: Any) -> np.ndarray:
    """Reinhard colour transfer of each picture of ``images`` (uint8 ``(H, W, 3)`` or
    ``(N, H, W, 3)``) to the Lab statistics ``target_mean``, ``target_std`` (``(3,)`` each, e.g.
    :func:`lab_statistics` of the target domain's train pictures). Per picture and Lab channel
    c: ``out = (x - mean_c) * target_std_c / std_c + target_mean_c``, where mean and std are the
    picture's own; a channel with ``std_c < MIN_SOURCE_STD`` is only shifted
    (``x - mean_c + target_mean_c``). Back to sRGB with ``lab2rgb`` (colours outside the sRGB
    gamut are clipped), rounded to uint8. Same shape out as in."""
    from skimage.color import lab2rgb, rgb2lab

    array = _check_pictures(images, "images")
    mean_t, std_t = _check_statistics(target_mean, target_std)
    stack = array[None] if array.ndim == 3 else array
    out = np.empty_like(stack)
    for index, picture in enumerate(stack):
        lab = rgb2lab(picture)
        mean_s = lab.reshape(-1, 3).mean(axis=0)
        std_s = lab.reshape(-1, 3).std(axis=0)
        scale = np.where(std_s >= MIN_SOURCE_STD, std_t / np.maximum(std_s, MIN_SOURCE_STD), 1.0)
        moved = (lab - mean_s) * scale + mean_t
        with warnings.catch_warnings():
            # lab2rgb warns when it clips colours outside the gamut: expected for a transfer
            warnings.simplefilter("ignore", UserWarning)
            out[index] = _to_uint8(lab2rgb(moved))
    return out[0] if array.ndim == 3 else out


def histogram_matching(images: Any, reference: Any) -> np.ndarray:
    """scikit-image's ``exposure.match_histograms`` of each picture of ``images`` (uint8
    ``(H, W, 3)`` or ``(N, H, W, 3)``) to the one uint8 ``reference`` picture ``(h, w, 3)`` (any
    size), each RGB channel on its own (``channel_axis=-1``); rounded to uint8. A picture whose
    channels already have the reference's histograms comes back unchanged."""
    from skimage.exposure import match_histograms

    array = _check_pictures(images, "images")
    reference = _check_pictures(reference, "reference")
    if reference.ndim != 3:
        raise ValueError(f"reference must be ONE picture (h, w, 3), got shape {reference.shape}")
    stack = array[None] if array.ndim == 3 else array
    out = np.stack([
        np.clip(np.rint(match_histograms(picture, reference, channel_axis=-1)), 0, 255).astype(np.uint8)
        for picture in stack
    ]) if len(stack) else stack.copy()
    return out[0] if array.ndim == 3 else out


def histogram_reference_index(count: int, seed: int) -> int:
    """The index, in 0..count-1, of the target-domain train picture (in sorted-name order) that
    :func:`histogram_matching` matches to: ``numpy.random.default_rng(seed).integers(count)``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"histogram matching needs at least one target-domain train picture, got {count!r}")
    return int(np.random.default_rng(seed).integers(count))


def baseline_translators(
    train: Mapping[str, tuple[Sequence[str], np.ndarray]], *, seed: int = 0
) -> tuple[dict[str, Translate], dict[str, Any]]:
    """The three baselines as translators ``(direction, images) -> images``, fitted on the TRAIN
    pictures of each domain, and a description of what they were fitted on.

    ``train``: ``{"A": (names, uint8 (N, H, W, 3)), "B": (...)}``, names sorted (the image
    folder's order). Direction ``a2b`` moves pictures to domain B's train statistics / matches
    them to one B train picture, ``b2a`` to A's. Returns ``({"identity", "colour_transfer",
    "histogram_matching"}, meta)`` where meta holds each domain's Lab statistics and the name of
    each histogram reference picture. Raises ValueError when a domain has no train picture.
    """
    statistics: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    references: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"colour_transfer": {}, "histogram_matching": {}}
    for domain in ("A", "B"):
        if domain not in train:
            raise ValueError(f"the baselines need the train pictures of domain {domain}")
        names, pictures = train[domain]
        pictures = _check_pictures(pictures, f"the train pictures of domain {domain}")
        if pictures.ndim != 4 or len(pictures) == 0 or len(names) != len(pictures):
            raise ValueError(f"domain {domain}: expected N >= 1 train pictures (N, H, W, 3) and N names, got "
                             f"{pictures.shape} and {len(names)} names")
        statistics[domain] = lab_statistics(pictures)
        index = histogram_reference_index(len(pictures), seed)
        references[domain] = pictures[index]
        meta["colour_transfer"][domain] = {
            "lab_mean": [round(float(v), 4) for v in statistics[domain][0]],
            "lab_std": [round(float(v), 4) for v in statistics[domain][1]],
            "pictures": len(pictures),
        }
        meta["histogram_matching"][domain] = {"reference": f"train/{domain}/{names[index]}.png", "index": index}
    meta["colour_transfer"]["method"] = ("Reinhard et al. 2001: per-picture Lab mean/std moved to the target domain's "
                                         "train Lab statistics (scikit-image rgb2lab/lab2rgb, D65)")
    meta["histogram_matching"]["method"] = (f"skimage.exposure.match_histograms(channel_axis=-1) to one target-domain "
                                            f"train picture: numpy default_rng({seed}).integers(N) over the sorted names")

    def target_of(direction: str) -> str:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        return direction_domains(direction)[1]

    def transfer(direction: str, images: np.ndarray) -> np.ndarray:
        return colour_transfer(images, *statistics[target_of(direction)])

    def matching(direction: str, images: np.ndarray) -> np.ndarray:
        return histogram_matching(images, references[target_of(direction)])

    return {"identity": identity, "colour_transfer": transfer, "histogram_matching": matching}, meta
