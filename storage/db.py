"""One long-lived aiosqlite connection in WAL mode, with versioned SQL migrations applied at start-up."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

__all__ = ["MIGRATIONS", "Database", "migrations"]

MIGRATIONS = Path(__file__).parent / "migrations"


def migrations(folder: Path = MIGRATIONS) -> list[tuple[int, Path]]:
    """The migration files, as (version, path) in order: NNN_name.sql."""
    found = []
    for path in folder.glob("*.sql"):
        match = re.fullmatch(r"(\d{3})_[\w-]+\.sql", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


class Database:
    """The bot's SQLite database. Every statement runs under one lock, so a transaction's statements are
    never interleaved with another coroutine's on the shared connection."""

    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, upto: int | None = None) -> Database:
        """Open (creating if needed) and migrate to the newest schema, or to version `upto`."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN / COMMIT ourselves
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = FULL")  # a committed charge survives power loss
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        db = cls(conn)
        await db.migrate(upto)
        return db

    async def close(self) -> None:
        await self.conn.close()

    async def version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, upto: int | None = None) -> None:
        """Apply every migration newer than the database, each in its own transaction."""
        async with self._lock:
            current = await self.version()
            for number, path in migrations():
                if number <= current or (upto is not None and number > upto):
                    continue
                try:
                    await self.conn.executescript(
                        f"BEGIN IMMEDIATE;\n{path.read_text()}\nPRAGMA user_version = {number};\nCOMMIT;"
                    )
                except Exception:
                    await self.conn.execute("ROLLBACK")
                    raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): a write transaction nothing can interleave."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self.conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self.conn.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()
