"""Quotas, the admin commands, /history, /preferences and /privacy, over the wire."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.exts.quota import HISTORY
from bot.exts.video._reports import REPORTS_A_MINUTE
from generation.jobs import JobKind, VideoJob
from storage.db import Database
from storage.jobs import JobRecord, Ledger
from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import animate, button, ephemeral_answer, followup_text, private_answer
from tests.bot.test_video import credits_used, decode, delivered, refusal, service_db
from tests.conftest import png_bytes
from tests.fake_discord import (
    BOT_ID,
    CATEGORY_ID,
    CHANNEL_ID,
    FORUM_ID,
    FORUM_POST_ID,
    GUILD_ID,
    MANAGER_PERMISSIONS,
    MODLOG_CHANNEL_ID,
    STUDIO_CHANNEL_ID,
    THREAD_ID,
    ChannelRef,
    FakeDiscord,
    Message,
    RoleRef,
    UserRef,
    user_payload,
)
from tests.storage.test_backup import operator
from tests.support import RedisServer

ADMIN = 3001


async def admin(fake: FakeDiscord, sub: str, options: dict, *, user_id: int = ADMIN, is_admin: bool = True) -> str:
    token = await fake.slash("motionbot-admin", options, subcommand=[sub], user_id=user_id, admin=is_admin)
    return await private_answer(fake, token)


async def stored(service: BotProcess, sql: str) -> list[Any]:
    """The rows `sql` finds in the bot's database."""
    db = await Database.open(service_db(service))
    try:
        return list(await db.fetchall(sql))
    finally:
        await db.close()


async def test_admin_commands_are_refused_to_members_even_if_discord_shows_them(
    fake: FakeDiscord, service: BotProcess
) -> None:
    answer = await admin(fake, "set", {"setting": "daily_credits", "value": "1"}, user_id=3002, is_admin=False)
    assert "Manage Server" in answer
    answer = await admin(fake, "status", {}, user_id=3002, is_admin=False)
    assert "Manage Server" in answer
    assert await stored(service, "SELECT * FROM guild_settings") == []
    assert await stored(service, "SELECT * FROM members") == []


async def test_videos_allowed_in_a_channel_are_made_in_its_threads_a_forums_posts_and_a_categorys_channels(
    fake: FakeDiscord, service: BotProcess
) -> None:
    async def asked_in(channel: int) -> Message | str:
        """The status message of a request taken in, or the refusal."""
        token = await fake.slash("imagine-video", {"prompt": "a kite"}, user_id=3050, channel_id=channel)

        def answer() -> Message | str | None:
            if (status := fake.response_to(token)) is not None and "<@3050>" in status.content:
                return status  # its headline, in every stage it shows (queued, rendering, the clip)
            return next((c.payload["content"] for c in fake.calls_to("POST", f"/webhooks/\\d+/{token}$")), None)

        return await fake.wait_until(answer, what="an answer")

    for place in (CATEGORY_ID, FORUM_ID):
        assert "Videos allowed in" in await admin(fake, "channels", {"action": "add", "channel": ChannelRef(place)})
    try:
        for place in (STUDIO_CHANNEL_ID, FORUM_POST_ID):
            assert isinstance(await asked_in(place), Message), "in the category's channel, in the forum's post"
        for place in (CHANNEL_ID, THREAD_ID):
            assert "can't make videos in this channel" in str(await asked_in(place)), "elsewhere: refused"
        await admin(fake, "channels", {"action": "add", "channel": ChannelRef(CHANNEL_ID)})
        assert isinstance(await asked_in(THREAD_ID), Message), "a thread of an allowed channel"
    finally:
        assert "every channel" in await admin(fake, "channels", {"action": "clear"})


async def test_quota_runs_out_and_says_when_it_resets(fake: FakeDiscord, service: BotProcess) -> None:
    assert "`daily_credits` is now 1" in await admin(fake, "set", {"setting": "daily_credits", "value": "1"})
    await animate(fake, 3101)
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("c.png", png_bytes())}, user_id=3101)
    text = await refusal(fake, token)
    assert "needs 1 credit and you have 0 left" in text and "<t:" in text
    assert await credits_used(service, 3101) == 1
    quota = await fake.slash("quota", {}, user_id=3101)
    assert "left today: **0**" in await followup_text(fake, quota)


async def test_bad_setting_values_get_a_clear_message(fake: FakeDiscord, service: BotProcess) -> None:
    assert "not a time zone" in await admin(fake, "set", {"setting": "timezone", "value": "Mars/Base"})
    assert "whole number" in await admin(fake, "set", {"setting": "cooldown_s", "value": "soon"})


async def test_settings_are_shown_as_an_admin_types_them(fake: FakeDiscord, service: BotProcess) -> None:
    assert "`max_frames` is now 48." in await admin(fake, "set", {"setting": "max_frames", "value": "48"})
    assert "`max_frames`: 48" in await admin(fake, "settings", {})
    assert "`max_frames` is now none." in await admin(fake, "set", {"setting": "max_frames", "value": "none"})
    assert "`enabled` is now off." in await admin(fake, "set", {"setting": "enabled", "value": "no"})
    shown = await admin(fake, "settings", {})
    assert "`max_frames`: none" in shown and "`enabled`: off" in shown and "`language`: auto" in shown
    assert "`enabled` is now on." in await admin(fake, "set", {"setting": "enabled", "value": "yes"})


async def quota_of(fake: FakeDiscord, user_id: int, roles: list[int] | None = None) -> str:
    return await followup_text(fake, await fake.slash("quota", {}, user_id=user_id, roles=roles))


def quoted(text: str, command: str) -> tuple[int, str] | None:
    """The credits and the model /quota says a clip with no options costs on `command`."""
    found = re.search(rf"`/{command}` with no options: (\d+) credits? \(`([\w-]+)`\)", text)
    return (int(found[1]), found[2]) if found else None


async def test_quota_quotes_what_a_clip_with_no_options_costs_here_and_charges_that(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})  # earlier tests lowered it
    assert quoted(await quota_of(fake, 3651), "imagine-video") == (1, "animatediff")
    illusion = quoted(await quota_of(fake, 3650), "illusion")
    assert illusion is not None and illusion[1] == "animatediff"
    await delivered(fake, await fake.slash("illusion", {"prompt": "a forest", "text": "HI"}, user_id=3650))
    assert await credits_used(service, 3650) == illusion[0], "charged what /quota said"
    cast = quoted(await quota_of(fake, 3653), "ingredients")
    assert cast is not None and cast[1] == "wan-vace"
    picture = {"image": fake.upload("cat.png", png_bytes())}
    await delivered(fake, await fake.slash("ingredients", {"prompt": "a cat"}, attachments=picture, user_id=3653))
    assert await credits_used(service, 3653) == cast[0], "charged what /quota said"
    for enabled, user in (("all", 3651), ("svd", 3652)):  # `svd` costs more here (conftest.PRICED)
        await admin(fake, "models", {"enabled": enabled})
        try:
            text = await quota_of(fake, user)
            said = quoted(text, "animate")
            assert said is not None and said[1] == ("svd" if enabled == "svd" else "svd-xt"), text
            assert "with a prompt" not in text, "a prompted picture runs on the same model here (conftest.ON_SVD)"
            if enabled == "svd":
                assert said[0] > 1 and quoted(text, "imagine-video") is None, "svd makes no clip from words"
            image = fake.upload("q.png", png_bytes())
            await delivered(fake, await fake.slash("animate", {}, attachments={"image": image}, user_id=user))
            assert await credits_used(service, user) == said[0], "charged what /quota said"
        finally:
            await admin(fake, "models", {"enabled": "all"})


async def test_quota_and_a_refusal_for_credits_count_the_default_flags(fake: FakeDiscord, service: BotProcess) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})
    before = await quota_of(fake, 3655)
    assert quoted(before, "animate") == (1, "svd-xt") and "default flags" not in before
    assert "Saved" in await followup_text(fake, await fake.slash("preferences", {"flags": "-model svd"}, user_id=3655))
    text = await quota_of(fake, 3655)
    said = quoted(text, "animate")
    assert said is not None and said[0] > 1 and said[1] == "svd", text  # `svd` costs more here (conftest.PRICED)
    assert quoted(text, "imagine-video") == (1, "animatediff"), "svd makes no clip from words: left out there"
    assert "These prices count your default flags `-model svd`" in text
    await admin(fake, "set", {"setting": "daily_credits", "value": str(said[0] - 1)})
    try:
        image = fake.upload("q.png", png_bytes())
        token = await fake.slash("animate", {}, attachments={"image": image}, user_id=3655)
        said_no = await refusal(fake, token)
        assert f"this needs {said[0]} credits" in said_no and "default flags `-model svd`" in said_no, said_no
    finally:
        await admin(fake, "set", {"setting": "daily_credits", "value": "150"})
        await followup_text(fake, await fake.slash("preferences", {"flags": "none"}, user_id=3655))


async def test_block_from_the_command_refuses_videos_and_unblock_allows_them(
    fake: FakeDiscord, service: BotProcess
) -> None:
    assert "<@3201> is blocked" in await admin(fake, "block", {"user": UserRef(3201)})
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("c.png", png_bytes())}, user_id=3201)
    assert "not allowed to make videos" in await refusal(fake, token)
    assert "blocked" in await quota_of(fake, 3201)
    _, theirs = await animate(fake, 3204)  # someone else's clip: its buttons are refused too, nothing fetched
    [name] = theirs.files
    pressed = await fake.click(theirs, button(theirs, "gif"), user_id=3201)
    assert "not allowed to make videos" in await followup_text(fake, pressed)
    assert not [fetched for fetched in fake.fetched if name in fetched], "the clip was not downloaded"
    assert "allowed again" in await admin(fake, "block", {"user": UserRef(3201), "blocked": False})
    assert "blocked" not in await quota_of(fake, 3201)
    # Someone who already left the server can be blocked too (Discord resolves a user, not a member).
    assert "<@3202> is blocked" in await admin(fake, "block", {"user": UserRef(3202, in_server=False)})
    # What a user blocked for abuse asked for before stops too, refunded.
    image = fake.upload("s.png", png_bytes())
    slow = await fake.slash("animate", {"prompt": "a slow owl -steps 60"}, attachments={"image": image}, user_id=3203)
    status = await fake.wait_until(lambda: (m := fake.response_to(slow)) and m.buttons() and m, what="the status")
    said = await admin(fake, "block", {"user": UserRef(3203)})
    assert "<@3203> is blocked. Their videos on the way here are cancelled and refunded: 1." in said, said
    await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancel")
    assert await credits_used(service, 3203) == 0
    await admin(fake, "block", {"user": UserRef(3203), "blocked": False})


async def test_the_operators_ban_stops_a_user_everywhere_at_once_and_lifting_it_lets_them_back(
    fake: FakeDiscord, service: BotProcess, redis_server: RedisServer
) -> None:
    database = Path(service_db(service))
    image = fake.upload("s.png", png_bytes())
    slow = await fake.slash("animate", {"prompt": "a slow owl -steps 60"}, attachments={"image": image}, user_id=3251)
    status = await fake.wait_until(lambda: (m := fake.response_to(slow)) and m.buttons() and m, what="the status")
    banned = operator(database, "ban", "3251", "abuse", redis_url=redis_server.url)  # while the bot runs
    assert banned.stdout == "banned 3251; 1 of their videos on the way cancelled (refunded by the bot)\n", banned
    await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancel")
    assert await credits_used(service, 3251) == 0
    picture = fake.upload("c.png", png_bytes())
    token = await fake.slash("animate", {}, attachments={"image": picture}, user_id=3251)
    assert "not allowed to make videos with this bot" in await refusal(fake, token)
    assert picture["url"].rsplit("/", 1)[1] not in fake.fetched, "nothing fetched"
    token = await fake.slash("imagine-video", {"prompt": "a fox"}, user_id=3251, dm=True)
    assert "with this bot" in await refusal(fake, token)
    assert "with this bot" in await quota_of(fake, 3251)
    assert operator(database, "unban", "3251").returncode == 0
    token = await fake.slash("imagine-video", {"prompt": "a fox"}, user_id=3251, dm=True)
    assert (await delivered(fake, token)).files


async def test_grant_reset_and_role_tiers_from_the_commands(fake: FakeDiscord, service: BotProcess) -> None:
    assert "is now 1" in await admin(fake, "set", {"setting": "daily_credits", "value": "1"})
    granted = await admin(fake, "grant", {"user": UserRef(3301), "credits": 7})
    assert "Granted 7 credits to <@3301>; their extra credits: 7 credits." in granted
    taken = await admin(fake, "grant", {"user": UserRef(3301), "credits": -2})
    assert "Took back 2 credits from <@3301>; their extra credits: 5 credits." in taken
    assert "left today: **6**" in await quota_of(fake, 3301) and "plus 5 granted" in await quota_of(fake, 3301)
    await animate(fake, 3302)
    assert "left today: **0**" in await quota_of(fake, 3302)
    assert "has today's credits back" in await admin(fake, "reset", {"user": UserRef(3302)})
    assert "left today: **1**" in await quota_of(fake, 3302)
    assert "40 credits a day" in await admin(fake, "tier", {"role": RoleRef(9001), "credits": 40})
    assert "left today: **40**" in await quota_of(fake, 3303, roles=[9001])
    assert "left today: **1**" in await quota_of(fake, 3304)  # without the role: the server's allowance
    assert "no tier" in await admin(fake, "tier", {"role": RoleRef(9001), "credits": 0})
    assert "left today: **1**" in await quota_of(fake, 3303, roles=[9001])
    assert "<@&9001>" not in await admin(fake, "settings", {})


async def test_member_commands_are_refused_to_members(fake: FakeDiscord, service: BotProcess) -> None:
    for sub, options in [
        ("grant", {"user": UserRef(3401), "credits": 500}),
        ("block", {"user": UserRef(3402)}),
        ("tier", {"role": RoleRef(9002), "credits": 500}),
    ]:
        assert "Manage Server" in await admin(fake, sub, options, user_id=3401, is_admin=False)
    assert "**500**" not in await quota_of(fake, 3401, roles=[9002])
    assert "blocked" not in await quota_of(fake, 3402)


def today(status: str) -> tuple[int, int, int]:
    """The requests, delivered ones and credits /motionbot-admin status counts today."""
    found = re.search(r"requests \*\*(\d+)\*\* · people \d+ · delivered (\d+) · .* · (\d+) credits? spent", status)
    assert found, status
    return int(found[1]), int(found[2]), int(found[3])


async def test_status_lists_workers_and_todays_use(fake: FakeDiscord, service: BotProcess) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})
    day = datetime.now(UTC).date()  # the test server's time zone is UTC
    before = await admin(fake, "status", {})
    assert "GPU workers online: **1**" in before and "gpu-0" in before
    await animate(fake, 3691, "a lantern")
    for _ in range(100):  # the ledger says "delivered" just after the clip is posted
        if await stored(service, "SELECT 1 FROM jobs WHERE user_id = 3691 AND state = 'delivered'"):
            break
        await asyncio.sleep(0.1)
    after = await admin(fake, "status", {})
    if datetime.now(UTC).date() != day:
        pytest.skip("the server's midnight fell between the two readings")
    counted = [b - a for a, b in zip(today(before), today(after), strict=True)]
    assert counted == [1, 1, await credits_used(service, 3691)], after
    assert re.search(r"• svd-xt: \d+ credits? today", after)


async def test_the_admin_queue_names_who_asked_and_links_each_status(fake: FakeDiscord, service: BotProcess) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})
    image = fake.upload("q.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a slow owl -steps 60"}, attachments={"image": image}, user_id=3695)
    status = await fake.wait_until(lambda: (m := fake.response_to(token)) and m.buttons() and m, what="the status")
    listed = await admin(fake, "queue", {})
    assert re.search(r"Videos on the way in this server: \*\*[1-9]", listed), listed
    link = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{status.id}"
    assert f"• <@3695> [`a slow owl`]({link}): " in listed, listed
    # An admin who may manage the server (not its messages) can cancel it there.
    stopped = await fake.click(status, button(status, "cancel"), user_id=3696, admin=MANAGER_PERMISSIONS)
    assert "Stopping" in await followup_text(fake, stopped) or "Removed" in await followup_text(fake, stopped)
    await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancel")


async def test_quota_and_queue_fit_discords_limit_with_long_prompts_queued(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})  # earlier tests lowered it
    statuses = []
    for index in range(3):  # slow renders: one runs, two wait
        prompt = f"{index} " + "a very long prompt " * 52 + " -steps 60"
        image = fake.upload("c.png", png_bytes())
        token = await fake.slash("animate", {"prompt": prompt}, attachments={"image": image}, user_id=3501)
        statuses.append(
            await fake.wait_until(
                lambda t=token: (m := fake.response_to(t)) and m.buttons() and m, timeout=20, what="the status"
            )
        )
    for command in ("quota", "queue", "history"):
        token = await fake.slash(command, {}, user_id=3501)
        text = await followup_text(fake, token)
        assert len(text) <= 2000 and text.count("a very long prompt") >= 3 and "…" in text, text
    for status in statuses:  # free the worker for the next tests
        await fake.click(status, button(status, "cancel"), user_id=3501)
    assert not fake.rejected


async def test_history_links_each_clip_says_how_the_others_ended_and_keeps_to_its_server(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})  # earlier tests lowered it
    _, clip = await animate(fake, 3661, "a heron at dawn")
    image = fake.upload("c.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a slow fox -steps 60"}, attachments={"image": image}, user_id=3661)
    status = await fake.wait_until(lambda: (m := fake.response_to(token)) and m.buttons() and m, what="the status")
    await fake.click(status, button(status, "cancel"), user_id=3661)
    await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancel")
    text = await followup_text(fake, await fake.slash("history", {}, user_id=3661))
    assert f"](https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{clip.id})" in text and "1 credit" in text
    assert "a heron at dawn" in text and "🚫 cancelled (not charged)" in text
    assert text.index("a slow fox") < text.index("a heron at dawn"), "newest first"
    await fake.click(clip, button(clip, "delete"), user_id=3661)
    await fake.wait_until(lambda: clip.id not in fake.messages, what="the deletion")
    text = await followup_text(fake, await fake.slash("history", {}, user_id=3661))
    assert "🗑️ deleted · 1 credit" in text and f"/{clip.id})" not in text, "no link to a clip that is gone"
    elsewhere = await fake.slash("history", {}, user_id=3661, guild_id=799000000000000001)
    assert "You have not asked me for a video here yet" in await followup_text(fake, elsewhere)


async def test_privacy_says_what_is_kept_and_forget_me_deletes_it_but_not_the_clips_delete_button(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})
    _, clip = await animate(fake, 3671, "a lighthouse in fog")
    token = await fake.slash("privacy", {}, user_id=3671)
    text = await followup_text(fake, token)
    assert "**Your requests** (1)" in text and "**Pictures and videos you gave** (1, " in text
    assert "cannot be undone" in text
    [answer] = [m for m in fake.messages.values() if any(b["custom_id"] == "mb:forget:3671" for b in m.buttons())]
    assert "That button is not yours" in await ephemeral_answer(fake, await fake.click(answer, "mb:forget:3671"))
    image = fake.upload("c.png", png_bytes())
    slow = await fake.slash("animate", {"prompt": "a slow owl -steps 60"}, attachments={"image": image}, user_id=3671)
    status = await fake.wait_until(lambda: (m := fake.response_to(slow)) and m.buttons() and m, what="the status")
    pressed = await fake.click(answer, "mb:forget:3671", user_id=3671)
    assert "video on the way" in await ephemeral_answer(fake, pressed)
    await fake.click(status, button(status, "cancel"), user_id=3671)
    await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancel")

    await fake.click(answer, "mb:forget:3671", user_id=3671)
    await fake.wait_until(lambda: "Forgotten: your requests (2) and files (1)" in answer.content, what="the forgetting")
    assert not answer.buttons()
    text = await followup_text(fake, await fake.slash("history", {}, user_id=3671))
    assert "You have not asked me for a video here yet" in text
    assert await stored(service, "SELECT * FROM jobs WHERE user_id = 3671") == []
    assert await stored(service, "SELECT * FROM input_refs WHERE user_id = 3671") == []
    assert "I no longer know that video" in await ephemeral_answer(fake, await fake.click(clip, button(clip, "reroll")))
    refused = await fake.click(clip, button(clip, "delete"), user_id=3672)
    assert "Only the person who asked for it" in await ephemeral_answer(fake, refused)
    await fake.click(clip, button(clip, "delete"), user_id=3671)
    await fake.wait_until(lambda: clip.id not in fake.messages, what="the deletion")
    for _ in range(100):  # the bot forgets whose it was just after Discord deleted the message
        if not await stored(service, "SELECT * FROM clip_owners WHERE user_id = 3671"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the clip's owner is still kept after its deletion")


async def test_preferences_fill_what_a_request_leaves_out_where_it_can_take_them(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})

    async def prefer(flags: str | None) -> str:
        options = {"flags": flags} if flags else {}
        return await followup_text(fake, await fake.slash("preferences", options, user_id=3681))

    async def clip(prompt: str, **typed: str) -> tuple[str, tuple[str, str, int, int, int], str]:
        message = await delivered(fake, await fake.slash("imagine-video", {"prompt": prompt, **typed}, user_id=3681))
        [(name, data)] = [(name, data) for name, data in message.files.items() if name != "preview.gif"]
        return name, decode(data), message.content

    assert "is for one request" in await prefer("-seed 3") and "You have no preferences yet" in await prefer(None)
    assert "✅ Saved your preferences: `-ar 9:16 -gif -loop`" in await prefer("-loop -gif -ar 9:16")
    assert "`-ar 9:16 -gif -loop`" in await prefer(None)
    name, (_, _, width, height, _), echo = await clip("a paper boat -steps 2")
    assert name.endswith(".gif") and height > width, "the preferred GIF, upright"
    assert "-ar 9:16" in echo and "-gif" in echo and "-loop" not in echo, "a loop needs a picture: left out"
    name, (_, _, width, height, _), echo = await clip("a paper boat -steps 2", aspect="16:9")
    assert name.endswith(".gif") and width > height, "what the request sets wins"
    await admin(fake, "models", {"enabled": "animatediff,svd-xt"})
    try:
        assert "`-model ltx` is not enabled in this server" in await prefer("-model ltx -gif")
        name, _, echo = await clip("a paper boat -steps 2")
        assert name.endswith(".gif") and "-model animatediff" in echo, "a model not enabled here: left out"
    finally:
        await admin(fake, "models", {"enabled": "all"})
    assert "Cleared" in await prefer("none")
    name, (_, _, width, height, _), _echo = await clip("a paper boat -steps 2")
    assert name.endswith(".mp4") and width > height

    # The server's own defaults, under each user's preferences.
    refused = await admin(fake, "set", {"setting": "default_flags", "value": "-seed 3"})
    assert "`-seed` is for one request" in refused
    set_ = await admin(fake, "set", {"setting": "default_flags", "value": "-gif -ar 9:16"})
    assert "`default_flags` is now `-ar 9:16 -gif`" in set_
    try:
        assert "This server's own defaults come after yours: `-ar 9:16 -gif`" in await prefer("-ar 1:1")
        name, (_, _, width, height, _), _echo = await clip("a paper boat -steps 2")
        assert name.endswith(".gif") and width == height, "the server's -gif, the user's own -ar 1:1"
    finally:
        await admin(fake, "set", {"setting": "default_flags", "value": "none"})
        await prefer("none")


async def test_a_refused_users_image_is_never_decoded_and_a_damaged_one_costs_nothing(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "set", {"setting": "daily_credits", "value": "150"})
    broken = png_bytes(2000, 2000)[:5000]  # a whole header (2000x2000), then the pixels cut off
    await admin(fake, "block", {"user": UserRef(3601)})
    upload = fake.upload("b.png", broken)
    token = await fake.slash("animate", {}, attachments={"image": upload}, user_id=3601)
    assert "not allowed to make videos" in await refusal(fake, token), "refused before the image is looked at"
    assert upload["url"].rsplit("/", 1)[1] not in fake.fetched, "nor even downloaded"
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("b.png", broken)}, user_id=3602)
    assert "damaged or incomplete" in await refusal(fake, token)
    assert await credits_used(service, 3602) == 0


async def test_credits_out_of_the_declared_range_are_refused_by_the_bot_too(
    fake: FakeDiscord, service: BotProcess
) -> None:
    # Discord's client keeps to the declared ranges, but a request over the API need not.
    assert "`credits` must be 0–1000000, got `-1`" in await admin(fake, "tier", {"role": RoleRef(9101), "credits": -1})
    assert "got `10000000000`" in await admin(fake, "tier", {"role": RoleRef(9101), "credits": 10**10})
    assert "`credits` must be -1000000–1000000" in await admin(
        fake, "grant", {"user": UserRef(3401), "credits": 10**10}
    )
    assert await stored(service, "SELECT * FROM role_tiers WHERE role_id = 9101") == []
    assert await stored(service, "SELECT * FROM members WHERE user_id = 3401 AND granted > 0") == []


async def test_an_answer_discord_keeps_failing_gets_a_short_apology_and_no_traceback(
    fake: FakeDiscord, service: BotProcess
) -> None:
    for _ in range(5):  # discord.py tries an answer five times: each one is rate limited
        fake.fail_next("POST", r"/webhooks/\d+/[^/]+$", 429)
    token = await fake.slash("quota", {}, user_id=2951)
    answer = await fake.wait_until(
        lambda: next((c for c in fake.calls_to("POST", f"/webhooks/\\d+/{token}$") if c.status == 200), None),
        timeout=30,
        what="the answer",
    )
    assert "Discord is having trouble" in answer.payload["content"] and answer.payload["flags"] & 64
    assert "failed: Discord answered 429" in service.output()


async def test_a_member_reports_a_clip_to_the_moderators_once(fake: FakeDiscord, service: BotProcess) -> None:
    _, clip = await animate(fake, 3801, prompt="a rude cat")
    unheard = await fake.context_menu("Report clip", clip.data, user_id=3802)
    assert "no moderation log, so no moderator was told" in await ephemeral_answer(fake, unheard)
    assert "Moderation log: <#" in await admin(fake, "modlog", {"channel": ChannelRef(MODLOG_CHANNEL_ID)})
    try:
        told = await fake.context_menu("Report clip", clip.data, user_id=3803)
        assert "Reported to this server's moderators" in await ephemeral_answer(fake, told)
        entry = await fake.wait_until(
            lambda: next((m.content for m in fake.messages.values() if "<@3803>" in m.content), None),
            what="the moderation log's post",
        )
        [post] = [m for m in fake.messages.values() if "<@3803>" in m.content]
        assert post.data["channel_id"] == str(MODLOG_CHANNEL_ID) and "Clip reported" in entry
        assert "<@3801>" in entry and "a rude cat" in entry
        assert f"/{CHANNEL_ID}/{clip.id}" in entry, "a link to the clip"
        again = await fake.context_menu("Report clip", clip.data, user_id=3803)
        assert "reported this clip already" in await ephemeral_answer(fake, again)

        # The report carries the button that deletes the clip, for moderators only.
        member = await fake.click(post, button(post, "remove"), user_id=3803)
        assert "Only moderators" in await ephemeral_answer(fake, member) and clip.id in fake.messages
        await fake.click(post, button(post, "remove"), user_id=3805, admin=True)
        await fake.wait_until(lambda: clip.id not in fake.messages, what="the clip's deletion")
        await fake.wait_until(lambda: "deleted by <@3805>" in post.content and not post.buttons(), what="the report")
        text = await followup_text(fake, await fake.slash("history", {}, user_id=3801))
        assert "🗑️ deleted" in text
        assert "Moderation today: refused 0 · spoilered 0 · reported 2" in await admin(fake, "status", {})
    finally:
        await admin(fake, "modlog", {})
    theirs = fake.user_message("my picture", user_id=3804, attachments=[fake.upload("p.png", png_bytes())])
    assert "only my clips" in await ephemeral_answer(fake, await fake.context_menu("Report clip", theirs, user_id=3803))
    recorded = await stored(service, "SELECT user_id, result FROM moderation WHERE job_id IS NOT NULL")
    assert sorted(tuple(row) for row in recorded) == [(3801, "reported")] * 2, "both reports recorded"


async def test_a_member_keeps_their_avatar_to_themselves_and_lets_others_animate_it_again(
    fake: FakeDiscord, service: BotProcess
) -> None:
    fake.cdn["/avatars/3901/e4a1.png"] = png_bytes(color=(30, 90, 200))
    await followup_text(fake, await fake.slash("privacy", {}, user_id=3901))
    [answer] = [m for m in fake.messages.values() if any(b["custom_id"] == "mb:avatar:3901:1" for b in m.buttons())]
    assert "That button is not yours" in await ephemeral_answer(fake, await fake.click(answer, "mb:avatar:3901:1"))
    await fake.click(answer, "mb:avatar:3901:1", user_id=3901)
    await fake.wait_until(lambda: "Only you may animate your avatar now" in answer.content, what="the choice")

    refused = await fake.user_menu("Animate avatar", 3901, avatar="e4a1", user_id=3902)
    assert "<@3901> keeps their avatar to themselves" in await refusal(fake, refused)
    assert "/avatars/3901/e4a1.png" not in fake.fetched and await credits_used(service, 3902) == 0
    assert (await delivered(fake, await fake.user_menu("Animate avatar", 3901, avatar="e4a1", user_id=3901))).files
    text = await followup_text(fake, await fake.slash("privacy", {}, user_id=3901))
    assert "**Your avatar** is yours" in text

    [again] = [m for m in fake.messages.values() if any(b["custom_id"] == "mb:avatar:3901:0" for b in m.buttons())]
    await fake.click(again, "mb:avatar:3901:0", user_id=3901)
    await fake.wait_until(lambda: "Others may animate your avatar again" in again.content, what="the choice")
    assert (await delivered(fake, await fake.user_menu("Animate avatar", 3901, avatar="e4a1", user_id=3902))).files


async def test_one_members_flood_of_reports_is_cut_to_a_few_a_minute(fake: FakeDiscord, service: BotProcess) -> None:
    answers = []
    for n in range(REPORTS_A_MINUTE + 1):  # clips of the bot's, as Discord shows them to the menu
        clip = fake.user_message("", user_id=BOT_ID) | {"author": user_payload(BOT_ID, "motionbot", bot=True)}
        job = f"{n:032x}"
        button = {"type": 2, "style": 2, "label": "Reroll", "custom_id": f"mb:reroll:{job}"}
        clip["components"] = [{"type": 1, "components": [button]}]
        answers.append(await ephemeral_answer(fake, await fake.context_menu("Report clip", clip, user_id=3806)))
    assert all("no moderation log, so no moderator was told" in answer for answer in answers[:-1])
    assert f"you have reported {REPORTS_A_MINUTE} clips in a minute" in answers[-1]
    recorded = await stored(service, "SELECT COUNT(*) FROM moderation WHERE rule LIKE '<@3806>%'")
    assert recorded[0][0] == REPORTS_A_MINUTE, "the one refused is not recorded"


async def test_history_pages_back_through_older_videos(fake: FakeDiscord, service: BotProcess) -> None:
    db = await Database.open(service_db(service))
    try:
        ledger = Ledger(db)
        for n in range(HISTORY + 3):  # what one user asked for here over a while, oldest first
            job = VideoJob(job_id=f"{n:032x}"[::-1], kind=JobKind.TEXT_TO_VIDEO, model="svd-xt", prompt=f"clip {n}")
            record = JobRecord(job.job_id, GUILD_ID, CHANNEL_ID, 3911, job.kind.value, job.model)
            await ledger.add(dataclasses.replace(record, options={"request": job.request()}, created_at=1e9 + n))
    finally:
        await db.close()
    token = await fake.slash("history", {}, user_id=3911)
    await followup_text(fake, token)
    [first] = [m for m in fake.messages.values() if any("mb:history:3911:" in b["custom_id"] for b in m.buttons())]
    assert "clip 12" in first.content and "clip 3" in first.content and "clip 2" not in first.content
    assert [b["label"] for b in first.buttons()] == ["Older"]
    older = next(b["custom_id"] for b in first.buttons())
    assert "That button is not yours" in await ephemeral_answer(fake, await fake.click(first, older, user_id=3912))
    await fake.click(first, older, user_id=3911)
    await fake.wait_until(lambda: "11 to 13" in first.content, what="the older page")
    assert "clip 2" in first.content and "clip 0" in first.content and "clip 3" not in first.content
    assert [b["label"] for b in first.buttons()] == ["Newer"]
    await fake.click(first, first.buttons()[0]["custom_id"], user_id=3911)
    await fake.wait_until(lambda: "clip 12" in first.content, what="the newest page again")
