from __future__ import annotations

from storage.db import Database
from storage.inputs import Inputs
from storage.jobs import JobState, Ledger
from storage.moderation import Moderation, ModerationEvent
from storage.quotas import Quotas
from storage.users import Kept, Users
from tests.storage.conftest import Clock
from tests.storage.test_ledger import record

ME, THEM = 3, 4


async def delivered(ledger: Ledger, job_id: str, user: int, message: int | None = 900) -> None:
    await ledger.add(record(job_id, user=user))
    await ledger.transition(job_id, JobState.RUNNING)
    await ledger.transition(job_id, JobState.DELIVERED)
    await ledger.set_messages(job_id, result_message_id=message)


async def test_forgetting_a_user_keeps_todays_credits_their_clips_ownership_and_the_servers_records(
    db: Database, quotas: Quotas, clock: Clock
) -> None:
    ledger, inputs, users = Ledger(db), Inputs(db, 10**6, 10**6), Users(db, clock)
    await quotas.reserve("old", 1, ME, 10)
    await quotas.commit("old")
    clock.advance(days=3)
    await delivered(ledger, "old", ME)
    await delivered(ledger, "clip", ME)
    await delivered(ledger, "gone", ME)
    await ledger.set_result("gone", {"deleted": True})  # its Delete button was pressed
    await delivered(ledger, "theirs", THEM)
    await quotas.reserve("clip", 1, ME, 7)
    await quotas.commit("clip")
    shared = b"the same picture"
    await inputs.put("clip", shared, 1, ME)
    await inputs.put("theirs", shared, 1, THEM)  # the other user's copy stays
    await inputs.put("gone", b"mine alone", 1, ME)
    await quotas.grant(1, ME, 5, by=THEM)
    await Moderation(db).record(ModerationEvent(1, 2, ME, "prompt", "refused", "blocked word", "a prompt"))
    await users.prefer(ME, "-ar 9:16 -gif")
    await users.prefer(THEM, "-fast")

    before = await users.kept(ME)
    assert before == Kept(
        requests=3, on_the_way=0, files=2, file_bytes=26, moderation=1, servers=1, preferences="-ar 9:16 -gif"
    )
    assert await users.forget(ME) == before
    assert await users.kept(ME) == Kept(requests=0, on_the_way=0, files=0, file_bytes=0, moderation=1, servers=1)
    assert await users.preferences(THEM) == "-fast"
    assert await ledger.recent(ME) == [] and await ledger.get("theirs") is not None
    assert await inputs.get("clip") is None and await inputs.get("theirs") == shared
    assert (await quotas.status(1, ME)).used == 7, "today's use still counts"
    rows = await db.fetchall("SELECT job_id FROM reservations WHERE user_id = ?", (ME,))
    assert [row[0] for row in rows] == ["clip"], "three days old: forgotten"
    assert (await quotas.status(1, ME)).granted == 5
    assert await users.clip_owner("clip") == (1, ME) and await users.clip_owner("old") == (1, ME)
    assert await users.clip_owner("gone") is None and await users.clip_owner("theirs") is None
    await users.clip_deleted("clip")
    assert await users.clip_owner("clip") is None


async def test_a_user_with_a_video_on_the_way_is_not_forgotten(db: Database) -> None:
    ledger, users = Ledger(db), Users(db)
    await ledger.add(record("waiting", user=ME))
    await delivered(ledger, "done", ME)
    assert await users.forget(ME) is None
    assert (await users.kept(ME)).requests == 2 and await ledger.get("done") is not None
    await ledger.transition("waiting", JobState.CANCELLED)
    assert (await users.forget(ME)) is not None and await ledger.get("waiting") is None


async def test_preferences_are_saved_replaced_and_cleared(db: Database) -> None:
    users = Users(db)
    assert await users.preferences(ME) == ""
    await users.prefer(ME, "-gif")
    await users.prefer(ME, "-ar 9:16")
    assert await users.preferences(ME) == "-ar 9:16"
    await users.prefer(ME, "")
    assert await users.preferences(ME) == ""


async def test_requests_that_ended_before_the_retention_go_with_their_credit_use(
    db: Database, quotas: Quotas, clock: Clock
) -> None:
    ledger, users = Ledger(db), Users(db, clock)
    await quotas.reserve("old", 1, ME, 10)
    await quotas.commit("old")
    await delivered(ledger, "old", ME)
    async with db.transaction() as conn:  # it ended on the clock's day
        await conn.execute("UPDATE jobs SET finished_at = ?", (clock().timestamp(),))
    await ledger.add(record("waiting", user=THEM))  # queued since then: still on its way
    clock.advance(days=91)
    await delivered(ledger, "new", THEM)
    await quotas.reserve("new", 1, THEM, 3)
    assert await users.prune(90 * 86400) == 1
    assert await ledger.get("old") is None and await ledger.get("waiting") and await ledger.get("new")
    rows = await db.fetchall("SELECT job_id FROM reservations")
    assert [row[0] for row in rows] == ["new"]
    assert await users.clip_owner("old") == (1, ME), "its Delete button still works for its owner"


async def test_whose_clip_is_kept_a_year_after_the_clip(db: Database, clock: Clock) -> None:
    ledger, users = Ledger(db), Users(db, clock)
    await delivered(ledger, "clip", ME)
    async with db.transaction() as conn:  # made on the clock's day
        await conn.execute("UPDATE jobs SET finished_at = ?", (clock().timestamp(),))
    await users.forget(ME)
    clock.advance(days=364)
    await users.prune(90 * 86400)
    assert await users.clip_owner("clip") == (1, ME), "its Delete button works for its owner for a year"
    clock.advance(days=2)
    await users.prune(90 * 86400)
    assert await users.clip_owner("clip") is None, "then it is forgotten too"
