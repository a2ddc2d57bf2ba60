"""What every family's training nodes share: parameter checks, loaders, launching (one process or
data-parallel workers), checkpoint bundles.

Torch is imported inside functions so that `kedro viz` and the CLI start without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.params import ParameterError, TrainingParams, format_errors

logger = logging.getLogger(__name__)



def check_batch_size(params: Mapping[str, Any], section: str) -> int:
    batch_size = params.get("batch_size")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{section}.batch_size must be a positive integer; got {batch_size!r}")
    return batch_size


def check_learning_rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1); got {value!r}")
    return float(value)


def build_loaders(
    train_arrays: Mapping[str, np.ndarray],
    val_arrays: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    section: str,
    *,
    kinds: Mapping[str, str],
    augment: Any,
    seed: int,
):
    """Train loader (augmented with the family's ``augment`` recipe, shuffled) and val loader
    (plain, in order) over ``kinds`` (``{key: "rgb" | "mask" | "labels"}``, see
    :class:`gan_pipelines.training.data.PairedImageDataset`).

    ``batch_size`` is the global batch: in a data-parallel run each worker loads its share of
    every batch (see :mod:`gan_pipelines.training.distributed`).
    """
    import torch

    from gan_pipelines.training import PairedImageDataset, make_loader
    from gan_pipelines.training.distributed import current_group, per_device_batch_size

    group = current_group()
    rank, world_size = (group.rank, group.world_size) if group is not None else (0, 1)
    batch_size = per_device_batch_size(check_batch_size(params, section), world_size, section)
    num_workers = params.get("num_workers", 0)
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"{section}.num_workers must be a non-negative integer; got {num_workers!r}")
    device = str((params.get("training") or {}).get("device", "auto"))
    pin_memory = torch.cuda.is_available() and device != "cpu"
    train_set = PairedImageDataset(train_arrays, kinds, augment=augment, seed=seed)
    val_set = PairedImageDataset(val_arrays, kinds)
    shared = dict(seed=seed, num_workers=num_workers, pin_memory=pin_memory, rank=rank, world_size=world_size)
    # A last batch of one sample cannot train BatchNorm layers (one value per channel at a 1x1
    # bottleneck), so it is dropped; the shuffle drops a different sample every epoch.
    per_process = -(-len(train_set) // world_size)
    drop_last = per_process > batch_size and per_process % batch_size == 1
    if drop_last:
        logger.info("%s: %d training samples per process with batch %d; the lone last sample of each epoch is skipped",
                    section, per_process, batch_size)
    train_loader = make_loader(train_set, batch_size, shuffle=True, drop_last=drop_last, **shared)
    val_loader = make_loader(val_set, batch_size, shuffle=False, **shared)
    return train_loader, val_loader


def run_training(entrypoint: Callable[..., Any], args: tuple, config) -> Any:
    """``entrypoint(*args)`` here, or in ``training.devices`` data-parallel workers on this machine,
    one of ``training.nodes`` machines (this machine's first worker's result is returned: rank
    0's on node 0). ``entrypoint`` must be a module-level function: workers import it.

    The machines' rendezvous run id is the stage's state-file name (``<family>_<stage>``), the
    same on every machine and different for every training of one Kedro run (a second phase, a
    judge's other seeds), or the entrypoint's name when there is no state file."""
    from pathlib import Path

    from gan_pipelines.training.distributed import check_devices, launch

    devices = check_devices(config.devices, config.device, config.sync_batchnorm, config.nodes)
    name = Path(config.state_path).stem if config.state_path else f"{entrypoint.__module__}.{entrypoint.__qualname__}"
    return launch(entrypoint, args, processes=devices, device_preference=config.device, nodes=config.nodes,
                  node_rank=config.node_rank, rdzv_endpoint=config.rdzv_endpoint, run_id=f"gan_pipelines-{name}")


def trainer_config(params: Mapping[str, Any], section: str, **changes: Any):
    """The :class:`~gan_pipelines.training.TrainerConfig` of the stage ``section``
    (``"<family>.<stage>"``) from its ``training`` block (a mapping or a
    :class:`~gan_pipelines.params.TrainingParams`), with the state file and TensorBoard folder
    derived from ``section``; ``changes`` replace settings (a second phase's ``epochs`` or
    ``state_path``). Raises :class:`~gan_pipelines.params.ParameterError` naming
    ``<section>.training.<key>``."""
    from pydantic import ValidationError

    training = params.get("training")
    if not isinstance(training, TrainingParams):
        if not isinstance(training, Mapping):
            raise ParameterError(f"{section}.training must be a mapping of training settings; got {training!r}")
        try:
            training = TrainingParams.model_validate(dict(training))
        except ValidationError as exc:
            raise ParameterError(format_errors(exc, f"{section}.training")) from None
    return training.trainer_config(section, **changes)


def checkpoint_bundle(
    result, *, modules: tuple[str, ...], model_config: Mapping[str, Any], meta: Mapping[str, Any]
) -> dict[str, Any]:
    """The checkpoint saved through the catalog: best state dicts, how to rebuild the networks,
    the val metrics that chose them, the history and where it came from. Plain types only, so
    it loads with ``weights_only=True``."""
    from datetime import datetime, timezone

    from gan_pipelines.library_versions import library_versions

    return {
        "state_dicts": {name: result.best_state_dicts[name] for name in modules},
        "model_config": dict(model_config),
        "val_metrics": {k: float(v) for k, v in result.best_metrics.items()},
        "best_epoch": int(result.best_epoch),
        "history": {col: result.history[col].tolist() for col in result.history.columns},
        "meta": {
            "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "device": result.device,
            "precision": result.precision,
            "resumed_from_epoch": -1 if result.resumed_from_epoch is None else int(result.resumed_from_epoch),
            "versions": library_versions(),
            **meta,
        },
    }


def history_frame(result) -> pd.DataFrame:
    return result.history.reset_index(drop=True)


def check_bundle_family(bundle: Any, family: str, what: str = "generator") -> None:
    """Refuse a checkpoint that is not a bundle of :func:`checkpoint_bundle`, or that another
    family (``meta.family``) or another network (``meta.network``) wrote, naming what it is.
    Raises ValueError."""
    if not isinstance(bundle, Mapping) or "state_dicts" not in bundle:
        raise ValueError(f"The {what} checkpoint is not a checkpoint bundle of this project")
    meta = bundle.get("meta") or {}
    found = meta.get("family")
    if found != family:
        where = f"the {found!r} family" if found else "no family (another family's pipeline wrote it)"
        raise ValueError(f"The {what} checkpoint belongs to {where}, not {family!r}; pass a {family} checkpoint")
    if meta.get("network") not in (None, what):
        raise ValueError(f"The checkpoint holds a {meta.get('network')!r} network, not a {what}")


def log_kept_epoch(logger, section: str, result, config) -> None:
    """Log which epoch a run kept (the best by ``config.monitor``, or the last) and its val metrics."""
    logger.info("%s: kept epoch %d (%s), val %s", section, result.best_epoch,
                f"best {config.monitor}" if config.monitor else "the last",
                ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items()))
