from __future__ import annotations

import json

from tests.bench.test_bench_generation import bench_on_cpu


def test_deep_cache_benchmark_prices_a_cached_step_against_a_whole_one() -> None:
    done = bench_on_cpu("bench/bench_deep_cache.py", "--size", "tiny", "--repeat", "5")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["model"] for row in rows] == ["svd-xt", "animatediff"]
    for row in rows:
        # a cached step runs only the outer blocks: cheaper than a whole one, though not free
        assert 0 < row["cached_step_s"] < row["whole_step_s"], row
        assert abs(row["ratio"] - row["cached_step_s"] / row["whole_step_s"]) < 1e-9
        assert 1 < row["speedup"]["2"] < row["speedup"]["3"] < row["speedup"]["5"] < 1 / row["ratio"]
    assert "speed-up at interval" in done.stdout
