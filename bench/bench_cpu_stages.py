"""Seconds of the CPU stages after the GPU: encode, the virtual camera, Smooth, against plain references.

    python bench/bench_cpu_stages.py             # a 25-frame 1024x576 clip, as SVD-XT makes them
    python bench/bench_cpu_stages.py --quick     # 8 frames at 256x144 (the test suite)

The frames are a moving, textured picture (so the encoder has real work). "plain PyAV" is the reference
for encode: libx264 `veryfast` at its defaults into an MP4, the way a script would write a clip; the
product's encode adds BT.709 tagging, an H.264 level, a rate held under the upload budget and faststart.
"budget" encodes the same clip into a budget that its first try does not fit. Each figure is the median
of `--repeat` runs, all in this one process.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.camera import apply_camera
from generation.encode import encode
from generation.interpolate import interpolate
from generation.jobs import OutputFormat
from generation.values import Camera


def moving_clip(frames: int, width: int, height: int) -> np.ndarray:
    """A textured picture panning and brightening: neither flat nor noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = (np.sin(x / 17.0) + np.cos(y / 11.0) + rng.normal(0, 0.15, (height, width))) * 60 + 128
    clip = []
    for index in range(frames):
        shifted = np.roll(base, 6 * index, axis=1) + 2 * index
        clip.append(np.stack([shifted, np.roll(shifted, 40, axis=0), 255 - shifted], axis=-1))
    return np.clip(np.stack(clip), 0, 255).astype(np.uint8)


def plain_pyav(frames: np.ndarray, fps: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def timed(run: object, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    count, width, height = (8, 256, 144) if args.quick else (25, 1024, 576)
    frames, fps = moving_clip(count, width, height), 24
    plain_s, plain = timed(lambda: plain_pyav(frames, fps), args.repeat)
    ours_s, ours = timed(lambda: encode(frames, fps, OutputFormat.MP4, 10 << 20), args.repeat)
    tight = max(20_000, len(ours.data) // 2)  # type: ignore[attr-defined]
    budget_s, fitted = timed(lambda: encode(frames, fps, OutputFormat.MP4, tight), args.repeat)
    camera_s, _ = timed(lambda: apply_camera(frames, Camera(zoom=1), 2), args.repeat)
    smooth_s, smoothed = timed(lambda: interpolate(frames, fps, 48), args.repeat)
    rows = [
        {"stage": "encode, plain PyAV veryfast", "seconds": plain_s, "bytes": len(plain)},  # type: ignore[arg-type]
        {"stage": "encode, motionbot (10 MiB budget)", "seconds": ours_s, "bytes": len(ours.data)},  # type: ignore[attr-defined]
        {"stage": f"encode, motionbot ({tight // 1000} kB budget)", "seconds": budget_s, "bytes": len(fitted.data)},  # type: ignore[attr-defined]
        {"stage": "virtual camera (zoom)", "seconds": camera_s},
        {"stage": f"Smooth {count} -> {len(smoothed)} frames", "seconds": smooth_s},  # type: ignore[arg-type]
    ]
    print(f"{count} frames at {width}x{height}, {fps} fps; median of {args.repeat}")
    print(f"  {'stage':<36} {'seconds':>8} {'vs plain':>9} {'bytes':>10}")
    for row in rows:
        ratio = f"{row['seconds'] / plain_s:.2f}x" if row["stage"].startswith("encode") else ""
        size = f"{row['bytes']:,}" if "bytes" in row else ""
        print(f"  {row['stage']:<36} {row['seconds']:>8.3f} {ratio:>9} {size:>10}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
