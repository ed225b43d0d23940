"""Input images of jobs, kept for a bounded time so Reroll / Remix / Extend can run a job again."""

from __future__ import annotations

import time

from storage.db import Database

__all__ = ["Inputs"]


class Inputs:
    def __init__(self, db: Database):
        self.db = db

    async def put(self, job_id: str, image: bytes) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO job_inputs (job_id, image, created_at) VALUES (?, ?, ?)",
                (job_id, image, time.time()),
            )

    async def get(self, job_id: str) -> bytes | None:
        row = await self.db.fetchone("SELECT image FROM job_inputs WHERE job_id = ?", (job_id,))
        return bytes(row[0]) if row is not None else None

    async def prune(self, older_than_s: float) -> int:
        """Forget inputs older than this; returns how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM job_inputs WHERE created_at < ?", (time.time() - older_than_s,))
            return cursor.rowcount
