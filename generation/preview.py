"""Live previews: the clip as it denoises, for the status message, made straight from the current latents.

No decoder runs: each latent space has a linear map from its channels to RGB (the approximation the
previews of ComfyUI and Forge use, fitted per VAE), so a preview is one small matrix product on the GPU
and a copy of a thumbnail-sized tensor, a few milliseconds against the seconds of a denoising step. The
registry row names its latent space and tensor layout (`ModelSpec.preview`, e.g. "sd:bfchw"); a model
without one (LTX: 128 packed channels) shows no preview.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["LATENT_RGB", "animated", "preview_frames", "previewer"]

# channels -> RGB in [-1, 1], and a bias; from ComfyUI's comfy/latent_formats.py (SD15, Wan21).
LATENT_RGB: dict[str, tuple[list[list[float]], list[float]]] = {
    "sd": (  # the SD 1.x / SVD VAE: 4 channels
        [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
        [0.0, 0.0, 0.0],
    ),
    "wan": (  # the Wan 2.1 VAE: 16 channels, normalised latents
        [
            [-0.1299, -0.1692, 0.2932],
            [0.0671, 0.0406, 0.0442],
            [0.3568, 0.2548, 0.1747],
            [0.0372, 0.2344, 0.1420],
            [0.0313, 0.0189, -0.0328],
            [0.0296, -0.0956, -0.0665],
            [-0.3477, -0.4059, -0.2925],
            [0.0166, 0.1902, 0.1975],
            [-0.0412, 0.0267, -0.1364],
            [-0.1293, 0.0740, 0.1636],
            [0.0680, 0.3019, 0.1128],
            [0.0032, 0.0581, 0.0639],
            [-0.1251, 0.0927, 0.1699],
            [0.0060, -0.0633, 0.0005],
            [0.3477, 0.2275, 0.2950],
            [0.1984, 0.0913, 0.1861],
        ],
        [-0.1835, -0.0868, -0.3360],
    ),
}
MAX_FRAMES = 8  # frames in a preview, evenly spaced over the clip
WIDTH = 160  # pixels: a thumbnail in the status message


def preview_frames(latents: Any, preview: str, skip: int = 0) -> np.ndarray | None:
    """uint8 RGB frames (F, H, W, 3) of the first clip in `latents`, for `preview` ("space:layout", the
    layout "bfchw" or "bcfhw"), after its first `skip` latent frames (VACE's reference images, denoised
    before the clip's own); None where the latents do not have the space's channels."""
    space, _, layout = preview.partition(":")
    factors, bias = LATENT_RGB[space]
    if not isinstance(latents, torch.Tensor) or latents.ndim != 5:
        return None
    clip = (latents[0] if layout == "bfchw" else latents[0].transpose(0, 1))[skip:]  # (F, C, H, W)
    if clip.shape[1] != len(factors) or not len(clip):
        return None
    chosen = torch.linspace(0, clip.shape[0] - 1, min(MAX_FRAMES, clip.shape[0])).round().long()
    with torch.no_grad():
        picked = clip[chosen.to(clip.device)].float()
        weights = torch.tensor(factors, device=picked.device)
        rgb = torch.einsum("fchw,cr->fhwr", picked, weights) + torch.tensor(bias, device=picked.device)
        pixels = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return pixels


def animated(frames: np.ndarray, seconds: float) -> bytes:
    """The frames as a looping GIF about WIDTH pixels wide, lasting `seconds` (the clip's length)."""
    height = max(1, round(WIDTH * frames.shape[1] / frames.shape[2]))
    # A fast 64-colour palette per frame, no dithering: about 5 ms for 8 frames (the default quantizer
    # takes 40 times longer, inside the denoising loop).
    images = [
        Image.fromarray(frame)
        .resize((WIDTH, height), Image.Resampling.BILINEAR)
        .quantize(colors=64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        for frame in frames
    ]
    out = io.BytesIO()
    each_ms = max(20, round(1000 * seconds / len(images)))
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=each_ms, loop=0, optimize=False)
    return out.getvalue()


def previewer(
    preview: str,
    every: int,
    seconds: float,
    on_preview: Callable[[bytes], None],
    on_error: Callable[[], None],
    skip: int = 0,
) -> Callable[[Any, int, int], None]:
    """A step's latents -> `on_preview(gif)` every `every` steps, not after the last (the clip itself
    follows), leaving out the first `skip` latent frames. The first failure calls `on_error` (inside the
    `except`) and ends the previews, never the job."""
    failed = threading.Event()

    def on_latents(latents: Any, step: int, total: int) -> None:
        if step % every or step >= total or failed.is_set():
            return
        try:
            frames = preview_frames(latents, preview, skip)
            if frames is not None:
                on_preview(animated(frames, seconds))
        except Exception:
            failed.set()
            on_error()

    return on_latents
