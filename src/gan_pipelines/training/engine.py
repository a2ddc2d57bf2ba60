"""The generic training loop.

The engine knows nothing about a model family. A *task* (see :class:`TrainingTask`) owns the
networks, the optimisers and the losses and says what one training or validation step is; the
engine owns everything around it: device and precision, the epoch loop, gradient scaling and
clipping, NaN detection, validation, learning-rate schedules, best-checkpoint tracking, logging
(tqdm, ``logging``, TensorBoard) and full-state checkpoint/resume.

Writing a task::

    class MyTask:
        def __init__(self):
            self.modules = {"generator": G, "discriminator": D}
            self.optimizers = {"generator": Adam(G.parameters()), "discriminator": Adam(D.parameters())}

        def train_step(self, batch, step):
            with step.autocast():
                fake = step.module("generator")(batch["input"])
            d_loss = ...  # from fake.float(): losses are computed in fp32
            step.backward_and_step(d_loss, "discriminator")
            g_loss = ...
            step.backward_and_step(g_loss, "generator")
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

        def validation_step(self, batch, step): -> {"loss": float, ...}   # batch means
        def sample_images(self, batch): -> (N, 3, H, W) tensor in [0, 1], or None

Rules for tasks: build optimisers over the modules' parameters before calling :func:`fit` (the
engine moves modules to the device in place, which keeps parameter identity); in ``train_step``
run the modules being trained through ``step.module(name)`` (the ``DistributedDataParallel``
wrapper in a multi-process run, see :mod:`gan_pipelines.training.distributed`; the module itself
otherwise), validation uses the modules directly; run forward passes
inside ``step.autocast()`` and cast outputs to ``float()`` before losses and metrics, so losses
and reductions are fp32; call ``backward_and_step`` once per optimiser per batch, outside the
autocast block; and never touch test data -- ``fit`` only sees a validation loader, and the
validation metric ``config.monitor`` picks the best checkpoint.

Batches reach the task on the device with ``uint8`` tensors as float images in [-1, 1] and
``bool`` tensors as float masks in {0, 1} (:func:`~gan_pipelines.training.data.to_model_range`,
applied after the copy, so loaders can ship compact samples); float 4-D tensors are
channels-last when ``config.channels_last``.

Resume and the state file (``TrainerConfig.state_path``):

* After every epoch the full state (modules, optimisers, schedulers, grad scaler, epoch, global
  step, RNG states, history, best weights/metrics/epoch, a config fingerprint) is written
  atomically. A failure mid-epoch (crash, kill, NaN loss) leaves the previous epoch's file intact.
* ``resume=True``: if the file exists, training continues after its epoch; the fingerprint
  (task class, the task's ``hparams``, module structure, optimiser settings, seed, schedule kind
  and its settings, monitor, train-set size and batch size) must match, otherwise
  :class:`ResumeMismatchError` lists what differs. If the file does not exist, training starts
  fresh (logged).
* ``resume=False`` and the file exists: it belongs to an earlier run, so it is moved aside to
  ``<stem>.superseded-<timestamp><suffix>`` (logged as a warning) and training starts fresh.
  Only the newest ``keep_superseded_states`` superseded files are kept (default 1; ``None``
  keeps all); older ones are deleted, and the log names them.
* One run per state file: the run holds ``<state_path>.lock`` (an OS lock, released when the
  process ends, however it ends); a second run on the same path stops at once with
  :class:`~gan_pipelines.training.state_files.StateLockedError` naming the running one, before it
  touches the file (see :mod:`gan_pipelines.training.state_files`).

With fixed seeds on CPU a run stopped after epoch k and resumed ends with exactly the weights of
a run never stopped: shuffling depends only on ``(seed, epoch)`` (see
:func:`gan_pipelines.training.data.make_loader`), augmentation only on ``(seed, epoch, index)``,
and the global RNGs are restored from the state file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import pandas as pd
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from gan_pipelines.library_versions import library_versions, warn_if_versions_differ
from gan_pipelines.params import endpoint_problem

from .checkpointing import CheckpointError, load_training_state, save_training_state
from .data import to_model_range
from .device import Precision, autocast_context, configure_cpu_threads, select_device, select_precision
from .distributed import (
    all_reduce_sums, any_worker, barrier, current_group, share_buffers_from_rank0, wrap_for_training,
)
from .reproducibility import capture_rng_state, restore_rng_state, seed_everything
from .state_files import StateLock, move_aside, prune_superseded

logger = logging.getLogger(__name__)

STATE_FORMAT = "gan_pipelines.training_state"
STATE_FORMAT_VERSION = 1


SCHEDULERS = ("plateau", "linear", "step", "none")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stopped before it reached the weights."""


class ResumeMismatchError(RuntimeError):
    """Resume was requested from a state file written by a different run configuration."""


class TrainingTask(Protocol):
    """What a model family provides to :func:`fit`.

    Optional: ``hparams`` (a mapping of plain values) is added to the resume fingerprint, so a
    task can make settings that the engine cannot see (loss weights, ...) part of it.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def train_step(self, batch: dict[str, torch.Tensor], step: "StepContext") -> dict[str, torch.Tensor]:
        """One optimisation step; returns detached scalar losses for logging."""
        ...

    def validation_step(self, batch: dict[str, torch.Tensor], step: "StepContext") -> dict[str, float]:
        """Per-batch metric means; the engine averages them weighted by batch size."""
        ...

    def sample_images(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """``(N, 3, H, W)`` images in [0, 1] for a TensorBoard grid, or None."""
        ...


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass
class TrainerConfig:
    """Settings of :func:`fit`; :meth:`from_params` builds one from a ``training`` parameters block.

    ``epochs`` is the total number of epochs, counting those done before a resume. Metrics named
    by ``monitor`` and ``scheduler_metric`` are keys of the task's ``validation_step`` output.
    ``monitor: None`` keeps the last epoch's weights instead of the best (the GAN references,
    pix2pix and SPADE, keep the latest: a validation loss such as L1 can prefer a blurry early
    epoch to a sharp later one). ``monitor_start_epoch`` (1-based, default 1) is the first epoch
    the monitor may keep: earlier epochs are validated and logged but never kept, e.g. to choose
    only among the epochs of a decaying learning rate, whose weights have settled (an early epoch
    can win a noisy metric by chance). ``log_every_steps`` throttles per-step TensorBoard scalars and
    the tqdm postfix; ``cpu_threads`` sets torch's CPU threads (None: torch default, or the
    cores shared out over the workers); ``deterministic`` asks torch for deterministic kernels
    (GPU; CPU is deterministic anyway). ``devices`` > 1 trains data-parallel in that many
    processes (GPUs, or CPU processes); the training node launches them
    (:func:`gan_pipelines.training.distributed.launch`) and :func:`fit` runs inside each.
    ``nodes`` > 1 trains across that many machines, ``devices`` processes on each: every machine
    runs the same training with its own ``node_rank`` (0..nodes-1) and the same ``rdzv_endpoint``
    (``host:port`` of node 0, which hosts the rendezvous; required then); only node 0 writes
    (see :mod:`gan_pipelines.training.distributed`).
    ``sync_batchnorm`` (CUDA only) then shares BatchNorm statistics. ``compile`` runs the
    modules through ``torch.compile`` (slow first steps, then faster kernels; the saved state
    dicts are unchanged). ``fused_optimizer``: ``auto`` uses the fused Adam kernels on CUDA and
    CPU, ``true`` on any device, ``false`` never.

    Learning-rate schedule (``scheduler``, one per optimiser, stepped after every epoch):

    * ``"plateau"`` (default): ``ReduceLROnPlateau`` on the validation metric
      ``scheduler_metric`` (``scheduler_mode``/``scheduler_factor``/``scheduler_patience``).
    * ``"linear"`` (pix2pix): the optimiser's own lr for the first ``lr_constant_epochs``
      epochs, then a linear decay over the remaining ``epochs - lr_constant_epochs``. Epoch
      ``k`` (1-based) trains at ``lr * (1 - max(0, k - c) / (epochs - c + 1))`` with
      ``c = lr_constant_epochs``; e.g. ``epochs=6, c=3``: 1, 1, 1, 0.75, 0.5, 0.25 times lr.
      The last epoch thus trains at ``lr / (epochs - c + 1)``, one decay step above zero.
      ``lr_constant_epochs`` is required (0 <= c <= epochs; c = epochs never decays); since
      the schedule depends on ``epochs``, both are part of the resume fingerprint.
    * ``"step"`` (MUNIT's): the lr times ``lr_step_factor`` every ``lr_step_epochs`` epochs:
      epoch ``k`` (1-based) trains at ``lr * lr_step_factor ** ((k - 1) // lr_step_epochs)``;
      e.g. ``lr_step_epochs=2, lr_step_factor=0.5``: 1, 1, 0.5, 0.5, 0.25 times lr.
    * ``"none"``: the optimisers' lr throughout.

    The ``scheduler_*`` settings only apply to ``plateau``, ``lr_constant_epochs`` only to
    ``linear``, ``lr_step_epochs`` / ``lr_step_factor`` only to ``step``.

    ``ema_decay`` (None: off) keeps an exponential moving average of the weights of the modules
    named in ``ema_modules`` (None: every module), updated after every training step:
    ``ema = decay * ema + (1 - decay) * weights`` over parameters and buffers (BatchNorm running
    statistics included), through ``torch.optim.swa_utils.AveragedModel``. Validation, the kept
    (best or last) weights, the sample images and ``FitResult`` use the averages; training goes on
    with the raw weights, and the state file holds both, so a resume continues the same average.
    With ``decay`` d the average spans about ``1 / (1 - d)`` steps. It makes the kept model depend
    less on where the last steps happened to land (Polyak averaging; Karras et al., "Progressive
    growing of GANs", ICLR 2018, and Yazici et al., "The unusual effectiveness of averaging in GAN
    training", ICLR 2019).

    ``keep_superseded_states``: how many earlier runs' full states (moved aside as
    ``*.superseded-*`` when a fresh run starts on ``state_path``) are kept; older ones are deleted
    (default 1; 0 keeps none; ``None`` keeps all). Not part of the resume fingerprint.
    """

    epochs: int
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    monitor: str | None = "loss"
    monitor_mode: str = "min"
    monitor_start_epoch: int = 1
    scheduler_metric: str = "loss"
    scheduler_mode: str = "min"
    scheduler_factor: float = 0.9
    scheduler_patience: int = 10
    grad_clip_norm: float | None = None
    state_path: str | None = None
    resume: bool = False
    log_dir: str | None = None
    sample_every: int = 5
    log_every_steps: int = 10
    channels_last: bool = True
    progress: bool = True
    cpu_threads: int | None = None
    deterministic: bool = False
    devices: int = 1
    nodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    sync_batchnorm: bool = False
    compile: bool = False
    fused_optimizer: str = "auto"
    scheduler: str = "plateau"
    lr_constant_epochs: int | None = None
    lr_step_epochs: int | None = None
    lr_step_factor: float = 0.5
    keep_superseded_states: int | None = 1
    ema_decay: float | None = None
    ema_modules: tuple[str, ...] | list[str] | None = None

    def __post_init__(self) -> None:
        def fail(name: str, why: str) -> None:
            raise ValueError(f"training.{name} {why}, got {getattr(self, name)!r}.")

        def is_int(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if not is_int(self.epochs) or self.epochs < 1:
            fail("epochs", "must be a positive integer")
        if not is_int(self.seed):
            fail("seed", "must be an integer")
        for name in ("monitor_mode", "scheduler_mode"):
            if getattr(self, name) not in ("min", "max"):
                fail(name, "must be 'min' or 'max'")
        if not 0.0 < float(self.scheduler_factor) < 1.0:
            fail("scheduler_factor", "must be in (0, 1)")
        if not is_int(self.scheduler_patience) or self.scheduler_patience < 0:
            fail("scheduler_patience", "must be a non-negative integer")
        if self.scheduler not in SCHEDULERS:
            fail("scheduler", f"must be one of {', '.join(SCHEDULERS)}")
        if self.scheduler == "linear":
            if self.lr_constant_epochs is None:
                raise ValueError("training.lr_constant_epochs is required when training.scheduler is 'linear'.")
            if not is_int(self.lr_constant_epochs) or not 0 <= self.lr_constant_epochs <= self.epochs:
                fail("lr_constant_epochs", f"must be an integer in [0, epochs={self.epochs}]")
        elif self.lr_constant_epochs is not None:
            fail("lr_constant_epochs", f"only applies to training.scheduler 'linear' (scheduler is {self.scheduler!r})")
        if self.scheduler == "step":
            if not is_int(self.lr_step_epochs) or self.lr_step_epochs < 1:
                fail("lr_step_epochs", "must be a positive integer when training.scheduler is 'step'")
            if not 0.0 < float(self.lr_step_factor) < 1.0:
                fail("lr_step_factor", "must be in (0, 1)")
        elif self.lr_step_epochs is not None:
            fail("lr_step_epochs", f"only applies to training.scheduler 'step' (scheduler is {self.scheduler!r})")
        if self.grad_clip_norm is not None and not float(self.grad_clip_norm) > 0:
            fail("grad_clip_norm", "must be positive or null")
        for name in ("sample_every", "log_every_steps"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 1:
                fail(name, "must be a positive integer")
        if self.fused_optimizer not in ("auto", True, False):
            fail("fused_optimizer", "must be auto, true or false")
        if self.monitor is not None and (not isinstance(self.monitor, str) or not self.monitor):
            fail("monitor", "must be a validation metric name, or null to keep the last epoch")
        if not is_int(self.monitor_start_epoch) or not 1 <= self.monitor_start_epoch <= self.epochs:
            fail("monitor_start_epoch", f"must be an integer in [1, epochs={self.epochs}]")
        if not isinstance(self.compile, bool):
            fail("compile", "must be true or false")
        if not is_int(self.devices) or self.devices < 1:
            fail("devices", "must be a positive integer")
        if not is_int(self.nodes) or self.nodes < 1:
            fail("nodes", "must be a positive integer")
        if not is_int(self.node_rank) or not 0 <= self.node_rank < self.nodes:
            fail("node_rank", f"must be an integer in [0, nodes - 1 = {self.nodes - 1}]")
        if self.nodes > 1 and self.rdzv_endpoint is None:
            raise ValueError(f"training.rdzv_endpoint is required when training.nodes is {self.nodes}: node 0's "
                             "address and a free port, e.g. node0.cluster:29400, the same on every node.")
        if self.rdzv_endpoint is not None and endpoint_problem(self.rdzv_endpoint):
            raise ValueError(f"training.rdzv_endpoint {endpoint_problem(self.rdzv_endpoint)}.")
        if self.resume and not self.state_path:
            raise ValueError("training.resume is true but training.state_path is not set.")
        if self.keep_superseded_states is not None and (
            not is_int(self.keep_superseded_states) or self.keep_superseded_states < 0
        ):
            fail("keep_superseded_states", "must be a non-negative integer or null (keep all)")
        if self.ema_decay is not None and (
            isinstance(self.ema_decay, bool) or not isinstance(self.ema_decay, (int, float)) or not 0.0 < self.ema_decay < 1.0
        ):
            fail("ema_decay", "must be in (0, 1) (e.g. 0.99 averages about the last 100 steps) or null (off)")
        if self.ema_modules is not None and (
            isinstance(self.ema_modules, str) or not all(isinstance(n, str) and n for n in self.ema_modules)
        ):
            fail("ema_modules", "must be a list of module names or null (every module)")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "TrainerConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"Unknown training setting(s): {', '.join('training.' + k for k in unknown)}; "
                f"known: {', '.join(sorted(known))}."
            )
        if "epochs" not in params:
            raise ValueError("training.epochs is required.")
        return cls(**params)


@dataclass
class FitResult:
    """What :func:`fit` returns. State dicts are CPU copies, independent of the live modules."""

    best_state_dicts: dict[str, dict[str, torch.Tensor]]
    best_epoch: int
    best_metrics: dict[str, float]
    history: pd.DataFrame
    last_state_dicts: dict[str, dict[str, torch.Tensor]]
    precision: str
    device: str
    resumed_from_epoch: int | None


# --------------------------------------------------------------------------------------------
# Step context
# --------------------------------------------------------------------------------------------


class StepContext:
    """Handed to the task's steps: device, precision, autocast, gradient scaling and stepping."""

    def __init__(
        self,
        device: torch.device,
        precision: Precision,
        scaler: torch.amp.GradScaler,
        optimizers: Mapping[str, torch.optim.Optimizer],
        grad_clip_norm: float | None,
    ) -> None:
        self.device = device
        self.precision = precision
        self.scaler = scaler
        self.epoch = 0
        self.global_step = 0
        self._optimizers = optimizers
        self._grad_clip_norm = grad_clip_norm
        self._stepped = False
        self._last_good_state = "no full-state checkpoint exists (training.state_path is not set)"
        self._training_modules: dict[str, nn.Module] = {}

    def module(self, name: str) -> nn.Module:
        """The module to run in ``train_step``: its ``DistributedDataParallel`` wrapper in a
        multi-process run (so gradients are averaged over workers), else the module itself."""
        try:
            return self._training_modules[name]
        except KeyError:
            raise KeyError(f"No module named {name!r}; the task has {sorted(self._training_modules)}.") from None

    def autocast(self):
        """Context manager for the forward pass at the run's precision."""
        return autocast_context(self.device, self.precision)

    def backward_and_step(
        self, loss: torch.Tensor, optimizer_name: str, *, retain_graph: bool = False
    ) -> None:
        """Zero the optimiser's gradients, backpropagate ``loss`` (scaled when fp16), clip, step.

        Raises:
            NonFiniteLossError: ``loss`` is NaN or infinite; nothing has been updated.
        """
        try:
            optimizer = self._optimizers[optimizer_name]
        except KeyError:
            raise KeyError(
                f"No optimiser named {optimizer_name!r}; the task has {sorted(self._optimizers)}."
            ) from None
        # In a multi-process run every worker must stop together, so the check is shared.
        if any_worker(not bool(torch.isfinite(loss.detach()).all()), self.device):
            value = loss.detach().float()
            shown = value.item() if value.numel() == 1 else value.tolist()
            raise NonFiniteLossError(
                f"{optimizer_name} loss is {shown} at epoch {self.epoch}, step {self.global_step}; "
                f"training stopped, {self._last_good_state}."
            )
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward(retain_graph=retain_graph)
        if self._grad_clip_norm is not None:
            self.scaler.unscale_(optimizer)
            params = [p for group in optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, self._grad_clip_norm)
        self.scaler.step(optimizer)
        self._stepped = True

    def _end_iteration(self) -> None:
        # One scaler update per batch, after every optimiser has stepped (torch AMP recipe for
        # several optimisers).
        if self._stepped:
            self.scaler.update()
            self._stepped = False

    def _record_saved_state(self, path: Path, epoch: int) -> None:
        self._last_good_state = f"the last good state is {path} (epoch {epoch})"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def batch_to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    """A loader batch as the task sees it: on ``device``, uint8/bool made float
    (:func:`to_model_range`), float 4-D tensors channels-last when asked."""
    if isinstance(batch, Mapping):
        return {k: batch_to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(batch_to_device(v, device, channels_last) for v in batch)
    if isinstance(batch, torch.Tensor):
        moved = batch.to(device, non_blocking=device.type == "cuda" and batch.is_pinned())
        moved = to_model_range(moved)  # uint8/bool from the loader -> float, on the device
        if channels_last and moved.dim() == 4 and moved.is_floating_point():
            moved = moved.contiguous(memory_format=torch.channels_last)
        return moved
    return batch


def use_fused_kernels(optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
    """Switch Adam/AdamW to their fused kernels (one kernel for all parameters instead of
    several per tensor). ``fused`` is a per-group option that ``step`` reads each time."""
    for optimizer in optimizers.values():
        if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
            for group in optimizer.param_groups:
                group["fused"], group["foreach"] = True, False


def _with_current_kernels(saved: Mapping[str, Any], optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The saved optimiser state with this run's kernel choice (``fused``/``foreach``):
    ``load_state_dict`` would otherwise restore the saved run's choice. Set before loading, so
    torch places each parameter's step counter where that kernel needs it."""
    saved = dict(saved)
    groups = []
    for saved_group, group in zip(saved["param_groups"], optimizer.param_groups):
        saved_group = dict(saved_group)
        for key in ("fused", "foreach"):
            if key in group:
                saved_group[key] = group[key]
        groups.append(saved_group)
    saved["param_groups"] = groups
    return saved


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    values = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, (list, tuple)) else ()
    for value in values:
        size = _batch_size(value)
        if size:
            return size
    return 0


def _set_epoch(loader: Any, epoch: int) -> None:
    for part in (getattr(loader, "sampler", None), getattr(loader, "dataset", None)):
        if hasattr(part, "set_epoch"):
            part.set_epoch(epoch)


def _cpu_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: v.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for k, v in module.state_dict().items()
    }


def _plain(value: Any) -> Any:
    """JSON-able, weights_only-loadable copy of a settings value."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _fingerprint_payload(task: TrainingTask, config: TrainerConfig, train_loader: Any) -> dict[str, Any]:
    def structure(module: nn.Module) -> str:
        text = json.dumps(
            [[k, list(v.shape), str(v.dtype)] for k, v in module.state_dict().items()]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    dataset = getattr(train_loader, "dataset", None)
    payload = {
        "task": f"{type(task).__module__}.{type(task).__qualname__}",
        "task_hparams": _plain(getattr(task, "hparams", {})),
        "modules": {name: structure(m) for name, m in sorted(task.modules.items())},
        "optimizers": {
            name: {"class": type(o).__name__, "defaults": _plain(o.defaults)}
            for name, o in sorted(task.optimizers.items())
        },
        "config": {name: getattr(config, name) for name in _fingerprinted_settings(config)},
        "train_samples": len(dataset) if hasattr(dataset, "__len__") else None,
        "batch_size": getattr(train_loader, "batch_size", None),
    }
    if current_group() is not None:  # absent for one process, so older state files still match
        payload["world_size"] = current_group().world_size
    return payload


def _fingerprinted_settings(config: TrainerConfig) -> tuple[str, ...]:
    """The settings that must match for a resume. The plateau schedule lists exactly the keys
    it always did, so state files written before other schedules existed still resume."""
    common = ("seed", "monitor", "monitor_mode")
    if config.monitor_start_epoch != 1:  # listed only when set, so older state files still match
        common += ("monitor_start_epoch",)
    tail = ("grad_clip_norm", "deterministic")
    if config.ema_decay is not None:  # listed only when set, so older state files still match
        tail += ("ema_decay", "ema_modules")
    if config.scheduler == "plateau":
        return common + ("scheduler_metric", "scheduler_mode", "scheduler_factor", "scheduler_patience") + tail
    if config.scheduler == "linear":  # the decay's length depends on the total epoch count
        return common + ("scheduler", "lr_constant_epochs", "epochs") + tail
    if config.scheduler == "step":
        return common + ("scheduler", "lr_step_epochs", "lr_step_factor") + tail
    return common + ("scheduler",) + tail


def linear_lr_factor(epochs_done: int, constant_epochs: int, total_epochs: int) -> float:
    """The ``linear`` schedule's lr multiplier for the epoch after ``epochs_done`` finished
    epochs (epoch ``k = epochs_done + 1``): ``1 - max(0, k - c) / (total - c + 1)``."""
    return 1.0 - max(0, epochs_done + 1 - constant_epochs) / (total_epochs - constant_epochs + 1)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainerConfig) -> Any:
    """The lr scheduler of ``config.scheduler``; the engine steps it once after every epoch
    and saves/restores its state with the run."""
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=config.scheduler_mode,
            factor=config.scheduler_factor,
            patience=config.scheduler_patience,
        )
    if config.scheduler == "linear":
        constant, total = int(config.lr_constant_epochs), config.epochs

        def factor(epochs_done: int) -> float:
            return linear_lr_factor(epochs_done, constant, total)
    elif config.scheduler == "step":
        every, gamma = int(config.lr_step_epochs), float(config.lr_step_factor)

        def factor(epochs_done: int) -> float:
            return gamma ** (epochs_done // every)
    else:
        def factor(epochs_done: int) -> float:
            return 1.0
    # A plain function: LambdaLR saves its step count, not the function, so the factor always
    # comes from this run's config (which the fingerprint ties to the saved run's).
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()


def _differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, Mapping) and isinstance(current, Mapping):
        out: list[str] = []
        for key in sorted(set(saved) | set(current)):
            out += _differences(saved.get(key), current.get(key), f"{prefix}{key}.")
        return out
    return [] if saved == current else [f"{prefix[:-1]} (saved {saved!r}, now {current!r})"]


def _is_better(value: float, best: float | None, mode: str) -> bool:
    if value != value:  # NaN never improves
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best


def _metric(metrics: Mapping[str, float], name: str, setting: str) -> float:
    if name not in metrics:
        raise KeyError(
            f"training.{setting}={name!r} is not a validation metric; the task's "
            f"validation_step returns {sorted(metrics)}."
        )
    return float(metrics[name])


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def fit(
    task: TrainingTask,
    train_loader: Any,
    val_loader: Any,
    config: TrainerConfig,
    *,
    on_epoch_end: Callable[[int, dict[str, float]], bool | None] | None = None,
) -> FitResult:
    """Train ``task`` for ``config.epochs`` epochs (in total, counting resumed ones).

    Args:
        task: see :class:`TrainingTask`.
        train_loader: iterable of batches (dicts of tensors); ``set_epoch(epoch)`` is called on
            its ``sampler`` and ``dataset`` before each epoch when they have it.
        val_loader: validation batches; drive the best checkpoint and the ``plateau`` LR
            schedule.
        config: :class:`TrainerConfig`.
        on_epoch_end: called as ``on_epoch_end(epoch, history_row)`` after validation and
            logging and before the epoch's state is saved; returning True stops training after
            that save (early stopping).

    Raises:
        NonFiniteLossError: a loss became NaN/inf; the previous epoch's state file is intact.
        ResumeMismatchError: resume from a state file of a different configuration.
        CheckpointError: the state file to resume from is unreadable.
        StateLockedError: another run is using ``config.state_path``.
    """
    group = current_group()
    lock = StateLock(config.state_path) if config.state_path and (group is None or group.is_main) else None
    if lock is not None:
        lock.acquire()  # before anything reads, moves or writes the state file
    try:
        return _fit(task, train_loader, val_loader, config, on_epoch_end=on_epoch_end)
    finally:
        if lock is not None:
            lock.release()


def _fit(
    task: TrainingTask,
    train_loader: Any,
    val_loader: Any,
    config: TrainerConfig,
    *,
    on_epoch_end: Callable[[int, dict[str, float]], bool | None] | None,
) -> FitResult:
    if not task.modules or not task.optimizers:
        raise ValueError("The task must have at least one module and one optimiser.")

    group = current_group()
    is_main = group is None or group.is_main
    device = select_device(config.device)
    if group is not None and device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
    precision = select_precision(device, config.precision)
    if device.type == "cpu":
        threads = config.cpu_threads
        if threads is None and group is not None:  # share the cores out over this machine's workers
            threads = max(1, (os.cpu_count() or 1) // group.local_world_size)
        configure_cpu_threads(threads)
    # Same seed on every worker: identical initial weights (DDP also broadcasts rank 0's).
    seed_everything(config.seed, deterministic=config.deterministic)

    for module in task.modules.values():
        if config.channels_last:
            module.to(device=device, memory_format=torch.channels_last)
        else:
            module.to(device=device)
    # Measured on this project's 2-core CPU: fused Adam steps the 12.5M-parameter generator in
    # 16 ms instead of 108 ms; on CUDA it is the recommended kernel.
    if config.fused_optimizer is True or (config.fused_optimizer == "auto" and device.type in ("cuda", "cpu")):
        use_fused_kernels(task.optimizers)

    schedulers = {name: _make_scheduler(optimizer, config) for name, optimizer in task.optimizers.items()}
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_grad_scaler)
    step = StepContext(device, precision, scaler, task.optimizers, config.grad_clip_norm)
    if group is not None:
        step._training_modules = wrap_for_training(task.modules, device, sync_batchnorm=config.sync_batchnorm)
    else:
        step._training_modules = dict(task.modules)
    averages = _make_averages(task, config)  # before compile: the averages are plain copies
    if config.compile:
        # In place (nn.Module.compile), so state dicts and parameter identity stay as they are.
        for module in task.modules.values():
            module.compile()

    payload = _fingerprint_payload(task, config, train_loader)
    fingerprint = _digest(payload)

    state_path = Path(config.state_path) if config.state_path else None
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"epoch": None, "value": None, "metrics": {}, "state_dicts": None}
    start_epoch = 1
    resumed_from: int | None = None

    if config.resume and state_path is not None and group is not None:
        # Every worker reads the state file; a node that cannot see it would train other epochs.
        seen = int(all_reduce_sums([float(state_path.exists())], device)[0])
        if 0 < seen < group.world_size:
            raise CheckpointError(
                f"training.resume: only {seen} of {group.world_size} workers see {state_path}; with "
                "training.nodes > 1 every node must see the same project folder (a shared file system)."
            )
    if state_path is not None and state_path.exists():
        if config.resume:
            state = load_training_state(state_path)
            _check_resumable(state, state_path, payload, fingerprint)
            for name, module in task.modules.items():
                module.load_state_dict(state["modules"][name])
            for name, optimizer in task.optimizers.items():
                optimizer.load_state_dict(_with_current_kernels(state["optimizers"][name], optimizer))
            for name, scheduler in schedulers.items():
                scheduler.load_state_dict(state["schedulers"][name])
            for name, average in averages.items():
                average.load_state_dict(state["averages"][name])
            if scaler.is_enabled() and state["scaler"]:
                scaler.load_state_dict(state["scaler"])
            restore_rng_state(state["rng"])
            step.global_step = int(state["global_step"])
            history = [dict(row) for row in state["history"]]
            best = dict(state["best"])
            resumed_from = int(state["epoch"])
            start_epoch = resumed_from + 1
            step._record_saved_state(state_path, resumed_from)
            warn_if_versions_differ(state, f"the training state {state_path}", "resuming")
            if state.get("precision") != precision.name or state.get("device") != str(device):
                logger.warning(
                    "Resuming a run saved with %s on %s, now %s on %s: results will not match an "
                    "uninterrupted run bit for bit.",
                    state.get("precision"), state.get("device"), precision.name, device,
                )
            logger.info(
                "Resumed from %s: %d of %d epoch(s) done, global step %d.",
                state_path, resumed_from, config.epochs, step.global_step,
            )
        elif is_main:
            moved = move_aside(state_path)
            logger.warning(
                "training.resume is false and %s holds an earlier run's state; moved it to %s "
                "and starting fresh.",
                state_path, moved,
            )
            removed = prune_superseded(state_path, config.keep_superseded_states)
            if removed:
                logger.info(
                    "training.keep_superseded_states is %d: deleted %d older superseded state(s) (%s).",
                    config.keep_superseded_states, len(removed), ", ".join(p.name for p in removed),
                )
    elif config.resume:
        logger.info("training.resume is true but there is no saved state at %s; starting fresh.", state_path)
    if resumed_from is None:
        logger.info("Starting a fresh run of %d epoch(s).", config.epochs)
        if state_path is not None:
            step._last_good_state = f"no epoch has finished yet, so {state_path} was not written"
    logger.info(
        "Training on %s at %s precision%s.", device, precision.name,
        f", {group.world_size} data-parallel workers" if group is not None else "",
    )
    barrier()  # rank 0 has moved an old state file aside before any worker writes a new one

    writer = None
    if config.log_dir and is_main:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step hides events a crashed run logged after the state we resumed from.
        writer = SummaryWriter(
            config.log_dir, purge_step=step.global_step + 1 if resumed_from is not None else None
        )

    try:
        for epoch in range(start_epoch, config.epochs + 1):
            step.epoch = epoch
            _set_epoch(train_loader, epoch)
            _set_epoch(val_loader, epoch)

            learning_rates = {f"lr_{n}": float(o.param_groups[0]["lr"]) for n, o in task.optimizers.items()}
            started = time.perf_counter()
            train_means, n_train, train_seconds = _train_epoch(task, train_loader, step, config, writer, is_main,
                                                               averages)
            share_buffers_from_rank0(task.modules)
            # Validation, the kept weights and the samples see the averages where there are any
            # (one swap per epoch; the raw weights are back before the state file is written).
            with _averaged_weights(task, averages):
                val_metrics, first_val_batch = _validate(task, val_loader, step, config)
                seconds = time.perf_counter() - started

                if config.monitor is None:  # keep the last epoch
                    monitor_value, keep = None, True
                else:
                    monitor_value = _metric(val_metrics, config.monitor, "monitor")
                    keep = epoch >= config.monitor_start_epoch and _is_better(
                        monitor_value, best["value"], config.monitor_mode
                    )
                if keep:
                    best = {
                        "epoch": epoch,
                        "value": monitor_value,
                        "metrics": dict(val_metrics),
                        "state_dicts": {n: _cpu_state_dict(m) for n, m in task.modules.items()},
                    }

                row: dict[str, float] = {"epoch": epoch}
                row.update({f"train_{k}": v for k, v in train_means.items()})
                row.update({f"val_{k}": v for k, v in val_metrics.items()})
                row.update(learning_rates)
                row["seconds"] = seconds
                row["images_per_second"] = n_train / train_seconds if train_seconds > 0 else float("nan")
                history.append(row)
                log = logger.info if is_main else logger.debug
                log(
                    "Epoch %d/%d: %s (%.1f s)%s",
                    epoch, config.epochs,
                    ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k.startswith(("train_", "val_"))),
                    seconds,
                    " best" if best["epoch"] == epoch and config.monitor is not None else "",
                )

                if writer is not None:
                    _log_epoch(writer, task, row, first_val_batch, epoch, step.global_step, config)

            if config.scheduler == "plateau":
                scheduler_value = _metric(val_metrics, config.scheduler_metric, "scheduler_metric")
                for scheduler in schedulers.values():
                    scheduler.step(scheduler_value)
            else:
                for scheduler in schedulers.values():
                    scheduler.step()

            stop = bool(on_epoch_end(epoch, dict(row))) if on_epoch_end is not None else False
            stop = any_worker(stop, device)  # all workers stop together

            if state_path is not None and is_main:
                save_training_state(
                    state_path,
                    {
                        "format": STATE_FORMAT,
                        "format_version": STATE_FORMAT_VERSION,
                        "epoch": epoch,
                        "global_step": step.global_step,
                        "modules": {n: _cpu_state_dict(m) for n, m in task.modules.items()},
                        "optimizers": {n: o.state_dict() for n, o in task.optimizers.items()},
                        "schedulers": {n: s.state_dict() for n, s in schedulers.items()},
                        "averages": {n: a.state_dict() for n, a in averages.items()},
                        "scaler": scaler.state_dict(),
                        "rng": capture_rng_state(),
                        "history": history,
                        "best": best,
                        "fingerprint": fingerprint,
                        "fingerprint_payload": payload,
                        "precision": precision.name,
                        "device": str(device),
                        "versions": library_versions(),
                    },
                )
            if state_path is not None:
                step._record_saved_state(state_path, epoch)
            if stop:
                logger.info("on_epoch_end asked to stop after epoch %d.", epoch)
                break
    finally:
        if writer is not None:
            writer.close()

    with _averaged_weights(task, averages):
        last_state_dicts = {n: _cpu_state_dict(m) for n, m in task.modules.items()}
    if best["state_dicts"] is None:
        last_epoch = int(history[-1]["epoch"]) if history else 0
        logger.warning(
            "Validation metric %r was never finite from epoch %d on (training.monitor_start_epoch); "
            "reporting the last epoch (%d) as best.",
            config.monitor, config.monitor_start_epoch, last_epoch,
        )
        best = {"epoch": last_epoch, "value": None, "metrics": {}, "state_dicts": last_state_dicts}
    if resumed_from is not None and resumed_from >= config.epochs:
        logger.info("The saved run already has %d epoch(s); nothing left to train.", resumed_from)

    return FitResult(
        best_state_dicts=best["state_dicts"],
        best_epoch=int(best["epoch"]),
        best_metrics={k: float(v) for k, v in best["metrics"].items()},
        history=pd.DataFrame(history),
        last_state_dicts=last_state_dicts,
        precision=precision.name,
        device=str(device),
        resumed_from_epoch=resumed_from,
    )


def _check_resumable(state: Mapping[str, Any], path: Path, payload: Mapping[str, Any], fingerprint: str) -> None:
    if state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not a gan_pipelines training-state file.")
    if state.get("format_version") != STATE_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has training-state format version {state.get('format_version')}, "
            f"this code reads version {STATE_FORMAT_VERSION}."
        )
    if state.get("fingerprint") != fingerprint:
        differences = _differences(state.get("fingerprint_payload", {}), payload) or ["(unknown)"]
        raise ResumeMismatchError(
            f"training.resume is true, but {path} was written by a different run configuration; "
            f"it differs in: {'; '.join(differences)}. Use another training.state_path, or set "
            "training.resume to false to start fresh (the old file is then moved aside)."
        )


def _make_averages(task: TrainingTask, config: TrainerConfig) -> dict[str, AveragedModel]:
    """``{name: AveragedModel}`` for ``config.ema_modules`` (every module when None); empty when
    ``ema_decay`` is None. Raises ValueError naming an unknown module."""
    if config.ema_decay is None:
        return {}
    names = list(task.modules) if config.ema_modules is None else list(config.ema_modules)
    unknown = [name for name in names if name not in task.modules]
    if unknown:
        raise ValueError(
            f"training.ema_modules names {unknown}, which this task does not train; its modules: {sorted(task.modules)}."
        )
    return {
        name: AveragedModel(task.modules[name], multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        for name in names
    }


@contextmanager
def _averaged_weights(task: TrainingTask, averages: Mapping[str, AveragedModel]):
    """Inside: the averaged modules hold their moving averages; after: their raw weights again."""
    raw = {name: {k: v.detach().clone() for k, v in task.modules[name].state_dict().items()} for name in averages}
    for name, average in averages.items():
        task.modules[name].load_state_dict(average.module.state_dict())
    try:
        yield
    finally:
        for name, state in raw.items():
            task.modules[name].load_state_dict(state)


def _train_epoch(
    task: TrainingTask, loader: Any, step: StepContext, config: TrainerConfig, writer: Any, is_main: bool,
    averages: Mapping[str, AveragedModel] | None = None,
) -> tuple[dict[str, float], int, float]:
    for module in task.modules.values():
        module.train()
    sums: dict[str, torch.Tensor] = {}
    seen = 0
    started = time.perf_counter()
    bar = tqdm(
        loader,
        desc=f"epoch {step.epoch}/{config.epochs}",
        disable=not (config.progress and is_main),
        leave=False,
        dynamic_ncols=True,
    )
    try:
        for index, batch in enumerate(bar):
            batch = batch_to_device(batch, step.device, config.channels_last)
            size = _batch_size(batch)
            step.global_step += 1
            losses = task.train_step(batch, step)
            step._end_iteration()
            for name, average in (averages or {}).items():
                average.update_parameters(task.modules[name])
            losses = {k: torch.as_tensor(v).detach().float() for k, v in losses.items()}
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value * size
            seen += size
            if index % config.log_every_steps == 0:
                values = {k: v.item() for k, v in losses.items()}
                bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
                if writer is not None:
                    for key, value in values.items():
                        writer.add_scalar(f"train_step/{key}", value, step.global_step)
    finally:
        bar.close()
    if seen == 0:
        raise ValueError("The training loader yielded no samples (is drop_last on with too few samples?).")
    # Means over all workers' samples (the same numbers on every worker).
    keys = sorted(sums)
    *totals, seen = all_reduce_sums([sums[k] for k in keys] + [seen], step.device)
    return {k: total / seen for k, total in zip(keys, totals)}, int(seen), time.perf_counter() - started


def _validate(
    task: TrainingTask, loader: Any, step: StepContext, config: TrainerConfig
) -> tuple[dict[str, float], Any]:
    for module in task.modules.values():
        module.eval()
    sums: dict[str, float] = {}
    seen = 0
    first_batch = None
    # no_grad rather than inference_mode: a task may build tensors here (e.g. cached constants)
    # that it later uses in training, which inference tensors would forbid.
    with torch.no_grad():
        for batch in loader:
            batch = batch_to_device(batch, step.device, config.channels_last)
            if first_batch is None:
                first_batch = batch
            size = _batch_size(batch)
            for key, value in task.validation_step(batch, step).items():
                sums[key] = sums.get(key, 0.0) + float(value) * size
            seen += size
    # Every worker validates its share; the sums make the same metrics on all of them.
    keys = sorted(sums)
    *totals, seen = all_reduce_sums([sums[k] for k in keys] + [seen], step.device)
    if seen == 0:
        raise ValueError("The validation loader yielded no samples.")
    return {k: total / seen for k, total in zip(keys, totals)}, first_batch


def _log_epoch(
    writer: Any,
    task: TrainingTask,
    row: Mapping[str, float],
    first_val_batch: Any,
    epoch: int,
    global_step: int,
    config: TrainerConfig,
) -> None:
    # Every scalar uses the global step as x-axis so that purge_step works after a resume.
    for key, value in row.items():
        if key.startswith("train_"):
            writer.add_scalar(f"train/{key[6:]}", value, global_step)
        elif key.startswith("val_"):
            writer.add_scalar(f"val/{key[4:]}", value, global_step)
        elif key.startswith("lr_"):
            writer.add_scalar(f"lr/{key[3:]}", value, global_step)
    writer.add_scalar("epoch", epoch, global_step)
    writer.add_scalar("perf/images_per_second", row["images_per_second"], global_step)
    if first_val_batch is not None and (epoch % config.sample_every == 0 or epoch == config.epochs):
        with torch.no_grad():
            images = task.sample_images(first_val_batch)
        if images is not None:
            writer.add_images("samples", images.detach().float().clamp(0, 1).cpu(), global_step)
    writer.flush()
