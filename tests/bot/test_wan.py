"""The second wave's controls through the real bot and worker over the fake Discord (one service for all):
the Wan rows (text, a prompted picture, first and last frame, Extend, a character moved by a pose video),
the motion brush (a mask, `-region` words outlined privately first), styles and camera moves, and a prompt in
another language (translated for an English-only model)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.bot.conftest import BotProcess
from tests.bot.test_buttons import button
from tests.bot.test_restyle import frames, video
from tests.bot.test_video import delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord

RED, GREEN = png_bytes(96, 64, (200, 40, 40)), png_bytes(96, 64, (30, 190, 60))
PICTURE = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8))


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


async def test_a_fast_draft_is_labelled_and_a_model_without_the_tier_refuses_it(
    fake: FakeDiscord, service: BotProcess
) -> None:
    draft = await delivered(fake, await fake.slash("imagine-video", {"prompt": "a fox runs -model wan -fast"}))
    assert "-fast" in draft.content and "Draft (`-fast`)" in draft.content and frames(draft).shape[0] == 9
    full = await delivered(fake, await fake.slash("imagine-video", {"prompt": "a fox runs -model wan"}))
    assert "-fast" not in full.content
    picture = {"image": fake.upload("p.png", png_bytes())}  # the UNet models' tier (DeepCache): SVD-XT here
    svd = await delivered(fake, await fake.slash("animate", {"prompt": "-fast -seed 2"}, attachments=picture))
    assert "-model svd-xt" in svd.content and "Draft (`-fast`)" in svd.content and frames(svd).shape[0] == 4
    lightning = {"prompt": "a fox -model animatediff-lightning -fast"}
    said = await refusal(fake, await fake.slash("imagine-video", lightning))
    assert "has no `-fast` tier" in said and "wan" in said


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


# ---- the motion brush ----


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
    options = {"prompt": "-seed 4 -steps 6", "region": "the water"}
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


# ---- styles and camera moves ----


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


# ---- prompts in any language ----


async def test_a_chinese_prompt_is_translated_for_animatediff_and_read_as_written_by_wan(
    fake: FakeDiscord, service: BotProcess
) -> None:
    prompt = "一只狐狸在雪中奔跑"
    sd = await delivered(fake, await fake.slash("imagine-video", {"prompt": f"{prompt} -model animatediff -seed 2"}))
    assert prompt in sd.content and "🌐 `animatediff` reads English, so it was given: “" in sd.content
    wan = await delivered(fake, await fake.slash("imagine-video", {"prompt": f"{prompt} -model wan -seed 2"}))
    assert prompt in wan.content and "🌐" not in wan.content, "UMT5 reads Chinese"
