"""Generation settings from the environment / `.env` (torch-free, shared by the bot and the workers).

Every registry model's fields can be overridden as `MOTIONBOT_<MODEL>__<FIELD>`, the model's name in
capitals with `-` as `_`: `MOTIONBOT_SVD_XT__WEIGHTS=/models/svd-xt`, `MOTIONBOT_ANIMATEDIFF__FRAMES=8`.
They land in one mapping, `GenerationSettings.models`; the bot's limits and prices follow the same values.
"""

from __future__ import annotations

import enum
import os
from typing import Any

from pydantic import BaseModel, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from generation.models import ModelSpec, with_overrides
from generation.registry import DEFAULT_MODELS

__all__ = ["Compile", "DType", "FlowModel", "Fp8", "GenerationSettings", "MemoryMode", "ModelOverrides", "SmoothEngine"]


class MemoryMode(enum.StrEnum):
    FULL = "full"  # everything on the GPU, decode all frames at once: fastest, most memory
    BALANCED = "balanced"  # everything on the GPU, decode about 8 frames at a time (LTX: spatial VAE tiles)
    LOW = "low"  # model CPU offload + feed-forward one frame at a time + about 4-frame decode chunks


class Compile(enum.StrEnum):
    AUTO = "auto"  # on a CUDA GPU (not in the low memory mode); off on a CPU
    ON = "on"
    OFF = "off"  # plain eager PyTorch, as diffusers runs by default


class Fp8(enum.StrEnum):
    AUTO = "auto"  # `-fast` multiplies in fp8 on a GPU with fp8 tensor cores (compute 8.9+), compiled, not low mode
    WEIGHTS = "weights"  # fp8-stored weights on any device, computed in the model's dtype: the rounding, no speed
    OFF = "off"


class SmoothEngine(enum.StrEnum):
    AUTO = "auto"  # optical flow (RAFT) on a CUDA GPU, FFmpeg's minterpolate on a CPU
    FLOW = "flow"
    MINTERPOLATE = "minterpolate"


class FlowModel(enum.StrEnum):
    RAFT_LARGE = "raft_large"
    RAFT_SMALL = "raft_small"  # a quarter of the weights, faster, less exact


class DType(enum.StrEnum):
    AUTO = "auto"  # fp16 on CUDA, fp32 on CPU
    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"


class ModelOverrides(BaseModel):
    model_config = {"extra": "forbid"}  # a mistyped field name is an error, not silently ignored

    enabled: bool = True
    weights: str | None = None
    variant: str | None = None
    adapter: str | None = None
    adapter_file: str | None = None
    adapter_config: str | None = None
    lora: str | None = None
    t2i_weights: str | None = None
    upsampler: str | None = None
    pose_weights: str | None = None
    illusion_weights: str | None = None
    width: PositiveInt | None = None
    height: PositiveInt | None = None
    size_multiple: PositiveInt | None = None
    frames: PositiveInt | None = None
    max_frames: PositiveInt | None = None
    steps: PositiveInt | None = None
    max_steps: PositiveInt | None = None
    t2i_steps: PositiveInt | None = None
    cost_factor: PositiveFloat | None = None
    fast_cache: NonNegativeFloat | None = None
    deep_cache: NonNegativeInt | None = None
    fp8: bool | None = None
    max_duration_s: PositiveFloat | None = None
    fps: PositiveInt | None = None
    memory_gb: PositiveFloat | None = None
    memory_gb_full: PositiveFloat | None = None
    memory_gb_low: PositiveFloat | None = None
    languages: tuple[str, ...] | None = None  # what its text encoder reads: "en", "en,zh", "*" (any)

    @field_validator("languages", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`en,zh` as the environment writes it."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip()) or None
        return value


class _PerModel(PydanticBaseSettingsSource):
    """`MOTIONBOT_<MODEL>__<FIELD>` variables (environment over `.env`) as {"models": {name: {field: value}}}."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.sources = sources  # lowest priority first

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the variables itself

    def __call__(self) -> dict[str, Any]:
        by_env_name = {name.replace("-", "_"): name for name in DEFAULT_MODELS}
        models: dict[str, dict[str, Any]] = {}
        for source in self.sources:
            for key, value in getattr(source, "env_vars", {}).items():
                model, _, field = key.lower().removeprefix("motionbot_").partition("__")
                if model in by_env_name and field and value not in (None, ""):
                    models.setdefault(by_env_name[model], {})[field] = value
        return {"models": models} if models else {}


class GenerationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOTIONBOT_", env_nested_delimiter="__", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", …
    dtype: DType = DType.AUTO
    memory_mode: MemoryMode = MemoryMode.BALANCED
    compile: Compile = Compile.AUTO  # torch.compile the denoiser and VAE decoder: same clips, faster on a GPU
    compile_cache: str = "data/compile-cache"  # compiled kernels, kept so a restart does not compile again
    fp8: Fp8 = Fp8.AUTO  # the `-fast` drafts' denoiser in float8, a copy beside the original (generation/fp8.py)
    default_image_model: str = "svd-xt"
    default_text_model: str = "animatediff"
    default_prompted_image_model: str = "ltx"  # /animate with a prompt, when a worker serves it
    upscale_model: str = "ltx"  # upscales the clips of models that cannot upscale their own
    default_restyle_model: str = "wan"  # /restyle without a model (else the first enabled one that restyles)
    safety_checker: str = "CompVis/stable-diffusion-safety-checker"  # hub id or folder; "" = no image check
    safety_threshold: float = 0.0  # flagged above this score (0: the published thresholds; lower: stricter)
    safety_on_cpu: bool = False  # run the image check on the CPU (keeps its ~0.6 GB off a small GPU)
    segmenter: str = "CIDAS/clipseg-rd64-refined"  # `-region` (motion brush by words): hub id or folder; "" = off
    illusion_font: str = ""  # /illusion's words: a .ttf/.otf file; "": DejaVu Sans Bold if installed, else Pillow's
    smooth: SmoothEngine = SmoothEngine.AUTO  # how Smooth makes the frames in between (generation/flow.py)
    smooth_flow: FlowModel = FlowModel.RAFT_LARGE  # the optical-flow model of Smooth on the GPU
    smooth_weights: str = ""  # a local RAFT state dict (.safetensors, .pth); "": torchvision's published weights
    preview_every: NonNegativeInt = 5  # a live preview in the status message every this many steps; 0 = none
    translate_prompts: bool = True  # translate a prompt a model cannot read (language.py, translate.py)
    translators: dict[str, str] = {  # language -> MarianMT model to English (hub id or folder); "*": the rest
        "zh": "Helsinki-NLP/opus-mt-zh-en",
        "ja": "Helsinki-NLP/opus-mt-ja-en",
        "ko": "Helsinki-NLP/opus-mt-ko-en",
        "*": "Helsinki-NLP/opus-mt-mul-en",
    }
    style_loras: dict[str, str] = {}  # style -> an SD 1.5 LoRA (hub id or folder) AnimateDiff renders it with
    models: dict[str, ModelOverrides] = {}  # registry name -> overrides, from MOTIONBOT_<MODEL>__<FIELD>

    @field_validator("illusion_font")
    @classmethod
    def _font_file(cls, value: str) -> str:
        if value and not os.path.isfile(value):
            raise ValueError(f"no font file at {value}: give a .ttf or .otf file, or leave it empty")
        return value

    def prompt_translators(self) -> dict[str, str]:
        """The translators the worker uses: none when translation is turned off."""
        return dict(self.translators) if self.translate_prompts else {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        per_model = _PerModel(settings_cls, dotenv_settings, env_settings)
        return init_settings, env_settings, dotenv_settings, per_model, file_secret_settings

    def registry(self) -> dict[str, ModelSpec]:
        """The enabled models with this environment's overrides applied."""
        specs = {}
        for name, spec in DEFAULT_MODELS.items():
            overrides = self.models.get(name, ModelOverrides())
            if overrides.enabled:
                specs[name] = with_overrides(spec, overrides.model_dump(exclude={"enabled"}))
        return specs
