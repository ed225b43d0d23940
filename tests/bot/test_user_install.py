"""Users who add the app to their own account use it in servers the bot is not in and in group DMs: the bot
reaches them only through the interaction (its token opens no channel there), and everything still works."""

from __future__ import annotations

import pytest

from bot.exts.video._admission import admit
from bot.exts.video._replies import Requester
from bot.pricing import Refused
from storage.guilds import DM, GuildSettings
from tests.bot.conftest import BotProcess, service_with
from tests.bot.test_admin_quota import stored
from tests.bot.test_buttons import button, ephemeral_answer, followup_text
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import ELSEWHERE_CHANNEL_ID, ELSEWHERE_GUILD_ID, GROUP_DM_ID, MODLOG_CHANNEL_ID, FakeDiscord

# The operator's moderation log for DMs and users' own installs: a channel of the server the bot is in.
service = service_with("user-install", MOTIONBOT_DM_MOD_LOG_CHANNEL=str(MODLOG_CHANNEL_ID))


def operators_log(fake: FakeDiscord, about: str) -> list[dict[str, object]]:
    """The posts in the operator's log that mention `about`."""
    found = [m for m in fake.messages.values() if m.data["channel_id"] == str(MODLOG_CHANNEL_ID)]
    return [m.data for m in found if about in m.content]


async def test_in_a_server_the_bot_is_not_in_a_clip_is_made_rerolled_and_deleted_through_the_interaction(
    fake: FakeDiscord, service: BotProcess
) -> None:
    image = fake.upload("cat.png", png_bytes())
    token = await fake.slash(
        "animate", {"prompt": "a cat"}, attachments={"image": image}, user_id=8101, channel_id=ELSEWHERE_CHANNEL_ID
    )
    clip = await delivered(fake, token)
    assert "a cat" in clip.content and clip.files
    assert "add me to your account: " in service.output() and "integration_type=1" in service.output()
    charged = await stored(service, "SELECT r.guild_id, j.guild_id FROM reservations r JOIN jobs j USING (job_id)")
    assert (0, ELSEWHERE_GUILD_ID) in [tuple(row) for row in charged], "the user's own credits, not that server's"
    there = await followup_text(fake, await fake.slash("quota", {}, user_id=8101, channel_id=ELSEWHERE_CHANNEL_ID))
    assert there == await followup_text(fake, await fake.slash("quota", {}, user_id=8101, dm=True))
    assert "left today: **150**" not in there, "no fresh day of credits in every server the user joins"

    again = await fake.click(clip, button(clip, "reroll"), user_id=8102, channel_id=ELSEWHERE_CHANNEL_ID)
    assert (await delivered(fake, again)).files

    pressed = await fake.click(clip, button(clip, "delete"), user_id=8101, channel_id=ELSEWHERE_CHANNEL_ID)
    assert await followup_text(fake, pressed) == "Deleted."
    await fake.wait_until(lambda: clip.id not in fake.messages, timeout=10, what="the deletion")
    assert not fake.calls_to("DELETE", f"/channels/{ELSEWHERE_CHANNEL_ID}/"), "through the interaction, not the channel"

    with pytest.raises(AssertionError, match="does not offer"):  # a server's settings: only where the bot is in it
        await fake.slash("motionbot-admin", {}, subcommand=["settings"], channel_id=ELSEWHERE_CHANNEL_ID, admin=True)


async def test_in_a_group_dm_text_and_a_messages_picture_become_clips(fake: FakeDiscord, service: BotProcess) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a fox in the snow"}, user_id=8201, channel_id=GROUP_DM_ID)
    assert "a fox in the snow" in (await delivered(fake, token)).content
    shared = fake.user_message("look", user_id=9, attachments=[fake.upload("dog.png", png_bytes())], dm=True)
    shared["channel_id"] = str(GROUP_DM_ID)
    menu = await fake.context_menu("Animate image", shared, user_id=8201, channel_id=GROUP_DM_ID)
    clip = await delivered(fake, menu)
    assert "<@8201>" in clip.content and clip.files
    reported = await fake.context_menu("Report clip", clip.data, user_id=9, channel_id=GROUP_DM_ID)
    assert "Reported to the bot's moderators" in await ephemeral_answer(fake, reported)  # no server admins here
    [post] = await fake.wait_until(lambda: operators_log(fake, "<@9>"), timeout=10, what="the operator's log")
    assert "Clip reported" in str(post["content"]) and "<@8201>" in str(post["content"])
    assert not post.get("components"), "no Delete button: the bot's token does not reach a group DM"
    refused = await fake.slash("imagine-video", {"prompt": "a nude man"}, user_id=8202, channel_id=GROUP_DM_ID)
    assert "not allowed" in await refusal(fake, refused)
    await fake.wait_until(lambda: operators_log(fake, "<@8202>"), timeout=10, what="the refused prompt, logged")
    charged = await stored(service, "SELECT DISTINCT guild_id FROM reservations WHERE user_id = 8201")
    assert [tuple(row) for row in charged] == [(0,)] and await credits_used(service, 8201) > 0, "the user's DMs'"


def test_where_the_dm_settings_take_no_requests_a_users_own_install_is_told_so() -> None:
    off = GuildSettings(enabled=False)
    elsewhere = Requester(8301, ELSEWHERE_GUILD_ID, ELSEWHERE_CHANNEL_ID, own_install=True)
    assert elsewhere.space == DM
    with pytest.raises(Refused, match="only in servers that added me"):
        admit(elsewhere, off)
    with pytest.raises(Refused, match="direct messages"):
        admit(Requester(8301, DM, GROUP_DM_ID), off)
    with pytest.raises(Refused, match="turned off in this server"):
        admit(Requester(8301, ELSEWHERE_GUILD_ID, ELSEWHERE_CHANNEL_ID), off)
