"""Random-weight pipelines built from configs, as diffusers' own fast tests build them.

`tiny` models render a clip on a CPU in about a second; `real` models have the real architectures
(SVD-XT, SD 1.5 + AnimateDiff v1-5-2) for speed and memory benchmarks. `write_models` saves them like hub
folders (`save_pretrained`) so they load through the same code as real weights, and returns the
environment settings that point the registry at them. Nothing here touches the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import (
    AnimateDiffPipeline,
    AutoencoderKL,
    AutoencoderKLTemporalDecoder,
    EulerDiscreteScheduler,
    MotionAdapter,
    StableDiffusionPipeline,
    StableVideoDiffusionPipeline,
    UNet2DConditionModel,
    UNetSpatioTemporalConditionModel,
)
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

__all__ = ["LORA_MOVES", "Size", "build_animatediff", "build_sd", "build_svd", "write_models"]

Size = Literal["tiny", "real"]
LORA_MOVES = (
    "zoom-in", "zoom-out", "pan-left", "pan-right", "tilt-up", "tilt-down",
    "rolling-clockwise", "rolling-anticlockwise",
)  # fmt: skip
LIGHTNING_FILE = "animatediff_lightning_4step_diffusers.safetensors"


def _tokenizer() -> CLIPTokenizer:
    # A byte-level BPE vocabulary with no merges: every character is a token. Enough to run CLIP.
    alphabet = sorted(ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for char in alphabet:
            vocab.setdefault(char + suffix, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _svd_scheduler() -> EulerDiscreteScheduler:
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )


def build_svd(size: Size = "tiny", seed: int = 0) -> StableVideoDiffusionPipeline:
    """An SVD pipeline with random weights (real size = SVD-XT's architecture)."""
    torch.manual_seed(seed)
    if size == "real":
        unet = UNetSpatioTemporalConditionModel()  # the defaults are SVD's config
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            layers_per_block=2,
            sample_size=768,
        )
        vision: dict[str, Any] = dict(
            hidden_size=1280, intermediate_size=5120, num_attention_heads=16, num_hidden_layers=32,
            projection_dim=1024, hidden_act="gelu",
        )  # fmt: skip
    else:
        unet = UNetSpatioTemporalConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=2,
            sample_size=32,
            in_channels=8,
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            cross_attention_dim=32,
            num_attention_heads=8,
            projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32,
        )
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2, latent_channels=4
        )
        vision = dict(
            hidden_size=32, projection_dim=32, num_hidden_layers=5, num_attention_heads=4, intermediate_size=37,
        )  # fmt: skip
    return StableVideoDiffusionPipeline(
        unet=unet,
        vae=vae,
        # The pipeline resizes the conditioning image to 224x224 for CLIP, as ViT-H/14 expects.
        image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(image_size=224, patch_size=14, **vision)),
        scheduler=_svd_scheduler(),
        feature_extractor=CLIPImageProcessor(),
    )


def build_sd(size: Size = "tiny", seed: int = 0) -> StableDiffusionPipeline:
    """A Stable Diffusion 1.5-shaped text-to-image pipeline with random weights."""
    torch.manual_seed(seed)
    if size == "real":
        unet = UNet2DConditionModel(cross_attention_dim=768, sample_size=64)
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            sample_size=512,
        )
        text: dict[str, Any] = dict(
            hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
            vocab_size=49408, projection_dim=768, hidden_act="quick_gelu",
        )  # fmt: skip
    else:
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=2,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            norm_num_groups=2,
        )
        vae = AutoencoderKL(
            block_out_channels=(32, 64),
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            latent_channels=4,
        )
        text = dict(
            hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=5, vocab_size=1000,
        )  # fmt: skip
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, **text)),
        tokenizer=_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_motion_adapter(size: Size = "tiny", seed: int = 0) -> MotionAdapter:
    torch.manual_seed(seed)
    if size == "real":
        return MotionAdapter()  # the defaults are animatediff-motion-adapter-v1-5-2's config
    return MotionAdapter(
        block_out_channels=(32, 64),
        motion_layers_per_block=2,
        motion_norm_num_groups=2,
        motion_num_attention_heads=4,
    )


def build_animatediff(size: Size = "tiny", seed: int = 0) -> AnimateDiffPipeline:
    """SD 1.5 + motion adapter with random weights."""
    sd = build_sd(size, seed)
    return AnimateDiffPipeline(
        vae=sd.vae,
        text_encoder=sd.text_encoder,
        tokenizer=sd.tokenizer,
        unet=sd.unet,
        motion_adapter=build_motion_adapter(size, seed),
        scheduler=sd.scheduler,
    )


def _write_motion_lora(pipe: AnimateDiffPipeline, folder: Path, seed: int) -> None:
    """A random LoRA on the motion modules' attention, saved in diffusers' LoRA format."""
    torch.manual_seed(seed)
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        target_modules=r".*motion_modules.*\.(to_q|to_k|to_v|to_out\.0)",
        init_lora_weights=False,  # random B: the LoRA visibly changes the output
    )
    pipe.unet.add_adapter(config, adapter_name="new")
    layers = get_peft_model_state_dict(pipe.unet, adapter_name="new")
    AnimateDiffPipeline.save_lora_weights(folder, unet_lora_layers=layers)
    pipe.unet.delete_adapters("new")


def write_models(root: Path, size: Size = "tiny", seed: int = 0) -> dict[str, str]:
    """Save random models for every registry entry under `root`; return the env settings that use them."""
    root = Path(root).resolve()  # absolute: the settings work from any folder
    build_svd(size, seed).save_pretrained(root / "svd")
    build_sd(size, seed).save_pretrained(root / "sd15")
    build_motion_adapter(size, seed).save_pretrained(root / "motion-adapter")
    (root / "lightning").mkdir(parents=True, exist_ok=True)
    save_file(build_motion_adapter(size, seed + 1).state_dict(), root / "lightning" / LIGHTNING_FILE)
    animatediff = build_animatediff(size, seed)
    for index, move in enumerate(LORA_MOVES):
        _write_motion_lora(animatediff, root / "loras" / move, seed + 100 + index)

    env = {
        "MOTIONBOT_SVD__WEIGHTS": root / "svd",
        "MOTIONBOT_SVD_XT__WEIGHTS": root / "svd",
        "MOTIONBOT_ANIMATEDIFF__WEIGHTS": root / "sd15",
        "MOTIONBOT_ANIMATEDIFF__ADAPTER": root / "motion-adapter",
        "MOTIONBOT_ANIMATEDIFF__LORA": root / "loras" / "{move}",
        "MOTIONBOT_ANIMATEDIFF_LIGHTNING__WEIGHTS": root / "sd15",
        "MOTIONBOT_ANIMATEDIFF_LIGHTNING__ADAPTER": root / "lightning",
        "MOTIONBOT_ANIMATEDIFF_LIGHTNING__ADAPTER_CONFIG": root / "motion-adapter",
        "MOTIONBOT_ANIMATEDIFF_LIGHTNING__LORA": root / "loras" / "{move}",
        "MOTIONBOT_T2I_SVD__WEIGHTS": root / "svd",
        "MOTIONBOT_T2I_SVD__T2I_WEIGHTS": root / "sd15",
    }
    settings = {key: str(value) for key, value in env.items()}
    if size == "tiny":  # small clips, few steps: a CPU renders one in about a second
        for model in ("SVD", "SVD_XT", "ANIMATEDIFF", "ANIMATEDIFF_LIGHTNING", "T2I_SVD"):
            prefix = f"MOTIONBOT_{model}__"
            settings |= {
                prefix + "WIDTH": "64", prefix + "HEIGHT": "64", prefix + "SIZE_MULTIPLE": "16",
                prefix + "FRAMES": "4", prefix + "MAX_FRAMES": "8", prefix + "STEPS": "2", prefix + "MAX_STEPS": "4",
            }  # fmt: skip
    (root / "motionbot.env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return settings
