"""Content safety through the real bot and worker: the block list, a server's own patterns, the worker's
image check (its threshold set so that it flags every picture), policies per channel, the moderation log."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from arq.constants import job_key_prefix
from redis.asyncio import Redis

from bot.exts.video._modlog import POSTS_A_MINUTE
from generation.blocklist import Verdict
from generation.progress import PromptRefused
from generation.queue import JobQueue
from generation.queue_redis import QueueSettings, deserialize
from generation.queue_types import QueueStatus
from generation.text import _
from storage.db import Database
from tests.bot.conftest import BotProcess, serve
from tests.bot.test_admin_quota import admin
from tests.bot.test_buttons import ephemeral_answer
from tests.bot.test_video import credits_used, delivered, refusal, service_db
from tests.conftest import png_bytes
from tests.fake_discord import MODLOG_CHANNEL_ID, NSFW_CHANNEL_ID, ChannelRef, FakeDiscord, Message
from tests.support import RedisServer


@pytest.fixture(scope="module")
async def flagging(
    fake: FakeDiscord, redis_server: RedisServer, tiny_models: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotProcess]:
    """A bot and a worker whose image check flags every picture and clip."""
    folder = tmp_path_factory.mktemp("safety-service")
    async for bot in serve(fake, redis_server, tiny_models, folder, MOTIONBOT_SAFETY_THRESHOLD="-1000"):
        await admin(fake, "modlog", {"channel": ChannelRef(MODLOG_CHANNEL_ID)})
        yield bot


def logged(fake: FakeDiscord) -> list[str]:
    return [m.content for m in fake.messages.values() if m.data["channel_id"] == str(MODLOG_CHANNEL_ID)]


async def log_entry(fake: FakeDiscord, needle: str) -> str:
    return await fake.wait_until(
        lambda: next((text for text in logged(fake) if needle in text), None), timeout=30, what="the log entry"
    )


async def ended(fake: FakeDiscord, token: str) -> Message:
    """The status message once the job failed (no clip)."""
    return await fake.wait_until(
        lambda: (m := fake.response_to(token)) is not None and "did not work" in m.content and m,
        timeout=60,
        what="the failure",
    )


@pytest.mark.parametrize("prompt", ["a nude woman on a beach", "a n u d 3 woman on a beach", "a NÚDÉ woman"])
async def test_a_blocked_word_is_refused_free_and_logged(fake: FakeDiscord, flagging: BotProcess, prompt: str) -> None:
    user = 9001 + len(prompt)
    token = await fake.slash("imagine-video", {"prompt": prompt}, user_id=user)
    text = await refusal(fake, token)
    assert "not allowed" in text and "built-in list" in text and "nud" not in text.lower(), "the rule, not the word"
    assert await credits_used(flagging, user) == 0
    entry = await log_entry(fake, f"<@{user}>")
    assert "Prompt refused" in entry and "||nude\\*||" in entry, "the matched term, behind a spoiler"


async def test_a_log_channel_discord_holds_back_delays_no_refusal_and_a_flood_is_posted_a_few_times(
    fake: FakeDiscord, flagging: BotProcess
) -> None:
    gate = fake.hold("POST", f"/channels/{MODLOG_CHANNEL_ID}/messages$")  # the log channel's posts wait
    try:
        token = await fake.slash("imagine-video", {"prompt": "a nude man"}, user_id=9071)
        assert "not allowed" in await refusal(fake, token), "told while the log post waits"
        assert not any("<@9071>" in text for text in logged(fake))
    finally:
        gate.set()
    await log_entry(fake, "<@9071>")
    for _attempt in range(POSTS_A_MINUTE + 3):  # one user's flood of refused prompts
        assert "not allowed" in await refusal(fake, await fake.slash("imagine-video", {"prompt": "nude"}, user_id=9072))
    await fake.wait_until(lambda: sum("<@9072>" in t for t in logged(fake)) >= POSTS_A_MINUTE, what="the posts")
    await asyncio.sleep(1)
    posts = [text for text in logged(fake) if "<@9072>" in text]
    assert len(posts) == POSTS_A_MINUTE and "recorded, not posted" in posts[-1]
    db = await Database.open(service_db(flagging))
    try:
        [recorded] = await db.fetchone("SELECT COUNT(*) FROM moderation WHERE user_id = 9072") or [0]
    finally:
        await db.close()
    assert recorded == POSTS_A_MINUTE + 3, "every one recorded for the moderators"


async def test_a_negative_prompt_may_keep_out_what_the_prompt_may_not_ask_for(
    fake: FakeDiscord, flagging: BotProcess
) -> None:
    clean = await fake.slash("imagine-video", {"prompt": "a child flies a kite -neg nsfw, nude"}, user_id=9061)
    assert "image safety check" in (await ended(fake, clean)).content, "taken in: only the image check (on all) ends it"
    never = await fake.slash("imagine-video", {"prompt": "a child flies a kite -neg a l0li"}, user_id=9062)
    assert "never allowed" in await refusal(fake, never)


@asynccontextmanager
async def held_job(
    fake: FakeDiscord, bot: BotProcess, redis_server: RedisServer, prompt: str, user: int
) -> AsyncIterator[tuple[Message, str, JobQueue]]:
    """A request taken in (its status message, its job id) while the worker is held, so that it can neither
    take the job nor end it until the block is left; and the queue, to look at or end the job as a worker
    would."""
    assert bot.worker is not None
    bot.worker.signal(signal.SIGSTOP)
    queue = JobQueue(Redis.from_url(redis_server.url), QueueSettings(REDIS_URL=redis_server.url))
    try:
        token = await fake.slash("imagine-video", {"prompt": prompt}, user_id=user)
        status = await fake.wait_until(lambda: (m := fake.response_to(token)) and m.buttons() and m, what="the status")
        db = await Database.open(service_db(bot))
        try:
            [job_id] = await db.fetchone("SELECT job_id FROM jobs WHERE user_id = ?", (user,)) or [None]
        finally:
            await db.close()
        yield status, str(job_id), queue
    finally:
        bot.worker.signal(signal.SIGCONT)
        await queue.redis.aclose()


async def test_a_prompt_the_workers_check_refuses_in_english_is_logged_with_its_rule_and_the_english(
    fake: FakeDiscord, flagging: BotProcess, redis_server: RedisServer
) -> None:
    # What the worker stores when its check refuses the prompt as it reads it in English, stored here (the
    # tiny worker's random translator reads no words); once let go, the worker finds the job ended.
    async with held_job(fake, flagging, redis_server, "一个裸体女人", 9151) as (status, job_id, queue):
        rule = _("the built-in list (sexual content is not allowed here)")
        refused = PromptRefused(Verdict(rule, "naked*", "a naked woman"))
        await queue.record_outcome(
            job_id, QueueStatus.FAILED, reason=refused.text, flagged="prompt", refused=refused.verdict
        )
    entry = await log_entry(fake, "<@9151>")
    assert "Prompt refused" in entry and "sexual content is not allowed here" in entry, "the rule that refused it"
    assert "||naked\\* — a naked woman||" in entry, "what matched in the English it read, behind a spoiler"
    await fake.wait_until(lambda: "read in English" in status.content, timeout=30, what="the refusal")
    assert await credits_used(flagging, 9151) == 0


async def test_a_job_carries_the_servers_block_list_for_the_workers_check_in_english(
    fake: FakeDiscord, flagging: BotProcess, redis_server: RedisServer
) -> None:
    assert "Added" in await admin(fake, "blocklist", {"action": "add", "term": "clown*"})
    try:
        async with held_job(fake, flagging, redis_server, "一个小丑在跳舞", 9152) as (_status, job_id, queue):
            [payload] = deserialize(await queue.redis.get(job_key_prefix + job_id))["a"]  # arq's record
        assert payload["blocked"] == ["clown*"], "the bot read Chinese: the worker checks the English against it"
    finally:
        await admin(fake, "blocklist", {"action": "remove", "term": "clown*"})


async def test_a_servers_block_list_applies_to_an_effect_by_its_name(fake: FakeDiscord, flagging: BotProcess) -> None:
    assert "Added" in await admin(fake, "blocklist", {"action": "add", "term": "explo*"})
    try:
        image = fake.upload("p.png", png_bytes())
        typed = {"prompt": "a snowman", "effect": "explode"}
        token = await fake.slash("animate", typed, attachments={"image": image}, user_id=9053)
        assert "not allowed" in await refusal(fake, token) and await credits_used(flagging, 9053) == 0
        assert "-effect explode" in await log_entry(fake, "<@9053>"), "the moderators see what was asked"
    finally:
        await admin(fake, "blocklist", {"action": "remove", "term": "explo*"})


async def test_a_refused_prompt_fetches_no_picture(fake: FakeDiscord, flagging: BotProcess) -> None:
    image = fake.upload("p.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a nude portrait"}, attachments={"image": image}, user_id=9051)
    assert "not allowed" in await refusal(fake, token)
    assert not [name for name in fake.fetched if name.endswith(image["url"].rsplit("/", 1)[1])], "not downloaded"


async def test_a_server_pattern_that_could_hang_is_refused_and_a_safe_one_works(
    fake: FakeDiscord, flagging: BotProcess
) -> None:
    answer = await admin(fake, "blocklist", {"action": "add", "term": "/(a+)+$/"})
    assert "repeats a repetition" in answer
    assert "block list (0)" in await admin(fake, "blocklist", {"action": "list"}), "nothing was added"
    assert "Added" in await admin(fake, "blocklist", {"action": "add", "term": "/clowns?/"})
    token = await fake.slash("imagine-video", {"prompt": "three CL0WNS juggling"}, user_id=9101)
    assert "this server's block list" in await refusal(fake, token)
    assert "Removed" in await admin(fake, "blocklist", {"action": "remove", "term": "/clowns?/"})


async def test_a_long_block_list_is_listed_in_whole_terms_and_sent_whole_as_a_file(
    fake: FakeDiscord, flagging: BotProcess
) -> None:
    terms = [letter * 90 for letter in "bcdefghijklmnopqrstuvwxyz"]  # 25 terms of 90 letters: 2,500 characters
    for term in terms:
        assert "Added" in await admin(fake, "blocklist", {"action": "add", "term": term})
    try:
        token = await fake.slash("motionbot-admin", {"action": "list"}, subcommand=["blocklist"], admin=True)
        listed = await ephemeral_answer(fake, token)
        assert len(listed) <= 2000 and "block list (25)" in listed
        shown = re.findall(r"\|\|([a-z]+)\|\|", listed)
        assert 0 < len(shown) < 25 and shown == terms[: len(shown)], "whole terms, each behind its spoiler"
        assert f"…and {25 - len(shown)} more" in listed and listed.count("||") == 2 * len(shown)
        attached = fake.messages[fake.original[token]].files
        assert attached["blocklist.txt"].decode().split() == terms, "every term, one per line"
    finally:
        for term in terms:
            await admin(fake, "blocklist", {"action": "remove", "term": term})
    token = await fake.slash("motionbot-admin", {"action": "list"}, subcommand=["blocklist"], admin=True)
    assert "block list (0)" in await ephemeral_answer(fake, token)
    assert not fake.messages[fake.original[token]].files, "a list that fits comes without a file"


async def test_a_flagged_picture_is_refused_and_refunded(fake: FakeDiscord, flagging: BotProcess) -> None:
    image = fake.upload("p.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "-model svd-xt"}, attachments={"image": image}, user_id=9201)
    status = await ended(fake, token)
    assert "safety check flagged your picture" in status.content and not status.files
    assert not status.buttons(), "no Try again for a refused picture"
    assert await credits_used(flagging, 9201) == 0
    assert "Input picture refused" in await log_entry(fake, "<@9201>")
    [entry] = [
        m for m in fake.messages.values() if m.data["channel_id"] == str(MODLOG_CHANNEL_ID) and "9201" in m.content
    ]
    assert not entry.files, "no picture in a log channel that is not age-restricted"
    await admin(fake, "modlog", {"channel": ChannelRef(NSFW_CHANNEL_ID)})
    try:
        image = fake.upload("p.png", png_bytes())
        token = await fake.slash("animate", {"prompt": "-model svd-xt"}, attachments={"image": image}, user_id=9202)
        await ended(fake, token)
        shown = await fake.wait_until(
            lambda: next((m for m in fake.messages.values() if "<@9202>" in m.content and m.files), None),
            timeout=30,
            what="the log entry with its thumbnail",
        )
        assert shown.data["channel_id"] == str(NSFW_CHANNEL_ID) and list(shown.files) == ["SPOILER_flagged.jpg"]
    finally:
        await admin(fake, "modlog", {"channel": ChannelRef(MODLOG_CHANNEL_ID)})


async def test_a_flagged_clip_is_not_posted_in_a_normal_channel(fake: FakeDiscord, flagging: BotProcess) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a red fox"}, user_id=9301)
    status = await ended(fake, token)
    assert "flagged the clip" in status.content and not status.files and not status.buttons()
    assert await credits_used(flagging, 9301) == 0
    entry = await log_entry(fake, "<@9301>")
    assert "Clip refused" in entry and "a red fox" in entry


async def test_age_restricted_channels_get_spoilers_under_that_policy_and_nothing_under_strict(
    fake: FakeDiscord, flagging: BotProcess
) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a red fox"}, user_id=9401, channel_id=NSFW_CHANNEL_ID)
    assert "flagged the clip" in (await ended(fake, token)).content, "strict: refused in any channel"
    assert "age-restricted" in await admin(fake, "content", {"policy": "age-restricted"})
    try:
        token = await fake.slash("imagine-video", {"prompt": "a red fox"}, user_id=9402, channel_id=NSFW_CHANNEL_ID)
        clip = await delivered(fake, token)
        [name] = clip.files
        assert name.startswith("SPOILER_") and "Marked as a spoiler" in clip.content
        assert "posted as a spoiler" in await log_entry(fake, "<@9402>")
        token = await fake.slash("imagine-video", {"prompt": "a nude woman"}, user_id=9403, channel_id=NSFW_CHANNEL_ID)
        assert next(iter((await delivered(fake, token)).files)).startswith("SPOILER_"), "allowed words there"
        token = await fake.slash("imagine-video", {"prompt": "a nude woman"}, user_id=9404)
        assert "not age-restricted" in await refusal(fake, token), "but not in other channels"
    finally:
        await admin(fake, "content", {"policy": "strict"})


async def test_only_admins_change_the_policy_and_every_change_is_audited(
    fake: FakeDiscord, flagging: BotProcess
) -> None:
    answer = await admin(fake, "content", {"policy": "off"}, user_id=9501, is_admin=False)
    assert "Manage Server" in answer
    await admin(fake, "content", {"policy": "off"})
    await admin(fake, "content", {"policy": "strict"})
    db = await Database.open(service_db(flagging))
    try:
        rows = await db.fetchall("SELECT new_value, changed_by FROM settings_audit WHERE key = 'content' ORDER BY id")
    finally:
        await db.close()
    assert [row["new_value"] for row in rows][-2:] == ['"off"', '"strict"']
    assert all(row["changed_by"] != 9501 for row in rows)
