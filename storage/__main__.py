"""The operator's commands on the bot's database, safe while the bot runs:

    python -m storage backup FILE            a consistent copy of the database
    python -m storage ban USER_ID [REASON]   stop a user making videos anywhere (servers, DMs, user installs)
    python -m storage unban USER_ID
    python -m storage bans                   who is banned, why and since when

A ban is the operator's, for the whole service: server admins block users in their own server with
`/motionbot-admin block`, but nobody else can stop someone in DMs or through their own install of the app.
The bot reads it at each request (a ban needs no restart); the user's videos on the way are cancelled through
the queue (`REDIS_URL`) and the bot refunds them, as it does any cancel.

SQLite's online backup copies the database page by page from one read snapshot (the bot's WAL writes go on
meanwhile and are not in the copy); the copy is written beside the target and renamed onto it when whole, so
a backup cut short never leaves a half file under the target's name, and its integrity is checked before.
The database is the one the bot uses (`MOTIONBOT_DATABASE_PATH`, from the environment or `.env`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from redis.exceptions import RedisError

from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from generation.queue_types import CancelResult
from storage.db import Database
from storage.guilds import Guilds
from storage.jobs import Ledger
from storage.quotas import Quotas
from storage.settings import StorageSettings

__all__ = ["backup", "main"]


class CommandError(RuntimeError):
    """The command could not be done; the message says why, for the operator."""


def backup(source: Path, target: Path) -> int:
    """Copy the database at `source` to `target` (replacing it), from one snapshot; returns its size in bytes."""
    if not source.is_file():
        raise CommandError(f"there is no database at {source} (MOTIONBOT_DATABASE_PATH)")
    if target.resolve() == source.resolve():
        raise CommandError("the backup would overwrite the database itself: name another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source, timeout=5)) as reading, closing(sqlite3.connect(partial)) as writing:
        reading.backup(writing)  # reads only; the bot's connection goes on writing
        [(verdict,)] = writing.execute("PRAGMA integrity_check").fetchall()
        writing.execute("PRAGMA journal_mode = DELETE")  # a single file to keep: no -wal beside it
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise CommandError(f"the copy failed its integrity check: {verdict}")
    os.replace(partial, target)
    return target.stat().st_size


async def _bans(settings: StorageSettings, command: str, user: int | None, reason: str) -> str:
    """Ban or unban `user`, or list the bans; what to tell the operator."""
    if not settings.database_path.is_file():
        raise CommandError(f"there is no database at {settings.database_path} (MOTIONBOT_DATABASE_PATH)")
    if user is not None and user <= 0:
        raise CommandError(f"{user} is not a Discord user id")
    db = await Database.open(settings.database_path)
    try:
        quotas = Quotas(db, Guilds(db, settings))
        if command == "ban" and user is not None:
            said = f"banned {user}" if await quotas.ban(user, reason) else f"{user} was banned already"
            return f"{said}; {await _cancel_unfinished(Ledger(db), user)}"
        if command == "unban" and user is not None:
            return f"unbanned {user}" if await quotas.unban(user) else f"{user} was not banned"
        listed = [f"{who}\t{at:%Y-%m-%d %H:%M} UTC\t{why}".rstrip() for who, why, at in await quotas.bans()]
        return "\n".join(listed) or "nobody is banned"
    finally:
        await db.close()


async def _cancel_unfinished(ledger: Ledger, user: int) -> str:
    """Cancel a banned user's videos on the way (the bot refunds each as it does any cancel); what was done."""
    unfinished = await ledger.unfinished(user_id=user)
    if not unfinished:
        return "nothing of theirs on the way"
    try:
        queue = await JobQueue.connect(QueueSettings(), retry_s=3)
    except (RedisError, OSError) as exc:
        return f"could not reach the queue ({exc}): {len(unfinished)} of their videos on the way will finish"
    try:
        results = [await queue.cancel(record.job_id) for record in unfinished]
    except (RedisError, OSError) as exc:
        return f"the queue stopped answering ({exc}): some of their videos on the way may finish"
    finally:
        await queue.close()
    stopped = sum(result in (CancelResult.REMOVED, CancelResult.STOPPING) for result in results)
    return f"{stopped} of their videos on the way cancelled (refunded by the bot)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("backup", help="copy the bot's database to FILE while the bot runs")
    made.add_argument("file", type=Path)
    ban = commands.add_parser("ban", help="stop a user making videos anywhere")
    ban.add_argument("user", type=int, help="the user's Discord id")
    ban.add_argument("reason", nargs="*", help="why (shown by `bans`, never to the user)")
    unban = commands.add_parser("unban", help="lift a ban")
    unban.add_argument("user", type=int, help="the user's Discord id")
    commands.add_parser("bans", help="list the banned users")
    args = parser.parse_args(argv)
    settings = StorageSettings()
    if args.command != "backup":
        try:
            user, reason = getattr(args, "user", None), " ".join(getattr(args, "reason", []))
            print(asyncio.run(_bans(settings, args.command, user, reason)))
        except (CommandError, sqlite3.Error, OSError) as exc:
            print(f"{args.command}: {exc}", file=sys.stderr)
            return 1
        return 0
    source = settings.database_path
    try:
        size = backup(source, args.file)
    except (CommandError, sqlite3.Error, OSError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {source} to {args.file} ({size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
