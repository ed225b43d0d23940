"""Redis goes away under a running bot: users get a short answer, nobody is charged, the bot lives on and
works again once Redis is back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from generation.local_redis import RedisServer, free_port
from generation.queue import JobQueue, QueueSettings
from tests.bot.conftest import BotProcess, connected
from tests.bot.test_admin_quota import followup_text
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord
from tests.generation.test_worker_processes import wait_for_workers


async def test_redis_down_gets_a_clear_answer_and_no_charge_then_recovers(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis", free_port()).start()
    queue = await JobQueue.connect(QueueSettings(REDIS_URL=server.url))
    try:
        start_worker("--id", "gpu-down", redis_url=server.url)
        await wait_for_workers(queue, {"gpu-down"})
        bot = start_bot(REDIS_URL=server.url)
        await connected(fake, bot)

        server.stop()
        token = await fake.slash("animate", {}, attachments={"image": fake.upload("a.png", png_bytes())}, user_id=5101)
        text = await refusal(fake, token)
        assert "queue is unavailable" in text and "not charged" in text
        assert await credits_used(bot, 5101) == 0
        asked = await fake.slash("queue", {}, user_id=5101)
        assert "queue is unavailable" in await followup_text(fake, asked)
        assert bot.process.poll() is None, "the bot is still running"

        server.start()  # same port: the bot and the worker reconnect by themselves
        await wait_for_workers(queue, {"gpu-down"})
        token = await fake.slash("animate", {}, attachments={"image": fake.upload("b.png", png_bytes())}, user_id=5101)
        assert (await delivered(fake, token)).files
    finally:
        await queue.close()
        server.stop()
