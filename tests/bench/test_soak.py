from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_ends_every_job_once_and_charges_only_what_was_delivered(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    command = [sys.executable, "bench/soak.py", "--quick", "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    figures = json.loads(out.read_text())
    assert done.returncode == 0 and figures["passed"], done.stdout + done.stderr
    assert figures["worker_kills"] >= 2 and figures["redis_restarts"] == 1 and figures["bot_restarts"] == 2
    assert figures["cancels_pressed"] >= 1
    assert figures["delivered"] > 0 and figures["credits_charged"] == figures["price_of_delivered"]
