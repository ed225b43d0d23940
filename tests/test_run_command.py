"""The README's run command (`scripts/run`) end to end: private Redis, a worker and the bot come up, a
clip goes through, and Ctrl-C stops all of it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

from generation.queue import JobQueue, QueueSettings
from tests.bot.conftest import TOKEN
from tests.bot.test_video import delivered
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord
from tests.support import ROOT


async def test_run_command_serves_a_job_and_stops_cleanly(tiny_models: dict[str, str], tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DISCORD_TOKEN")} | tiny_models | {
        "DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": fake.api_base, "MOTIONBOT_ATTACHMENT_HOSTS": fake.host,
        "MOTIONBOT_DATA_DIR": str(data), "MOTIONBOT_WATCH_INTERVAL_S": "0.1", "HOME": str(tmp_path),
    }  # fmt: skip
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    queue = None
    try:
        await fake.wait_until(lambda: fake.ready.is_set(), timeout=300, what="the bot to connect")
        queue = await JobQueue.connect(QueueSettings(REDIS_URL=f"unix://{data}/redis/redis.sock"))
        while not await queue.workers():
            await asyncio.sleep(0.2)
        token = await fake.slash(
            "animate", {"prompt": "hello"}, attachments={"image": fake.upload("a.png", png_bytes())}
        )
        await delivered(fake, token)
        assert (data / "motionbot.db").exists() and any((data / "redis").glob("appendonly*"))  # AOF is on

        # A part that dies (the OOM killer, a crash) is started again; the service goes on.
        [old_worker] = await queue.workers()
        os.kill(child_running(run.pid, "generation"), signal.SIGKILL)
        os.kill(child_running(run.pid, "bot"), signal.SIGKILL)
        before = fake.identified
        await fake.wait_until(lambda: fake.identified > before, timeout=120, what="the bot to come back")
        while [w.id for w in await queue.workers()] in ([], [old_worker.id]):
            await asyncio.sleep(0.2)
        image = fake.upload("b.png", png_bytes())
        token = await fake.slash("animate", {"prompt": "again"}, attachments={"image": image})
        await delivered(fake, token)
    finally:
        if queue is not None:
            await queue.close()
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=90)
        await fake.stop()
        log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert code in (0, 130), output
    assert "bot exited (status 137)" in output and "worker exited (status 137)" in output, output
    assert not (data / "redis" / "redis.sock").exists(), "Redis was stopped"
    assert "Traceback" not in output, output


def child_running(parent: int, module: str) -> int:
    """The pid of `parent`'s child that runs `python -m <module>`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and b"-m" in command and command[command.index(b"-m") + 1] == module.encode():
            return int(stat.parent.name)
    raise AssertionError(f"no child of {parent} runs {module}")
