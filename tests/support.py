"""Real processes for tests: worker processes (Redis comes from generation.local_redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from generation.local_redis import RedisServer, free_port

__all__ = ["ROOT", "Process", "RedisServer", "WorkerProcess", "free_port"]

ROOT = Path(__file__).resolve().parents[1]


class Process:
    """`python -m <args>` from the repository root, its output appended to `log`."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT):
        self.log = log
        full_env = os.environ | {"PYTHONPATH": str(ROOT)} | env | {"PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", *args], env=full_env, cwd=cwd, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class WorkerProcess(Process):
    """`python -m generation worker …` as a real process."""

    def __init__(self, redis_url: str, args: list[str], env: dict[str, str], log: Path):
        super().__init__(["generation", "worker", *args], env | {"REDIS_URL": redis_url}, log)
