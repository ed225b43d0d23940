"""The compiled GPU path: `torch.compile` on the denoiser and the VAE decoder, same weights, same math.

What `compile_pipeline` does to a loaded pipeline (the runner's own `pipe`, nothing is copied):

- the denoiser (`unet` or `transformer`) and `vae.decoder` get a compiled `forward`, static shapes
  (`dynamic=False`): each clip size is compiled once, on its first clip (or at `--preload`, see
  `Engine.warm_up`), and later clips of that size reuse the kernels. Inductor writes them to
  `MOTIONBOT_COMPILE_CACHE`, so a restarted worker loads them instead of compiling again.
- a module whose convolutions are all 2-D (AnimateDiff's UNet, the SD VAE) uses the channels-last layout,
  which the GPU's convolution kernels prefer.
- attention stays on PyTorch's SDPA, which picks the fastest backend the card has (flash, then
  memory-efficient). Of the denoisers here only AnimateDiff's UNet offers diffusers' fused QKV projections,
  and they are not used: its camera and style LoRAs attach to the separate q, k and v projections, which
  a fused processor would bypass (not measured on a GPU: the gain would be a few per cent).

A compile that fails (no compiler, an unsupported op, a backend error) never fails a job: the module logs
one line and runs eagerly from then on, with the same arguments. A denoiser whose LoRA layers are on for a
job (AnimateDiff's motion and style LoRAs) runs eagerly too: compiling every LoRA combination would cost
more than it saves. Once loaded, LoRA layers stay in the module; a job that switches them off (the runner
says so with `set_loras_on`) is compiled again, on the base weights. The LOW memory mode is not compiled:
its offload hooks move modules between devices.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "RECOMPILE_LIMIT",
    "CompiledForward",
    "compile_module",
    "compile_pipeline",
    "loras_on",
    "set_loras_on",
    "use_compile_cache",
]

log = logging.getLogger(__name__)


# How many compiled versions (one per clip size) TorchDynamo keeps of one function before it runs it
# uncompiled from then on. Its default, 8, is soon reached by a worker: 9 aspects, frame counts, Upscale's
# doubled size, and the blocks DeepCache compiles share their class's code (so its versions).
RECOMPILE_LIMIT = 64
_LORAS_ON = "_motionbot_loras_on"  # a module attribute: see set_loras_on


class CompiledForward:
    """`module.forward`, compiled on its first call, and eager again for good if compiling fails."""

    def __init__(self, module: torch.nn.Module, what: str, backend: str | Any = "inductor"):
        dynamo = torch._dynamo.config
        dynamo.recompile_limit = max(dynamo.recompile_limit, RECOMPILE_LIMIT)
        dynamo.accumulated_recompile_limit = max(dynamo.accumulated_recompile_limit, 16 * RECOMPILE_LIMIT)
        self.module, self.what = module, what
        self.eager = module.forward
        self.compiled = torch.compile(self.eager, backend=backend, dynamic=False)
        self.failed = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.failed or loras_on(self.module):
            return self.eager(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except torch._dynamo.exc.TorchDynamoException as exc:  # compiling failed; a real error re-raises eagerly
            self.failed = True
            reason = getattr(exc, "inner_exception", None) or exc  # BackendCompilerFailed wraps the backend's
            said = f"{type(reason).__name__}: {(str(reason).strip().splitlines() or [''])[0][:300]}"
            log.warning("compiling the %s failed, so it runs uncompiled: %s", self.what, said)
            return self.eager(*args, **kwargs)


def compile_pipeline(pipe: Any, backend: str | Any = "inductor") -> list[CompiledForward]:
    """Compile `pipe`'s denoiser and VAE decoder in place; the compiled forwards, for tests and the bench."""
    compiled = []
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    if denoiser is not None:
        if _is_2d(denoiser):
            denoiser.to(memory_format=torch.channels_last)
        compiled.append(compile_module(denoiser, "denoiser", backend))
    decoder = getattr(getattr(pipe, "vae", None), "decoder", None)
    if decoder is not None:
        if _is_2d(decoder):
            decoder.to(memory_format=torch.channels_last)
        compiled.append(compile_module(decoder, "VAE decoder", backend))
    return compiled


def loras_on(module: torch.nn.Module) -> bool:
    """Whether `module` carries LoRA layers (diffusers' PEFT integration) that are on: it then runs eagerly.
    Layers its runner switched off for the job under way (`set_loras_on`) are not."""
    return bool(getattr(module, "_hf_peft_config_loaded", False)) and getattr(module, _LORAS_ON, True)


def set_loras_on(module: torch.nn.Module, on: bool) -> None:
    """Say whether the LoRA layers loaded into `module` are on for the job under way."""
    module.__dict__[_LORAS_ON] = on


def use_compile_cache(folder: str) -> None:
    """Keep Inductor's compiled kernels in `folder` (a volume in compose), unless the environment names one."""
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(folder).resolve()))
        os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
        os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "1")


def compile_module(module: torch.nn.Module, what: str, backend: str | Any) -> CompiledForward:
    """`module.forward` compiled in place (once: a compiled one is kept)."""
    forward = module.forward
    if isinstance(forward, CompiledForward):  # compiled already (a runner built on a shared pipeline)
        return forward
    wrapped = CompiledForward(module, what, backend)
    module.forward = wrapped
    return wrapped


def _is_2d(module: torch.nn.Module) -> bool:
    """Whether the module's convolutions are 2-D (channels-last applies to 4-D tensors only)."""
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Conv3d)]
    return bool(convs) and all(isinstance(m, torch.nn.Conv2d) for m in convs)
