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


async def test_a_mention_left_unanswered_is_taken_with_its_channel_unless_a_job_replies_to_it(db: Database) -> None:
    pending = PendingRequests(db)
    for message_id in (41, 42):
        await pending.add(PendingRequest.mention(7, message_id, 2, "ko", time.time() + 900))
    record = JobRecord("j2", 1, 7, 2, "image-to-video", "svd", options={"reply_to": 42}, cost=1)
    await Ledger(db).add(record)  # the bot was killed after writing the job of the second, before answering it
    [left] = await pending.left_before(time.time())
    assert (left.channel_id, left.message_id, left.locale, left.application_id) == (7, 41, "ko", 0)


async def test_requests_past_their_token_are_pruned(db: Database) -> None:
    pending = PendingRequests(db)
    await pending.add(request("stale", expires_in_s=-1))  # its handler failed: never answered
    await pending.add(request("fresh"))
    await pending.prune()
    rows = await db.fetchall("SELECT token FROM pending_requests")
    assert [row[0] for row in rows] == ["fresh"]
