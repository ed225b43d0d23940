from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_image_benchmark_compares_the_bots_memory_with_full_decoding(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    command = [sys.executable, "bench/bench_images.py", "--mp", "4", "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["bot_added_mb"] < figures["plain_added_mb"] / 2, figures
    assert "bot path" in done.stdout and "plain path" in done.stdout
