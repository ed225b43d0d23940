"""The GPU benchmark: plain diffusers against motionbot's path, eager and compiled, in one process and one run.

    python bench/bench_gpu.py                      # on a GPU host: real sizes (SVD-XT 1024x576x25, 25 steps;
                                                   # AnimateDiff 512x512x16, 25 steps), random weights
    python bench/bench_gpu.py --size tiny          # the same at a reduced size on a CPU (the test suite)
    python bench/bench_gpu.py --paths fast         # plain diffusers and the `-fast` tier only
    python bench/bench_gpu.py --paths fast-fp8     # the `-fast` tier with its fp8 denoiser (fp8 GPUs)

Each model's random-weight pipeline is built once. The paths then run on the same weights, alternating
(plain, eager, compiled, plain, …), each after one warm-up run of its own: the compiled path's warm-up
includes compiling, and is reported apart as `first_s`. Time is measured with CUDA events around the
denoising loop and around the VAE decode (on a CPU: the wall clock), with `torch.cuda.synchronize` before
each run; the clip's encode is CPU work and is not in these figures (bench/bench_cpu_stages.py has it).
Peak GPU memory is reset per path. Quality: PSNR and max |Δ| of each path's frames against plain
diffusers' frames from the same seed, next to the same between two plain runs (the noise floor).

"plain diffusers" is the pipeline called as a diffusers user calls it (its defaults, the model card's
arguments). The motionbot paths go through the worker's own runner in the memory mode given (`--mode`;
every path runs on the pipeline as that mode placed it: in `low`, offloaded and uncompiled, so its figures
are the low mode's peak memory and time, to hold against a `full` run's);
"motionbot fast" (models with a `-fast` tier: all but AnimateDiff-Lightning) is the draft tier as a worker
runs it (First Block Cache on the compiled transformer; DeepCache on the UNet compiled block by block: its
first run, `first s`, compiles the blocks), and its PSNR is what that tier gives up. "motionbot fast fp8"
is the same with the draft's fp8 copy of the denoiser (generation/fp8.py), made only when that path is
asked for and the card has fp8 (`--fp8 auto`; `--fp8 weights`: fp8-stored weights on any device, the CPU
test), so the other paths' peak memory holds no second copy.
One JSON line per path on stdout, then a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_generation import BUILD, RUNNER, SIZES, plain_call, product_request  # this folder's
from devices import accelerator, sync
from measure import psnr

from generation.compiled import CompiledForward, compile_pipeline
from generation.fp8 import fp8_kind
from generation.jobs import Stage
from generation.progress import Reporter
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime, to_uint8
from generation.settings import Fp8, MemoryMode


class Clock:
    """Marks on the GPU's stream (CUDA events) or the wall clock: the start, the end of denoising, the end."""

    def __init__(self, device: torch.device):
        self.device = device
        self.marks: list[Any] = []

    def mark(self) -> None:
        if self.device.type == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append(event)
        else:
            self.marks.append(time.perf_counter())

    def spans(self) -> tuple[float, float]:
        """Seconds of denoising and of decoding (the last run's three marks)."""
        start, denoised, end = self.marks[-3:]
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return start.elapsed_time(denoised) / 1000, denoised.elapsed_time(end) / 1000
        return denoised - start, end - denoised


@contextmanager
def compiled_on(forwards: list[CompiledForward], on: bool) -> Iterator[None]:
    """Run the compiled forwards (on) or the modules' own eager ones, on the same modules."""
    for forward in forwards:
        forward.module.forward = forward if on else forward.eager  # type: ignore[method-assign]
    yield


def bench_model(model: str, args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> list[dict]:
    width, height, frames, steps = SIZES[args.size][model]
    spec = dataclasses.replace(DEFAULT_MODELS[model], width=width, height=height, frames=frames, max_frames=frames)
    image = Image.new("RGB", (width, height), (120, 90, 60))
    pipe = BUILD[model]("tiny" if args.size == "tiny" else "real").to(dtype)
    mode = MemoryMode(args.mode)
    fp8 = fp8_kind(Fp8(args.fp8), device, True, mode) if "fast-fp8" in args.paths and spec.fp8 else None
    runtime = Runtime(device, dtype, mode, compile=True, backend=args.backend, fp8=fp8)
    runner = RUNNER[model](spec, runtime, pipe=pipe)  # places (and compiles) the pipeline as the worker does
    # the forwards place() compiled, to switch on and off (none in the low mode on a GPU: it offloads)
    forwards = compile_pipeline(pipe, backend=args.backend) if runtime.compiler else []
    clock = Clock(device)

    def plain() -> np.ndarray:
        def at_step(pipeline: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            if step + 1 == pipeline.num_timesteps:
                clock.mark()
            return kwargs

        with compiled_on(forwards, False):
            clock.mark()
            output = pipe(**plain_call(model, spec, image, steps), callback_on_step_end=at_step)
            clock.mark()
        return to_uint8(output.frames[0])

    def product(compiled: bool, fast: bool = False, fp8: bool = False) -> Callable[[], np.ndarray]:
        request = product_request(model, spec, image, steps)
        request = dataclasses.replace(
            request, fast_cache=spec.fast_cache if fast else 0.0, deep_cache=spec.deep_cache if fast else 0, fp8=fp8
        )

        def run() -> np.ndarray:
            def on_progress(stage: Stage, step: int, total: int) -> None:
                if stage is Stage.DECODING:
                    clock.mark()

            with compiled_on(forwards, compiled):
                clock.mark()
                clip = runner.render(request, Reporter(on_progress))
                clock.mark()
            return clip

        return run

    paths = {"plain diffusers": plain}  # first: every other path's PSNR is against its frames
    if "eager" in args.paths:
        paths["motionbot eager"] = product(False)
    if forwards and "compiled" in args.paths:
        paths["motionbot compiled"] = product(True)
    if spec.fast_tier and "fast" in args.paths:  # the `-fast` draft tier as a worker runs it, compiled
        paths["motionbot fast"] = product(True, fast=True)
    if spec.fast_tier and "fast-fp8" in args.paths and runner.fp8.twins:
        paths["motionbot fast fp8"] = product(True, fast=True, fp8=True)
    rows = {name: {"model": model, "path": name, "denoise_s": [], "decode_s": []} for name in paths}
    reference: np.ndarray | None = None
    for name, run in paths.items():  # one warm-up each (the compiled path compiles here)
        sync(device)
        started = time.perf_counter()
        clip = run()
        sync(device)
        rows[name]["first_s"] = time.perf_counter() - started
        if reference is None:
            reference = clip
        rows[name]["psnr_db"], rows[name]["max_abs"] = psnr(clip, reference), int(_max_abs(clip, reference))
    for _ in range(args.repeat):  # alternating, so drift (clocks, heat) falls on every path alike
        for name, run in paths.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            clip = run()
            denoise, decode = clock.spans()
            rows[name]["denoise_s"].append(denoise)
            rows[name]["decode_s"].append(decode)
            rows[name]["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
            if name == "plain diffusers":  # the noise floor: plain against its own first run
                assert reference is not None
                rows[name]["psnr_db"], rows[name]["max_abs"] = psnr(clip, reference), int(_max_abs(clip, reference))
    result = []
    for row in rows.values():
        row["denoise_s"], row["decode_s"] = _median(row["denoise_s"]), _median(row["decode_s"])
        row["gpu_s"] = row["denoise_s"] + row["decode_s"]
        result.append(row)
    base = result[0]["gpu_s"]
    for row in result:
        row["speedup"] = base / row["gpu_s"]
    pipe = runner = None
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _max_abs(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    has_gpu = torch.cuda.is_available()
    parser.add_argument("--size", choices=["real", "tiny"], default="real" if has_gpu else "tiny")
    parser.add_argument("--models", default="svd-xt,animatediff")
    parser.add_argument("--mode", choices=[m.value for m in MemoryMode], default="full")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--paths",
        type=lambda text: set(text.split(",")),
        default={"eager", "compiled", "fast", "fast-fp8"},
        help="which of eager,compiled,fast,fast-fp8 run beside plain diffusers (a time-boxed run splits them)",
    )
    parser.add_argument("--fp8", choices=[f.value for f in Fp8], default="auto", help="the fast-fp8 path's copy")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend (eager: tracing only)")
    args = parser.parse_args()
    device, dtype, machine = accelerator()
    rows = []
    for model in args.models.split(","):
        for row in bench_model(model, args, device, dtype):
            row |= {"machine": machine, "size": args.size, "mode": args.mode, "backend": args.backend}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(f"\n{machine}, {dtype}, size {args.size}, mode {args.mode}: median of {args.repeat} after a warm-up")
    print(
        f"{'model':<12} {'path':<20} {'denoise s':>10} {'decode s':>9} {'speedup':>8} {'first s':>8} "
        f"{'PSNR dB':>8} {'max|Δ|':>7} {'peak GiB':>9}"
    )
    for row in rows:
        peak = "n/a" if row["peak_gib"] is None else f"{row['peak_gib']:.2f}"
        print(
            f"{row['model']:<12} {row['path']:<20} {row['denoise_s']:>10.3f} {row['decode_s']:>9.3f} "
            f"{row['speedup']:>7.2f}x {row['first_s']:>8.1f} {row['psnr_db']:>8.1f} {row['max_abs']:>7} {peak:>9}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
