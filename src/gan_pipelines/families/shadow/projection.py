"""A geometric first guess of the inserted object's cast shadow, from the scene's other shadows.

The generator has to learn that the new shadow must point the way the occluders' shadows point,
from a few hundred scenes. This module gives it that relation as an input instead: a hard shadow
of the inserted object, cast with the light that best explains the occluders' shadows.

Model (pixel height, as in Sheng et al., "Controllable Shadow Generation Using Pixel Height
Maps", ECCV 2022): every column of an object's silhouette stands on the ground at the run's
bottom pixel ``b`` and is ``L(b)`` pixels tall (the run length). A distant light throws that
column's shadow along the segment ``b + t * L(b) * v``, ``t`` in [0, 1], where ``v`` (one 2-D
vector per scene, image plane, rows down) is the shadow's direction times its length per pixel
of height. Perspective and the objects' depth are ignored: it is a hint for the generator to
correct, not a renderer.

* :func:`fit_shadow_vector` picks ``v`` from a grid of ``FIT_ANGLES_DEG`` x ``FIT_MAGNITUDES`` by
  the IoU between the occluders' (``robject``) projected shadows and their observed shadows
  (``rshadow``), at about ``FIT_SIZE`` pixels.
* :func:`cast_shadow` draws the inserted object's shadow with that ``v``, one segment per run
  bottom (a cost that grows with the object's width, not with the image's area times its side).
* :func:`projected_shadow_hint` does both, as the generator's extra input channel.

All tensors are torch, without gradients (the hint is an input, not a learned path); the
functions trace to ONNX (indexing, gather, scatter, nonzero, max, argmax; the loops unroll).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

FIT_SIZE = 32  # side (pixels) at which the light is fitted; masks are max-pooled to it
FIT_ANGLES_DEG = tuple(range(0, 360, 10))  # image-plane angles: 0 right, 90 down (rows grow down)
FIT_MAGNITUDES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # shadow length / object height
MIN_FIT_IOU = 0.05  # below this the occluders explain nothing: no hint is drawn
_STEP_CHUNK = 16  # ray steps gathered at once (bounds memory at large resolutions)
_COVER = 1.0 - 1e-6  # reach * |v| at or above this covers a pixel (float slack for L * |v| == s)


def run_lengths(mask: torch.Tensor) -> torch.Tensor:
    """Pixel heights of a silhouette: at each run's bottom pixel, the run's length.

    ``mask``: (N, 1, H, W) in {0, 1}; > 0.5 means object.
    A *run* is a vertical stretch of object pixels in one column; its bottom pixel is where the
    column meets the ground. Returns (N, H, W) float32: the run length in pixels (1..H) at run
    bottoms, 0 everywhere else.
    """
    inside = mask[:, 0] > 0.5
    height = inside.shape[1]
    rows = torch.arange(height, device=mask.device).view(1, height, 1)
    # The last background row at or above each pixel (-1: none), as a running maximum down each
    # column by doubling shifts: log2(H) whole-image steps that also export to ONNX (cummax does not).
    last_gap = torch.where(inside, torch.full_like(rows, -1), rows)
    shift = 1
    while shift < height:
        above = F.pad(last_gap[:, :-shift], (0, 0, shift, 0), value=-1)
        last_gap = torch.maximum(last_gap, above)
        shift *= 2
    below = torch.cat([inside[:, 1:], torch.zeros_like(inside[:, :1])], dim=1)
    bottom = inside & ~below
    return torch.where(bottom, (rows - last_gap).float(), torch.zeros((), device=mask.device))


def _ray_sources(height: int, width: int, radians: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """Flat index of the pixel ``q - s * u`` for every pixel q, angle and step s in [first, last)
    (nearest pixel), or ``height * width`` (an always-empty slot) where it leaves the image.
    ``radians``: (B, K). Returns (B, K, last - first, H * W) int64."""
    device = radians.device
    rows = torch.arange(height, device=device).repeat_interleave(width).view(1, 1, 1, -1)
    cols = torch.arange(width, device=device).repeat(height).view(1, 1, 1, -1)
    steps = torch.arange(first, last, device=device).float().view(1, 1, -1, 1)
    source_rows = rows - torch.round(steps * torch.sin(radians)[:, :, None, None]).long()
    source_cols = cols - torch.round(steps * torch.cos(radians)[:, :, None, None]).long()
    inside = (source_rows >= 0) & (source_rows < height) & (source_cols >= 0) & (source_cols < width)
    return torch.where(inside, source_rows * width + source_cols, torch.full_like(source_rows, height * width))


@functools.lru_cache(maxsize=64)
def _shared_ray_sources(
    height: int, width: int, angles_deg: tuple[float, ...], first: int, last: int, device: torch.device
) -> torch.Tensor:
    """:func:`_ray_sources` for angles shared by the whole batch, (K, steps, H * W); cached, as
    the fit asks for the same table at every call."""
    radians = torch.tensor(angles_deg, device=device).float().view(1, -1) * (math.pi / 180.0)
    return _ray_sources(height, width, radians, first, last)[0]


def _reach(lengths: torch.Tensor, angles_deg: tuple[float, ...]) -> torch.Tensor:
    """For each pixel q and angle, how far the columns' shadows cast along that angle reach q:
    max over steps s >= 1 of L(q - s * u) / s, 0 if no column stands on that ray. The shadow of
    magnitude |v| covers q exactly when reach >= 1 / |v|.

    ``lengths``: (N, H, W) from :func:`run_lengths`; ``angles_deg``: the K angles, shared by all
    images. Returns (N, K, H*W) float32. Its cost grows with H * W * hypot(H, W) * K: it is for
    the light fit at ``FIT_SIZE``; :func:`cast_shadow` draws one angle per image without it.
    """
    n, height, width = lengths.shape
    # One zero slot at the end: rays that leave the image read it.
    flat = torch.cat([lengths.reshape(n, height * width), lengths.new_zeros(n, 1)], dim=1)
    max_steps = int(math.ceil(math.hypot(height, width)))
    reach = lengths.new_zeros(n, len(angles_deg), height * width)
    for first in range(1, max_steps + 1, _STEP_CHUNK):
        last = min(first + _STEP_CHUNK, max_steps + 1)
        # One index table for the whole batch: plain indexing, much faster than gather.
        source = flat[:, _shared_ray_sources(height, width, angles_deg, first, last, flat.device)]
        inverse_steps = 1.0 / torch.arange(first, last, device=lengths.device).float().view(1, 1, -1, 1)
        reach = torch.maximum(reach, (source * inverse_steps).amax(dim=2))
    return reach


def fit_shadow_vector(robject: torch.Tensor, rshadow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The scene's shadow vector, fitted to the occluders' shadows.

    ``robject``, ``rshadow``: (N, 1, H, W) occluder and occluder-shadow masks (> 0.5 = in).
    Returns ``(angle_deg, magnitude, iou)``, each (N,): the grid point of ``FIT_ANGLES_DEG`` x
    ``FIT_MAGNITUDES`` whose projected occluder shadows overlap ``rshadow`` best (IoU outside the
    occluders, at about ``FIT_SIZE`` px), and that IoU (0 when there are no occluder shadows).
    """
    # Max-pooled by an integer factor (sides are multiples of 32), which also exports to ONNX.
    factor = max(1, int(robject.shape[-1]) // FIT_SIZE)
    occluders = F.max_pool2d((robject > 0.5).float(), factor)
    shadows = F.max_pool2d((rshadow > 0.5).float(), factor)[:, 0].flatten(1) > 0.5
    outside = occluders[:, 0].flatten(1) < 0.5
    angles = torch.tensor(FIT_ANGLES_DEG, device=robject.device).float()
    reach = _reach(run_lengths(occluders), tuple(float(a) for a in FIT_ANGLES_DEG))  # (N, A, P)
    magnitudes = torch.tensor(FIT_MAGNITUDES, device=robject.device).view(1, 1, -1, 1)
    cast = (reach[:, :, None, :] * magnitudes >= _COVER) & outside[:, None, None, :]  # (N, A, M, P)
    target = (shadows & outside)[:, None, None, :]
    intersection = (cast & target).sum(-1).float()
    union = (cast | target).sum(-1).float().clamp_min(1.0)
    iou = (intersection / union).flatten(1)  # (N, A * M)
    best_iou, best = iou.max(dim=1)
    angle = angles[best // len(FIT_MAGNITUDES)]
    magnitude = magnitudes.new_tensor(FIT_MAGNITUDES)[best % len(FIT_MAGNITUDES)]
    return angle, magnitude, best_iou


def cast_shadow(mask: torch.Tensor, angle_deg: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """The object's hard shadow for one shadow vector per image, outside the object.

    ``mask``: (N, 1, H, W) (> 0.5 = object); ``angle_deg``, ``magnitude``: (N,). Returns a
    (N, 1, H, W) bool mask: the pixels ``b + round(s * u)`` for every run bottom ``b`` and step
    ``s`` in 1..hypot(H, W) with ``L(b) / s * |v| >= 1`` (the same test as :func:`_reach`'s).

    Each run bottom draws its own segment, so the cost grows with the number of run bottoms (about
    the object's width) times hypot(H, W), not with every pixel times every step: a few
    milliseconds at 256 px. Everything is indexing and scatter, which trace to ONNX with a
    dynamic number of bottoms.
    """
    n, _, height, width = mask.shape
    pixels = height * width
    lengths = run_lengths(mask).reshape(-1)  # (N * H * W,)
    bottoms = torch.nonzero(lengths > 0).squeeze(1)  # (K,) flat indices over the batch
    image = bottoms // pixels
    row = (bottoms % pixels) // width
    col = bottoms % width
    max_steps = int(math.ceil(math.hypot(height, width)))
    steps = torch.arange(1, max_steps + 1, device=mask.device).float().view(1, -1)  # (1, S)
    radians = (angle_deg.float() * (math.pi / 180.0))[image].view(-1, 1)  # (K, 1)
    target_row = row.view(-1, 1) + torch.round(steps * torch.sin(radians)).long()  # (K, S)
    target_col = col.view(-1, 1) + torch.round(steps * torch.cos(radians)).long()
    # Written as _reach computes it (L * (1 / s), then * |v|) so both give the same pixels.
    covers = lengths[bottoms].view(-1, 1) * (1.0 / steps) * magnitude.float()[image].view(-1, 1) >= _COVER
    inside = (target_row >= 0) & (target_row < height) & (target_col >= 0) & (target_col < width)
    # Segments that stop or leave the image write to one spare slot past the end.
    target = torch.where(
        covers & inside, image.view(-1, 1) * pixels + target_row * width + target_col, torch.full_like(target_row, n * pixels)
    ).reshape(-1)
    cast = torch.zeros(n * pixels + 1, device=mask.device).scatter(0, target, torch.ones_like(target, dtype=torch.float32))
    cast = cast[: n * pixels].view(n, 1, height, width) > 0.5
    return cast & (mask <= 0.5)


@torch.no_grad()
def projected_shadow_hint(mask: torch.Tensor, robject: torch.Tensor, rshadow: torch.Tensor) -> torch.Tensor:
    """The generator's extra input: the inserted object's projected hard shadow, in {-1, +1}.

    Inputs are the generator's (N, 1, H, W) masks in [-1, 1] (> 0 = in). Images whose occluders
    explain their shadows with an IoU under ``MIN_FIT_IOU`` (no occluders, or no shadows found)
    get no hint (all -1). Returns (N, 1, H, W) float32.
    """
    inserted, occluders, occluder_shadows = ((m > 0).float() for m in (mask, robject, rshadow))
    angle, magnitude, iou = fit_shadow_vector(occluders, occluder_shadows)
    shadow = cast_shadow(inserted, angle, magnitude) & (iou >= MIN_FIT_IOU).view(-1, 1, 1, 1)
    return shadow.float() * 2.0 - 1.0
