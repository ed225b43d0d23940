"""Random-weight Wan pipelines (Wan 2.2 TI2V-5B, Wan 2.2 I2V-A14B, Wan 2.1 VACE) built from configs, for
`random_models.write_models` and the benchmarks. Nothing here touches the network.

Tiny random Wan models barely react to their inputs (a prompt moved frames by 1-2 levels of 255), so a
few weights are scaled after the random init: the VAE's posterior mean to about unit variance with a small
fixed std, its decoder's first and last convolutions, its mid-block attention off (so a pixel depends on the
latents near it, as in a trained VAE), the text cross-attention outputs, the transformer's
output (a velocity that moves the latents) and the image / control-video patch embeddings. Then a prompt, a
picture, a last frame or another control video moves 8-bit frames by tens of levels.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from diffusers import (
    AutoencoderKLWan,
    UniPCMultistepScheduler,
    WanAnimatePipeline,
    WanAnimateTransformer3DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
    WanVACEPipeline,
    WanVACETransformer3DModel,
)
from tokenizers import Tokenizer, decoders, normalizers, processors
from tokenizers import models as vocabularies
from tokenizers import pre_tokenizers as splitters
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModel,
    PreTrainedTokenizerFast,
    UMT5Config,
    UMT5EncoderModel,
)

__all__ = ["build_wan", "build_wan_animate", "build_wan_i2v", "build_wan_vace", "umt5_tokenizer"]

Size = Literal["tiny", "real"]


def umt5_tokenizer() -> PreTrainedTokenizerFast:
    # As _t5_tokenizer, with byte fallback (as UMT5's real vocabulary has): Chinese text keeps distinct ids.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(chr(code), -3.0) for code in range(33, 127)] + [(f"<0x{byte:02X}>", -5.0) for byte in range(256)]
    tokenizer = Tokenizer(vocabularies.Unigram(vocab, unk_id=2, byte_fallback=True))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = splitters.Metaspace()
    tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()])
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_input_names=["input_ids", "attention_mask"],
    )


def _wan_parts(size: Size, latent: int, in_channels: int) -> dict[str, Any]:
    """A Wan VAE (z_dim `latent`), UMT5 encoder, tokenizer and flow scheduler with random weights."""
    if size == "real":  # Wan 2.2's 16x VAE and UMT5-XXL
        vae = AutoencoderKLWan(
            base_dim=160,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            dim_mult=[1, 2, 4, 4],
            num_res_blocks=2,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        )
        text = UMT5Config(d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64, vocab_size=256384)
        text.feed_forward_proj, text.is_gated_act = "gated-gelu", True
    else:
        sixteen = {"in_channels": 12, "out_channels": 12, "is_residual": True, "patch_size": 2}
        vae = AutoencoderKLWan(
            base_dim=8,
            z_dim=latent,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * latent,
            latents_std=[1.0] * latent,
            scale_factor_spatial=16 if latent == 48 else 8,
            scale_factor_temporal=4,
            **(sixteen if latent == 48 else {}),
        )
        with torch.no_grad():  # latents that carry the picture, decoded frames that are not flat
            vae.quant_conv.weight[:latent].mul_(7.0)  # the posterior's mean: about unit variance
            vae.quant_conv.weight[latent:].zero_()  # its log-variance: a small fixed std (-12: std 0.0025)
            vae.quant_conv.bias[latent:].fill_(-12.0)
            vae.decoder.conv_in.weight.mul_(4.0)
            vae.decoder.conv_out.weight.mul_(3.0)
            for coder in (vae.encoder, vae.decoder):  # no spatial attention: a pixel depends on the latents near
                for attention in coder.mid_block.attentions:  # it, as in a trained VAE (the motion brush shows)
                    attention.proj.weight.zero_()
                    attention.proj.bias.zero_()
        text = UMT5Config(
            vocab_size=400, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, relative_attention_num_buckets=8
        )
    return {
        "vae": vae,
        "text_encoder": UMT5EncoderModel(text),
        "tokenizer": umt5_tokenizer(),
        "scheduler": UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0),
    }


def _wan_transformer(size: Size, in_channels: int, out_channels: int) -> WanTransformer3DModel:
    shared: dict[str, Any] = {"patch_size": (1, 2, 2), "freq_dim": 256, "cross_attn_norm": True}
    shared |= {"qk_norm": "rms_norm_across_heads", "in_channels": in_channels, "out_channels": out_channels}
    if size == "real":  # Wan 2.2 TI2V-5B's config
        real = {"num_attention_heads": 24, "attention_head_dim": 128, "text_dim": 4096, "ffn_dim": 14336}
        return WanTransformer3DModel(**shared, **real, num_layers=30, rope_max_seq_len=1024)
    tiny = {"num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32, "ffn_dim": 32}
    transformer = WanTransformer3DModel(**shared, **tiny, num_layers=2, rope_max_seq_len=32)
    with torch.no_grad():  # the prompt moves the frames by tens of levels, not by noise
        for block in transformer.blocks:
            block.attn2.to_out[0].weight.mul_(8.0)
        transformer.proj_out.weight.mul_(4.0)  # a velocity that moves the latents, so the inputs reach the frames
        if in_channels > out_channels:  # an I2V transformer: the image (and last frame) channels
            transformer.patch_embedding.weight[:, out_channels:].mul_(4.0)
    return transformer


def build_wan(size: Size = "tiny", seed: int = 0) -> WanPipeline:
    """Wan 2.2 TI2V-5B's shape (48-channel 16x VAE, timestep expansion) with random weights."""
    torch.manual_seed(seed)
    parts = _wan_parts(size, 48, 48)
    return WanPipeline(transformer=_wan_transformer(size, 48, 48), expand_timesteps=True, **parts)


def build_wan_vace(size: Size = "tiny", seed: int = 0) -> WanVACEPipeline:
    """Wan 2.1 VACE's shape (control layers beside the main blocks, 16-channel 8x VAE) with random weights."""
    torch.manual_seed(seed)
    parts = _wan_parts(size, 16, 16)
    if size == "real":  # Wan 2.1 VACE 1.3B
        shape: dict[str, Any] = {"num_attention_heads": 12, "attention_head_dim": 128, "text_dim": 4096}
        shape |= {"ffn_dim": 8960, "num_layers": 30, "vace_layers": list(range(0, 30, 2)), "rope_max_seq_len": 1024}
    else:
        shape = {"num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32, "ffn_dim": 32, "num_layers": 2}
        shape |= {"vace_layers": [0, 1], "rope_max_seq_len": 32}
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2),
        in_channels=16,
        out_channels=16,
        freq_dim=256,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        vace_in_channels=96,  # the control video's latents twice (kept, redrawn) and the 8x8 mask patches
        **shape,
    )
    if size == "tiny":
        with torch.no_grad():  # the prompt and the control video move the frames by tens of levels
            for block in transformer.blocks:
                block.attn2.to_out[0].weight.mul_(8.0)
            transformer.proj_out.weight.mul_(4.0)
            transformer.vace_patch_embedding.weight.mul_(8.0)
    return WanVACEPipeline(transformer=transformer, **parts)


def build_wan_i2v(size: Size = "tiny", seed: int = 0) -> WanImageToVideoPipeline:
    """Wan 2.2 I2V-A14B's shape (two experts split at a noise boundary, 16-channel 8x VAE), random weights."""
    torch.manual_seed(seed)
    parts = _wan_parts(size, 16, 36)
    return WanImageToVideoPipeline(
        transformer=_wan_transformer(size, 36, 16),
        transformer_2=_wan_transformer(size, 36, 16),
        image_encoder=None,
        image_processor=None,
        boundary_ratio=0.875,
        **parts,
    )


def build_wan_animate(size: Size = "tiny", seed: int = 0) -> WanAnimatePipeline:
    """Wan 2.2 Animate's shape (motion and face encoders beside an I2V transformer, a CLIP image encoder) with
    random weights; tiny only (the real model is 14B: benchmark it with its own weights)."""
    torch.manual_seed(seed)
    parts = _wan_parts(size, 16, 36)
    transformer = WanAnimateTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        latent_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        image_dim=4,
        rope_max_seq_len=32,
        motion_encoder_channel_sizes={"4": 16, "8": 16, "16": 16},
        motion_encoder_size=16,  # the face video's side
        motion_style_dim=8,
        motion_dim=4,
        motion_encoder_dim=16,
        face_encoder_hidden_dim=16,
        face_encoder_num_heads=2,
        inject_face_latents_blocks=2,
    )
    with torch.no_grad():  # the pose video moves the frames by tens of levels
        transformer.proj_out.weight.mul_(4.0)
        transformer.pose_patch_embedding.weight.mul_(4.0)
        transformer.patch_embedding.weight[:, 16:].mul_(8.0)  # the character picture's channels
    vision = CLIPVisionConfig(
        hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=4, intermediate_size=16
    )
    vision.patch_size = 1
    return WanAnimatePipeline(
        transformer=transformer,
        image_encoder=CLIPVisionModel(vision),
        image_processor=CLIPImageProcessor(crop_size=4, size=4),
        **parts,
    )
