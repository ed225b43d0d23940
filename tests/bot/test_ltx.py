"""LTX-Video through the real bot and worker: prompts that steer /animate, /morph, Extend, Upscale and
prompt travel, over the fake Discord with the shipped routing (a prompted image goes to `ltx`)."""

from __future__ import annotations

import re

import numpy as np

from generation.encode import decode_frames
from storage.db import Database
from tests.bot.conftest import BotProcess, service_with
from tests.bot.test_admin_quota import admin
from tests.bot.test_buttons import button, ephemeral_answer, followup_text
from tests.bot.test_video import credits_used, delivered, service_db
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord, Message

RED, GREEN = png_bytes(96, 64, (200, 40, 40)), png_bytes(96, 64, (30, 190, 60))
BLUE = png_bytes(96, 64, (40, 60, 210))
NAMES = ("second", "third", "fourth")  # /morph's pictures between the first and the last


# The shipped default: an image with a prompt goes to LTX while a worker serves it.
ltx_service = service_with("ltx-service", MOTIONBOT_DEFAULT_PROMPTED_IMAGE_MODEL="ltx")


def frames(message: Message) -> np.ndarray:
    return decode_frames(next(iter(message.files.values())))[0].astype(np.int16)


async def animate(fake: FakeDiscord, user: int, prompt: str, image: bytes = RED, **more: dict[str, object]) -> Message:
    token = await fake.slash(
        "animate", {"prompt": prompt}, attachments={"image": fake.upload("a.png", image)} | more, user_id=user
    )
    return await delivered(fake, token)


async def test_a_prompted_animate_runs_on_ltx_and_follows_the_prompt(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    cat = await animate(fake, 7001, "the cat turns its head -seed 4")
    dog = await animate(fake, 7001, "a dog jumps over a fence -seed 4")
    assert "-model ltx" in cat.content and "not used" not in cat.content
    assert frames(cat).shape == (17, 64, 64, 3)
    assert np.abs(frames(cat) - frames(dog)).mean() > 3, "only the prompt changed"


async def test_a_model_that_ignores_prompts_says_so(fake: FakeDiscord, ltx_service: BotProcess) -> None:
    clip = await animate(fake, 7011, "the cat turns its head -model svd-xt")
    assert "-model svd-xt" in clip.content and "your prompt was not used" in clip.content


async def test_morph_starts_on_one_picture_and_ends_on_the_other(fake: FakeDiscord, ltx_service: BotProcess) -> None:
    async def morph(first: bytes, last: bytes) -> Message:
        files = {"first": fake.upload("f.png", first), "last": fake.upload("l.png", last)}
        token = await fake.slash("morph", {"prompt": "red to green -seed 2"}, attachments=files, user_id=7021)
        return await delivered(fake, token)

    there, back = await morph(RED, GREEN), await morph(GREEN, RED)
    assert "-model ltx" in there.content
    assert np.abs(frames(there) - frames(back)).mean() > 3, "swapping the pictures changes the clip"
    end = await animate(fake, 7021, "red to green -seed 2", end=fake.upload("e.png", GREEN))
    # The same job: the same frames, up to a pixel level that BLAS may round otherwise in a process that has run
    # other jobs, which x264 can spread over a block of the decoded clip (far below the swap's effect).
    assert np.abs(frames(end) - frames(there)).mean() < 1, "`end` on /animate is the same keyframe job as /morph"


async def test_the_menu_on_a_message_with_two_pictures_morphs(fake: FakeDiscord, ltx_service: BotProcess) -> None:
    pictures = [fake.upload("a.png", RED), fake.upload("b.png", GREEN)]
    target = fake.user_message("from this to that", user_id=7031, attachments=pictures)
    clip = await delivered(fake, await fake.context_menu("Animate image", target, user_id=7032))
    assert "-model ltx" in clip.content and len(frames(clip)) == 17


async def kept_slots(service: BotProcess, user_id: int) -> list[str]:
    """The files kept for a user's jobs (for Reroll and Remix), by slot, in the order they were kept."""
    db = await Database.open(service_db(service))
    try:
        rows = await db.fetchall("SELECT job_id FROM input_refs WHERE user_id = ? ORDER BY rowid", (user_id,))
    finally:
        await db.close()
    return [row[0].partition(".")[2] or "image" for row in rows]


async def test_morph_passes_through_the_pictures_between_in_order_and_remix_keeps_them(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    async def morph(user: int, *between: bytes, prompt: str = "red to green -seed 2 -ar 1:1") -> str:
        files = {"first": fake.upload("f.png", RED), "last": fake.upload("l.png", GREEN)}
        files |= {name: fake.upload(f"{name}.png", picture) for name, picture in zip(NAMES, between, strict=False)}
        return await fake.slash("morph", {"prompt": prompt}, attachments=files, user_id=user)

    through = await delivered(fake, await morph(7161, BLUE))
    assert "-model ltx" in through.content and len(frames(through)) == 17
    assert await kept_slots(ltx_service, 7161) == ["image", "end", "middle1"], "what Reroll and Remix run again"
    direct = await delivered(fake, await morph(7162))
    assert np.abs(frames(through) - frames(direct)).mean() > 2, "the picture between changes the clip"
    token = await fake.click(through, button(through, "remix"), user_id=7161)
    modal = await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the modal")
    form = {c["custom_id"]: c.get("value") for row in modal[0]["data"]["components"] for c in row["components"]}
    seeded = form | {"flags": form["flags"] + " -seed 2"}  # the form holds no seed: a Remix is a new clip
    again = await delivered(fake, await fake.submit_modal(modal[0]["data"]["custom_id"], seeded, user_id=7161))
    assert np.abs(frames(again) - frames(through)).mean() < 1, "the same pictures, the same seed: the same clip"
    five = await morph(7163, BLUE, RED, BLUE)
    assert "5 pictures need at least 33 frames on ltx, got 17" in await followup_text(fake, five)
    assert await credits_used(ltx_service, 7163) == 0 and await kept_slots(ltx_service, 7163) == []


async def test_a_message_with_three_pictures_passes_through_the_middle_one_by_the_menu_or_a_mention(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    pictures = [fake.upload("a.png", RED), fake.upload("b.png", BLUE), fake.upload("c.png", GREEN)]
    target = fake.user_message("-seed 2 -ar 1:1", user_id=7171, attachments=pictures)
    clip = await delivered(fake, await fake.context_menu("Animate image", target, user_id=7172))
    assert "-model ltx" in clip.content and await kept_slots(ltx_service, 7172) == ["image", "end", "middle1"]
    # The same by a mention carrying the pictures (a reply to the message needs the Message Content intent).
    bot = "<@700000000000000004>"
    for user, pictures in ((7173, (RED, BLUE, GREEN)), (7174, (RED, GREEN))):
        attached = [fake.upload(f"{n}.png", picture) for n, picture in enumerate(pictures)]
        request = fake.user_message(f"{bot} -seed 2", user_id=user, mentions_bot=True, attachments=attached)
        await fake.post(request)
        await fake.wait_until(lambda r=request: any(m.files for m in fake.replies_to(r)), timeout=90, what="a clip")
    assert await kept_slots(ltx_service, 7173) == ["image", "end", "middle1"], "through the picture between"
    assert await kept_slots(ltx_service, 7174) == ["image", "end"], "from the first to the second"
    preview = fake.upload("site.png", GREEN)["proxy_url"]  # a link's preview beside the upload: not a keyframe
    request = fake.user_message(
        f"{bot} -seed 2 https://example.com/x", user_id=7176, mentions_bot=True, link_preview=preview
    )
    request["attachments"] = [fake.upload("a.png", RED)]
    await fake.post(request)
    await fake.wait_until(lambda: any(m.files for m in fake.replies_to(request)), timeout=90, what="a clip")
    assert await kept_slots(ltx_service, 7176) == ["image"], "the upload animated alone"
    await delivered(fake, await fake.context_menu("Animate image", request, user_id=7177))
    assert await kept_slots(ltx_service, 7177) == ["image"], "the menu on it too"
    await admin(fake, "models", {"enabled": "svd-xt"})  # a server with no keyframe model
    try:
        attached = [fake.upload("a.png", RED), fake.upload("b.png", GREEN)]
        request = fake.user_message(f"{bot} -seed 2", user_id=7175, mentions_bot=True, attachments=attached)
        await fake.post(request)
        await fake.wait_until(lambda: any(m.files for m in fake.replies_to(request)), timeout=90, what="a clip")
        assert await kept_slots(ltx_service, 7175) == ["image"], "the first picture animated, nothing refused"
    finally:
        await admin(fake, "models", {"enabled": "all"})


async def test_extend_and_upscale_an_ltx_clip(fake: FakeDiscord, ltx_service: BotProcess) -> None:
    first = await animate(fake, 7041, "waves roll in -seed 8 -ar 1:1")
    longer = await delivered(fake, await fake.click(first, button(first, "extend"), user_id=7041))
    assert "extended 17 → 25 frames" in longer.content
    assert np.abs(frames(longer)[:17] - frames(first)).mean() < 12, "the clip comes first"
    big = await delivered(fake, await fake.click(first, button(first, "upscale"), user_id=7041))
    assert frames(big).shape == (17, 128, 128, 3) and "upscaled x2" in big.content
    assert len(next(iter(big.files.values()))) <= 10 * 2**20
    assert {b["custom_id"].split(":")[1] for b in big.buttons()} >= {"reroll", "extend"}
    assert "upscale" not in {b["custom_id"].split(":")[1] for b in big.buttons()}, "not twice"


async def test_an_svd_clip_is_upscaled_by_the_upscale_model(fake: FakeDiscord, ltx_service: BotProcess) -> None:
    svd = await animate(fake, 7051, "-model svd-xt -ar 1:1")
    big = await delivered(fake, await fake.click(svd, button(svd, "upscale"), user_id=7051))
    assert frames(big).shape[1:3] == (128, 128) and "-model ltx" in big.content


async def test_a_loop_goes_to_a_model_that_can_and_extend_goes_on_without_it(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    loop = await animate(fake, 7045, "-loop -seed 3 -ar 1:1")  # no prompt: it would go to svd-xt without -loop
    assert "-model ltx" in loop.content and "-loop" in loop.content and len(frames(loop)) == 16
    assert "-frames 16 " in loop.content, "the frames it plays (it renders 17, the last is the first again)"
    longer = await delivered(fake, await fake.click(loop, button(loop, "extend"), user_id=7045))
    assert "extended 16 → 24 frames" in longer.content and "-loop" not in longer.content
    token = await fake.slash(
        "animate", {"prompt": "-loop -model svd-xt"}, attachments={"image": fake.upload("a.png", RED)}, user_id=7046
    )
    assert "`svd-xt` cannot loop; models that can: ltx" in await followup_text(fake, token)
    assert await credits_used(ltx_service, 7046) == 0
    typed = {"loop": True, "gif": True, "seed": 3, "aspect": "1:1"}  # the command's own options, as Discord sends them
    token = await fake.slash("animate", typed, attachments={"image": fake.upload("a.png", RED)}, user_id=7047)
    gif = await delivered(fake, token)
    assert next(iter(gif.files)).endswith(".gif") and "-gif -loop" in gif.content and len(frames(gif)) == 16


async def test_an_effect_goes_to_a_model_that_reads_prompts_and_changes_the_clip(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    typed = {"effect": "melt", "seed": 3, "aspect": "1:1"}  # the command's own option, and no prompt
    token = await fake.slash("animate", typed, attachments={"image": fake.upload("a.png", RED)}, user_id=7051)
    melt = await delivered(fake, token)
    assert "-model ltx" in melt.content and "-effect melt" in melt.content, "no prompt, yet a model that reads one"
    explode = await animate(fake, 7051, "-effect explode -seed 3 -ar 1:1")
    assert "-model ltx" in explode.content and "-effect explode" in explode.content
    assert np.abs(frames(melt) - frames(explode)).mean() > 1, "only the effect changed"
    token = await fake.slash(
        "animate",
        {"prompt": "-effect melt -model svd-xt"},
        attachments={"image": fake.upload("a.png", RED)},
        user_id=7052,
    )
    assert "`svd-xt` does not read prompts, so it takes no effect" in await followup_text(fake, token)
    assert await credits_used(ltx_service, 7052) == 0


async def test_the_apply_effect_menu_shows_the_picture_and_each_pick_makes_a_clip(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    upload = fake.upload("snowman.png", RED)
    target = fake.user_message("my snowman", user_id=7061, attachments=[upload])
    token = await fake.context_menu("Apply effect", target, user_id=7062)
    assert "Pick an effect" in await ephemeral_answer(fake, token)  # privately, to the one who opened it
    picker = await fake.wait_until(lambda: fake.response_to(token), what="the picker")
    assert [embed["image"]["url"] for embed in picker.data["embeds"]] == [upload["url"]], "the picture it is about"
    [[select]] = [row["components"] for row in picker.data["components"]]
    assert {"melt", "explode", "inflate"} <= {option["value"] for option in select["options"]}
    melt = await delivered(fake, await fake.select(picker, select["custom_id"], ["melt"], user_id=7062))
    assert "-model ltx" in melt.content and "-effect melt" in melt.content and "<@7062>" in melt.content
    explode = await delivered(fake, await fake.select(picker, select["custom_id"], ["explode"], user_id=7063))
    assert "-effect explode" in explode.content, "another pick, another clip (for whoever picks)"
    forged = await fake.select(picker, select["custom_id"], ["shatter"], user_id=7062)
    assert "one of inflate, melt" in await followup_text(fake, forged)
    words = fake.user_message("no picture here", user_id=7061)
    nothing = await fake.context_menu("Apply effect", words, user_id=7062)
    assert "no image to animate" in await ephemeral_answer(fake, nothing)


async def test_prompt_travel_makes_one_segment_per_prompt_priced_by_length(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a cat sleeps | the cat wakes -model ltx"}, user_id=7061)
    travel = await delivered(fake, token)
    token = await fake.slash("imagine-video", {"prompt": "a cat sleeps -model ltx"}, user_id=7062)
    single = await delivered(fake, token)
    assert len(frames(travel)) == 17 + 8 and len(frames(single)) == 17
    cost = [int(re.search(r"(\d+) credits?", m.content)[1]) for m in (travel, single)]  # type: ignore[index]
    assert cost[0] == 2 * cost[1] == await credits_used(ltx_service, 7061), "two segments, twice the work"


async def test_prompt_travel_on_a_model_that_cannot_is_refused(fake: FakeDiscord, ltx_service: BotProcess) -> None:
    token = await fake.slash("imagine-video", {"prompt": "a | b -model animatediff"}, user_id=7071)
    text = await fake.wait_until(
        lambda: next((c.payload["content"] for c in fake.calls_to("POST", f"/webhooks/\\d+/{token}$")), None),
        timeout=20,
        what="the refusal",
    )
    assert "cannot do prompt travel" in text and "ltx" in text


async def test_options_the_prompt_model_cannot_take_keep_the_image_model(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    clip = await animate(fake, 7081, "a cat turns -steps 12")  # a distilled LTX row takes 8 steps at most
    assert "-model svd-xt" in clip.content and "your prompt was not used" in clip.content


async def test_quota_quotes_a_prompted_animate_on_the_model_that_reads_prompts(
    fake: FakeDiscord, ltx_service: BotProcess
) -> None:
    text = await followup_text(fake, await fake.slash("quota", {}, user_id=7091))
    quoted = re.search(r"`/animate` with a prompt: (\d+) credits? \(`ltx`\)", text)
    assert quoted and re.search(r"`/animate` with no options: \d+ credits? \(`svd-xt`\)", text), text
    await animate(fake, 7091, "a heron takes off")
    assert await credits_used(ltx_service, 7091) == int(quoted[1]), "charged what /quota said"
