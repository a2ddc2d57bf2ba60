"""Reusable training engine: device and precision, data loading, the loop, checkpoint/resume.

Pure PyTorch (no Kedro import); a model family plugs in through a task object, see
:mod:`gan_pipelines.training.engine`.
"""

from .checkpointing import CheckpointError, load_training_state, save_training_state
from .data import (
    AugmentConfig,
    EpochShuffleSampler,
    PairedImageDataset,
    ResizeCropFlip,
    UnpairedImageDataset,
    make_loader,
    to_model_range,
)
from .device import (
    Precision,
    autocast_context,
    configure_cpu_threads,
    cpu_supports_bf16,
    ready_for_inference,
    select_device,
    select_precision,
)
from .engine import (
    FitResult,
    NonFiniteLossError,
    ResumeMismatchError,
    StepContext,
    TrainerConfig,
    TrainingTask,
    batch_to_device,
    fit,
)
from .gan import PairedGANTask, discriminator_step, frozen
from .reproducibility import capture_rng_state, restore_rng_state, seed_everything
from .state_files import StateLockedError

__all__ = [
    "AugmentConfig",
    "CheckpointError",
    "EpochShuffleSampler",
    "FitResult",
    "NonFiniteLossError",
    "PairedGANTask",
    "PairedImageDataset",
    "Precision",
    "ResizeCropFlip",
    "ResumeMismatchError",
    "StateLockedError",
    "StepContext",
    "TrainerConfig",
    "TrainingTask",
    "UnpairedImageDataset",
    "autocast_context",
    "batch_to_device",
    "capture_rng_state",
    "configure_cpu_threads",
    "cpu_supports_bf16",
    "discriminator_step",
    "fit",
    "frozen",
    "load_training_state",
    "make_loader",
    "ready_for_inference",
    "restore_rng_state",
    "save_training_state",
    "seed_everything",
    "select_device",
    "select_precision",
    "to_model_range",
]
