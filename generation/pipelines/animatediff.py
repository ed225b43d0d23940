"""AnimateDiff (and AnimateDiff-Lightning): SD 1.5 plus a motion adapter, text in, a 16-frame clip out.
`/restyle` runs `AnimateDiffVideoToVideoPipeline` on the same modules (the light restyle: 16 frames), and
`/illusion` `AnimateDiffControlNetPipeline` with the row's illusion ControlNet (QR Code Monster v2), which
steers every frame toward the hidden shape (generation/illusion.py) at twice the job's strength.

Camera moves come from the official motion LoRAs, loaded once each and switched per job. A diagonal pan
combines two LoRAs (pan-left + tilt-up). `motion` sets the LoRA weight:

| motion | LoRA weight |
|--------|-------------|
| 0      | 0.40        |
| 1      | 0.60        |
| 2      | 0.75        |
| 3      | 0.90        |
| 4      | 1.00        |
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
from diffusers import (
    AnimateDiffControlNetPipeline,
    AnimateDiffPipeline,
    AnimateDiffVideoToVideoPipeline,
    ControlNetModel,
    DDIMScheduler,
    EulerDiscreteScheduler,
    MotionAdapter,
)
from huggingface_hub import hf_hub_download
from PIL import Image
from safetensors.torch import load_file

from generation.compiled import set_loras_on
from generation.deep_cache import deep_cache
from generation.fp8 import Fp8Twins
from generation.jobs import JobKind
from generation.models import ModelSpec
from generation.pipelines import Request
from generation.progress import Reporter
from generation.runtime import Runtime, to_uint8
from generation.values import Camera
from generation.weights import WeightsNotFound, component, in_repository, local_only

__all__ = ["LORA_WEIGHT", "AnimateDiffRunner", "lora_moves"]

LORA_WEIGHT = (0.40, 0.60, 0.75, 0.90, 1.00)
STYLE_WEIGHT = 0.8  # a style LoRA's weight (`-style` on a style with a LoRA, see generation/styles.toml)


def lora_moves(camera: Camera | None) -> list[str]:
    """The motion LoRA names (as in guoyww/animatediff-motion-lora-<name>) for a camera move."""
    if not camera:
        return []
    if camera.zoom:
        return ["zoom-in" if camera.zoom > 0 else "zoom-out"]
    if camera.rotate:
        return ["rolling-clockwise" if camera.rotate > 0 else "rolling-anticlockwise"]
    moves = []
    if camera.pan_x:
        moves.append("pan-left" if camera.pan_x < 0 else "pan-right")
    if camera.pan_y:
        moves.append("tilt-up" if camera.pan_y < 0 else "tilt-down")
    return moves


def load_adapter(spec: ModelSpec, runtime: Runtime) -> MotionAdapter:
    """The motion adapter: a diffusers folder / hub repo, or one safetensors file (Lightning)."""
    if spec.adapter is None:
        raise ValueError(f"model {spec.name} has no motion adapter configured")
    offline = local_only(spec.adapter)
    if spec.adapter_file is None:
        with component(spec.name, "motion adapter", spec.adapter, "adapter"):
            return MotionAdapter.from_pretrained(spec.adapter, dtype=runtime.dtype, local_files_only=offline)
    # Lightning ships bare weights; its architecture is that of the regular v1-5-2 adapter.
    config_source = spec.adapter_config or spec.adapter
    with component(spec.name, "motion adapter config", config_source, "adapter_config"):
        config = MotionAdapter.load_config(config_source, local_files_only=local_only(config_source))
        adapter = MotionAdapter.from_config(config)
    with component(spec.name, "motion adapter weights", f"{spec.adapter}/{spec.adapter_file}", "adapter_file"):
        if os.path.isdir(spec.adapter):
            path = os.path.join(spec.adapter, spec.adapter_file)
        else:
            path = hf_hub_download(spec.adapter, spec.adapter_file, local_files_only=offline)
        adapter.load_state_dict(load_file(path))
    return adapter.to(runtime.dtype)


class AnimateDiffRunner:
    def __init__(self, spec: ModelSpec, runtime: Runtime, pipe: Any = None):
        self.spec, self.runtime = spec, runtime
        if pipe is None:
            adapter = load_adapter(spec, runtime)
            with component(spec.name, "base model", spec.weights, "weights"):
                pipe = AnimateDiffPipeline.from_pretrained(
                    spec.weights,
                    motion_adapter=adapter,
                    dtype=runtime.dtype,
                    variant=spec.variant,
                    local_files_only=local_only(spec.weights),
                )
        if spec.scheduler == "ddim":  # the settings AnimateDiff v1-5-2 was trained with
            pipe.scheduler = DDIMScheduler.from_config(
                pipe.scheduler.config,
                beta_schedule="linear",
                clip_sample=False,
                timestep_spacing="linspace",
                steps_offset=1,
            )
        elif spec.scheduler == "euler-trailing":  # what the Lightning distillation expects
            pipe.scheduler = EulerDiscreteScheduler.from_config(
                pipe.scheduler.config, timestep_spacing="trailing", beta_schedule="linear"
            )
        self.pipe = runtime.place(pipe)
        self.fp8 = Fp8Twins(self.pipe, spec, runtime)  # no LoRAs yet
        self._loaded_loras: set[str] = set()
        self._restyle: AnimateDiffVideoToVideoPipeline | None = None
        self._illusion: AnimateDiffControlNetPipeline | None = None

    def restyler(self) -> AnimateDiffVideoToVideoPipeline:
        """Video-to-video on the loaded modules (the UNet with its motion modules and camera LoRAs)."""
        if self._restyle is None:
            self._restyle = AnimateDiffVideoToVideoPipeline(**self.pipe.components)
            self._restyle.set_progress_bar_config(disable=True)
        return self._restyle

    def illusionist(self) -> AnimateDiffControlNetPipeline:
        """Clips with a shape hidden in them: the loaded modules and the illusion ControlNet, loaded on the first
        such clip (0.7 GB in fp16) and kept on the device."""
        if self._illusion is None:
            source = self.spec.illusion_weights
            if source is None:
                raise ValueError(f"{self.spec.name} makes no illusions (no illusion_weights)")
            repo, folder = in_repository(source)
            with component(self.spec.name, "illusion ControlNet", source, "illusion_weights"):
                controlnet = ControlNetModel.from_pretrained(
                    repo, subfolder=folder, dtype=self.runtime.dtype, local_files_only=local_only(repo)
                )
            self._illusion = AnimateDiffControlNetPipeline(
                **self.pipe.components, controlnet=controlnet.to(self.runtime.device)
            )
            self._illusion.set_progress_bar_config(disable=True)
        return self._illusion

    def check_inputs(self, request: Request) -> None:
        if request.kind is JobKind.RESTYLE and request.video is None:
            raise ValueError("a restyle needs the video's frames")
        if request.kind is JobKind.ILLUSION and request.image is None:
            raise ValueError("an illusion needs the shape to hide")
        if not request.prompt:
            raise ValueError(f"{self.spec.name} makes video from text: `prompt` is empty")
        if request.width % 8 or request.height % 8:
            raise ValueError(f"width and height must be multiples of 8, got {request.width}x{request.height}")
        if lora_moves(request.camera) and not self.spec.lora:
            raise ValueError(f"{self.spec.name} has no motion LoRAs configured for camera moves")

    def _use_loras(self, camera: Camera | None, motion: int, style: str | None) -> bool:
        """The camera's motion LoRAs at the motion level's weight, and the style's LoRA (if any) at 0.8;
        whether any is on."""
        moves = lora_moves(camera)
        for move in moves:
            if move not in self._loaded_loras:
                assert self.spec.lora is not None
                source = self.spec.lora.format(move=move)
                with component(self.spec.name, f"camera LoRA {move}", source, "lora"):
                    self.pipe.load_lora_weights(source, adapter_name=move, local_files_only=local_only(source))
                self._loaded_loras.add(move)
        names, weights = list(moves), [LORA_WEIGHT[motion]] * len(moves)
        if style is not None:
            name = "style-" + hashlib.sha1(style.encode()).hexdigest()[:12]  # an adapter name from any source
            if name not in self._loaded_loras:
                try:
                    self.pipe.load_lora_weights(style, adapter_name=name, local_files_only=local_only(style))
                except (OSError, ValueError) as exc:
                    raise WeightsNotFound(
                        f"{self.spec.name}: the style LoRA {style} did not load ({str(exc).splitlines()[0]}). "
                        "Setting: MOTIONBOT_STYLE_LORAS, or the style's `lora` in generation/styles.toml"
                    ) from exc
                self._loaded_loras.add(name)
            names, weights = [*names, name], [*weights, STYLE_WEIGHT]
        if names:
            self.pipe.enable_lora()
            self.pipe.set_adapters(names, adapter_weights=weights)
        elif self._loaded_loras:
            self.pipe.disable_lora()
        set_loras_on(self.pipe.unet, bool(names))  # off: the compiled path runs the base weights again
        return bool(names)

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        self.check_inputs(request)
        loras = self._use_loras(request.camera, request.motion, request.style_lora)
        shared: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "width": request.width,
            "height": request.height,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            "generator": self.runtime.generator(request.seed),
            "output_type": "pt",
            "decode_chunk_size": self.runtime.decode_chunk(request.frames),
        }
        restyle, illusion = request.kind is JobKind.RESTYLE, request.kind is JobKind.ILLUSION
        pipe = self.restyler() if restyle else self.illusionist() if illusion else self.pipe
        with (  # `-fast`: the fp8 UNet where no LoRA is on (the copy has none), and DeepCache (not beside a ControlNet)
            self.fp8.swapped([pipe], request.fp8 and not loras and not illusion),
            deep_cache(pipe.unet, 0 if illusion else request.deep_cache, self.runtime.compiler),
        ):
            if illusion:
                assert request.image is not None
                output = pipe(
                    num_frames=request.frames,
                    conditioning_frames=[request.image] * request.frames,
                    controlnet_conditioning_scale=2 * request.strength,
                    callback_on_step_end=reporter.step_callback(request.steps),
                    **shared,
                )
            elif restyle:
                assert request.video is not None
                strength, steps = request.redrawn
                output = pipe(
                    video=[Image.fromarray(frame) for frame in request.video],
                    strength=strength,
                    callback_on_step_end=reporter.step_callback(steps),
                    **shared,
                )
            else:
                output = pipe(
                    num_frames=request.frames, callback_on_step_end=reporter.step_callback(request.steps), **shared
                )
        return to_uint8(output.frames[0])  # (F, H, W, 3)
