"""/expand over the wire: a user's video on a wider or taller frame, the scene around it drawn by the tiny Wan
VACE, the video kept whole in the middle; Reroll keeps the video; what cannot run is refused and costs nothing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.bot.conftest import BotProcess
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
