"""Where and how the pipelines run: device, dtype and the memory mode."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from generation.settings import DType, GenerationSettings, MemoryMode

__all__ = ["NoGPUError", "Runtime", "to_uint8"]

log = logging.getLogger(__name__)

_DTYPES = {DType.FP16: torch.float16, DType.BF16: torch.bfloat16, DType.FP32: torch.float32}


class NoGPUError(RuntimeError):
    """A CUDA device was asked for and none is there."""


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype
    memory_mode: MemoryMode

    @classmethod
    def from_settings(cls, settings: GenerationSettings) -> Runtime:
        name = settings.device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        elif name.startswith("cuda") and not torch.cuda.is_available():
            raise NoGPUError(f"MOTIONBOT_DEVICE is {name!r} but no CUDA GPU is visible to this process")
        device = torch.device(name)
        dtype = _DTYPES.get(settings.dtype, torch.float16 if device.type == "cuda" else torch.float32)
        if device.type == "cpu" and dtype is not torch.float32:
            log.warning("half precision on CPU is slow and unsupported by some layers; using fp32")
            dtype = torch.float32
        return cls(device, dtype, settings.memory_mode)

    @property
    def offload(self) -> bool:
        """Model CPU offload: each model visits the GPU only while it runs (LOW mode, GPU only)."""
        return self.memory_mode is MemoryMode.LOW and self.device.type == "cuda"

    def decode_chunk(self, frames: int) -> int:
        """How many frames the VAE decodes at once: all of them, 8, or 2."""
        return {MemoryMode.FULL: frames, MemoryMode.BALANCED: min(8, frames), MemoryMode.LOW: 2}[self.memory_mode]

    def place(self, pipe: Any, cpu_modules: tuple[str, ...] = ()) -> Any:
        """Move a loaded pipeline to the device, or set up offload, per the memory mode. In the balanced
        mode `cpu_modules` stay on the CPU between their runs (LTX's 9.5 GB text encoder: see `visiting`)."""
        unet = getattr(pipe, "unet", None)
        if self.memory_mode is MemoryMode.LOW and unet is not None:
            unet.enable_forward_chunking(chunk_size=1, dim=1)  # feed-forward one frame at a time
        if unet is None and self.memory_mode is not MemoryMode.FULL and hasattr(pipe.vae, "enable_tiling"):
            pipe.vae.enable_tiling()  # a video VAE without a UNet beside it (LTX) decodes in spatial tiles
        if self.offload:
            pipe.enable_model_cpu_offload(device=self.device)
        elif self.memory_mode is MemoryMode.BALANCED and cpu_modules:
            for name, module in pipe.components.items():
                if isinstance(module, torch.nn.Module):
                    module.to("cpu" if name in cpu_modules else self.device)
        else:
            pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    @contextlib.contextmanager
    def visiting(self, module: torch.nn.Module) -> Iterator[None]:
        """Run `module` on the device: one kept on the CPU (balanced mode) comes over for the call and goes
        back after it, so it never shares the GPU with the next denoising's activations."""
        if module.device.type == "cpu" and self.device.type != "cpu" and not self.offload:
            module.to(self.device)
            try:
                yield
            finally:
                module.to("cpu")
                torch.cuda.empty_cache()
        else:
            yield

    def release_memory(self) -> None:
        """Give the GPU's cached blocks back after an out-of-memory failure, so the next job starts clean."""
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def generator(self, seed: int) -> torch.Generator:
        # Noise drawn on the CPU: the same seed gives the same start on any GPU model.
        return torch.Generator("cpu").manual_seed(seed)


def to_uint8(frames: Any) -> np.ndarray:
    """Pipeline output in [0, 1], shape (F, H, W, 3) float -> uint8 numpy."""
    return (np.clip(np.asarray(frames, dtype=np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
