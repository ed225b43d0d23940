from __future__ import annotations

import json
from pathlib import Path

from tests.bench.test_bench_generation import bench_on_cpu


def test_smooth_benchmark_scores_held_out_frames_against_minterpolate(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = bench_on_cpu("bench/bench_smooth.py", "--quick", "--weights", "random", "--repeat", "0", "--json", str(out))
    assert done.returncode == 0, done.stderr
    rows = {row["path"].split(",")[0]: row for row in json.loads(out.read_text())}
    assert set(rows) == {"repeat (floor)", "cross-fade (floor)", "minterpolate", "flow warping", "raft_small flow"}
    floor = max(rows["repeat (floor)"]["psnr_db"], rows["cross-fade (floor)"]["psnr_db"])
    assert rows["minterpolate"]["psnr_db"] > floor + 3, "the held-out frames tell interpolation from a blend"
    # Given the clip's real motion, the flow path's warping puts things where they were.
    assert rows["flow warping"]["psnr_db"] > rows["minterpolate"]["psnr_db"] + 2
    assert rows["raft_small flow"]["seconds"] > 0 and "(random weights)" in done.stdout
