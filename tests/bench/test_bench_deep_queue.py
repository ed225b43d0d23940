from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_deep_queue_benchmark_measures_a_slow_discord_behind_a_full_line(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "bench/bench_deep_queue.py", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [row] = json.loads(out.read_text())
    assert row["jobs"] == 40 and row["latency_s"] == 0.1
    assert row["still_queued"] >= 10, "measured while the line was still long"
    assert row["status_edits_per_s"] > 0 and row["redis_calls_per_s"] > 0
    # The cancel of the last job in line is seen within a few watch rounds, not after every other job's edit.
    assert row["cancel_shown_s"] < 5, row
    assert "cancel shown" in done.stdout
