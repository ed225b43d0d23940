"""Text -> image with a fast text-to-image model (SDXL-Turbo by default), then SVD animates the picture."""

from __future__ import annotations

import dataclasses

import numpy as np
from diffusers import AutoPipelineForText2Image

from generation.jobs import Stage
from generation.models import ModelSpec
from generation.pipelines import Request
from generation.pipelines.svd import SVDRunner
from generation.progress import Reporter
from generation.runtime import Runtime
from generation.weights import component, local_only

__all__ = ["TextToImageSVDRunner"]


class TextToImageSVDRunner:
    def __init__(self, spec: ModelSpec, runtime: Runtime):
        if spec.t2i_weights is None:
            raise ValueError(f"model {spec.name} has no text-to-image weights configured")
        self.spec, self.runtime = spec, runtime
        with component(spec.name, "text-to-image weights", spec.t2i_weights, "t2i_weights"):
            t2i = AutoPipelineForText2Image.from_pretrained(
                spec.t2i_weights,
                dtype=runtime.dtype,
                variant=spec.variant,
                local_files_only=local_only(spec.t2i_weights),
            )
        self.t2i = runtime.place(t2i)
        self.svd = SVDRunner(spec, runtime)

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        if request.image is not None:  # Extend: SVD continues from the clip's last frame
            return self.svd.render(request, reporter)
        if not request.prompt:
            raise ValueError(f"{self.spec.name} makes video from text: `prompt` is empty")
        reporter.stage(Stage.DENOISING, 0, request.steps)
        picture = self.t2i(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            width=request.width,
            height=request.height,
            num_inference_steps=self.spec.t2i_steps,
            guidance_scale=self.spec.t2i_guidance,
            generator=self.runtime.generator(request.seed),
        ).images[0]
        return self.svd.render(dataclasses.replace(request, image=picture), reporter)
