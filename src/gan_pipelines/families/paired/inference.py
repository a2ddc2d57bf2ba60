"""Run a trained paired generator on arrays: batches in, uint8 pictures out.

Inputs are what the model input folder holds: label maps ``(N, H, W)`` integers, sketches
``(N, H, W, 3)`` uint8; instance maps ``(N, H, W)`` when the model uses instance boundaries.
"""

from __future__ import annotations

import numpy as np


def to_network_input(raw: np.ndarray, input_type: str):
    """A torch tensor the :class:`~gan_pipelines.families.paired.networks.PairedGenerator` takes:
    label maps int64 ``(N, 1, H, W)``; images float ``(N, 3, H, W)`` in [-1, 1]."""
    import torch

    if input_type == "labels":
        if raw.ndim != 3:
            raise ValueError(f"label maps must be stacked (N, H, W); got {raw.shape}")
        return torch.from_numpy(np.ascontiguousarray(raw, dtype=np.int64)).unsqueeze(1)
    if raw.ndim != 4 or raw.shape[-1] != 3 or raw.dtype != np.uint8:
        raise ValueError(f"input images must be uint8 (N, H, W, 3); got {raw.dtype} {raw.shape}")
    return torch.from_numpy(np.ascontiguousarray(raw)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8_images(output) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> uint8 ``(N, H, W, 3)``."""
    import torch

    values = ((output.float().clamp(-1, 1) + 1.0) * 127.5).round()
    return values.to(dtype=torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def generate(net, input_type: str, raw: np.ndarray, instances: np.ndarray | None = None, *,
             batch_size: int = 16, device: str = "cpu") -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` pictures of ``net`` (eval mode) for stacked raw inputs."""
    import torch

    net = net.eval().to(device)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(raw), batch_size):
            chunk = to_network_input(raw[start:start + batch_size], input_type).to(device)
            inst = None
            if instances is not None:
                inst = to_network_input(instances[start:start + batch_size], "labels").to(device)
            outputs.append(to_uint8_images(net(chunk, inst)))
    return np.concatenate(outputs) if outputs else np.zeros((0, *raw.shape[1:3], 3), np.uint8)
