"""Random-weight helper models the worker loads beside the pipelines (the safety checker, the `-region`
segmenter, the prompt translator, the pose estimator) and the CLIP tokenizer the tiny pipelines share, built
from configs and saved as hub folders for `random_models.write_models`. Nothing here touches the network.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPSegConfig,
    CLIPSegForImageSegmentation,
    CLIPSegProcessor,
    CLIPTokenizer,
    MarianConfig,
    MarianMTModel,
    VitPoseBackboneConfig,
    VitPoseConfig,
    VitPoseForPoseEstimation,
    VitPoseImageProcessor,
)

from generation.random_wan import umt5_tokenizer

__all__ = ["clip_tokenizer", "write_pose_estimator", "write_safety_checker", "write_segmenter", "write_translator"]


def clip_tokenizer() -> CLIPTokenizer:
    # A byte-level BPE vocabulary with no merges: every character is a token. Enough to run CLIP.
    alphabet = sorted(ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for char in alphabet:
            vocab.setdefault(char + suffix, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def write_safety_checker(folder: Path, seed: int = 0) -> None:
    """A tiny StableDiffusionSafetyChecker with random weights and its image processor, as the hub folder."""
    torch.manual_seed(seed)
    vision = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32)
    config = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2),
        vision_config=vision | {"patch_size": 8},
        projection_dim=32,
    )
    StableDiffusionSafetyChecker(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)


def write_segmenter(folder: Path, seed: int = 0, bias: float = 0.0) -> None:
    """A tiny CLIPSeg with random weights and its processor, as the hub folder. `bias` shifts every pixel's
    score (a large one makes a segmenter that finds everything or nothing, for the refusals)."""
    torch.manual_seed(seed)
    text = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=4, vocab_size=1000)
    config = CLIPSegConfig(
        text_config=text | {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=4)
        | {"image_size": 64, "patch_size": 8},
        projection_dim=32,
        extract_layers=(1, 2, 3),
        reduce_dim=16,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=37,
    )
    model = CLIPSegForImageSegmentation(config)
    with torch.no_grad():
        model.decoder.transposed_convolution.bias.add_(bias)
    model.save_pretrained(folder)
    processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    CLIPSegProcessor(image_processor=processor, tokenizer=clip_tokenizer()).save_pretrained(folder)


def write_translator(folder: Path, seed: int = 0) -> None:
    """A tiny MarianMT with random weights and a byte-fallback tokenizer (any script keeps distinct ids), as
    an opus-mt hub folder. Its "English" is random tokens, but the same for the same text and other for
    another: enough to see which prompt reached a pipeline."""
    torch.manual_seed(seed)
    tokenizer = umt5_tokenizer()
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    model = MarianMTModel(config)
    with torch.no_grad():  # random cross-attention barely reads the source: make the output follow it
        model.model.decoder.layers[0].encoder_attn.out_proj.weight.mul_(30)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_pose_estimator(folder: Path, seed: int = 0) -> None:
    """A tiny ViTPose (17 COCO keypoints) with random weights and its image processor, as the hub folder."""
    torch.manual_seed(seed)
    backbone = VitPoseBackboneConfig(
        image_size=[64, 48],
        patch_size=[8, 8],
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        out_indices=[2],
    )
    config = VitPoseConfig(backbone_config=backbone, scale_factor=4, use_simple_decoder=True, num_labels=17)
    VitPoseForPoseEstimation(config).save_pretrained(folder)
    VitPoseImageProcessor(size={"height": 64, "width": 48}).save_pretrained(folder)
