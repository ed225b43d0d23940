"""The bot behind a deep queue: the real bot over the tests' fake Discord (with Discord's latency), a private
Redis and one dry-run worker, with hundreds of jobs waiting.

    python bench/bench_deep_queue.py            # 400 jobs from 200 users, 1 s jobs; Discord at 0 and 100 ms
    python bench/bench_deep_queue.py --quick    # 40 jobs, Discord at 100 ms (the test suite runs this)

Once every job is queued and the first status edits have settled, it measures over a steady window:
- status edits per second (every finished job moves every waiting job's position);
- the bot's CPU (seconds per second) and Redis commands per second (bot and worker together);
- how long a Cancel pressed on the last job in line takes to show on its status message.
The run with an instant Discord is the baseline the slow one is compared with: the watcher must not wait
for one job's edit before it looks at the next job, so a cancel shows about as soon either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generation.local_redis import RedisServer  # noqa: E402
from tests.fake_discord import FakeDiscord  # noqa: E402
from tests.support import Process, WorkerProcess  # noqa: E402

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.fake.token-for-tests-only"


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def redis_calls(url: str) -> int:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        stats = await redis.info("commandstats")
        return sum(int(row["calls"]) for row in stats.values())
    finally:
        await redis.aclose()


async def run(args: argparse.Namespace, latency_s: float, folder: Path) -> dict[str, object]:
    redis = RedisServer(folder / "redis").start()
    fake = FakeDiscord()
    fake.webhook_latency_s = latency_s  # as Discord takes for each edit, answer and delivery
    await fake.start()
    env = {
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_BASE": fake.api_base,
        "REDIS_URL": redis.url,
        "MOTIONBOT_DATABASE_PATH": str(folder / "motionbot.db"),
        "MOTIONBOT_DAILY_CREDITS": "1000000",
        "MOTIONBOT_MAX_QUEUED": "1000",
        "MOTIONBOT_MAX_QUEUED_PER_SERVER": "10000",
        "MOTIONBOT_METRICS_PORT": "0",
    }
    bot = Process(["bot"], env, folder / "bot.log")
    worker = WorkerProcess(
        redis.url, ["--dry-run", str(args.job_s), "--id", "w1"], env | {"DISCORD_TOKEN": ""}, folder / "w.log"
    )
    try:
        await fake.wait_until(lambda: fake.ready.is_set() and fake.commands, timeout=60, what="the bot to connect")
        started = time.monotonic()
        tokens = []
        for index in range(args.jobs):
            user = 5000 + index % args.users
            tokens.append(await fake.slash("imagine-video", {"prompt": f"deep {index}"}, user_id=user))
        with sqlite3.connect(folder / "motionbot.db", timeout=10) as db:
            while db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] < args.jobs:
                await asyncio.sleep(0.2)
        queued_s = time.monotonic() - started
        await asyncio.sleep(args.settle_s)  # the first edits after the submits
        edits, calls, cpu, since = (
            len(fake.calls_to("PATCH", "/webhooks/")),
            await redis_calls(redis.url),
            cpu_s(bot.process.pid),
            time.monotonic(),
        )
        await asyncio.sleep(args.window_s)
        window = time.monotonic() - since
        figures: dict[str, object] = {
            "jobs": args.jobs,
            "latency_s": latency_s,
            "seconds_to_queue_all": round(queued_s, 1),
            "status_edits_per_s": round((len(fake.calls_to("PATCH", "/webhooks/")) - edits) / window, 1),
            "bot_cpu_s_per_s": round((cpu_s(bot.process.pid) - cpu) / window, 2),
            "redis_calls_per_s": round((await redis_calls(redis.url) - calls) / window),
        }
        last = fake.response_to(tokens[-1])
        assert last is not None
        cancel = next(b["custom_id"] for b in last.buttons() if b["custom_id"].startswith("mb:cancel:"))
        pressed = time.monotonic()
        await fake.click(last, cancel, user_id=5000 + (args.jobs - 1) % args.users)
        await fake.wait_until(lambda: "Cancelled" in last.content, timeout=300, what="the cancel to show")
        figures["cancel_shown_s"] = round(time.monotonic() - pressed, 2)
        with sqlite3.connect(folder / "motionbot.db", timeout=10) as db:
            figures["still_queued"] = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
        return figures
    finally:
        bot.stop()
        worker.stop()
        await fake.stop()
        redis.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    quick = dict(jobs=40, users=20, job_s=0.5, settle_s=3.0, window_s=4.0, latencies=[0.1])
    full = dict(jobs=400, users=200, job_s=1.0, settle_s=10.0, window_s=10.0, latencies=[0.0, 0.1])
    for key, value in (quick if args.quick else full).items():
        setattr(args, key, value)
    rows = []
    for latency_s in args.latencies:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(await run(args, latency_s, Path(folder)))
        print(json.dumps(rows[-1]), flush=True)
    print(f"{'jobs':>5} {'latency':>8} {'edits/s':>8} {'bot cpu':>8} {'redis/s':>8} {'cancel shown':>13}")
    for row in rows:
        print(
            f"{row['jobs']:>5} {row['latency_s']:>7.2f}s {row['status_edits_per_s']:>8} "
            f"{row['bot_cpu_s_per_s']:>8} {row['redis_calls_per_s']:>8} {row['cancel_shown_s']:>12}s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
