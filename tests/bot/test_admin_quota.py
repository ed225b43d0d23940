"""Quotas and the admin commands, over the wire."""

from __future__ import annotations

from storage.db import Database
from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import animate, ephemeral_answer
from tests.bot.test_video import credits_used, refusal, service_db
from tests.conftest import png_bytes
from tests.fake_discord import GUILD_ID, FakeDiscord

ADMIN = 3001


async def admin(fake: FakeDiscord, sub: str, options: dict, *, user_id: int = ADMIN, is_admin: bool = True) -> str:
    token = await fake.slash("motionbot-admin", options, subcommand=[sub], user_id=user_id, admin=is_admin)
    return await ephemeral_answer(fake, token)


async def followup_text(fake: FakeDiscord, token: str) -> str:
    call = await fake.wait_until(lambda: next(iter(fake.calls_to("POST", f"/webhooks/\\d+/{token}$")), None),
                                 timeout=20, what="the answer")  # fmt: skip
    return str(call.payload["content"])


async def test_admin_commands_are_refused_to_members_even_if_discord_shows_them(
    fake: FakeDiscord, service: BotProcess
) -> None:
    answer = await admin(fake, "set", {"setting": "daily_credits", "value": "1"}, user_id=3002, is_admin=False)
    assert "Manage Server" in answer
    answer = await admin(fake, "status", {}, user_id=3002, is_admin=False)
    assert "Manage Server" in answer
    db = await Database.open(service_db(service))
    try:
        assert await db.fetchall("SELECT * FROM guild_settings") == []
        assert await db.fetchall("SELECT * FROM members") == []
    finally:
        await db.close()


async def test_quota_runs_out_and_says_when_it_resets(fake: FakeDiscord, service: BotProcess) -> None:
    assert "`daily_credits` is now 1" in await admin(fake, "set", {"setting": "daily_credits", "value": "1"})
    await animate(fake, 3101)
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("c.png", png_bytes())}, user_id=3101)
    text = await refusal(fake, token)
    assert "needs 1 credits and you have 0 left" in text and "<t:" in text
    assert await credits_used(service, 3101) == 1
    quota = await fake.slash("quota", {}, user_id=3101)
    assert "**0** credits left" in await followup_text(fake, quota)


async def test_bad_setting_values_get_a_clear_message(fake: FakeDiscord, service: BotProcess) -> None:
    assert "not a time zone" in await admin(fake, "set", {"setting": "timezone", "value": "Mars/Base"})
    assert "whole number" in await admin(fake, "set", {"setting": "cooldown_s", "value": "soon"})


async def test_block_and_status(fake: FakeDiscord, service: BotProcess) -> None:
    db = await Database.open(service_db(service))
    try:
        async with db.transaction() as conn:  # what /motionbot-admin block does, for a user Discord resolves
            await conn.execute("INSERT INTO members (guild_id, user_id, blocked) VALUES (?, 3201, 1)", (GUILD_ID,))
    finally:
        await db.close()
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("c.png", png_bytes())}, user_id=3201)
    assert "not allowed to make videos" in await refusal(fake, token)
    status = await admin(fake, "status", {})
    assert "Workers online: **1**" in status and "gpu-0" in status
