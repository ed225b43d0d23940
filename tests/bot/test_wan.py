"""The Wan rows through the real bot and worker over the fake Discord: text, a prompted picture, a first and a
last frame on the I2V model, Extend, a character moved by a pose video."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import button
from tests.bot.test_restyle import frames, video
from tests.bot.test_video import delivered
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord

RED, GREEN = png_bytes(96, 64, (200, 40, 40)), png_bytes(96, 64, (30, 190, 60))


async def test_text_and_a_prompted_picture_on_wan(fake: FakeDiscord, service: BotProcess) -> None:
    fox = await delivered(fake, await fake.slash("imagine-video", {"prompt": "a fox runs -model wan -seed 2"}))
    owl = await delivered(fake, await fake.slash("imagine-video", {"prompt": "an owl sleeps -model wan -seed 2"}))
    assert "-model wan" in fox.content and frames(fox).shape[0] == 9, "4k + 1 frames"
    assert np.abs(frames(fox) - frames(owl)).mean() > 2, "the prompt steers it"
    upload = fake.upload("a.png", RED)
    token = await fake.slash("animate", {"prompt": "the cat turns -model wan -seed 2"}, attachments={"image": upload})
    cat = await delivered(fake, token)
    assert "not used" not in cat.content, "Wan reads the prompt of an image job"
    longer = await delivered(fake, await fake.click(cat, button(cat, "extend"), user_id=1001))
    assert "extended 9 → 17 frames" in longer.content


async def test_morph_on_the_first_last_frame_model(fake: FakeDiscord, service: BotProcess) -> None:
    async def morph(first: bytes, last: bytes) -> np.ndarray:
        files = {"first": fake.upload("f.png", first), "last": fake.upload("l.png", last)}
        options = {"prompt": "red to green -seed 4", "model": "wan-i2v"}
        clip = await delivered(fake, await fake.slash("morph", options, attachments=files, user_id=8501))
        assert "-model wan-i2v" in clip.content and "-fps 16" in clip.content, "its own frame rate"
        return frames(clip)

    there, back = await morph(RED, GREEN), await morph(GREEN, RED)
    assert np.abs(there - back).mean() > 3, "swapping the first and the last frame changes the clip"


async def test_a_character_moves_as_the_person_in_a_pose_video(
    fake: FakeDiscord, service: BotProcess, tmp_path: Path
) -> None:
    async def animate(pose: bytes) -> np.ndarray:
        files = {"image": fake.upload("me.png", RED), "pose": fake.upload("dance.mp4", pose, content_type="video/mp4")}
        clip = await delivered(
            fake, await fake.slash("animate", {"prompt": "-seed 3"}, attachments=files, user_id=8701)
        )
        assert "-model wan-animate" in clip.content and "moved by the pose video" in clip.content
        return frames(clip)

    one, other = await animate(video(tmp_path, 1)), await animate(video(tmp_path, 2))
    assert one.shape[0] == 17, "1 s of video at 24 fps, within the model's longest"
    assert np.abs(one - other).mean() > 2, "another pose video: another clip"
