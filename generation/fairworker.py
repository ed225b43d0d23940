"""arq's worker with motionbot's job choice, waits and shutdown (the worker process is `generation.worker`).

- Choice: each poll takes the next job of `fairqueue` (servers first, then users) among the models this
  worker serves, in O(log n) of the queue; before that, jobs whose worker died go back to the front.
- Waits: a busy worker waits for its job to leave the GPU, an idle one for a submit's wake-up call, so
  pick-up needs no poll interval.
- arq offers no hook for either, hence the overrides (and the pin on arq).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any

from arq.constants import job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import RedisError

from generation.fairqueue import PREFIX, FairQueue
from generation.queue_redis import keys, place_of
from generation.queue_types import QueueStatus
from generation.text import _

if TYPE_CHECKING:
    from generation.worker import WorkerState

__all__ = ["FairWorker"]

log = logging.getLogger(__name__)


class FairWorker(Worker):
    """arq's worker with our job choice: only served models, fair across servers then users (fairqueue)."""

    def __init__(self, state: WorkerState, **kwargs: Any):
        super().__init__(**kwargs)
        self.state = state
        # arq locks a job it starts for its whole timeout (a day); the job then shortens the lock to the lease
        # and renews it. A worker killed between the two would hold the job for that day: lock it for the lease.
        self.in_progress_timeout_s = state.settings.lease_s
        self._swept_at = 0

    async def _pick(self) -> list[bytes]:
        """The next job this worker may run: the fair order's head among the models it serves, the one
        queued longest ago. Before that, jobs whose worker died go back to the front of their line."""
        assert self.state.queue is not None
        fair = self.state.queue.fair
        now = timestamp_ms()
        if now - self._swept_at > 1000:
            self._swept_at = now
            orphan = await self._recover(fair, now)
            if orphan is not None:
                return [orphan.encode()]
        heads = {model: await fair.head_age(model) for model in self.state.models}
        waiting = {model: age for model, age in heads.items() if age is not None}
        if not waiting:
            return []
        job = await fair.take(min(waiting, key=waiting.__getitem__), now)
        return [job.encode()] if job else []

    async def _recover(self, fair: FairQueue, now: int) -> str | None:
        """Put back what no worker holds any more: a job taken whose worker died (or that arq deferred to
        retry), and a job in arq's queue without a place in line. One with an unreadable record is
        returned, to run and fail loudly. One pipelined look at every candidate."""
        taken = await fair.started()
        oldest = [raw.decode() for raw in await self.pool.zrangebyscore(self.queue_name, "-inf", now, 0, 100)]
        candidates = list(dict.fromkeys(taken + oldest))
        if not candidates:
            return None
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in candidates:
                pipe.exists(keys.IN_PROGRESS + job_id)
                pipe.exists(keys.outcome(job_id))
                pipe.zscore(self.queue_name, job_id)
                pipe.zscore(f"{PREFIX}started", job_id)
                pipe.hget(keys.META, job_id)
            looks = await pipe.execute()
        for index, job_id in enumerate(candidates):
            running, ended, score, taken_at, meta = looks[5 * index : 5 * index + 5]
            if ended and score is not None and not running:  # its worker died between its outcome and arq's
                await self._forget(job_id)  # bookkeeping: it would stay in the queue for ever
            if score is None or ended:
                await fair.settled(job_id)
                continue
            # The grace covers the moment between `take` and arq locking the job (milliseconds).
            if running or score > now or (taken_at is not None and now - taken_at < 1000):
                continue
            place = place_of(meta)
            if place is None:
                return job_id  # arq reads it, fails it, and finish_failed_job records why
            if taken_at is not None:
                await fair.add(job_id, place, now, front=True)
            elif place.model in self.state.models and not await fair.placed(job_id, place):
                await fair.add(job_id, place, now)
        return None

    async def _forget(self, job_id: str) -> None:
        """Take an ended job out of arq's queue, as arq's `finish_job` would have."""
        async with self.pool.pipeline(transaction=True) as pipe:
            pipe.zrem(self.queue_name, job_id)
            pipe.delete(job_key_prefix + job_id, retry_key_prefix + job_id)
            await pipe.execute()

    async def _poll_iteration(self) -> None:
        # arq's loop, with `_pick` choosing the job instead of "the oldest one", and waits that end as soon as
        # there is something to do: a busy worker waits for its job to end, an idle one for a submit's wake-up
        # call. One iteration lasts a poll interval, so arq's own sleep between iterations is zero. arq offers
        # no hook for either wait, hence this override (and the pin on arq).
        loop = asyncio.get_running_loop()
        until = loop.time() + self.poll_delay_s
        while loop.time() < until:
            await self._step(until - loop.time())

    async def _step(self, budget_s: float) -> None:
        """Start a job, or wait (at most `budget_s`) for the running one to end or for a submit."""
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()
        try:
            running = list(self.tasks.values())
            gpu_taken = not self.state.gpu_idle.is_set()
            if running and (self.job_counter >= self.max_jobs or gpu_taken):
                # Busy: until a job ends or leaves the GPU (then the next one can start denoising).
                idle = asyncio.ensure_future(self.state.gpu_idle.wait())
                await asyncio.wait([*running, idle], timeout=budget_s, return_when=asyncio.FIRST_COMPLETED)
                idle.cancel()
            elif self.allow_pick_jobs and self.job_counter < self.max_jobs:
                picked = await self._pick()
                if not picked:  # the GPU is idle: a submit pushes to the wake-up list of its model
                    wake = [keys.wake(model) for model in self.state.models]
                    if await self.pool.blpop(wake, timeout=max(0.01, budget_s)):
                        picked = await self._pick()
                started = self.job_counter
                await self.start_jobs(picked)
                if self.job_counter > started:  # the GPU is the new job's from now on (not only once it runs)
                    self.state.current_job = picked[0].decode()
                    self.state.gpu_idle.clear()
            else:
                await asyncio.sleep(budget_s)
            await self.heart_beat()
        except (RedisError, OSError) as exc:  # Redis away for longer than the retries: wait, never exit
            log.warning("worker %s: Redis unreachable (%s); trying again", self.state.id, exc)
            await asyncio.sleep(1)

    async def close(self) -> None:
        # arq's close, but a job that the shutdown cancelled (its grace over, or cancelled while arq was still
        # finishing it) does not stop the rest: the heartbeat ends and this worker's record goes at once, so
        # the bot never counts a worker that left. A cancelled job is handed back (`_run`) or already recorded.
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        # arq fails a job itself when it cannot read it: record that as the job's outcome too.
        await super().finish_failed_job(job_id, result_data)
        if self.state.queue is not None:
            reason = _("the job could not be read")
            await self.state.queue.record_outcome(job_id, QueueStatus.FAILED, reason=reason, worker=self.state.id)
