"""Real worker processes on tiny pipelines and a real Redis: crashes, shutdowns, restarts."""

from __future__ import annotations

import asyncio
import io
import signal
import time
from collections.abc import Callable
from pathlib import Path

import av

from generation.jobs import JobKind, VideoJob
from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from generation.queue_types import CancelResult
from tests.conftest import png_bytes
from tests.support import RedisServer, WorkerProcess, free_port

LONG = {"MOTIONBOT_SVD_XT__MAX_STEPS": "400"}  # lets a tiny render run for many seconds


def i2v(job_id: str, steps: int = 2) -> VideoJob:
    return VideoJob(
        job_id=job_id, kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt", image=png_bytes(), steps=steps, seed=1, user_id="u"
    )


async def wait_for_workers(queue: JobQueue, ids: set[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while {w.id for w in await queue.workers()} < ids:
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers {ids} did not come up")
        await asyncio.sleep(0.2)


async def wait_running(queue: JobQueue, job_id: str, min_step: int = 1, timeout: float = 60) -> str:
    """Wait until the job is denoising at `min_step` or later; return the worker running it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = await queue.progress(job_id)
        if progress is not None and progress.worker and progress.step >= min_step:
            return progress.worker
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{job_id} never ran")


async def test_worker_renders_a_real_clip_and_reports_progress(queue: JobQueue, start_worker: Callable) -> None:
    worker = start_worker("--models", "svd-xt", "--id", "gpu-a")
    await wait_for_workers(queue, {"gpu-a"})
    assert await queue.submit(i2v("clip", steps=3))
    stages = set()
    while (outcome := await queue.outcome("clip")) is None:
        if progress := await queue.progress("clip"):
            stages.add(progress.stage.value)
        await asyncio.sleep(0.02)
    assert outcome.status == "done", worker.output()
    with av.open(io.BytesIO(outcome.result.video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, sum(1 for _ in container.decode(stream))) == ("h264", 4)
    assert {"queued", "denoising"} <= stages


async def test_check_is_true_only_while_a_worker_lives(queue: JobQueue, start_worker: Callable, tmp_path: Path) -> None:
    def check() -> int:
        probe = WorkerProcess(queue.settings.redis_url, ["--check", "--id", "probe-me"], {}, tmp_path / "check.log")
        return probe.wait(60)

    assert check() == 1
    worker = start_worker("--dry-run", "0.1", "--id", "probe-me")
    await wait_for_workers(queue, {"probe-me"})
    assert check() == 0
    worker.signal(signal.SIGTERM)
    worker.wait(30)
    assert check() == 1
    unreachable = WorkerProcess(f"redis://127.0.0.1:{free_port()}/0", ["--check"], {}, tmp_path / "down.log")
    assert unreachable.wait(30) == 1 and "Traceback" not in unreachable.output()  # Redis down: not alive


async def test_cancel_stops_a_running_render_promptly(queue: JobQueue, start_worker: Callable) -> None:
    start_worker("--models", "svd-xt", "--id", "gpu-a", env=LONG)
    await wait_for_workers(queue, {"gpu-a"})
    await queue.submit(i2v("long", steps=300))
    await wait_running(queue, "long", min_step=2)
    asked = time.monotonic()
    assert await queue.cancel("long") == CancelResult.STOPPING
    outcome = await queue.wait("long", 10)
    assert outcome.status == "cancelled" and time.monotonic() - asked < 3


async def test_sigkilled_worker_job_is_finished_by_another_within_the_bound(
    queue: JobQueue, start_worker: Callable
) -> None:
    # Recovery is the queue's: dry-run workers (the real worker process, a stand-in render of 0.25 s a step)
    # start in a second instead of loading torch and the pipelines.
    workers = {name: start_worker("--dry-run", "4", "--models", "svd-xt", "--id", name) for name in ("gpu-a", "gpu-b")}
    await wait_for_workers(queue, set(workers))
    await queue.submit(i2v("crash", steps=16))
    victim = await wait_running(queue, "crash", min_step=2)
    survivor = next(name for name in workers if name != victim)
    workers[victim].signal(signal.SIGKILL)
    killed = time.monotonic()
    assert await wait_running(queue, "crash", min_step=1) in (victim, survivor)
    while (progress := await queue.progress("crash")) is None or progress.worker != survivor:
        await asyncio.sleep(0.05)
    picked_up = time.monotonic() - killed
    outcome = await queue.wait("crash", 120)
    assert picked_up < 60, f"recovery took {picked_up:.1f}s"
    assert (outcome.status, outcome.worker, outcome.tries) == ("done", survivor, 2)
    assert await queue.redis.llen("motionbot:durations:svd-xt") == 1  # one result, delivered once


async def test_sigterm_with_grace_finishes_the_job_and_takes_no_new_one(
    queue: JobQueue, start_worker: Callable
) -> None:
    worker = start_worker("--dry-run", "3", "--id", "graceful", env={"MOTIONBOT_QUEUE__SHUTDOWN_GRACE_S": "30"})
    await wait_for_workers(queue, {"graceful"})
    await queue.submit(i2v("first", steps=6))
    await wait_running(queue, "first")
    await queue.submit(i2v("second"))
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert (await queue.outcome("first")).status == "done"
    assert (await queue.state("second")).status == "queued"


async def test_sigterm_without_grace_hands_the_job_back_at_once(queue: JobQueue, start_worker: Callable) -> None:
    env = {"MOTIONBOT_QUEUE__SHUTDOWN_GRACE_S": "0"}  # and dry-run workers, as in the SIGKILL test
    leaving = start_worker("--dry-run", "12", "--models", "svd-xt", "--id", "leaving", env=env)
    await wait_for_workers(queue, {"leaving"})
    await queue.submit(i2v("handover", steps=24))
    await wait_running(queue, "handover", min_step=2)
    staying = start_worker("--dry-run", "12", "--models", "svd-xt", "--id", "staying", env=env)
    await wait_for_workers(queue, {"staying"})
    while "worker staying serving" not in staying.output():  # its heartbeat comes before its poll loop runs
        await asyncio.sleep(0.05)
    leaving.signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert leaving.wait(30) == 0
    while (progress := await queue.progress("handover")) is None or progress.worker != "staying":
        await asyncio.sleep(0.05)
    assert time.monotonic() - stopped < 5, "handed back at once, not after the lease"
    # That it then finishes there is the SIGKILL test's; stopping it here saves re-rendering 24 steps.
    await queue.cancel("handover")
    outcome = await queue.wait("handover", 60)
    assert (outcome.status, outcome.worker) == ("cancelled", "staying")


async def test_redis_restart_under_an_idle_worker_loses_no_queued_job(start_worker: Callable, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", free_port()).start()
    queue = await JobQueue.connect(QueueSettings(REDIS_URL=server.url))
    try:
        start_worker("--dry-run", "0.2", "--models", "svd-xt", "--id", "idle", redis_url=server.url)
        await wait_for_workers(queue, {"idle"})
        await queue.submit(
            VideoJob(job_id="waiting", kind=JobKind.TEXT_TO_VIDEO, model="animatediff", prompt="x"),
            require_worker=False,
        )
        server.stop()
        await asyncio.sleep(1)
        server.start()  # same port, same AOF file
        assert (await queue.state("waiting")).status == "queued"
        await queue.submit(i2v("after-restart"))
        assert (await queue.wait("after-restart", 60)).status == "done"
        start_worker("--dry-run", "0.2", "--models", "animatediff", "--id", "late", redis_url=server.url)
        assert (await queue.wait("waiting", 120)).status == "done"
    finally:
        await queue.close()
        server.stop()


async def test_a_worker_warns_once_about_a_discord_token_and_stops_promptly(
    queue: JobQueue, start_worker: Callable
) -> None:
    worker = start_worker("--dry-run", "0.1", "--id", "tokened", env={"DISCORD_TOKEN": "MTAw.leaked.token-value"})
    clean = start_worker("--dry-run", "0.1", "--id", "clean", env={"DISCORD_TOKEN": ""})
    await wait_for_workers(queue, {"tokened", "clean"})
    for process in (worker, clean):
        started = time.monotonic()
        process.signal(signal.SIGTERM)
        assert process.wait(30) == 0 and time.monotonic() - started < 5  # idle: no job grace to wait for
    assert worker.output().count("DISCORD_TOKEN is set") == 1 and "leaked" not in worker.output()
    assert "DISCORD_TOKEN" not in clean.output()
