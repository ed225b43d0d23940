"""What the bot keeps about a user: their preferences (/preferences), and forgetting them when they ask
(/privacy).

Forgetting removes every request of theirs (prompts, options, errors, the links to its messages), the
pictures and videos kept for Reroll and Remix, their preferences and credit use older than two days.
Kept: today's credit use (a day's limits hold), what admins set for them (grants, blocks) and the
moderation log (the servers' records, pruned after the retention days), which of the bot's messages
are their clips, so that the Delete button under each still works for them (for a year after the clip), and
whether they keep their avatar to themselves (it protects them).

Everyone's requests are forgotten the same way once they ended longer ago than the retention of records
(`MOTIONBOT_RECORD_RETENTION_DAYS`), with their credit use as old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.db import Database
from storage.quotas import Clock

__all__ = ["CLIP_OWNERS_S", "Kept", "Users"]

# Credit use younger than this may still be today's somewhere (server time zones) and is kept.
_CREDIT_USE_S = 2 * 86400
# Which clip is whose, for the Delete buttons of a forgotten user's clips (and of pruned requests): a year.
CLIP_OWNERS_S = 365 * 86400


@dataclass(frozen=True)
class Kept:
    """What the bot keeps about one user, in every server and in DMs."""

    requests: int  # jobs: prompt, options, outcome, message links
    on_the_way: int  # of those, queued or being made
    files: int  # pictures and videos kept for Reroll and Remix
    file_bytes: int
    moderation: int  # refused or flagged content of theirs, kept for the servers' moderators
    servers: int  # servers where an admin granted them credits or blocked them
    preferences: str = ""  # their default flags
    avatar_private: bool = False  # others may not animate their avatar (the "Animate avatar" menu)


class Users:
    def __init__(self, db: Database, clock: Clock = lambda: datetime.now(UTC)):
        self.db, self.clock = db, clock

    async def kept(self, user_id: int) -> Kept:
        row = await self.db.fetchone(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE user_id = ?), "
            "(SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN ('queued', 'running')), "
            "(SELECT COUNT(*) FROM input_refs WHERE user_id = ?), "
            "(SELECT COALESCE(SUM(b.size), 0) FROM input_refs r JOIN input_blobs b ON b.hash = r.hash "
            "WHERE r.user_id = ?), "
            "(SELECT COUNT(*) FROM moderation WHERE user_id = ?), "
            "(SELECT COUNT(*) FROM members WHERE user_id = ? AND (granted != 0 OR blocked != 0)), "
            "(SELECT COALESCE(MAX(flags), '') FROM preferences WHERE user_id = ?), "
            "(SELECT COUNT(*) FROM private_avatars WHERE user_id = ?)",
            (user_id,) * 8,
        )
        assert row is not None
        requests, on_the_way, files, file_bytes, moderation, servers = (int(count) for count in row[:6])
        return Kept(
            requests, on_the_way, files, file_bytes, moderation, servers, str(row[6]), avatar_private=bool(row[7])
        )

    async def avatar_private(self, user_id: int) -> bool:
        """Whether the user keeps their avatar to themselves: only they may animate it."""
        return await self.db.fetchone("SELECT 1 FROM private_avatars WHERE user_id = ?", (user_id,)) is not None

    async def keep_avatar_private(self, user_id: int, private: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM private_avatars WHERE user_id = ?", (user_id,))
            if private:
                await conn.execute(
                    "INSERT INTO private_avatars (user_id, set_at) VALUES (?, ?)", (user_id, self.clock().timestamp())
                )

    async def preferences(self, user_id: int) -> str:
        """The user's default flags ("" for none), as they were saved (a flags line)."""
        row = await self.db.fetchone("SELECT flags FROM preferences WHERE user_id = ?", (user_id,))
        return str(row[0]) if row is not None else ""

    async def prefer(self, user_id: int, flags: str) -> None:
        """Save the user's default flags ("" clears them)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM preferences WHERE user_id = ?", (user_id,))
            if flags:
                await conn.execute(
                    "INSERT INTO preferences (user_id, flags, updated_at) VALUES (?, ?, ?)",
                    (user_id, flags, self.clock().timestamp()),
                )

    async def forget(self, user_id: int) -> Kept | None:
        """Forget the user's requests and files (see the module's text); what was there before, or None (and
        nothing forgotten) while a video of theirs is on the way: its delivery and refund need its record."""
        before = await self.kept(user_id)
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN ('queued', 'running')", (user_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0]:
                return None
            await _keep_owners(conn, "user_id = ?", (user_id,))
            await conn.execute("DELETE FROM jobs WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM preferences WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM pending_requests WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM input_refs WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM input_blobs WHERE hash NOT IN (SELECT hash FROM input_refs)")
            await conn.execute(
                "DELETE FROM reservations WHERE user_id = ? AND state != 'reserved' AND created_at < ?",
                (user_id, self.clock().timestamp() - _CREDIT_USE_S),
            )
        return before

    async def prune(self, older_than_s: float) -> int:
        """Forget every user's requests that ended longer ago than this, and their credit use as old (the
        retention of records: the ledger does not grow without end); returns how many requests went. As with
        Forget me, which messages are their clips stays, for the Delete buttons, a year after the clip."""
        cutoff = self.clock().timestamp() - older_than_s
        ended = "state IN ('delivered', 'failed', 'cancelled') AND finished_at < ?"
        async with self.db.transaction() as conn:
            await _keep_owners(conn, ended, (cutoff,))
            cursor = await conn.execute(f"DELETE FROM jobs WHERE {ended}", (cutoff,))
            await conn.execute("DELETE FROM reservations WHERE state != 'reserved' AND created_at < ?", (cutoff,))
            await conn.execute("DELETE FROM clip_owners WHERE made_at < ?", (self.clock().timestamp() - CLIP_OWNERS_S,))
            return int(cursor.rowcount)

    async def clip_owner(self, job_id: str) -> tuple[int, int] | None:
        """(server, user) of a forgotten user's clip, for its Delete button."""
        row = await self.db.fetchone("SELECT guild_id, user_id FROM clip_owners WHERE job_id = ?", (job_id,))
        return (int(row[0]), int(row[1])) if row is not None else None

    async def clip_deleted(self, job_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM clip_owners WHERE job_id = ?", (job_id,))


async def _keep_owners(conn: Any, where: str, params: tuple[Any, ...]) -> None:
    """Keep whose the clips of the jobs `where` picks are (those still in a channel), before they go."""
    await conn.execute(
        "INSERT OR IGNORE INTO clip_owners (job_id, guild_id, user_id, made_at) "
        "SELECT job_id, guild_id, user_id, COALESCE(finished_at, created_at) FROM jobs "
        f"WHERE {where} AND state = 'delivered' AND result_message_id IS NOT NULL "
        "AND json_extract(COALESCE(result, '{}'), '$.deleted') IS NULL",
        params,
    )
