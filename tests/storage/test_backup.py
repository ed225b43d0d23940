"""`python -m storage backup`: a consistent copy of the database, taken while the bot holds it open and writes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage.db import Database
from storage.jobs import Ledger
from tests.storage.test_ledger import record

ROOT = Path(__file__).resolve().parents[2]


def backup(database: Path, target: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MOTIONBOT_DATABASE_PATH": str(database)}
    command = [sys.executable, "-m", "storage", "backup", str(target)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def test_a_backup_taken_while_the_bot_writes_holds_what_was_committed_and_nothing_half(tmp_path: Path) -> None:
    database, copy = tmp_path / "data" / "motionbot.db", tmp_path / "backups" / "monday.db"
    db = await Database.open(database)  # the bot's connection, open for the whole test
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO preferences (user_id, flags, updated_at) VALUES (1, '-ar 9:16', 0)")
        await db.conn.execute("BEGIN IMMEDIATE")  # a write under way, not committed, while the copy is taken
        await db.conn.execute("INSERT INTO preferences (user_id, flags, updated_at) VALUES (2, '-gif', 0)")
        done = backup(database, copy)
        await db.conn.execute("COMMIT")
    finally:
        await db.close()
    assert done.returncode == 0, done.stderr
    assert f"to {copy}" in done.stdout and "MB" in done.stdout
    with sqlite3.connect(copy) as kept:
        assert kept.execute("SELECT user_id, flags FROM preferences").fetchall() == [(1, "-ar 9:16")]
        assert kept.execute("PRAGMA user_version").fetchone()[0] > 0, "the schema's version comes along"
    assert not list(copy.parent.glob("*.partial")) and not Path(f"{copy}-wal").exists(), "one whole file"


def test_a_backup_names_what_is_wrong_instead_of_copying(tmp_path: Path) -> None:
    missing = backup(tmp_path / "nothing.db", tmp_path / "copy.db")
    assert missing.returncode == 1 and "there is no database at" in missing.stderr
    database = tmp_path / "motionbot.db"
    sqlite3.connect(database).close()
    onto_itself = backup(database, database)
    assert onto_itself.returncode == 1 and "overwrite the database itself" in onto_itself.stderr


def operator(database: Path, *args: str, redis_url: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MOTIONBOT_DATABASE_PATH": str(database)} | ({"REDIS_URL": redis_url} if redis_url else {})
    command = [sys.executable, "-m", "storage", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def test_the_operator_bans_and_unbans_a_user_while_the_bot_holds_the_database(tmp_path: Path) -> None:
    database = tmp_path / "motionbot.db"
    assert "no database" in operator(database, "bans").stderr, "a wrong path is said, not made"
    db = await Database.open(database)  # the bot's connection, open for the whole test
    try:
        assert (
            operator(database, "ban", "4242", "spam", "in", "DMs").stdout
            == "banned 4242; nothing of theirs on the way\n"
        )
        assert "banned already" in operator(database, "ban", "4242").stdout
        assert (await db.fetchone("SELECT reason FROM bans WHERE user_id = 4242"))[0] == "spam in DMs"
        listed = operator(database, "bans").stdout
        assert listed.startswith("4242\t") and listed.rstrip().endswith("spam in DMs")
        assert operator(database, "ban", "-3").returncode == 1
        assert operator(database, "unban", "4242").stdout == "unbanned 4242\n"
        assert await db.fetchone("SELECT 1 FROM bans") is None
        assert operator(database, "bans").stdout == "nobody is banned\n"
    finally:
        await db.close()


async def test_a_ban_with_the_queue_unreachable_says_the_users_videos_on_the_way_finish(tmp_path: Path) -> None:
    database = tmp_path / "motionbot.db"
    db = await Database.open(database)
    try:
        assert await Ledger(db).add(record("on-the-way", user=4343))
        done = operator(database, "ban", "4343", redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    finally:
        await db.close()
    assert done.returncode == 0, done.stderr
    said = done.stdout
    assert said.startswith("banned 4343; could not reach the queue") and "1 of their videos on the way will" in said
