"""The GPU worker: an arq worker that renders one job at a time.

- Routing and fairness: each poll takes the next job of `fairqueue` (servers first, then users) among
  the models this worker serves, in O(log n) of the queue (`fairworker`).
- Lease: arq locks a running job with its in-progress key, for `lease_s` (`FairWorker`), and the job
  renews it twice a second, so when a worker dies (SIGKILL, OOM kill, lost host) the job goes back to
  the front of its line within `lease_s` plus a second, instead of after arq's job timeout.
- Exactly-once outcome: the outcome is written with SET NX; a re-run after a crash finds it and stops.
- Cancel: the client sets a flag; the renewal loop sees it and the pipeline stops at the next step.
- SIGTERM: no new jobs; the running one gets `shutdown_grace_s` to finish, then is handed back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from arq import Retry
from arq.worker import func
from redis.exceptions import RedisError

from generation.engines import RenderEngine
from generation.fairworker import FairWorker
from generation.jobs import JobSchemaError, Stage, VideoJob
from generation.metrics import WorkerMetrics
from generation.progress import ContentFlagged, FinalError, JobCancelled, PromptRefused
from generation.queue import JobQueue, live_workers
from generation.queue_redis import (
    RENDER_FUNCTION,
    QueueSettings,
    deserialize,
    keys,
    redis_settings,
    serialize,
)
from generation.queue_types import Progress, QueueStatus, WorkerInfo
from generation.text import Text, _

__all__ = ["WorkerState", "build_worker", "is_alive"]

log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    id: str
    engine: RenderEngine
    models: tuple[str, ...]
    settings: QueueSettings
    gpu: str = "cpu"
    gpu_memory_gb: float = 0.0
    memory_mode: str = "balanced"
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "render"))  # the GPU
    encoder: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "encode"))  # the CPU part
    current_job: str | None = None  # the job on the GPU
    gpu_idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while no job is on the GPU
    queue: JobQueue | None = None
    heartbeat: asyncio.Task[None] | None = None
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)  # served on a port only if the CLI asks

    def __post_init__(self) -> None:
        self.gpu_idle.set()

    def info(self) -> WorkerInfo:
        host, pid = socket.gethostname(), os.getpid()
        return WorkerInfo(
            self.id,
            host,
            self.gpu,
            self.gpu_memory_gb,
            self.models,
            self.current_job,
            time.time(),
            pid,
            self.memory_mode,
        )


def _is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ in ("OutOfMemoryError", "OutOfGPUMemory")


async def render(ctx: dict[str, Any], payload: object) -> str:
    """The arq job: render one VideoJob and record its outcome. The worker gave it the GPU when it started it
    (`fairworker.FairWorker._step`); it hands the GPU on when its GPU part ends, and at the latest when it ends."""
    try:
        return await _run(ctx, payload)
    finally:
        _leave_gpu(ctx["state"], ctx["job_id"])


async def _run(ctx: dict[str, Any], payload: object) -> str:
    state: WorkerState = ctx["state"]
    queue = state.queue
    assert queue is not None
    job_id, tries = ctx["job_id"], ctx["job_try"]
    finish = functools.partial(queue.record_outcome, job_id, tries=tries, worker=state.id)
    metrics = state.metrics
    if await queue.redis.exists(keys.outcome(job_id)):
        return "already finished"  # a re-run after a crash that happened after the outcome was stored
    if tries > state.settings.max_tries:
        crashes = tries - 1
        reason = _("the render stopped its worker {crashes} times (a crash or out of memory)", crashes=crashes)
        await finish(QueueStatus.FAILED, reason=reason)
        metrics.failures.labels("?", "crashed").inc()
        return "failed"
    try:
        job = VideoJob.from_dict(payload)
    except JobSchemaError as exc:
        log.warning("job %s: malformed payload: %s", job_id, exc, extra={"job_id": job_id})
        await finish(QueueStatus.FAILED, reason=_("the job could not be read ({error})", error=str(exc)))
        metrics.failures.labels("?", "malformed").inc()
        return "failed"

    cancel = threading.Event()
    latest: list[Progress] = []  # written by the render thread, published by the lease loop
    outlined: list[tuple[Text, bytes]] = []  # the motion brush's region: (status line, picture), the same
    previews: list[bytes] = []  # the newest live preview (a GIF), the same

    def on_progress(stage: Stage, step: int, total: int) -> None:
        note = outlined[0][0] if outlined else None
        latest[:] = [Progress(stage, step, total, time.time(), state.id, note)]

    def on_outline(note: Text, png: bytes) -> None:
        outlined[:] = [(note, png)]

    def on_preview(gif: bytes) -> None:
        previews[:] = [gif]

    lease = asyncio.create_task(_keep_lease(queue, job_id, cancel, latest, outlined, previews))
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    metrics.busy.set(1)
    log.info(
        "job %s: %s for user %s, try %d",
        job_id,
        job.model,
        job.user_id,
        tries,
        extra={"job_id": job_id, "model": job.model},
    )
    engine = state.engine
    future: asyncio.Future[Any] = loop.run_in_executor(
        state.executor, engine.generate, job, on_progress, cancel, on_outline, on_preview
    )
    try:
        try:
            rendered = await future
        finally:  # off the GPU: the worker may take its next job while this one encodes
            _leave_gpu(state, job_id)
        future = loop.run_in_executor(state.encoder, engine.finish, rendered, on_progress, cancel)
        result = await future
    except asyncio.CancelledError:  # shutdown: stop the thread at the next step, then hand the job back
        cancel.set()
        with contextlib.suppress(BaseException):
            await asyncio.shield(future)
        raise
    except JobCancelled:
        await finish(QueueStatus.CANCELLED, reason=_("cancelled while rendering"))
        metrics.jobs.labels(job.model, "cancelled").inc()
        return "cancelled"
    except Exception as exc:
        kind = "out_of_memory" if _is_out_of_memory(exc) else "rejected" if isinstance(exc, FinalError) else "error"
        metrics.failures.labels(job.model, kind).inc()
        if not isinstance(exc, FinalError) and tries < state.settings.max_tries:
            log.warning("job %s try %d failed, will run again: %r", job_id, tries, exc, extra={"job_id": job_id})
            raise Retry(defer=1) from exc
        flagged = exc.check if isinstance(exc, ContentFlagged) else ""
        if flagged:
            metrics.safety.labels(flagged, "refused").inc()
        if isinstance(exc, FinalError):  # rejected, or out of GPU memory (OutOfGPUMemory): not retried
            reason = exc.text
        elif _is_out_of_memory(exc):
            reason = _("out of GPU memory — try a smaller size or fewer frames")
        else:
            log.exception("job %s failed on try %d", job_id, tries, extra={"job_id": job_id})
            reason = _(
                "the render failed {tries} times ({error}); try again later", tries=tries, error=type(exc).__name__
            )
        refused = exc.verdict if isinstance(exc, PromptRefused) else None
        await finish(QueueStatus.FAILED, reason=reason, flagged=flagged, refused=refused)
        metrics.jobs.labels(job.model, "failed").inc()
        return "failed"
    finally:
        lease.cancel()
    await finish(QueueStatus.DONE, result=result)
    metrics.jobs.labels(job.model, "done").inc()
    for check, margin in result.checks.items():
        metrics.safety.labels(check, "spoiler" if margin > 0 else "pass").inc()
    for stage, seconds in result.timings.items():
        metrics.seconds.labels(job.model, stage).observe(seconds)
    log.info("job %s: done in %.1f s", job_id, time.monotonic() - started, extra={"job_id": job_id})
    async with queue.redis.pipeline(transaction=False) as pipe:
        pipe.lpush(keys.durations(job.model), round(time.monotonic() - started, 3))
        pipe.ltrim(keys.durations(job.model), 0, 19)
        await pipe.execute()
    return "done"


def _leave_gpu(state: WorkerState, job_id: str) -> None:
    """The job is off the GPU (its GPU part ended, or it ended early): the next job may start there."""
    if state.current_job == job_id:
        state.current_job = None
        state.gpu_idle.set()
        state.metrics.busy.set(0)
        state.metrics.observe_gpu()


async def _keep_lease(
    queue: JobQueue,
    job_id: str,
    cancel: threading.Event,
    latest: list[Progress],
    outlined: list[tuple[Text, bytes]],
    previews: list[bytes],
) -> None:
    """Twice a second: renew the job's lease, pass on a cancel, publish the region's picture once (before the
    progress that notes it), the newest live preview (before the progress that counts it) and the newest
    progress."""
    lease_ms = int(queue.settings.lease_s * 1000)
    published: tuple[Progress, int] | None = None  # the progress last published, and its preview count
    outline_shown = False
    shown = 0  # previews published so far: the progress counts only those already in Redis
    while True:
        try:
            async with queue.redis.pipeline(transaction=False) as pipe:
                # SET, not PEXPIRE: after an outage longer than the lease the key is gone and must come back.
                pipe.psetex(keys.IN_PROGRESS + job_id, lease_ms, b"1")
                pipe.exists(keys.cancel(job_id))
                _, cancelled = await pipe.execute()
            if cancelled:
                cancel.set()
            if outlined and not outline_shown:
                await queue.publish_outline(job_id, outlined[0][1])
                outline_shown = True
            if previews:
                await queue.publish_preview(job_id, previews.pop())
                shown += 1
            if latest and (published is None or latest[0] is not published[0] or shown != published[1]):
                published = (latest[0], shown)
                await queue.publish_progress(job_id, dataclasses.replace(latest[0], previews=shown))
        except (RedisError, OSError) as exc:  # Redis away for long: keep rendering, renew when it is back
            log.warning("job %s: cannot renew its lease: %s", job_id, exc, extra={"job_id": job_id})
        await asyncio.sleep(min(0.5, queue.settings.lease_s / 5))


async def _heartbeat(state: WorkerState) -> None:
    """Every fifth of a lease: this worker's record, which expires a lease after the last beat, and its place
    in the roll call (where nobody heard from for an hour is crossed off)."""
    assert state.queue is not None
    while True:
        try:
            now_ms = int(time.time() * 1000)
            async with state.queue.redis.pipeline(transaction=False) as pipe:
                record = serialize(state.info().to_dict())
                pipe.set(keys.WORKERS + state.id, record, px=int(state.settings.lease_s * 1000))
                pipe.zadd(keys.WORKER_IDS, {state.id: now_ms})
                pipe.zremrangebyscore(keys.WORKER_IDS, "-inf", now_ms - 3600_000)
                await pipe.execute()
        except (RedisError, OSError) as exc:  # never let the heartbeat die: the worker would look gone
            log.warning("worker %s: heartbeat failed: %s", state.id, exc)
        await asyncio.sleep(state.settings.lease_s / 5)


async def _startup(ctx: dict[str, Any]) -> None:
    state: WorkerState = ctx["state"]
    state.queue = JobQueue(ctx["redis"], state.settings)
    state.heartbeat = asyncio.create_task(_heartbeat(state))
    log.info("worker %s serving %s on %s", state.id, ", ".join(state.models), state.gpu)


async def _shutdown(ctx: dict[str, Any]) -> None:
    state: WorkerState = ctx["state"]
    if state.heartbeat is not None:
        state.heartbeat.cancel()
    if state.queue is not None:
        with contextlib.suppress(Exception):
            async with state.queue.redis.pipeline(transaction=False) as pipe:
                pipe.delete(keys.WORKERS + state.id)
                pipe.zrem(keys.WORKER_IDS, state.id)
                await pipe.execute()
    state.executor.shutdown(wait=False, cancel_futures=True)
    state.encoder.shutdown(wait=False, cancel_futures=True)


def build_worker(state: WorkerState, handle_signals: bool = True) -> FairWorker:
    """An arq worker for one GPU: one job at a time, msgpack payloads, our lease and shutdown rules."""
    settings = state.settings
    return FairWorker(
        state,
        functions=[func(render, name=RENDER_FUNCTION, max_tries=settings.max_tries + 1)],
        queue_name=keys.QUEUE,
        redis_settings=redis_settings(settings.redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        max_jobs=2,  # one on the GPU, one encoding: `_step` takes a job only while the GPU is free
        job_timeout=24 * 3600,  # a job's life is bounded by its lease, not by this
        keep_result=60,
        poll_delay=settings.poll_s,
        on_startup=_startup,
        on_shutdown=_shutdown,
        ctx={"state": state},
        job_completion_wait=int(settings.shutdown_grace_s),
        health_check_key=keys.WORKERS + state.id + ":arq-health",
        handle_signals=handle_signals,
    )


async def is_alive(redis_url: str, worker_id: str | None = None, max_age_s: float = 30.0) -> bool:
    """True when a worker (this one by id, or any on this host) sent a heartbeat within `max_age_s`."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        for info in await live_workers(redis):
            mine = info.id == worker_id if worker_id else info.host == socket.gethostname()
            if mine and time.time() - info.heartbeat_at < max_age_s:
                return True
        return False
    except (RedisError, OSError):  # Redis unreachable: not alive, and no traceback in the healthcheck
        return False
    finally:
        await redis.aclose()
