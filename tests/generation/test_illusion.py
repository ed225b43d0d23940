"""/illusion on tiny models: words (drawn by the worker) or a picture hidden in an AnimateDiff clip by the
illusion ControlNet, loaded from disk by the production loader, against plain diffusers on the same shape."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AnimateDiffControlNetPipeline, ControlNetModel, DDIMScheduler, MotionAdapter
from PIL import Image, ImageDraw
from pydantic import ValidationError

from generation.engine import Engine, JobRejected
from generation.illusion import SYSTEM_FONTS, NoGlyphs, font_for_illusions, pattern
from generation.jobs import JobKind, VideoJob
from generation.progress import Reporter
from generation.runtime import Runtime, to_uint8
from generation.settings import GenerationSettings
from generation.values import Aspect


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    return Engine({"animatediff": settings.registry()["animatediff"]}, Runtime.from_settings(settings))


def job(**changes: object) -> VideoJob:
    base = VideoJob("i", JobKind.ILLUSION, "animatediff", prompt="a forest", hidden_text="HI", seed=3)
    return dataclasses.replace(base, aspect=Aspect.SQUARE, **changes)  # type: ignore[arg-type]


def frames(engine: Engine, j: VideoJob) -> np.ndarray:
    made = engine.generate(j).frames
    assert made is not None
    return made.astype(np.int16)


def test_the_words_are_drawn_dark_on_light_as_large_as_fit() -> None:
    short = np.asarray(pattern(256, 144, "HI").convert("L"))
    assert short.shape == (144, 256) and short.min() == 0 and short.max() == 255
    rows = np.flatnonzero((short < 128).any(axis=1))
    assert rows.min() >= 144 * 0.1 - 1 and rows.max() <= 144 * 0.9, "within the margins"
    assert rows.max() - rows.min() > 144 * 0.5, "large: two letters fill most of the height"
    long = np.asarray(pattern(256, 144, "a few more words to hide").convert("L"))
    assert (long < 128).mean() > 0.02 and not np.array_equal(short, long)
    with pytest.raises(NoGlyphs, match="日 本"):
        pattern(64, 64, "日本 ok")


def test_the_font_is_the_settings_else_a_system_bold_one_and_a_wrong_path_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTIONBOT_ILLUSION_FONT", "/no/such/font.ttf")
    with pytest.raises(ValidationError, match=r"no font file at /no/such/font\.ttf"):
        GenerationSettings(_env_file=None)  # type: ignore[call-arg]
    system = font_for_illusions("")
    assert system in (*SYSTEM_FONTS, ""), "the first system font found, else Pillow's own"
    serif = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    if not Path(serif).is_file():
        pytest.skip("no DejaVu Serif here to draw with")
    assert font_for_illusions(serif) == serif
    drawn = np.asarray(pattern(128, 64, "Hi", font=serif))
    assert not np.array_equal(drawn, np.asarray(pattern(128, 64, "Hi", font=system))), "the font draws them"


def test_a_picture_is_hidden_whole_in_grey_centred() -> None:
    logo = Image.new("RGB", (40, 20), "white")
    logo.paste((200, 0, 0), (10, 5, 30, 15))  # a red bar: darker than white once grey
    shape = np.asarray(pattern(100, 100, picture=logo).convert("L"))
    dark = np.argwhere(shape < 128)
    assert len(dark) and abs(dark[:, 1].mean() - 49.5) < 2 and abs(dark[:, 0].mean() - 49.5) < 2, "centred"
    assert np.all(shape[:10] == 255), "the margin stays light"


def test_what_is_hidden_changes_the_clip(engine: Engine) -> None:
    one = frames(engine, job())
    assert one.shape == (4, 64, 64, 3)
    assert np.abs(one - frames(engine, job(hidden_text="OK"))).mean() > 1, "other words: another clip"
    disc = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(disc).ellipse((12, 12, 52, 52), fill="black")
    assert np.abs(one - frames(engine, job(hidden_text="", image=png(disc)))).mean() > 1, "a picture instead"
    assert np.abs(one - frames(engine, job(strength=0.1))).mean() > 1, "how plainly it shows"
    # (The same inputs give the same clip: the product path equals plain diffusers' below, frame for frame.)


def test_words_the_font_cannot_draw_and_nothing_to_hide_are_refused(engine: Engine) -> None:
    with pytest.raises(JobRejected, match="cannot draw 猫"):
        engine.generate(job(hidden_text="猫"))
    with pytest.raises(JobRejected, match="words or a picture to hide"):
        engine.generate(job(hidden_text=" "))


def test_the_product_path_gives_the_frames_of_plain_diffusers(engine: Engine) -> None:
    spec = engine.models["animatediff"]
    request = engine.plan(job())
    rendered = engine.runner("animatediff").render(request, Reporter())
    assert spec.adapter is not None and spec.illusion_weights is not None
    plain = AnimateDiffControlNetPipeline.from_pretrained(
        spec.weights,
        motion_adapter=MotionAdapter.from_pretrained(spec.adapter),
        controlnet=ControlNetModel.from_pretrained(spec.illusion_weights),
    )
    plain.scheduler = DDIMScheduler.from_config(  # as diffusers' AnimateDiff guide sets it up
        plain.scheduler.config, beta_schedule="linear", clip_sample=False, timestep_spacing="linspace", steps_offset=1
    )
    plain.set_progress_bar_config(disable=True)
    output = plain(
        prompt="a forest",
        negative_prompt=None,
        num_frames=request.frames,
        width=64,
        height=64,
        conditioning_frames=[request.image] * request.frames,
        controlnet_conditioning_scale=2 * spec.strength,
        num_inference_steps=spec.steps,
        guidance_scale=spec.guidance.default,
        generator=torch.Generator().manual_seed(3),
        output_type="pt",
    )
    assert np.array_equal(rendered, to_uint8(output.frames[0]))
