"""One self-contained module per model family; `RUNNERS` says which module renders which family."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from generation.jobs import JobKind
from generation.models import Family, ModelSpec
from generation.values import Camera

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from generation.progress import Reporter
    from generation.runtime import Runtime

__all__ = ["RUNNERS", "NoRunner", "Request", "Runner", "check_families", "load_runner"]

# family -> "module:class" of its runner, imported only when a model of that family loads (torch is heavy).
RUNNERS: dict[Family, str] = {
    Family.SVD: "generation.pipelines.svd:SVDRunner",
    Family.ANIMATEDIFF: "generation.pipelines.animatediff:AnimateDiffRunner",
    Family.T2I_SVD: "generation.pipelines.t2i_svd:TextToImageSVDRunner",
    Family.LTX: "generation.pipelines.ltx:LTXRunner",
    Family.WAN: "generation.pipelines.wan:WanRunner",
}


class NoRunner(ValueError):
    """A registry row names a family this version has no pipeline module for."""


@dataclass(frozen=True)
class Request:
    """A job resolved against its model: every value final and in the model's own units."""

    width: int
    height: int
    frames: int
    fps: int
    steps: int
    seed: int
    guidance: float  # the model's own scale
    motion: int
    camera: Camera | None = None
    prompt: str = ""
    negative_prompt: str = ""
    image: Image.Image | None = None  # already fitted to width x height
    kind: JobKind = JobKind.IMAGE_TO_VIDEO
    end_image: Image.Image | None = None  # the last frame (keyframe models), fitted like `image`
    middle_images: tuple[Image.Image, ...] = ()  # pictures between the first and the last, fitted like `image`
    ingredients: tuple[Image.Image, ...] = ()  # INGREDIENTS: who or what the clip shows, each whole within the frame
    video: np.ndarray | None = None  # EXTEND, RESTYLE: frames (F, H, W, 3) at width x height; UPSCALE: the clip
    prompts: tuple[str, ...] = ()  # prompt travel: one prompt per segment
    overlap: int = 1  # frames a continuation (or the next segment) shares with what it continues
    upscale: bool = False  # x2 after rendering (the model's latent upsampler)
    fast_cache: float = 0.0  # `-fast`: First Block Cache at this threshold on the transformer; 0 = every step whole
    deep_cache: int = 0  # `-fast` on a UNet: DeepCache, a full step every N; 0 or 1 = every step whole
    fp8: bool = False  # `-fast`: the denoiser's fp8 copy, where the runner has one (generation/fp8.py)
    strength: float = 1.0  # RESTYLE: the part of the denoising run on `video` (its frames at width x height)
    mask: np.ndarray | None = None  # the motion brush: (H, W) float32, 1 where the picture moves, 0 where it stays;
    # a restyle of part of a video (`-region`): (F, H, W), 1 where each frame of `video` is redrawn
    style_lora: str | None = None  # a LoRA of the job's style (AnimateDiff): hub id or folder
    read_as: str = ""  # the prompt after translation, to show (the runners read `prompt` and `prompts`)

    @property
    def redrawn(self) -> tuple[float, int]:
        """A restyle's strength as diffusers takes it, and the steps that runs (int(steps x strength), >= 1)."""
        strength = max(self.strength, 1.000001 / self.steps)
        return strength, int(self.steps * strength)


class Runner(Protocol):
    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        """Run the pipeline; uint8 frames of shape (F, H, W, 3)."""
        ...


def check_families(specs: Iterable[ModelSpec]) -> None:
    """Fail at start-up, naming the model, when a model's family has no runner."""
    for spec in specs:
        if spec.family not in RUNNERS:
            known = ", ".join(RUNNERS)
            raise NoRunner(f"model `{spec.name}` is of family `{spec.family}`, which has no runner (known: {known})")


def load_runner(spec: ModelSpec, runtime: Runtime) -> Runner:
    """Load a model's weights (from_pretrained) into the runner for its family."""
    check_families([spec])
    module, _, name = RUNNERS[spec.family].partition(":")
    runner: Runner = getattr(importlib.import_module(module), name)(spec, runtime)
    return runner
