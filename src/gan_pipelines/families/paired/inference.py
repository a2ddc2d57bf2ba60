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
             batch_size: int = 16, device: str = "cpu", z: np.ndarray | None = None,
             autocast_dtype=None) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` pictures of ``net`` (a
    :class:`~gan_pipelines.families.paired.networks.PairedGenerator`, eval mode) for stacked raw
    inputs. A SPADE+VAE generator (``net.z_dim`` set) needs ``z``: float32 ``(N, z_dim)``, one
    style code per input (e.g. :func:`~gan_pipelines.families.paired.networks.style_codes`); a
    deterministic one takes none. ``autocast_dtype`` (e.g. ``torch.bfloat16``): the forward pass
    under autocast; None runs fp32."""
    import torch

    z_dim = getattr(net, "z_dim", None)
    if z_dim is None and z is not None:
        raise ValueError("this generator is deterministic: it takes no style codes z")
    if z_dim is not None and (z is None or np.shape(z) != (len(raw), z_dim)):
        raise ValueError(f"this SPADE+VAE generator needs style codes z of shape ({len(raw)}, {z_dim}); "
                         f"got {None if z is None else np.shape(z)}")
    from gan_pipelines.training import ready_for_inference

    device = torch.device(device)
    net = ready_for_inference(net, device)  # channels-last: see its docstring for the figures
    outputs = []
    with torch.no_grad():
        for start in range(0, len(raw), batch_size):
            chunk = to_network_input(raw[start:start + batch_size], input_type).to(device, memory_format=torch.channels_last)
            inst = None
            if instances is not None:
                inst = to_network_input(instances[start:start + batch_size], "labels").to(device, memory_format=torch.channels_last)
            codes = None if z is None else torch.from_numpy(np.ascontiguousarray(z[start:start + batch_size], np.float32)).to(device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                picture = net(chunk, inst, codes)
            outputs.append(to_uint8_images(picture))
    return np.concatenate(outputs) if outputs else np.zeros((0, *raw.shape[1:3], 3), np.uint8)


def encode_styles(net, pictures: np.ndarray, *, batch_size: int = 16, device: str = "cpu") -> np.ndarray:
    """float32 ``(N, z_dim)`` style codes (the style encoder's mean) of uint8 pictures
    ``(N, H, W, 3)`` at the generator's training size, for a SPADE+VAE generator."""
    import torch

    net = net.eval().to(device)
    codes = []
    with torch.no_grad():
        for start in range(0, len(pictures), batch_size):
            chunk = to_network_input(pictures[start:start + batch_size], "rgb").to(device)
            codes.append(net.encode_style(chunk).float().cpu().numpy())
    return np.concatenate(codes).astype(np.float32)
