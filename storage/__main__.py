"""`python -m storage backup <file>`: a consistent copy of the bot's database (credits, the ledger, server
settings, the pictures kept for Reroll and Remix), taken while the bot runs.

SQLite's online backup copies the database page by page from one read snapshot (the bot's WAL writes go on
meanwhile and are not in the copy); the copy is written beside the target and renamed onto it when whole, so
a backup cut short never leaves a half file under the target's name, and its integrity is checked before.
The database is the one the bot uses (`MOTIONBOT_DATABASE_PATH`, from the environment or `.env`).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from storage.settings import StorageSettings

__all__ = ["backup", "main"]


class BackupError(RuntimeError):
    """The backup could not be made; the message says why, for the operator."""


def backup(source: Path, target: Path) -> int:
    """Copy the database at `source` to `target` (replacing it), from one snapshot; returns its size in bytes."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source} (MOTIONBOT_DATABASE_PATH)")
    if target.resolve() == source.resolve():
        raise BackupError("the backup would overwrite the database itself: name another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source, timeout=5)) as reading, closing(sqlite3.connect(partial)) as writing:
        reading.backup(writing)  # reads only; the bot's connection goes on writing
        [(verdict,)] = writing.execute("PRAGMA integrity_check").fetchall()
        writing.execute("PRAGMA journal_mode = DELETE")  # a single file to keep: no -wal beside it
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {verdict}")
    os.replace(partial, target)
    return target.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("backup", help="copy the bot's database to FILE while the bot runs")
    made.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    source = StorageSettings().database_path
    try:
        size = backup(source, args.file)
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {source} to {args.file} ({size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
