"""One self-contained module per model family; `load_runner` picks the one a model needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from generation.models import Family, ModelSpec
from generation.options import Camera

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from generation.progress import Reporter
    from generation.runtime import Runtime

__all__ = ["Request", "Runner", "load_runner"]


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


class Runner(Protocol):
    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        """Run the pipeline; uint8 frames of shape (F, H, W, 3)."""
        ...


def load_runner(spec: ModelSpec, runtime: Runtime) -> Runner:
    """Load a model's weights (from_pretrained) into the runner for its family."""
    if spec.family is Family.SVD:
        from generation.pipelines.svd import SVDRunner

        return SVDRunner(spec, runtime)
    if spec.family is Family.ANIMATEDIFF:
        from generation.pipelines.animatediff import AnimateDiffRunner

        return AnimateDiffRunner(spec, runtime)
    from generation.pipelines.t2i_svd import TextToImageSVDRunner

    return TextToImageSVDRunner(spec, runtime)
