"""`-fast` in float8: a copy of the denoiser whose linear layers hold fp8 weights (torchao), swapped in for a
draft job, beside the original that every other job keeps.

On a card with fp8 tensor cores (CUDA compute capability 8.9 and up: L4, L40S, H100, H200) a draft's
denoiser multiplies in float8: each linear layer's weights are quantized once, its inputs as they arrive
(torchao's `Float8DynamicActivationFloat8WeightConfig`: a scale per row on bf16 weights, one per tensor on
fp16). The scaling of the inputs is only cheap where Inductor fuses it into the matmuls, so `auto` makes the
copy only where the worker compiles. Convolutions and attention's own matmuls stay in the model's dtype.

The copy is made once, when the model loads, from the untouched denoiser (no LoRA on it yet), so:

- a job that is not `-fast` runs the original weights, the same frames as before;
- a draft with LoRAs (AnimateDiff's camera moves and styles) runs the original too: the copy has none;
- it costs about half the denoiser's bytes again (SVD-XT's UNet: 1.5 GB; Wan 2.2 5B: 5 GB), so the low
  memory mode (which offloads modules between devices) makes none, and a row says whether it wants one
  (`fp8` in generation/registry.py; the 14B models do not: 14 GB more each). A copy that would leave the
  GPU too little for a native-size clip (the registry's estimate) is not made, and one that fails (a layer
  torchao cannot take) is dropped: both are logged, and the drafts run without fp8.

`MOTIONBOT_FP8=weights` stores the copy's weights in fp8 on any device and multiplies in the model's dtype:
fp8's rounding without its speed, which is what a CPU (the test suite, the bench at tiny size) can check.
`off`: no copy.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

from generation.compiled import compile_module
from generation.deep_cache import COMPILED_BLOCKS
from generation.models import ModelSpec
from generation.settings import Fp8, MemoryMode

if TYPE_CHECKING:
    from generation.runtime import Runtime

__all__ = ["DENOISERS", "Fp8Twins", "fp8_kind"]

log = logging.getLogger(__name__)

DENOISERS = ("unet", "transformer", "transformer_2")  # a pipeline's denoisers, by the name it calls them


def fp8_kind(setting: Fp8, device: torch.device, compiles: bool, memory_mode: MemoryMode) -> str | None:
    """What the drafts' fp8 copies are: "dynamic" (fp8 matmuls), "weights" (fp8-stored weights), or None."""
    if setting is Fp8.OFF:
        return None
    if memory_mode is MemoryMode.LOW:
        if setting is Fp8.WEIGHTS or device.type == "cuda":
            log.info("the low memory mode makes no fp8 copies for drafts (they cost memory)")
        return None
    if setting is Fp8.WEIGHTS:
        return "weights"
    if device.type != "cuda":
        return None
    if torch.cuda.get_device_capability(device) < (8, 9):
        log.info("this GPU has no fp8 tensor cores (compute capability below 8.9): drafts run without fp8")
        return None
    if not compiles:
        log.info("fp8 drafts need torch.compile (MOTIONBOT_COMPILE): none made")
        return None
    return "dynamic"


class Fp8Twins:
    """The fp8 copies of one pipeline's denoisers, made at load where `spec` asks and `runtime` allows."""

    def __init__(self, pipe: Any, spec: ModelSpec, runtime: Runtime):
        self.twins: dict[str, torch.nn.Module] = {}
        kind = runtime.fp8 if spec.fp8 else None
        denoisers = {name: getattr(pipe, name, None) for name in DENOISERS}
        originals = {name: module for name, module in denoisers.items() if isinstance(module, torch.nn.Module)}
        if kind is None or not originals or not _room(originals.values(), spec, runtime):
            return
        try:
            for name, module in originals.items():
                self.twins[name] = _quantized_copy(module, kind, runtime.compiler, f"{spec.name}'s fp8 {name}")
        except Exception as exc:  # out of memory, a layer torchao cannot take: the drafts run without fp8
            self.twins.clear()
            runtime.release_memory()
            log.warning(
                "no fp8 copy of %s's denoiser, its drafts run without: %s: %s", spec.name, type(exc).__name__, exc
            )
            return
        log.info("made the fp8 (%s) copy of %s's denoiser for its drafts", kind, spec.name)

    @contextmanager
    def swapped(self, pipes: Sequence[Any], on: bool) -> Iterator[bool]:
        """While a job runs, the fp8 copies in place of the denoisers in each of `pipes` (the runner's pipeline
        objects that share them), when `on` and there are copies; yields whether they are in."""
        if not (on and self.twins):
            yield False
            return
        unique = list({id(pipe): pipe for pipe in pipes}.values())
        originals = [(pipe, name, getattr(pipe, name)) for pipe in unique for name in self.twins]
        for pipe, name, _ in originals:
            setattr(pipe, name, self.twins[name])
        try:
            yield True
        finally:
            for pipe, name, module in originals:
                setattr(pipe, name, module)


def _room(modules: Iterable[torch.nn.Module], spec: ModelSpec, runtime: Runtime) -> bool:
    """Whether the GPU holds a copy beside a native-size clip's activations (the copy is made whole before
    its linear layers shrink to fp8)."""
    if runtime.device.type != "cuda":
        return True
    copy_gb = sum(p.numel() * p.element_size() for module in modules for p in module.parameters()) / 1e9
    free_gb = torch.cuda.mem_get_info(runtime.device)[0] / 1e9
    clip_gb = spec.memory(runtime.memory_mode.value) * spec.activation_share
    if free_gb - copy_gb >= clip_gb:
        return True
    log.warning(
        "no fp8 copy of %s's denoiser: it takes %.1f GB while made, %.1f GB are free and a clip needs about %.1f",
        spec.name,
        copy_gb,
        free_gb,
        clip_gb,
    )
    return False


def _quantized_copy(module: torch.nn.Module, kind: str, backend: str | None, what: str) -> torch.nn.Module:
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        Float8WeightOnlyConfig,
        PerRow,
        PerTensor,
        quantize_,
    )

    # A compiled forward is an instance attribute that holds the original module: the copy gets its own.
    own = module.__dict__.pop("forward", None)
    try:
        twin = copy.deepcopy(module)
    finally:
        if own is not None:
            module.forward = own
    for part in twin.modules():  # and DeepCache's compiled blocks (generation/deep_cache.py), if any yet
        part.__dict__.pop(COMPILED_BLOCKS, None)
    config: Any
    if kind == "dynamic":
        granularity = PerRow() if next(module.parameters()).dtype is torch.bfloat16 else PerTensor()
        # set_inductor_config=False: torchao's Inductor settings would change how the full tier compiles too
        config = Float8DynamicActivationFloat8WeightConfig(granularity=granularity, set_inductor_config=False)
    else:
        config = Float8WeightOnlyConfig(set_inductor_config=False)
    quantize_(twin, config)
    if own is not None and backend:
        compile_module(twin, what, backend)
    return twin
