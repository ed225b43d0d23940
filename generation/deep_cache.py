"""`-fast` for the UNet families (SVD, AnimateDiff): DeepCache (Ma, Fang and Wang, CVPR 2024).

From one denoising step to the next, a UNet's deep, low-resolution features change little; its outermost,
full-resolution blocks carry the detail. So every `interval`-th step runs the whole UNet and keeps what its
second-to-last up block made, and the steps between run only the outermost path (`conv_in`, the first down
block, the last up block and the output layers) on the deep features kept from the last full step. With
interval 3, two steps in three skip every block but those. Quicker, not the same frames: the tier is
labelled on the result.

It works on the unmodified diffusers UNet. While a job runs, the skipped blocks' `forward` is replaced by
one that runs the block on a full step, and on a cached step returns at once:

- a down block hands back its input, once as its output and as many times as the skip tensors it gives
  on a full step (the UNet hands the up blocks their skips by counting from the end, so the count keeps
  the last up block's skips the fresh ones of the first down block);
- the middle block and the up blocks before the second-to-last hand back their input;
- the second-to-last up block hands back the tensor it made on the last full step (the one tensor kept).

Nothing skipped reads those stand-ins. A step is one UNet call: the SVD and AnimateDiff pipelines call
their UNet once per step (classifier-free guidance is batched). A call whose input is not the shape of the
last full step's runs whole.

The compiled path (generation/compiled.py) compiles the whole UNet as one graph, which has no place to keep
a block's output or to skip one. So where the worker compiles, the draft tier compiles each down, middle and
up block on its own instead (once per block and clip size, kept for later jobs and in the compile cache),
and the UNet's own few layers around them run eagerly. A UNet whose LoRA layers are on runs eagerly, as it
does on the full path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from generation.compiled import CompiledForward, loras_on

__all__ = ["COMPILED_BLOCKS", "DeepCache", "deep_cache"]

# The attribute a block keeps its compiled forwards in (one per backend), made on its first draft job: they
# live as long as the block, which a weak map could not give (a compiled forward holds its module).
COMPILED_BLOCKS = "_deep_cache_compiled"


class DeepCache:
    """The step count, the kept features and the wrapped forwards of one UNet while a job runs."""

    def __init__(self, unet: torch.nn.Module, interval: int, backend: str | None = None):
        self.unet, self.interval = unet, interval
        self.backend = None if loras_on(unet) else backend  # None: eager
        self.cached = False  # whether the UNet call under way reuses the last full step's deep features
        self.since_full = 0
        self.shape: tuple[int, ...] | None = None  # the last full step's input shape
        self.kept: torch.Tensor | None = None  # the second-to-last up block's output on the last full step
        self.full_steps = self.cached_steps = 0
        self._restore: list[tuple[torch.nn.Module, Any]] = []

    def attach(self) -> None:
        down: list[torch.nn.Module] = list(self.unet.down_blocks)  # type: ignore[arg-type]
        up: list[torch.nn.Module] = list(self.unet.up_blocks)  # type: ignore[arg-type]
        mid: torch.nn.Module | None = getattr(self.unet, "mid_block", None)
        self._wrap(self.unet, self._step, compiled=False)
        for block in down[1:]:
            self._wrap(block, self._down)
        if mid is not None:
            self._wrap(mid, self._passed)
        for block in up[:-2]:
            self._wrap(block, self._passed)
        self._wrap(up[-2], self._keep)
        if self.backend:  # the outer blocks run on every step: compiled too
            self._wrap(down[0], _through)
            self._wrap(up[-1], _through)

    def detach(self) -> None:
        for module, forward in reversed(self._restore):
            if forward is None:
                del module.forward
            else:
                module.forward = forward
        self._restore.clear()
        self.kept = None

    def _wrap(self, module: torch.nn.Module, wrapper: Callable[..., Any], compiled: bool = True) -> None:
        own = module.__dict__.get("forward")  # an instance's forward: compiled, or an offload hook's
        self._restore.append((module, own))
        forward = own.eager if isinstance(own, CompiledForward) else module.forward
        if compiled and self.backend:
            kept: dict[str, CompiledForward] = module.__dict__.setdefault(COMPILED_BLOCKS, {})
            if self.backend not in kept:
                kept[self.backend] = CompiledForward(module, f"UNet's {type(module).__name__}", self.backend)
            forward = kept[self.backend]
        skips: list[int] = []  # a down block's skip-tensor count, learnt on a full step
        module.forward = lambda *args, **kwargs: wrapper(forward, skips, *args, **kwargs)

    def _step(self, forward: Callable[..., Any], _: list[int], *args: Any, **kwargs: Any) -> Any:
        shape = tuple((kwargs["sample"] if "sample" in kwargs else args[0]).shape)
        self.cached = self.kept is not None and shape == self.shape and self.since_full < self.interval - 1
        if self.cached:
            self.since_full += 1
            self.cached_steps += 1
        else:
            self.since_full, self.shape = 0, shape
            self.full_steps += 1
        return forward(*args, **kwargs)

    def _down(self, forward: Callable[..., Any], skips: list[int], *args: Any, **kwargs: Any) -> Any:
        if self.cached:
            given = _hidden(args, kwargs)
            return given, (given,) * skips[0]
        hidden, residuals = forward(*args, **kwargs)
        skips[:] = [len(residuals)]
        return hidden, residuals

    def _passed(self, forward: Callable[..., Any], _: list[int], *args: Any, **kwargs: Any) -> Any:
        return _hidden(args, kwargs) if self.cached else forward(*args, **kwargs)

    def _keep(self, forward: Callable[..., Any], _: list[int], *args: Any, **kwargs: Any) -> Any:
        if self.cached:
            return self.kept
        self.kept = forward(*args, **kwargs)
        return self.kept


def _through(forward: Callable[..., Any], _: list[int], *args: Any, **kwargs: Any) -> Any:
    return forward(*args, **kwargs)


def _hidden(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]


@contextmanager
def deep_cache(unet: torch.nn.Module, interval: int, backend: str | None = None) -> Iterator[DeepCache | None]:
    """DeepCache on `unet` for one job (a full step every `interval` steps), its blocks compiled with `backend`
    (None: eager); interval 0 or 1, or a UNet with a single down block: every step whole, nothing changes."""
    if interval <= 1 or len(getattr(unet, "down_blocks", ())) < 2:
        yield None
        return
    cache = DeepCache(unet, interval, backend)
    cache.attach()
    try:
        yield cache
    finally:
        cache.detach()
