"""The unmodified bot (`python -m bot`) against the fake Discord, with a real Redis, SQLite and worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from tests.fake_discord import FakeDiscord
from tests.generation.test_worker_processes import wait_for_workers
from tests.support import ROOT, Process, RedisServer, WorkerProcess

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.fake.token-for-tests-only"
LONG_RENDERS = {"MOTIONBOT_SVD_XT__MAX_STEPS": "400"}  # lets a test ask for a render that runs for seconds
PRICED = {"MOTIONBOT_SVD__COST_FACTOR": "3000"}  # `-model svd` costs more than 1 credit: prices can be compared
# The SVD tests carry their options as prompt flags (`-steps 100`): they stay on SVD. tests/bot/test_ltx.py runs
# the shipped default, a prompt-following model for prompted images.
ON_SVD = {"MOTIONBOT_DEFAULT_PROMPTED_IMAGE_MODEL": "svd-xt"}
# Live previews are off here: a test that reads the status message's attachment as the clip would see the
# preview first. tests/bot/test_preview.py turns them on.
NO_PREVIEWS = {"MOTIONBOT_PREVIEW_EVERY": "0"}
STATUS_WAIT_S = 3.0  # how long a request waits for Discord to show its status (10 s by default)


class BotProcess(Process):
    """`python -m bot`, unmodified (with the worker `serve` started beside it, if any)."""

    def __init__(self, env: dict[str, str], log: Path, cwd: Path = ROOT, worker: WorkerProcess | None = None):
        super().__init__(["bot"], env, log, cwd)
        self.worker = worker


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    await server.stop()
    assert not server.rejected, f"the bot sent payloads over Discord's limits: {server.rejected}"


def _bot_env(fake: FakeDiscord, redis_url: str, tiny_models: dict[str, str], folder: Path) -> dict[str, str]:
    return (
        tiny_models
        | LONG_RENDERS
        | PRICED
        | ON_SVD
        | NO_PREVIEWS
        | {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_CDN_BASE": fake.cdn_base,
            "MOTIONBOT_ATTACHMENT_HOSTS": f"http://{fake.host}",  # a test CDN: plain http named
            "REDIS_URL": redis_url,
            "MOTIONBOT_DATABASE_PATH": str(folder / "motionbot.db"),
            "MOTIONBOT_PROGRESS_INTERVAL_S": "0.3",
            "MOTIONBOT_STATUS_WAIT_S": str(STATUS_WAIT_S),
            "MOTIONBOT_WATCH_INTERVAL_S": "0.1",
            "MOTIONBOT_MAX_QUEUED": "20",
            "MOTIONBOT_QUEUE__LEASE_S": "5",
            "PYTHONPATH": str(ROOT),
            "MOTIONBOT_METRICS_PORT": "0",
            "MOTIONBOT_USER_INSTALL": "true",  # the commands offered to users who add the app to their account
        }
    )


@pytest.fixture
def start_bot(
    fake: FakeDiscord, redis_server: RedisServer, tiny_models: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., BotProcess]]:
    """Start extra bot processes (restart tests); all are killed at the end."""
    bots: list[BotProcess] = []

    def start(cwd: Path = ROOT, **env: str) -> BotProcess:
        log = tmp_path / f"bot-{len(bots)}.log"
        bot = BotProcess(_bot_env(fake, redis_server.url, tiny_models, tmp_path) | env, log, cwd)
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        bot.stop()


async def connected(fake: FakeDiscord, bot: BotProcess, identified_before: int = 0) -> None:
    try:
        await fake.wait_until(
            lambda: fake.identified > identified_before and fake.ready.is_set() and fake.commands,
            timeout=60,
            what="the bot to connect",
        )
    except TimeoutError:
        raise AssertionError(bot.output()) from None


@pytest.fixture(scope="module")
async def service(
    fake: FakeDiscord, redis_server: RedisServer, tiny_models: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotProcess]:
    """One bot and one tiny-model worker serving every model, shared by a test module."""
    async for bot in serve(fake, redis_server, tiny_models, tmp_path_factory.mktemp("service")):
        yield bot


async def serve(
    fake: FakeDiscord, redis_server: RedisServer, tiny_models: dict[str, str], folder: Path, **changes: str
) -> AsyncIterator[BotProcess]:
    """A bot and a worker on an emptied Redis until the caller is done; `changes` overrides their settings."""
    queue = await JobQueue.connect(QueueSettings(REDIS_URL=redis_server.url))
    await queue.redis.flushdb()
    env = _bot_env(fake, redis_server.url, tiny_models, folder) | changes
    worker = WorkerProcess(redis_server.url, ["--id", "gpu-0"], env, folder / "worker.log")
    bot = BotProcess(env, folder / "bot.log", worker=worker)
    try:
        await wait_for_workers(queue, {"gpu-0"})
        await connected(fake, bot)
        yield bot
    finally:
        bot.stop()
        worker.stop()
        await queue.close()


def service_with(folder: str, **changes: str) -> Callable[..., AsyncIterator[BotProcess]]:
    """A test module's own `service`-like fixture: a bot and a worker with `changes` to their settings."""

    @pytest.fixture(scope="module")
    async def service(
        fake: FakeDiscord,
        redis_server: RedisServer,
        tiny_models: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory,
    ) -> AsyncIterator[BotProcess]:
        async for bot in serve(fake, redis_server, tiny_models, tmp_path_factory.mktemp(folder), **changes):
            yield bot

    return service
