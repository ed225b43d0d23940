"""The job ledger: every job's state machine and what the bot needs to deliver it after a restart.

queued -> running -> delivered | failed | cancelled     (queued may also end directly)
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database

__all__ = ["FINAL", "InvalidTransition", "JobRecord", "JobState", "Ledger"]


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED})
_ALLOWED = {
    JobState.QUEUED: {JobState.RUNNING, *FINAL},
    JobState.RUNNING: set(FINAL),
}


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    guild_id: int  # 0 for direct messages
    channel_id: int
    user_id: int
    kind: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    state: JobState = JobState.QUEUED
    cost: int = 0
    application_id: int | None = None
    interaction_token: str | None = None
    token_expires_at: float | None = None
    status_message_id: int | None = None
    result_message_id: int | None = None
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None  # what the delivered clip is: frames, fps, width, height, seed, …
    locale: str = "en-US"  # the requester's language (Discord's locale): their status and result messages

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        data = dict(row)
        result = json.loads(data["result"]) if data.get("result") else None
        return cls(
            **{**data, "options": json.loads(data["options"]), "state": JobState(data["state"]), "result": result}
        )


_COLUMNS = [name for name in JobRecord.__dataclass_fields__]


class Ledger:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, record: JobRecord) -> bool:
        """Record a new job; False if it is already there (adding twice is harmless)."""
        values = {
            **record.__dict__,
            "options": json.dumps(record.options),
            "state": record.state.value,
            "result": json.dumps(record.result) if record.result is not None else None,
        }
        values["created_at"] = record.created_at or time.time()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"INSERT OR IGNORE INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [values[name] for name in _COLUMNS],
            )
            return cursor.rowcount == 1

    async def get(self, job_id: str) -> JobRecord | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        return JobRecord.from_row(row) if row is not None else None

    async def transition(self, job_id: str, state: JobState, error: str | None = None) -> bool:
        """Move a job to `state`. True if this call moved it; False if it was already there.
        Raises InvalidTransition for a move the state machine forbids (e.g. out of a final state)."""
        now = time.time()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise InvalidTransition(f"no job {job_id}")
            current = JobState(row["state"])
            if current == state:
                return False
            if state not in _ALLOWED.get(current, set()):
                raise InvalidTransition(f"job {job_id} cannot go from {current} to {state}")
            stamp = "started_at" if state is JobState.RUNNING else "finished_at"
            token = ", interaction_token = NULL" if state in FINAL else ""  # the token is not kept past the end
            await conn.execute(
                f"UPDATE jobs SET state = ?, {stamp} = ?, error = COALESCE(?, error){token} WHERE job_id = ?",
                (state.value, now, error, job_id),
            )
            return True

    async def set_messages(
        self, job_id: str, *, status_message_id: int | None = None, result_message_id: int | None = None
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET status_message_id = COALESCE(?, status_message_id), "
                "result_message_id = COALESCE(?, result_message_id) WHERE job_id = ?",
                (status_message_id, result_message_id, job_id),
            )

    async def set_result(self, job_id: str, result: dict[str, Any]) -> None:
        """Remember what a delivered clip is."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE jobs SET result = ? WHERE job_id = ?", (json.dumps(result), job_id))

    async def recent(
        self, user_id: int, limit: int = 10, guild_id: int | None = None, skip: int = 0
    ) -> list[JobRecord]:
        """A user's latest jobs, newest first (in one server, or everywhere), after the newest `skip`."""
        where, params = "user_id = ?", [user_id]
        if guild_id is not None:
            where, params = where + " AND guild_id = ?", [*params, guild_id]
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            [*params, limit, skip],
        )
        return [JobRecord.from_row(row) for row in rows]

    async def unfinished(self, user_id: int | None = None, guild_id: int | None = None) -> list[JobRecord]:
        """Jobs queued or running, oldest first: what the bot re-attaches to after a restart (or one user's, or
        one server's)."""
        given = {column: value for column, value in (("user_id", user_id), ("guild_id", guild_id)) if value is not None}
        where = "".join(f" AND {column} = ?" for column in given)
        params = list(given.values())
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE state IN ('queued', 'running'){where} ORDER BY created_at", params
        )
        return [JobRecord.from_row(row) for row in rows]

    async def usage(self, guild_id: int, since: float) -> dict[str, Any]:
        """A server's jobs since a time: counts by state, credits charged by model, distinct users."""
        rows = await self.db.fetchall(
            "SELECT state, model, COUNT(*) AS jobs, SUM(cost) AS credits, COUNT(DISTINCT user_id) AS users "
            "FROM jobs WHERE guild_id = ? AND created_at >= ? GROUP BY state, model",
            (guild_id, since),
        )
        by_state: dict[str, int] = {}
        credits: dict[str, int] = {}
        for row in rows:
            by_state[row["state"]] = by_state.get(row["state"], 0) + row["jobs"]
            if row["state"] == JobState.DELIVERED:
                credits[row["model"]] = credits.get(row["model"], 0) + (row["credits"] or 0)
        users = await self.db.fetchone(
            "SELECT COUNT(DISTINCT user_id) FROM jobs WHERE guild_id = ? AND created_at >= ?", (guild_id, since)
        )
        return {"jobs": by_state, "credits_by_model": credits, "users": users[0] if users else 0}
