"""/expand over the wire: a user's video on a wider or taller frame, the scene around it drawn by the tiny Wan
VACE, the video kept whole in the middle; Reroll keeps the video; what cannot run is refused and costs nothing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.bot.conftest import BotProcess
from tests.bot.test_admin_quota import admin
from tests.bot.test_buttons import button
from tests.bot.test_ltx import kept_slots
from tests.bot.test_restyle import frames
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord

RED, GREEN = (210, 30, 30), (30, 200, 40)


def coloured(folder: Path, colour: tuple[int, int, int], size: tuple[int, int] = (160, 96)) -> bytes:
    """A user's MP4, 1 s at 30 fps: one colour, a lighter square drifting across it."""
    width, height = size
    path = folder / f"user-{colour}-{width}x{height}.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for n in range(30):
            frame = np.full((height, width, 3), colour, dtype=np.uint8)
            frame[20:40, 2 * n : 2 * n + 20] = np.minimum(255, np.array(colour) + 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


async def expand(fake: FakeDiscord, user: int, clip: bytes, aspect: str = "9:16", prompt: str = "a beach") -> str:
    upload = fake.upload("clip.mp4", clip, content_type="video/mp4")
    options = {"aspect": aspect, "prompt": prompt + " -seed 3"}
    return await fake.slash("expand", options, attachments={"video": upload}, user_id=user)


def band(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean colour of the middle rows (the video, 160x96 on a 64x96 frame: 38 rows) and of the rest."""
    height = clip.shape[1]
    middle = np.s_[:, height // 2 - 12 : height // 2 + 12]
    around = np.concatenate([clip[:, : height // 2 - 24], clip[:, height // 2 + 24 :]], axis=1)
    return clip[middle].reshape(-1, 3).mean(axis=0), around.reshape(-1, 3).mean(axis=0)


async def test_a_wide_video_is_made_tall_with_the_video_whole_in_the_middle(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    red = await delivered(fake, await expand(fake, 9701, coloured(tmp_path, RED)))
    assert "-model wan-vace" in red.content and "expanded to 9:16" in red.content and "a beach" in red.content
    made = frames(red)
    assert made.shape[1] > made.shape[2], "taller than wide"
    middle, around = band(made)
    assert middle[0] > 150 and middle[1] < 90, f"the user's red video in the middle: {middle}"
    assert np.abs(around - RED).sum() > 100, f"drawn above and below it, not the video stretched: {around}"
    green = await delivered(fake, await expand(fake, 9701, coloured(tmp_path, GREEN)))
    assert band(frames(green))[0][1] > 150, "another video in the middle"
    assert await credits_used(service, 9701) > 0
    assert await kept_slots(service, 9701) == ["image", "image"], "each video in its job's own slot, for Reroll"
    rerolled = await delivered(fake, await fake.click(red, button(red, "reroll"), user_id=9701))
    assert "expanded to 9:16" in rerolled.content and band(frames(rerolled))[0][0] > 150, "the same video again"


async def test_a_shape_that_adds_nothing_a_model_that_cannot_and_a_picture_are_refused_free(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    square = coloured(tmp_path, RED, (96, 96))
    said = await refusal(fake, await expand(fake, 9702, square, aspect="1:1"))
    assert "already 1:1" in said and "another shape" in said
    said = await refusal(fake, await expand(fake, 9702, square, prompt="a beach -model wan"))
    assert "expands videos to another shape (wan-vace)" in said
    picture = fake.upload("cat.png", png_bytes(96, 64), content_type="image/png")
    token = await fake.slash("expand", {"aspect": "9:16"}, attachments={"video": picture}, user_id=9702)
    assert "video" in await refusal(fake, token)
    assert await credits_used(service, 9702) == 0


async def test_the_expand_button_asks_for_a_shape_and_puts_the_clip_on_it(
    fake: FakeDiscord, service: BotProcess
) -> None:
    picture = fake.upload("cat.png", png_bytes(160, 90, RED))
    made = await delivered(
        fake, await fake.slash("animate", {"prompt": "-seed 5 -frames 8 -fps 8"}, attachments={"image": picture})
    )
    token = await fake.click(made, button(made, "expand"), user_id=9703)
    [modal] = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the form")
    form = {c["custom_id"]: c.get("value") for row in modal["data"]["components"] for c in row["components"]}
    assert modal["type"] == 9 and form["shape"] == "9:16", "a wide clip is offered a tall frame"
    said = await refusal(
        fake, await fake.submit_modal(modal["data"]["custom_id"], form | {"shape": "2:7"}, message=made)
    )
    assert "`-ar`" in said and "9:16" in said, "a shape there is not, named with the ones there are"
    nude = form | {"prompt": "a nude portrait"}
    assert "not allowed" in await refusal(fake, await fake.submit_modal(modal["data"]["custom_id"], nude, message=made))
    [name] = made.files
    assert not [path for path in fake.fetched if path.endswith(name)], "a refused prompt fetches no clip"
    typed = form | {"prompt": "a red room"}
    submitted = await fake.submit_modal(modal["data"]["custom_id"], typed, user_id=9703, message=made)
    tall = await delivered(fake, submitted)
    assert "expanded to 9:16" in tall.content and "a red room" in tall.content and "-model wan-vace" in tall.content
    clip, source = frames(tall), frames(made)
    assert clip.shape[1:] == (96, 64, 3) and source.shape[1:] == (48, 80, 3), "80x48 on a 64x96 frame: 64x38"
    shrunk = np.stack([np.asarray(Image.fromarray(frame.astype(np.uint8)).resize((64, 38))) for frame in source])
    shown = shrunk[np.arange(len(clip)) // 2]  # at 16 fps: the 8 fps clip's frame k // 2
    assert np.abs(clip[:, 29:67].astype(int) - shown).mean() < 15, "the clip, whole in the middle"
    assert np.abs(clip[:, :20].astype(int) - shown[:, :20]).mean() > 30, "drawn above it, not the clip stretched"
    assert await credits_used(service, 9703) > 0


async def test_expand_and_upscale_are_offered_where_the_server_enables_a_model_that_can(
    fake: FakeDiscord, service: BotProcess
) -> None:
    await admin(fake, "models", {"enabled": "svd-xt,svd,animatediff"})
    try:
        picture = fake.upload("cat.png", png_bytes(160, 90, RED))
        made = await delivered(fake, await fake.slash("animate", {"prompt": "-seed 5"}, attachments={"image": picture}))
        offered = {b["custom_id"].split(":")[1] for b in made.buttons()}
        assert offered == {"reroll", "remix", "extend", "smooth", "gif", "delete"}, "no ltx to upscale, no wan-vace"
    finally:
        await admin(fake, "models", {"enabled": "all"})


async def test_a_mention_with_a_video_and_a_shape_but_no_words_expands_it(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    upload = fake.upload("clip.mp4", coloured(tmp_path, RED), content_type="video/mp4")
    request = fake.user_message("<@700000000000000004> -ar 9:16", user_id=9704, mentions_bot=True, attachments=[upload])
    await fake.post(request)
    clip = await fake.wait_until(
        lambda: next((m for m in fake.replies_to(request) if m.files), None), timeout=90, what="the clip"
    )
    assert "expanded to 9:16" in clip.content
    made = frames(clip)
    assert made.shape[1] > made.shape[2] and band(made)[0][0] > 150, "the red video, whole in the middle"
    again = fake.upload("clip.mp4", coloured(tmp_path, RED), content_type="video/mp4")
    bare = fake.user_message("<@700000000000000004>", user_id=9705, mentions_bot=True, attachments=[again])
    await fake.post(bare)
    hint = await fake.wait_until(lambda: next(iter(fake.replies_to(bare)), None), timeout=20, what="the hint")
    assert "`@motionbot -ar 9:16`" in hint.content and not hint.files, "neither words nor a shape: how to ask"
