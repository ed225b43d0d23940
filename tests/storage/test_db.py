from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from storage.db import Database, migrations
from storage.guilds import Guilds
from storage.jobs import JobRecord, Ledger
from storage.quotas import Quotas
from storage.settings import StorageSettings

ROOT = Path(__file__).resolve().parents[2]


async def test_database_is_in_wal_mode_and_fully_migrated(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "a.db")
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert await db.version() == migrations()[-1][0] >= 2
    await db.close()


async def test_an_old_database_with_rows_is_migrated_and_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = await Database.open(path, upto=1)  # the schema as the first release created it
    assert await old.version() == 1
    async with old.transaction() as conn:
        await conn.execute(
            "INSERT INTO jobs (job_id, guild_id, channel_id, user_id, kind, model, options, state, cost, created_at) "
            "VALUES ('old-job', 1, 2, 3, 'image-to-video', 'svd-xt', '{\"prompt\": \"a fox\"}', 'delivered', 10, 1)"
        )
        await conn.execute(
            "INSERT INTO reservations (job_id, guild_id, user_id, cost, day, state, created_at) "
            "VALUES ('old-job', 1, 3, 10, '2026-01-01', 'committed', 1)"
        )
        await conn.execute("INSERT INTO guild_settings VALUES (1, 'daily_credits', '300')")
    await old.close()

    db = await Database.open(path)
    assert await db.version() == migrations()[-1][0]
    record = await Ledger(db).get("old-job")
    assert record is not None and record.options == {"prompt": "a fox"} and record.result_message_id is None
    await Ledger(db).set_messages("old-job", result_message_id=99)  # a column the new schema added
    assert (await Ledger(db).get("old-job")).result_message_id == 99
    defaults = StorageSettings(_env_file=None)  # type: ignore[call-arg]
    assert (await Guilds(db, defaults).get(1)).daily_credits == 300
    await Guilds(db, defaults).set_role_tier(1, 5, 500, changed_by=9)  # a table the new schema added
    await db.close()


async def test_opening_twice_migrates_nothing_twice(tmp_path: Path) -> None:
    for _ in range(2):
        db = await Database.open(tmp_path / "twice.db")
        await Ledger(db).add(JobRecord("j", 1, 2, 3, "text-to-video", "animatediff"))
        await db.close()


CHURN = textwrap.dedent(
    """
    import asyncio, random, sys
    from storage.db import Database
    from storage.guilds import Guilds
    from storage.quotas import Quotas, QuotaRefused
    from storage.settings import StorageSettings

    async def main(path):
        db = await Database.open(path)
        quotas = Quotas(db, Guilds(db, StorageSettings(_env_file=None, daily_credits=50, max_queued=10**6)))
        rng = random.Random(1)
        for i in range(10**6):
            try:
                await quotas.reserve(f"j{i}", 1, 2, rng.randint(1, 5))
            except QuotaRefused:
                pass
            if rng.random() < 0.5:
                await quotas.refund(f"j{rng.randrange(i + 1)}")
            else:
                await quotas.commit(f"j{rng.randrange(i + 1)}")
            print(i, flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_sigkill_in_the_middle_of_reservations_leaves_a_consistent_database(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"

    async def prepare() -> None:
        db = await Database.open(path)
        quotas = Quotas(db, Guilds(db, StorageSettings(_env_file=None)))  # type: ignore[call-arg]
        await quotas.grant(1, 2, 1000, by=0)
        await db.close()

    asyncio.run(prepare())
    child = subprocess.Popen(
        [sys.executable, "-c", CHURN, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    done = 0
    while done < 300 and time.monotonic() < deadline:
        done = int(child.stdout.readline() or done)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert done >= 300

    async def check() -> None:
        db = await Database.open(path)
        assert (await db.fetchone("PRAGMA integrity_check"))[0] == "ok"
        states = {row[0] for row in await db.fetchall("SELECT DISTINCT state FROM reservations")}
        assert states <= {"reserved", "committed", "refunded"}
        (held,) = await db.fetchone("SELECT COALESCE(SUM(from_grant), 0) FROM reservations WHERE state != 'refunded'")
        (granted,) = await db.fetchone("SELECT granted FROM members WHERE guild_id = 1 AND user_id = 2")
        assert granted + held == 1000, "granted credits were created or lost"
        (daily,) = await db.fetchone(
            "SELECT COALESCE(SUM(cost - from_grant), 0) FROM reservations WHERE state != 'refunded'"
        )
        assert daily <= 50, "the daily allowance was overspent"
        (rows,) = await db.fetchone("SELECT COUNT(*) FROM reservations")
        assert rows >= done - 1  # every reserve the child reported survived (synchronous = FULL)
        await db.close()

    asyncio.run(check())
