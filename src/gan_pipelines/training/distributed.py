"""Data-parallel training over several processes (GPUs, or CPU processes with gloo), on one
machine or across several.

``training.devices: N`` with N > 1 makes a training node call :func:`launch`, which starts N
worker processes with torch's elastic launcher (the engine behind ``torchrun``) and runs one
plain Python function in each of them -- never the Kedro pipeline. Each worker joins the process
group, builds its own model and data loaders, and calls :func:`gan_pipelines.training.fit`, which
sees the process group and then:

* wraps every trained module in ``DistributedDataParallel`` (optionally converting BatchNorm to
  ``SyncBatchNorm`` first, CUDA only), so gradients are averaged across workers;
* gets a loader whose sampler hands each worker its own share of the same ``(seed, epoch)``
  permutation (see :class:`gan_pipelines.training.data.EpochShuffleSampler`), with
  ``batch_size / world size`` samples per worker, so one step sees the same global batch as one
  process;
* sums training losses and validation metrics over the workers, so every worker takes the same
  learning-rate and best-checkpoint decisions;
* writes the state file (and holds its lock), logs, progress bars and TensorBoard from global
  rank 0 only.

Rank 0's result is returned to the node, which builds the one checkpoint bundle the catalog saves.

Several machines (``training.nodes: M`` > 1). Every machine runs the same ``kedro run`` of the
training pipeline, with its own ``training.node_rank`` (0..M-1) and the same
``training.rdzv_endpoint`` (``host:port`` on node 0). Each starts ``devices`` workers through
torch's c10d rendezvous: node 0's launcher hosts the rendezvous store at the endpoint (``is_host``),
the others join it, and the run id is the stage's state-file name, so the machines agree on it
with nothing else to set. The world is ``M x devices`` workers; ``batch_size`` stays the global
batch. The rendezvous numbers machines by host name and process id, so each worker takes
``RANK = node_rank x devices + local rank`` before it joins the process group: global rank 0, the
one that writes, is always on node 0.

Only node 0 saves. Every worker returns the same trained weights (DDP keeps them equal), so the
training node on node K > 0 gets a valid result and runs to its end as usual; what keeps it
from writing is explicit, in two places:

* inside the training, :func:`gan_pipelines.training.fit` writes the state file, its lock and
  TensorBoard from global rank 0 only (on node 0, see above);
* around it, the project's Kedro hook :class:`gan_pipelines.hooks.OtherNodeHooks` sees, before
  the pipeline runs, that a training block the run reads has ``nodes`` > 1 and ``node_rank`` > 0,
  logs that the run saves nothing, and puts a
  :class:`gan_pipelines.datasets.NotSavedDataset` in place of every dataset the run would write:
  saving to it only logs, so the checkpoint, the history and anything else stay node 0's.

So the machines may share one project folder (a shared file system), which is also what
``training.resume`` across machines needs (every worker reads the state file).
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
    local_world_size: int

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
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size())),
    )


def per_device_batch_size(batch_size: int, world_size: int, section: str) -> int:
    """``batch_size`` is the global batch; each of ``world_size`` workers (training.nodes x
    training.devices) takes an equal share."""
    if batch_size % world_size:
        raise ValueError(
            f"{section}.batch_size={batch_size} is the global batch and must divide evenly over its "
            f"{world_size} workers (training.nodes x training.devices)"
        )
    return batch_size // world_size


def check_devices(devices: Any, device_preference: str, sync_batchnorm: bool = False, nodes: int = 1) -> int:
    """Validate ``training.devices`` (and ``sync_batchnorm``) against what this machine has,
    before any worker starts; return the number of devices. ``nodes``: machines in the run
    (``training.nodes``, validated by the TrainerConfig), each with ``devices`` workers."""
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ValueError(f"training.devices must be a positive integer, got {devices!r}.")
    if sync_batchnorm and devices * nodes > 1 and not _uses_cuda(device_preference):
        raise ValueError(_SYNC_BN_NEEDS_CUDA)
    if devices * nodes > 1 and str(device_preference).startswith("mps"):
        raise ValueError("training.devices > 1 and training.nodes > 1 are not supported on MPS "
                         "(torch has no process-group backend for Apple GPUs).")
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


# How long a machine waits for the others, at the rendezvous and for node 0's store: nodes of one
# run may be started up to this far apart (torch's own default for the store is 60 s).
RENDEZVOUS_TIMEOUT_S = 600


def launch(
    entrypoint: Callable[..., Any],
    args: Sequence[Any],
    *,
    processes: int,
    device_preference: str,
    nodes: int = 1,
    node_rank: int = 0,
    rdzv_endpoint: str | None = None,
    run_id: str | None = None,
) -> Any:
    """Run ``entrypoint(*args)`` in ``processes`` workers on this machine, one of ``nodes``
    machines, and return the result of this machine's first worker: global rank 0's on node 0
    (on another node, its own copy of the same trained weights; see the module docstring).

    ``processes == 1`` on one machine calls it directly in this process. Otherwise torch's
    elastic launcher spawns the workers (fresh interpreters: ``entrypoint`` must be a
    module-level function and ``args`` picklable); a failure in any worker stops all of them and
    is raised here. With ``nodes`` > 1 every machine calls this with the same ``rdzv_endpoint``
    (``host:port`` of node 0, which hosts the c10d rendezvous store) and ``run_id``, and its own
    ``node_rank`` (0..nodes-1); the call returns when all machines have finished.
    """
    if processes == 1 and nodes == 1:
        return entrypoint(*args)
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nodes == 1:
        endpoint, run_id, rdzv_configs = f"127.0.0.1:{_free_port()}", f"gan_pipelines-{uuid.uuid4().hex[:12]}", {}
    else:
        if not rdzv_endpoint or not run_id:
            raise ValueError("training.rdzv_endpoint and a run id are required when training.nodes > 1.")
        endpoint = rdzv_endpoint
        rdzv_configs = {"is_host": node_rank == 0, "join_timeout": RENDEZVOUS_TIMEOUT_S,
                        "read_timeout": RENDEZVOUS_TIMEOUT_S}
    backend = "nccl" if _uses_cuda(device_preference) else "gloo"
    config = LaunchConfig(
        min_nodes=nodes,
        max_nodes=nodes,
        nproc_per_node=processes,
        run_id=run_id,
        rdzv_backend="c10d",
        rdzv_endpoint=endpoint,
        rdzv_configs=rdzv_configs,
        max_restarts=0,
        monitor_interval=0.5,
        start_method="spawn",
        logs_specs=DefaultLogsSpecs(),
    )
    if nodes == 1:
        logger.info("Launching %d %s workers for data-parallel training.", processes, backend)
    else:
        logger.info("Node %d of %d: launching %d %s worker(s) for data-parallel training across machines "
                    "(rendezvous %s at %s, %s).", node_rank, nodes, processes, backend, run_id, endpoint,
                    "hosted here" if node_rank == 0 else "hosted by node 0")
    # keyed by the launcher's global ranks of this machine's workers: the smallest is its first
    results = elastic_launch(config, _worker)(entrypoint, tuple(args), backend, nodes, node_rank)
    return results[min(results)]


@record  # a worker's exception reaches the launching process with its message and traceback
def _worker(entrypoint: Callable[..., Any], args: tuple, backend: str, nodes: int, node_rank: int) -> Any:
    """Runs in each spawned worker: join the group, run the entrypoint, leave. Returns the
    result from this machine's first worker only (the others' would be the same)."""
    local_rank, local_world_size = int(os.environ["LOCAL_RANK"]), int(os.environ["LOCAL_WORLD_SIZE"])
    if int(os.environ["WORLD_SIZE"]) != nodes * local_world_size:
        raise ValueError(f"training.devices must be the same on every machine: this one (node {node_rank}) has "
                         f"{local_world_size}, but the {nodes} machines have {os.environ['WORLD_SIZE']} workers in all.")
    # The rendezvous numbers the machines by host name and process id; number them by
    # training.node_rank instead, so that global rank 0 (the one that writes) is on node 0.
    rank = node_rank * local_world_size + local_rank
    os.environ["RANK"] = str(rank)
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
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    try:
        result = entrypoint(*args)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return result if local_rank == 0 else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
