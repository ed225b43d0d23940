"""The job queue seen from the bot (torch-free): submit, watch, cancel and collect video jobs (what it answers
with: `generation.queue_types`).

Jobs live in one arq queue in Redis. Beside arq's own keys motionbot keeps, per job: routing metadata
(model, user), live progress, a cancel flag and the final outcome; and per worker a heartbeat record.
The key names, the msgpack format and the connection settings are `generation.queue_redis`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, Literal

from arq.connections import ArqRedis, create_pool
from arq.utils import timestamp_ms
from redis.asyncio import Redis
from redis.exceptions import WatchError

from generation.blocklist import Verdict
from generation.fairqueue import FairQueue, Place
from generation.jobs import Stage, VideoJob, VideoResult
from generation.queue_redis import (
    RENDER_FUNCTION,
    QueueSettings,
    deserialize,
    keys,
    place_of,
    redis_settings,
    serialize,
)
from generation.queue_types import (
    CancelResult,
    Glance,
    JobOutcome,
    NoWorkerForModel,
    Progress,
    QueueFull,
    QueueState,
    QueueStatus,
    WorkerInfo,
)
from generation.text import Text, _

__all__ = ["JobQueue", "live_workers"]

log = logging.getLogger(__name__)


async def live_workers(redis: Redis) -> list[WorkerInfo]:
    """The workers whose heartbeat record has not expired, by id: two round trips however deep the queue
    (the ids come from their roll call, not from scanning every key)."""
    ids = [raw.decode() for raw in await redis.zrange(keys.WORKER_IDS, 0, -1)]
    found = []
    for raw in await redis.mget([keys.WORKERS + worker for worker in ids]) if ids else []:
        if raw is not None:
            try:
                found.append(WorkerInfo.from_dict(deserialize(raw)))
            except (TypeError, KeyError, ValueError):
                continue  # a record written by another version: ignore it
    return sorted(found, key=lambda w: w.id)


class JobQueue:
    """The bot's handle on the queue. Every method is safe to call repeatedly and concurrently."""

    def __init__(self, redis: ArqRedis, settings: QueueSettings):
        self.redis = redis
        self.settings = settings
        self.fair = FairQueue(redis)

    @classmethod
    async def connect(cls, settings: QueueSettings, *, retry_s: float = 60.0) -> JobQueue:
        """Connect; while Redis is unreachable each command keeps retrying for about `retry_s`."""
        pool = await create_pool(
            redis_settings(settings.redis_url, retry_s),
            job_serializer=serialize,
            job_deserializer=deserialize,
            default_queue_name=keys.QUEUE,
        )
        return cls(pool, settings)

    async def close(self) -> None:
        await self.redis.aclose()

    async def submit(self, job: VideoJob, *, require_worker: bool = True) -> bool:
        """Queue a job; False if a job with this id was already submitted (it runs once)."""
        if await self.redis.exists(keys.outcome(job.job_id)):
            return False
        if require_worker and not any(job.model in w.models for w in await self.workers()):
            raise NoWorkerForModel(_("no GPU worker serving `{model}` is online right now", model=job.model))
        await self._check_room(job)
        # Routing metadata first, then arq's job, then its place in line: a worker that takes it finds both.
        place = Place(job.model, job.guild_id, job.user_id)
        await self.redis.hset(keys.META, job.job_id, serialize([place.model, place.user, place.server]))
        queued = await self.redis.enqueue_job(
            RENDER_FUNCTION, job.to_dict(), _job_id=job.job_id, _expires=self.settings.result_ttl_s + 86400
        )
        if queued is not None:
            await self.fair.add(job.job_id, place, timestamp_ms())
            async with self.redis.pipeline(transaction=False) as pipe:  # wake an idle worker for the model
                pipe.lpush(keys.wake(job.model), 1)
                pipe.ltrim(keys.wake(job.model), 0, 7)  # a few tokens at most: each only ends one wait early
                pipe.expire(keys.wake(job.model), 60)
                await pipe.execute()
            await self.publish_progress(job.job_id, Progress(Stage.QUEUED, 0, 0, time.time()))
        return queued is not None

    async def _check_room(self, job: VideoJob) -> None:
        """Refuse a job whose files would take Redis past its bound: every queued job carries its pictures or
        video (up to the bot's download limit each), so a deep queue of large files could fill the host."""
        used = int((await self.redis.info("memory"))["used_memory"])
        files = (job.image, job.end_image, *job.middle_images, *job.ingredients, job.mask, job.video)
        size = sum(len(data) for data in files if data)
        bound = self.settings.max_memory_mb * 2**20
        if used + size > bound:
            log.warning("queue full: Redis uses %.0f MB, job %s brings %.1f MB", used / 2**20, job.job_id, size / 2**20)
            raise QueueFull(_("the video queue is full right now; try again in a few minutes"))

    async def publish_progress(self, job_id: str, progress: Progress) -> None:
        """Store a job's latest progress and tell subscribers it changed."""
        record: list[Any] = [progress.stage.value, progress.step, progress.total, progress.updated_at, progress.worker]
        record += [progress.note.to_dict() if progress.note else None, progress.previews]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.progress(job_id), serialize(record), ex=self.settings.result_ttl_s)
            pipe.publish(keys.PROGRESS_CHANNEL, job_id)
            await pipe.execute()

    async def progress(self, job_id: str) -> Progress | None:
        raw = await self.redis.get(keys.progress(job_id))
        if raw is None:
            return None
        try:
            stage, step, total, updated_at, worker, *extra = deserialize(raw)
            note, previews = [*extra, None, 0][:2]  # older workers wrote no count (or no note)
            return Progress(
                Stage(stage),
                int(step),
                int(total),
                float(updated_at),
                str(worker),
                Text.from_dict(note) if isinstance(note, dict) else None,
                int(previews or 0),
            )
        except Exception:  # an unreadable record only loses the progress bar
            log.warning("job %s: unreadable progress record in Redis", job_id)
            return None

    async def publish_preview(self, job_id: str, gif: bytes) -> None:
        """Keep a job's newest live preview for the bot (before the progress that counts it)."""
        await self.redis.set(keys.preview(job_id), gif, ex=self.settings.result_ttl_s)

    async def preview(self, job_id: str) -> bytes | None:
        raw = await self.redis.get(keys.preview(job_id))
        return bytes(raw) if raw is not None else None

    async def publish_outline(self, job_id: str, png: bytes) -> None:
        """Keep the picture of a job's motion-brush region for the bot to show (before the note that says so)."""
        await self.redis.set(keys.outline(job_id), png, ex=self.settings.result_ttl_s)

    async def outline(self, job_id: str) -> bytes | None:
        raw = await self.redis.get(keys.outline(job_id))
        return bytes(raw) if raw is not None else None

    async def glance(self, job_ids: Sequence[str]) -> Glance:
        """Which of the jobs have their final outcome, and which the queue no longer knows at all, in one
        round trip however many they are (the watcher asks this for every job it follows, every second)."""
        if not job_ids:
            return Glance(set(), set())
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(keys.outcome(job_id))
            pipe.zmscore(keys.QUEUE, list(job_ids))
            *found, queued = await pipe.execute()
        ended = {job_id for job_id, count in zip(job_ids, found, strict=True) if count}
        gone = {job_id for job_id, score in zip(job_ids, queued, strict=True) if score is None} - ended
        return Glance(ended, gone)

    async def outcome(self, job_id: str) -> JobOutcome | None:
        """The final outcome (with the clip when done), or None while the job is unfinished."""
        raw = await self.redis.get(keys.outcome(job_id))
        if raw is None:
            return None
        try:
            data = deserialize(raw)
            status = QueueStatus(data["status"])
            if status not in (QueueStatus.DONE, QueueStatus.FAILED, QueueStatus.CANCELLED):
                raise ValueError(f"{status} is not an outcome")
            result = VideoResult.from_dict(data["result"]) if data.get("result") else None
            if status is QueueStatus.DONE and result is None:
                raise ValueError("done without a clip")
        except Exception as exc:  # a bad record settles its own job (refunded), and only that one
            log.warning("job %s: unreadable outcome in Redis: %r", job_id, exc)
            unread = _("its result could not be read; you were not charged")
            return JobOutcome(QueueStatus.FAILED, str(unread), said=unread)
        return JobOutcome(
            status,
            str(data.get("reason", "")),
            result,
            data.get("tries", 1),
            str(data.get("worker", "")),
            data.get("finished_at", 0.0),
            str(data.get("flagged", "")),
            Text.from_dict(data["said"]) if isinstance(data.get("said"), dict) else None,
            Verdict.from_dict(data["refused"]) if isinstance(data.get("refused"), dict) else None,
        )

    async def state(self, job_id: str) -> QueueState:
        """Where a job is: queued (with position and ETA), running (with progress) or finished."""
        outcome = await self.outcome(job_id)
        if outcome is not None:
            return QueueState(outcome.status)
        meta_raw = await self.redis.hget(keys.META, job_id)
        in_queue = await self.redis.zscore(keys.QUEUE, job_id) is not None
        if meta_raw is None or not in_queue:
            # Redis lost its records (restarted empty, flushed) while a worker renders the job: it goes on and
            # its outcome is stored as usual, so the job is running, not lost.
            if any(worker.current_job == job_id for worker in await self.workers()):
                return QueueState(QueueStatus.RUNNING, progress=await self.progress(job_id), served=True)
            return QueueState(QueueStatus.UNKNOWN)
        meta = place_of(meta_raw)
        if meta is None:  # its routing record is garbage: no worker can route it; fail it (refunded)
            log.warning("job %s: unreadable routing record in Redis", job_id)
            await self.give_up(job_id, "its queue record could not be read; you were not charged")
            return QueueState(QueueStatus.FAILED)
        model = meta.model
        progress = await self.progress(job_id)
        if await self.redis.exists(keys.IN_PROGRESS + job_id):
            return QueueState(QueueStatus.RUNNING, progress=progress, served=True)
        position = await self.position(job_id)
        if position is None and await self.fair.taken(job_id):  # a worker took it and is about to lock it
            return QueueState(QueueStatus.RUNNING, progress=progress, served=True)
        workers = [w for w in await self.workers() if model in w.models]  # only queued jobs need them
        average = await self.average_duration(model)
        eta = None
        if position is not None and average is not None:
            eta = average * math.ceil(position / max(1, len(workers)))
        return QueueState(QueueStatus.QUEUED, position=position, eta_s=eta, progress=progress, served=bool(workers))

    async def position(self, job_id: str) -> int | None:
        """1-based place among queued jobs of the same model, in the order the workers take them."""
        place = place_of(await self.redis.hget(keys.META, job_id))
        return await self.fair.position(job_id, place) if place is not None else None

    async def depth(self) -> int:
        """How many jobs the queue holds (waiting or running)."""
        return int(await self.redis.zcard(keys.QUEUE))

    async def average_duration(self, model: str) -> float | None:
        durations = [float(d) for d in await self.redis.lrange(keys.durations(model), 0, 19)]
        return sum(durations) / len(durations) if durations else None

    async def cancel(self, job_id: str) -> CancelResult:
        """Cancel a job: removed if still queued; if running, it stops within one denoising step."""
        if await self.redis.exists(keys.outcome(job_id)):
            return CancelResult.FINISHED
        where = await self._take_back(job_id, stop_running=True)
        if where == "running":
            return CancelResult.STOPPING
        if where == "absent":
            return CancelResult.UNKNOWN
        await self.record_outcome(job_id, QueueStatus.CANCELLED, reason=_("cancelled before it started"))
        return CancelResult.REMOVED

    async def give_up(self, job_id: str, reason: Text | str) -> bool:
        """Fail a job that is still waiting with `reason`; False if it is running or already over."""
        if await self._take_back(job_id, stop_running=False) != "removed":
            return False
        return await self.record_outcome(job_id, QueueStatus.FAILED, reason=reason)

    async def _take_back(self, job_id: str, *, stop_running: bool) -> Literal["removed", "running", "absent"]:
        """Remove a waiting job from the queue ("removed"); a running one is flagged to stop if asked
        ("running"); "absent" if the queue does not hold it."""
        in_progress = keys.IN_PROGRESS + job_id
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(in_progress, keys.QUEUE)
            running = await pipe.exists(in_progress)
            if await pipe.zscore(keys.QUEUE, job_id) is None or (running and not stop_running):
                await pipe.reset()
                return "running" if running else "absent"
            pipe.multi()
            if running:
                pipe.set(keys.cancel(job_id), b"1", ex=self.settings.result_ttl_s)
            else:
                pipe.zrem(keys.QUEUE, job_id)
                pipe.delete(f"arq:job:{job_id}", f"arq:retry:{job_id}")
            try:
                await pipe.execute()
            except WatchError:  # a worker took or finished it meanwhile: look again
                return await self._take_back(job_id, stop_running=stop_running)
        if not running and (place := place_of(await self.redis.hget(keys.META, job_id))) is not None:
            await self.fair.remove(job_id, place)
        return "running" if running else "removed"

    async def record_outcome(
        self,
        job_id: str,
        status: QueueStatus,
        *,
        reason: Text | str = "",
        result: VideoResult | None = None,
        tries: int = 1,
        worker: str = "",
        flagged: str = "",
        refused: Verdict | None = None,
    ) -> bool:
        """Store a job's final outcome once; False if it already had one (a re-run after a crash)."""
        place = place_of(await self.redis.hget(keys.META, job_id))
        record = {
            "status": status.value,
            "reason": str(reason),
            "said": reason.to_dict() if isinstance(reason, Text) else None,
            "result": result.to_dict() if result else None,
            "tries": tries,
            "worker": worker,
            "finished_at": time.time(),
            "flagged": flagged,
            "refused": refused.to_dict() if refused else None,
        }
        stored = await self.redis.set(keys.outcome(job_id), serialize(record), ex=self.settings.result_ttl_s, nx=True)
        if place is not None:
            await self.fair.remove(job_id, place)  # also out of "started"
        else:
            await self.fair.settled(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.META, job_id)
            pipe.delete(keys.cancel(job_id))
            pipe.publish(keys.PROGRESS_CHANNEL, job_id)
            await pipe.execute()
        return bool(stored)

    async def workers(self) -> list[WorkerInfo]:
        """Workers that sent a heartbeat within their lease."""
        return await live_workers(self.redis)

    async def wait(self, job_id: str, timeout: float, poll_s: float = 0.2) -> JobOutcome:
        """Wait for a job's outcome (tests, CLI); raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            outcome = await self.outcome(job_id)
            if outcome is not None:
                return outcome
            await asyncio.sleep(poll_s)
        raise TimeoutError(f"job {job_id} has no outcome after {timeout} s")
