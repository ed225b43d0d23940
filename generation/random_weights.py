"""Random-weight pipelines built from configs, as diffusers' own fast tests build them.

`tiny` models render a clip on a CPU in about a second; `real` models have the real architectures
(SVD-XT, SD 1.5 + AnimateDiff v1-5-2) for speed and memory benchmarks. `random_models.write_models` saves
them like hub folders so they load through the same code as real weights. Nothing here touches the
network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import (
    AnimateDiffPipeline,
    AutoencoderKL,
    AutoencoderKLLTXVideo,
    AutoencoderKLTemporalDecoder,
    ControlNetModel,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXLatentUpsamplePipeline,
    LTXVideoTransformer3DModel,
    MotionAdapter,
    StableDiffusionPipeline,
    StableVideoDiffusionPipeline,
    UNet2DConditionModel,
    UNetSpatioTemporalConditionModel,
)
from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from tokenizers import Tokenizer, decoders, normalizers, processors
from tokenizers import models as vocabularies
from tokenizers import pre_tokenizers as splitters
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

from generation.random_helpers import (
    clip_tokenizer,
)
from generation.random_wan import build_wan, build_wan_i2v, build_wan_vace

__all__ = [
    "Size",
    "build_animatediff",
    "build_illusion_controlnet",
    "build_ltx",
    "build_ltx_upsampler",
    "build_motion_adapter",
    "build_sd",
    "build_svd",
    "build_wan",
    "build_wan_i2v",
    "build_wan_vace",
    "write_style_lora",
]

Size = Literal["tiny", "real"]


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
            hidden_size=1280,
            intermediate_size=5120,
            num_attention_heads=16,
            num_hidden_layers=32,
            projection_dim=1024,
            hidden_act="gelu",
        )
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
            num_attention_heads=2,  # head dim 16: a quarter of the attention matrices of 8 heads (CPU tests)
            projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32,
        )
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D",) * 2, latent_channels=4
        )
        vision = dict(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=5,
            num_attention_heads=4,
            intermediate_size=37,
        )
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
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            vocab_size=49408,
            projection_dim=768,
            hidden_act="quick_gelu",
        )
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
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=1000,
        )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, **text)),
        tokenizer=clip_tokenizer(),
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


def build_illusion_controlnet(size: Size = "tiny", seed: int = 0) -> ControlNetModel:
    """A ControlNet shaped like the SD 1.5 UNet of `build_sd` (QR Code Monster's shape at real size), random.
    A trained ControlNet's output convolutions start at zero; here they are random too, so that the hidden
    shape changes the clip, as a trained one's does."""
    unet = build_sd(size, seed).unet
    torch.manual_seed(seed + 7)
    # Its picture encoder shrinks the picture to the latents' size: by 8 at real size, by 2 for the tiny VAE.
    channels = (16, 32, 96, 256) if size == "real" else (16, 32)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=channels)
    embedding = controlnet.controlnet_cond_embedding.conv_out  # the picture's way in, zero too
    for zero in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block, embedding]:
        torch.nn.init.normal_(zero.weight, std=0.5)
    return controlnet


def _t5_tokenizer() -> T5TokenizerFast:
    # A Unigram vocabulary of single characters (no hub): every printable ASCII character is a token.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(chr(code), -3.0) for code in range(33, 127)]
    tokenizer = Tokenizer(vocabularies.Unigram(vocab, unk_id=2))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = splitters.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=0
    )


def _ltx_vae(size: Size) -> AutoencoderKLLTXVideo:
    if size == "real":  # LTX-Video 0.9.x: 128 latent channels, 32x spatial and 8x temporal compression
        return AutoencoderKLLTXVideo(spatial_compression_ratio=32, temporal_compression_ratio=8)
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
        timestep_conditioning=False,
        patch_size=4,  # with three 2x stages: the real model's 32x / 8x compression, so the same size rules
        patch_size_t=1,
        spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    )
    with torch.no_grad():  # decoded frames that are not flat, so a changed input shows in the pixels
        vae.decoder.conv_out.conv.weight.mul_(3.0)
    return vae


def build_ltx(size: Size = "tiny", seed: int = 0) -> LTXConditionPipeline:
    """An LTX-Video condition pipeline with random weights (real size: the 2B transformer, T5-XXL encoder)."""
    torch.manual_seed(seed)
    if size == "real":
        transformer = LTXVideoTransformer3DModel()  # the defaults are LTX-Video 2B's config
        text = T5Config(d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64, vocab_size=32128)
        text.feed_forward_proj, text.is_gated_act = "gated-gelu", True
    else:
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=32,
        )
        with torch.no_grad():  # the prompt moves the frames by tens of levels, not by noise
            for block in transformer.transformer_blocks:
                block.attn2.to_out[0].weight.mul_(4.0)
        text = T5Config(
            vocab_size=100, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, relative_attention_num_buckets=8
        )
    return LTXConditionPipeline(
        transformer=transformer,
        vae=_ltx_vae(size),
        scheduler=FlowMatchEulerDiscreteScheduler(),  # no dynamic shifting: the condition pipeline passes no mu
        text_encoder=T5EncoderModel(text),
        tokenizer=_t5_tokenizer(),
    )


def build_ltx_upsampler(size: Size = "tiny", seed: int = 0) -> LTXLatentUpsamplePipeline:
    """LTX's x2 spatial latent upsampler with random weights, next to a VAE like build_ltx's."""
    torch.manual_seed(seed)
    channels = 128 if size == "real" else 8
    model = LTXLatentUpsamplerModel(
        in_channels=channels,
        mid_channels=512 if size == "real" else 32,
        num_blocks_per_stage=4 if size == "real" else 1,
    )
    return LTXLatentUpsamplePipeline(vae=_ltx_vae(size), latent_upsampler=model)


def write_style_lora(folder: Path, size: Size = "tiny", seed: int = 0) -> None:
    """A random SD 1.5 LoRA on the UNet's spatial attention (as a style LoRA is), in diffusers' LoRA format."""
    pipe = build_animatediff(size, seed)
    torch.manual_seed(seed + 7)
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        target_modules=r"^(down|mid|up)_blocks?.*attentions.*\.(to_q|to_k|to_v|to_out\.0)$",
        init_lora_weights=False,
    )
    pipe.unet.add_adapter(config, adapter_name="style")
    layers = get_peft_model_state_dict(pipe.unet, adapter_name="style")
    AnimateDiffPipeline.save_lora_weights(folder, unet_lora_layers=layers)
