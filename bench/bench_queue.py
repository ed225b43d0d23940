"""Queue figures with a private Redis and real worker processes running a sleep-based fake job.

    python bench/bench_queue.py            # full run, about a minute
    python bench/bench_queue.py --quick    # smaller numbers (the test suite runs this)

- submit throughput: jobs/s queued by one client, one at a time and 50 at once;
- pick-up latency: submit -> the worker has started it, with an instant job (median, p95);
- depth: with 0, 1k and 10k jobs already queued, side by side: the pick-up latency of a job for another
  model (the worker must find it behind them) and a newcomer's wait behind one user's backlog of the
  same model (how many of the backlog start first, and how long it waits);
- scaling: jobs/s with 1, 2, 4 and 8 worker processes, each job sleeping `--job-s`, against the ideal
  of N / job-s. Near-linear means the queue, not the workers, is never the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generation.jobs import JobKind, VideoJob  # noqa: E402
from generation.local_redis import RedisServer  # noqa: E402
from generation.queue import JobQueue  # noqa: E402
from generation.queue_redis import QueueSettings, keys  # noqa: E402


def a_job(job_id: str, steps: int = 1, model: str = "animatediff", user: str | None = None) -> VideoJob:
    return VideoJob(
        job_id=job_id,
        kind=JobKind.TEXT_TO_VIDEO,
        model=model,
        prompt="bench",
        steps=steps,
        user_id=user or f"user{hash(job_id) % 7}",
        guild_id="bench",
    )


def start_workers(
    url: str, count: int, job_s: float, prefix: str, models: str = "animatediff"
) -> list[subprocess.Popen[bytes]]:
    env = os.environ | {"REDIS_URL": url, "PYTHONPATH": str(ROOT), "MOTIONBOT_QUEUE__POLL_S": "0.05"}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "generation",
                "worker",
                "--dry-run",
                str(job_s),
                "--models",
                models,
                "--id",
                f"{prefix}{index}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(count)
    ]


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.kill()
        worker.wait()


async def until_workers(queue: JobQueue, count: int) -> None:
    while len(await queue.workers()) < count:
        await asyncio.sleep(0.05)


async def bench_submit(queue: JobQueue, count: int) -> dict[str, float]:
    await queue.redis.flushdb()
    started = time.perf_counter()
    for index in range(count):
        await queue.submit(a_job(f"seq{index}"), require_worker=False)
    sequential = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for batch in range(0, count, 50):
        jobs = [a_job(f"par{index}") for index in range(batch, min(batch + 50, count))]
        await asyncio.gather(*(queue.submit(job, require_worker=False) for job in jobs))
    concurrent = count / (time.perf_counter() - started)
    return {"submit_jobs_per_s_sequential": sequential, "submit_jobs_per_s_50_at_once": concurrent}


async def bench_pickup(queue: JobQueue, url: str, count: int) -> dict[str, float]:
    await queue.redis.flushdb()
    workers = start_workers(url, 1, 0.0, "pickup")
    try:
        await until_workers(queue, 1)
        latencies = []
        for index in range(count):
            job_id = f"pick{index}"
            submitted = time.perf_counter()
            await queue.submit(a_job(job_id))
            while (progress := await queue.progress(job_id)) is None or not progress.worker:
                if await queue.outcome(job_id) is not None:
                    break
                await asyncio.sleep(0.002)
            latencies.append(time.perf_counter() - submitted)
            await queue.wait(job_id, 30, poll_s=0.01)
    finally:
        stop(workers)
    latencies.sort()
    return {
        "pickup_ms_median": statistics.median(latencies) * 1000,
        "pickup_ms_p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


async def fill(queue: JobQueue, count: int, model: str, user: str) -> None:
    for batch in range(0, count, 100):
        jobs = [a_job(f"{user}{i}", model=model, user=user) for i in range(batch, min(batch + 100, count))]
        await asyncio.gather(*(queue.submit(job, require_worker=False) for job in jobs))


async def started(queue: JobQueue, job_id: str) -> None:
    while (progress := await queue.progress(job_id)) is None or not progress.worker:
        if await queue.outcome(job_id) is not None:
            return
        await asyncio.sleep(0.002)


async def finished(queue: JobQueue, user: str, count: int) -> int:
    """How many of a backlog's jobs have ended (the backlog runs oldest first)."""
    async with queue.redis.pipeline(transaction=False) as pipe:
        for index in range(min(count, 2000)):
            pipe.exists(keys.outcome(f"{user}{index}"))
        return sum(await pipe.execute()) if count else 0


async def bench_depth(queue: JobQueue, url: str, depths: list[int]) -> list[dict]:
    rows = []
    for depth in depths:
        await queue.redis.flushdb()
        await fill(queue, depth, "svd-xt", "other-model")  # waiting for a model this worker does not serve
        workers = start_workers(url, 1, 0.0, f"depth{depth}-")
        try:
            await until_workers(queue, 1)
            submitted = time.perf_counter()
            await queue.submit(a_job("routed"))
            await started(queue, "routed")
            pickup = time.perf_counter() - submitted
        finally:
            stop(workers)
        await queue.redis.flushdb()
        await fill(queue, depth, "animatediff", "backlog")  # one user's backlog of the same model
        workers = start_workers(url, 1, 0.05, f"wait{depth}-")  # long enough that few end during the submit
        try:
            await until_workers(queue, 1)
            submitted = time.perf_counter()
            await queue.submit(a_job("newcomer", user="newcomer"))
            position = await queue.position("newcomer")
            before = await finished(queue, "backlog", depth)  # counted once the newcomer has its place in line
            await started(queue, "newcomer")
            wait = time.perf_counter() - submitted
            ahead = await finished(queue, "backlog", depth) - before  # backlog jobs that ended after it joined
        finally:
            stop(workers)
        rows.append(
            {
                "queued": depth,
                "pickup_ms": pickup * 1000,
                "newcomer_position": position,
                "newcomer_wait_ms": wait * 1000,
                "backlog_started_first": ahead,
            }
        )
    return rows


async def bench_scaling(queue: JobQueue, url: str, counts: list[int], per_worker: int, job_s: float) -> list[dict]:
    rows = []
    for count in counts:
        await queue.redis.flushdb()
        workers = start_workers(url, count, job_s, f"scale{count}-")
        try:
            await until_workers(queue, count)
            ids = [f"s{count}-{index}" for index in range(per_worker * count)]
            started = time.perf_counter()
            for job_id in ids:
                await queue.submit(a_job(job_id, steps=1))
            ran_on = [(await queue.wait(job_id, 600, poll_s=0.02)).worker for job_id in ids]
            elapsed = time.perf_counter() - started
        finally:
            stop(workers)
        throughput = len(ids) / elapsed
        rows.append(
            {
                "workers": count,
                "jobs": len(ids),
                "seconds": elapsed,
                "jobs_per_s": throughput,
                "ideal_jobs_per_s": count / job_s,
                "efficiency": throughput / (count / job_s),
                "jobs_per_worker": sorted(ran_on.count(worker) for worker in set(ran_on)),
            }
        )
    return rows


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--job-s", type=float, default=0.5, help="how long each fake job sleeps")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    submits, pickups, per_worker = (200, 10, 2) if args.quick else (2000, 50, 8)
    counts = [1, 2] if args.quick else [1, 2, 4, 8]
    depths = [0, 1000] if args.quick else [0, 1000, 10000]

    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder)).start()
        queue = await JobQueue.connect(QueueSettings(REDIS_URL=server.url))
        try:
            figures: dict = await bench_submit(queue, submits)
            figures |= await bench_pickup(queue, server.url, pickups)
            figures["depth"] = await bench_depth(queue, server.url, depths)
            figures["scaling"] = await bench_scaling(queue, server.url, counts, per_worker, args.job_s)
        finally:
            await queue.close()
            server.stop()

    print(
        f"submit: {figures['submit_jobs_per_s_sequential']:.0f} jobs/s one at a time, "
        f"{figures['submit_jobs_per_s_50_at_once']:.0f} jobs/s 50 at once ({submits} jobs)"
    )
    print(
        f"pick-up latency (instant job, {pickups} jobs): median {figures['pickup_ms_median']:.1f} ms, "
        f"p95 {figures['pickup_ms_p95']:.1f} ms"
    )
    print("queued ahead | pick-up, another model's jobs ahead | newcomer behind one user's backlog")
    for row in figures["depth"]:
        print(
            f"{row['queued']:>12} | {row['pickup_ms']:>8.1f} ms"
            f"{'':>26} | position {row['newcomer_position']}, started after {row['newcomer_wait_ms']:.0f} ms, "
            f"{row['backlog_started_first']} of the backlog first"
        )
    print(f"scaling ({args.job_s} s sleep jobs, {per_worker} per worker):")
    print(f"  {'workers':>7} {'jobs':>5} {'seconds':>8} {'jobs/s':>7} {'ideal':>6} {'efficiency':>10}")
    for row in figures["scaling"]:
        print(
            f"  {row['workers']:>7} {row['jobs']:>5} {row['seconds']:>8.2f} {row['jobs_per_s']:>7.2f} "
            f"{row['ideal_jobs_per_s']:>6.1f} {row['efficiency']:>9.0%}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
