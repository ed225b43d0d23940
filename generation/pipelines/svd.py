"""Stable Video Diffusion (SVD / SVD-XT): one image in, a short clip out. No camera input: the engine
applies the virtual camera afterwards.

Motion 0..4 maps onto SVD's two motion knobs. `motion_bucket_id` (1..255) is how much the model moves
things; `noise_aug_strength` is how much noise goes onto the conditioning image, so how far the clip may
drift from it. Level 1 is the model's own default.

The motion brush (a mask) keeps the picture still outside the mask: after every denoising step the latents
there are set back to the picture's own latents noised to the step's level (`x = z + sigma * noise`, one
fixed noise for the whole clip), so they end as the picture itself, while inside the mask the model moves
things as it likes. The mask's edge is blurred first, so the two blend over a few pixels.

| motion | motion_bucket_id | noise_aug_strength |
|--------|------------------|--------------------|
| 0      | 40               | 0.01               |
| 1      | 127              | 0.02               |
| 2      | 170              | 0.05               |
| 3      | 210              | 0.10               |
| 4      | 255              | 0.20               |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from diffusers import StableVideoDiffusionPipeline

from generation.deep_cache import deep_cache
from generation.fp8 import Fp8Twins
from generation.models import ModelSpec
from generation.pipelines import Request
from generation.progress import Reporter
from generation.runtime import Runtime, latent_mask, to_uint8
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
        self.fp8 = Fp8Twins(self.pipe, spec, runtime)

    def check_inputs(self, request: Request) -> None:
        if request.image is None:
            raise ValueError(f"{self.spec.name} animates an image: `image` is missing")
        if request.image.size != (request.width, request.height):
            raise ValueError(f"image is {request.image.size}, expected {(request.width, request.height)}")
        if request.width % 8 or request.height % 8:
            raise ValueError(f"width and height must be multiples of 8, got {request.width}x{request.height}")
        if request.motion not in MOTION_TABLE:
            raise ValueError(f"motion must be 0..4, got {request.motion}")

    def _brush(self, request: Request, progress: Callable[..., Any]) -> Callable[..., Any]:
        """A step callback that keeps the latents outside the mask on the (noised) picture, then reports."""
        assert request.image is not None and request.mask is not None
        pipe, device = self.pipe, self.runtime.device
        pixels = pipe.video_processor.preprocess(request.image, height=request.height, width=request.width)
        with torch.no_grad():  # the picture's latents, as the VAE decoder reads them: (1, 4, h, w)
            still = pipe.vae.encode(pixels.to(device, pipe.vae.dtype)).latent_dist.mode()
        still = (still * pipe.vae.config.scaling_factor).unsqueeze(1)  # (1, 1, 4, h, w): every frame
        noise = torch.randn(still.shape, generator=self.runtime.generator(request.seed + 1)).to(device, still.dtype)
        moves = latent_mask(request.mask, still.shape[-1], still.shape[-2], device).to(still.dtype)

        def callback(pipeline: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            sigma = pipeline.scheduler.sigmas[step + 1].to(device, still.dtype)  # the level after this step
            kept = still + sigma * noise
            kwargs["latents"] = kwargs["latents"] * moves + kept * (1 - moves)
            return progress(pipeline, step, timestep, kwargs)

        return callback

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        self.check_inputs(request)
        progress = reporter.step_callback(request.steps)
        bucket, noise_aug = MOTION_TABLE[request.motion]
        with (  # `-fast`: the fp8 UNet, if there is one, and DeepCache on it
            self.fp8.swapped([self.pipe], request.fp8),
            deep_cache(self.pipe.unet, request.deep_cache, self.runtime.compiler),
        ):
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
                output_type="pt",
                callback_on_step_end=self._brush(request, progress) if request.mask is not None else progress,
            )
        return to_uint8(output.frames[0])  # (F, H, W, 3)
