"""LTX-Video: text or images in, a clip that follows the prompt out, in one `LTXConditionPipeline`.

Every job is a list of conditions at frame positions: an image at frame 0 (`/animate`), a second one at
the last frame (`/morph`, `end`), the clip's last frames at frame 0 (Extend, and each prompt-travel segment
after the first). Upscale encodes a clip, doubles its latents with LTX's spatial latent upsampler and
refines them with a short denoising pass at the higher size (the model card's upsample-then-refine recipe).

`motion` 0..4 changes what LTX can change: the frame rate it is told the clip has (its `video_coords`
are in seconds, so a lower rate means more happens between two frames) and, with an image, the noise on
the image condition (how far the clip may drift from the picture). Level 1 is the model's own behaviour.

| motion | frame rate told to the model | image condition noise |
|--------|------------------------------|-----------------------|
| 0      | 1.5 x fps                    | 0.00                  |
| 1      | 1.0 x fps                    | 0.05                  |
| 2      | 0.8 x fps                    | 0.10                  |
| 3      | 0.6 x fps                    | 0.15                  |
| 4      | 0.45 x fps                   | 0.20                  |

Prompt travel chains condition-pipeline runs, each conditioned on the last frames of the one before (as
Extend is), rather than calling `LTXI2VLongMultiPromptPipeline`: that pipeline encodes prompts itself on
the execution device (so no cached embeddings and no text encoder kept on the CPU) and draws its noise
from a generator on the GPU (so a seed would not give the same clip on another card).

The T5 text encoder (about 9.5 GB in fp16) stays on the GPU only in the full memory mode; in balanced it
lives on the CPU and visits the GPU for each new prompt (fp16 T5 on a CPU would take a minute), in low
every model is offloaded. Prompt embeddings are cached per prompt, so Reroll and the segments of one
prompt-travel clip encode each prompt once and the encoder stays where it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import LTXConditionPipeline, LTXLatentUpsamplePipeline
from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
from PIL import Image

from generation.fp8 import Fp8Twins
from generation.jobs import JobKind, Stage
from generation.models import ModelSpec
from generation.pipelines import Request
from generation.plan import UPSCALE_STEPS, refine_steps
from generation.progress import Reporter
from generation.runtime import PromptCache, Runtime, fast_tier, to_uint8
from generation.weights import component, local_only

__all__ = ["MOTION_TABLE", "LTXRunner"]

MOTION_TABLE = {0: (1.5, 0.0), 1: (1.0, 0.05), 2: (0.8, 0.10), 3: (0.6, 0.15), 4: (0.45, 0.20)}
_MAX_SEQUENCE = 128  # T5 tokens per prompt; LTX was trained with 128
_REFINE_STRENGTH = UPSCALE_STEPS / 10  # a full checkpoint's refine pass: 4 of 10 steps, as priced
Embeds = tuple[torch.Tensor, ...]  # prompt embeds, mask, negative embeds, negative mask


def _pictures(frames: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(frame) for frame in frames]


class LTXRunner:
    def __init__(self, spec: ModelSpec, runtime: Runtime, pipe: Any = None):
        self.spec, self.runtime = spec, runtime
        if pipe is None:
            with component(spec.name, "pipeline weights", spec.weights, "weights"):
                pipe = LTXConditionPipeline.from_pretrained(
                    spec.weights, dtype=runtime.dtype, variant=spec.variant, local_files_only=local_only(spec.weights)
                )
        self.pipe = runtime.place(pipe, cpu_modules=("text_encoder",))
        self.fp8 = Fp8Twins(self.pipe, spec, runtime)
        self._upsample: LTXLatentUpsamplePipeline | None = None
        self.prompts = PromptCache(runtime)

    def check_inputs(self, request: Request) -> None:
        multiple = self.pipe.vae_spatial_compression_ratio
        if request.width % multiple or request.height % multiple:
            raise ValueError(f"width and height must be multiples of {multiple}, got {request.width}x{request.height}")
        step = self.pipe.vae_temporal_compression_ratio
        if request.kind is not JobKind.UPSCALE and (request.frames - 1) % step:
            raise ValueError(f"frames must be {step}k + 1, got {request.frames}")
        if request.motion not in MOTION_TABLE:
            raise ValueError(f"motion must be 0..4, got {request.motion}")
        if request.kind is JobKind.UPSCALE and request.video is None:
            raise ValueError("an upscale needs the clip's frames")
        if not request.prompt and request.image is None and request.video is None:
            raise ValueError(f"{self.spec.name} needs a prompt, an image or a clip")

    # ---- the pieces of a render ----

    def _encode(self, prompt: str, negative: str, guided: bool) -> Embeds:
        """T5 embeddings of a prompt, cached (on the CPU) so a Reroll does not encode it again."""

        def encode() -> Embeds:
            return self.pipe.encode_prompt(
                prompt=prompt,
                negative_prompt=negative,
                do_classifier_free_guidance=guided,
                max_sequence_length=_MAX_SEQUENCE,
                device=self.runtime.device,
            )

        return self.prompts.get((prompt, negative, guided), self.pipe.text_encoder, encode, self.pipe.transformer.dtype)

    def _text(self, prompt: str, negative: str, guidance: float) -> dict[str, Any]:
        guided = guidance > 1.0
        embeds = self._encode(prompt, negative, guided)
        names = ["prompt_embeds", "prompt_attention_mask"]
        if guided:
            names += ["negative_prompt_embeds", "negative_prompt_attention_mask"]
        return dict(zip(names, embeds, strict=True))

    def conditions(self, request: Request, previous: np.ndarray | None, last_segment: bool) -> list[LTXVideoCondition]:
        """Where the clip is pinned: frames to continue (at frame 0), else the image; the pictures between, spread
        evenly on latent frames; the end image last."""
        conditions = []
        if previous is not None:  # Extend, or the segment before in prompt travel
            conditions.append(LTXVideoCondition(video=_pictures(previous), frame_index=0, strength=1.0))
        elif request.image is not None:
            conditions.append(LTXVideoCondition(image=request.image, frame_index=0, strength=1.0))
        if request.end_image is not None and last_segment:
            pictures = (*request.middle_images, request.end_image)
            where = self.spec.keyframe_frames(request.frames, len(pictures) + 1)[1:]
            conditions += [
                LTXVideoCondition(image=picture, frame_index=index, strength=1.0)
                for picture, index in zip(pictures, where, strict=True)
            ]
        return conditions

    def _shared(self, request: Request) -> dict[str, Any]:
        """What every pipeline call of a job passes alike: motion as frame rate, guidance, the decode."""
        rate, _ = MOTION_TABLE[request.motion]
        return {
            "frame_rate": request.fps * rate,
            "guidance_scale": request.guidance,
            "guidance_rescale": self.spec.guidance_rescale if request.guidance > 1.0 else 0.0,
            "decode_timestep": self.spec.decode_timestep,
            "decode_noise_scale": self.spec.decode_noise_scale,
            "output_type": "pt",
        }

    def _generate(
        self, request: Request, prompt: str, conditions: list[LTXVideoCondition], seed: int, progress: Any
    ) -> np.ndarray:
        _, image_noise = MOTION_TABLE[request.motion]
        schedule: dict[str, Any] = {"num_inference_steps": request.steps}
        if self.spec.timesteps and request.steps == len(self.spec.timesteps):
            schedule = {"timesteps": list(self.spec.timesteps)}
        output = self.pipe(
            conditions=conditions or None,
            width=request.width,
            height=request.height,
            num_frames=request.frames,
            image_cond_noise_scale=image_noise,
            generator=self.runtime.generator(seed),
            callback_on_step_end=progress,
            **self._shared(request),
            **schedule,
            **self._text(prompt, request.negative_prompt, request.guidance),
        )
        return to_uint8(output.frames[0])  # (F, H, W, 3)

    def upsampler(self) -> LTXLatentUpsamplePipeline:
        """The x2 spatial latent upsampler, loaded on the first upscale; it shares the pipeline's VAE."""
        if self._upsample is None:
            source = self.spec.upsampler
            if source is None:
                raise ValueError(f"{self.spec.name} has no latent upsampler configured")
            with component(self.spec.name, "latent upsampler", source, "upsampler"):
                model = LTXLatentUpsamplerModel.from_pretrained(
                    source, subfolder="latent_upsampler", dtype=self.runtime.dtype, local_files_only=local_only(source)
                )
            device = self.runtime.device if not self.runtime.offload else "cpu"
            self._upsample = LTXLatentUpsamplePipeline(vae=self.pipe.vae, latent_upsampler=model.to(device))
            self._upsample.set_progress_bar_config(disable=True)
        return self._upsample

    def upscale(self, frames: np.ndarray, request: Request, reporter: Reporter, done: int = 0) -> np.ndarray:
        """Frames (F, H, W, 3) at twice the width and height: VAE-encode, x2 latents, a short refine pass.
        `done`: the steps of this job run before it (progress)."""
        count = len(frames)
        step = self.pipe.vae_temporal_compression_ratio
        padded = -(-(count - 1) // step) * step + 1  # the VAE takes 8k + 1 frames: repeat the last one
        frames = np.concatenate([frames, np.repeat(frames[-1:], padded - count, axis=0)])
        height, width = frames.shape[1:3]
        total = done + refine_steps(self.spec)
        reporter.stage(Stage.DENOISING, done, total)
        with torch.no_grad():
            latents = self.upsampler()(
                video=_pictures(frames), height=height, width=width, adain_factor=1.0, output_type="latent"
            ).frames
        schedule: dict[str, Any] = {"num_inference_steps": 10, "denoise_strength": _REFINE_STRENGTH}
        if self.spec.upscale_timesteps:
            schedule = {"timesteps": list(self.spec.upscale_timesteps), "denoise_strength": 0.999}
        output = self.pipe(
            latents=latents,
            width=width * 2,
            height=height * 2,
            num_frames=padded,
            generator=self.runtime.generator(request.seed),
            callback_on_step_end=reporter.step_callback(total, done),
            **self._shared(request),
            **schedule,
            **self._text(request.prompt.replace(" | ", ", "), request.negative_prompt, request.guidance),
        )
        return to_uint8(output.frames[0])[:count]

    # ---- a whole job ----

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        self.check_inputs(request)
        with self.fp8.swapped([self.pipe], request.fp8), fast_tier(self.pipe, request.fast_cache):  # `-fast`
            return self._render(request, reporter)

    def _render(self, request: Request, reporter: Reporter) -> np.ndarray:
        if request.kind is JobKind.UPSCALE:
            assert request.video is not None
            return self.upscale(request.video, request, reporter)
        prompts = request.prompts or (request.prompt,)
        total = request.steps * len(prompts) + (refine_steps(self.spec) if request.upscale else 0)
        clip: np.ndarray | None = None
        previous = request.video[-request.overlap :] if request.video is not None else None
        for index, prompt in enumerate(prompts):
            conditions = self.conditions(request, previous, last_segment=index == len(prompts) - 1)
            progress = reporter.step_callback(total, done=index * request.steps)
            segment = self._generate(request, prompt, conditions, request.seed + index, progress)
            clip = segment if clip is None else np.concatenate([clip, segment[request.overlap :]])
            previous = segment[-request.overlap :]
        assert clip is not None
        if request.upscale:
            return self.upscale(clip, request, reporter, done=request.steps * len(prompts))
        return clip
