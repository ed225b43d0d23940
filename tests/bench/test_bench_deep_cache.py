from __future__ import annotations

import json

from tests.bench.test_bench_generation import bench_on_cpu


def test_deep_cache_benchmark_prices_a_cached_step_against_a_whole_one() -> None:
    done = bench_on_cpu("bench/bench_deep_cache.py", "--size", "tiny", "--repeat", "1")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["model"] for row in rows] == ["svd-xt", "animatediff"]
    for row in rows:
        # Figures, not a timing test: a step of each kind ran and was timed, and the speed-ups follow from
        # their ratio (one whole step, then N - 1 cached ones).
        assert row["cached_step_s"] > 0 and row["whole_step_s"] > 0, row
        ratio = row["cached_step_s"] / row["whole_step_s"]
        assert abs(row["ratio"] - ratio) < 1e-9
        for n in (2, 3, 4, 5):
            assert abs(row["speedup"][str(n)] - n / (1 + (n - 1) * ratio)) < 1e-9, row
    assert "speed-up at interval" in done.stdout
