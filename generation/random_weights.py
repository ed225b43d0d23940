"""Random-weight pipelines built from configs, as diffusers' own fast tests build them.

`tiny` models render a clip on a CPU in about a second; `real` models have the real architectures
(SVD-XT, SD 1.5 + AnimateDiff v1-5-2) for speed and memory benchmarks. `write_models` saves them like hub
folders (`save_pretrained`) so they load through the same code as real weights, and returns the
environment settings that point the registry at them. Nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from diffusers import (
    AnimateDiffPipeline,
    AutoencoderKL,
    AutoencoderKLLTXVideo,
    AutoencoderKLTemporalDecoder,
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
from safetensors.torch import save_file
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

from generation.flow import write_flow
from generation.models import MOTION_LORAS, Family, Input, ModelSpec
from generation.random_helpers import (
    clip_tokenizer,
    write_pose_estimator,
    write_safety_checker,
    write_segmenter,
    write_translator,
)
from generation.random_wan import build_wan, build_wan_animate, build_wan_i2v, build_wan_vace
from generation.registry import DEFAULT_MODELS
from generation.settings import GenerationSettings

__all__ = [
    "BUILDERS",
    "Size",
    "build_animatediff",
    "build_ltx",
    "build_ltx_upsampler",
    "build_sd",
    "build_svd",
    "build_wan",
    "build_wan_i2v",
    "build_wan_vace",
    "write_models",
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


class _Folders:
    """Where the random models go; a folder several registry rows share is written once per call."""

    def __init__(self, root: Path, size: Size, seed: int):
        self.root, self.size, self.seed = root, size, seed
        self._written: set[str] = set()

    def once(self, name: str, save: Callable[[Path], None]) -> Path:
        folder = self.root / name
        if name not in self._written:
            save(folder)
            self._written.add(name)
        return folder


def _save(pipe: Any, folder: Path, variants: tuple[str | None, ...]) -> None:
    """Save like a hub folder, once per weight variant the registry rows load (None: the plain files)."""
    for variant in variants:
        pipe.save_pretrained(folder, variant=variant)


def _svd(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    def save(folder: Path) -> None:  # only fp16 files, as the SVD rows load them
        _save(build_svd(out.size, out.seed), folder, ("fp16",))

    return {"weights": out.once("svd", save)}


def _sd15(out: _Folders) -> Path:
    # t2i-svd loads the fp16 variant, AnimateDiff the plain files.
    return out.once("sd15", lambda folder: _save(build_sd(out.size, out.seed), folder, (None, "fp16")))


def _t2i_svd(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    return _svd(spec, out) | {"t2i_weights": _sd15(out)}


def _loras(folder: Path, size: Size, seed: int) -> None:
    animatediff = build_animatediff(size, seed)
    for index, move in enumerate(MOTION_LORAS):
        _write_motion_lora(animatediff, folder / move, seed + 100 + index)


def _animatediff(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    paths = {
        "weights": _sd15(out),
        "adapter": out.once("motion-adapter", lambda f: build_motion_adapter(out.size, out.seed).save_pretrained(f)),
        "lora": out.once("loras", lambda folder: _loras(folder, out.size, out.seed)) / "{move}",
    }
    if spec.adapter_file is not None:  # Lightning: bare weights in one file, the config from the regular adapter
        file = spec.adapter_file

        def save_single_file(folder: Path) -> None:
            folder.mkdir(parents=True, exist_ok=True)
            save_file(build_motion_adapter(out.size, out.seed + 1).state_dict(), folder / file)

        paths |= {"adapter": out.once("lightning", save_single_file), "adapter_config": paths["adapter"]}
    return paths


def _ltx(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    return {
        "weights": out.once("ltx", lambda folder: build_ltx(out.size, out.seed).save_pretrained(folder)),
        "upsampler": out.once("ltx-upsampler", lambda f: build_ltx_upsampler(out.size, out.seed).save_pretrained(f)),
    }


def _wan(spec: ModelSpec, out: _Folders) -> dict[str, Path]:
    if spec.poses:
        return {
            "weights": out.once("wan-animate", lambda f: build_wan_animate(out.size, out.seed).save_pretrained(f)),
            "pose_weights": out.once("vitpose", lambda f: write_pose_estimator(f, out.seed)),
        }
    if spec.control:
        return {"weights": out.once("wan-vace", lambda f: build_wan_vace(out.size, out.seed).save_pretrained(f))}
    if Input.TEXT in spec.inputs:
        return {"weights": out.once("wan", lambda folder: build_wan(out.size, out.seed).save_pretrained(folder))}
    return {"weights": out.once("wan-i2v", lambda folder: build_wan_i2v(out.size, out.seed).save_pretrained(folder))}


# One builder per family: it writes the row's random weights and says which registry fields point at them.
BUILDERS: dict[Family, Callable[[ModelSpec, _Folders], dict[str, Path]]] = {
    Family.SVD: _svd,
    Family.ANIMATEDIFF: _animatediff,
    Family.T2I_SVD: _t2i_svd,
    Family.LTX: _ltx,
    Family.WAN: _wan,
}
_TINY = {"width": 64, "height": 64, "size_multiple": 16, "frames": 4, "max_frames": 8, "steps": 2, "max_steps": 4}
# LTX keeps its 32x / 8x size rules and a distilled row its own schedule (a tiny step costs milliseconds).
_TINY_LTX = {"width": 64, "height": 64, "frames": 17, "max_frames": 33, "max_duration_s": 3.0}
_TINY_WAN = _TINY | {"size_multiple": 32, "frames": 9, "max_frames": 17, "max_duration_s": 2.0}


def write_models(
    root: Path, size: Size = "tiny", seed: int = 0, models: Mapping[str, ModelSpec] = DEFAULT_MODELS
) -> dict[str, str]:
    """Save random models for every registry row under `root`; return the env settings that use them."""
    out = _Folders(Path(root).resolve(), size, seed)  # absolute: the settings work from any folder
    settings: dict[str, str] = {}
    for name, spec in models.items():
        fields: dict[str, object] = dict(BUILDERS[spec.family](spec, out))
        if size == "tiny" and spec.family is Family.LTX:
            fields |= _TINY_LTX | ({} if spec.timesteps else {"steps": 2, "max_steps": 4})
        elif size == "tiny" and spec.family is Family.WAN:
            fields |= _TINY_WAN
        elif size == "tiny":  # small clips, few steps: a CPU renders one in about a second
            fields |= _TINY
        prefix = f"MOTIONBOT_{name.replace('-', '_').upper()}__"
        settings |= {prefix + field.upper(): str(value) for field, value in fields.items()}
    # Random weights score at random: a threshold no score reaches flags nothing (tests lower it to flag all).
    settings |= {"MOTIONBOT_SAFETY_CHECKER": str(out.once("safety-checker", write_safety_checker))}
    settings |= {"MOTIONBOT_SAFETY_THRESHOLD": "1000"}
    settings |= {"MOTIONBOT_SEGMENTER": str(out.once("segmenter", write_segmenter))}
    # Every language the defaults name, or a .env's hub ids would be merged in under these (pydantic-settings
    # merges a JSON map from the environment into the one from .env).
    translator = str(out.once("translator", write_translator))
    languages = [*GenerationSettings.model_fields["translators"].default, "*"]
    settings |= {"MOTIONBOT_TRANSLATORS": json.dumps(dict.fromkeys(languages, translator))}
    # Smooth's flow model (used where MOTIONBOT_SMOOTH is flow, or auto on a GPU): the small RAFT at tiny size.
    raft = "raft_small" if size == "tiny" else "raft_large"
    settings |= {"MOTIONBOT_SMOOTH_FLOW": raft}
    settings |= {
        "MOTIONBOT_SMOOTH_WEIGHTS": str(
            out.once("flow", lambda f: write_flow(f, raft, out.seed)) / f"{raft}.safetensors"
        )
    }
    (out.root / "motionbot.env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return settings
