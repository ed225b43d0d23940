from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_storage_benchmark_reports_pairs_per_second(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "bench/bench_storage.py", "--pairs", "100", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["pairs"] == 100
    assert figures["pairs_per_s_one_task"] > 0 and figures["pairs_per_s_50_tasks"] > 0
    assert "50 tasks" in done.stdout
