"""The model registry: one row per named model, as data (torch-free; what a row holds: `models.ModelSpec`).

Each row is a model the bot can offer and a worker can load: its family's runner, native size and limits,
price, memory, weights and licence. A host changes any field from the environment
(`MOTIONBOT_<MODEL>__<FIELD>`, see `settings.ModelOverrides`) or turns a row off.
"""

from __future__ import annotations

from generation.models import CameraMode, Family, Guidance, Input, ModelSpec

__all__ = ["DEFAULT_MODELS", "KNOWN_MODELS"]

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
            fp8=True,  # and the drafts' UNet in fp8 where the card has it (a 1.5 GB copy)
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
            fp8=True,  # and the drafts' UNet in fp8 where the card has it (a 1.5 GB copy)
        ),
        ModelSpec(
            name="animatediff",
            family=Family.ANIMATEDIFF,
            preview="sd:bcfhw",
            inputs=(Input.TEXT,),
            description="AnimateDiff v1.5-2 with motion LoRAs for camera moves",
            weights=_SD15_BASE,
            licence=_SD15_LICENCE + "; openrail++ (the illusion ControlNet)",
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
            fp8=True,
            restyles=True,  # the light restyle: 16 frames at 512x512
            illusion_weights="monster-labs/control_v1p_sd15_qrcode_monster/v2",  # /illusion: 0.7 GB more in fp16
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
            fp8=True,  # and the drafts' UNet in fp8 where the card has it (a 1.5 GB copy)
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
    "middle_keyframes": 3,  # conditions at any frame: up to 5 pictures in one clip
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
        fp8=True,  # `-fast` drafts in fp8 where the card has it (a 5 GB copy of the transformer)
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
        ingredients=3,  # reference images: VACE's reference-to-video task
        memory_gb=8.0,
        memory_gb_full=19.0,
        memory_gb_low=6.0,
        activation_share=0.5,
        cost_factor=0.8,
        **(_WAN | {"extends": False, "fp8": True, "licence": "apache-2.0 (Wan 2.1 VACE)"}),  # type: ignore[arg-type]
    ),
}

KNOWN_MODELS = tuple(DEFAULT_MODELS)
