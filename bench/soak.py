"""A soak: the real bot over the tests' fake Discord, a private Redis and dry-run workers, under chaos.

    python bench/soak.py            # 500 jobs from 20 users on 3 servers, 4 workers
    python bench/soak.py --quick    # 24 jobs from 6 users, 2 workers (the test suite runs this)
    python bench/soak.py --quick --keep /tmp/soak   # keep the logs, the database and Redis's files there

Requests are /animate and /imagine-video, and every tenth a mention with a picture attached. While jobs
come in, a random worker is SIGKILLed every few seconds (and replaced), Discord answers a
few calls with 429, 500 or 502 at each kill (and every interaction call takes 50 ms), Redis is restarted
once, the bot is stopped (SIGTERM) once and killed (SIGKILL) once, and every eighth requester presses
Cancel; once all are in, a few more kills hit the jobs still running, then the workers are left to finish
(so a slow machine, whose new workers take longer to start, still settles every job). Then it checks and
prints: every request became a job or was refused (one whose every acknowledgement Discord failed is
counted apart: Discord tells that user itself), every job ended exactly once (delivered once, or
refunded), the credits charged are the price of the delivered jobs, no input file is left for a cancelled
job, the bot's memory stayed flat, and no error reached the logs. Exit 1 if any fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.exts.video._refusals import MARK  # noqa: E402
from generation.local_redis import RedisServer  # noqa: E402
from tests.conftest import png_bytes  # noqa: E402
from tests.fake_discord import BOT_ID, GUILD_ID, Call, FakeDiscord, Message  # noqa: E402
from tests.support import Process, WorkerProcess  # noqa: E402

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.fake.token-for-tests-only"
_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


def _errors(log: Path) -> list[str]:
    """The error lines of a log, each named by its file; a traceback as the exception it ends with."""
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for index, line in enumerate(lines):
        if not _ERROR.search(line):
            continue
        if line.startswith("Traceback"):
            ending = next((later for later in lines[index + 1 :] if later and not later[0].isspace()), "")
            line = f"Traceback: {ending}"
        found.append(f"{log.name}: {line}")
    return found


class Soak:
    def __init__(self, folder: Path, args: argparse.Namespace):
        self.folder, self.args = folder, args
        self.redis = RedisServer(folder / "redis").start()
        self.fake = FakeDiscord()
        self.workers: dict[str, WorkerProcess] = {}
        self.bots: list[Process] = []
        self.spawned = 0
        self.asked: dict[str, str] = {}  # interaction token -> the request's prompt
        self.mentioned: dict[str, str] = {}  # a mention's message id -> the request's prompt
        self.cancels: list[asyncio.Task[bool]] = []
        self.rss: list[tuple[int, int]] = []  # (jobs delivered, bot RSS in kB) of the last bot

    def env(self) -> dict[str, str]:
        return {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": self.fake.api_base,
            "MOTIONBOT_ATTACHMENT_HOSTS": f"http://{self.fake.host}",
            "REDIS_URL": self.redis.url,
            "MOTIONBOT_DATABASE_PATH": str(self.folder / "motionbot.db"),
            "MOTIONBOT_DAILY_CREDITS": "1000000",
            "MOTIONBOT_MAX_QUEUED": "1000",
            "MOTIONBOT_MAX_QUEUED_PER_SERVER": "10000",
            "MOTIONBOT_WATCH_INTERVAL_S": "0.3",
            "MOTIONBOT_PROGRESS_INTERVAL_S": "2",
            "MOTIONBOT_METRICS_PORT": "0",
            "MOTIONBOT_QUEUE__LEASE_S": "3",
        }

    async def start_bot(self) -> None:
        before = self.fake.identified
        self.bots.append(Process(["bot"], self.env(), self.folder / f"bot-{len(self.bots)}.log"))
        await self.fake.wait_until(
            lambda: self.fake.identified > before and self.fake.ready.is_set(), timeout=60, what="the bot to connect"
        )

    def start_worker(self) -> None:
        self.spawned += 1
        name = f"soak-{self.spawned}"
        args = ["--dry-run", str(self.args.job_s), "--id", name, "--metrics-port", "0"]
        env = self.env() | {"DISCORD_TOKEN": ""}
        self.workers[name] = WorkerProcess(self.redis.url, args, env, self.folder / f"{name}.log")

    def db(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.folder / "motionbot.db", timeout=10) as conn:
            return conn.execute(sql).fetchall()

    async def chaos(self, submitted: asyncio.Event) -> dict[str, int]:
        """Kill a random worker every few seconds (and start another) while jobs come in, then
        `settle_kills` more; restart Redis once."""
        done = {"worker_kills": 0, "redis_restarts": 0}
        after = 0  # kills since the last job came in
        while not submitted.is_set() or after < self.args.settle_kills:
            await asyncio.sleep(self.args.kill_every_s)
            for _ in range(6):  # and Discord answers a few calls with a rate limit or a server error
                path = random.choice([r"/webhooks/", r"/channels/\d+/messages", r"/interactions/"])
                self.fake.fail_next(random.choice(["POST", "PATCH"]), path, random.choice([429, 500, 502]))
            after += 1 if submitted.is_set() else 0
            name = random.choice(sorted(self.workers))
            self.workers.pop(name).stop()  # SIGKILL, mid-job or not
            self.start_worker()
            done["worker_kills"] += 1
            if done["worker_kills"] == 2:
                self.redis.stop()
                await asyncio.sleep(1)
                self.redis.start()
                done["redis_restarts"] += 1
        return done

    async def cancel(self, token: str, user: int, guild: int) -> bool:
        """Press the Cancel button of this request's status message as soon as it has one; False if the job
        ended (or was refused) before it showed one."""

        def button() -> tuple[Message, str] | None:
            message = self.fake.response_to(token)
            ids = [b["custom_id"] for b in message.buttons()] if message else []
            found = [custom_id for custom_id in ids if custom_id.startswith("mb:cancel:")]
            return (message, found[0]) if message and found else None

        try:
            message, custom_id = await self.fake.wait_until(button, timeout=5, what="a Cancel button")
        except TimeoutError:
            return False
        while True:  # a press while the bot restarts waits until it is back, as a user would try again
            await self.fake.wait_until(lambda: self.fake.ws is not None, timeout=60, what="the bot")
            try:
                await self.fake.click(message, custom_id, user_id=user, guild_id=guild)
                return True
            except AssertionError:  # it went away between the look and the press
                await asyncio.sleep(0.1)

    async def restart_bot(self) -> None:
        self.bots[-1].signal(signal.SIGTERM)
        await asyncio.to_thread(self.bots[-1].wait, 30)
        await self.start_bot()

    async def run(self) -> dict[str, object]:
        args = self.args
        await self.fake.start()
        self.fake.webhook_latency_s = 0.05  # a Discord that takes its time: requests are under way at each stop
        await self.start_bot()
        for _ in range(args.workers):
            self.start_worker()
        submitted = asyncio.Event()
        chaos = asyncio.create_task(self.chaos(submitted))
        started = time.monotonic()
        for index in range(args.jobs):
            user = 5000 + index % args.users
            guild = GUILD_ID + user % args.servers
            if index % 10 == 5:  # a mention with a picture attached (in the first server)
                image = self.fake.upload("in.png", png_bytes(96 + index % 7, 64))
                text = f"<@{BOT_ID}> soak {index}"
                message = self.fake.user_message(text, user_id=user, mentions_bot=True, attachments=[image])
                self.mentioned[message["id"]] = f"soak {index}"
                await self.fake.post(message)
                await asyncio.sleep(args.gap_s)
                continue
            if index % 2:
                image = self.fake.upload("in.png", png_bytes(96 + index % 7, 64))
                token = await self.fake.slash(
                    "animate", {"prompt": f"soak {index}"}, attachments={"image": image}, user_id=user, guild_id=guild
                )
            else:
                token = await self.fake.slash(
                    "imagine-video", {"prompt": f"soak {index}"}, user_id=user, guild_id=guild
                )
            self.asked[token] = f"soak {index}"
            if index % 8 == 3:  # the requester presses Cancel, queued or running, while the chaos goes on
                self.cancels.append(asyncio.create_task(self.cancel(token, user, guild)))
            await asyncio.sleep(args.gap_s)
            if index == args.jobs // 5:  # the bot goes down with requests and jobs in flight: stopped
                await self.restart_bot()
            if index == 3 * args.jobs // 5:  # and killed
                self.bots[-1].stop()
                await self.start_bot()
        submitted.set()
        kills = await chaos
        ended = await self.until_settled(timeout=args.timeout_s)
        figures: dict[str, object] = {"jobs_asked": args.jobs, "seconds": round(time.monotonic() - started, 1)}
        pressed = sum(await asyncio.gather(*self.cancels))
        figures |= (
            kills | {"bot_restarts": len(self.bots) - 1, "cancels_pressed": pressed, "all_ended": ended} | self.check()
        )
        return figures

    async def until_settled(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            open_jobs = self.db("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0]
            delivered = self.db("SELECT COUNT(*) FROM jobs WHERE state = 'delivered'")[0][0]
            self.rss.append((delivered, _rss_kb(self.bots[-1])))
            if not open_jobs and delivered:
                return True
            await asyncio.sleep(1)
        return False

    def check(self) -> dict[str, object]:
        jobs = dict(self.db("SELECT job_id, state FROM jobs"))
        delivered = {job for job, state in jobs.items() if state == "delivered"}
        posted: dict[str, int] = {}
        for message in self.fake.messages.values():
            for name in message.files:
                posted[name[10:18]] = posted.get(name[10:18], 0) + 1  # motionbot-<job id[:8]>.mp4
        once = all(posted.get(job[:8]) == 1 for job in delivered) and len(posted) == len(delivered)
        reservations = dict(self.db("SELECT job_id, state FROM reservations"))
        settled = all(
            reservations.get(job) == ("committed" if state == "delivered" else "refunded")
            for job, state in jobs.items()
            if job in reservations
        )
        charged = self.db("SELECT COALESCE(SUM(cost), 0) FROM reservations WHERE state = 'committed'")[0][0]
        price = self.db("SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE state = 'delivered'")[0][0]
        # A cancelled job's input goes at once; a failed one's stays for its Try again button, as a clip's does.
        left = self.db("SELECT COUNT(*) FROM input_refs r JOIN jobs j USING (job_id) WHERE j.state = 'cancelled'")
        # Each request became one job or was refused (told so, nothing charged: e.g. while Redis restarted; a job
        # whose submit failed is both). A refusal is a follow-up, or, from a bot killed before it answered, an
        # edit at its next start. Discord's calls are grouped by the request (interaction token) they answer.
        calls: dict[str, list[Call]] = {}
        for call in self.fake.calls:
            if (found := re.search(r"/(?:webhooks|interactions)/\d+/([^/]+)", call.path)) and found[1] in self.asked:
                calls.setdefault(found[1], []).append(call)
        refused = {
            self.asked[token]
            for token, made in calls.items()
            for call in made
            if call.method in ("POST", "PATCH")
            and "/callback" not in call.path
            and "⚠️" in str((call.payload or {}).get("content", ""))
        }
        for message_id, prompt in self.mentioned.items():  # a mention's refusal is a reply to it, or its mark
            replies = self.fake.replies_to({"id": message_id})
            if any("⚠️" in reply.content for reply in replies) or MARK in self.fake.reactions.get(int(message_id), []):
                refused.add(prompt)
        prompts = [json.loads(options)["request"]["prompt"] for (options,) in self.db("SELECT options FROM jobs")]
        answered = set(prompts) | refused
        # Discord shows "the application did not respond" itself when it failed every acknowledgement the bot
        # sent within its 3 s (the faults meant for a few seconds of traffic can all meet one request).
        unanswered = {token: prompt for token, prompt in self.asked.items() if prompt not in answered}
        acked = {token for token in unanswered if any(c.status < 300 for c in calls.get(token, []))}
        seen = {  # what Discord saw of each lost request, to tell where it stopped
            unanswered[token]: [f"{c.method} {c.path.replace(token, '<token>')} {c.status}" for c in calls[token]]
            for token in acked
        }
        lost_mentions = {prompt for prompt in self.mentioned.values() if prompt not in answered}
        seen |= {prompt: ["a mention, never answered"] for prompt in lost_mentions}
        errors = [error for path in sorted(self.folder.glob("*.log")) for error in _errors(path)]
        after = [kb for count, kb in self.rss if count >= len(delivered) // 5 and kb]
        first_kb, last_kb = (after[0], after[-1]) if after else (0, 0)
        return {
            "jobs": len(jobs),
            "not_ended": sorted(job for job, state in jobs.items() if state in ("queued", "running")),
            "refused_at_submit": len(refused),
            "mentions": len(self.mentioned),
            "no_request_lost": not acked and not lost_mentions and len(prompts) == len(set(prompts)),
            "lost_requests": seen,
            "failed_by_discord": len(unanswered) - len(acked),
            "delivered": len(delivered),
            "refunded": sum(1 for state in jobs.values() if state in ("failed", "cancelled")),
            "cancelled": sum(1 for state in jobs.values() if state == "cancelled"),
            "each_delivered_once": once,
            "each_settled_once": settled,
            "credits_charged": charged,
            "price_of_delivered": price,
            "inputs_left_for_cancelled": left[0][0],
            "bot_rss_mb_first_last": [round(first_kb / 1024, 1), round(last_kb / 1024, 1)],
            "errors_in_logs": len(errors),
            "first_errors": errors[:5],
        }

    async def close(self) -> None:
        for process in [*self.workers.values(), *self.bots]:
            process.stop()
        await self.fake.stop()
        self.redis.stop()


def _rss_kb(process: Process) -> int:
    try:
        status = Path(f"/proc/{process.process.pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found[1]) if found else 0


def passed(figures: dict[str, object]) -> bool:
    first, last = figures["bot_rss_mb_first_last"]  # type: ignore[misc]
    return bool(
        figures["all_ended"]
        and figures["no_request_lost"]
        and figures["each_delivered_once"]
        and figures["each_settled_once"]
        and figures["credits_charged"] == figures["price_of_delivered"]
        and figures["inputs_left_for_cancelled"] == 0
        and figures["errors_in_logs"] == 0
        and last <= first * 1.3 + 30  # flat: no growth with the number of jobs
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="run in this (new or empty) folder and keep it: logs, database")
    args = parser.parse_args()
    quick = dict(jobs=24, users=6, servers=3, workers=2, kill_every_s=1.5, settle_kills=3, gap_s=0.04, job_s=0.2)
    full = dict(jobs=500, users=20, servers=3, workers=4, kill_every_s=4.0, settle_kills=10, gap_s=0.04, job_s=0.3)
    quick["timeout_s"], full["timeout_s"] = 120, 600  # to settle, after the chaos
    for key, value in (quick if args.quick else full).items():
        setattr(args, key, value)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        soak = Soak(folder, args)
        try:
            figures = await soak.run()
        finally:
            await soak.close()
    ok = passed(figures)
    print(json.dumps(figures, indent=2))
    print("soak passed" if ok else "soak FAILED")
    if args.json:
        Path(args.json).write_text(json.dumps(figures | {"passed": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
