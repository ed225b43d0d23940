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


def test_the_cdn_is_a_web_address_whose_host_the_bot_may_download_from(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import BotSettings

    monkeypatch.setenv("DISCORD_TOKEN", "x" * 40)
    assert "cdn.discordapp.com" in BotSettings(_env_file=None).allowed_hosts  # type: ignore[call-arg]
    monkeypatch.setenv("DISCORD_CDN_BASE", "http://127.0.0.1:8080/")
    local = BotSettings(_env_file=None)  # type: ignore[call-arg]
    assert "http://127.0.0.1:8080" in local.allowed_hosts and local.cdn == "http://127.0.0.1:8080"
    monkeypatch.setenv("DISCORD_CDN_BASE", "cdn.discordapp.com")
    with pytest.raises(ValueError, match="DISCORD_CDN_BASE must be a web address"):
        BotSettings(_env_file=None)  # type: ignore[call-arg]
