"""The queue with real Redis and in-process workers: submit, position, routing, fairness, failures."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import msgpack
import pytest
from arq.constants import job_key_prefix

from generation.blocklist import Verdict
from generation.engine import OutOfGPUMemory
from generation.engines import SleepEngine
from generation.fairworker import FairWorker
from generation.jobs import JobKind, VideoJob, VideoResult
from generation.progress import FinalError, ProgressFn, PromptRefused
from generation.queue import JobQueue
from generation.queue_redis import QueueSettings, keys, serialize
from generation.queue_types import CancelResult, NoWorkerForModel, QueueFull
from generation.text import _ as said
from generation.worker import WorkerState, build_worker


def job(job_id: str, user: str = "u1", model: str = "svd-xt", steps: int = 2) -> VideoJob:
    return VideoJob(job_id=job_id, kind=JobKind.TEXT_TO_VIDEO, model=model, prompt="a fox", user_id=user, steps=steps)


class FailingEngine:
    def __init__(self, error: Exception):
        self.error, self.calls = error, 0

    def generate(
        self,
        job: VideoJob,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_outline: object = None,
        on_preview: object = None,
    ):
        self.calls += 1
        raise self.error

    def finish(self, rendered: object, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None):
        raise AssertionError("nothing to encode")


@asynccontextmanager
async def worker(queue: JobQueue, engine, models: Sequence[str] = ("svd-xt",), worker_id: str = "w1") -> AsyncIterator:
    state = WorkerState(id=worker_id, engine=engine, models=tuple(models), settings=queue.settings)
    arq_worker = build_worker(state, handle_signals=False)
    task = asyncio.create_task(arq_worker.main())
    for _ in range(100):
        if any(w.id == worker_id for w in await queue.workers()):
            break
        await asyncio.sleep(0.05)
    try:
        yield state
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await arq_worker.close()


async def test_submit_then_result_with_progress(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(2)):
        assert await queue.submit(job("a", steps=4))
        seen = set()
        outcome = None
        while outcome is None:
            progress = await queue.progress("a")
            if progress is not None:
                seen.add((progress.stage.value, progress.step))
            outcome = await queue.outcome("a")
            await asyncio.sleep(0.02)
    assert outcome.status == "done" and outcome.worker == "w1" and outcome.tries == 1
    assert isinstance(outcome.result, VideoResult) and outcome.result.video == b"dry-run"
    assert ("queued", 0) in seen and any(stage == "denoising" and step > 0 for stage, step in seen)
    assert (await queue.state("a")).status == "done"


async def test_the_next_job_denoises_while_the_last_one_encodes(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(0.4, encode_s=1.0)) as state:
        await queue.submit(job("first", steps=2))
        await queue.submit(job("second", steps=2))
        overlapped = False
        while await queue.outcome("first") is None:
            progress = await queue.progress("second")
            overlapped |= progress is not None and progress.stage.value == "denoising" and progress.step > 0
            await asyncio.sleep(0.02)
        assert overlapped, "the second job's denoising ran while the first one was encoding"
        assert (await queue.wait("second", 10)).status == "done"
        assert state.current_job is None and state.gpu_idle.is_set()


async def test_a_worker_takes_the_next_job_only_once_the_gpu_is_free(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(0.6, encode_s=0.3)):
        await queue.submit(job("on-gpu", steps=3))
        await queue.submit(job("waiting", steps=3))
        while (progress := await queue.progress("on-gpu")) is None or progress.stage.value != "denoising":
            await asyncio.sleep(0.01)
        assert (await queue.state("waiting")).status == "queued", "not taken while the GPU is busy"
        assert (await queue.wait("waiting", 10)).status == "done"


async def test_the_workers_are_found_without_scanning_however_much_else_redis_holds(queue: JobQueue) -> None:
    await queue.redis.mset({f"filler:{index}": b"x" for index in range(5000)})  # a deep queue's keys, say
    async with worker(queue, SleepEngine(0.1)), worker(queue, SleepEngine(0.1), ("animatediff",), "w2"):
        await queue.redis.config_resetstat()
        found = await queue.workers()
        stats = await queue.redis.info("commandstats")
        assert [(w.id, w.models) for w in found] == [("w1", ("svd-xt",)), ("w2", ("animatediff",))]
        assert "cmdstat_scan" not in stats and stats["cmdstat_mget"]["calls"] == 1, stats
    assert await queue.workers() == [], "a worker that stops leaves the roll call at once"


async def test_duplicate_submit_runs_once(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(0.1)):
        assert await queue.submit(job("dup"))
        assert not await queue.submit(job("dup"))  # while queued or running
        await queue.wait("dup", 10)
        assert not await queue.submit(job("dup"))  # and after it finished
        await asyncio.sleep(0.5)
    assert await queue.redis.llen(keys.durations("svd-xt")) == 1


async def test_submit_without_a_worker_for_the_model_is_refused(queue: JobQueue) -> None:
    with pytest.raises(NoWorkerForModel, match="svd-xt"):
        await queue.submit(job("nobody"))
    async with worker(queue, SleepEngine(0.1), models=["animatediff"]):
        with pytest.raises(NoWorkerForModel):
            await queue.submit(job("still-nobody"))
        assert await queue.submit(job("queued-anyway"), require_worker=False)
        state = await queue.state("queued-anyway")
        assert (state.status, state.served) == ("queued", False)


async def test_a_job_whose_files_would_take_redis_past_its_bound_is_refused_and_stores_nothing(queue: JobQueue) -> None:
    used_mb = int((await queue.redis.info("memory"))["used_memory"]) / 2**20
    bounded = JobQueue(queue.redis, QueueSettings(REDIS_URL="redis://unused", max_memory_mb=used_mb + 1))
    large = dataclasses.replace(job("large"), kind=JobKind.IMAGE_TO_VIDEO, image=bytes(2 * 2**20))
    with pytest.raises(QueueFull, match="queue is full"):
        await bounded.submit(large, require_worker=False)
    assert not await queue.redis.exists(job_key_prefix + "large") and not await queue.redis.hexists(keys.META, "large")
    small = dataclasses.replace(large, job_id="small", image=bytes(64 * 2**10))
    assert await bounded.submit(small, require_worker=False), "a small one still fits"
    assert await queue.submit(large, require_worker=False), "within the default bound the same job queues"


async def test_depth_counts_the_jobs_the_queue_holds(queue: JobQueue) -> None:
    before = await queue.depth()
    for index in range(3):
        await queue.submit(job(f"d{index}"), require_worker=False)
    assert await queue.depth() == before + 3
    await queue.cancel("d1")
    assert await queue.depth() == before + 2


async def test_queue_position_follows_the_round_robin(queue: JobQueue) -> None:
    for job_id, user in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("b2", "b"), ("c1", "c")]:
        await queue.submit(job(job_id, user), require_worker=False)
    positions = {job_id: await queue.position(job_id) for job_id in ("a1", "b1", "c1", "a2", "b2", "a3")}
    assert positions == {"a1": 1, "b1": 2, "c1": 3, "a2": 4, "b2": 5, "a3": 6}


async def test_one_glance_tells_the_ended_jobs_and_those_the_queue_lost(queue: JobQueue) -> None:
    for job_id in ("waits", "ends", "vanishes"):
        await queue.submit(job(job_id), require_worker=False)
    await queue.cancel("ends")
    await queue.redis.zrem(keys.QUEUE, "vanishes")  # as a Redis that lost it would have it
    glance = await queue.glance(["waits", "ends", "vanishes", "never-submitted"])
    assert glance.ended == {"ends"} and glance.gone == {"vanishes", "never-submitted"}
    assert (await queue.state("vanishes")).status == "unknown"


async def test_a_job_whose_records_redis_lost_is_running_while_its_worker_renders_it(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(4)):
        await queue.submit(job("rendering", steps=20))
        for _ in range(100):  # until its heartbeat (every lease/5 = 1 s here) says it renders the job
            if any(w.current_job == "rendering" for w in await queue.workers()):
                break
            await asyncio.sleep(0.05)
        await queue.redis.delete(keys.META, keys.QUEUE)  # Redis restarted empty; the heartbeat comes back
        assert (await queue.state("rendering")).status == "running"
        assert (await queue.wait("rendering", 10)).status == "done", "and its outcome is stored as usual"


async def test_a_job_taken_but_not_yet_locked_is_starting_not_queued_without_a_place(queue: JobQueue) -> None:
    await queue.submit(job("taken"), require_worker=False)
    assert (await queue.state("taken")).position == 1
    assert await queue.fair.take("svd-xt", 0) == "taken"  # the moment between a worker's choice and arq's lock
    assert (await queue.state("taken")).status == "running"


async def test_eta_comes_from_recent_durations(queue: JobQueue) -> None:
    await queue.redis.rpush(keys.durations("svd-xt"), 10, 20)
    async with worker(queue, SleepEngine(5)):
        await queue.submit(job("busy", "x"))
        await asyncio.sleep(0.5)
        await queue.submit(job("next", "y"))
        state = await queue.state("next")
        assert (state.status, state.position, state.eta_s) == ("queued", 1, 15.0)
        assert (await queue.state("busy")).status == "running"


async def test_fairness_one_user_cannot_starve_another(queue: JobQueue) -> None:
    for index in range(5):
        await queue.submit(job(f"heavy{index}", "heavy"), require_worker=False)
    await queue.submit(job("light0", "light"), require_worker=False)
    await queue.submit(job("light1", "light"), require_worker=False)
    async with worker(queue, SleepEngine(0.05)):
        outcomes = {i: await queue.wait(i, 30) for i in [f"heavy{n}" for n in range(5)] + ["light0", "light1"]}
    order = sorted(outcomes, key=lambda i: outcomes[i].finished_at)
    assert order[:4] == ["heavy0", "light0", "heavy1", "light1"]


async def test_routing_sends_each_job_to_a_worker_serving_its_model(queue: JobQueue) -> None:
    async with (
        worker(queue, SleepEngine(0.1), models=["svd-xt"], worker_id="svd-box"),
        worker(queue, SleepEngine(0.1), models=["animatediff"], worker_id="ad-box"),
    ):
        for index in range(3):
            await queue.submit(job(f"s{index}", model="svd-xt"))
            await queue.submit(job(f"d{index}", model="animatediff"))
        for index in range(3):
            assert (await queue.wait(f"s{index}", 20)).worker == "svd-box"
            assert (await queue.wait(f"d{index}", 20)).worker == "ad-box"


async def test_cancel_while_queued_removes_the_job(queue: JobQueue) -> None:
    await queue.submit(job("later"), require_worker=False)
    assert await queue.cancel("later") == CancelResult.REMOVED
    assert (await queue.outcome("later")).status == "cancelled"
    assert await queue.cancel("later") == CancelResult.FINISHED
    assert await queue.cancel("never-submitted") == CancelResult.UNKNOWN
    async with worker(queue, SleepEngine(0.05)):
        await queue.submit(job("after"))
        await queue.wait("after", 10)
    assert (await queue.outcome("later")).status == "cancelled"  # it never ran


async def test_cancel_while_running_stops_it(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(30)):
        await queue.submit(job("long", steps=100))
        while (await queue.state("long")).status != "running":
            await asyncio.sleep(0.05)
        assert await queue.cancel("long") == CancelResult.STOPPING
        outcome = await queue.wait("long", 3)
    assert (outcome.status, outcome.reason) == ("cancelled", "cancelled while rendering")


async def test_giving_up_fails_a_waiting_job_but_never_a_running_one(queue: JobQueue) -> None:
    await queue.submit(job("orphan", model="animatediff"), require_worker=False)
    assert (await queue.state("orphan")).served is False
    assert await queue.give_up("orphan", "no GPU worker serving `animatediff` came online")
    outcome = await queue.outcome("orphan")
    assert (outcome.status, outcome.reason) == ("failed", "no GPU worker serving `animatediff` came online")
    assert not await queue.give_up("orphan", "again")  # over already
    async with worker(queue, SleepEngine(0.3)):
        await queue.submit(job("busy", steps=10))
        while (await queue.state("busy")).status != "running":
            await asyncio.sleep(0.02)
        assert not await queue.give_up("busy", "too late")
        assert (await queue.wait("busy", 10)).status == "done"


async def test_a_job_failing_every_time_ends_failed_after_max_tries(queue: JobQueue) -> None:
    engine = FailingEngine(RuntimeError("CUDA error: an illegal memory access"))
    async with worker(queue, engine):
        await queue.submit(job("flaky"))
        outcome = await queue.wait("flaky", 30)
    assert outcome.status == "failed" and outcome.tries == queue.settings.max_tries == engine.calls
    assert "failed 3 times" in outcome.reason


async def test_a_final_error_fails_at_once_with_its_message(queue: JobQueue) -> None:
    engine = FailingEngine(FinalError("`-frames` must be 2–25 on svd-xt, got 99"))
    async with worker(queue, engine):
        await queue.submit(job("bad"))
        outcome = await queue.wait("bad", 10)
    assert (outcome.status, outcome.reason, engine.calls) == ("failed", "`-frames` must be 2–25 on svd-xt, got 99", 1)


async def test_a_prompt_the_workers_check_refused_comes_back_with_its_rule_term_and_english(queue: JobQueue) -> None:
    rule = said("the built-in list (sexual content is not allowed here)")
    engine = FailingEngine(PromptRefused(Verdict(rule, "naked", read_as="a naked woman")))
    async with worker(queue, engine):
        await queue.submit(job("refused"))
        outcome = await queue.wait("refused", 10)
    assert (outcome.status, outcome.flagged, engine.calls) == ("failed", "prompt", 1), "refused at once, not retried"
    assert outcome.refused == Verdict(rule, "naked", read_as="a naked woman"), "for the moderation log"
    assert "read in English" in outcome.reason


@pytest.mark.parametrize(
    "payload",
    [
        b"\xc1\xc1 not msgpack",
        msgpack.packb({"t": 1, "f": "render"}),
        serialize(("render", ({"schema": 99},), {}, 1, 0)),
    ],
    ids=["garbage", "wrong-shape", "bad-job"],
)
async def test_malformed_payload_is_rejected_and_the_worker_keeps_going(queue: JobQueue, payload: bytes) -> None:
    await queue.redis.set("arq:job:evil", payload)
    await queue.redis.zadd(keys.QUEUE, {"evil": 1})
    async with worker(queue, SleepEngine(0.05)):
        outcome = await queue.wait("evil", 10)
        assert outcome.status == "failed" and "could not be read" in outcome.reason
        await queue.submit(job("good"))
        assert (await queue.wait("good", 10)).status == "done"


async def test_workers_report_what_they_serve(queue: JobQueue) -> None:
    async with worker(queue, SleepEngine(1), models=["svd-xt", "animatediff"], worker_id="box-1"):
        await queue.submit(job("busy"))
        await asyncio.sleep(1.5)
        [info] = await queue.workers()
    assert (info.id, info.models, info.current_job) == ("box-1", ("svd-xt", "animatediff"), "busy")
    assert info.host and info.gpu == "cpu" and info.pid > 0


async def test_a_worker_stopped_while_arq_still_finishes_a_job_leaves_cleanly(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    finish_job = FairWorker.finish_job

    async def slow_finish(self: FairWorker, *args: object, **kwargs: object) -> None:
        await asyncio.sleep(1)  # widens the moment between the outcome being stored and arq's own bookkeeping
        await finish_job(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FairWorker, "finish_job", slow_finish)
    async with worker(queue, SleepEngine(0.1)):
        await queue.submit(job("finishing"))
        assert (await queue.wait("finishing", 10)).status == "done"
    assert await queue.workers() == [], "the worker's record went with it"


async def test_a_worker_dead_before_its_first_renewal_holds_the_job_one_lease_not_a_day(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_job = FairWorker.run_job

    async def dies_at_once(self: FairWorker, job_id: str, score: int) -> None:
        if self.state.id != "dies":
            await run_job(self, job_id, score)
        # else: killed between arq locking the job and the job's first lease renewal (seen in the soak)

    monkeypatch.setattr(FairWorker, "run_job", dies_at_once)
    async with worker(queue, SleepEngine(0.1), worker_id="dies"):
        await queue.submit(job("orphan"))
        while not await queue.redis.exists(keys.IN_PROGRESS + "orphan"):
            await asyncio.sleep(0.02)
    async with worker(queue, SleepEngine(0.1), worker_id="lives"):
        outcome = await queue.wait("orphan", queue.settings.lease_s + 10)
    assert (outcome.status, outcome.worker) == ("done", "lives")


async def test_a_job_whose_worker_died_after_storing_its_outcome_leaves_the_queue(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    finish_job = FairWorker.finish_job

    async def dies_first(self: FairWorker, *args: object, **kwargs: object) -> None:
        if self.state.id != "dies":  # else: killed between the outcome and arq's own bookkeeping
            await finish_job(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FairWorker, "finish_job", dies_first)
    async with worker(queue, SleepEngine(0.1), worker_id="dies"):
        await queue.submit(job("ended"))
        assert (await queue.wait("ended", 10)).status == "done"
    assert await queue.depth() == 1  # what the dead worker left
    async with worker(queue, SleepEngine(0.1), worker_id="lives"):
        for _ in range(int(queue.settings.lease_s + 5) * 10):
            if not await queue.depth():
                break
            await asyncio.sleep(0.1)
    assert await queue.depth() == 0 and not await queue.redis.exists(job_key_prefix + "ended")
    assert (await queue.outcome("ended")).worker == "dies"  # not run again


async def test_a_malformed_record_settles_its_own_job_and_breaks_no_other(queue: JobQueue) -> None:
    for index, job_id in enumerate(("fine", "bad-meta", "bad-progress")):
        await queue.submit(job(job_id, user=f"u{index}"), require_worker=False)
    await queue.redis.hset(keys.META, "bad-meta", b"\xc1 not msgpack")
    await queue.redis.set(keys.progress("bad-progress"), serialize(["warp-speed", 1, 2, 0.0, "w"]))
    await queue.redis.set(keys.outcome("bad-outcome"), serialize({"reason": "no status here"}))
    assert await queue.position("fine") == 1, "the other jobs keep their places"
    assert (await queue.state("bad-progress")).status == "queued"
    assert await queue.progress("bad-progress") is None
    assert (await queue.state("bad-meta")).status == "failed"
    settled = await queue.outcome("bad-meta")
    assert settled is not None and "could not be read" in settled.reason, "it ends with a reason: refunded"
    unread = await queue.outcome("bad-outcome")
    assert unread is not None and unread.status == "failed" and "could not be read" in unread.reason


async def test_out_of_gpu_memory_is_not_retried_and_says_what_to_change(queue: JobQueue) -> None:
    engine = FailingEngine(OutOfGPUMemory("out of GPU memory at 1024x576, 25 frames — try a smaller size (-ar 1:1)"))
    async with worker(queue, engine):
        await queue.submit(job("oom"))
        outcome = await queue.wait("oom", 10)
    assert (outcome.status, outcome.tries, engine.calls) == ("failed", 1, 1)
    assert "try a smaller size" in outcome.reason


def placed(job_id: str, user: str, model: str = "svd-xt", server: str = "s1") -> VideoJob:
    return dataclasses.replace(job(job_id, user, model, steps=1), guild_id=server)


async def submit_all(queue: JobQueue, jobs: list[VideoJob]) -> None:
    for item in jobs:
        await queue.submit(item, require_worker=False)


async def test_a_worker_finds_its_model_behind_600_jobs_of_another(queue: JobQueue) -> None:
    await submit_all(queue, [placed(f"deep{i}", "flood") for i in range(600)])
    await queue.submit(placed("mine", "me", model="animatediff"), require_worker=False)
    assert await queue.position("mine") == 1
    async with worker(queue, SleepEngine(0.01), models=["animatediff"]):
        assert (await queue.wait("mine", 10)).status == "done"
    assert await queue.position("deep0") == 1, "the other model's jobs wait as they were"


async def test_a_newcomer_waits_one_turn_behind_a_600_job_backlog(queue: JobQueue) -> None:
    await submit_all(queue, [placed(f"a{i}", "alice") for i in range(600)])
    await queue.submit(placed("b0", "bob"), require_worker=False)
    assert await queue.position("b0") == 2
    async with worker(queue, SleepEngine(0.01)):
        outcome = await queue.wait("b0", 20)
        alice = [o for o in [await queue.outcome(f"a{i}") for i in range(5)] if o is not None]
    first = [o for o in alice if o.finished_at < outcome.finished_at]
    assert outcome.status == "done" and len(first) <= 2, "at most one of alice's jobs ran first (one in flight)"


async def test_servers_take_turns_before_users_do(queue: JobQueue) -> None:
    crowd = [placed(f"x{u}-{i}", f"x{u}", server="big") for i in range(20) for u in range(5)]
    await submit_all(queue, crowd)
    await queue.submit(placed("y0", "y", server="small"), require_worker=False)
    assert await queue.position("y0") == 2, "one server's crowd cannot starve another server's user"
    assert await queue.position("x0-0") == 1 and await queue.position("x1-0") == 3


async def test_the_position_shown_is_the_order_the_worker_follows(queue: JobQueue) -> None:
    mix = [placed(f"m{i}", f"u{i % 3}", server=f"s{i % 2}") for i in range(12)]
    await submit_all(queue, mix)
    positions = {item.job_id: await queue.position(item.job_id) for item in mix}
    assert sorted(positions.values()) == list(range(1, 13))
    async with worker(queue, SleepEngine(0.01)):
        outcomes = {item.job_id: await queue.wait(item.job_id, 20) for item in mix}
    ran = sorted(outcomes, key=lambda job_id: outcomes[job_id].finished_at)
    assert ran == sorted(positions, key=positions.__getitem__)
