from __future__ import annotations

import json
import math

from tests.bench.test_bench_generation import bench_on_cpu

TINY = ("--size", "tiny", "--models", "animatediff", "--repeat", "1")


def test_gpu_benchmark_runs_at_tiny_size_compiling_keeps_the_frames_and_the_fast_tier_shows() -> None:
    # The eager backend traces and runs the graphs as they are: what compiling wraps, without Inductor's
    # minutes on a CPU. AnimateDiff's runner renders exactly plain diffusers' frames, so any change the
    # compiled path made would show. The draft tier runs with its fp8 copy (fp8-stored weights on a CPU).
    paths = ("--paths", "eager,compiled,fast-fp8", "--fp8", "weights")
    done = bench_on_cpu("bench/bench_gpu.py", *TINY, *paths, "--backend", "eager")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["path"] for row in rows] == [
        "plain diffusers",
        "motionbot eager",
        "motionbot compiled",
        "motionbot fast fp8",
    ]
    for row in rows:
        assert row["denoise_s"] > 0 and row["decode_s"] > 0 and row["first_s"] > 0 and row["machine"] == "CPU"
    for row in rows[:3]:
        assert math.isinf(row["psnr_db"]) and row["max_abs"] == 0, row
    fast = rows[3]  # DeepCache (its second step reuses the first's deep features) and fp8 weights: other frames
    assert math.isfinite(fast["psnr_db"]) and fast["max_abs"] > 0, fast
    assert rows[0]["speedup"] == 1.0
    assert "denoise s" in done.stdout and "PSNR dB" in done.stdout
