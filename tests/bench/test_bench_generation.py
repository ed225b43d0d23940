from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench_on_cpu(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a bench script as a user does, with no GPU visible."""
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        env=os.environ | {"CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_generation_benchmark_runs_at_reduced_size_and_compares_with_plain_diffusers(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    # One model is enough to check the comparison runs (the engine tests render every family).
    done = bench_on_cpu(
        "bench/bench_generation.py", "--size", "tiny", "--repeat", "1", "--models", "ltx", "--json", str(out)
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())
    paths = {(row["model"], row["path"]) for row in rows}
    for model in ("ltx",):
        assert {
            (model, p) for p in ("plain diffusers", "motionbot full", "motionbot balanced", "motionbot low")
        } <= paths
    assert all(row["seconds"] > 0 for row in rows)
    assert "plain diffusers" in done.stdout and "s/clip" in done.stdout and "video s / s" in done.stdout
