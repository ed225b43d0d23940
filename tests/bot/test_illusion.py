"""/illusion over the wire: words or a picture hidden in a clip, on the tiny AnimateDiff and its illusion
ControlNet; Reroll and Remix keep what is hidden; the hidden words are checked like a prompt."""

from __future__ import annotations

import io

import av
import numpy as np

from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import button
from tests.bot.test_video import credits_used, delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord, Message


def pixels(clip: Message) -> np.ndarray:
    with av.open(io.BytesIO(next(iter(clip.files.values())))) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(np.int16)


async def illusion(fake: FakeDiscord, user: int, **options: object) -> Message:
    image = options.pop("image", None)
    attachments = {"image": fake.upload("logo.png", image)} if isinstance(image, bytes) else None
    token = await fake.slash(
        "illusion", {"prompt": "a forest -seed 4 -ar 1:1", **options}, attachments=attachments, user_id=user
    )
    return await delivered(fake, token)


async def test_words_hidden_in_a_clip_change_it_and_reroll_and_remix_keep_them(
    fake: FakeDiscord, service: BotProcess
) -> None:
    hi = await illusion(fake, 9301, text="HI")
    assert "hiding “HI”" in hi.content and "a forest" in hi.content and "animatediff" in hi.content
    ok = await illusion(fake, 9301, text="OK")
    assert np.abs(pixels(hi) - pixels(ok)).mean() > 1, "other words, same seed: another clip"
    assert await credits_used(service, 9301) > 0

    rerolled = await delivered(fake, await fake.click(hi, button(hi, "reroll"), user_id=9302))
    assert "hiding “HI”" in rerolled.content
    token = await fake.click(hi, button(hi, "remix"), user_id=9301)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    form = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    prompt = next(key for key, value in form.items() if value == "a forest")
    remixed = await delivered(fake, await fake.submit_modal(modal[0]["data"]["custom_id"], form | {prompt: "a city"}))
    assert "hiding “HI”" in remixed.content and "a city" in remixed.content


async def test_a_picture_hidden_in_a_clip(fake: FakeDiscord, service: BotProcess) -> None:
    clip = await illusion(fake, 9311, image=png_bytes(64, 64, (10, 10, 10)))
    assert "hiding your picture" in clip.content and clip.files
    again = await delivered(fake, await fake.click(clip, button(clip, "reroll"), user_id=9311))
    assert "hiding your picture" in again.content


async def test_nothing_or_both_to_hide_and_hidden_words_a_prompt_may_not_say_are_refused(
    fake: FakeDiscord, service: BotProcess
) -> None:
    token = await fake.slash("illusion", {"prompt": "a forest"}, user_id=9321)
    said = await refusal(fake, token)
    assert "`text`" in said and "`image`" in said
    picture = fake.upload("logo.png", png_bytes())
    token = await fake.slash(
        "illusion", {"prompt": "a forest", "text": "HI"}, attachments={"image": picture}, user_id=9321
    )
    assert "one" in await refusal(fake, token)
    token = await fake.slash("illusion", {"prompt": "a forest", "text": "nude"}, user_id=9322)
    assert "not allowed" in await refusal(fake, token)
    token = await fake.slash("illusion", {"prompt": "a forest", "text": "\u202e\u200b "}, user_id=9323)
    assert "`text`" in await refusal(fake, token), "invisible characters are no words"
    token = await fake.slash("illusion", {"prompt": "-ar 9:16", "text": "HI"}, user_id=9323)
    assert "what scene it hides in" in await refusal(fake, token)
    assert await credits_used(service, 9321) == await credits_used(service, 9322) == 0
