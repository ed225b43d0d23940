"""Generation settings from the environment / `.env` (torch-free, shared by the bot and the workers).

Every model field can be overridden per model, e.g. `MOTIONBOT_SVD_XT__WEIGHTS=/models/svd-xt` or
`MOTIONBOT_ANIMATEDIFF__FRAMES=8`; the bot's limits and quota costs then follow the same values.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, PositiveFloat, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from generation.models import DEFAULT_MODELS, ModelSpec, with_overrides

__all__ = ["DType", "GenerationSettings", "MemoryMode", "ModelOverrides"]


class MemoryMode(enum.StrEnum):
    FULL = "full"  # everything on the GPU, decode all frames at once: fastest, most memory
    BALANCED = "balanced"  # everything on the GPU, decode in chunks of 8 frames, VAE slicing
    LOW = "low"  # model CPU offload + UNet forward chunking + 2-frame decode chunks (8-12 GB cards)


class DType(enum.StrEnum):
    AUTO = "auto"  # fp16 on CUDA, fp32 on CPU
    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"


class ModelOverrides(BaseModel):
    enabled: bool = True
    weights: str | None = None
    variant: str | None = None
    adapter: str | None = None
    adapter_file: str | None = None
    adapter_config: str | None = None
    lora: str | None = None
    t2i_weights: str | None = None
    width: PositiveInt | None = None
    height: PositiveInt | None = None
    size_multiple: PositiveInt | None = None
    frames: PositiveInt | None = None
    max_frames: PositiveInt | None = None
    steps: PositiveInt | None = None
    max_steps: PositiveInt | None = None
    t2i_steps: PositiveInt | None = None
    cost_factor: PositiveFloat | None = None


class GenerationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOTIONBOT_", env_nested_delimiter="__", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", …
    dtype: DType = DType.AUTO
    memory_mode: MemoryMode = MemoryMode.BALANCED
    default_image_model: str = "svd-xt"
    default_text_model: str = "animatediff"

    svd: ModelOverrides = ModelOverrides()
    svd_xt: ModelOverrides = ModelOverrides()
    animatediff: ModelOverrides = ModelOverrides()
    animatediff_lightning: ModelOverrides = ModelOverrides()
    t2i_svd: ModelOverrides = ModelOverrides()

    def registry(self) -> dict[str, ModelSpec]:
        """The enabled models with this environment's overrides applied."""
        specs = {}
        for name, spec in DEFAULT_MODELS.items():
            overrides: ModelOverrides = getattr(self, name.replace("-", "_"))
            if overrides.enabled:
                specs[name] = with_overrides(spec, overrides.model_dump(exclude={"enabled"}))
        return specs
