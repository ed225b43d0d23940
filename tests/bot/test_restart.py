"""The bot killed mid-job and started again: the clip is delivered, exactly once, and charged once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generation.queue import JobQueue
from storage.db import Database
from storage.guilds import Guilds
from storage.quotas import Quotas
from storage.settings import StorageSettings
from tests.bot.conftest import LONG_RENDERS, NO_PREVIEWS, BotProcess, connected
from tests.bot.test_admin_quota import stored
from tests.bot.test_buttons import animate, button, followup_text
from tests.bot.test_video import delivered, settled_reservation
from tests.conftest import png_bytes
from tests.fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord, Message, dm_channel
from tests.generation.test_worker_processes import wait_for_workers


async def test_bot_killed_mid_job_delivers_once_after_restart(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], queue: JobQueue
) -> None:
    start_worker("--id", "gpu-r", env=LONG_RENDERS | NO_PREVIEWS)  # the status message shows no file until the clip
    await wait_for_workers(queue, {"gpu-r"})
    before = fake.identified
    bot = start_bot()
    await connected(fake, bot, before)
    image = fake.upload("r.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "restart me -steps 12"}, attachments={"image": image}, user_id=4001)
    status = await fake.wait_until(
        lambda: (m := fake.response_to(token)) and m.buttons() and m, timeout=30, what="the status message"
    )
    job_id = status.buttons()[0]["custom_id"].split(":")[2]
    await fake.wait_until(lambda: "Generating" in status.content, timeout=60, what="progress")
    bot.process.send_signal(signal.SIGKILL)
    bot.process.wait()
    assert (await queue.wait(job_id, 120)).status == "done"  # finished while the bot was down
    assert not status.files

    again = start_bot()
    await connected(fake, again, fake.identified)
    await fake.wait_until(lambda: status.files, timeout=60, what="delivery after the restart")
    await asyncio.sleep(1.5)  # time for a duplicate to show up, if there were one (the bot looks every 0.1 s)
    clips = [m for m in fake.messages.values() if m.files and job_id[:8] in next(iter(m.files))]
    assert clips == [status]
    assert not any("I restarted" in str(edit.get("content")) for edit in status.edits), "its job was queued"
    db = await Database.open(str(again.log.parent / "motionbot.db"))
    try:
        rows = await db.fetchall("SELECT state FROM reservations WHERE job_id = ?", (job_id,))
        job = await db.fetchone("SELECT state FROM jobs WHERE job_id = ?", (job_id,))
    finally:
        await db.close()
    assert [r[0] for r in rows] == ["committed"] and job[0] == "delivered"


async def test_a_remix_form_and_an_effect_picker_opened_before_a_restart_still_work(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., object], queue: JobQueue
) -> None:
    start_worker("--id", "gpu-m")
    await wait_for_workers(queue, {"gpu-m"})
    before = fake.identified
    bot = start_bot()
    await connected(fake, bot, before)
    _, clip = await animate(fake, 4101, "a fox")
    opened = await fake.click(clip, button(clip, "remix"), user_id=4101)
    [modal] = await fake.wait_until(lambda: fake.callbacks.get(opened), timeout=20, what="the Remix form")
    photo = fake.user_message("", user_id=4102, attachments=[fake.upload("p.png", png_bytes())])
    picking = await fake.context_menu("Apply effect", photo, user_id=4102)
    picker = await fake.wait_until(lambda: fake.response_to(picking), timeout=20, what="the effect picker")
    bot.process.send_signal(signal.SIGKILL)
    bot.process.wait()

    before = fake.identified
    again = start_bot()
    await connected(fake, again, before)
    submitted = await fake.submit_modal(
        modal["data"]["custom_id"], {"prompt": "a wolf", "flags": "-motion 2"}, user_id=4101
    )
    remixed = await delivered(fake, submitted)
    assert "a wolf" in remixed.content and "-motion 2" in remixed.content
    melted = await delivered(fake, await fake.select(picker, "mb:effect", ["melt"], user_id=4102))
    assert "-effect melt" in melted.content, "the picker opened before the restart works too"


async def test_a_job_no_live_worker_can_run_fails_in_time_and_is_refunded(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., Any], queue: JobQueue
) -> None:
    gone = start_worker("--dry-run", "1", "--id", "gpu-gone", "--models", "svd-xt")  # killed before any job
    await wait_for_workers(queue, {"gpu-gone"})
    before = fake.identified
    bot = start_bot(MOTIONBOT_UNSERVED_TIMEOUT_S="2")
    await connected(fake, bot, before)
    gone.signal(signal.SIGKILL)  # its heartbeat outlives it for a lease: the bot still takes the job
    gone.wait(10)
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("o.png", png_bytes())}, user_id=4201)
    status = await fake.wait_until(
        lambda: (m := fake.response_to(token)) and m.buttons() and m, timeout=30, what="the status message"
    )
    await fake.wait_until(lambda: "No GPU worker" in status.content, timeout=30, what="the warning")
    await fake.wait_until(lambda: "came online" in status.content, timeout=30, what="the failure")
    assert "refunded" in status.content and not status.files
    assert await settled_reservation(bot, 4201) == (GUILD_ID, "refunded")
    history = await followup_text(fake, await fake.slash("history", {}, user_id=4201))
    assert f"❌ [did not work](https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{status.id})" in history
    # Try again runs the same request, with the picture the bot kept, once a worker is back.
    assert [b["custom_id"].split(":")[1] for b in status.buttons()] == ["retry", "remix"]
    start_worker("--dry-run", "0.2", "--id", "gpu-back", "--models", "svd-xt")
    await wait_for_workers(queue, {"gpu-back"})
    again = await delivered(fake, await fake.click(status, button(status, "retry"), user_id=4201))
    assert "-model svd-xt" in again.content and again.files


async def test_a_failure_in_a_channel_deleted_meanwhile_is_told_by_dm_with_its_buttons(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., Any], queue: JobQueue
) -> None:
    gone = start_worker("--dry-run", "1", "--id", "gpu-gone-dm", "--models", "svd-xt")
    await wait_for_workers(queue, {"gpu-gone-dm"})
    before = fake.identified
    bot = start_bot(MOTIONBOT_UNSERVED_TIMEOUT_S="2")
    await connected(fake, bot, before)
    gone.signal(signal.SIGKILL)
    gone.wait(10)
    token = await fake.slash("animate", {}, attachments={"image": fake.upload("d.png", png_bytes())}, user_id=4251)
    await fake.wait_until(lambda: fake.response_to(token), timeout=30, what="the status message")
    fake.expired_tokens.add(token)  # 15 minutes later, and meanwhile the channel (a thread) was deleted
    fake.fail_next("POST", f"/channels/{CHANNEL_ID}/messages$", 404, {"message": "Unknown Channel", "code": 10003})
    dm = await fake.wait_until(
        lambda: next((m for m in fake.messages.values() if m.data["channel_id"] == str(dm_channel(4251))), None),
        timeout=30,
        what="the failure by DM",
    )
    assert "could not post in <#" in dm.content and "came online" in dm.content and "refunded" in dm.content
    assert await settled_reservation(bot, 4251) == (GUILD_ID, "refunded")
    for _ in range(100):  # the bot records where it told them just after the DM
        if await stored(bot, "SELECT job_id FROM jobs WHERE user_id = 4251 AND state = 'failed'"):
            break
        await asyncio.sleep(0.1)
    history = await followup_text(fake, await fake.slash("history", {}, user_id=4251))
    assert f"❌ [did not work](https://discord.com/channels/@me/{dm_channel(4251)}/{dm.id})" in history
    start_worker("--dry-run", "0.2", "--id", "gpu-back-dm", "--models", "svd-xt")
    await wait_for_workers(queue, {"gpu-back-dm"})
    again = await delivered(fake, await fake.click(dm, button(dm, "retry"), user_id=4251, dm=True))
    assert again.files and again.data["channel_id"] == str(dm_channel(4251)), "Try again works in the DM"
    alt = again.data["attachments"][0]["description"]
    assert alt == "An AI-generated video clip made from a picture"  # no prompt: its alt text says so


async def test_a_refused_command_sync_does_not_stop_the_bot(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    fake.fail_next("PUT", r"/applications/\d+/commands$", 403, {"message": "Missing Access", "code": 50001})
    before = fake.identified
    bot = start_bot()
    await fake.wait_until(lambda: fake.identified > before and fake.ready.is_set(), timeout=60, what="the bot")
    token = await fake.slash("quota", {}, user_id=4301)
    assert "Credits left" in await followup_text(fake, token)
    assert "could not sync the slash commands" in bot.output()


async def test_a_request_under_way_when_the_bot_is_stopped_is_answered_and_queued(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., Any], queue: JobQueue
) -> None:
    start_worker("--dry-run", "0.2", "--id", "gpu-s")
    await wait_for_workers(queue, {"gpu-s"})
    bot = start_bot()
    await connected(fake, bot, fake.identified)
    gate = fake.hold("GET", "/attachments/.*leaving")  # the picture is still downloading when the stop comes
    try:
        image = fake.upload("leaving.png", png_bytes())
        token = await fake.slash("animate", {"prompt": "a kite"}, attachments={"image": image}, user_id=4501)
        await fake.wait_until(lambda: fake.held, timeout=20, what="the download")
        bot.signal(signal.SIGTERM)  # docker stop, a deploy
        await asyncio.sleep(1)
    finally:
        gate.set()
    status = await fake.wait_until(
        lambda: (m := fake.response_to(token)) and m.buttons() and m, timeout=20, what="the status message"
    )
    assert "a kite" in status.content
    assert bot.wait(30) == 0 and "Traceback" not in bot.output(), bot.output()
    assert await settled_reservation(bot, 4501, timeout=0) == (GUILD_ID, "reserved")  # queued, not lost


async def test_a_refusal_on_its_way_when_the_bot_is_stopped_still_arrives(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    bot = start_bot()
    await connected(fake, bot, fake.identified)
    gate = fake.hold("POST", f"/channels/{CHANNEL_ID}/messages$")  # a busy channel: Discord holds the reply
    try:
        request = fake.user_message("<@700000000000000004> hi", user_id=4601, mentions_bot=True)
        await fake.post(request)
        await fake.wait_until(lambda: fake.held, timeout=20, what="the reply on its way")
        bot.signal(signal.SIGTERM)
        await asyncio.sleep(1)
    finally:
        gate.set()
    [reply] = await fake.wait_until(lambda: fake.replies_to(request), timeout=20, what="the reply")
    assert "reply to a message with an image" in reply.content
    assert bot.wait(30) == 0 and "Traceback" not in bot.output(), bot.output()


async def told_at_restart(fake: FakeDiscord, start_bot: Callable[..., BotProcess], token: str) -> Message:
    """Start the bot again; the "thinking…" message of `token`'s request once it tells the user it restarted."""
    again = start_bot()
    await connected(fake, again, fake.identified)
    told: Message = await fake.wait_until(
        lambda: (m := fake.response_to(token)) and "restarted" in m.content and m, timeout=20, what="the user told"
    )
    return told


async def test_a_request_a_killed_bot_never_answered_is_told_at_the_restart(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    bot = start_bot()
    await connected(fake, bot, fake.identified)
    gate = fake.hold("GET", "/attachments/.*orphan")  # acknowledged ("thinking…"), the picture still on its way
    try:
        image = fake.upload("orphan.png", png_bytes())
        token = await fake.slash("animate", {"prompt": "a lighthouse"}, attachments={"image": image}, user_id=4701)
        await fake.wait_until(lambda: fake.held, timeout=20, what="the download")
        bot.process.send_signal(signal.SIGKILL)  # out of memory, a host gone
        bot.process.wait()
    finally:
        gate.set()
    assert not fake.response_to(token).content  # still "thinking…"
    told = await told_at_restart(fake, start_bot, token)
    assert "Nothing was charged" in told.content


async def test_a_request_whose_acknowledgement_discord_took_is_told_at_the_restart_if_the_bot_died_waiting(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    bot = start_bot()
    await connected(fake, bot, fake.identified)
    gate = fake.hold("POST", "/interactions/.*/callback", taken=True)  # "thinking…" shown, Discord's answer slow
    try:
        token = await fake.slash("imagine-video", {"prompt": "a slow harbour"}, user_id=4711)
        await fake.wait_until(lambda: fake.held, timeout=20, what="the acknowledgement")
        await asyncio.sleep(0.5)
        bot.process.send_signal(signal.SIGKILL)  # a deploy's kill, while Discord is slow
        bot.process.wait()
    finally:
        gate.set()
    assert fake.response_to(token) is not None and not fake.response_to(token).content  # "thinking…"
    told = await told_at_restart(fake, start_bot, token)
    assert "Nothing was charged" in told.content


async def test_a_mention_a_killed_bot_never_answered_gets_a_reply_at_the_restart(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    bot = start_bot()
    await connected(fake, bot, fake.identified)
    gate = fake.hold("GET", "/attachments/.*stray")  # taken in, the picture still on its way
    try:
        picture = fake.upload("stray.png", png_bytes())
        request = fake.user_message(
            "<@700000000000000004> -motion 2", user_id=4702, mentions_bot=True, attachments=[picture]
        )
        await fake.post(request)
        await fake.wait_until(lambda: fake.held, timeout=20, what="the download")
        bot.process.send_signal(signal.SIGKILL)
        bot.process.wait()
    finally:
        gate.set()
    assert not fake.replies_to(request)
    answered = fake.user_message("<@700000000000000004> hi", user_id=4703, mentions_bot=True)  # refused: answered
    again = start_bot()
    await connected(fake, again, fake.identified)
    await fake.post(answered)
    [told] = await fake.wait_until(lambda: fake.replies_to(request), timeout=20, what="the user told")
    assert "restarted" in told.content and "Nothing was charged" in told.content
    [hint] = await fake.wait_until(lambda: fake.replies_to(answered), timeout=20, what="the hint")
    again.signal(signal.SIGTERM)
    assert again.wait(30) == 0
    last = start_bot()  # a request answered in the last run is not told again
    await connected(fake, last, fake.identified)
    await asyncio.sleep(2)
    assert fake.replies_to(answered) == [hint] and len(fake.replies_to(request)) == 1


async def test_sigterm_stops_the_bot_cleanly(fake: FakeDiscord, start_bot: Callable[..., BotProcess]) -> None:
    before = fake.identified
    bot = start_bot()
    await connected(fake, bot, before)
    bot.signal(signal.SIGTERM)  # docker stop, scripts/run on Ctrl-C
    assert bot.wait(30) == 0, bot.output()
    assert "Traceback" not in bot.output()


async def test_removed_from_a_server_its_videos_on_the_way_stop_refunded(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], start_worker: Callable[..., Any], queue: JobQueue
) -> None:
    start_worker("--dry-run", "60", "--id", "gpu-kicked", "--models", "svd-xt")  # each job renders for a minute
    await wait_for_workers(queue, {"gpu-kicked"})
    before = fake.identified
    bot = start_bot()
    await connected(fake, bot, before)
    statuses = []
    for user in (4401, 4402):  # one rendering, one in line behind it
        token = await fake.slash("animate", {}, attachments={"image": fake.upload("k.png", png_bytes())}, user_id=user)
        statuses.append(
            await fake.wait_until(lambda t=token: (m := fake.response_to(t)) and m.buttons() and m, what="a status")
        )
    await fake.dispatch("GUILD_DELETE", {"id": str(GUILD_ID)})  # kicked (an outage would say "unavailable")
    for user in (4401, 4402):
        assert await settled_reservation(bot, user, timeout=30) == (GUILD_ID, "refunded")
    assert await queue.depth() == 0


async def test_credits_a_killed_bot_held_for_a_request_it_never_queued_come_back_at_the_restart(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], queue: JobQueue, tmp_path: Path
) -> None:
    # What a bot killed between holding a request's credits and writing its job (a restyle's re-encode
    # runs there) leaves: a reservation that no job row and no queue entry will ever settle.
    db = await Database.open(str(tmp_path / "motionbot.db"))  # the database `start_bot` gives the bot
    try:
        await Quotas(db, Guilds(db, StorageSettings(_env_file=None))).reserve("killed-mid-request", GUILD_ID, 4301, 40)
    finally:
        await db.close()
    bot = start_bot()
    await connected(fake, bot, fake.identified)
    assert await settled_reservation(bot, 4301) == (GUILD_ID, "refunded")
    token = await fake.slash("quota", {}, user_id=4301)
    assert "(used 0 of" in await followup_text(fake, token)
