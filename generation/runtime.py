"""Where and how the pipelines run: device, dtype and the memory mode."""

from __future__ import annotations

import collections
import contextlib
import gc
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from generation.compiled import compile_pipeline, use_compile_cache
from generation.fp8 import fp8_kind
from generation.settings import Compile, DType, GenerationSettings, MemoryMode

__all__ = [
    "NoGPUError",
    "PromptCache",
    "Runtime",
    "chunk_per_frame",
    "even_chunk",
    "fast_tier",
    "latent_mask",
    "to_uint8",
]

log = logging.getLogger(__name__)

_DTYPES = {DType.FP16: torch.float16, DType.BF16: torch.bfloat16, DType.FP32: torch.float32}


class NoGPUError(RuntimeError):
    """A CUDA device was asked for and none is there."""


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype
    memory_mode: MemoryMode
    compile: bool = False  # torch.compile the denoiser and the VAE decoder (generation/compiled.py)
    backend: str = "inductor"  # the torch.compile backend ("eager": tracing only, the CPU tests and benches)
    fp8: str | None = None  # the `-fast` drafts' fp8 copies: "dynamic", "weights" or None (generation/fp8.py)

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
        compile = settings.compile is Compile.ON or (settings.compile is Compile.AUTO and device.type == "cuda")
        if compile and settings.memory_mode is MemoryMode.LOW and device.type == "cuda":
            log.info("the low memory mode offloads modules between devices: nothing is compiled")
            compile = False
        if compile:
            use_compile_cache(settings.compile_cache)
        fp8 = fp8_kind(settings.fp8, device, compile, settings.memory_mode)
        return cls(device, dtype, settings.memory_mode, compile, fp8=fp8)

    @property
    def compiler(self) -> str | None:
        """The torch.compile backend the loaded modules get, or None where they run eagerly."""
        return self.backend if self.compile and not self.offload else None

    @property
    def offload(self) -> bool:
        """Model CPU offload: each model visits the GPU only while it runs (LOW mode, GPU only)."""
        return self.memory_mode is MemoryMode.LOW and self.device.type == "cuda"

    def decode_chunk(self, frames: int) -> int:
        """How many frames the VAE decodes at once: all of them (full), about 8 (balanced) or 4 (low), in chunks
        of one size that divides the clip, so no frame is decoded in a short last chunk without its neighbours
        (25 frames: 5 x 5, not 8 + 8 + 8 + 1)."""
        if self.memory_mode is MemoryMode.FULL:
            return frames
        return even_chunk(frames, 8 if self.memory_mode is MemoryMode.BALANCED else 4)

    def place(self, pipe: Any, cpu_modules: tuple[str, ...] = ()) -> Any:
        """Move a loaded pipeline to the device, or set up offload, per the memory mode. In the balanced
        mode `cpu_modules` stay on the CPU between their runs (LTX's 9.5 GB text encoder: see `visiting`)."""
        unet = getattr(pipe, "unet", None)
        if self.memory_mode is MemoryMode.LOW and unet is not None:
            chunk_per_frame(unet)
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
        if self.compiler:
            compile_pipeline(pipe, self.compiler)
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


class PromptCache:
    """Prompt embeddings of the last `size` prompts, kept on the CPU: a Reroll, or the next segment of a
    prompt-travel clip with the same prompt, does not run the (large) text encoder again, so the encoder stays
    where it is (off the GPU in the balanced mode)."""

    def __init__(self, runtime: Runtime, size: int = 32):
        self.runtime, self.size = runtime, size
        self._cache: collections.OrderedDict[Hashable, tuple[torch.Tensor, ...]] = collections.OrderedDict()

    def get(
        self,
        key: Hashable,
        encoder: torch.nn.Module,
        encode: Callable[[], Sequence[torch.Tensor | None]],
        dtype: torch.dtype,
    ) -> tuple[torch.Tensor, ...]:
        """The embeddings for `key` on the device (floats in `dtype`), from `encode()` on a miss, which runs
        with `encoder` on the device (see `Runtime.visiting`). None entries (no negative prompt) are dropped."""
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            with torch.no_grad(), self.runtime.visiting(encoder):
                embeds = encode()
            self._cache[key] = tuple(t.to("cpu") for t in embeds if t is not None)
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        device = self.runtime.device
        return tuple(t.to(device, dtype=dtype if t.is_floating_point() else t.dtype) for t in self._cache[key])


@contextlib.contextmanager
def fast_tier(pipe: Any, threshold: float) -> Iterator[None]:
    """`-fast` for one job: diffusers' First Block Cache on the pipeline's transformer(s). Each step runs the
    first block; when its output moved less than `threshold` (relative) since the last full step, the other
    blocks are skipped and their last residual reused. Quicker, not the same frames. 0: nothing changes."""
    if threshold <= 0:
        yield
        return
    from diffusers.hooks import FirstBlockCacheConfig

    cached = []
    for transformer in (m for m in (pipe.transformer, getattr(pipe, "transformer_2", None)) if m is not None):
        try:
            transformer.enable_cache(FirstBlockCacheConfig(threshold=threshold))
            cached.append(transformer)
        except (IndexError, ValueError) as exc:  # fewer than two blocks, say: the draft runs uncached
            log.warning("no First Block Cache on %s (%s); the draft runs without it", type(transformer).__name__, exc)
    try:
        yield
    finally:
        for transformer in cached:
            transformer.disable_cache()


def even_chunk(frames: int, most: int) -> int:
    """The chunk size nearest `most` that divides `frames` (at least most / 2); a clip of a prime length that
    has none is decoded whole when that is at most twice `most`, else in chunks of `most`."""
    fits = [size for size in range(1, min(frames, 2 * most) + 1) if frames % size == 0 and size >= most // 2]
    if fits:
        return min(fits, key=lambda size: (abs(size - most), size))
    return frames if frames <= 2 * most else most


def chunk_per_frame(unet: torch.nn.Module) -> None:
    """Feed-forward layers one frame at a time (LOW mode). A spatial block holds frames in its batch (dim 0);
    a temporal block (SVD's, AnimateDiff's motion modules) holds them in its sequence (dim 1). Chunking by
    tokens instead would call the layers tens of thousands of times per step."""
    for name, module in unet.named_modules():
        if hasattr(module, "set_chunk_feed_forward"):
            temporal = "Temporal" in type(module).__name__ or "motion_modules" in name
            module.set_chunk_feed_forward(chunk_size=1, dim=1 if temporal else 0)


def latent_mask(mask: np.ndarray, width: int, height: int, device: torch.device) -> torch.Tensor:
    """A motion-brush mask (H, W, 1 = moves) with a soft edge, averaged down to a latent grid of width x height:
    (1, 1, 1, height, width) float32, to blend latents with."""
    from PIL import Image, ImageFilter

    edge = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    small = edge.resize((width, height), Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).to(device)[None, None, None]


def to_uint8(frames: Any) -> np.ndarray:
    """Pipeline output in [0, 1] -> uint8 numpy (F, H, W, 3): numpy (F, H, W, 3) from output_type "np", or
    a tensor (F, 3, H, W) from "pt", converted where it lies, so a GPU hands the CPU a quarter of the bytes.
    Both do the same float32 arithmetic (clip, x255, +0.5, truncate): the same frames."""
    if isinstance(frames, torch.Tensor):
        pixels = (frames.float().clamp(0.0, 1.0) * 255 + 0.5).to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).cpu().numpy()
    return (np.clip(np.asarray(frames, dtype=np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
