from __future__ import annotations

import json
import math

from tests.bench.test_bench_generation import bench_on_cpu

TINY = ("--size", "tiny", "--models", "animatediff", "--repeat", "1")


def test_gpu_benchmark_runs_at_tiny_size_and_compiling_keeps_the_frames() -> None:
    # The eager backend traces and runs the graphs as they are: what compiling wraps, without Inductor's
    # minutes on a CPU. AnimateDiff's runner renders exactly plain diffusers' frames, so any change the
    # compiled path made would show.
    done = bench_on_cpu("bench/bench_gpu.py", *TINY, "--backend", "eager")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["path"] for row in rows] == ["plain diffusers", "motionbot eager", "motionbot compiled"]
    for row in rows:
        assert row["denoise_s"] > 0 and row["decode_s"] > 0 and row["first_s"] > 0 and row["machine"] == "CPU"
        assert math.isinf(row["psnr_db"]) and row["max_abs"] == 0, row
    assert rows[0]["speedup"] == 1.0
    assert "denoise s" in done.stdout and "PSNR dB" in done.stdout
