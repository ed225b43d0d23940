from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_queue_benchmark_reports_throughput_latency_and_scaling(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "bench/bench_queue.py", "--quick", "--job-s", "0.3", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["submit_jobs_per_s_sequential"] > 0 and figures["pickup_ms_median"] > 0
    scaling = {row["workers"]: row for row in figures["scaling"]}
    assert set(scaling) == {1, 2}
    # Two sleeping workers share the load and finish it in about the time one takes for half of it: the queue
    # scales. (Ideal is 2x; the margin is for a loaded 2-core machine.)
    assert len(scaling[2]["jobs_per_worker"]) == 2 and min(scaling[2]["jobs_per_worker"]) >= 1
    assert scaling[2]["jobs_per_s"] > 1.25 * scaling[1]["jobs_per_s"]
    assert "pick-up latency" in done.stdout
    depth = {row["queued"]: row for row in figures["depth"]}
    assert set(depth) == {0, 1000}
    # Behind a 1000-job backlog the newcomer is next but one: what is in flight (one job on the GPU, one
    # still being stored) and the one ahead end first.
    assert depth[1000]["newcomer_position"] <= 2 and depth[1000]["backlog_started_first"] <= 3, depth
