"""Live previews over the wire: the status message shows the clip as it denoises, then the clip replaces it."""

from __future__ import annotations

import io

from PIL import Image

from tests.bot.conftest import BotProcess, service_with
from tests.bot.test_video import delivered
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord

# A bot and a worker that preview every 4 steps (the default is 5).
service = service_with("previews", MOTIONBOT_PREVIEW_EVERY="4")


async def test_the_status_message_previews_the_clip_until_the_clip_replaces_it(
    fake: FakeDiscord, service: BotProcess
) -> None:
    image = fake.upload("cat.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a cat -steps 16"}, attachments={"image": image})
    message = await fake.wait_until(
        lambda: (m := fake.response_to(token)) is not None and "motionbot-" in "".join(m.files) and m,
        timeout=90,
        what="the clip",
    )
    previews = [edit for edit in message.edits if edit["_files"] == ["preview.gif"]]
    assert len(previews) >= 2, service.output()
    [clip] = message.files
    assert clip.endswith(".mp4"), "the clip replaced the preview"
    assert message.edits[-1]["_files"] == [clip]
    # The preview is the clip so far, small and looping.
    last = [e for e in message.edits if e["_files"] == ["preview.gif"]][-1]
    assert "🎨" in str(last.get("content")), "shown with the progress bar"
    assert (await delivered(fake, token)).id == message.id


async def test_a_failed_render_leaves_no_preview_on_its_message(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("cat.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a cat -steps 60"}, attachments={"image": image}, user_id=7102)
    status = await fake.wait_until(
        lambda: (m := fake.response_to(token)) is not None and "preview.gif" in m.files and m,
        timeout=60,
        what="a preview",
    )
    gif = Image.open(io.BytesIO(status.files["preview.gif"]))
    assert gif.format == "GIF" and gif.n_frames >= 2 and gif.size[0] == 160
    cancel = next(b["custom_id"] for b in status.buttons() if b["custom_id"].startswith("mb:cancel:"))
    await fake.click(status, cancel, user_id=7102)
    await fake.wait_until(lambda: "🚫" in status.content, timeout=60, what="the cancelled message")
    assert status.files == {}, "the preview goes with the render"
