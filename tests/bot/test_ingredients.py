"""/ingredients over the wire: a clip from words with the people, things or places of the user's pictures in
it, on the tiny Wan VACE (its reference images); Reroll and Remix keep the pictures; what cannot run is
refused before anything is charged."""

from __future__ import annotations

import numpy as np

from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import button
from tests.bot.test_ltx import kept_slots
from tests.bot.test_restyle import frames
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord

CAT, DOG = png_bytes(96, 64, (200, 40, 40)), png_bytes(64, 96, (40, 60, 210))
NAMES = ("image", "image2", "image3")


async def ingredients(fake: FakeDiscord, user: int, *pictures: bytes, prompt: str = "they dance -seed 3") -> str:
    files = {name: fake.upload(f"{name}.png", picture) for name, picture in zip(NAMES, pictures, strict=False)}
    return await fake.slash("ingredients", {"prompt": prompt + " -ar 1:1"}, attachments=files, user_id=user)


async def test_a_clip_from_words_takes_in_the_pictures_and_reroll_and_remix_keep_them(
    fake: FakeDiscord, service: BotProcess
) -> None:
    both = await delivered(fake, await ingredients(fake, 9601, CAT, DOG))
    assert "-model wan-vace" in both.content and "they dance" in both.content
    assert frames(both).shape == (9, 64, 64, 3), "the clip alone, not the pictures it was given"
    assert await kept_slots(service, 9601) == ["ingredient1", "ingredient2"], "what Reroll and Remix run again"
    one = await delivered(fake, await ingredients(fake, 9602, CAT))
    assert np.abs(frames(both) - frames(one)).mean() > 2, "the pictures reach the model: one fewer, another clip"
    rerolled = await delivered(fake, await fake.click(both, button(both, "reroll"), user_id=9601))
    assert "-model wan-vace" in rerolled.content and "-seed 3`" not in rerolled.content, "a new seed"
    token = await fake.click(both, button(both, "remix"), user_id=9601)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    form = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    seeded = form | {"flags": form["flags"] + " -seed 3"}
    again = await delivered(fake, await fake.submit_modal(modal[0]["data"]["custom_id"], seeded, user_id=9601))
    assert np.abs(frames(again) - frames(both)).mean() < 1, "the same pictures and seed: the same clip"


async def test_what_cannot_run_is_refused_and_costs_nothing(fake: FakeDiscord, service: BotProcess) -> None:
    said = await refusal(fake, await ingredients(fake, 9611, CAT, prompt="they dance -model wan"))
    assert "a model that puts your pictures in a clip (wan-vace)" in said
    said = await refusal(fake, await ingredients(fake, 9611, CAT, prompt="-seed 3"))
    assert "say what happens to who or what is in your pictures" in said
    files = {"image": fake.upload("notes.txt", b"just some words, not a picture")}
    said = await refusal(fake, await fake.slash("ingredients", {"prompt": "a dance"}, attachments=files, user_id=9611))
    assert "that file is not a picture" in said
    assert await credits_used(service, 9611) == 0 and await kept_slots(service, 9611) == []
