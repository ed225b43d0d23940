"""Where the job queue lives in Redis (torch-free): key names, the wire format and connection settings.

Everything is msgpack, never pickle: a Redis that somebody else can write to must not become code
execution in the bot or in a worker. The bot's side of the queue is `generation.queue`, the worker's
`generation.worker`.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
from arq.connections import RedisSettings
from pydantic import Field, PositiveFloat
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from generation.envconfig import mask_url
from generation.fairqueue import Place

__all__ = ["RENDER_FUNCTION", "QueueSettings", "deserialize", "keys", "place_of", "redis_settings", "serialize"]

RENDER_FUNCTION = "render"  # the arq function name of a render job


class keys:
    QUEUE = "motionbot:queue"  # arq's sorted set of job ids
    META = "motionbot:meta"  # hash: job id -> msgpack [model, user, server]: where it waits (fairqueue)
    PROGRESS_CHANNEL = "motionbot:progress"  # pub/sub: job ids whose progress changed
    WORKERS = "motionbot:worker:"  # + worker id: msgpack WorkerInfo, expires without heartbeats
    WORKER_IDS = "motionbot:workers"  # sorted set: worker id -> its last heartbeat (ms); where to look for them
    IN_PROGRESS = "arq:in-progress:"  # arq's lock on a running job: the worker's lease

    @staticmethod
    def progress(job_id: str) -> str:
        return f"motionbot:progress:{job_id}"

    @staticmethod
    def outline(job_id: str) -> str:
        return f"motionbot:outline:{job_id}"

    @staticmethod
    def preview(job_id: str) -> str:
        return f"motionbot:preview:{job_id}"

    @staticmethod
    def outcome(job_id: str) -> str:
        return f"motionbot:outcome:{job_id}"

    @staticmethod
    def cancel(job_id: str) -> str:
        return f"motionbot:cancel:{job_id}"

    @staticmethod
    def durations(model: str) -> str:
        return f"motionbot:durations:{model}"

    @staticmethod
    def wake(model: str) -> str:
        """A list an idle worker for `model` blocks on; a submit pushes to it, so pick-up needs no poll."""
        return f"motionbot:wake:{model}"


def _fallback(obj: object) -> object:
    # arq stores failures as exceptions; keep them as text rather than refusing to store them.
    if isinstance(obj, BaseException):
        return f"{type(obj).__name__}: {obj}"
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def serialize(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True, default=_fallback)


def deserialize(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def place_of(raw: bytes | None) -> Place | None:
    """A job's routing record, or None when it is missing or unreadable."""
    try:
        fields = deserialize(raw) if raw is not None else [None, None]
        model, user, server = (*fields, "") if len(fields) == 2 else fields  # [model, user]: motionbot 0.1
    except Exception:  # garbage in Redis: msgpack raises several unrelated types
        return None
    if isinstance(model, str) and isinstance(user, str) and isinstance(server, str):
        return Place(model, server, user)
    return None


_RETRY_WAIT_S = 0.25


class QueueSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOTIONBOT_QUEUE__", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    lease_s: float = 15.0  # a dead worker's job is taken by another within this (+ one poll)
    max_tries: int = 3  # runs of a job (crashes included) before it ends as failed
    result_ttl_s: int = 3600  # how long finished clips wait in Redis to be collected
    shutdown_grace_s: float = 60.0  # on SIGTERM, time to finish the running job before handing it back
    poll_s: float = 0.25  # how often an idle worker looks for work
    max_memory_mb: PositiveFloat = 4096.0  # Redis memory past which new jobs are refused (each carries its files)

    def unreachable(self, exc: BaseException) -> str:
        """What to tell the person starting a bot or worker when Redis cannot be reached."""
        return f"cannot reach Redis at {mask_url(self.redis_url)} ({exc}); start it or set REDIS_URL"


def redis_settings(url: str, retry_s: float = 60.0) -> RedisSettings:
    """arq connection settings that ride out a Redis restart: a command keeps retrying for about `retry_s`
    before the error reaches the caller."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = min(30, max(3, round(retry_s)))  # at start-up, each try itself retries as below
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, ConnectionError, OSError]
    # redis-py nests its retries: each of the n+1 tries of a command reconnects with n tries of its own,
    # so n retries 0.25 s apart add up to about 0.25 * n * (n + 2) seconds.
    retries = math.ceil(math.sqrt(1 + 4 * retry_s) - 1)
    settings.retry = Retry(ConstantBackoff(_RETRY_WAIT_S), retries=retries)
    return settings
