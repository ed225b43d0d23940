from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage.db import Database
from storage.guilds import DM, Guilds
from storage.quotas import (
    MAX_GRANTED,
    STANDARD_COST,
    Blocked,
    CoolingDown,
    QuotaExceeded,
    Quotas,
    TooManyQueued,
    job_cost,
)
from storage.settings import StorageSettings
from tests.storage.conftest import Clock

G, U, ADMIN = 1001, 42, 7


def test_a_standard_svd_xt_clip_costs_ten_credits() -> None:
    assert job_cost(1024, 576, 25, 25) == STANDARD_COST == 10
    assert job_cost(1024, 576, 14, 25) == 6  # SVD: 14 frames
    assert job_cost(512, 512, 16, 25, factor=1.5) == 5  # AnimateDiff
    assert job_cost(512, 512, 16, 4, factor=1.5) == 1  # Lightning: never free
    assert job_cost(64, 64, 4, 2) == 1
    assert job_cost(1024, 576, 25, 50) == 20


async def test_hundred_concurrent_reserves_never_overspend(quotas: Quotas) -> None:
    async def attempt(index: int) -> bool:
        try:
            await quotas.reserve(f"job{index}", G, U, 10)
            return True
        except QuotaExceeded:
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(100)))
    assert sum(results) == 15
    status = await quotas.status(G, U)
    assert (status.used, status.left) == (150, 0)


async def test_double_and_concurrent_commit_and_refund_settle_once(quotas: Quotas, db: Database) -> None:
    await quotas.reserve("a", G, U, 10)
    outcomes = await asyncio.gather(quotas.commit("a"), quotas.refund("a"), quotas.commit("a"), quotas.refund("a"))
    assert sum(outcomes) == 1
    (state,) = (await db.fetchone("SELECT state FROM reservations WHERE job_id = 'a'"))[0:1]
    assert state == ("committed" if outcomes[0] else "refunded")
    assert (await quotas.status(G, U)).used == (10 if state == "committed" else 0)


async def test_settling_is_idempotent_after_a_restart(tmp_path, guilds: Guilds, clock: Clock) -> None:
    path = tmp_path / "restart.db"
    db = await Database.open(path)
    quotas = Quotas(db, Guilds(db, guilds.defaults), clock)
    await quotas.reserve("r1", G, U, 10)
    await quotas.reserve("r2", G, U, 10)
    assert await quotas.commit("r1") and await quotas.refund("r2")
    await db.close()
    db = await Database.open(path)
    quotas = Quotas(db, Guilds(db, guilds.defaults), clock)
    assert not await quotas.commit("r1") and not await quotas.refund("r1")
    assert not await quotas.refund("r2") and not await quotas.commit("r2")
    assert (await quotas.status(G, U)).used == 10
    await db.close()


async def test_reserving_the_same_job_twice_charges_once(quotas: Quotas) -> None:
    await quotas.reserve("same", G, U, 10)
    await quotas.reserve("same", G, U, 10)
    assert (await quotas.status(G, U)).used == 10


async def test_refused_reservation_says_what_is_left_and_when_it_resets(quotas: Quotas) -> None:
    await quotas.reserve("big", G, U, 145)
    with pytest.raises(QuotaExceeded) as refused:
        await quotas.reserve("more", G, U, 10)
    midnight = int(datetime(2026, 3, 11, tzinfo=UTC).timestamp())
    assert str(refused.value) == f"this needs 10 credits and you have 5 left; your credits reset <t:{midnight}:R>"
    await quotas.reserve("rest", G, U, 5)
    with pytest.raises(QuotaExceeded) as refused:
        await quotas.reserve("one", G, U, 1)
    assert str(refused.value).startswith("this needs 1 credit and you have 0 left"), "one credit, said as one"


async def test_credits_reset_at_midnight_in_the_server_time_zone(quotas: Quotas, guilds: Guilds, clock: Clock) -> None:
    await guilds.update(G, ADMIN, timezone="America/Los_Angeles")
    clock.now = datetime(2026, 1, 11, 7, 30, tzinfo=UTC)  # 23:30 on the 10th in Los Angeles (PST)
    await quotas.reserve("late", G, U, 150)
    status = await quotas.status(G, U)
    assert status.left == 0
    assert status.resets_at == datetime(2026, 1, 11, 8, 0, tzinfo=UTC)  # local midnight
    clock.advance(minutes=31)  # 00:01 on the 11th there, although UTC was already the 11th before
    assert (await quotas.status(G, U)).left == 150


async def test_reset_follows_daylight_saving(quotas: Quotas, guilds: Guilds, clock: Clock) -> None:
    await guilds.update(G, ADMIN, timezone="Europe/Berlin")
    clock.now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the night of the 29th clocks go forward
    assert (await quotas.status(G, U)).resets_at == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    clock.now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert (await quotas.status(G, U)).resets_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


async def test_the_highest_role_tier_wins_and_tiers_only_raise(quotas: Quotas, guilds: Guilds) -> None:
    for role, credits in {1: 300, 2: 500, 3: 50}.items():
        await guilds.set_role_tier(G, role, credits, ADMIN)
    assert (await quotas.status(G, U, role_ids=[1, 2])).allowance == 500
    assert (await quotas.status(G, U, role_ids=[1])).allowance == 300
    assert (await quotas.status(G, U, role_ids=[3])).allowance == 150
    assert (await quotas.status(G, U, role_ids=[99])).allowance == 150
    await quotas.reserve("tiered", G, U, 400, role_ids=[2])
    with pytest.raises(QuotaExceeded):
        await quotas.reserve("too-much", G, U, 200, role_ids=[2])


async def test_granted_credits_are_spent_after_daily_ones_and_outlive_the_day(quotas: Quotas, clock: Clock) -> None:
    await quotas.grant(G, U, 30, ADMIN)
    await quotas.reserve("a", G, U, 140)
    await quotas.reserve("b", G, U, 20)  # 10 daily + 10 granted
    status = await quotas.status(G, U)
    assert (status.used, status.granted, status.left) == (150, 20, 20)
    assert await quotas.refund("b")  # the granted part goes back to the grant
    assert (await quotas.status(G, U)).granted == 30
    await quotas.reserve("c", G, U, 30)
    clock.advance(days=1)
    status = await quotas.status(G, U)
    assert (status.used, status.granted, status.left) == (0, 10, 160)


async def test_blocked_users_are_refused_until_unblocked(quotas: Quotas) -> None:
    await quotas.block(G, U, True, ADMIN)
    with pytest.raises(Blocked, match="not allowed"):
        await quotas.reserve("x", G, U, 1)
    assert (await quotas.status(G, U)).blocked
    await quotas.block(G, U, False, ADMIN)
    await quotas.reserve("x", G, U, 1)


async def test_the_operators_ban_holds_in_every_server_and_dms_until_lifted(quotas: Quotas) -> None:
    assert await quotas.ban(U, "spam") and not await quotas.ban(U, "again")
    for place in (G, G + 1, DM):
        with pytest.raises(Blocked, match="with this bot"):
            await quotas.reserve(f"x{place}", place, U, 1)
        status = await quotas.status(place, U)
        assert status.blocked and status.banned
    assert not (await quotas.status(G, U + 1)).blocked, "only that user"
    [(who, why, _)] = await quotas.bans()
    assert (who, why) == (U, "spam")
    assert await quotas.unban(U) and not await quotas.unban(U)
    await quotas.reserve("y", DM, U, 1)
    assert await quotas.bans() == []


async def test_admin_reset_gives_back_todays_credits(quotas: Quotas, clock: Clock) -> None:
    await quotas.reserve("all", G, U, 150)
    clock.advance(seconds=1)
    await quotas.reset(G, U, ADMIN)
    clock.advance(seconds=1)
    assert (await quotas.status(G, U)).left == 150
    await quotas.reserve("again", G, U, 150)


async def test_cooldown_between_jobs(quotas: Quotas, guilds: Guilds, clock: Clock) -> None:
    await guilds.update(G, ADMIN, cooldown_s=60)
    await quotas.reserve("first", G, U, 1)
    clock.advance(seconds=20)
    with pytest.raises(CoolingDown, match=r"another video <t:\d+:R>") as caught:  # the client counts down
        await quotas.reserve("second", G, U, 1)
    assert caught.value.wait_s == 40
    clock.advance(seconds=40)
    await quotas.reserve("second", G, U, 1)


async def test_max_queued_jobs_per_user(quotas: Quotas, guilds: Guilds) -> None:
    await guilds.update(G, ADMIN, max_queued=2)
    await quotas.reserve("q1", G, U, 1)
    await quotas.reserve("q2", G, U, 1)
    with pytest.raises(TooManyQueued, match="limit is 2"):
        await quotas.reserve("q3", G, U, 1)
    await quotas.commit("q1")
    await quotas.reserve("q3", G, U, 1)


async def test_direct_messages_use_the_global_dm_allowance(quotas: Quotas) -> None:
    assert (await quotas.status(DM, U)).allowance == 50
    await quotas.reserve("dm", DM, U, 50)
    with pytest.raises(QuotaExceeded):
        await quotas.reserve("dm2", DM, U, 1)
    assert (await quotas.status(G, U)).left == 150  # servers are separate


async def test_sweep_refunds_only_lost_jobs(quotas: Quotas, clock: Clock) -> None:
    for job in ("alive", "lost", "delivered"):
        await quotas.reserve(job, G, U, 10)
    await quotas.commit("delivered")
    clock.advance(minutes=5)

    async def is_lost(job_id: str) -> bool:
        return job_id != "alive"

    assert await quotas.sweep(is_lost, older_than_s=600) == []  # not old enough
    assert await quotas.sweep(is_lost, older_than_s=60) == ["lost"]
    assert await quotas.sweep(is_lost, older_than_s=60) == []
    assert (await quotas.status(G, U)).used == 20


async def test_sweep_refunds_what_was_held_before_a_moment_however_recent(quotas: Quotas, clock: Clock) -> None:
    await quotas.reserve("before", G, U, 10)
    started = clock().timestamp()
    clock.advance(minutes=1)
    await quotas.reserve("after", G, U, 10)

    async def is_lost(job_id: str) -> bool:
        return True

    assert await quotas.sweep(is_lost, older_than_s=3600, made_before=started) == ["before"]


async def test_granted_credits_taken_back_while_a_job_held_them_are_not_refunded(quotas: Quotas) -> None:
    await quotas.grant(G, U, 30, ADMIN)
    await quotas.reserve("a", G, U, 150 + 20)  # all daily credits and 20 of the granted ones
    await quotas.grant(G, U, -30, ADMIN)  # the admin takes the whole grant back, 20 of it held by "a"
    assert await quotas.refund("a")
    assert (await quotas.status(G, U)).granted == 0


async def test_grants_have_an_upper_bound(quotas: Quotas) -> None:
    for _ in range(3):
        await quotas.grant(G, U, 9_000_000, ADMIN)
    assert (await quotas.status(G, U)).granted == MAX_GRANTED


async def test_a_clock_stepped_back_across_midnight_gives_no_second_allowance(quotas: Quotas, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 11, 0, 5, tzinfo=UTC)
    await quotas.reserve("today", G, U, 150)
    clock.now = datetime(2026, 3, 10, 23, 55, tzinfo=UTC)  # NTP steps the clock back ten minutes
    with pytest.raises(QuotaExceeded):
        await quotas.reserve("again", G, U, 10)


async def test_a_whole_server_has_a_cap_on_jobs_on_the_way(db: Database, clock: Clock) -> None:
    defaults = StorageSettings(_env_file=None, max_queued_per_server=3)  # type: ignore[call-arg]
    quotas = Quotas(db, Guilds(db, defaults), clock)
    for user in range(3):
        await quotas.reserve(f"j{user}", G, 100 + user, 1)
    with pytest.raises(TooManyQueued, match="this server already has 3 videos"):
        await quotas.reserve("j3", G, 200, 1)
    await quotas.reserve("elsewhere", G + 1, 200, 1)  # another server is not affected
    assert await quotas.commit("j0")
    await quotas.reserve("j3", G, 200, 1)
