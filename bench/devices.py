"""The device the GPU benchmarks run on: a CUDA GPU in half precision where there is one, else the CPU."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def accelerator() -> tuple[torch.device, torch.dtype, str]:
    """The device, the dtype the benchmarks use on it, and the machine's name for their tables."""
    if torch.cuda.is_available():
        device = torch.device("cuda")
        return device, torch.float16, torch.cuda.get_device_name(device)
    return torch.device("cpu"), torch.float32, "CPU"


def sync(device: torch.device) -> None:
    """Wait for the GPU's queued work (a timer read after it then counts that work); nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(run: Callable[[], Any], device: torch.device, repeat: int) -> float:
    """The median wall-clock seconds of `repeat` calls of `run`, the GPU's work included."""
    times = []
    for _ in range(repeat):
        sync(device)
        started = time.perf_counter()
        run()
        sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
