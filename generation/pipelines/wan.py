"""Wan 2.x: text, an image (or a first and a last frame) or a video in, a clip that follows the prompt out.

One loaded pipeline serves every kind of job: the row's weights load as `WanPipeline` (a text-and-image
model, Wan 2.2 TI2V-5B), as `WanImageToVideoPipeline` (an image model, Wan 2.2 I2V-A14B), as
`WanVACEPipeline` (a control row, Wan 2.1 VACE) or as `WanAnimatePipeline` (a pose row, Wan 2.2 Animate),
and the other pipelines are built around the same modules, so nothing loads twice:

- text -> video: `WanPipeline` (VACE: its own pipeline without a control video);
- image -> video, Extend (the clip's last frame), and a first and last frame (`/morph`, `end`; the I2V
  models: TI2V-5B's timestep expansion ignores a last frame): `WanImageToVideoPipeline`;
- a picture on VACE: the picture as the first frame and grey frames after it (VACE's first-frame task);
  with a motion brush, the picture in every frame and the mask (white: redraw) in every frame, the latents
  outside the mask held on the picture's after every step (so that part stays still);
- `/ingredients` on VACE: pictures of people, things or places as its reference images, the clip made from
  the prompt with them in it (VACE's reference-to-video task: no control video, every frame generated);
- a character moved by a pose video (`pose` rows): `WanAnimatePipeline`, given the video's pose (ViTPose
  keypoints drawn as a skeleton) and face (cut out by the same keypoints), see `generation.pose`;
- `/restyle`: `WanVideoToVideoPipeline` on the video's frames, `strength` the part redrawn (a text-to-video
  model); on VACE, the video in grey as the control video (its shapes and light; the colours and the style
  come from the prompt, as in VACE's colourisation task), `strength` lowering how closely it is followed
  (conditioning scale 1.5 - strength: 0.8 at the default 0.7); with `-region` only that part of every frame is
  redrawn (VACE's video inpainting: the part grey, its masks from CLIPSeg), as a picture given shows it (a
  reference image), the rest kept pixel for pixel;
- `/expand` on VACE: the video whole in the middle of a wider or taller frame, what is around it drawn to the
  prompt (VACE's outpainting: the same inpainting task, its masks around the video), the video kept pixel
  for pixel.

Wan has no motion control; `motion` adds words to the prompt, which it follows (level 1 adds none):

| motion | added to the prompt             |
|--------|---------------------------------|
| 0      | almost still, very subtle motion |
| 1      | (nothing)                       |
| 2      | lively, natural motion          |
| 3      | dynamic, energetic motion       |
| 4      | fast, dramatic, sweeping motion |

The UMT5-XXL encoder (11 GB in bf16) stays on the GPU only in the full memory mode (see `Runtime.place`),
and prompt embeddings are cached, so a Reroll encodes nothing. A restyle (or an expanded video) keeps the
video's own motion: no words are added.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import (
    WanAnimatePipeline,
    WanImageToVideoPipeline,
    WanPipeline,
    WanVACEPipeline,
    WanVideoToVideoPipeline,
)
from diffusers.video_processor import VideoProcessor
from PIL import Image, ImageFilter, ImageOps

from generation.fp8 import Fp8Twins
from generation.jobs import JobKind
from generation.models import Input, ModelSpec
from generation.pipelines import Request
from generation.progress import Reporter
from generation.runtime import PromptCache, Runtime, fast_tier, latent_mask, to_uint8
from generation.weights import component, local_only

__all__ = ["MOTION_WORDS", "WanRunner"]

MOTION_WORDS = {
    0: "almost still, very subtle motion",
    1: "",
    2: "lively, natural motion",
    3: "dynamic, energetic motion",
    4: "fast, dramatic, sweeping motion",
}
_MAX_SEQUENCE = 512  # UMT5 tokens per prompt, as Wan was trained
_SHARED = ("tokenizer", "text_encoder", "vae", "scheduler", "transformer")


class WanRunner:
    def __init__(self, spec: ModelSpec, runtime: Runtime, pipe: Any = None):
        self.spec, self.runtime = spec, runtime
        if pipe is None:
            kind = _pipeline_class(spec)
            with component(spec.name, "pipeline weights", spec.weights, "weights"):
                pipe = kind.from_pretrained(
                    spec.weights, dtype=runtime.dtype, variant=spec.variant, local_files_only=local_only(spec.weights)
                )
        self.pipe = runtime.place(pipe, cpu_modules=("text_encoder",))
        parts = self.pipe.components
        experts = {"transformer_2": parts.get("transformer_2")}
        self.control = isinstance(pipe, WanVACEPipeline)
        self.animate = isinstance(pipe, WanAnimatePipeline)
        self._poses: Any = None  # the pose estimator (pose rows), loaded on the first job
        self.text_to_video = pipe if isinstance(pipe, WanPipeline | WanVACEPipeline) else None
        self.image_to_video: WanImageToVideoPipeline | None = None
        if isinstance(pipe, WanImageToVideoPipeline):
            self.image_to_video = pipe
        elif not (self.control or self.animate):  # VACE and Animate transformers take other latents
            config = {name: pipe.config.get(name) for name in ("boundary_ratio", "expand_timesteps")}
            self.image_to_video = WanImageToVideoPipeline(
                **{name: parts[name] for name in _SHARED}, **experts, image_encoder=None, image_processor=None, **config
            )
            self.image_to_video.set_progress_bar_config(disable=True)
        self._video_to_video: WanVideoToVideoPipeline | None = None
        self.prompts = PromptCache(runtime)
        self.fp8 = Fp8Twins(self.pipe, spec, runtime)

    def pose_reader(self) -> Any:
        """The pose estimator a pose row reads its videos with (ViTPose), loaded on the first pose job."""
        if self._poses is None:
            from generation.pose import PoseReader

            if self.spec.pose_weights is None:
                raise ValueError(f"{self.spec.name} has no pose estimator configured")
            self._poses = PoseReader(self.spec.name, self.spec.pose_weights, self.runtime)
        return self._poses

    def video_to_video(self) -> WanVideoToVideoPipeline:
        """The restyle pipeline on the same modules (a text-to-video model only: an I2V transformer wants an
        image's latents beside the noise)."""
        if self._video_to_video is None:
            if not isinstance(self.text_to_video, WanPipeline) or self.pipe.components.get("transformer_2"):
                raise ValueError(f"{self.spec.name} cannot restyle videos")
            pipe = WanVideoToVideoPipeline(**{name: self.pipe.components[name] for name in _SHARED})
            # It takes its spatial scale from the temporal downsampling list: 8x, wrong for the 16x VAE of
            # Wan 2.2 TI2V-5B. The VAE's config says it.
            pipe.vae_scale_factor_spatial = pipe.vae.config.scale_factor_spatial
            pipe.video_processor = VideoProcessor(vae_scale_factor=pipe.vae_scale_factor_spatial)
            pipe.set_progress_bar_config(disable=True)
            self._video_to_video = pipe
        return self._video_to_video

    def _keep_still(self, request: Request, video: list[Image.Image], progress: Any) -> Any:
        """A step callback that holds the latents outside the mask on the picture's own latents noised to the
        step's level (flow matching: x = (1 - sigma) z + sigma noise), so that part stays the still picture
        whatever the weights do; then it reports the step."""
        assert request.mask is not None
        pipe, device = self.pipe, self.runtime.device
        frames = pipe.video_processor.preprocess_video(video, height=request.height, width=request.width)
        with torch.no_grad():  # (1, C, latent frames, h, w), normalised as the pipeline normalises latents
            still = pipe.vae.encode(frames.to(device, pipe.vae.dtype)).latent_dist.mode().float()
        mean = torch.tensor(pipe.vae.config.latents_mean, device=device).view(1, -1, 1, 1, 1)
        std = torch.tensor(pipe.vae.config.latents_std, device=device).view(1, -1, 1, 1, 1)
        still = (still - mean) / std
        noise = torch.randn(still.shape, generator=self.runtime.generator(request.seed + 1)).to(device)
        moves = latent_mask(request.mask, still.shape[-1], still.shape[-2], device)

        def callback(pipeline: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            sigma = float(pipeline.scheduler.sigmas[step + 1])  # the noise level after this step
            latents = kwargs["latents"]
            kept = ((1 - sigma) * still + sigma * noise).to(latents.dtype)
            kwargs["latents"] = latents * moves.to(latents.dtype) + kept * (1 - moves.to(latents.dtype))
            return progress(pipeline, step, timestep, kwargs)

        return callback

    def _swap(self, request: Request, scale: float, shared: dict[str, Any]) -> np.ndarray:
        """Part of a video redrawn to the prompt (VACE's video inpainting), as the picture given shows it (a
        reference image) if there is one; the rest kept as it was. An expanded video is drawn the same way:
        the part is everything around it."""
        video, masks = request.video, request.mask
        assert video is not None and masks is not None
        frames, regions = _swap_inputs(video, masks)
        references = list(request.ingredients) or None
        output = self.pipe(
            video=frames,
            mask=regions,
            reference_images=references,
            conditioning_scale=scale,
            num_frames=len(frames),
            **shared,
        )
        return _composite(to_uint8(output.frames[0]), video, masks)

    def check_inputs(self, request: Request) -> None:
        multiple = self.spec.size_multiple
        if request.width % multiple or request.height % multiple:
            raise ValueError(f"width and height must be multiples of {multiple}, got {request.width}x{request.height}")
        step = self.pipe.vae_scale_factor_temporal
        if (request.frames - 1) % step:
            raise ValueError(f"frames must be {step}k + 1, got {request.frames}")
        if request.motion not in MOTION_WORDS:
            raise ValueError(f"motion must be 0..4, got {request.motion}")
        if request.kind is JobKind.RESTYLE and request.video is None:
            raise ValueError("a restyle needs the video's frames")
        if request.kind is JobKind.EXPAND and (request.video is None or request.mask is None or not self.control):
            raise ValueError("an expanded video needs a VACE model, the video on its larger frame and the masks")
        if request.image is None and request.video is None and (self.text_to_video is None or not request.prompt):
            raise ValueError(f"{self.spec.name} needs " + ("an image" if self.text_to_video is None else "a prompt"))
        if self.animate != (request.kind is JobKind.POSE):
            raise ValueError(f"{self.spec.name} " + ("needs a pose video" if self.animate else "takes no pose video"))
        if request.kind is JobKind.POSE and (request.image is None or request.video is None):
            raise ValueError("pose-driven animation needs the character's picture and the pose video's frames")
        if request.image is not None and self.image_to_video is None and not (self.control or self.animate):
            raise ValueError(f"{self.spec.name} does not animate pictures")
        if request.mask is not None and not self.control:
            raise ValueError(f"{self.spec.name} cannot keep part of the picture still (a VACE model can)")
        if request.end_image is not None and (request.image is None or self.pipe.config.get("expand_timesteps")):
            raise ValueError(f"{self.spec.name} cannot end on a given picture")
        swap = request.kind is JobKind.RESTYLE and request.mask is not None
        if request.kind is JobKind.INGREDIENTS and not request.ingredients:
            raise ValueError("an ingredients clip needs its pictures")
        if request.ingredients and not (self.control and (swap or request.kind is JobKind.INGREDIENTS)):
            raise ValueError(f"{self.spec.name}: pictures of who or what to show go to VACE (ingredients, a swap)")

    def _text(self, request: Request, prompt: str) -> dict[str, Any]:
        guided = request.guidance > 1.0
        pipe = self.pipe

        def encode() -> tuple[Any, ...]:
            return pipe.encode_prompt(
                prompt=prompt,
                negative_prompt=request.negative_prompt,
                do_classifier_free_guidance=guided,
                max_sequence_length=_MAX_SEQUENCE,
                device=self.runtime.device,
            )

        transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
        key = (prompt, request.negative_prompt, guided)
        embeds = self.prompts.get(key, pipe.text_encoder, encode, transformer.dtype)
        return dict(zip(("prompt_embeds", "negative_prompt_embeds"), embeds, strict=False))

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        self.check_inputs(request)
        if request.kind is JobKind.RESTYLE and not self.control:
            self.video_to_video()  # made before the swap below, so that it shares the denoisers too
        pipes = [self.pipe, self.text_to_video, self.image_to_video, self._video_to_video]  # sharing the denoisers
        with (  # `-fast`: the fp8 transformers, if there are, and First Block Cache on them
            self.fp8.swapped([pipe for pipe in pipes if pipe is not None], request.fp8),
            fast_tier(self.pipe, request.fast_cache),
        ):
            return self._render(request, reporter)

    def _render(self, request: Request, reporter: Reporter) -> np.ndarray:
        restyle = request.kind is JobKind.RESTYLE
        words = "" if restyle or request.kind is JobKind.EXPAND else MOTION_WORDS[request.motion]
        prompt = ", ".join(part for part in (request.prompt, words) if part)
        steps = request.redrawn[1] if restyle else request.steps
        shared: dict[str, Any] = {
            "width": request.width,
            "height": request.height,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            "generator": self.runtime.generator(request.seed),
            "callback_on_step_end": reporter.step_callback(steps),
            "max_sequence_length": _MAX_SEQUENCE,
            "output_type": "pt",
            **self._text(request, prompt),
        }
        if request.kind is JobKind.POSE:
            assert request.video is not None
            face_size = self.pipe.transformer.config.motion_encoder_size
            poses, faces = self.pose_reader().read(request.video, face_size)
            output = self.pipe(
                image=request.image,
                pose_video=poses,
                face_video=faces,
                segment_frame_length=min(self.spec.frames, request.frames),
                mode="animate",
                **shared,
            )
            return to_uint8(output.frames[0])[: request.frames]
        if restyle and self.control and request.mask is not None:
            assert request.video is not None
            shared["callback_on_step_end"] = reporter.step_callback(request.steps)  # every step runs
            return self._swap(request, 1.5 - request.strength, shared)
        if request.kind is JobKind.EXPAND:  # outpainting: the same task, its masks around the video
            return self._swap(request, 1.0, shared)
        if restyle and self.control:
            assert request.video is not None
            grey = [ImageOps.grayscale(Image.fromarray(frame)).convert("RGB") for frame in request.video]
            shared["callback_on_step_end"] = reporter.step_callback(request.steps)  # every step runs
            scale = 1.5 - request.strength
            output = self.pipe(video=grey, conditioning_scale=scale, num_frames=len(grey), **shared)
        elif restyle:
            assert request.video is not None
            pictures = [Image.fromarray(frame) for frame in request.video]
            strength, _ = request.redrawn
            output = self.video_to_video()(video=pictures, strength=strength, **shared)
        elif request.kind is JobKind.INGREDIENTS:  # VACE's reference-to-video: no video, everything generated
            output = self.pipe(reference_images=list(request.ingredients), num_frames=request.frames, **shared)
        elif request.image is not None and self.control:
            video, mask = _picture_task(request)
            if request.mask is not None:
                shared["callback_on_step_end"] = self._keep_still(request, video, shared["callback_on_step_end"])
            output = self.pipe(video=video, mask=mask, num_frames=request.frames, **shared)
        elif request.image is not None:
            assert self.image_to_video is not None
            output = self.image_to_video(
                image=request.image, last_image=request.end_image, num_frames=request.frames, **shared
            )
        else:
            assert self.text_to_video is not None
            output = self.text_to_video(num_frames=request.frames, **shared)
        return to_uint8(output.frames[0])  # (F, H, W, 3)


def _swap_inputs(video: np.ndarray, masks: np.ndarray) -> tuple[list[Image.Image], list[Image.Image]]:
    """VACE's inpainting inputs: the frames with the region grey (what is there is left to the prompt, not
    its colours) and the region's masks (white: redraw), frame by frame."""
    region = masks[..., None] > 0.5
    shown = np.where(region, np.uint8(127), video)
    return [Image.fromarray(frame) for frame in shown], [
        Image.fromarray((mask * 255).astype(np.uint8)).convert("RGB") for mask in masks
    ]


def _composite(made: np.ndarray, video: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The new frames inside the region, the video's own outside it, blended over a soft edge of a few pixels:
    what the user did not ask to change stays as it was, pixel for pixel."""
    soft = np.stack(
        [
            np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2)))
            for mask in masks
        ]
    )
    alpha = soft[..., None].astype(np.float32) / 255
    return np.round(made * alpha + video * (1 - alpha)).astype(np.uint8)


def _picture_task(request: Request) -> tuple[list[Image.Image], list[Image.Image]]:
    """VACE's inputs for a picture: with a mask, the picture in every frame and the mask (white: redraw) in
    every frame, so only the masked part moves; without one, the picture as the first frame and grey frames
    to fill in after it (VACE's first-frame task)."""
    assert request.image is not None
    frames = request.frames
    if request.mask is not None:
        mask = Image.fromarray((request.mask * 255).astype(np.uint8)).convert("RGB")
        return [request.image] * frames, [mask] * frames
    grey = Image.new("RGB", request.image.size, (127, 127, 127))
    black, white = (Image.new("RGB", request.image.size, colour) for colour in ("black", "white"))
    return [request.image] + [grey] * (frames - 1), [black] + [white] * (frames - 1)


def _pipeline_class(spec: ModelSpec) -> Any:
    """The pipeline a row's weights load as."""
    if spec.poses:
        return WanAnimatePipeline
    if spec.control:
        return WanVACEPipeline
    return WanPipeline if Input.TEXT in spec.inputs else WanImageToVideoPipeline
