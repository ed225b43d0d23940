from __future__ import annotations

import pytest

from storage.db import Database
from storage.jobs import InvalidTransition, JobRecord, JobState, Ledger


def record(job_id: str, user: int = 3, guild: int = 1, **changes: object) -> JobRecord:
    values: dict = dict(
        job_id=job_id,
        guild_id=guild,
        channel_id=2,
        user_id=user,
        kind="image-to-video",
        model="svd-xt",
        options={"prompt": "a fox", "motion": 3},
        cost=10,
        application_id=55,
        interaction_token="secret-token",
        token_expires_at=900.0,
    )
    return JobRecord(**(values | changes))


async def test_a_job_goes_through_its_states_and_drops_its_token_at_the_end(db: Database) -> None:
    ledger = Ledger(db)
    assert await ledger.add(record("j"))
    assert not await ledger.add(record("j"))
    assert await ledger.transition("j", JobState.RUNNING)
    assert not await ledger.transition("j", JobState.RUNNING)  # again: no-op
    assert await ledger.transition("j", JobState.DELIVERED)
    job = await ledger.get("j")
    assert job.state is JobState.DELIVERED and job.started_at and job.finished_at
    assert job.interaction_token is None and job.options == {"prompt": "a fox", "motion": 3}


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ([JobState.DELIVERED], JobState.RUNNING),
        ([JobState.FAILED], JobState.DELIVERED),
        ([JobState.CANCELLED], JobState.QUEUED),
        ([JobState.RUNNING], JobState.QUEUED),
    ],
)
async def test_forbidden_transitions_raise(db: Database, path: list[JobState], bad: JobState) -> None:
    ledger = Ledger(db)
    await ledger.add(record("j"))
    for state in path:
        await ledger.transition("j", state)
    with pytest.raises(InvalidTransition):
        await ledger.transition("j", bad)


async def test_failure_reason_is_kept(db: Database) -> None:
    ledger = Ledger(db)
    await ledger.add(record("f"))
    await ledger.transition("f", JobState.FAILED, error="out of GPU memory")
    assert (await ledger.get("f")).error == "out of GPU memory"


async def test_recent_unfinished_and_usage_queries(db: Database) -> None:
    ledger = Ledger(db)
    for index, state in enumerate([JobState.QUEUED, JobState.RUNNING, JobState.DELIVERED, JobState.FAILED]):
        await ledger.add(record(f"j{index}", created_at=100.0 + index))
        if state is not JobState.QUEUED:
            if state is not JobState.FAILED:
                await ledger.transition(f"j{index}", JobState.RUNNING)
            if state in (JobState.DELIVERED, JobState.FAILED):
                await ledger.transition(f"j{index}", state)
    await ledger.add(record("elsewhere", user=4, guild=9, created_at=200.0))
    assert [j.job_id for j in await ledger.recent(3, limit=3)] == ["j3", "j2", "j1"]
    assert [j.job_id for j in await ledger.unfinished()] == ["j0", "j1", "elsewhere"]
    assert [j.job_id for j in await ledger.unfinished(user_id=4)] == ["elsewhere"], "one user's, however old"
    assert [j.job_id for j in await ledger.unfinished(guild_id=9)] == ["elsewhere"], "one server's"
    assert [j.job_id for j in await ledger.unfinished(user_id=3, guild_id=9)] == []
    usage = await ledger.usage(1, since=0)
    assert usage == {
        "jobs": {"queued": 1, "running": 1, "delivered": 1, "failed": 1},
        "credits_by_model": {"svd-xt": 10},
        "users": 1,
    }
