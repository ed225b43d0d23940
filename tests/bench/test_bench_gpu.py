from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ("--size", "tiny", "--models", "animatediff", "--repeat", "1")


def test_gpu_benchmark_runs_at_tiny_size_and_compiling_keeps_the_frames() -> None:
    done = subprocess.run(
        # The eager backend traces and runs the graphs as they are: what compiling wraps, without Inductor's
        # minutes on a CPU. AnimateDiff's runner renders exactly plain diffusers' frames, so any change the
        # compiled path made would show.
        [sys.executable, "bench/bench_gpu.py", *TINY, "--backend", "eager"],
        cwd=ROOT,
        env=os.environ | {"CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["path"] for row in rows] == ["plain diffusers", "motionbot eager", "motionbot compiled"]
    for row in rows:
        assert row["denoise_s"] > 0 and row["decode_s"] > 0 and row["first_s"] > 0 and row["machine"] == "CPU"
        assert math.isinf(row["psnr_db"]) and row["max_abs"] == 0, row
    assert rows[0]["speedup"] == 1.0
    assert "denoise s" in done.stdout and "PSNR dB" in done.stdout
