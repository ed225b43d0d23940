"""The README's run command (`scripts/run`) end to end, as a new user runs it: a copy of the project with
`.env` copied from `.env.example` plus a token; private Redis, a worker and the bot come up, a clip goes
through, parts that die are started again, and SIGTERM stops all of it within 5 s, also during a
restart pause. Nothing is installed (MOTIONBOT_INSTALL=0): the suite stays off the network."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from tests.bot.conftest import TOKEN
from tests.bot.test_startup import env_from_example
from tests.bot.test_video import delivered
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord
from tests.support import ROOT


def project_copy(folder: Path) -> Path:
    """The project's files (as a fresh clone has them) with this checkout's .venv, and .env from the example."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    env_from_example(folder)
    return folder


async def test_run_command_serves_a_job_and_stops_cleanly(tiny_models: dict[str, str], tmp_path: Path) -> None:
    fake = await FakeDiscord().start()
    project = project_copy(tmp_path / "motionbot")
    data = project / "data"
    # The token is exported too, as many users do: scripts/run must still start its workers without it.
    env = (
        {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        | tiny_models
        | {"DISCORD_TOKEN": TOKEN}
        | {
            "DISCORD_API_BASE": fake.api_base,
            "MOTIONBOT_ATTACHMENT_HOSTS": f"http://{fake.host}",  # a test CDN: plain http named
            "MOTIONBOT_INSTALL": "0",
            "MOTIONBOT_WATCH_INTERVAL_S": "0.1",
            "HOME": str(tmp_path),
        }
    )
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [str(project / "scripts" / "run")],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tree: set[int] = set()
    queue = None
    code = None
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

        # SIGTERM during a restart pause stops everything within 5 s (bash used to finish its sleep first).
        tree = descendants(run.pid)
        os.kill(child_running(run.pid, "bot"), signal.SIGKILL)
        while (tmp_path / "run.log").read_text(errors="replace").count("bot exited") < 2:
            await asyncio.sleep(0.05)
        started = time.monotonic()
        run.send_signal(signal.SIGTERM)
        while (code := run.poll()) is None and time.monotonic() - started < 30:
            await asyncio.sleep(0.05)
        stopped_in = time.monotonic() - started
    finally:
        if queue is not None:
            await queue.close()
        for pid in [run.pid, *tree, *descendants(run.pid)]:  # the whole tree, whatever happened above
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        run.wait(timeout=30)
        await fake.stop()
        log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 143 and stopped_in < 5, f"{code} after {stopped_in:.1f} s\n{output}"
    assert not any(Path(f"/proc/{pid}").exists() for pid in tree), "a part outlived scripts/run"
    assert "bot exited (status 137)" in output and "worker exited (status 137)" in output, output
    assert not (data / "redis" / "redis.sock").exists(), "Redis was stopped"
    assert "Traceback" not in output, output
    assert "DISCORD_TOKEN is set" not in output, "a worker was given the Discord token"


def descendants(root: int) -> set[int]:
    """Every living process below `root` (Redis runs in a session of its own, but is still a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


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
