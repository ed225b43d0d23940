"""Shared fixtures: tiny random-weight models saved like hub folders, a private Redis, worker processes."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from tests.support import RedisServer, WorkerProcess

# Nothing in the tests may reach the Hugging Face hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment settings pointing every registry model at tiny random weights on disk."""
    from generation.random_models import write_models

    return write_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def tiny_env(tiny_models: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in tiny_models.items():
        monkeypatch.setenv(key, value)
    yield tiny_models


def png_bytes(width: int = 96, height: int = 64, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A small picture with a gradient, so crops and camera moves are visible in the pixels."""
    img = Image.new("RGB", (width, height), color)
    for x in range(width):
        for y in range(0, height, 4):
            img.putpixel((x, y), (x * 255 // width, y * 255 // height, 128))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the session (tests that restart Redis start their own)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
async def queue(redis_server: RedisServer) -> AsyncIterator[JobQueue]:
    """A client on an emptied database, with short leases so recovery tests run quickly."""
    client = await JobQueue.connect(QueueSettings(REDIS_URL=redis_server.url, lease_s=5, poll_s=0.1))
    await client.redis.flushdb()
    yield client
    await client.close()


@pytest.fixture
def start_worker(
    redis_server: RedisServer, tiny_models: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `python -m generation worker` processes on tiny models; all are killed at the end."""
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, redis_url: str | None = None) -> WorkerProcess:
        queue_env = {"MOTIONBOT_QUEUE__LEASE_S": "5", "MOTIONBOT_QUEUE__POLL_S": "0.1"}
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(redis_url or redis_server.url, list(args), tiny_models | queue_env | (env or {}), log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
