from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.mark.parametrize("token", ["", "your-token-here", "changeme"])
def test_a_missing_or_placeholder_token_is_refused_with_a_clear_message(token: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"} | {"PYTHONPATH": str(ROOT)}
    if token:
        env["DISCORD_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "DISCORD_TOKEN" in done.stderr and "Traceback" not in done.stderr
    assert token not in done.stdout + done.stderr or not token  # secrets are never echoed
