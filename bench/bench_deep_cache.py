"""What one DeepCache step costs next to a whole UNet step, on the real architectures (random weights).

    python bench/bench_deep_cache.py                  # SVD-XT's and AnimateDiff's UNets at their native sizes
                                                      # on a GPU (fp16); at 512x288 and 256x256 on a CPU
    python bench/bench_deep_cache.py --size tiny      # the tiny test configs (the test suite)

The `-fast` tier of the UNet models (generation/deep_cache.py) runs every `interval`-th step whole and the
steps between through the outer blocks only. How much that saves comes down to one ratio: the seconds of a
cached step over the seconds of a plain, whole UNet step (diffusers' own forward, no wrapper), measured
here in one process on the same weights and inputs (CFG batch 2), each the median of `--repeat` calls
after a warm-up. The speed-up of the denoising at interval N follows: N / (1 + (N - 1) x ratio). It is
eager PyTorch on both sides; the compiled path speeds up both. One JSON line per model, then a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices import accelerator, median_seconds  # this folder's

from generation.deep_cache import deep_cache
from generation.random_weights import build_animatediff, build_svd

# model: (width, height, frames) per size; the UNet sees latents of an eighth of the width and height.
SIZES = {
    "gpu": {"svd-xt": (1024, 576, 25), "animatediff": (512, 512, 16)},
    "cpu": {"svd-xt": (512, 288, 4), "animatediff": (256, 256, 4)},
    "tiny": {"svd-xt": (128, 128, 2), "animatediff": (128, 128, 2)},
}


def unet_call(model: str, size: str, device: torch.device, dtype: torch.dtype) -> tuple[torch.nn.Module, Any]:
    """The model's UNet and one call of it with the inputs its pipeline gives it (CFG batch 2)."""
    width, height, frames = SIZES[size][model]
    h, w = height // 8, width // 8
    built = size if size == "tiny" else "real"
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(device, dtype)

    if model == "svd-xt":
        unet = build_svd(built).unet  # type: ignore[arg-type]
        text_dim = unet.config.cross_attention_dim
        sample, text, ids = tensor(2, frames, 8, h, w), tensor(2, 1, text_dim), tensor(2, 3)
        unet = unet.to(device, dtype).eval()
        return unet, lambda: unet(sample, 10.0, encoder_hidden_states=text, added_time_ids=ids).sample
    unet = build_animatediff(built).unet  # type: ignore[arg-type]
    text_dim = unet.config.cross_attention_dim
    sample, text = tensor(2, 4, frames, h, w), tensor(2 * frames, 77, text_dim)  # the pipeline repeats it per frame
    unet = unet.to(device, dtype).eval()
    return unet, lambda: unet(sample, 10.0, encoder_hidden_states=text).sample


def bench_model(model: str, size: str, device: torch.device, dtype: torch.dtype, repeat: int) -> dict[str, Any]:
    unet, call = unet_call(model, size, device, dtype)
    with torch.no_grad():
        call()  # warm-up
        whole = median_seconds(call, device, repeat)
        with deep_cache(unet, 10**6):  # one full step, then every call is a cached one
            call()
            cached = median_seconds(call, device, repeat)
    ratio = cached / whole
    width, height, frames = SIZES[size][model]
    speedup = {n: n / (1 + (n - 1) * ratio) for n in (2, 3, 4, 5)}
    return {
        "model": model,
        "size": f"{width}x{height}x{frames}",
        "whole_step_s": whole,
        "cached_step_s": cached,
        "ratio": ratio,
        "speedup": speedup,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    has_gpu = torch.cuda.is_available()
    parser.add_argument("--size", choices=list(SIZES), default="gpu" if has_gpu else "cpu")
    parser.add_argument("--models", default="svd-xt,animatediff")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    device, dtype, machine = accelerator()
    rows = []
    for model in args.models.split(","):
        row = bench_model(model, args.size, device, dtype, args.repeat) | {"machine": machine}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n{machine}, {dtype}: median of {args.repeat} UNet calls after a warm-up, eager")
    print(f"{'model':<12} {'size':<14} {'whole s':>8} {'cached s':>9} {'ratio':>6}  speed-up at interval 2 / 3 / 4 / 5")
    for row in rows:
        ups = " / ".join(f"{row['speedup'][n]:.2f}x" for n in (2, 3, 4, 5))
        print(
            f"{row['model']:<12} {row['size']:<14} {row['whole_step_s']:>8.3f} {row['cached_step_s']:>9.3f} "
            f"{row['ratio']:>6.3f}  {ups}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
