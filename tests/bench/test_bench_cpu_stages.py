from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cpu_stages_benchmark_compares_encode_with_plain_pyav(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "bench/bench_cpu_stages.py", "--quick", "--repeat", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = {row["stage"].split(" (")[0]: row for row in json.loads(out.read_text())}
    assert {"encode, plain PyAV veryfast", "encode, motionbot", "virtual camera"} <= set(rows)
    assert all(row["seconds"] > 0 for row in rows.values()) and "vs plain" in done.stdout
