"""Credits: what a job costs, what a user may spend, and the reserve -> commit | refund protocol.

A job's cost follows the GPU work it asks for: frames x pixels x steps x a per-model factor, scaled so
that a standard SVD-XT clip (1024x576, 25 frames, 25 steps) costs 10 credits. Each user has a daily
allowance per server (the highest of the server's daily credits and their roles' tiers), resetting at
00:00 in the server's time zone, plus any credits an admin granted (spent after the daily ones, kept
until used). Credits are reserved when a job is queued, committed when it is delivered and refunded if
it fails, is cancelled or is lost: each exactly once, whatever is called twice, concurrently or after a
restart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from generation.text import Said, Text, _
from storage.db import Database
from storage.guilds import Guilds, GuildSettings, record_audit

__all__ = [
    "BANNED",
    "BLOCKED",
    "MAX_GRANTED",
    "STANDARD_COST",
    "Blocked",
    "CoolingDown",
    "QuotaExceeded",
    "QuotaRefused",
    "QuotaStatus",
    "Quotas",
    "TooManyQueued",
    "job_cost",
]

STANDARD_COST = 10
MAX_GRANTED = 10_000_000  # granted credits a user may hold: a bound on any admin's generosity
_STANDARD_WORK = 1024 * 576 * 25 * 25  # pixels x frames x steps of a standard SVD-XT clip

Clock = Callable[[], datetime]


def job_cost(width: int, height: int, frames: int, steps: int, factor: float = 1.0) -> int:
    """Credits for a job: 10 per standard SVD-XT clip of GPU work, at least 1."""
    return max(1, math.ceil(STANDARD_COST * width * height * frames * steps * factor / _STANDARD_WORK - 1e-9))


def credits_of(count: int) -> Text:
    """A number of credits as English says it ("1 credit", "5 credits", "-1 credits" taken back); the
    catalogs' languages say both alike."""
    return _("1 credit") if count == 1 else _("{count} credits", count=count)


class QuotaRefused(Said):
    """A reservation was refused; the message is written for the user."""


BLOCKED = _("you are not allowed to make videos in this server")
BANNED = _("you are not allowed to make videos with this bot")


class Blocked(QuotaRefused):
    pass


class CoolingDown(QuotaRefused):
    def __init__(self, wait_s: float, now: float):
        self.wait_s = wait_s
        super().__init__(_("slow down: you can start another video <t:{at}:R>", at=math.ceil(now + wait_s)))


class TooManyQueued(QuotaRefused):
    pass


class QuotaExceeded(QuotaRefused):
    def __init__(self, cost: int, status: QuotaStatus):
        self.cost, self.status = cost, status
        super().__init__(
            _(
                "this needs {cost} and you have {left} left; your credits reset <t:{at}:R>",
                cost=credits_of(cost),
                left=status.left,
                at=int(status.resets_at.timestamp()),
            )
        )


@dataclass(frozen=True)
class QuotaStatus:
    allowance: int  # today's daily credits
    used: int  # daily credits spent or held by unfinished jobs today
    pending: int  # credits held by unfinished jobs (daily and granted)
    granted: int  # granted credits not yet spent
    resets_at: datetime
    blocked: bool  # by this server's admins, or everywhere by the bot's operator (`banned`)
    banned: bool = False

    @property
    def refusal(self) -> Text:
        """Why a blocked user may not make videos here."""
        return BANNED if self.banned else BLOCKED

    @property
    def left(self) -> int:
        return max(0, self.allowance - self.used) + self.granted


def _local_day(now: datetime, timezone: str) -> tuple[str, datetime]:
    """The server-local day of `now` (YYYY-MM-DD) and when the next one starts (aware, UTC)."""
    zone = ZoneInfo(timezone)
    today: date = now.astimezone(zone).date()
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return today.isoformat(), midnight.astimezone(UTC)


class Quotas:
    def __init__(self, db: Database, guilds: Guilds, clock: Clock = lambda: datetime.now(UTC)):
        self.db, self.guilds, self.clock = db, guilds, clock

    async def _allowance(self, guild_id: int, settings: GuildSettings, role_ids: Iterable[int]) -> int:
        tiers = await self.guilds.role_tiers(guild_id)
        return max([settings.daily_credits, *(tiers[r] for r in role_ids if r in tiers)])

    async def _usage(self, conn: Any, guild_id: int, user_id: int, day: str) -> tuple[int, int, int, bool, bool, float]:
        """(daily credits used today, credits pending, granted left, blocked here, banned everywhere, last job
        time) in `conn`."""
        async with conn.execute(
            "SELECT MAX(day) FROM reservations WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        ) as cursor:
            latest = (await cursor.fetchone())[0]
        day = max(day, latest or day)  # a clock stepped back across midnight does not open yesterday again
        async with conn.execute("SELECT * FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)) as c:
            member = await c.fetchone()
        reset_at = member["reset_at"] if member is not None and member["reset_day"] == day else 0.0
        async with conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN day = ? AND created_at >= ? THEN cost - from_grant END), 0), "
            "COALESCE(SUM(CASE WHEN state = 'reserved' THEN cost END), 0), COALESCE(MAX(created_at), 0) "
            "FROM reservations WHERE guild_id = ? AND user_id = ? AND state != 'refunded'",
            (day, reset_at, guild_id, user_id),
        ) as cursor:
            used, pending, last = await cursor.fetchone()
        granted = member["granted"] if member is not None else 0
        blocked = bool(member["blocked"]) if member is not None else False
        async with conn.execute("SELECT 1 FROM bans WHERE user_id = ?", (user_id,)) as cursor:
            banned = await cursor.fetchone() is not None
        return int(used), int(pending), int(granted), blocked or banned, banned, float(last)

    async def status(self, guild_id: int, user_id: int, role_ids: Iterable[int] = ()) -> QuotaStatus:
        """What a user has left today in a server (0 = direct messages) and when it resets."""
        settings = await self.guilds.get(guild_id)
        allowance = await self._allowance(guild_id, settings, role_ids)
        day, resets_at = _local_day(self.clock(), settings.timezone)
        async with self.db.transaction() as conn:
            used, pending, granted, blocked, banned, _ = await self._usage(conn, guild_id, user_id, day)
        return QuotaStatus(allowance, used, pending, granted, resets_at, blocked, banned)

    async def reserve(
        self, job_id: str, guild_id: int, user_id: int, cost: int, role_ids: Iterable[int] = ()
    ) -> QuotaStatus:
        """Hold `cost` credits for a job, or raise QuotaRefused. Reserving the same job again is a no-op."""
        settings = await self.guilds.get(guild_id)
        allowance = await self._allowance(guild_id, settings, role_ids)
        now = self.clock()
        day, resets_at = _local_day(now, settings.timezone)
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM reservations WHERE job_id = ?", (job_id,)) as cursor:
                exists = await cursor.fetchone() is not None
            used, pending, granted, blocked, banned, last = await self._usage(conn, guild_id, user_id, day)
            status = QuotaStatus(allowance, used, pending, granted, resets_at, blocked, banned)
            if exists:
                return status
            if blocked:
                raise Blocked(status.refusal)
            if settings.cooldown_s and now.timestamp() - last < settings.cooldown_s:
                raise CoolingDown(settings.cooldown_s - (now.timestamp() - last), now.timestamp())
            async with conn.execute(
                "SELECT COUNT(*) FROM reservations WHERE guild_id = ? AND user_id = ? AND state = 'reserved'",
                (guild_id, user_id),
            ) as cursor:
                unfinished = (await cursor.fetchone() or (0,))[0]
            async with conn.execute(
                "SELECT COUNT(*) FROM reservations WHERE guild_id = ? AND state = 'reserved'", (guild_id,)
            ) as cursor:
                in_server = (await cursor.fetchone() or (0,))[0]
            if in_server >= self.guilds.defaults.max_queued_per_server:
                raise TooManyQueued(
                    _(
                        "this server already has {count} videos on the way, the most it may; try again soon",
                        count=in_server,
                    )
                )
            if unfinished >= settings.max_queued:
                raise TooManyQueued(
                    _(
                        "you already have {count} videos on the way (the limit is {limit}); wait for one to finish",
                        count=unfinished,
                        limit=settings.max_queued,
                    )
                )
            if cost > status.left:
                raise QuotaExceeded(cost, status)
            from_grant = max(0, cost - max(0, allowance - used))
            if from_grant:
                await conn.execute(
                    "UPDATE members SET granted = granted - ? WHERE guild_id = ? AND user_id = ?",
                    (from_grant, guild_id, user_id),
                )
            await conn.execute(
                "INSERT INTO reservations (job_id, guild_id, user_id, cost, from_grant, day, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, guild_id, user_id, cost, from_grant, day, now.timestamp()),
            )
        return QuotaStatus(allowance, used + cost - from_grant, pending + cost, granted - from_grant, resets_at, False)

    async def commit(self, job_id: str) -> bool:
        """Charge a delivered job's reservation. True only for the call that charged it."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE reservations SET state = 'committed', settled_at = ? WHERE job_id = ? AND state = 'reserved'",
                (time.time(), job_id),
            )
            return cursor.rowcount == 1

    async def refund(self, job_id: str) -> bool:
        """Give back a failed, cancelled or lost job's credits. True only for the call that refunded them."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT guild_id, user_id, from_grant - grant_taken_back AS owed FROM reservations "
                "WHERE job_id = ? AND state = 'reserved'",
                (job_id,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return False
            await conn.execute(
                "UPDATE reservations SET state = 'refunded', settled_at = ? WHERE job_id = ?", (time.time(), job_id)
            )
            if row["owed"] > 0:  # granted credits go back to the grant, unless an admin took them back meanwhile
                await conn.execute(
                    "UPDATE members SET granted = MIN(?, granted + ?) WHERE guild_id = ? AND user_id = ?",
                    (MAX_GRANTED, row["owed"], row["guild_id"], row["user_id"]),
                )
            return True

    async def sweep(
        self, is_lost: Callable[[str], Awaitable[bool]], older_than_s: float = 0, made_before: float = 0
    ) -> list[str]:
        """Refund open reservations older than `older_than_s`, or made before `made_before` (a timestamp),
        whose job can no longer finish (as `is_lost` judges)."""
        cutoff = max(self.clock().timestamp() - older_than_s, made_before)
        rows = await self.db.fetchall(
            "SELECT job_id FROM reservations WHERE state = 'reserved' AND created_at <= ?", (cutoff,)
        )
        refunded = []
        for row in rows:
            if await is_lost(row["job_id"]) and await self.refund(row["job_id"]):
                refunded.append(row["job_id"])
        return refunded

    async def _member(self, guild_id: int, user_id: int, by: int, key: str, sql: str, params: tuple) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO members (guild_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (guild_id, user_id)
            )
            await conn.execute(sql + " WHERE guild_id = ? AND user_id = ?", (*params, guild_id, user_id))
            await record_audit(conn, guild_id, f"{key}:{user_id}", None, list(params), by, time.time())

    async def grant(self, guild_id: int, user_id: int, credits: int, by: int) -> None:
        """Give a user extra credits (negative takes back, never below zero, never above MAX_GRANTED); they
        do not reset daily."""
        sql = f"UPDATE members SET granted = MIN({MAX_GRANTED}, MAX(0, granted + ?))"
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT granted FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ) as cursor:
                row = await cursor.fetchone()
            beyond = max(0, -credits - (row["granted"] if row is not None else 0))  # held by unfinished jobs
        await self._member(guild_id, user_id, by, "grant", sql, (credits,))
        if beyond:
            await self._take_back_held(guild_id, user_id, beyond)

    async def _take_back_held(self, guild_id: int, user_id: int, credits: int) -> None:
        """Mark up to `credits` granted credits that unfinished jobs hold as taken back: not refunded."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT job_id, from_grant - grant_taken_back AS held FROM reservations WHERE guild_id = ? "
                "AND user_id = ? AND state = 'reserved' AND from_grant > grant_taken_back ORDER BY created_at",
                (guild_id, user_id),
            ) as cursor:
                rows = await cursor.fetchall()
            for row in rows:
                taken = min(credits, row["held"])
                await conn.execute(
                    "UPDATE reservations SET grant_taken_back = grant_taken_back + ? WHERE job_id = ?",
                    (taken, row["job_id"]),
                )
                credits -= taken
                if not credits:
                    break

    async def block(self, guild_id: int, user_id: int, blocked: bool, by: int) -> None:
        await self._member(guild_id, user_id, by, "block", "UPDATE members SET blocked = ?", (int(blocked),))

    async def ban(self, user_id: int, reason: str = "") -> bool:
        """Stop a user making videos anywhere (the operator's ban); False if they were banned already."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO bans (user_id, reason, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (user_id, reason, self.clock().timestamp()),
            )
            return cursor.rowcount > 0

    async def unban(self, user_id: int) -> bool:
        """Lift the operator's ban; False if there was none."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM bans WHERE user_id = ?", (user_id,))
            return cursor.rowcount > 0

    async def bans(self) -> list[tuple[int, str, datetime]]:
        """Every banned user, with the reason and when, the latest first."""
        rows = await self.db.fetchall("SELECT user_id, reason, at FROM bans ORDER BY at DESC, user_id")
        return [(row["user_id"], row["reason"], datetime.fromtimestamp(row["at"], UTC)) for row in rows]

    async def reset(self, guild_id: int, user_id: int, by: int) -> None:
        """Give a user today's daily credits back (what they spent before now no longer counts today)."""
        settings = await self.guilds.get(guild_id)
        now = self.clock()
        day, _ = _local_day(now, settings.timezone)
        await self._member(
            guild_id, user_id, by, "reset", "UPDATE members SET reset_day = ?, reset_at = ?", (day, now.timestamp())
        )
