"""Run a trained unpaired generator on pictures of any size: uint8 in, uint8 out.

A fully convolutional generator (CycleGAN's, U-GAT-IT's light one, MUNIT's translators) takes
any picture whose sides are multiples of its factor (4 for two stride-2 convolutions) and at
least twice that: a picture of another size is reflect-padded at the bottom and the right up to
the next size it takes, translated, and cropped back, so the output has the input's size and its
pixels line up with the input's. A generator with a dense layer sized for one input
(U-GAT-IT's full model: its ``input_size``) gets the picture resized to that size (bilinear,
antialiased) and its output resized back.
"""

from __future__ import annotations

import numpy as np


def padded_size(side: int, multiple: int, smallest: int) -> int:
    """The side a generator with factor ``multiple`` and minimum ``smallest`` takes for a
    picture side ``side``: the next multiple of ``multiple``, at least ``smallest``."""
    return max(smallest, -(-side // multiple) * multiple)


def _pad(batch, height: int, width: int):
    """``batch`` (N, C, h, w) padded at the bottom and right to ``height`` x ``width``: mirrored
    (reflection, as the generator's own padding) where the picture is large enough for it
    (a pad smaller than the side), else by repeating the edge pixels."""
    import torch.nn.functional as F

    pad_h, pad_w = height - batch.shape[-2], width - batch.shape[-1]
    if not pad_h and not pad_w:
        return batch
    mode = "reflect" if pad_h < batch.shape[-2] and pad_w < batch.shape[-1] else "replicate"
    return F.pad(batch, (0, pad_w, 0, pad_h), mode=mode)


def _resize(batch, height: int, width: int):
    import torch.nn.functional as F

    return F.interpolate(batch.float(), size=(height, width), mode="bilinear", align_corners=False, antialias=True)


def translate(generator, images: np.ndarray, *, device=None, batch_size: int = 8,
              style: np.ndarray | None = None) -> np.ndarray:
    """Translate pictures with one generator (e.g. ``G_AB`` for A -> B).

    Args:
        generator: a generator module (``(N, 3, H, W)`` in [-1, 1] -> same shape in [-1, 1]);
            put in eval mode and moved to ``device``. Its size factor is read from its
            ``n_downsampling`` (2 for CycleGAN: multiples of 4, at least 8 px).
        images: uint8 ``(N, H, W, 3)``, any ``H, W`` >= 1 (one size per call).
        device: a ``torch.device`` or a name (``"cpu"``, ``"cuda"``, ...); None picks the
            project's automatic choice (:func:`gan_pipelines.training.device.select_device`).
        batch_size: pictures per forward pass.
        style: for a style-taking generator (MUNIT's translators, ``generator(x, style)``): one
            style code per picture, float ``(N, style_dim)``; None: the generator's default
            (MUNIT: the prior's mean, zeros).

    Returns:
        uint8 ``(N, H, W, 3)``: the translated pictures, same size as the inputs. On CUDA the
        forward pass runs under autocast (bf16 where the GPU has it, else fp16); on other devices
        in float32. Inference mode, no gradients.

    Raises:
        ValueError: ``images`` is not uint8 ``(N, H, W, 3)``, ``batch_size`` < 1, or ``style``
            is not one code per picture.
    """
    import torch

    from gan_pipelines.families.unpaired.networks import min_size, size_multiple
    from gan_pipelines.training.device import autocast_context, select_device, select_precision

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3); got {images.dtype} {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if style is not None:
        style = np.asarray(style, np.float32)
        if style.ndim != 2 or len(style) != len(images):
            raise ValueError(f"style must hold one code per picture, (N={len(images)}, style_dim); got {style.shape}")
    if not len(images):
        return images.copy()
    device = select_device("auto", setting="device") if device is None else torch.device(device)
    # Mixed precision only on CUDA: on a CPU the outputs stay those of the float32 model (and of its ONNX export).
    precision = select_precision(device, "auto" if device.type == "cuda" else "fp32")
    height, width = images.shape[1:3]
    fixed = getattr(generator, "input_size", None)  # a dense layer sized for one input (U-GAT-IT full)
    multiple, smallest = size_multiple(generator), min_size(generator)
    target_h, target_w = padded_size(height, multiple, smallest), padded_size(width, multiple, smallest)
    generator = generator.eval().to(device)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = np.ascontiguousarray(images[start:start + batch_size])
            if not batch.flags.writeable:  # torch warns on read-only arrays (decoded or broadcast pictures)
                batch = batch.copy()
            chunk = torch.from_numpy(batch).to(device)
            chunk = chunk.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            codes = () if style is None else (torch.from_numpy(style[start:start + batch_size]).to(device),)
            with autocast_context(device, precision):
                if fixed is not None and (height, width) != (fixed, fixed):
                    fake = _resize(generator(_resize(chunk, fixed, fixed), *codes), height, width)
                else:
                    fake = generator(_pad(chunk, target_h, target_w), *codes)[..., :height, :width]
            fake = fake.float().clamp(-1.0, 1.0)
            outputs.append(((fake + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(outputs)


def _model_batches(images: np.ndarray, batch_size: int, device):
    """Float tensors ``(n, 3, H, W)`` in [-1, 1] on ``device``, ``batch_size`` pictures at a time,
    of uint8 pictures ``(N, H, W, 3)``."""
    import torch

    for start in range(0, len(images), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]).copy()).to(device)
        yield chunk.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def style_codes(translator, images: np.ndarray, *, device=None, batch_size: int = 8) -> np.ndarray:
    """The target domain's style codes of pictures of that domain, for example-guided
    translation with a style-taking translator (MUNIT: ``translator.style_of``, the target
    domain's style encoder; Huang et al. 2018, section 3).

    Args:
        translator: a module with ``style_of(x)`` (``(N, 3, H, W)`` in [-1, 1] ->
            ``(N, style_dim, 1, 1)`` or ``(N, style_dim)``).
        images: uint8 ``(N, H, W, 3)`` pictures of the target domain (any size the style
            encoder takes: it pools globally).
        device, batch_size: as :func:`translate` (float32, inference mode).

    Returns:
        float32 ``(N, style_dim)``. Raises ValueError for a translator without ``style_of`` or
        images that are not uint8 ``(N, H, W, 3)``.
    """
    import torch

    from gan_pipelines.training.device import select_device

    if not hasattr(translator, "style_of"):
        raise ValueError(f"{type(translator).__name__} takes no style: example-guided translation needs a MUNIT model")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3); got {images.dtype} {images.shape}")
    device = select_device("auto", setting="device") if device is None else torch.device(device)
    translator = translator.eval().to(device)
    codes = []
    with torch.inference_mode():
        for chunk in _model_batches(images, batch_size, device):
            codes.append(translator.style_of(chunk).float().reshape(len(chunk), -1).cpu().numpy())
    return np.concatenate(codes) if codes else np.zeros((0, int(translator.style_dim)), np.float32)


def random_style_codes(count: int, style_dim: int, seed: int | list[int]) -> np.ndarray:
    """``count`` style codes drawn from MUNIT's prior N(0, I): float32 ``(count, style_dim)``
    from numpy ``default_rng(seed)`` (a list seeds one stream per picture, e.g. ``[seed, index]``)."""
    return np.random.default_rng(seed).standard_normal((int(count), int(style_dim))).astype(np.float32)


def attention_maps(generator, images: np.ndarray, *, device=None, batch_size: int = 8) -> np.ndarray:
    """U-GAT-IT's attention heatmaps (the channel sum of the CAM-weighted encoder features,
    Kim et al. 2020, section 2.1.1) of pictures of the generator's source domain, for reports.

    Args:
        generator: a module with ``forward_with_attention(x) -> (image, cam_logit, heatmap
            (N, 1, h, w))`` (:class:`~gan_pipelines.models.ugatit.UGATITGenerator`).
        images: uint8 ``(N, H, W, 3)`` of a size the generator takes (the training size).
        device, batch_size: as :func:`translate` (float32, inference mode).

    Returns:
        uint8 ``(N, H, W)``: each heatmap upsampled (bilinear) to the picture's size and scaled
        to 0..255 by its own minimum and maximum (255: where the generator attends most).
        Raises ValueError for a generator without attention.
    """
    import torch
    import torch.nn.functional as F

    from gan_pipelines.training.device import select_device

    if not hasattr(generator, "forward_with_attention"):
        raise ValueError(f"{type(generator).__name__} has no attention map (U-GAT-IT's generators have one)")
    images = np.asarray(images)
    device = select_device("auto", setting="device") if device is None else torch.device(device)
    generator = generator.eval().to(device)
    maps = []
    with torch.inference_mode():
        for chunk in _model_batches(images, batch_size, device):
            heat = generator.forward_with_attention(chunk)[2].float()
            heat = F.interpolate(heat, size=images.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
            low = heat.amin(dim=(1, 2), keepdim=True)
            span = (heat.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-12)
            maps.append(((heat - low) / span * 255).round().to(torch.uint8).cpu().numpy())
    return np.concatenate(maps) if maps else np.zeros(images.shape[:3], np.uint8)


def sample_translations(translator, images: np.ndarray, count: int, *, style_dim: int | None, seed: int,
                        device=None, batch_size: int = 8) -> np.ndarray:
    """``count`` translations of each picture, for the diversity metric: uint8
    ``(N, count, H, W, 3)``. A style-taking translator (``style_dim``: MUNIT) gets ``count``
    codes from N(0, I) per picture, :func:`random_style_codes` seeded ``[seed, picture index]``;
    a deterministic one (``style_dim`` None) is run once and its output repeated (the
    diversity of a deterministic model is exactly 0)."""
    if not style_dim:
        return np.repeat(translate(translator, images, device=device, batch_size=batch_size)[:, None], count, axis=1)
    return np.stack([translate(translator, np.repeat(images[i:i + 1], count, axis=0), device=device,
                               batch_size=batch_size, style=random_style_codes(count, style_dim, [seed, i]))
                     for i in range(len(images))])
