"""What the bot imports (the generation contract, the queue client, storage) must stay torch-free."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import bot
import storage

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "av", "numpy")


def modules(package: object) -> list[str]:
    """Every module of a package, found by walking it (a new module is checked without editing this)."""
    path, name = package.__path__, package.__name__  # type: ignore[attr-defined]
    return [name] + [info.name for info in pkgutil.walk_packages(path, name + ".")]


def test_the_bot_and_storage_import_without_torch_numpy_or_av() -> None:
    every = [m for m in modules(bot) + modules(storage) if m != "bot.__main__"] + ["bot.__main__"]
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {every!r}]; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, f"heavy modules imported by the bot: {done.stdout} {done.stderr}"
    assert "bot.exts.video._cog" in every and "storage.quotas" in every


def test_a_lint_rule_bans_heavy_imports_in_the_bot_and_storage(tmp_path: Path) -> None:
    for package in ("bot", "storage"):
        probe = ROOT / package / "_probe_banned_import.py"
        probe.write_text('"""Probe."""\n\nimport numpy\n\nprint(numpy)\n')
        try:
            command = [sys.executable, "-m", "ruff", "check", "--no-cache", str(probe)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
        finally:
            probe.unlink()
        assert done.returncode == 1 and "TID251" in done.stdout, done.stdout
