"""The motion brush through the real bot and worker over the fake Discord: a mask picture, `-region` words
shown privately as an outline before rendering, and the refusals."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.bot.conftest import BotProcess
from tests.bot.test_restyle import frames
from tests.bot.test_video import delivered, refusal
from tests.fake_discord import FakeDiscord

PICTURE = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8))


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def left_half() -> bytes:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    return png(mask)


async def test_a_mask_keeps_the_rest_still(fake: FakeDiscord, service: BotProcess) -> None:
    files = {"image": fake.upload("p.png", png(PICTURE)), "mask": fake.upload("m.png", left_half())}
    clip = await delivered(fake, await fake.slash("animate", {"prompt": "-seed 4 -frames 8"}, attachments=files))
    moves = np.abs(np.diff(frames(clip), axis=0)).mean(axis=(0, 3))
    assert moves[:, :28].mean() > 5 * moves[:, 36:].mean(), "the masked half moves, the other stays"
    assert "-model svd-xt" in clip.content


async def test_a_region_by_words_is_outlined_for_the_user_first(fake: FakeDiscord, service: BotProcess) -> None:
    files = {"image": fake.upload("p.png", png(PICTURE))}
    options = {"prompt": "-seed 4 -frames 8 -steps 60", "region": "the water"}
    token = await fake.slash("animate", options, attachments=files, user_id=8601)
    outline = await fake.wait_until(
        lambda: next((m for m in fake.messages.values() if "region.png" in m.files), None),
        timeout=60,
        what="the region's outline",
    )
    assert outline.data["flags"] & 64, "shown to the requester only"
    assert "“the water”" in outline.content and "% of the picture" in outline.content
    assert Image.open(io.BytesIO(outline.files["region.png"])).size == (64, 64)
    clip = await delivered(fake, token)
    assert '-region "the water"' in clip.content
    edits = [call.payload.get("content", "") for call in fake.calls_to("PATCH", f"/webhooks/\\d+/{token}/")]
    assert any("Only “the water” moves" in text for text in edits if text), "the status message says so too"


async def test_a_model_that_cannot_keep_anything_still_is_refused(fake: FakeDiscord, service: BotProcess) -> None:
    files = {"image": fake.upload("p.png", png(PICTURE)), "mask": fake.upload("m.png", left_half())}
    text = await refusal(fake, await fake.slash("animate", {"prompt": "waves -model ltx"}, attachments=files))
    assert "cannot keep part of the picture still" in text and "svd-xt" in text
