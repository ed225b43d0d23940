"""Prometheus metrics scraped from a running bot and worker after a job went through."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from generation.queue import JobQueue
from tests.bot.conftest import BotProcess, connected
from tests.bot.test_buttons import animate
from tests.fake_discord import FakeDiscord
from tests.generation.test_worker_processes import wait_for_workers
from tests.support import free_port


async def scrape(port: int) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        return await response.text()


async def test_bot_and_worker_export_metrics(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], queue: JobQueue
) -> None:
    bot_port, worker_port = free_port(), free_port()
    start_worker("--id", "gpu-m", "--metrics-port", str(worker_port))
    await wait_for_workers(queue, {"gpu-m"})
    before = fake.identified
    bot = start_bot(MOTIONBOT_METRICS_PORT=str(bot_port))
    await connected(fake, bot, before)
    await animate(fake, 5001)

    delivered = 'motionbot_jobs_finished_total{model="svd-xt",state="delivered"} 1.0'
    for _ in range(50):  # the bot counts the delivery right after Discord has the clip
        bot_metrics = await scrape(bot_port)
        if delivered in bot_metrics:
            break
        await asyncio.sleep(0.1)
    assert delivered in bot_metrics
    assert 'motionbot_jobs_submitted_total{model="svd-xt"} 1.0' in bot_metrics
    assert 'motionbot_credits_spent_total{model="svd-xt"} 1.0' in bot_metrics
    assert "motionbot_queue_depth " in bot_metrics and "motionbot_workers_online 1.0" in bot_metrics
    assert 'motionbot_job_seconds_count{model="svd-xt"} 1.0' in bot_metrics

    worker_metrics = await scrape(worker_port)
    assert 'motionbot_worker_jobs_total{model="svd-xt",outcome="done"} 1.0' in worker_metrics
    assert 'motionbot_worker_job_seconds_count{model="svd-xt",stage="generate"} 1.0' in worker_metrics
    assert "motionbot_worker_busy 0.0" in worker_metrics
