"""/restyle and the "Restyle video" menu through the real bot and worker over the fake Discord: a user's video
redrawn by tiny Wan, bad videos refused at no cost, Reroll and Remix on a restyled clip."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from generation.encode import decode_frames
from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import button
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import CHANNEL_ID, FakeDiscord, Message
from tests.generation.test_video_input import filmed_upright


def video(folder: Path, seed: int, frames: int = 30, fps: int = 30) -> bytes:
    """A user's MP4: noise drifting right, 1 s at 30 fps, 160x96."""
    base = np.random.default_rng(seed).integers(0, 256, (96, 200, 3), dtype=np.uint8)
    path = folder / f"user-{seed}-{frames}.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for shift in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(base, shift, 1)[:, :160]), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def frames(message: Message) -> np.ndarray:
    return decode_frames(next(iter(message.files.values())))[0].astype(np.int16)


async def restyle(fake: FakeDiscord, user: int, clip: bytes, prompt: str = "a watercolor painting -seed 3") -> str:
    upload = fake.upload("clip.mp4", clip, content_type="video/mp4")
    return await fake.slash("restyle", {"prompt": prompt}, attachments={"video": upload}, user_id=user)


async def test_restyle_redraws_the_users_video(fake: FakeDiscord, service: BotProcess, tmp_path: Path) -> None:
    first = await delivered(fake, await restyle(fake, 8001, video(tmp_path, 1)))
    assert "-model wan" in first.content and "-strength 0.7" in first.content and "restyled" in first.content
    assert frames(first).shape == (17, 64, 96, 3), "1 s of video at 24 fps, as many frames as the model takes"
    other = await delivered(fake, await restyle(fake, 8001, video(tmp_path, 2)))
    assert np.abs(frames(first) - frames(other)).mean() > 2, "another video: another clip"
    gentle = await delivered(
        fake, await restyle(fake, 8001, video(tmp_path, 1), "a watercolor painting -seed 3 -strength 0.2")
    )
    assert "-strength 0.2" in gentle.content
    assert await credits_used(service, 8001) > 0


async def test_a_mention_with_a_video_restyles_it_to_the_mentions_words(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    short = video(tmp_path, 1, frames=15)  # half a second: a clip of its own length
    upload = fake.upload("clip.mp4", short, content_type="video/mp4")
    request = fake.user_message(
        "<@700000000000000004> a neon city -seed 3", user_id=8031, mentions_bot=True, attachments=[upload]
    )
    await fake.post(request)
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(request) if m.files), None), timeout=90, what="the clip"
    )
    assert "restyled" in clip.content and "a neon city" in clip.content and "-seed 3" in clip.content
    same = await delivered(fake, await restyle(fake, 8031, short, "a neon city -seed 3"))
    assert frames(clip).shape == frames(same).shape != (17, 64, 96, 3), "the mention's video, as /restyle takes it"


async def test_a_video_filmed_upright_on_a_phone_is_restyled_upright(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    clip = await delivered(fake, await restyle(fake, 8005, filmed_upright(tmp_path, -90)))  # stored sideways
    height, width = frames(clip).shape[1:3]
    assert height > width, "portrait, as the phone showed it"


async def test_the_light_restyle_on_animatediff(fake: FakeDiscord, service: BotProcess, tmp_path: Path) -> None:
    clip = await delivered(fake, await restyle(fake, 8011, video(tmp_path, 1), "a pencil sketch -model animatediff"))
    assert "-model animatediff" in clip.content and len(frames(clip)) == 8


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("playlist", "not a video"),
        ("truncated", "damaged"),
        ("long", "longest I take"),
    ],
)
async def test_a_bad_video_is_refused_and_costs_nothing(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path, name: str, says: str
) -> None:
    user = 8100 + len(name)
    data = {
        "playlist": b"#EXTM3U\n#EXTINF:2,\nhttp://169.254.169.254/latest/meta-data\n#EXT-X-ENDLIST\n",
        "truncated": video(tmp_path, 3)[:2500],
        "long": video(tmp_path, 4, frames=200),
    }[name]
    token = await restyle(fake, user, data)
    assert says in await refusal(fake, token)
    assert await credits_used(service, user) == 0


async def test_restyle_refuses_a_model_that_cannot(fake: FakeDiscord, service: BotProcess, tmp_path: Path) -> None:
    token = await restyle(fake, 8201, video(tmp_path, 1), "a painting -model svd-xt")
    text = await refusal(fake, token)
    assert "restyling videos" in text and "wan" in text


async def test_the_menu_asks_for_a_prompt_and_restyles_the_messages_video(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    upload = fake.upload("holiday.mp4", video(tmp_path, 5), content_type="video/mp4")
    target = fake.user_message("look at this", user_id=8301, attachments=[upload])
    token = await fake.context_menu("Restyle video", target, user_id=8302)
    form = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the form")
    assert form[0]["type"] == 9, "a modal"
    custom_id = form[0]["data"]["custom_id"]
    submitted = await fake.submit_modal(
        custom_id, {"prompt": "an oil painting -seed 9", "strength": "0.5"}, user_id=8302
    )
    clip = await delivered(fake, submitted)
    assert "an oil painting" in clip.content and "-strength 0.5" in clip.content
    # A form the bot has no record of (opened over a day ago): the message is fetched again, and Discord hides
    # its video from a bot without the Message Content intent.
    other = fake.user_message("and this", user_id=8301, attachments=[upload])
    unseen = await fake.submit_modal(f"mb:restyle:{CHANNEL_ID}:{other['id']}", {"prompt": "ink"}, user_id=8302)
    assert "choose Restyle video on it again" in await refusal(fake, unseen)
    no_video = fake.user_message("just text", user_id=8301)
    token = await fake.context_menu("Restyle video", no_video, user_id=8302)
    answer = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the answer")
    assert "no video" in answer[0]["data"]["content"]


async def test_reroll_and_remix_a_restyled_clip(fake: FakeDiscord, service: BotProcess, tmp_path: Path) -> None:
    first = await delivered(fake, await restyle(fake, 8401, video(tmp_path, 6)))
    rerolled = await delivered(fake, await fake.click(first, button(first, "reroll"), user_id=8401))
    assert "restyled" in rerolled.content and re.search(r"-seed (\d+)", rerolled.content)[1] != "3"  # type: ignore[index]
    assert frames(rerolled).shape == frames(first).shape
    token = await fake.click(first, button(first, "remix"), user_id=8401)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    values = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    remixed = await delivered(
        fake, await fake.submit_modal(modal[0]["data"]["custom_id"], values | {"prompt": "a neon city"})
    )
    assert "a neon city" in remixed.content and "restyled" in remixed.content
    assert np.abs(frames(remixed) - frames(first)).mean() > 1, "the same video, another prompt"


async def test_a_swap_of_part_of_a_video_goes_to_a_model_that_can_and_is_refunded_where_it_cannot_run(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    upload = fake.upload("clip.mp4", video(tmp_path, 1), content_type="video/mp4")
    typed = {"prompt": "a blue truck -seed 3", "region": "the car"}  # the command's own option
    token = await fake.slash("restyle", typed, attachments={"video": upload}, user_id=8501)
    # The tiny random CLIPSeg finds speckles all over every frame: grown, they cover it all, and it is said so.
    ended = await fake.wait_until(
        lambda: (m := fake.response_to(token)) is not None and "That did not work" in m.content and m, timeout=60
    )
    assert "“the car” covers almost all of the video" in ended.content and "refunded" in ended.content
    status = next(edit["content"] for edit in ended.edits if "content" in edit)
    assert "-model wan-vace" in status and '-region "the car"' in status, "the model that redraws part of a video"
    assert await credits_used(service, 8501) == 0
    said = await refusal(fake, await restyle(fake, 8502, video(tmp_path, 1), "a blue truck -region the car -model wan"))
    assert "`wan` cannot redraw only part of a video; models that can: wan-vace" in said
    truck = {"video": fake.upload("clip.mp4", video(tmp_path, 1), content_type="video/mp4")}
    truck |= {"image": fake.upload("truck.png", png_bytes())}
    token = await fake.slash("restyle", {"prompt": "a blue truck"}, attachments=truck, user_id=8503)
    assert "name the region" in await refusal(fake, token), "a picture shows what goes in a region"
    assert await credits_used(service, 8503) == 0
