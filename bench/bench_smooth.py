"""Smooth: quality on held-out frames and seconds, optical flow (RAFT) against FFmpeg's minterpolate.

    python bench/bench_smooth.py                     # 49 frames at 1024x576; flow on the GPU where there is one
    python bench/bench_smooth.py --quick --weights random    # 7 frames at 256x128, raft_small (the test suite)

A moving clip of 2N-1 frames at 24 fps (a textured background panning one way, a textured disc crossing it
the other way, so things are uncovered and hidden) loses every other frame: N frames at 12 fps. Smooth
brings it back to 24 fps (2N-1 frames: 25 -> 49 at full size, the issue's case) and each frame it made is
compared with the frame that was dropped (PSNR, dB; higher is better). "repeat" (the frame before) and
"cross-fade" are the floors any interpolation must beat; "the true motion" is the flow path given the
clip's real flow instead of RAFT's, which scores the warping alone.

Seconds: minterpolate on the CPU; the flow path on the device (a CUDA GPU when there is one), weights
loaded before timing, its first run (cuDNN autotuning) reported apart, the frames back on the CPU in the
figure. `--weights`: `published` (torchvision's, downloaded once into TORCH_HOME), `random` (timing only:
the quality of random weights means nothing) or a state-dict file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices import median_seconds  # this folder's
from measure import psnr

from generation.flow import FlowSmoother, load_smoother, write_flow
from generation.interpolate import FlowSource, interpolate


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random structure at a few scales (not noise: a flow estimator needs something to follow)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    layers = []
    for channel in range(3):
        value = np.zeros((height, width))
        for scale in (3, 7, 17, 41):
            phase, angle = rng.uniform(0, 2 * np.pi, 2)
            value += np.sin(2 * np.pi * scale * (x * np.cos(angle) + y * np.sin(angle)) + phase) / scale**0.5
        layers.append(value + channel)
    picture = np.stack(layers, axis=-1)
    return (picture - picture.min()) / (picture.max() - picture.min()) * 220 + 18


def _disc(index: int, width: int, height: int) -> tuple[float, float, float]:
    """The disc's centre and radius in frame `index`: it moves (3, 1) steps a frame, a step being 1/256
    of the width (whole pixels at the sizes used here)."""
    step = width // 256
    return width * 0.2 + 3 * step * index, height * 0.35 + step * index, height / 4


def moving_clip(count: int, width: int, height: int) -> np.ndarray:
    """`count` frames: the background pans left a step a frame, a textured disc crosses it right and down."""
    step = width // 256
    background = texture(height, width + step * count, 1)
    disc_picture = texture(height, width, 2)
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for index in range(count):
        frame = background[:, step * index : step * index + width].copy()
        cx, cy, radius = _disc(index, width, height)
        inside = np.clip(radius - np.hypot(x - cx, y - cy), 0, 1)[..., None]  # anti-aliased edge
        moved = np.roll(disc_picture, (round(cy), round(cx)), axis=(0, 1))
        frames.append(frame * (1 - inside) + moved * inside)
    return (np.stack(frames) + 0.5).astype(np.uint8)


def true_motion(width: int, height: int, apart: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The clip's real flow between frames `apart` apart, as a Smooth flow estimator (batches of pairs as
    FlowSmoother asks for them: forward flows, then the same pairs backward). It scores the warping alone,
    whatever the flow model."""
    step = width // 256
    y, x = np.mgrid[0:height, 0:width]
    seen = [0]  # the source pairs estimated so far

    def estimate(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        pairs = len(first) // 2
        flows = np.zeros((len(first), 2, height, width), np.float32)
        for k in range(len(first)):
            pair, sign = seen[0] + k % pairs, 1 if k < pairs else -1
            cx, cy, radius = _disc(apart * (pair if sign > 0 else pair + 1), width, height)
            flows[k, 0] = -sign * apart * step
            disc = np.hypot(x - cx, y - cy) < radius
            flows[k, 0][disc], flows[k, 1][disc] = sign * 3 * apart * step, sign * apart * step
        seen[0] += pairs
        return torch.from_numpy(flows).to(first.device)

    return estimate


def held_out(made: np.ndarray, truth: np.ndarray) -> float:
    """The mean PSNR of the made frames at the dropped (odd) positions."""
    return statistics.mean(psnr(made[i], truth[i]) for i in range(1, len(truth), 2))


def timed(run: Callable[[], np.ndarray], repeat: int, device: torch.device) -> tuple[float, float, np.ndarray]:
    """(first run s, median of the next `repeat` runs s (0: the first run's), the result)."""
    made: list[np.ndarray] = []

    def keep() -> None:
        made[:] = [run()]

    first = median_seconds(keep, device, 1)
    return first, median_seconds(keep, device, repeat) if repeat else first, made[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=["raft_large", "raft_small"], help="default: raft_large (quick: small)")
    parser.add_argument("--weights", default="published", help="published, random, or a state-dict file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    count, width, height = (4, 256, 128) if args.quick else (25, 1024, 576)
    model = args.model or ("raft_small" if args.quick else "raft_large")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    truth = moving_clip(2 * count - 1, width, height)
    source = truth[::2]  # 12 fps

    weights = "" if args.weights == "published" else args.weights
    if args.weights == "random":
        weights = str(Path(tempfile.mkdtemp()) / f"{model}.safetensors")
        write_flow(Path(weights).parent, model)
    smoother = load_smoother(FlowSource(model, weights, device))

    repeat = np.repeat(source, 2, axis=0)[: len(truth)]
    fade = truth.copy()
    fade[1::2] = ((source[:-1].astype(np.uint16) + source[1:]) // 2).astype(np.uint8)
    _, mi_s, mi = timed(lambda: interpolate(source, 12, 24), args.repeat, torch.device(device))
    flow_first, flow_s, flowed = timed(lambda: smoother(source, 12, 24), args.repeat, torch.device(device))
    exact = FlowSmoother(true_motion(width, height, 2), torch.device(device))(source, 12, 24)
    random = " (random weights)" if args.weights == "random" else ""
    rows = [
        {"path": "repeat (floor)", "psnr_db": held_out(repeat, truth)},
        {"path": "cross-fade (floor)", "psnr_db": held_out(fade, truth)},
        {"path": "minterpolate, cpu", "psnr_db": held_out(mi, truth), "seconds": mi_s},
        {"path": "flow warping, the true motion", "psnr_db": held_out(exact, truth)},
        {
            "path": f"{model} flow, {device}{random}",
            "psnr_db": held_out(flowed, truth),
            "seconds": flow_s,
            "first_s": flow_first,
        },
    ]
    assert len(mi) == len(flowed) == len(exact) == len(truth)
    for row in rows:
        print(json.dumps(row))
    print(f"{len(source)} -> {len(truth)} frames at {width}x{height} (12 -> 24 fps); median of {args.repeat}")
    print(f"  {'path':<36} {'held-out PSNR dB':>17} {'seconds':>8} {'first s':>8}")
    for row in rows:
        seconds = f"{row['seconds']:.3f}" if "seconds" in row else ""
        first = f"{row['first_s']:.3f}" if "first_s" in row else ""
        print(f"  {row['path']:<36} {row['psnr_db']:>17.2f} {seconds:>8} {first:>8}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
