from __future__ import annotations

import time

from storage.db import Database
from storage.jobs import JobRecord, Ledger
from storage.pending import PendingRequest, PendingRequests


def request(token: str, expires_in_s: float = 900) -> PendingRequest:
    return PendingRequest(token, 1, 2, 3, "ja", time.time() + expires_in_s)


async def test_a_start_takes_what_was_left_unanswered_before_it_except_what_became_a_job(db: Database) -> None:
    pending = PendingRequests(db)
    for token in ("dropped", "queued", "expired", "answered"):
        await pending.add(request(token, expires_in_s=-1 if token == "expired" else 900))
    await pending.answered("answered")
    await Ledger(db).add(
        JobRecord(
            job_id="j1",
            guild_id=1,
            channel_id=1,
            user_id=2,
            kind="image-to-video",
            model="svd",
            options={},
            cost=1,
            interaction_token="queued",
        )
    )
    started = time.time()
    await pending.add(request("after the start"))
    assert [r.token for r in await pending.left_before(started)] == ["dropped"]
    assert await pending.left_before(started) == []  # taken once
    assert [r.token for r in await pending.left_before(time.time())] == ["after the start"]


async def test_requests_past_their_token_are_pruned(db: Database) -> None:
    pending = PendingRequests(db)
    await pending.add(request("stale", expires_in_s=-1))  # its handler failed: never answered
    await pending.add(request("fresh"))
    await pending.prune()
    rows = await db.fetchall("SELECT token FROM pending_requests")
    assert [row[0] for row in rows] == ["fresh"]
