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
* :func:`cast_shadow` draws the inserted object's shadow with that ``v``.
* :func:`projected_shadow_hint` does both, as the generator's extra input channel.

Both draw one segment per run bottom (:func:`_segments`): the cost grows with the silhouettes'
width times the image's diagonal, not with every pixel times every step (2026-12-07: the hint at
256 px went from about 210 ms to 5.5 ms on 2 cores, the same pixels).

All tensors are torch, without gradients (the hint is an input, not a learned path); the
functions trace to ONNX (indexing, gather, scatter, nonzero, max, argmax; the loops unroll).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

FIT_SIZE = 32  # side (pixels) at which the light is fitted; masks are max-pooled to it
FIT_ANGLES_DEG = tuple(range(0, 360, 10))  # image-plane angles: 0 right, 90 down (rows grow down)
FIT_MAGNITUDES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # shadow length / object height
MIN_FIT_IOU = 0.05  # below this the occluders explain nothing: no hint is drawn
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


def _segments(lengths: torch.Tensor, angles_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """The shadow segments of every column, for A angles per image.

    ``lengths``: (N, H, W) from :func:`run_lengths`; ``angles_deg``: (N, A). For each of the K
    run bottoms ``b`` over the batch, each of its image's A angles (unit vector ``u``) and each
    step ``s`` in 1..ceil(hypot(H, W)): the pixel ``b + round(s * u)``. Returns ``(target,
    reach, image, spare)``: ``target`` (K, A, S) int64, the pixel's flat index in an (N, A, H * W)
    layout, or ``spare = N * A * H * W`` where the segment leaves the image; ``reach`` (K, 1, S)
    float32, ``L(b) * (1 / s)`` (the pixel is in the shadow of magnitude |v| when
    ``reach * |v| >= _COVER``, i.e. when ``s <= L(b) * |v|``); ``image`` (K,) each bottom's image.

    The cost is K * A * S: about the silhouettes' width times the image's diagonal per angle,
    not every pixel times every step. Indexing and nonzero only, which trace to ONNX with a
    dynamic K.
    """
    n, height, width = lengths.shape
    pixels, angles = height * width, angles_deg.shape[1]
    flat = lengths.reshape(-1)
    bottoms = torch.nonzero(flat > 0).squeeze(1)  # (K,) flat indices over the batch
    image = bottoms // pixels
    row = ((bottoms % pixels) // width).view(-1, 1, 1)
    col = (bottoms % width).view(-1, 1, 1)
    steps = torch.arange(1, int(math.ceil(math.hypot(height, width))) + 1, device=lengths.device).float().view(1, 1, -1)
    radians = (angles_deg.float() * (math.pi / 180.0))[image].unsqueeze(2)  # (K, A, 1)
    target_row = row + torch.round(steps * torch.sin(radians)).long()  # (K, A, S)
    target_col = col + torch.round(steps * torch.cos(radians)).long()
    inside = (target_row >= 0) & (target_row < height) & (target_col >= 0) & (target_col < width)
    slot = (image.view(-1, 1, 1) * angles + torch.arange(angles, device=lengths.device).view(1, -1, 1)) * pixels
    spare = n * angles * pixels
    target = torch.where(inside, slot + target_row * width + target_col, torch.full_like(target_row, spare))
    reach = flat[bottoms].view(-1, 1, 1) * (1.0 / steps)
    return target, reach, image, spare


def _draw(target: torch.Tensor, covers: torch.Tensor, spare: int) -> torch.Tensor:
    """A flat bool canvas of ``spare`` pixels, True at the ``target`` entries where ``covers``
    (both (K, A, S)); the others write to one slot past the end, which is dropped."""
    index = torch.where(covers, target, torch.full_like(target, spare)).reshape(-1)
    canvas = torch.zeros(spare + 1, device=target.device).scatter(0, index, torch.ones_like(index, dtype=torch.float32))
    return canvas[:spare] > 0.5


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
    n, pixels = outside.shape
    angles = torch.tensor(FIT_ANGLES_DEG, device=robject.device).float()
    target, reach, _, spare = _segments(run_lengths(occluders), angles.view(1, -1).expand(n, -1))
    cast = torch.stack([_draw(target, reach * magnitude >= _COVER, spare).view(n, len(FIT_ANGLES_DEG), pixels)
                        for magnitude in FIT_MAGNITUDES], dim=2)  # (N, A, M, P)
    cast = cast & outside[:, None, None, :]
    magnitudes = torch.tensor(FIT_MAGNITUDES, device=robject.device)
    target = (shadows & outside)[:, None, None, :]
    intersection = (cast & target).sum(-1).float()
    union = (cast | target).sum(-1).float().clamp_min(1.0)
    iou = (intersection / union).flatten(1)  # (N, A * M)
    best_iou, best = iou.max(dim=1)
    angle = angles[best // len(FIT_MAGNITUDES)]
    magnitude = magnitudes[best % len(FIT_MAGNITUDES)]
    return angle, magnitude, best_iou


def cast_shadow(mask: torch.Tensor, angle_deg: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """The object's hard shadow for one shadow vector per image, outside the object.

    ``mask``: (N, 1, H, W) (> 0.5 = object); ``angle_deg``, ``magnitude``: (N,). Returns a
    (N, 1, H, W) bool mask: the pixels ``b + round(s * u)`` for every run bottom ``b`` and step
    ``s`` in 1..ceil(hypot(H, W)) with ``L(b) * (1 / s) * |v| >= 1`` (:func:`_segments`).
    """
    n, _, height, width = mask.shape
    target, reach, image, spare = _segments(run_lengths(mask), angle_deg.view(n, 1))
    covers = reach * magnitude.float()[image].view(-1, 1, 1) >= _COVER
    return _draw(target, covers, spare).view(n, 1, height, width) & (mask <= 0.5)


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
