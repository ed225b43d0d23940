"""The moderation ledger: each refused or flagged prompt, picture or clip, per server."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database

__all__ = ["Moderation", "ModerationEvent"]


@dataclass(frozen=True)
class ModerationEvent:
    guild_id: int
    channel_id: int
    user_id: int
    kind: str  # prompt | input | output
    result: str  # refused | spoiler
    rule: str  # which check fired, as the user is told
    excerpt: str = ""  # the prompt, shortened
    matched: str = ""  # what matched: for moderators only
    job_id: str | None = None
    at: float = 0.0


class Moderation:
    def __init__(self, db: Database):
        self.db = db

    async def record(self, event: ModerationEvent) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO moderation (guild_id, channel_id, user_id, job_id, kind, result, rule, excerpt, matched, "
                "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.guild_id,
                    event.channel_id,
                    event.user_id,
                    event.job_id,
                    event.kind,
                    event.result,
                    event.rule,
                    event.excerpt[:300],
                    event.matched[:100],
                    event.at or time.time(),
                ),
            )

    async def recent(self, guild_id: int, limit: int = 20) -> list[ModerationEvent]:
        rows = await self.db.fetchall(
            "SELECT * FROM moderation WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit)
        )
        return [
            ModerationEvent(
                row["guild_id"],
                row["channel_id"],
                row["user_id"],
                row["kind"],
                row["result"],
                row["rule"],
                row["excerpt"],
                row["matched"],
                row["job_id"],
                row["at"],
            )
            for row in rows
        ]

    async def counts(self, guild_id: int, since: float) -> dict[str, int]:
        """How many events of each result (refused, spoiler, reported) the server had since `since`."""
        rows = await self.db.fetchall(
            "SELECT result, COUNT(*) FROM moderation WHERE guild_id = ? AND at >= ? GROUP BY result", (guild_id, since)
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def prune(self, older_than_s: float) -> int:
        """Forget events older than `older_than_s`; returns how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM moderation WHERE at < ?", (time.time() - older_than_s,))
            return int(cursor.rowcount)
