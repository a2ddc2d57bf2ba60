"""onnxruntime execution providers chosen from a device preference, for every family's ONNX
predictor (family-free; imports neither torch nor onnxruntime, so predictors stay light).

* :func:`onnx_providers`: the providers list for ``InferenceSession(providers=...)``.
* :func:`check_session_providers`: refuse a session that did not start the requested CUDA
  provider (onnxruntime itself falls back to CPU with no more than a log line).
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def onnx_providers(device: str, available: list[str]) -> list[str | tuple[str, dict[str, Any]]]:
    """onnxruntime execution providers for a ``device`` preference, given the providers this
    onnxruntime build has (``onnxruntime.get_available_providers()``).

    - ``"auto"``: CUDA first (with CPU as onnxruntime's fallback) when the build has
      ``CUDAExecutionProvider``, else CPU only: the rule of
      :func:`gan_pipelines.training.device.select_device` (CUDA > MPS > CPU) for the providers
      onnxruntime offers (it has no MPS provider);
    - ``"cpu"``: CPU only;
    - ``"cuda"`` / ``"cuda:<index>"``: CUDA on that device (index 0 by default), then CPU.

    Raises ValueError when ``cuda`` is asked for and the build has no ``CUDAExecutionProvider``
    (install onnxruntime-gpu), or for any other preference (``mps``: use the torch backend).
    """
    preference = str(device).strip().lower()
    kind, _, index = preference.partition(":")
    has_cuda = "CUDAExecutionProvider" in available
    if preference == "auto":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if has_cuda else ["CPUExecutionProvider"]
    if preference == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda" and (not index or index.isdigit()):
        if not has_cuda:
            raise ValueError(
                f"device {device!r} was requested but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use device 'cpu' or 'auto'"
            )
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]
    raise ValueError(f"device {device!r} is not understood by the onnx backend; use 'auto', 'cpu', 'cuda' or 'cuda:<index>'")


def check_session_providers(
    device: str, requested: list[Any], session_providers: list[str], source: str = "the ONNX model"
) -> None:
    """After ``InferenceSession(..., providers=requested)``: when ``requested`` (from
    :func:`onnx_providers`) had CUDA but the session runs without ``CUDAExecutionProvider``
    (e.g. onnxruntime-gpu without its CUDA libraries; onnxruntime then falls back to CPU), raise
    ValueError for an explicit ``cuda`` / ``cuda:<index>`` device, naming the providers it runs
    on, and log a WARNING for ``auto``. ``session_providers``: ``session.get_providers()``."""
    wanted_cuda = any((p[0] if isinstance(p, tuple) else p) == "CUDAExecutionProvider" for p in requested)
    if not wanted_cuda or "CUDAExecutionProvider" in session_providers:
        return
    running = ", ".join(session_providers)
    if str(device).strip().lower().startswith("cuda"):
        raise ValueError(
            f"device {device!r} was requested but onnxruntime runs {source} on {running} (its "
            "CUDAExecutionProvider did not start: check the CUDA and cuDNN libraries onnxruntime-gpu needs), "
            "or use device 'cpu'"
        )
    logger.warning("onnxruntime offers CUDA but runs %s on %s (its CUDAExecutionProvider did not start)", source, running)
