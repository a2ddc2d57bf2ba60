"""Data-parallel training over several processes (GPUs, or CPU processes with gloo).

``training.devices: N`` with N > 1 makes a training node call :func:`launch`, which starts N
worker processes with torch's elastic launcher (the engine behind ``torchrun``) and runs one
plain Python function in each of them -- never the Kedro pipeline. Each worker joins the process
group, builds its own model and data loaders, and calls :func:`gan_pipelines.training.fit`, which
sees the process group and then:

* wraps every trained module in ``DistributedDataParallel`` (optionally converting BatchNorm to
  ``SyncBatchNorm`` first, CUDA only), so gradients are averaged across workers;
* gets a loader whose sampler hands each worker its own share of the same ``(seed, epoch)``
  permutation (see :class:`gan_pipelines.training.data.EpochShuffleSampler`), with
  ``batch_size / N`` samples per worker, so one step sees the same global batch as one process;
* sums training losses and validation metrics over the workers, so every worker takes the same
  learning-rate and best-checkpoint decisions;
* writes the state file, logs, progress bars and TensorBoard from rank 0 only.

Rank 0's result is returned to the node, which builds the one checkpoint bundle the catalog saves.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.elastic.multiprocessing.errors import record

logger = logging.getLogger(__name__)


_SYNC_BN_NEEDS_CUDA = (
    "training.sync_batchnorm needs CUDA devices (torch's SyncBatchNorm runs on GPUs only); "
    "set it to false for CPU training."
)


@dataclass(frozen=True)
class ProcessGroup:
    """Where this process sits in a multi-process run."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_group() -> ProcessGroup | None:
    """The running process group, or None for an ordinary single-process run."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return ProcessGroup(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())),
    )


def per_device_batch_size(batch_size: int, world_size: int, section: str) -> int:
    """``batch_size`` is the global batch; each of ``world_size`` workers takes an equal share."""
    if batch_size % world_size:
        raise ValueError(
            f"{section}.batch_size={batch_size} is the global batch and must divide evenly over "
            f"training.devices={world_size} workers"
        )
    return batch_size // world_size


def check_devices(devices: Any, device_preference: str, sync_batchnorm: bool = False) -> int:
    """Validate ``training.devices`` (and ``sync_batchnorm``) against what this machine has,
    before any worker starts; return the number of devices."""
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ValueError(f"training.devices must be a positive integer, got {devices!r}.")
    if sync_batchnorm and devices > 1 and not _uses_cuda(device_preference):
        raise ValueError(_SYNC_BN_NEEDS_CUDA)
    if devices > 1 and str(device_preference).startswith("mps"):
        raise ValueError("training.devices > 1 is not supported on MPS (one Apple GPU per machine).")
    if devices > 1 and _uses_cuda(device_preference):
        available = torch.cuda.device_count()
        if devices > available:
            raise ValueError(
                f"training.devices={devices} but this machine has {available} CUDA device(s)."
            )
    return devices


def _uses_cuda(device_preference: str) -> bool:
    if device_preference == "auto":
        return torch.cuda.is_available()
    return str(device_preference).startswith("cuda")


def wrap_for_training(
    modules: Mapping[str, nn.Module], device: torch.device, *, sync_batchnorm: bool
) -> dict[str, nn.Module]:
    """``DistributedDataParallel`` wrappers of the modules that have trainable parameters.

    The wrappers share parameters with the originals (optimisers stay valid); frozen modules are
    returned as they are. SyncBatchNorm is converted in place inside each module.
    """
    if sync_batchnorm and device.type != "cuda":
        raise ValueError(_SYNC_BN_NEEDS_CUDA)
    wrapped: dict[str, nn.Module] = {}
    for name, module in modules.items():
        if not any(p.requires_grad for p in module.parameters()):
            wrapped[name] = module
            continue
        if sync_batchnorm:
            converted = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            if converted is not module:  # only when the module itself is a BatchNorm layer
                raise ValueError(f"Module {name!r} is a bare BatchNorm layer; wrap it in a container.")
        device_ids = [device.index] if device.type == "cuda" else None
        wrapped[name] = nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
    return wrapped


def all_reduce_sums(values: Sequence[float | torch.Tensor], device: torch.device) -> list[float]:
    """Sum each value over all workers; in a single process just the values as floats (no
    tensor is built, so values may live on any device, MPS included)."""
    totals = [float(v) for v in values]
    if current_group() is None:
        return totals
    tensor = torch.tensor(totals, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().tolist()


def any_worker(flag: bool, device: torch.device) -> bool:
    """True if ``flag`` is true on any worker (so all workers take the same branch)."""
    if current_group() is None:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def share_buffers_from_rank0(modules: Mapping[str, nn.Module]) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every worker, so all of them
    validate the very model rank 0 saves. DDP only broadcasts them before a forward pass."""
    if current_group() is None:
        return
    for module in modules.values():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def barrier() -> None:
    if current_group() is not None:
        dist.barrier()


# --------------------------------------------------------------------------------------------
# Launching
# --------------------------------------------------------------------------------------------


def launch(entrypoint: Callable[..., Any], args: Sequence[Any], *, processes: int, device_preference: str) -> Any:
    """Run ``entrypoint(*args)`` in ``processes`` workers and return rank 0's result.

    ``processes == 1`` calls it directly in this process. Otherwise torch's elastic launcher
    spawns the workers (fresh interpreters: ``entrypoint`` must be a module-level function and
    ``args`` picklable); a failure in any worker stops all of them and is raised here.
    """
    if processes == 1:
        return entrypoint(*args)
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    backend = "nccl" if _uses_cuda(device_preference) else "gloo"
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=processes,
        run_id=f"gan_pipelines-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint=f"127.0.0.1:{_free_port()}",
        max_restarts=0,
        monitor_interval=0.5,
        start_method="spawn",
        logs_specs=DefaultLogsSpecs(),
    )
    logger.info("Launching %d %s workers for data-parallel training.", processes, backend)
    results = elastic_launch(config, _worker)(entrypoint, tuple(args), backend)
    return results[0]


@record  # a worker's exception reaches the launching process with its message and traceback
def _worker(entrypoint: Callable[..., Any], args: tuple, backend: str) -> Any:
    """Runs in each spawned worker: join the group, run the entrypoint, leave."""
    rank = int(os.environ["RANK"])
    # Kedro configured logging in the parent only, and importing Kedro in the worker resets the
    # root logger; a handler on the package's own logger survives that. Rank 0 reports progress,
    # the others only warnings.
    package_logger = logging.getLogger("gan_pipelines")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(f"[rank {rank}] %(levelname)s %(name)s: %(message)s"))
    package_logger.handlers = [handler]
    package_logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    package_logger.propagate = False
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend=backend)
    try:
        result = entrypoint(*args)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return result if rank == 0 else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
