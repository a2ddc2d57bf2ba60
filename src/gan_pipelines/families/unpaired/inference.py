"""Run a trained unpaired generator on pictures of any size: uint8 in, uint8 out.

The generator is fully convolutional, so it takes any picture whose sides are multiples of its
factor (4 for CycleGAN's two stride-2 convolutions) and at least twice that: a picture of another
size is reflect-padded at the bottom and the right up to the next size it takes, translated, and
cropped back, so the output has the input's size and its pixels line up with the input's.
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


def translate(generator, images: np.ndarray, *, device=None, batch_size: int = 8) -> np.ndarray:
    """Translate pictures with one generator (e.g. ``G_AB`` for A -> B).

    Args:
        generator: a generator module (``(N, 3, H, W)`` in [-1, 1] -> same shape in [-1, 1]);
            put in eval mode and moved to ``device``. Its size factor is read from its
            ``n_downsampling`` (2 for CycleGAN: multiples of 4, at least 8 px).
        images: uint8 ``(N, H, W, 3)``, any ``H, W`` >= 1 (one size per call).
        device: a ``torch.device`` or a name (``"cpu"``, ``"cuda"``, ...); None picks the
            project's automatic choice (:func:`gan_pipelines.training.device.select_device`).
        batch_size: pictures per forward pass.

    Returns:
        uint8 ``(N, H, W, 3)``: the translated pictures, same size as the inputs. On CUDA the
        forward pass runs under autocast (bf16 where the GPU has it, else fp16); on other devices
        in float32. Inference mode, no gradients.

    Raises:
        ValueError: ``images`` is not uint8 ``(N, H, W, 3)`` or ``batch_size`` < 1.
    """
    import torch

    from gan_pipelines.families.unpaired.networks import min_size, size_multiple
    from gan_pipelines.training.device import autocast_context, select_device, select_precision

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3); got {images.dtype} {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if not len(images):
        return images.copy()
    device = select_device("auto", setting="device") if device is None else torch.device(device)
    # Mixed precision only on CUDA: on a CPU the outputs stay those of the float32 model (and of its ONNX export).
    precision = select_precision(device, "auto" if device.type == "cuda" else "fp32")
    height, width = images.shape[1:3]
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
            with autocast_context(device, precision):
                fake = generator(_pad(chunk, target_h, target_w))
            fake = fake[..., :height, :width].float().clamp(-1.0, 1.0)
            outputs.append(((fake + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(outputs)
