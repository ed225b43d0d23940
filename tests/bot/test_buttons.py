"""The buttons on status and result messages, pressed over the wire."""

from __future__ import annotations

import asyncio
import io
import re
from hashlib import sha256

import numpy as np
import pytest
from PIL import Image

from generation.encode import decode_frames
from storage.db import Database
from tests.bot.conftest import BotProcess
from tests.bot.test_video import credits_used, decode, delivered, service_db
from tests.conftest import png_bytes
from tests.fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord, Message


async def animate(fake: FakeDiscord, user: int, prompt: str = "a cat") -> tuple[str, Message]:
    token = await fake.slash(
        "animate", {"prompt": prompt}, attachments={"image": fake.upload("c.png", png_bytes())}, user_id=user
    )
    return token, await delivered(fake, token)


async def followup_text(fake: FakeDiscord, token: str) -> str:
    """The private answer sent after a deferred ("thinking…") acknowledgement."""
    call = await fake.wait_until(
        lambda: next(iter(fake.calls_to("POST", f"/webhooks/\\d+/{token}$")), None), timeout=20, what="the answer"
    )
    assert call.payload["flags"] & 64, "answers are ephemeral"
    return str(call.payload["content"])


def button(message: Message, action: str) -> str:
    return next(b["custom_id"] for b in message.buttons() if b["custom_id"].startswith(f"mb:{action}:"))


async def ephemeral_answer(fake: FakeDiscord, token: str) -> str:
    callback = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="an answer")
    assert callback[0]["type"] == 4 and callback[0]["data"]["flags"] & 64
    return str(callback[0]["data"]["content"])


async def private_answer(fake: FakeDiscord, token: str) -> str:
    """The private answer to a command, given at once or after a deferred ("thinking…") acknowledgement."""
    callback = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="an answer")
    return await (followup_text if callback[0]["type"] == 5 else ephemeral_answer)(fake, token)


async def test_reroll_by_someone_else_makes_a_new_clip_on_their_credits(fake: FakeDiscord, service: BotProcess) -> None:
    _, first = await animate(fake, 2101, "a cat -seed 5")
    token = await fake.click(first, button(first, "reroll"), user_id=2102)
    second = await delivered(fake, token)
    assert second.id != first.id and "<@2102>" in second.content
    seed = re.search(r"-seed (\d+)", second.content)
    assert seed and seed[1] != "5", "a new seed"
    assert await credits_used(service, 2102) == 1 and await credits_used(service, 2101) == 1


async def test_remix_opens_a_modal_and_renders_the_edited_prompt(fake: FakeDiscord, service: BotProcess) -> None:
    _, first = await animate(fake, 2201, "a cat -motion 1")
    token = await fake.click(first, button(first, "remix"), user_id=2201)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    assert modal[0]["type"] == 9
    inputs = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    assert "a cat" in inputs.values()
    values = dict(zip(inputs, ["a dog", "-motion 4 -camera pan right"], strict=True))
    submitted = await fake.submit_modal(modal[0]["data"]["custom_id"], values)
    remixed = await delivered(fake, submitted)
    assert "a dog" in remixed.content and "-motion 4" in remixed.content and "-camera pan right" in remixed.content


async def test_a_refused_remix_offers_remix_again_with_what_was_typed(fake: FakeDiscord, service: BotProcess) -> None:
    def form(token: str) -> tuple[str, dict[str, str]]:
        [modal] = fake.callbacks[token]
        return modal["data"]["custom_id"], {
            c["custom_id"]: c.get("value") for r in modal["data"]["components"] for c in r["components"]
        }

    _, first = await animate(fake, 2211, "a cat -motion 1")
    opened = await fake.click(first, button(first, "remix"), user_id=2211)
    await fake.wait_until(lambda: fake.callbacks.get(opened), timeout=20, what="the form")
    form_id, _values = form(opened)
    typed = {"prompt": "a long careful prompt about a dog", "flags": "-motion 9 -camera pan right"}
    refused_token = await fake.submit_modal(form_id, typed, user_id=2211)
    assert "`-motion` must be 0–4" in await followup_text(fake, refused_token)
    refusal = next(m for m in fake.messages.values() if "`-motion` must be 0–4" in m.content)
    again = await fake.click(refusal, button(refusal, "remix"), user_id=2211)
    await fake.wait_until(lambda: fake.callbacks.get(again), timeout=20, what="the form again")
    assert form(again)[1] == typed, "the form holds what was typed, not the clip's prompt"
    remixed = await delivered(fake, await fake.submit_modal(form_id, typed | {"flags": "-motion 4"}, user_id=2211))
    assert "a long careful prompt about a dog" in remixed.content
    fresh = await fake.click(first, button(first, "remix"), user_id=2211)
    await fake.wait_until(lambda: fake.callbacks.get(fresh), timeout=20, what="a new form")
    assert "a cat" in form(fresh)[1].values(), "once remixed, the clip's own prompt again"


def frames_of(message: Message) -> tuple[np.ndarray, int]:
    return decode_frames(next(iter(message.files.values())))


def reported(message: Message) -> tuple[int, int]:
    """The frames and fps the result message says its clip has."""
    found = re.search(r"(\d+) frames at (\d+) fps", message.content)
    assert found, message.content
    return int(found[1]), int(found[2])


async def test_extend_is_the_clip_followed_by_its_continuation(fake: FakeDiscord, service: BotProcess) -> None:
    _, first = await animate(fake, 2301, "a cat -model svd -seed 5")  # svd costs 3 credits a clip here
    source, _ = frames_of(first)
    token = await fake.click(first, button(first, "extend"), user_id=2301)
    extended = await delivered(fake, token)
    frames, fps = frames_of(extended)
    assert (len(source), len(frames), fps) == (4, 7, 24) and reported(extended) == (7, 24)
    assert "extended 4 → 7 frames" in extended.content and "-model svd" in extended.content
    assert np.abs(frames[:4].astype(int) - source.astype(int)).mean() < 4, "the original clip comes first"
    assert np.abs(frames[4].astype(int) - frames[3].astype(int)).mean() > 1, "no repeated frame at the join"
    assert await credits_used(service, 2301) == 3 + 3, "the continuation's price, not the whole clip's"
    token = await fake.click(extended, button(extended, "extend"), user_id=2301)
    longer = await delivered(fake, token)
    assert len(frames_of(longer)[0]) == 10 and "extended 7 → 10 frames" in longer.content


async def test_extend_is_not_offered_for_a_model_that_cannot_continue_clips(
    fake: FakeDiscord, service: BotProcess
) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a fox"}, user_id=2351)
    clip = await delivered(fake, token)
    actions = {b["custom_id"].split(":")[1] for b in clip.buttons()}
    assert actions == {"reroll", "remix", "smooth", "upscale", "gif", "expand", "delete"}


async def test_smooth_interpolates_and_echoes_the_clip_it_made(fake: FakeDiscord, service: BotProcess) -> None:
    _, first = await animate(fake, 2401, "a cat -model svd -seed 9 -fps 12")
    token = await fake.click(first, button(first, "smooth"), user_id=2401)
    smooth = await delivered(fake, token)
    frames, fps = frames_of(smooth)
    assert (len(frames), fps) == (7, 24) == reported(smooth)  # 4 frames at 12 fps -> 7 at 24, first to last
    assert "-model svd " in smooth.content and "-seed 9" in smooth.content and "-fps 24" in smooth.content


async def test_gif_makes_the_same_clip_a_looping_gif_for_free(fake: FakeDiscord, service: BotProcess) -> None:
    _, first = await animate(fake, 2411, "a cat -model svd -seed 9 -fps 12")
    clip, _ = frames_of(first)
    before = await credits_used(service, 2411)
    gif = await delivered(fake, await fake.click(first, button(first, "gif"), user_id=2411))
    [(name, data)] = gif.files.items()
    frames, fps = frames_of(gif)
    assert name.endswith(".gif") and Image.open(io.BytesIO(data)).info.get("loop") == 0, "a GIF that loops"
    assert (len(frames), fps) == (4, 12) == reported(gif)
    assert np.abs(frames.astype(int) - clip.astype(int)).mean() < 8, "the same clip, frame for frame"
    assert "as a GIF, 4 frames at 12 fps · free" in gif.content and "-gif" in gif.content and "-seed 9" in gif.content
    assert await credits_used(service, 2411) == before, "free: no model ran"
    assert [b["custom_id"].split(":")[1] for b in gif.buttons()] == ["delete"]


async def test_a_gif_clip_plays_inline_as_a_gif_and_its_buttons_keep_it_one(
    fake: FakeDiscord, service: BotProcess
) -> None:
    _, first = await animate(fake, 2421, "a cat -model svd -fps 12 -gif")
    [(name, data)] = first.files.items()
    assert name.endswith(".gif") and Image.open(io.BytesIO(data)).n_frames == 4 and "-gif" in first.content
    assert "gif" not in {b["custom_id"].split(":")[1] for b in first.buttons()}, "a GIF already"
    smooth = await delivered(fake, await fake.click(first, button(first, "smooth"), user_id=2421))
    [(name, data)] = smooth.files.items()
    assert name.endswith(".gif") and frames_of(smooth)[0].shape[0] == 7 == reported(smooth)[0]
    token = await fake.click(first, button(first, "remix"), user_id=2421)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    form = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    flags = next(key for key, value in form.items() if "-gif" in (value or ""))
    plain = form | {flags: form[flags].replace("-gif", "")}  # taken out of the form: an MP4 again
    remixed = await delivered(fake, await fake.submit_modal(modal[0]["data"]["custom_id"], plain))
    assert next(iter(remixed.files)).endswith(".mp4") and "-gif" not in remixed.content


_KEPT = ["-model svd", "-camera zoom in", "-ar 1:1", "-frames 5", "-steps 3", "-motion 3"]


async def test_reroll_and_remix_keep_every_option_of_the_source(fake: FakeDiscord, service: BotProcess) -> None:
    _, first = await animate(fake, 2451, "a cat " + " ".join(_KEPT) + " -seed 5")
    token = await fake.click(first, button(first, "reroll"), user_id=2451)
    rerolled = await delivered(fake, token)
    token = await fake.click(first, button(first, "remix"), user_id=2451)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    form = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    remixed = await delivered(fake, await fake.submit_modal(modal[0]["data"]["custom_id"], form | {"prompt": "a dog"}))
    for clip in (first, rerolled, remixed):
        assert all(flag in clip.content for flag in _KEPT), clip.content
        _codec, _, width, height, count = decode(next(iter(clip.files.values())))
        assert (width, height, count) == (64, 64, 5)
    assert all(re.search(r"-seed (\d+)", c.content)[1] != "5" for c in (rerolled, remixed)), "new seeds"  # type: ignore[index]
    assert "a dog" in remixed.content


@pytest.mark.parametrize(
    ("presser", "admin", "allowed"), [(2502, False, False), (2501, False, True), (2503, True, True)]
)
async def test_delete_is_for_the_requester_or_moderators(
    fake: FakeDiscord, service: BotProcess, presser: int, admin: bool, allowed: bool
) -> None:
    _, clip = await animate(fake, 2501)
    token = await fake.click(clip, button(clip, "delete"), user_id=presser, admin=admin)
    answer = await ephemeral_answer(fake, token)
    if allowed:
        await fake.wait_until(lambda: clip.id not in fake.messages, timeout=10, what="the deletion")
    else:
        assert "Only the person who asked" in answer and clip.id in fake.messages


async def test_cancel_while_running_stops_and_refunds(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("slow.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "slow -steps 100"}, attachments={"image": image}, user_id=2601)
    status = await fake.wait_until(
        lambda: (m := fake.response_to(token)) and m.buttons() and m, timeout=20, what="the status with Cancel"
    )
    stranger = await fake.click(status, button(status, "cancel"), user_id=2602)
    assert "Only the person who asked" in await ephemeral_answer(fake, stranger)
    mine = await fake.click(status, button(status, "cancel"), user_id=2601)
    answer = await followup_text(fake, mine)
    assert "Stopping" in answer or "Removed" in answer
    await fake.wait_until(lambda: "Cancelled" in status.content, timeout=30, what="the cancelled status")
    assert "refunded" in status.content and not status.files
    assert await credits_used(service, 2601) == 0


async def test_a_queued_job_shows_its_place_in_line_at_once_and_moves_up(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await animate(fake, 2620)  # a clip made: the queue knows how long one takes
    image = fake.upload("slow.png", png_bytes())
    slow = await fake.slash("animate", {"prompt": "slow -steps 100"}, attachments={"image": image}, user_id=2621)
    running = await fake.wait_until(
        lambda: (m := fake.response_to(slow)) and "step" in m.content and m, timeout=30, what="the slow job to run"
    )
    waiting, tokens = [], []
    for user in (2622, 2623):
        token = await fake.slash("animate", {"prompt": "a heron"}, attachments={"image": image}, user_id=user)
        tokens.append(token)
        waiting.append(
            await fake.wait_until(
                lambda t=token: (m := fake.response_to(t)) and m.buttons() and m, timeout=20, what="a queued status"
            )
        )
    first_words = [next(edit["content"] for edit in m.edits if edit.get("content")) for m in waiting]
    assert "#1 in line, ready <t:" in first_words[0] and "#2 in line, ready <t:" in first_words[1], first_words
    later = await fake.slash("animate", {"prompt": "a crane"}, attachments={"image": image}, user_id=2623)
    third = await fake.wait_until(lambda: (m := fake.response_to(later)) and m.buttons() and m, timeout=20, what="#3")
    listed = await followup_text(fake, await fake.slash("queue", {}, user_id=2623))
    link = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}"
    heron, crane = re.escape(f"[`a heron`]({link}/{waiting[1].id})"), re.escape(f"[`a crane`]({link}/{third.id})")
    assert re.search(rf"{heron}: #2 in line, ready <t:\d+:R>\n• {crane}: #3 in line", listed), listed
    await fake.click(third, button(third, "cancel"), user_id=2623)
    second = tokens[1]
    # The edit that would say so fails once (Discord answers 403): it is shown at the next look all the same.
    fake.fail_next("PATCH", f"/webhooks/\\d+/{second}/", 403, {"message": "Missing Access", "code": 50001})
    edits = f"/webhooks/\\d+/{second}/"
    await fake.click(waiting[0], button(waiting[0], "cancel"), user_id=2622)
    # Any of the calls: on a busy machine the retry can land before this test looks.
    await fake.wait_until(
        lambda: any(call.status == 403 for call in fake.calls_to("PATCH", edits)), timeout=20, what="the failed edit"
    )
    # Tried again at the next look (every 0.3 s here), not when the text next changes (its ready time: 15 s).
    await fake.wait_until(lambda: "#1 in line" in waiting[1].content, timeout=8, what="the next one to move up")
    for message, user in ((waiting[1], 2623), (running, 2621)):
        await fake.click(message, button(message, "cancel"), user_id=user)
        await fake.wait_until(lambda m=message: "Cancelled" in m.content, timeout=30, what="the cancel")


async def test_a_status_edit_that_hangs_holds_up_no_other_job(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("slow.png", png_bytes())
    slow = await fake.slash("animate", {"prompt": "slow -steps 100"}, attachments={"image": image}, user_id=2611)
    running = await fake.wait_until(
        lambda: (m := fake.response_to(slow)) and m.buttons() and m, timeout=20, what="the running job's status"
    )
    gate = fake.hold("PATCH", f"/webhooks/\\d+/{slow}/")  # Discord stops answering this job's status edits
    try:
        await fake.wait_until(lambda: fake.held, timeout=20, what="a status edit to hang")
        waiting = await fake.slash("animate", {"prompt": "a heron"}, attachments={"image": image}, user_id=2612)
        status = await fake.wait_until(
            lambda: (m := fake.response_to(waiting)) and m.buttons() and m, timeout=20, what="the queued job's status"
        )
        await fake.click(status, button(status, "cancel"), user_id=2612)
        # The queued job's cancel is settled and shown while the other job's edit still hangs.
        await fake.wait_until(lambda: "Cancelled" in status.content, timeout=20, what="the cancelled status")
        assert await credits_used(service, 2612) == 0
        assert fake.held, "the slow job's edit still hangs"
    finally:
        gate.set()
    await fake.click(running, button(running, "cancel"), user_id=2611)
    await fake.wait_until(lambda: "Cancelled" in running.content, timeout=30, what="the slow job's cancel")


async def test_a_job_id_used_from_another_server_is_unknown_there(fake: FakeDiscord, service: BotProcess) -> None:
    _, clip = await animate(fake, 2701, "a heron")
    for action in ("reroll", "remix", "delete"):
        token = await fake.click(clip, button(clip, action), user_id=2702, admin=True, guild_id=799000000000000001)
        assert "no longer know" in await ephemeral_answer(fake, token)
    await asyncio.sleep(1)
    assert clip.id in fake.messages and await credits_used(service, 2702) == 0  # nothing deleted, no job started
    token = await fake.click(clip, button(clip, "reroll"), user_id=2702)  # in the server it was made in: fine
    assert await delivered(fake, token) is not None


async def test_submit_then_cancel_again_and_again_leaves_nothing_stored(fake: FakeDiscord, service: BotProcess) -> None:
    noise = np.random.default_rng(3).integers(0, 255, (600, 600, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, format="PNG")  # about 1 MB that does not compress
    picture = out.getvalue()
    used_pages = []
    for _ in range(2):
        image = fake.upload("noise.png", picture)
        token = await fake.slash("animate", {"prompt": "slow -steps 60"}, attachments={"image": image}, user_id=2651)
        status = await fake.wait_until(
            lambda t=token: (m := fake.response_to(t)) and m.buttons() and m, timeout=20, what="the status with Cancel"
        )
        await fake.click(status, button(status, "cancel"), user_id=2651)
        await fake.wait_until(lambda s=status: "Cancelled" in s.content, timeout=30, what="the cancelled status")
        db = await Database.open(service_db(service))
        try:
            held = await db.fetchone("SELECT COUNT(*) FROM input_blobs WHERE hash = ?", (sha256(picture).hexdigest(),))
            assert held is not None and held[0] == 0, "a cancelled job's input is gone at once"
            pages = await db.fetchone("PRAGMA page_count")
            free = await db.fetchone("PRAGMA freelist_count")
            assert pages is not None and free is not None
            used_pages.append(pages[0] - free[0])
        finally:
            await db.close()
    assert await credits_used(service, 2651) == 0
    assert used_pages[-1] - used_pages[0] < len(picture) // 4096, f"the database grew: {used_pages} pages"
