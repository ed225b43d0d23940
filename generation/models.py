"""The model registry: one row per named model, as data (torch-free).

A row says which family renders it (one pipeline module each, see `pipelines.RUNNERS`), which inputs it
takes, its native size and limits, what a clip costs, how much GPU memory it needs, where its weights
are and under which licence. The bot reads it to offer only what works and to price a job; the worker
reads it to load weights. Every field a host may change is overridden from the environment, see
`settings.ModelOverrides`.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from generation.jobs import JobKind

__all__ = [
    "DEFAULT_MODELS",
    "KNOWN_MODELS",
    "MOTION_LORAS",
    "CameraMode",
    "Family",
    "Guidance",
    "Input",
    "ModelSpec",
    "with_overrides",
]


class Family(enum.StrEnum):
    SVD = "svd"  # Stable Video Diffusion, image -> video
    ANIMATEDIFF = "animatediff"  # SD 1.5 + motion adapter, text -> video
    T2I_SVD = "t2i-svd"  # a fast text -> image model, then SVD
    LTX = "ltx"  # LTX-Video: text and image -> video, keyframes, continuation, latent upscaling
    WAN = "wan"  # Wan 2.x: text and image -> video, first and last frame, video -> video (restyle)


class Input(enum.StrEnum):
    IMAGE = "image"
    TEXT = "text"


class CameraMode(enum.StrEnum):
    VIRTUAL = "virtual"  # a zoom / pan / rotate path applied to the generated frames
    LORA = "lora"  # AnimateDiff's learned motion LoRAs


@dataclass(frozen=True)
class Guidance:
    """A model's guidance range; Pika's 8..24 scale maps onto it with 12 -> default."""

    low: float
    default: float
    high: float

    def from_pika(self, pika: float | None) -> float:
        if pika is None:
            return self.default
        if pika <= 12:
            return self.low + (self.default - self.low) * (pika - 8) / 4
        return self.default + (self.high - self.default) * (pika - 12) / 12


# The official AnimateDiff camera LoRAs, as named in guoyww/animatediff-motion-lora-<name>: `ModelSpec.lora`.
MOTION_LORAS = (
    "zoom-in",
    "zoom-out",
    "pan-left",
    "pan-right",
    "tilt-up",
    "tilt-down",
    "rolling-clockwise",
    "rolling-anticlockwise",
)
_NEEDS = {JobKind.IMAGE_TO_VIDEO: Input.IMAGE, JobKind.TEXT_TO_VIDEO: Input.TEXT}
_MODE_FACTOR = {"full": 1.25, "balanced": 1.0, "low": 0.45}  # where a row gives only the balanced figure


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: Family
    inputs: tuple[Input, ...]  # what /animate (image) and /imagine-video (text) may send it
    description: str
    weights: str  # hub id or local folder of the main pipeline
    licence: str  # the weights' licence, as on their model card
    width: int  # native size; other aspects keep this pixel area
    height: int
    frames: int
    max_frames: int
    steps: int
    max_steps: int
    guidance: Guidance
    camera: CameraMode
    memory_gb: float  # GPU memory a native-size clip needs in the balanced memory mode (fp16)
    memory_gb_full: float | None = None  # the same in the full and low modes (None: scaled from memory_gb)
    memory_gb_low: float | None = None
    activation_share: float = 0.5  # the part of that memory that grows with pixels x frames (the rest: weights)
    extends: bool = False  # Extend can continue its clips
    extend_overlap: int = 1  # frames of the clip a continuation is conditioned on (and re-renders)
    max_duration_s: float = 8.0  # how long Extend or prompt travel may make a clip
    takes_negative_prompt: bool = False
    default_negative: str = ""  # the negative prompt its model card recommends, used when the job gives none
    keyframes: bool = False  # takes a last frame too (/morph, the `end` image)
    travels: bool = False  # prompt travel: "a | b | c", one prompt per segment
    upscales: bool = False  # Upscale (x2) runs on this model, for its own clips and other models'
    restyles: bool = False  # /restyle: redraws a user's video to a prompt (video-to-video)
    reads_prompt: bool = False  # an image-only model whose clips a prompt steers (Wan I2V)
    languages: tuple[str, ...] = ("en",)  # what its text encoder reads (ISO 639-1; "*": many, as UMT5)
    fast_cache: float = 0.0  # the `-fast` draft tier: First Block Cache's threshold on its transformer; 0 = none
    deep_cache: int = 0  # the `-fast` draft tier of a UNet: DeepCache, a full step every N (generation/deep_cache.py)
    preview: str = ""  # live previews: its latent space and tensor layout (generation/preview.py); "" = none
    control: bool = False  # Wan VACE: renders from a control video (and, later, masks); restyles from one
    prompt_camera: bool = False  # takes `-camera lock` and `orbit` by prompt (LTX, Wan); else by virtual camera
    masks: bool = False  # the motion brush: only the masked part of the picture moves (SVD, Wan VACE)
    poses: bool = False  # pose-driven: a character picture moves as the person in a video (Wan-Animate)
    pose_weights: str | None = None  # the pose estimator it reads the video with (ViTPose): hub id or folder
    fps: int = 24  # the frame rate its clips play at when the job gives none
    strength: float = 0.7  # restyle: the part of the video redrawn when the job gives no strength
    size_multiple: int = 64  # latent downsampling x UNet depth
    frame_step: int = 1  # frame counts are frame_step * k + 1 (LTX: 8)
    variant: str | None = None  # e.g. "fp16" weight files on the hub
    adapter: str | None = None  # AnimateDiff motion adapter: hub id or folder
    adapter_file: str | None = None  # single-file adapter weights inside `adapter` (Lightning)
    adapter_config: str | None = None  # where the single-file adapter's config comes from
    lora: str | None = None  # motion LoRA location, "{move}" replaced by zoom-in, pan-left, …
    scheduler: str = "default"  # "default" | "ddim" | "euler-trailing"
    t2i_weights: str | None = None  # T2I_SVD: the text -> image model
    t2i_steps: int = 1
    t2i_guidance: float = 0.0
    timesteps: tuple[float, ...] = ()  # a distilled checkpoint's own schedule (its step count is fixed)
    upscale_timesteps: tuple[float, ...] = ()  # the same for the refine pass after the x2 latent upsampler
    upsampler: str | None = None  # LTX's spatial latent upsampler: hub id or folder
    guidance_rescale: float = 0.0
    decode_timestep: float = 0.0  # LTX's VAE decodes at this timestep with this much noise (model card)
    decode_noise_scale: float = 0.0
    cost_factor: float = 1.0  # GPU work per pixel x frame x step relative to SVD (quota credits)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def fast_tier(self) -> bool:
        """Whether it has a `-fast` draft tier: First Block Cache (a transformer) or DeepCache (a UNet)."""
        return self.fast_cache > 0 or self.deep_cache > 1

    def takes(self, kind: JobKind) -> bool:
        """Whether this model can render a job of `kind` (Smooth runs on any model's worker)."""
        if kind is JobKind.EXTEND:
            return self.extends
        if kind is JobKind.UPSCALE:
            return self.upscales
        if kind is JobKind.RESTYLE:
            return self.restyles
        if kind is JobKind.POSE:
            return self.poses
        return kind is JobKind.SMOOTH or _NEEDS[kind] in self.inputs

    def max_total_frames(self, fps: int) -> int:
        """The most frames an extended clip may reach at `fps`."""
        return max(self.max_frames, int(self.max_duration_s * fps))

    def reads_language(self, language: str) -> bool:
        """Whether its text encoder reads prompts in `language` (else the worker translates them)."""
        return "*" in self.languages or language in self.languages

    def follows_prompt(self, kind: JobKind) -> bool:
        """Whether a prompt steers this model's clips of `kind` (SVD animates an image and reads no text)."""
        clip_in = (JobKind.TEXT_TO_VIDEO, JobKind.RESTYLE, JobKind.POSE)
        return self.reads_prompt or Input.TEXT in self.inputs or kind in clip_in

    def default_frames(self, kind: JobKind) -> int:
        """Frames a job of `kind` asks for when it names none: a restyle, as much of the video as fits."""
        return self.max_frames if kind in (JobKind.RESTYLE, JobKind.POSE) else self.frames

    def frame_count(self, frames: int) -> int:
        """`frames` rounded to the nearest count this model renders (frame_step * k + 1)."""
        if self.frame_step == 1:
            return frames
        return max(self.frame_step + 1, round((frames - 1) / self.frame_step) * self.frame_step + 1)

    def frames_within(self, most: int) -> int:
        """The largest frame count this model renders that is at most `most` (may be below its minimum)."""
        return most if self.frame_step == 1 else (most - 1) // self.frame_step * self.frame_step + 1

    def memory(self, mode: str) -> float:
        """GPU memory (GB) a native-size clip needs in memory mode `mode`."""
        given = {"full": self.memory_gb_full, "low": self.memory_gb_low}.get(mode)
        return given if given is not None else self.memory_gb * _MODE_FACTOR.get(mode, 1.0)


_SVD_GUIDANCE = Guidance(low=1.5, default=3.0, high=6.0)
_ADAPTER = "guoyww/animatediff-motion-adapter-v1-5-2"
_SD15_BASE = "emilianJR/epiCRealism"
_SVD_LICENCE = "stable-video-diffusion-community (Stability AI Community License)"
_SD15_LICENCE = "creativeml-openrail-m (base model); apache-2.0 (motion adapter and LoRAs)"
_LTX_LICENCE = "LTX-Video 0.9.7 Open Weights License (ltxv-open-weights; see the model card's use restrictions)"
_LTX_UPSAMPLER = "Lightricks/ltxv-spatial-upscaler-0.9.7"
# LTX-Video 0.9.7 13B in bf16: transformer 26 GB, VAE 1 GB, T5-XXL encoder 9.5 GB, activations at 768x512x121
# about 5 GB (estimates, not yet measured on a GPU: see bench/bench_generation.py). Full keeps all on the GPU
# (42); balanced keeps the encoder on the CPU between prompts, so its peak is the weights plus the encoder's
# visit (37); low offloads each part while another runs (the transformer and its activations: 31).
_LTX_MEMORY = {"memory_gb": 37.0, "memory_gb_full": 42.0, "memory_gb_low": 31.0, "activation_share": 0.15}

DEFAULT_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="svd",
            family=Family.SVD,
            preview="sd:bfchw",
            inputs=(Input.IMAGE,),
            description="Stable Video Diffusion (14 frames)",
            weights="stabilityai/stable-video-diffusion-img2vid",
            variant="fp16",  # the repository's half-precision files: half the download, no cast at load
            licence=_SVD_LICENCE,
            memory_gb=10.0,
            extends=True,
            masks=True,
            width=1024,
            height=576,
            frames=14,
            max_frames=14,
            steps=25,
            max_steps=50,
            guidance=_SVD_GUIDANCE,
            camera=CameraMode.VIRTUAL,
            deep_cache=3,  # `-fast`: two steps in three reuse the UNet's deep features
        ),
        ModelSpec(
            name="svd-xt",
            family=Family.SVD,
            preview="sd:bfchw",
            inputs=(Input.IMAGE,),
            description="Stable Video Diffusion XT (25 frames)",
            weights="stabilityai/stable-video-diffusion-img2vid-xt",
            variant="fp16",
            licence=_SVD_LICENCE,
            memory_gb=14.0,
            extends=True,
            masks=True,
            width=1024,
            height=576,
            frames=25,
            max_frames=25,
            steps=25,
            max_steps=50,
            guidance=_SVD_GUIDANCE,
            camera=CameraMode.VIRTUAL,
            deep_cache=3,  # `-fast`: two steps in three reuse the UNet's deep features
        ),
        ModelSpec(
            name="animatediff",
            family=Family.ANIMATEDIFF,
            preview="sd:bcfhw",
            inputs=(Input.TEXT,),
            description="AnimateDiff v1.5-2 with motion LoRAs for camera moves",
            weights=_SD15_BASE,
            licence=_SD15_LICENCE,
            memory_gb=8.0,
            takes_negative_prompt=True,
            width=512,
            height=512,
            frames=16,
            max_frames=16,
            steps=25,
            max_steps=50,
            guidance=Guidance(low=4.0, default=7.5, high=12.0),
            camera=CameraMode.LORA,
            adapter=_ADAPTER,
            lora="guoyww/animatediff-motion-lora-{move}",
            scheduler="ddim",
            deep_cache=3,
            restyles=True,  # the light restyle: 16 frames at 512x512
            cost_factor=1.5,
        ),
        ModelSpec(
            name="animatediff-lightning",
            family=Family.ANIMATEDIFF,
            preview="sd:bcfhw",
            inputs=(Input.TEXT,),
            description="AnimateDiff-Lightning, 4 steps (fast drafts)",
            weights=_SD15_BASE,
            licence=_SD15_LICENCE,
            memory_gb=8.0,
            width=512,
            height=512,
            frames=16,
            max_frames=16,
            steps=4,
            max_steps=4,
            guidance=Guidance(low=1.0, default=1.0, high=1.0),  # distilled: no classifier-free guidance
            camera=CameraMode.LORA,
            adapter="ByteDance/AnimateDiff-Lightning",
            adapter_file="animatediff_lightning_4step_diffusers.safetensors",
            adapter_config=_ADAPTER,
            lora="guoyww/animatediff-motion-lora-{move}",
            scheduler="euler-trailing",
            cost_factor=1.5,
        ),
        ModelSpec(
            name="t2i-svd",
            family=Family.T2I_SVD,
            preview="sd:bfchw",
            inputs=(Input.TEXT,),
            description="SDXL-Turbo picture, animated by SVD-XT",
            weights="stabilityai/stable-video-diffusion-img2vid-xt",
            variant="fp16",  # both repositories have fp16 files
            licence=_SVD_LICENCE + "; SDXL-Turbo: sai-nc-community (non-commercial)",
            memory_gb=22.0,
            extends=True,  # a continuation animates the clip's last frame with its SVD half
            width=1024,
            height=576,
            frames=25,
            max_frames=25,
            steps=25,
            max_steps=50,
            guidance=_SVD_GUIDANCE,
            camera=CameraMode.VIRTUAL,
            deep_cache=3,  # `-fast`: two steps in three reuse the UNet's deep features
            t2i_weights="stabilityai/sdxl-turbo",
            t2i_steps=1,
            t2i_guidance=0.0,
            cost_factor=1.1,  # the text-to-image picture first
        ),
    )
}

_LTX = {
    "family": Family.LTX,
    "inputs": (Input.IMAGE, Input.TEXT),
    "licence": _LTX_LICENCE,
    "extends": True,
    "extend_overlap": 9,  # a continuation is conditioned on the clip's last 9 frames (one latent frame + 1)
    "max_duration_s": 20.0,
    "takes_negative_prompt": True,
    "keyframes": True,
    "travels": True,
    "upscales": True,
    "width": 768,
    "height": 512,
    "size_multiple": 32,  # the VAE's 32x spatial compression
    "frame_step": 8,  # and its 8x temporal compression: 8k + 1 frames
    "frames": 121,  # 5 s at 24 fps
    "max_frames": 257,
    "camera": CameraMode.VIRTUAL,
    "upsampler": _LTX_UPSAMPLER,
    "prompt_camera": True,
    "guidance_rescale": 0.7,
    "decode_timestep": 0.05,
    "decode_noise_scale": 0.025,
    **_LTX_MEMORY,
}
DEFAULT_MODELS |= {
    "ltx": ModelSpec(
        name="ltx",
        description="LTX-Video 0.9.7 distilled: follows the prompt, keyframes, fast",
        weights="Lightricks/LTX-Video-0.9.7-distilled",
        steps=8,
        max_steps=8,
        guidance=Guidance(low=1.0, default=1.0, high=1.0),  # distilled: no classifier-free guidance
        timesteps=(1000, 993, 987, 981, 975, 909, 725, 0.03),  # the model card's schedule
        upscale_timesteps=(1000, 909, 725, 421, 0),
        cost_factor=2.5,  # a 13B transformer: per pixel x frame x step about 2.5x SVD's work
        **_LTX,  # type: ignore[arg-type]
    ),
    "ltx-dev": ModelSpec(
        name="ltx-dev",
        description="LTX-Video 0.9.7 dev: the full model, slower, finer",
        weights="Lightricks/LTX-Video-0.9.7-dev",
        steps=30,
        max_steps=50,
        guidance=Guidance(low=3.0, default=5.0, high=8.0),
        cost_factor=5.0,  # classifier-free guidance runs the transformer twice per step
        fast_cache=0.05,  # `-fast` (the distilled row's 8 steps leave little to reuse)
        **_LTX,  # type: ignore[arg-type]
    ),
}

# Wan's recommended negative prompt (the Wan 2.1 / 2.2 model cards), in the Chinese its UMT5 encoder reads:
# garish colours, overexposed, static, blurred details, subtitles, style, artwork, painting, still frame,
# greyish, worst quality, low quality, JPEG artefacts, ugly, mutilated, extra fingers, badly drawn hands and
# faces, deformed, disfigured, malformed limbs, fused fingers, motionless picture, cluttered background,
# three legs, crowded background, walking backwards.
_WAN_NEGATIVE = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走"
)
_WAN = {
    "family": Family.WAN,
    "preview": "wan:bcfhw",
    "fast_cache": 0.1,  # `-fast`: a step whose first block barely changed reuses the rest of the last step's work
    "licence": "apache-2.0 (Wan 2.2; see the model card's use restrictions)",
    "extends": True,  # a continuation animates the clip's last frame
    "max_duration_s": 10.0,
    "takes_negative_prompt": True,
    "default_negative": _WAN_NEGATIVE,
    "languages": ("*",),  # UMT5 was trained on about a hundred languages: prompts go as written
    "frame_step": 4,  # the VAE's 4x temporal compression: 4k + 1 frames
    "camera": CameraMode.VIRTUAL,
    "prompt_camera": True,
}
DEFAULT_MODELS |= {
    # Wan 2.2 TI2V-5B in bf16: transformer 10 GB, UMT5-XXL encoder 11.4 GB, VAE 1.4 GB, activations at
    # 1280x704x121 about 8 GB (estimates). Balanced keeps the encoder on the CPU (22); low offloads each
    # model while another runs and decodes in tiles, so a 24 GB card runs it (16).
    "wan": ModelSpec(
        name="wan",
        inputs=(Input.IMAGE, Input.TEXT),
        description="Wan 2.2 TI2V-5B: 720p quality, follows the prompt, restyles videos",
        weights="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        width=1280,
        height=704,
        size_multiple=32,  # the 16x spatial VAE and the transformer's 2x2 patches
        frames=121,  # 5 s at 24 fps
        max_frames=121,
        steps=50,
        max_steps=50,
        guidance=Guidance(low=3.0, default=5.0, high=8.0),
        restyles=True,
        memory_gb=22.0,
        memory_gb_full=33.0,
        memory_gb_low=16.0,
        activation_share=0.4,
        cost_factor=3.0,  # classifier-free guidance: the 5B transformer twice per step
        **_WAN,  # type: ignore[arg-type]
    ),
    # Wan 2.2 I2V-A14B: two 14B experts (high noise, then low noise), 28 GB each in bf16, one on the GPU at a
    # time in low mode (36); both stay in full (76) and balanced (65, the encoder on the CPU).
    "wan-i2v": ModelSpec(
        name="wan-i2v",
        inputs=(Input.IMAGE,),
        reads_prompt=True,
        description="Wan 2.2 I2V-A14B: large cards, image to video, first and last frame",
        weights="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        width=1280,
        height=720,
        size_multiple=16,  # the 8x spatial VAE and 2x2 patches
        frames=81,  # 5 s at 16 fps
        max_frames=81,
        fps=16,
        steps=40,
        max_steps=50,
        guidance=Guidance(low=2.0, default=3.5, high=6.0),
        keyframes=True,
        memory_gb=65.0,
        memory_gb_full=76.0,
        memory_gb_low=36.0,
        activation_share=0.12,
        cost_factor=6.0,
        **_WAN,  # type: ignore[arg-type]
    ),
    # Wan 2.2 Animate-14B: a character picture moved as the person in a video moves (their pose, drawn from
    # ViTPose keypoints, and their face, cut out by the same keypoints). 14B in bf16: 28 GB, plus the image
    # encoder and UMT5 (full 48, balanced 37 with the encoder on the CPU, low 30).
    "wan-animate": ModelSpec(
        name="wan-animate",
        inputs=(Input.IMAGE,),
        reads_prompt=True,
        description="Wan 2.2 Animate-14B: your character moves as the person in a video",
        weights="Wan-AI/Wan2.2-Animate-14B-Diffusers",
        pose_weights="usyd-community/vitpose-base-simple",
        width=1280,
        height=720,
        size_multiple=16,
        frames=77,  # one segment; a longer video is rendered in segments that continue each other
        max_frames=153,
        steps=20,
        max_steps=40,
        guidance=Guidance(low=1.0, default=1.0, high=3.0),  # the model card: no guidance
        poses=True,
        memory_gb=37.0,
        memory_gb_full=48.0,
        memory_gb_low=30.0,
        activation_share=0.15,
        cost_factor=5.0,
        **(_WAN | {"extends": False}),  # type: ignore[arg-type]
    ),
    # Wan 2.1 VACE 1.3B: text to video, and a control video (here the video in grey: its shapes and light)
    # steering a new clip. Small: the 1.3B transformer 2.6 GB, the UMT5 encoder kept off the GPU (8).
    "wan-vace": ModelSpec(
        name="wan-vace",
        inputs=(Input.TEXT, Input.IMAGE),
        description="Wan 2.1 VACE 1.3B: restyles by a control video, motion brush, small cards",
        weights="Wan-AI/Wan2.1-VACE-1.3B-diffusers",
        width=832,
        height=480,
        size_multiple=16,
        frames=81,
        max_frames=81,
        fps=16,
        steps=30,
        max_steps=50,
        guidance=Guidance(low=3.0, default=5.0, high=8.0),
        restyles=True,
        control=True,
        masks=True,
        memory_gb=8.0,
        memory_gb_full=19.0,
        memory_gb_low=6.0,
        activation_share=0.5,
        cost_factor=0.8,
        **(_WAN | {"extends": False, "licence": "apache-2.0 (Wan 2.1 VACE)"}),  # type: ignore[arg-type]
    ),
}

KNOWN_MODELS = tuple(DEFAULT_MODELS)


def with_overrides(spec: ModelSpec, overrides: dict[str, object]) -> ModelSpec:
    """A copy of `spec` with the given fields replaced (None values are ignored)."""
    changes = {key: value for key, value in overrides.items() if value is not None}
    spec = dataclasses.replace(spec, **changes)  # type: ignore[arg-type]
    # A lowered maximum pulls the default down with it unless the default was set too.
    if "frames" not in changes and spec.frames > spec.max_frames:
        spec = dataclasses.replace(spec, frames=spec.max_frames)
    if "steps" not in changes and spec.steps > spec.max_steps:
        spec = dataclasses.replace(spec, steps=spec.max_steps)
    if not 2 <= spec.frames <= spec.max_frames or not 1 <= spec.steps <= spec.max_steps:
        raise ValueError(f"model {spec.name}: default frames/steps must lie within their maximum")
    return spec
