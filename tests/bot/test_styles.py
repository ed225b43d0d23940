"""Styles and camera lock / orbit through the real bot and worker over the fake Discord."""

from __future__ import annotations

from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import button
from tests.bot.test_video import delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord


async def test_a_style_is_offered_echoed_and_remixed(fake: FakeDiscord, service: BotProcess) -> None:
    [command] = [c for c in fake.commands if c["name"] == "imagine-video"]
    [option] = [o for o in command["options"] if o["name"] == "style"]
    assert {"anime", "watercolor", "claymation", "photoreal"} <= {choice["value"] for choice in option["choices"]}
    token = await fake.slash("imagine-video", {"prompt": "a lighthouse -model ltx -seed 1", "style": "anime"})
    clip = await delivered(fake, token)
    assert "-style anime" in clip.content and "**a lighthouse**" in clip.content, "the user's prompt is shown"
    opened = await fake.click(clip, button(clip, "remix"), user_id=1001)
    modal = await fake.wait_until(lambda: fake.callbacks.get(opened), timeout=20, what="the modal")
    values = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    assert "-style anime" in values["flags"]
    values["flags"] = values["flags"].replace("-style anime", "-style noir")
    remixed = await delivered(fake, await fake.submit_modal(modal[0]["data"]["custom_id"], values))
    assert "-style noir" in remixed.content and "-style anime" not in remixed.content


async def test_an_orbit_goes_to_a_model_that_can_and_is_refused_where_none_can(
    fake: FakeDiscord, service: BotProcess
) -> None:
    upload = fake.upload("a.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a statue -camera orbit left"}, attachments={"image": upload})
    clip = await delivered(fake, token)
    assert "-camera orbit left" in clip.content and "-model ltx" in clip.content
    upload = fake.upload("b.png", png_bytes())
    options = {"prompt": "a statue -camera orbit left -model svd-xt"}
    text = await refusal(fake, await fake.slash("animate", options, attachments={"image": upload}))
    assert "cannot orbit the camera" in text and "ltx" in text
    locked = await delivered(fake, await fake.slash("animate", {"camera": "lock"}, attachments={"image": upload}))
    assert "-camera lock" in locked.content
