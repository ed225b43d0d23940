"""Input files of jobs, kept for a bounded time so Reroll / Remix can run a job again.

Each distinct file is stored once (by its SHA-256) and shared by the jobs that use it. A job may keep more
than one file, each in a named slot (`/morph`'s last picture: "end"); its files go together. A job's
hold ends when the job is cancelled or refused (`release`; a failed job's stays, for Try again), when it
ages out (`prune`) or when its owner's or server's stored bytes pass their cap (the oldest go first); a
file nobody holds is deleted at once.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from storage.db import Database

__all__ = ["Inputs"]


class Inputs:
    def __init__(self, db: Database, max_user_bytes: int, max_guild_bytes: int):
        self.db = db
        self.max_user_bytes, self.max_guild_bytes = max_user_bytes, max_guild_bytes

    async def put(self, job_id: str, data: bytes, guild_id: int, user_id: int, slot: str = "") -> None:
        """Keep `data` for `job_id` (in `slot`); then trim the owner's and the server's oldest inputs to their
        caps."""
        digest = hashlib.sha256(data).hexdigest()
        now = time.time()
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO input_blobs (hash, data, size, created_at) VALUES (?, ?, ?, ?)",
                (digest, data, len(data), now),
            )
            await conn.execute(
                "INSERT OR REPLACE INTO input_refs (job_id, hash, guild_id, user_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (_key(job_id, slot), digest, guild_id, user_id, now),
            )
            await self._trim(conn, "guild_id = ? AND user_id = ?", (guild_id, user_id), self.max_user_bytes)
            await self._trim(conn, "guild_id = ?", (guild_id,), self.max_guild_bytes)
            await _drop_orphans(conn)

    async def get(self, job_id: str, slot: str = "") -> bytes | None:
        row = await self.db.fetchone(
            "SELECT b.data FROM input_refs r JOIN input_blobs b ON b.hash = r.hash WHERE r.job_id = ?",
            (_key(job_id, slot),),
        )
        return bytes(row[0]) if row is not None else None

    async def release(self, job_id: str) -> None:
        """The job no longer needs its inputs, any slot (cancelled, refunded, failed)."""
        async with self.db.transaction() as conn:
            await _forget(conn, job_id)
            await _drop_orphans(conn)

    async def prune(self, older_than_s: float) -> int:
        """Forget inputs older than this; returns how many jobs lost theirs."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM input_refs WHERE created_at < ?", (time.time() - older_than_s,))
            await _drop_orphans(conn)
            return cursor.rowcount

    async def stored_bytes(self) -> int:
        row = await self.db.fetchone("SELECT COALESCE(SUM(size), 0) FROM input_blobs")
        return int(row[0]) if row is not None else 0

    async def _trim(self, conn: Any, where: str, params: tuple[int, ...], cap: int) -> None:
        """Drop the oldest holds under `where` until the distinct files they hold fit in `cap` bytes."""
        async with conn.execute(
            f"SELECT COALESCE(SUM(size), 0) FROM input_blobs WHERE hash IN "
            f"(SELECT hash FROM input_refs r WHERE {where})",
            params,
        ) as cursor:
            if (await cursor.fetchone())[0] <= cap:
                return  # the usual case: one sum, no list of rows
        async with conn.execute(
            f"SELECT r.job_id, r.hash, b.size FROM input_refs r JOIN input_blobs b ON b.hash = r.hash "
            f"WHERE {where} ORDER BY r.created_at DESC",
            params,
        ) as cursor:
            rows = await cursor.fetchall()
        seen: set[str] = set()
        total = 0
        for row in rows:  # newest first: what is kept
            if row["hash"] not in seen:
                seen.add(row["hash"])
                total += row["size"]
            if total > cap:
                await _forget(conn, row["job_id"].partition(_SLOT)[0])  # a job's files go together


_SLOT = "."  # job ids are hex: "<job id>.<slot>" names a job's extra file


def _key(job_id: str, slot: str) -> str:
    return f"{job_id}{_SLOT}{slot}" if slot else job_id


async def _forget(conn: Any, job_id: str) -> None:
    await conn.execute("DELETE FROM input_refs WHERE job_id = ? OR job_id LIKE ?", (job_id, job_id + _SLOT + "%"))


async def _drop_orphans(conn: Any) -> None:
    await conn.execute("DELETE FROM input_blobs WHERE hash NOT IN (SELECT hash FROM input_refs)")
