"""What every benchmark script shares: the timing flags, the step timer, the training-memory
measure and the record of one side's training (``Measured``). Not a script.

Training memory (:class:`TrainingMemory`): on CUDA ``torch.cuda.max_memory_allocated`` after a
reset (weights, gradients, optimiser state, activations); on the CPU the process's peak resident
set size above its size before the networks were built (freed heap returned with
``malloc_trim`` first, the kernel's high-water mark reset through ``/proc/self/clear_refs``),
which counts the same things; elsewhere (MPS) not measured (None).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from gan_pipelines.training import configure_cpu_threads, select_device, select_precision

PROJECT = Path(__file__).resolve().parents[1]


class Timer:
    """Images per second over timed steps, after warm-up steps."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, step: Callable[[Any], None], batches, warmup: int, steps: int, batch_size: int) -> float:
        iterator = iter(cycle(batches))
        for _ in range(warmup):
            step(next(iterator))
        self.sync()
        started = time.perf_counter()
        for _ in range(steps):
            step(next(iterator))
        self.sync()
        return steps * batch_size / (time.perf_counter() - started)


def cycle(iterable):
    """The batches of ``iterable`` (a loader) over and over, a new epoch each time round."""
    epoch = 0
    while True:
        epoch += 1
        for part in (getattr(iterable, "sampler", None), getattr(iterable, "dataset", None)):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        yield from iterable


def inference_ms(run: Callable[[], Any], device: torch.device, warmup: int, steps: int, images: int = 1) -> float:
    """Milliseconds per image of ``run()`` (which handles ``images`` images), over ``steps``
    calls after ``warmup`` calls."""
    return 1000.0 / Timer(device).run(lambda _: run(), [None], warmup, steps, images)


# --------------------------------------------------------------------------------------------
# Training memory
# --------------------------------------------------------------------------------------------


def _proc_bytes(path: str, field: str) -> int:
    """A ``kB`` field of a /proc file (``/proc/self/status``, ``/proc/meminfo``) in bytes."""
    with open(path) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{path} has no {field}")


def _status_bytes(field: str) -> int:
    """This process's ``VmRSS``, ``VmHWM`` or ``VmSize`` in bytes."""
    return _proc_bytes("/proc/self/status", field)


def _meminfo_bytes(field: str) -> int:
    """A /proc/meminfo field (``MemAvailable``) in bytes."""
    return _proc_bytes("/proc/meminfo", field)


def _release_free_heap() -> None:
    """Give freed heap pages back to the kernel (glibc ``malloc_trim``), so that the resident
    size before a measurement is what is live, not what earlier measurements freed."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident high-water mark (``VmHWM``) to the current size; False where
    ``/proc/self/clear_refs`` cannot be written."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class TrainingMemory:
    """Context manager: peak training memory of the block, in bytes (:attr:`peak`; None where
    not measurable). CUDA: ``max_memory_allocated`` after a reset. CPU: peak resident set size
    above the size at entry (VmHWM after a reset, else sampled every 2 ms)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak: int | None = None
        self.kind = {"cuda": "cuda_max_memory_allocated", "cpu": "cpu_peak_rss_increase"}.get(device.type)
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TrainingMemory:
        _release_free_heap()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.device.type == "cpu":
            self.base = _status_bytes("VmRSS")
            if not _reset_peak_rss():
                self._sampled = self.base
                self._thread = threading.Thread(target=self._sample, daemon=True)
                self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._sampled = max(self._sampled, _status_bytes("VmRSS"))

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device))
        elif self.device.type == "cpu":
            if self._thread is not None:
                self._stop.set()
                self._thread.join()
                high = self._sampled
            else:
                high = _status_bytes("VmHWM")
            self.peak = max(0, high - self.base)

    def text(self) -> str:
        if self.peak is None:
            return "n/a"
        return f"{self.peak / 2**30:.2f} GiB" + (" (RSS)" if self.kind == "cpu_peak_rss_increase" else "")


# --------------------------------------------------------------------------------------------
# One side of a comparison
# --------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """One side's training: images per second over the timed steps, its training memory and the
    seconds the warm-up and timed steps took."""

    img_s: float
    memory: TrainingMemory
    seconds: float


def measure_training(make: Callable[[], tuple[Callable[[Any], None], Iterable]], device: torch.device, warmup: int,
                     steps: int, batch: int) -> Measured:
    """Build one side with ``make()`` -> ``(step function, batches)`` and time it, both inside
    :class:`TrainingMemory`, so the peak counts the networks, optimiser state and activations."""
    with TrainingMemory(device) as memory:
        step, batches = make()
        started = time.perf_counter()
        img_s = Timer(device).run(step, batches, warmup, steps, batch)
        seconds = time.perf_counter() - started
        del step, batches
    return Measured(img_s, memory, seconds)


# --------------------------------------------------------------------------------------------
# Flags and environment
# --------------------------------------------------------------------------------------------


def add_timing_options(parser: argparse.ArgumentParser, *, workers_help: str, steps: int = 6, warmup: int = 2) -> None:
    """The timing flags every benchmark script shares: --steps, --warmup, --device, --precision,
    --no-channels-last, --compile, --workers, --threads."""
    parser.add_argument("--steps", type=int, default=steps, help=f"timed steps per measurement (default {steps})")
    parser.add_argument("--warmup", type=int, default=warmup, help=f"untimed steps first (default {warmup})")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="auto, bf16, fp16 or fp32 (the project's path)")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the modules (project's path)")
    parser.add_argument("--workers", type=int, default=0, help=workers_help)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def apply_timing_options(args: argparse.Namespace):
    """(device, precision, channels_last) from the flags of :func:`add_timing_options`; on the CPU
    also sets torch's thread count (--threads)."""
    device = select_device(args.device)
    precision = select_precision(device, args.precision)
    if device.type == "cpu":
        configure_cpu_threads(args.threads)
    return device, precision, not args.no_channels_last


def environment(device: torch.device) -> dict[str, Any]:
    """Device, CPU model and count, torch version and threads, load average, GPU name."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {"device": str(device), "cpu": cpu, "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}
    with contextlib.suppress(OSError, AttributeError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
