"""Stable Video Diffusion (SVD / SVD-XT): one image in, a short clip out. No camera input: the engine
applies the virtual camera afterwards.

Motion 0..4 maps onto SVD's two motion knobs. `motion_bucket_id` (1..255) is how much the model moves
things; `noise_aug_strength` is how much noise goes onto the conditioning image, so how far the clip may
drift from it. Level 1 is the model's own default.

| motion | motion_bucket_id | noise_aug_strength |
|--------|------------------|--------------------|
| 0      | 40               | 0.01               |
| 1      | 127              | 0.02               |
| 2      | 170              | 0.05               |
| 3      | 210              | 0.10               |
| 4      | 255              | 0.20               |
"""

from __future__ import annotations

from typing import Any

import numpy as np
from diffusers import StableVideoDiffusionPipeline

from generation.models import ModelSpec
from generation.pipelines import Request
from generation.progress import Reporter
from generation.runtime import Runtime, to_uint8
from generation.weights import component, local_only

__all__ = ["MOTION_TABLE", "SVDRunner"]

MOTION_TABLE = {0: (40, 0.01), 1: (127, 0.02), 2: (170, 0.05), 3: (210, 0.10), 4: (255, 0.20)}


class SVDRunner:
    def __init__(self, spec: ModelSpec, runtime: Runtime, pipe: Any = None):
        self.spec, self.runtime = spec, runtime
        if pipe is None:
            with component(spec.name, "pipeline weights", spec.weights, "weights"):
                pipe = StableVideoDiffusionPipeline.from_pretrained(
                    spec.weights, dtype=runtime.dtype, variant=spec.variant, local_files_only=local_only(spec.weights)
                )
        self.pipe = runtime.place(pipe)

    def check_inputs(self, request: Request) -> None:
        if request.image is None:
            raise ValueError(f"{self.spec.name} animates an image: `image` is missing")
        if request.image.size != (request.width, request.height):
            raise ValueError(f"image is {request.image.size}, expected {(request.width, request.height)}")
        if request.width % 8 or request.height % 8:
            raise ValueError(f"width and height must be multiples of 8, got {request.width}x{request.height}")
        if request.motion not in MOTION_TABLE:
            raise ValueError(f"motion must be 0..4, got {request.motion}")

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        self.check_inputs(request)
        bucket, noise_aug = MOTION_TABLE[request.motion]
        output = self.pipe(
            image=request.image,
            width=request.width,
            height=request.height,
            num_frames=request.frames,
            num_inference_steps=request.steps,
            min_guidance_scale=1.0,  # guidance rises from 1 on the first frame to `guidance` on the last
            max_guidance_scale=request.guidance,
            fps=request.fps,
            motion_bucket_id=bucket,
            noise_aug_strength=noise_aug,
            decode_chunk_size=self.runtime.decode_chunk(request.frames),
            generator=self.runtime.generator(request.seed),
            output_type="np",
            callback_on_step_end=reporter.step_callback(request.steps),
        )
        return to_uint8(output.frames[0])  # (F, H, W, 3)
