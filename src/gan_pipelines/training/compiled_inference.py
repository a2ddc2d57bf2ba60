"""Generators compiled for inference: ``torch.compile`` (Inductor) with freezing.

Freezing treats the weights as constants, so Inductor folds each batch/instance norm in eval
mode into its convolution, fuses the activations, and hands oneDNN (CPU) its weights pre-packed
in the blocked layout it wants, once, instead of reordering (and, under bf16 autocast, casting)
every weight on every call. At batch 1 a 54M-parameter U-Net spends most of an eager call on
that per-call weight work. Measured on 2 cores of an Intel Xeon with AMX (2026-12-08, random
weights, 256 px, batch 1): pix2pix's U-Net 51 ms eager bf16 -> 18 ms compiled (fp32: 117 ->
64 ms); the shadow predictor (both blocks, the hint and the full-resolution step) 75 -> 49 ms.
The first call at each input size compiles (about 10-25 s on 2 cores; Inductor caches the result
on disk, so a later process reuses it), so it pays off for many pictures or a long-running
server, not for a handful.

Compiling needs a C++ compiler (Inductor's CPU code generation). Where compiling fails, the
module runs eagerly and says why, in the log and in :attr:`InferenceCompiled.status`.

Reference: PyTorch, "torch.compile" and ``torch._inductor.config.freezing``
(https://docs.pytorch.org/docs/stable/torch.compiler.html).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


class InferenceCompiled(nn.Module):
    """``module`` run through ``torch.compile(dynamic=False)`` with Inductor's freezing whenever
    gradients are off (inference); with gradients on, or after compiling failed, the eager
    ``module`` runs. Same inputs and outputs as ``module``; attributes the wrapper does not have
    are read from ``module`` (e.g. a generator's ``threshold``).

    The weights must not change after the first compiled call: freezing copies them into the
    compiled graph. Each new input shape compiles again (torch's recompile limit, 8 by default,
    then runs eagerly).

    ``status``: ``"compiled"`` once a call ran compiled, ``"not compiled yet"`` before, or
    ``"eager: <why compiling failed>"``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        # Kept out of the module tree: the compiled wrapper shares module's parameters, and
        # registering it would list them twice in state_dict().
        self.__dict__["_compiled"] = torch.compile(module, dynamic=False)
        self.status = "not compiled yet"

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["module"], name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if torch.is_grad_enabled() or self.status.startswith("eager"):
            return self.module(*args, **kwargs)
        import torch._inductor.config as inductor_config

        try:
            with inductor_config.patch(freezing=True):
                output = self._compiled(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any compiler failure falls back; input errors re-raise below
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            self.status = f"eager: compiling failed ({reason[:300]})"
            logger.warning("torch.compile failed, running %s eagerly instead: %s", type(self.module).__name__, reason[:300])
            return self.module(*args, **kwargs)  # a genuine input error raises here, from the eager module
        self.status = "compiled"
        return output


def combined_status(wrappers: Iterable[InferenceCompiled] | None) -> str:
    """One status for a predictor's compiled modules: ``"off"`` when there are none (``None``),
    else the first failure (``"eager: ..."``), else ``"compiled"`` once any ran compiled, else
    ``"not compiled yet"``."""
    if wrappers is None:
        return "off"
    statuses = {wrapper.status for wrapper in wrappers}
    failed = sorted(status for status in statuses if status.startswith("eager"))
    return failed[0] if failed else "compiled" if "compiled" in statuses else "not compiled yet"


def check_compile_setting(compile: Any) -> bool:
    """``compile`` when it is a bool (a predictor's ``compile`` argument); raises ValueError
    naming the value otherwise (``"yes"`` or 1 are refused rather than read as true)."""
    if not isinstance(compile, bool):
        raise ValueError(f"compile must be true or false, got {compile!r}")
    return compile


def compile_for_inference(module: nn.Module) -> InferenceCompiled:
    """``module`` (eval mode, on its device, channels-last where wanted: see
    :func:`~gan_pipelines.training.device.ready_for_inference`) wrapped in
    :class:`InferenceCompiled`. Nothing compiles until the first call without gradients."""
    return InferenceCompiled(module.eval())
