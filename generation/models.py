"""What a registry row is (torch-free): `ModelSpec`, its families, inputs and camera modes. The rows
themselves, one per named model, are in `generation/registry.py`.

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

from generation.jobs import FROM_VIDEO, JobKind

__all__ = [
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
_FROM_CLIP = (JobKind.SMOOTH, JobKind.GIF)  # an existing clip's frames made again: no model runs
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
    middle_keyframes: int = 0  # pictures it can pass through between the first and the last (/morph `second` …)
    ingredients: int = 0  # /ingredients: pictures of people, things or places a clip from words can show (VACE)
    travels: bool = False  # prompt travel: "a | b | c", one prompt per segment
    upscales: bool = False  # Upscale (x2) runs on this model, for its own clips and other models'
    restyles: bool = False  # /restyle: redraws a user's video to a prompt (video-to-video)
    reads_prompt: bool = False  # an image-only model whose clips a prompt steers (Wan I2V)
    languages: tuple[str, ...] = ("en",)  # what its text encoder reads (ISO 639-1; "*": many, as UMT5)
    fast_cache: float = 0.0  # the `-fast` draft tier: First Block Cache's threshold on its transformer; 0 = none
    deep_cache: int = 0  # the `-fast` draft tier of a UNet: DeepCache, a full step every N (generation/deep_cache.py)
    fp8: bool = False  # `-fast` drafts in float8 where the card has it: a copy of the denoiser (generation/fp8.py)
    preview: str = ""  # live previews: its latent space and tensor layout (generation/preview.py); "" = none
    control: bool = False  # Wan VACE: renders from a control video (and, later, masks); restyles from one
    prompt_camera: bool = False  # takes `-camera lock` and `orbit` by prompt (LTX, Wan); else by virtual camera
    masks: bool = False  # the motion brush: only the masked part of the picture moves (SVD, Wan VACE)
    poses: bool = False  # pose-driven: a character picture moves as the person in a video (Wan-Animate)
    pose_weights: str | None = None  # the pose estimator it reads the video with (ViTPose): hub id or folder
    illusion_weights: str | None = None  # /illusion: the ControlNet that hides words or a shape in a clip (hub id,
    # optionally /subfolder, or a folder); None: it makes no illusions
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
        """Whether this model can render a job of `kind` (Smooth and GIF run on any model's worker)."""
        if kind is JobKind.EXTEND:
            return self.extends
        if kind is JobKind.UPSCALE:
            return self.upscales
        if kind is JobKind.RESTYLE:
            return self.restyles
        if kind is JobKind.POSE:
            return self.poses
        if kind is JobKind.ILLUSION:
            return self.illusion_weights is not None
        if kind is JobKind.INGREDIENTS:
            return self.ingredients > 0
        if kind is JobKind.EXPAND:  # VACE's outpainting: the video in the middle, masks around it
            return self.control and self.masks
        return kind in _FROM_CLIP or _NEEDS[kind] in self.inputs

    def max_total_frames(self, fps: int) -> int:
        """The most frames an extended clip may reach at `fps`."""
        return max(self.max_frames, int(self.max_duration_s * fps))

    def reads_language(self, language: str) -> bool:
        """Whether its text encoder reads prompts in `language` (else the worker translates them)."""
        return "*" in self.languages or language in self.languages

    def follows_prompt(self, kind: JobKind) -> bool:
        """Whether a prompt steers this model's clips of `kind` (SVD animates an image and reads no text)."""
        clip_in = (
            JobKind.TEXT_TO_VIDEO,
            JobKind.RESTYLE,
            JobKind.POSE,
            JobKind.ILLUSION,
            JobKind.INGREDIENTS,
            JobKind.EXPAND,
        )
        return self.reads_prompt or Input.TEXT in self.inputs or kind in clip_in

    def default_frames(self, kind: JobKind) -> int:
        """Frames a job of `kind` asks for when it names none: from a video, as much of it as fits."""
        return self.max_frames if kind in FROM_VIDEO else self.frames

    def frame_count(self, frames: int) -> int:
        """`frames` rounded to the nearest count this model renders (frame_step * k + 1)."""
        if self.frame_step == 1:
            return frames
        return max(self.frame_step + 1, round((frames - 1) / self.frame_step) * self.frame_step + 1)

    def frames_within(self, most: int) -> int:
        """The largest frame count this model renders that is at most `most` (may be below its minimum)."""
        return most if self.frame_step == 1 else (most - 1) // self.frame_step * self.frame_step + 1

    def keyframe_frames(self, frames: int, count: int) -> list[int]:
        """Where `count` keyframes sit in a clip of `frames`: the first at 0, the last at the last frame, the
        others spread evenly between, each on the model's frame grid (LTX: a multiple of 8, a latent frame)."""
        grid = self.frame_step
        spans = (frames - 1) // grid
        return [round(spans * index / (count - 1)) * grid for index in range(count)]

    def keyframes_fit(self, frames: int, count: int) -> bool:
        """Whether `count` keyframes each get a frame of their own in a clip of `frames`."""
        return len(set(self.keyframe_frames(frames, count))) == count

    def memory(self, mode: str) -> float:
        """GPU memory (GB) a native-size clip needs in memory mode `mode`."""
        given = {"full": self.memory_gb_full, "low": self.memory_gb_low}.get(mode)
        return given if given is not None else self.memory_gb * _MODE_FACTOR.get(mode, 1.0)


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
