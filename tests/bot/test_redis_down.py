"""Redis goes away under a running bot: users get a short answer, nobody is charged, the bot lives on and
works again once Redis is back."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from generation.local_redis import RedisServer, free_port
from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from tests.bot.conftest import LONG_RENDERS, NO_PREVIEWS, BotProcess, connected
from tests.bot.test_buttons import button, followup_text
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord, Message
from tests.generation.test_worker_processes import wait_for_workers


@contextlib.asynccontextmanager
async def own_redis(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], tmp_path: Path
) -> AsyncIterator[tuple[RedisServer, JobQueue, BotProcess]]:
    """A worker and a bot on a Redis of their own, which the test may stop, restart or empty."""
    server = RedisServer(tmp_path / "redis", free_port()).start()
    queue = await JobQueue.connect(QueueSettings(REDIS_URL=server.url))
    try:
        start_worker("--id", "gpu-own", redis_url=server.url, env=LONG_RENDERS | NO_PREVIEWS)
        await wait_for_workers(queue, {"gpu-own"})
        bot = start_bot(REDIS_URL=server.url)
        await connected(fake, bot)
        yield server, queue, bot
    finally:
        await queue.close()
        server.stop()


async def rendering(fake: FakeDiscord, user_id: int, steps: int) -> tuple[str, Message]:
    """A slow clip of the user's, once its status message says it is being made (with its Cancel button)."""
    image = fake.upload("slow.png", png_bytes())
    token = await fake.slash(
        "animate", {"prompt": f"slow -steps {steps}"}, attachments={"image": image}, user_id=user_id
    )
    status = await fake.wait_until(
        lambda: (m := fake.response_to(token)) and "Generating" in m.content and m.buttons() and m,
        timeout=30,
        what="the render",
    )
    return token, status


async def test_redis_down_gets_a_clear_answer_and_no_charge_then_recovers(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], tmp_path: Path
) -> None:
    async with own_redis(fake, start_bot, start_worker, tmp_path) as (server, queue, bot):
        _, status = await rendering(fake, 5102, steps=100)

        server.stop()  # for longer than the lease (5 s): Redis comes back without the running job's lock
        pressed = await fake.click(status, button(status, "cancel"), user_id=5102)
        assert "queue is unavailable" in await followup_text(fake, pressed)
        token = await fake.slash("animate", {}, attachments={"image": fake.upload("a.png", png_bytes())}, user_id=5101)
        text = await refusal(fake, token)
        assert "queue is unavailable" in text and "not charged" in text
        assert await credits_used(bot, 5101) == 0
        asked = await fake.slash("queue", {}, user_id=5101)
        assert "queue is unavailable" in await followup_text(fake, asked)
        assert bot.process.poll() is None, "the bot is still running"

        server.start()  # same port: the bot and the worker reconnect by themselves
        await wait_for_workers(queue, {"gpu-own"})
        pressed = await fake.click(status, button(status, "cancel"), user_id=5102)
        assert "Stopping it now" in await followup_text(fake, pressed)  # the worker took its lock back
        await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancelled status")
        token = await fake.slash("animate", {}, attachments={"image": fake.upload("b.png", png_bytes())}, user_id=5101)
        assert (await delivered(fake, token)).files


async def test_redis_restarted_empty_tells_the_waiting_job_it_was_lost_and_refunds_it(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], tmp_path: Path
) -> None:
    async with own_redis(fake, start_bot, start_worker, tmp_path) as (server, _, bot):
        slow, running = await rendering(fake, 5201, steps=40)
        waits = await fake.slash("animate", {}, attachments={"image": fake.upload("w.png", png_bytes())}, user_id=5202)
        waiting = await fake.wait_until(
            lambda: (m := fake.response_to(waits)) and "in line" in m.content and m, timeout=30, what="its place"
        )

        server.stop()  # and comes back with nothing: its data was lost (no persistence, a new host, FLUSHALL)
        shutil.rmtree(server.folder)
        server.start()
        await fake.wait_until(lambda: "lost" in waiting.content, timeout=60, what="the waiting job's failure")
        assert "refunded" in waiting.content and await credits_used(bot, 5202) == 0
        assert [b["custom_id"].split(":")[1] for b in waiting.buttons()] == ["retry", "remix"], (
            "nothing to upload again"
        )
        assert "lost" not in running.content, "the running job is still being made"
        assert (await delivered(fake, slow)).files, "and delivered"
        assert await credits_used(bot, 5201) > 0


async def test_a_full_queue_refuses_new_jobs_uncharged_and_keeps_the_bot_running(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis", free_port()).start()
    queue = await JobQueue.connect(QueueSettings(REDIS_URL=server.url))
    try:
        start_worker("--dry-run", "0.1", "--id", "gpu-full", "--models", "svd-xt", redis_url=server.url)
        await wait_for_workers(queue, {"gpu-full"})
        bot = start_bot(REDIS_URL=server.url, MOTIONBOT_QUEUE__MAX_MEMORY_MB="0.5")  # below an empty Redis
        await connected(fake, bot)
        token = await fake.slash("animate", {}, attachments={"image": fake.upload("f.png", png_bytes())}, user_id=5301)
        text = await refusal(fake, token)
        assert "queue is full" in text and "not charged" in text
        assert await credits_used(bot, 5301) == 0 and await queue.depth() == 0
        assert bot.process.poll() is None, "the bot is still running"
    finally:
        await queue.close()
        server.stop()
