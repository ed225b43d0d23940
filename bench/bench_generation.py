"""Seconds per clip and peak GPU memory: motionbot's render path per memory mode vs plain diffusers.

Random weights with the real architectures (no download):

    python bench/bench_generation.py                 # real sizes on a GPU: SVD-XT 1024x576x25, 25 steps;
                                                     # AnimateDiff 512x512x16, 25 steps; LTX-Video (the
                                                     # 2B architecture, T5-XXL) 768x512x121, the distilled
                                                     # 8-step schedule; `--models wan`: Wan 2.2
                                                     # TI2V-5B (UMT5-XXL) 1280x704x121, 50 steps
    python bench/bench_generation.py --size tiny     # reduced size, runs on a CPU in about a minute

"plain" is the documented diffusers call with its defaults (the whole pipeline on the device, all
frames decoded at once); the motionbot rows go through the worker's own runners, memory modes and
encoder, in the same process, on the same weights. "video s / s" is seconds of video (at 24 fps) made per
second of compute: above 1 is faster than the clip plays. The LTX rows encode the prompt once (the runner
caches embeddings per prompt, as a Reroll would); plain diffusers encodes it on every call. "+ live previews"
is the balanced path with a preview every 5 steps (what a worker does by default): its cost over that row.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
from pathlib import Path
from typing import Any

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices import accelerator, median_seconds  # this folder's

from generation.encode import encode
from generation.jobs import JobKind, OutputFormat
from generation.models import ModelSpec
from generation.pipelines import Request
from generation.pipelines.animatediff import AnimateDiffRunner
from generation.pipelines.ltx import LTXRunner
from generation.pipelines.svd import SVDRunner
from generation.pipelines.wan import WanRunner
from generation.preview import previewer
from generation.progress import Reporter
from generation.random_weights import build_animatediff, build_ltx, build_svd, build_wan
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime
from generation.settings import MemoryMode

SIZES = {  # (width, height, frames, steps)
    "real": {
        "svd-xt": (1024, 576, 25, 25),
        "animatediff": (512, 512, 16, 25),
        "ltx": (768, 512, 121, 8),
        "wan": (1280, 704, 121, 50),
    },
    "tiny": {"svd-xt": (64, 64, 4, 2), "animatediff": (64, 64, 4, 2), "ltx": (64, 64, 17, 8), "wan": (64, 64, 9, 2)},
}
BUILD = {"svd-xt": build_svd, "animatediff": build_animatediff, "ltx": build_ltx, "wan": build_wan}
RUNNER: dict[str, Any] = {"svd-xt": SVDRunner, "animatediff": AnimateDiffRunner, "ltx": LTXRunner, "wan": WanRunner}
TEXT = ("animatediff", "wan")  # rendered from the prompt alone


def plain_call(model: str, spec: ModelSpec, image: Image.Image, steps: int) -> dict[str, Any]:
    """The arguments a diffusers user passes for this clip: the pipeline's defaults, the model card's call."""
    kwargs: dict[str, Any] = dict(
        width=spec.width,
        height=spec.height,
        num_frames=spec.frames,
        num_inference_steps=steps,
        generator=torch.Generator("cpu").manual_seed(0),
        output_type="np",
    )
    kwargs |= {"image": image, "fps": 24} if model == "svd-xt" else {"prompt": "a red fox in the snow"}
    if model == "ltx":  # the distilled checkpoint's own schedule, no guidance, the picture as frame 0
        del kwargs["num_inference_steps"]
        kwargs |= {"image": image, "timesteps": list(spec.timesteps), "guidance_scale": 1.0}
    if model == "wan":  # the model card's call: guidance 5, its recommended negative prompt
        kwargs |= {"guidance_scale": spec.guidance.default, "negative_prompt": spec.default_negative}
    return kwargs


def product_request(model: str, spec: ModelSpec, image: Image.Image, steps: int) -> Request:
    """The same clip as the worker's runners take it."""
    return Request(
        width=spec.width,
        height=spec.height,
        frames=spec.frames,
        fps=24,
        steps=steps,
        seed=0,
        guidance=spec.guidance.default,
        motion=1,
        prompt="a red fox in the snow",
        negative_prompt=spec.default_negative,
        image=image if model not in TEXT else None,
        kind=JobKind.TEXT_TO_VIDEO if model in TEXT else JobKind.IMAGE_TO_VIDEO,
    )


def _measure(device: torch.device, run: Any, repeat: int) -> tuple[float, float | None]:
    """Median seconds of `run()` over `repeat` runs after one warm-up, and peak GPU GiB."""
    run()  # warm-up: kernels, allocator, lazy init
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = median_seconds(run, device, repeat)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return seconds, peak


def bench_model(model: str, size: str, device: torch.device, dtype: torch.dtype, repeat: int) -> list[dict]:
    width, height, frames, steps = SIZES[size][model]
    spec = dataclasses.replace(DEFAULT_MODELS[model], width=width, height=height, frames=frames, max_frames=frames)
    image = Image.new("RGB", (width, height), (120, 90, 60))
    rows = []
    pipe = BUILD[model]("tiny" if size == "tiny" else "real").to(dtype)

    plain_kwargs = plain_call(model, spec, image, steps)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    seconds, peak = _measure(device, lambda: pipe(**plain_kwargs), repeat)
    rows.append({"model": model, "path": "plain diffusers", "seconds": seconds, "peak_gib": peak})

    request = product_request(model, spec, image, steps)
    for mode in (MemoryMode.FULL, MemoryMode.BALANCED, MemoryMode.LOW):  # LOW last: offload hooks stay on
        runtime = Runtime(device, dtype, mode)
        runner = RUNNER[model](spec, runtime, pipe=pipe)

        def run(runner: Any = runner) -> None:
            encode(runner.render(request, Reporter()), 24, OutputFormat.MP4, 10 << 20)

        seconds, peak = _measure(device, run, repeat)
        rows.append({"model": model, "path": f"motionbot {mode.value}", "seconds": seconds, "peak_gib": peak})
        if mode is MemoryMode.BALANCED and spec.preview:  # the same, with a live preview every 5 steps
            previews: list[bytes] = []
            every = min(5, max(1, steps - 1))  # the tiny size's 2 steps still get one

            def shown(runner: Any = runner, previews: list[bytes] = previews, every: int = every) -> None:
                on_latents = previewer(spec.preview, every, frames / 24, previews.append, lambda: None)
                encode(runner.render(request, Reporter(on_latents=on_latents)), 24, OutputFormat.MP4, 10 << 20)

            seconds, peak = _measure(device, shown, repeat)
            assert previews, "the previews were made"
            rows.append({"model": model, "path": "+ live previews", "seconds": seconds, "peak_gib": peak})
    pipe = None  # free the weights before the next model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    has_gpu = torch.cuda.is_available()
    parser.add_argument("--size", choices=["real", "tiny"], default="real" if has_gpu else "tiny")
    parser.add_argument("--models", default="svd-xt,animatediff,ltx")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    device, dtype, name = accelerator()
    print(f"device: {name}, dtype: {dtype}, size: {args.size}, median of {args.repeat} after a warm-up")

    rows = []
    for model in args.models.split(","):
        width, height, frames, steps = SIZES[args.size][model]
        print(f"\n{model}: {width}x{height}, {frames} frames, {steps} steps")
        print(f"  {'path':<20} {'s/clip':>8} {'vs plain':>9} {'video s / s':>12} {'peak GPU GiB':>13}")
        model_rows = bench_model(model, args.size, device, dtype, args.repeat)
        base = model_rows[0]["seconds"]
        for row in model_rows:
            row["vs_plain"] = row["seconds"] / base
            row["video_per_s"] = frames / 24 / row["seconds"]
            peak = "n/a" if row["peak_gib"] is None else f"{row['peak_gib']:.2f}"
            print(
                f"  {row['path']:<20} {row['seconds']:>8.2f} {row['vs_plain']:>8.2f}x "
                f"{row['video_per_s']:>12.2f} {peak:>13}"
            )
        rows += model_rows
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
