"""Users making clips over the wire: the real bot process, fake Discord, real Redis, worker and SQLite."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import av
import pillow_heif
import pytest
from PIL import Image

from bot.exts.video._intake import INTAKE, PER_USER, WAITING_PER_USER
from bot.exts.video._refusals import MARK, MOST_A_MINUTE, MOST_SENDING
from generation.registry import DEFAULT_MODELS
from storage.db import Database
from tests.bot.conftest import STATUS_WAIT_S, BotProcess, service_with
from tests.conftest import png_bytes
from tests.fake_discord import BOT_ROLE, CHANNEL_ID, GUILD_ID, FakeDiscord, Message, dm_channel
from tests.generation.test_provenance import made_with

# With the Message Content intent a mention in a reply sees the picture it replies to; test_startup.py checks
# the bot without it (the default).
service = service_with("video", MOTIONBOT_MESSAGE_CONTENT_INTENT="true")


def decode(data: bytes) -> tuple[str, str, int, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return (
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
            stream.codec_context.width,
            stream.codec_context.height,
            count,
        )


async def delivered(fake: FakeDiscord, token: str, timeout: float = 90) -> Message:
    return await fake.wait_until(
        lambda: (m := fake.response_to(token)) is not None and set(m.files) - {"preview.gif"} and m,
        timeout=timeout,
        what="the clip",
    )


async def test_animate_defers_shows_progress_and_delivers_an_mp4(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("cat.png", png_bytes(160, 90))
    sent = time.monotonic()
    token = await fake.slash(
        "animate", {"prompt": "a cat -motion 3", "camera": "zoom in", "seed": 7}, attachments={"image": image}
    )
    await fake.wait_until(lambda: fake.callbacks.get(token), timeout=5, what="the defer")
    [defer] = fake.calls_to("POST", f"/interactions/\\d+/{token}/callback")
    assert defer.at - sent < 3 and fake.callbacks[token][0]["type"] == 5
    message = await delivered(fake, token)
    [(name, clip)] = message.files.items()
    assert name.endswith(".mp4")
    alt = message.data["attachments"][0]["description"]
    assert alt == "An AI-generated video clip: a cat", "alt text for screen readers"
    assert decode(clip) == ("h264", "yuv420p", 80, 48, 4)
    assert made_with(clip) == "svd-xt" and "-model svd-xt" in message.content, "marked as AI-made, by its model"
    assert "a cat" in message.content and "-motion 3" in message.content and "-camera zoom in" in message.content
    assert "-seed 7" in message.content
    assert any(
        "Queued" in (edit.get("content") or "") or "Generating" in (edit.get("content") or "") for edit in message.edits
    ), service.output()
    assert {b["custom_id"].split(":")[1] for b in message.buttons()} == {
        "reroll",
        "remix",
        "extend",
        "smooth",
        "upscale",
        "gif",
        "expand",
        "delete",
    }


async def test_imagine_video_renders_a_prompt(fake: FakeDiscord, service: BotProcess) -> None:
    token = await fake.slash(
        "imagine-video", {"prompt": "a fox in the snow -camera pan left", "seed": 3, "guidance": 16.0}, user_id=1101
    )
    message = await delivered(fake, token)
    [clip] = message.files.values()
    assert decode(clip)[0] == "h264"
    assert f"-model {made_with(clip)} " in message.content and made_with(clip) != "svd-xt"
    assert (
        "a fox in the snow" in message.content and "-camera pan left" in message.content and "-gs 16" in message.content
    )


async def test_context_menu_animates_the_image_of_a_message(fake: FakeDiscord, service: BotProcess) -> None:
    target = fake.user_message("look at this", user_id=1201, attachments=[fake.upload("dog.jpg", png_bytes())])
    token = await fake.context_menu("Animate image", target, user_id=1202)
    message = await delivered(fake, token)
    assert "<@1202>" in message.content
    alt = message.data["attachments"][0]["description"]
    assert alt == "An AI-generated video clip: look at this"  # the message's words


async def test_the_avatar_menu_animates_the_picture_a_member_shows_here(fake: FakeDiscord, service: BotProcess) -> None:
    fake.cdn[f"/guilds/{GUILD_ID}/users/1231/avatars/b7e1.png"] = png_bytes(color=(20, 200, 40))
    fake.cdn["/avatars/1231/a_91c2.png"] = png_bytes(color=(200, 20, 40))  # an animated avatar's first frame
    shown_here = await fake.user_menu("Animate avatar", 1231, avatar="a_91c2", server_avatar="b7e1", user_id=1232)
    message = await delivered(fake, shown_here)
    assert "<@1232>" in message.content and decode(next(iter(message.files.values())))[0] == "h264"
    assert f"/guilds/{GUILD_ID}/users/1231/avatars/b7e1.png" in fake.fetched, "the server avatar, where there is one"
    own = await fake.user_menu("Animate avatar", 1231, avatar="a_91c2", user_id=1233)
    await delivered(fake, own)
    assert "/avatars/1231/a_91c2.png" in fake.fetched, "else their own, as a still picture"
    none = await fake.user_menu("Animate avatar", 1234, user_id=1235)
    assert "<@1234> has no avatar of their own to animate" in await refusal(fake, none)
    changed = await fake.user_menu("Animate avatar", 1236, avatar="f00d", user_id=1237)  # the CDN has it no more
    assert "Discord no longer has that picture" in await refusal(fake, changed)


async def test_a_picture_sticker_and_a_custom_emoji_are_animated(fake: FakeDiscord, service: BotProcess) -> None:
    fake.cdn["/stickers/881234567890123456.png"] = png_bytes()
    sticker = fake.user_message("", user_id=1241, stickers=[(881234567890123456, 1)])
    await delivered(fake, await fake.context_menu("Animate image", sticker, user_id=1242))
    assert "/stickers/881234567890123456.png" in fake.fetched
    red, green = (Image.open(io.BytesIO(png_bytes(color=c))) for c in ((200, 40, 40), (30, 190, 60)))
    gif = io.BytesIO()
    red.save(gif, format="GIF", save_all=True, append_images=[green], duration=100, loop=0)
    fake.cdn["/stickers/881234567890123458.gif"] = gif.getvalue()  # Discord's media proxy serves a GIF sticker
    moving = fake.user_message("", user_id=1241, stickers=[(881234567890123458, 4)])
    await delivered(fake, await fake.context_menu("Animate image", moving, user_id=1242))
    assert "/stickers/881234567890123458.gif" in fake.fetched
    drawn = fake.user_message("", user_id=1241, stickers=[(881234567890123457, 3)])  # Lottie: drawn in code
    assert "no image to animate" in await refusal(fake, await fake.context_menu("Animate image", drawn, user_id=1243))
    fake.cdn["/emojis/991234567890123456.png"] = png_bytes()
    request = fake.user_message(
        "<@700000000000000004> <:pepe:991234567890123456> dancing -motion 3", user_id=1244, mentions_bot=True
    )
    await fake.post(request)
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(request) if m.files), None), timeout=90, what="the clip"
    )
    assert "/emojis/991234567890123456.png" in fake.fetched
    assert "pepe dancing" in clip.content and "991234567890123456" not in clip.content, "the emoji read as its name"
    fake.cdn["/emojis/991234567890123457.png"] = png_bytes()
    photo = fake.user_message("", user_id=1245, attachments=[fake.upload("sea.png", png_bytes())])
    await fake.post(photo)
    words = fake.user_message(
        "<@700000000000000004> <:fire:991234567890123457> on fire", user_id=1245, mentions_bot=True, reply_to=photo
    )
    await fake.post(words)
    await fake.wait_until(lambda: any(m.files for m in fake.replies_to(words)), timeout=90, what="the clip")
    assert "/emojis/991234567890123457.png" not in fake.fetched, "the picture replied to, not the emoji in the words"
    typed = await fake.slash("imagine-video", {"prompt": "<a:fox:991234567890123458> in the snow"}, user_id=1246)
    assert "fox in the snow" in (await delivered(fake, typed)).content, "an emoji in a command's prompt: its name"


async def test_a_refused_mention_edited_by_its_author_is_read_again_in_place_of_its_refusal(
    fake: FakeDiscord, service: BotProcess
) -> None:
    bot = "<@700000000000000004>"
    request = fake.user_message(
        f"{bot} -motoin 3", user_id=1261, mentions_bot=True, attachments=[fake.upload("a.png", png_bytes())]
    )
    await fake.post(request)
    [refused] = await fake.wait_until(lambda: fake.replies_to(request), timeout=30, what="the refusal")
    assert "unknown flag `-motoin`" in refused.content
    await fake.edit(request, f"{bot} -motoin 3")  # Discord adding a preview: the words are the same
    await asyncio.sleep(1)
    assert refused.id in fake.messages and len(fake.replies_to(request)) == 1
    await fake.edit(request, f"{bot} -motion 3")
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(request) if m.files), None), timeout=90, what="the clip"
    )
    assert "-motion 3" in clip.content and refused.id not in fake.messages, "the refusal is gone"
    await fake.edit(request, f"{bot} -motion 4")  # taken in: an edit asks nothing more
    await asyncio.sleep(2)
    assert [m.id for m in fake.replies_to(request)] == [clip.id]


async def test_a_pasted_pictures_link_is_animated_once_discord_adds_its_preview(
    fake: FakeDiscord, service: BotProcess
) -> None:
    bot, upload = "<@700000000000000004>", fake.upload("dog.png", png_bytes())
    request = fake.user_message(f"{bot} https://example.com/dog.png -motion 3", user_id=1263, mentions_bot=True)
    await fake.post(request)  # Discord sends the message first, and its link's preview a moment later
    await asyncio.sleep(0.5)
    await fake.edit(request, link_preview=upload["proxy_url"])
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(request) if m.files), None), timeout=90, what="the clip"
    )
    posted = [c.payload for c in fake.calls_to("POST", f"/channels/{CHANNEL_ID}/messages$")]
    told = [p["content"] for p in posted if str((p.get("message_reference") or {}).get("message_id")) == request["id"]]
    assert "-motion 3" in clip.content and told and not [text for text in told if "⚠" in text], "no refusal, ever"
    assert "example.com" not in clip.content, "the link is the picture, not words of the prompt"
    # A link whose preview comes late (or is no picture) is refused, then read again once it comes.
    late = fake.user_message(f"{bot} https://example.com/dog.png", user_id=1265, mentions_bot=True)
    await fake.post(late)
    [refused] = await fake.wait_until(lambda: fake.replies_to(late), timeout=30, what="the refusal")
    assert "reply to a message with an image" in refused.content
    await fake.edit(late, link_preview=upload["proxy_url"])
    await fake.wait_until(lambda: any(m.files for m in fake.replies_to(late)), timeout=90, what="its clip")
    assert refused.id not in fake.messages, "the refusal is gone"
    # In a DM, just told how to ask: the link's message is not answered, yet read again with its preview.
    await fake.post(hello := fake.user_message("hi", user_id=1264, dm=True))
    await fake.wait_until(lambda: fake.replies_to(hello), timeout=30, what="how to ask")
    await fake.post(link := fake.user_message("https://example.com/dog.png", user_id=1264, dm=True))
    await asyncio.sleep(1)
    assert not fake.replies_to(link), "chat so soon after: no second hint"
    await fake.edit(link, link_preview=upload["proxy_url"])
    await fake.wait_until(lambda: any(m.files for m in fake.replies_to(link)), timeout=90, what="the DM's clip")


async def test_an_iphone_photo_in_heic_is_animated(fake: FakeDiscord, service: BotProcess) -> None:
    photo = io.BytesIO()
    pillow_heif.from_pillow(Image.open(io.BytesIO(png_bytes()))).save(photo, quality=80)
    upload = fake.upload("IMG_4032.HEIC", photo.getvalue(), content_type="image/heic")
    target = fake.user_message("our garden", user_id=1211, attachments=[upload])
    token = await fake.context_menu("Animate image", target, user_id=1212)
    message = await delivered(fake, token)
    assert decode(next(iter(message.files.values())))[0] == "h264"


async def test_a_forwarded_picture_is_animated_from_the_menu_and_by_a_reply_that_mentions_the_bot(
    fake: FakeDiscord, service: BotProcess
) -> None:
    original = fake.user_message(
        "a lighthouse -motion 3", user_id=1221, attachments=[fake.upload("l.png", png_bytes())]
    )
    forward = fake.user_message("", user_id=1222, forwarding=original)
    token = await fake.context_menu("Animate image", forward, user_id=1223)
    message = await delivered(fake, token)
    assert "-motion 3" in message.content, "the forwarded message's words, as for the original"
    await fake.post(forward)
    request = fake.user_message("<@700000000000000004> -motion 2", user_id=1224, mentions_bot=True, reply_to=forward)
    await fake.post(request)
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(request) if m.files), None), timeout=90, what="the clip"
    )
    assert "-motion 2" in clip.content


async def test_context_menu_animates_a_link_preview_through_discords_media_proxy(
    fake: FakeDiscord, service: BotProcess
) -> None:
    target = fake.user_message(
        "https://example.com/cat.png", user_id=1251, link_preview=fake.upload("cat.png", png_bytes())["proxy_url"]
    )
    token = await fake.context_menu("Animate image", target, user_id=1252)
    assert (await delivered(fake, token)).files  # example.com itself is never contacted


async def test_reply_to_an_image_with_a_mention_animates_it(fake: FakeDiscord, service: BotProcess) -> None:
    picture = fake.user_message("", user_id=1301, attachments=[fake.upload("sky.png", png_bytes())])
    await fake.post(picture)
    request = fake.user_message(
        "<@700000000000000004> make it move -motion 2 -camera zoom out",
        user_id=1302,
        mentions_bot=True,
        reply_to=picture,
    )
    await fake.post(request)

    def reply_with_clip() -> Message | None:
        for message in fake.messages.values():
            reference = message.data.get("message_reference") or {}
            if reference.get("message_id") == request["id"] and message.files:
                return message
        return None

    message = await fake.wait_until(reply_with_clip, timeout=90, what="the reply with a clip")
    assert "-motion 2" in message.content and "-camera zoom out" in message.content
    spent = await credits_used(service, 1302)
    thanks = fake.user_message("<@700000000000000004> thanks!", user_id=1302, mentions_bot=True, reply_to=message.data)
    await fake.post(thanks)
    [hint] = await fake.wait_until(lambda: fake.replies_to(thanks), what="the answer")
    assert "use the buttons under it" in hint.content, "its own clip is not a video to restyle to 'thanks!'"
    assert await credits_used(service, 1302) == spent


@pytest.mark.parametrize("refusals", [1, 2])
async def test_a_mention_whose_status_discord_refused_gets_one_later_and_its_clip_replies_to_it(
    fake: FakeDiscord, service: BotProcess, refusals: int
) -> None:
    user = 1310 + refusals
    picture = fake.user_message("", user_id=user, attachments=[fake.upload("hill.png", png_bytes())])
    await fake.post(picture)
    request = fake.user_message("<@700000000000000004> -motion 3", user_id=user, mentions_bot=True, reply_to=picture)
    # No Send Messages for a moment (an admin fixed it meanwhile): the status, and maybe its second try, refused.
    for _ in range(refusals):
        missing = {"message": "Missing Permissions", "code": 50013}
        fake.fail_next("POST", f"/channels/{CHANNEL_ID}/messages$", 403, missing)
    await fake.post(request)
    [clip] = await fake.wait_until(
        lambda: [m for m in fake.replies_to(request) if m.files], timeout=90, what="the clip replying to the request"
    )
    assert f"<@{user}>" in clip.content
    assert "-motion 3" in clip.content and len(fake.replies_to(request)) == 1
    refused = [c for c in fake.calls_to("POST", f"/channels/{CHANNEL_ID}/messages$") if c.status == 403]
    assert len(refused) >= refusals
    if refusals == 1:  # the watcher posted the status at its first look, and the clip came in it
        assert clip.edits[0]["_files"] == [] and clip.edits[-1]["_files"], "the status message became the clip"
        mentions = clip.edits[0]["allowed_mentions"]
        assert mentions["parse"] == [] and not mentions.get("users"), "a status pings nobody"


async def test_a_mention_without_an_image_explains_how(fake: FakeDiscord, service: BotProcess) -> None:
    request = fake.user_message("<@700000000000000004> hi", user_id=1401, mentions_bot=True)
    await fake.post(request)
    [hint] = await fake.wait_until(lambda: fake.replies_to(request), timeout=10, what="the hint")
    assert "reply to a message with an image" in hint.content


async def test_a_video_where_a_picture_goes_and_a_picture_where_a_video_goes_are_pointed_to_the_right_menu(
    fake: FakeDiscord, service: BotProcess
) -> None:
    video = fake.upload("IMG_0042.MOV", b"\x00\x00\x00\x14ftypqt  " + bytes(64), content_type="video/quicktime")
    picture = fake.upload("sky.png", png_bytes())
    request = fake.user_message("<@700000000000000004> -motion 3", user_id=1411, mentions_bot=True, attachments=[video])
    await fake.post(request)
    [hint] = await fake.wait_until(lambda: fake.replies_to(request), timeout=10, what="the hint")
    assert "say how it should look" in hint.content and "Restyle video" in hint.content  # words restyle it
    with_video = fake.user_message("look", user_id=1412, attachments=[video])
    animated = await fake.context_menu("Animate image", with_video, user_id=1411)
    assert "a video, not a picture" in await refusal(fake, animated)
    with_picture = fake.user_message("look", user_id=1412, attachments=[picture])
    restyled = await fake.context_menu("Restyle video", with_picture, user_id=1411)
    [answer] = await fake.wait_until(lambda: fake.callbacks.get(restyled), timeout=10, what="the answer")
    assert "a picture, not a video" in answer["data"]["content"] and "Animate image" in answer["data"]["content"]
    posed = await fake.slash("animate", {}, attachments={"image": picture, "pose": picture}, user_id=1411)
    assert "a picture, not a video: upload an MP4" in await refusal(fake, posed)  # a pose is a video of someone
    assert await credits_used(service, 1411) == 0


async def test_a_mention_of_the_bot_or_its_role_asks_and_a_reply_ping_alone_does_not(
    fake: FakeDiscord, service: BotProcess
) -> None:
    # Replying to the bot's clip (or picture) with the ping on puts the bot in `mentions`, not in the text.
    token = await fake.slash("imagine-video", {"prompt": "a lighthouse"}, user_id=1451)
    clip = await delivered(fake, token)
    picture = fake.user_message("", user_id=1452, attachments=[fake.upload("sea.png", png_bytes())])
    await fake.post(picture)
    chats = [
        fake.user_message("love it!", user_id=1452, mentions_bot=True, reply_to=clip.data),
        fake.user_message("nice", user_id=1452, mentions_bot=True, reply_to=picture),
    ]
    for chat in chats:
        await fake.post(chat)
    asked = fake.user_message("<@700000000000000004> -motion 4", user_id=1452, mentions_bot=True, reply_to=picture)
    await fake.post(asked)
    by_role = fake.user_message(f"<@&{BOT_ROLE}> -motion 2", user_id=1452, reply_to=picture)  # the bot's role
    await fake.post(by_role)

    for request in (asked, by_role):
        await fake.wait_until(lambda r=request: any(m.files for m in fake.replies_to(r)), timeout=90, what="a clip")
    [made] = [m for m in fake.replies_to(by_role) if m.files]
    assert "-motion 2" in made.content and str(BOT_ROLE) not in made.content, "the mention is not the prompt"
    assert not fake.replies_to(chats[0]) and not fake.replies_to(chats[1]), "chatter is not answered"


async def refusal(fake: FakeDiscord, token: str) -> str:
    """The ephemeral error a user got (the public "thinking…" message is gone)."""
    followup = await fake.wait_until(
        lambda: next((c for c in fake.calls_to("POST", f"/webhooks/\\d+/{token}$")), None),
        timeout=20,
        what="an ephemeral error",
    )
    assert followup.payload["flags"] & 64, "errors are ephemeral"
    assert fake.response_to(token) is None, "the public placeholder was deleted"
    return str(followup.payload["content"])


def huge_png_header(width: int, height: int) -> bytes:
    from tests.generation.test_images import huge_png_header as header

    return header(width, height)


@pytest.mark.parametrize(
    ("name", "data", "options", "message"),
    [
        ("notes.png", b"this is a text file, not a picture", {}, "not a picture"),
        ("half.png", png_bytes(200, 200)[:300], {}, "damaged or incomplete"),
        ("bomb.png", huge_png_header(30000, 30000), {}, "too large"),
        ("cut.png", huge_png_header(2000, 2000), {}, "damaged or incomplete"),  # its header's size, no pixels
        ("empty.png", b"", {}, "empty"),
        ("IMG_0042.MOV", b"\x00\x00\x00\x14ftypqt  " + bytes(64), {}, "a video, not a picture: `/restyle`"),
        ("cat.png", png_bytes(), {"prompt": "-motion 9"}, "`-motion` must be 0–4, got `9`"),
        ("cat.png", png_bytes(), {"prompt": "-foo 1"}, "unknown flag `-foo`"),
    ],
)
async def test_bad_input_gets_a_clear_private_error_and_no_charge(
    fake: FakeDiscord, service: BotProcess, name: str, data: bytes, options: dict, message: str
) -> None:
    user = 1500 + len(fake.calls) % 97
    token = await fake.slash("animate", options, attachments={"image": fake.upload(name, data)}, user_id=user)
    assert message in await refusal(fake, token)
    assert await credits_used(service, user) == 0
    assert service.process.poll() is None, "the bot is still running"


async def test_a_crowd_of_uploads_is_downloaded_a_few_at_a_time_and_every_one_answered(
    fake: FakeDiscord, service: BotProcess
) -> None:
    gate = fake.hold("GET", "/attachments/.*crowd")  # a slow CDN: each download waits until the gate opens
    tokens = []
    try:
        for user in range(1601, 1601 + INTAKE + 4):
            image = fake.upload(f"crowd{user}.png", b"not a picture, 1 kB" * 50)
            tokens.append(await fake.slash("animate", {}, attachments={"image": image}, user_id=user))
        await fake.wait_until(lambda: fake.held == INTAKE, timeout=20, what="the first downloads")
        await asyncio.sleep(1)
        assert fake.held == INTAKE, "the others wait their turn before downloading, holding no file"
    finally:
        gate.set()
    for token in tokens:  # each is answered once the ones before it are through
        assert "not a picture" in await refusal(fake, token)


async def test_one_users_burst_of_slow_uploads_leaves_room_for_everyone_else(
    fake: FakeDiscord, service: BotProcess
) -> None:
    gate = fake.hold("GET", "/attachments/.*burst")  # one user's uploads come from a CDN that hangs
    tokens = []
    try:
        for index in range(INTAKE + 2):
            image = fake.upload(f"burst{index}.png", b"not a picture, 1 kB" * 50)
            tokens.append(await fake.slash("animate", {}, attachments={"image": image}, user_id=1651))
        await fake.wait_until(lambda: fake.held == PER_USER, timeout=20, what="their first downloads")
        await asyncio.sleep(1)
        assert fake.held == PER_USER, "the rest of theirs wait, holding nothing"
        other = await fake.slash("animate", {}, attachments={"image": fake.upload("calm.png", b"text")}, user_id=1652)
        assert "not a picture" in await refusal(fake, other), "someone else is taken in meanwhile"
    finally:
        gate.set()
    for token in tokens:
        assert "not a picture" in await refusal(fake, token)


async def test_one_user_cannot_pile_up_requests_waiting_to_be_taken_in(fake: FakeDiscord, service: BotProcess) -> None:
    gate = fake.hold("GET", "/attachments/.*pile")  # their uploads come from a CDN that hangs
    tokens = []
    try:
        for index in range(WAITING_PER_USER + 2):
            image = fake.upload(f"pile{index}.png", b"not a picture, 1 kB" * 50)
            tokens.append(await fake.slash("animate", {}, attachments={"image": image}, user_id=1661))
        for token in tokens[WAITING_PER_USER:]:  # refused at once, while the others still wait
            assert "requests on their way in already" in await refusal(fake, token)
        assert fake.held == PER_USER
    finally:
        gate.set()
    for token in tokens[:WAITING_PER_USER]:
        assert "not a picture" in await refusal(fake, token)


async def test_a_status_discord_never_shows_holds_up_no_later_request(fake: FakeDiscord, service: BotProcess) -> None:
    gate = fake.hold("PATCH", "/messages/@original")  # Discord stops answering the first edit of every request
    try:
        tokens = [
            await fake.slash("imagine-video", {"prompt": f"a lantern {user} -steps 2"}, user_id=user)
            for user in range(1651, 1651 + INTAKE + 1)
        ]
        # Each request gives up on its first edit after a while and lets the next one in; the watcher shows
        # the status and the clip in the same message instead (its own edits are answered).
        for token in tokens:
            await delivered(fake, token, timeout=120)
        assert fake.held, "the first edits still hang"
    finally:
        gate.set()


async def test_a_mention_reply_discord_posts_late_still_gets_the_progress_and_the_clip(
    fake: FakeDiscord, service: BotProcess
) -> None:
    gate = fake.hold("POST", f"/channels/{CHANNEL_ID}/messages$")  # a busy channel: Discord holds new messages
    try:
        image = fake.upload("late.png", png_bytes())
        request = fake.user_message(
            "<@700000000000000004> -steps 30", user_id=1661, mentions_bot=True, attachments=[image]
        )
        await fake.post(request)
        await asyncio.sleep(STATUS_WAIT_S + 1)  # the request has given up waiting for its status reply and gone on
    finally:
        gate.set()

    status = await fake.wait_until(
        lambda: (found := fake.replies_to(request)) and found[0], what="the late status reply"
    )
    await fake.wait_until(lambda: "Generating" in status.content, what="progress in it")
    await fake.wait_until(lambda: set(status.files) - {"preview.gif"}, timeout=90, what="the clip in it")
    assert fake.replies_to(request) == [status], "one reply: the status became the clip"


async def test_refusals_a_busy_channel_holds_back_hold_up_no_other_request(
    fake: FakeDiscord, service: BotProcess
) -> None:
    gate = fake.hold("POST", f"/channels/{CHANNEL_ID}/messages$")  # Discord holds the channel's new messages
    mentions = []
    try:
        for user in range(1671, 1671 + INTAKE + 1):  # more than the requests the bot takes in at once
            bad = fake.upload("notes.png", b"not a picture at all")
            mentions.append(
                fake.user_message("<@700000000000000004>", user_id=user, mentions_bot=True, attachments=[bad])
            )
            await fake.post(mentions[-1])
        # The first refusal waits at Discord; discord.py sends the others to that channel after it.
        taken = lambda: sum("notes" in name for name in fake.fetched) >= INTAKE  # noqa: E731 (the intake is full)
        await fake.wait_until(lambda: fake.held and taken(), what="the refusals held back")
        image = fake.upload("fine.png", png_bytes())
        token = await fake.slash("animate", {"prompt": "-steps 2"}, attachments={"image": image}, user_id=1681)
        assert (await delivered(fake, token)).files, "taken in while the refusals wait"
    finally:
        gate.set()

    def answered() -> set[str]:
        return {str((m.data.get("message_reference") or {}).get("message_id")) for m in fake.messages.values()}

    await fake.wait_until(lambda: {m["id"] for m in mentions} <= answered(), what="every refusal, at last")


async def test_a_flood_of_mentions_discord_holds_back_gets_a_bounded_number_of_replies(
    fake: FakeDiscord, service: BotProcess
) -> None:
    gate = fake.hold("POST", f"/channels/{CHANNEL_ID}/messages$")  # Discord holds the channel's replies back
    flood = [
        fake.user_message("<@700000000000000004> hi", user_id=2100 + index, mentions_bot=True)
        for index in range(MOST_SENDING + 20)
    ]
    try:
        for message in flood:
            await fake.post(message)
        await fake.wait_until(lambda: "already wait for Discord" in service.output(), timeout=30, what="the cap")
    finally:
        gate.set()
    await fake.wait_until(
        lambda: sum(bool(fake.replies_to(m)) for m in flood) >= MOST_SENDING, timeout=60, what="the replies"
    )
    await asyncio.sleep(1)
    answered = sum(bool(fake.replies_to(m)) for m in flood)
    assert MOST_SENDING <= answered < len(flood), "the ones beyond the cap are dropped, not held"
    after = fake.user_message("<@700000000000000004> hi", user_id=1799, mentions_bot=True)
    await fake.post(after)
    await fake.wait_until(lambda: fake.replies_to(after), timeout=20, what="a reply once the flood is through")


async def test_a_user_refused_again_and_again_gets_a_mark_not_another_reply(
    fake: FakeDiscord, service: BotProcess
) -> None:
    bot = "<@700000000000000004>"

    async def ask(user: int, words: str, picture: bool = False) -> dict[str, Any]:
        attached = [fake.upload("p.png", png_bytes())] if picture else []
        message = fake.user_message(f"{bot} {words}", user_id=user, mentions_bot=True, attachments=attached)
        await fake.post(message)
        await fake.wait_until(
            lambda: fake.replies_to(message) or fake.reactions.get(int(message["id"])), timeout=30, what="an answer"
        )
        return message

    first = await ask(2301, "hi")
    again = await ask(2301, "hi")  # the same refusal, a moment later: the reply is just above
    assert len(fake.replies_to(first)) == 1 and not fake.replies_to(again)
    assert fake.reactions[int(again["id"])] == [MARK]
    assert fake.replies_to(await ask(2302, "hi")), "someone else is answered"
    # Told something new each time, a user is answered a few times a minute, then marked.
    asked = [await ask(2303, f"-motion {5 + n}", picture=True) for n in range(MOST_A_MINUTE + 1)]
    assert [bool(fake.replies_to(m)) for m in asked] == [True] * MOST_A_MINUTE + [False]
    assert "`-motion` must be" in fake.replies_to(asked[0])[0].content
    # A marked request edited into one the bot can take (before Discord even answered the mark): the mark goes,
    # the clip comes.
    gate = fake.hold("PUT", "/reactions/", taken=True)
    try:
        marked = await ask(2303, "-motion 11", picture=True)
        await fake.edit(marked, f"{bot} -motion 3")
        await asyncio.sleep(0.5)
    finally:
        gate.set()
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(marked) if m.files), None), timeout=90, what="the clip"
    )
    assert "-motion 3" in clip.content and fake.reactions[int(marked["id"])] == []


async def test_a_file_from_a_host_not_on_the_allow_list_is_not_fetched(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("cat.png", png_bytes()) | {"url": "http://169.254.169.254/latest/meta-data/cat.png"}
    token = await fake.slash("animate", {}, attachments={"image": image}, user_id=1601)
    assert "only download images uploaded to Discord" in await refusal(fake, token)


async def test_a_rate_limit_from_discord_is_waited_out(fake: FakeDiscord, service: BotProcess) -> None:
    fake.fail_next("PATCH", r"/webhooks/\d+/[^/]+/messages/", 429)
    token = await fake.slash("imagine-video", {"prompt": "rain on a window"}, user_id=1701)
    await delivered(fake, token)
    statuses = [c.status for c in fake.calls_to("PATCH", f"/webhooks/\\d+/{token}/messages/")]
    assert statuses[0] == 429 and 200 in statuses


async def test_expired_token_falls_back_to_a_channel_message(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("clouds.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "slow clouds -steps 12"}, attachments={"image": image}, user_id=1801)
    status = await fake.wait_until(lambda: fake.response_to(token), timeout=20, what="the status message")
    fake.expired_tokens.add(token)  # as if 15 minutes had passed

    def fallback() -> Message | None:
        replies = [
            m
            for m in fake.messages.values()
            if (m.data.get("message_reference") or {}).get("message_id") == str(status.id)
        ]
        return next((m for m in replies if m.files and "<@1801>" in m.content), None)

    message = await fake.wait_until(fallback, timeout=90, what="the channel message")
    assert "your video is ready" in message.content
    [post] = [
        c
        for c in fake.calls_to("POST", f"/channels/{CHANNEL_ID}/messages$")
        if "<@1801>" in str((c.payload or {}).get("content"))
    ]
    mentions = post.payload["allowed_mentions"]  # only the requester may be pinged: no roles, no everyone
    assert mentions["parse"] == [] and [int(u) for u in mentions["users"]] == [1801]
    assert any(c.status == 401 for c in fake.calls_to("PATCH", f"/webhooks/\\d+/{token}/"))


@pytest.mark.parametrize(
    ("user", "status", "error"),
    [
        (1851, 403, {"message": "Missing Permissions", "code": 50013}),  # someone took the bot's channel rights
        (1852, 404, {"message": "Unknown Channel", "code": 10003}),  # the channel (or thread) was deleted
        (1853, 400, {"message": "Thread is locked", "code": 160005}),  # a moderator closed the thread
    ],
)
async def test_a_late_clip_goes_by_dm_when_the_bot_may_not_post_in_the_channel_or_it_is_gone(
    fake: FakeDiscord, service: BotProcess, user: int, status: int, error: dict[str, object]
) -> None:
    image = fake.upload("rain.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "rain -steps 10"}, attachments={"image": image}, user_id=user)
    await fake.wait_until(lambda: fake.response_to(token), timeout=20, what="the status message")
    fake.expired_tokens.add(token)  # 15 minutes later, and meanwhile the channel changed
    fake.fail_next("POST", f"/channels/{CHANNEL_ID}/messages$", status, error)
    dm = await fake.wait_until(
        lambda: next(
            (m for m in fake.messages.values() if m.files and m.data["channel_id"] == str(dm_channel(user))), None
        ),
        timeout=90,
        what="the clip by DM",
    )
    assert "could not post" in dm.content and "rain" in dm.content
    assert await settled_reservation(service, user) == (GUILD_ID, "committed")
    if user != 1851:
        return  # the rest is the same for both
    history = await fake.slash("history", {}, user_id=1851)  # links to the clip where it is: in the DM
    answer = await fake.wait_until(
        lambda: next((c.payload["content"] for c in fake.calls_to("POST", f"/webhooks/\\d+/{history}$")), None),
        what="the history",
    )
    assert f"](https://discord.com/channels/@me/{dm_channel(1851)}/{dm.id})" in answer
    delete = next(b["custom_id"] for b in dm.buttons() if b["custom_id"].startswith("mb:delete:"))
    await fake.click(dm, delete, user_id=1851, dm=True)  # its buttons work in the DM
    await fake.wait_until(lambda: dm.id not in fake.messages, what="the deletion")


async def test_a_mentions_clip_goes_by_dm_when_the_bot_lost_its_rights_in_the_channel(
    fake: FakeDiscord, service: BotProcess
) -> None:
    picture = [fake.upload("sea.png", png_bytes())]
    request = fake.user_message("<@700000000000000004> waves", user_id=1861, mentions_bot=True, attachments=picture)
    await fake.post(request)
    await fake.wait_until(lambda: fake.replies_to(request), timeout=20, what="the status reply")
    lost = {"message": "Missing Permissions", "code": 50013}
    fake.fail_next("PATCH", f"/channels/{CHANNEL_ID}/messages/\\d+$", 403, lost, file_named="motionbot-")
    fake.fail_next("POST", f"/channels/{CHANNEL_ID}/messages$", 403, lost, file_named="motionbot-")
    dm = await fake.wait_until(
        lambda: next(
            (m for m in fake.messages.values() if m.files and m.data["channel_id"] == str(dm_channel(1861))), None
        ),
        timeout=90,
        what="the clip by DM",
    )
    assert "could not post" in dm.content and "waves" in dm.content


async def test_a_clip_discord_refuses_is_a_failure_said_and_refunded_with_try_again(
    fake: FakeDiscord, service: BotProcess
) -> None:
    image = fake.upload("big.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a storm -steps 6"}, attachments={"image": image}, user_id=1871)
    status = await fake.wait_until(lambda: fake.response_to(token), timeout=20, what="the status message")
    too_large = {"message": "Request entity too large", "code": 40005}
    fake.fail_next("PATCH", f"/webhooks/\\d+/{token}/messages/", 413, too_large, file_named=r"\.mp4$")
    await fake.wait_until(lambda: "Discord would not take the clip" in status.content, timeout=90, what="the failure")
    assert "refunded" in status.content and not status.files
    assert [b["custom_id"].split(":")[1] for b in status.buttons()] == ["retry", "remix"]
    assert await settled_reservation(service, 1871) == (GUILD_ID, "refunded")


async def credits_used(service: BotProcess, user_id: int) -> int:
    db = await Database.open(Path(service_db(service)))
    try:
        row = await db.fetchone(
            "SELECT COALESCE(SUM(cost), 0) FROM reservations WHERE user_id = ? AND state != 'refunded'", (user_id,)
        )
        return int(row[0]) if row else 0
    finally:
        await db.close()


def service_db(service: BotProcess) -> str:
    return str(service.log.parent / "motionbot.db")


async def test_a_request_the_database_cannot_keep_leaves_no_credits_held_and_no_job(
    fake: FakeDiscord, service: BotProcess
) -> None:
    db = await Database.open(service_db(service))  # the disk fills up as the picture is kept
    try:
        async with db.transaction() as conn:
            await conn.execute("CREATE TRIGGER full BEFORE INSERT ON input_refs BEGIN SELECT RAISE(FAIL, 'full'); END")
        image = fake.upload("cat.png", png_bytes())
        token = await fake.slash("animate", {}, attachments={"image": image}, user_id=1931)
        assert "something went wrong" in await refusal(fake, token)
        assert await settled_reservation(service, 1931) == (GUILD_ID, "refunded")
        assert [tuple(r) for r in await db.fetchall("SELECT state FROM jobs WHERE user_id = 1931")] == [("failed",)]
        assert not await db.fetchall("SELECT * FROM pending_requests WHERE token = ?", (token,)), "answered"
    finally:
        async with db.transaction() as conn:
            await conn.execute("DROP TRIGGER full")
        await db.close()


async def test_direct_messages_work_when_allowed(fake: FakeDiscord, service: BotProcess) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a lighthouse at night"}, user_id=1901, dm=True)
    message = await delivered(fake, token)
    assert "a lighthouse at night" in message.content
    assert await settled_reservation(service, 1901) == (0, "committed")  # charged to the DM allowance


async def test_a_picture_sent_to_the_bot_by_dm_is_animated_and_words_alone_get_how_to_ask(
    fake: FakeDiscord, service: BotProcess
) -> None:
    picture = fake.user_message("-motion 3", user_id=1911, attachments=[fake.upload("o.png", png_bytes())], dm=True)
    await fake.post(picture)
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(picture) if m.files), None), timeout=90, what="the clip"
    )
    assert "-motion 3" in clip.content and clip.data["channel_id"] == str(dm_channel(1911))
    spent = await credits_used(service, 1911)
    thanks = fake.user_message("thanks!", user_id=1911, dm=True, reply_to=clip.data)  # chat, not "restyle this"
    await fake.post(thanks)
    [hint] = await fake.wait_until(lambda: fake.replies_to(thanks), what="how to ask")
    assert "send me a picture" in hint.content
    assert await credits_used(service, 1911) == spent, "nothing more was made"
    cool = fake.user_message("cool", user_id=1911, dm=True)  # more chat: told once is enough for a while
    await fake.post(cool)
    again = fake.user_message("-motion 2", user_id=1911, attachments=[fake.upload("p.png", png_bytes())], dm=True)
    await fake.post(again)
    await fake.wait_until(lambda: fake.replies_to(again), timeout=30, what="the next request's status")
    assert not fake.replies_to(cool)


async def settled_reservation(service: BotProcess, user_id: int, timeout: float = 15) -> tuple[int, str]:
    """The user's (guild, state) once the bot has committed or refunded; it does so just after delivery."""
    deadline = time.monotonic() + timeout
    while True:
        db = await Database.open(service_db(service))
        try:
            row = await db.fetchone("SELECT guild_id, state FROM reservations WHERE user_id = ?", (user_id,))
        finally:
            await db.close()
        if (row and row[1] != "reserved") or time.monotonic() > deadline:
            return (row[0], row[1]) if row else (-1, "missing")
        await asyncio.sleep(0.2)


async def test_queue_command_shows_workers_and_depth(fake: FakeDiscord, service: BotProcess) -> None:
    token = await fake.slash("queue", {}, user_id=1902)
    call = await fake.wait_until(
        lambda: next(iter(fake.calls_to("POST", f"/webhooks/\\d+/{token}$")), None), timeout=20, what="the answer"
    )
    assert "GPU workers online" in call.payload["content"] and call.payload["flags"] & 64


async def test_help_lists_the_commands_flags_and_what_this_server_offers(
    fake: FakeDiscord, service: BotProcess
) -> None:
    async def answer(name: str, options: dict, **how: object) -> str:
        token = await fake.slash(name, options, user_id=1903, **how)  # type: ignore[arg-type]
        [callback] = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the answer")
        assert callback["data"]["flags"] & 64, "private"
        return str(callback["data"].get("content") or callback["data"]["embeds"][0]["description"])

    shown = await answer("help", {})
    commands = ("animate", "imagine-video", "morph", "restyle", "illusion", "quota", "queue", "history")
    commands += ("preferences", "privacy")
    assert all(f"`/{name}`" in shown for name in commands)
    assert "`-motion 0–4`" in shown and "`-fast`" in shown and "zoom in" in shown and "watercolor" in shown
    assert "`animatediff`" in shown and "`svd-xt`" in shown and "**Upscale**" in shown and "…" not in shown
    await answer("motionbot-admin", {"enabled": "svd-xt"}, subcommand=["models"], admin=True)
    try:
        limited = await answer("help", {})
        assert "**Models here**: `svd-xt`\n" in limited, "only what this server enabled"
    finally:
        await answer("motionbot-admin", {"enabled": "all"}, subcommand=["models"], admin=True)
    assert "`/アニメ化`" in await answer("help", {}, locale="ja"), "in the user's language, with its command names"


async def test_model_suggestions_are_the_models_this_server_enables_that_fit_the_command(
    fake: FakeDiscord, service: BotProcess
) -> None:
    async def suggested(command: str, typed: str = "") -> dict[str, str]:
        return {choice["value"]: choice["name"] for choice in await fake.autocomplete(command, "model", typed)}

    text = await suggested("imagine-video")
    assert "animatediff" in text and "svd-xt" not in text, "only models that make clips from words"
    assert text["animatediff"].startswith("animatediff — ") and "LoRA" in text["animatediff"], "with what it is"
    assert set(await suggested("morph")) == {n for n, spec in DEFAULT_MODELS.items() if spec.keyframes}
    assert set(await suggested("illusion")) == {n for n, spec in DEFAULT_MODELS.items() if spec.illusion_weights}
    assert set(await suggested("animate", "Wan")) == {"wan", "wan-i2v", "wan-animate", "wan-vace"}
    assert set(await suggested("animate", "keyframes")) == {"ltx"}, "typed words match the description too"
    token = await fake.slash("motionbot-admin", {"enabled": "svd-xt,ltx"}, subcommand=["models"], admin=True)
    await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the admin's answer")
    try:
        assert set(await suggested("animate")) == {"svd-xt", "ltx"}, "only what this server enabled"
        assert set(await suggested("restyle")) == set(), "neither restyles videos"
    finally:
        token = await fake.slash("motionbot-admin", {"enabled": "all"}, subcommand=["models"], admin=True)
        await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the admin's answer")


async def test_every_command_reads_whole_in_discord(fake: FakeDiscord, service: BotProcess) -> None:
    """Discord takes 100 characters per description; discord.py cuts a longer one short with an ellipsis."""
    names = {command["name"] for command in fake.commands}
    assert {"animate", "imagine-video", "morph", "motionbot-admin", "Animate image"} <= names

    def descriptions(item: dict, where: str) -> list[tuple[str, str]]:
        found = [(where, item["description"])] if item.get("description") else []
        options = item.get("options") or []
        return found + [pair for option in options for pair in descriptions(option, f"{where} {option['name']}")]

    texts = [pair for command in fake.commands for pair in descriptions(command, command["name"])]
    cut = [where for where, text in texts if len(text) > 100 or text.endswith("…")]
    assert texts and not cut, f"descriptions missing or cut short: {cut}"
