"""Effects (`-effect melt`): the data file, how an effect shapes the prompt after the user's own, what is
refused before a job is queued, and that an effect changes the clip of a tiny prompt-reading model."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from generation.effects import effects
from generation.engine import Engine
from generation.job_builder import build_job
from generation.jobs import JobKind, VideoJob
from generation.options import OptionError, Options, flags_line, parse_flags
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from generation.styles import shaped
from generation.values import Aspect
from tests.conftest import png_bytes


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    return Engine({"ltx": registry["ltx"]}, Runtime.from_settings(settings))


def test_the_data_file_has_the_effects_users_expect() -> None:
    found = effects()
    assert {"inflate", "melt", "explode", "squish", "crush", "levitate", "dissolve", "cake"} <= set(found)
    for effect in found.values():
        assert effect.description and len(effect.description) <= 100  # a slash-command choice's name
        assert "main subject" in effect.prompt and effect.prompt.endswith(".")


def test_an_effect_follows_the_users_prompt_and_adds_its_negative_words() -> None:
    ltx, melt = DEFAULT_MODELS["ltx"], effects()["melt"]
    prompt, negative = shaped("a snowman in a sunny garden", "blurry", ltx, None, None, "melt")
    assert prompt == f"A snowman in a sunny garden. {melt.prompt}" and negative == f"blurry, {melt.negative}"
    assert shaped("", "", ltx, None, None, "melt") == (melt.prompt, melt.negative), "no prompt: the action alone"
    assert shaped("It is hot!", "", ltx, None, None, "melt")[0] == f"It is hot! {melt.prompt}"
    styled, _ = shaped("a snowman", "", ltx, "anime", None, "melt")
    assert styled.startswith("An anime-style animation") and styled.endswith(melt.prompt), "in the style's frame"
    assert shaped("a snowman", "", ltx, None, None, "inflate")[0] != prompt


def test_effect_flags_are_read_echoed_and_checked_against_the_model() -> None:
    options = parse_flags("a snowman -effect Melt -motion 2")
    assert (options.prompt, options.effect) == ("a snowman", "melt")
    assert flags_line(options) == "-motion 2 -effect melt"
    with pytest.raises(OptionError, match="one of inflate, melt, explode"):
        parse_flags("-effect shatter")
    picture = {"job_id": "", "kind": JobKind.IMAGE_TO_VIDEO, "models": DEFAULT_MODELS, "image": png_bytes()}
    job = build_job(options, default_model="ltx", **picture)
    assert job.effect == "melt" and Options.of(job).effect == "melt", "kept for the echo line and Remix"
    assert VideoJob.from_dict(job.to_dict()).effect == "melt"
    assert "effect" not in build_job(parse_flags("a snowman"), default_model="ltx", **picture).to_dict()
    with pytest.raises(OptionError, match="takes no effect; models that do: ltx"):
        build_job(options, default_model="svd-xt", **picture)
    for told in ("-loop", "a | b"):
        with pytest.raises(OptionError, match="an effect decides how the clip ends"):
            build_job(parse_flags(f"a snowman -effect melt {told}"), default_model="ltx", **picture)
    with pytest.raises(OptionError, match="an effect decides how the clip ends"):
        build_job(options, default_model="ltx", end_image=png_bytes(), **picture)
    with pytest.raises(OptionError, match="happens to the subject of a picture: use /animate"):
        build_job(options, job_id="", kind=JobKind.TEXT_TO_VIDEO, models=DEFAULT_MODELS, default_model="ltx")


def test_an_effect_changes_the_clip(engine: Engine) -> None:
    def frames(**changes: Any) -> np.ndarray:
        base = VideoJob("e", JobKind.IMAGE_TO_VIDEO, "ltx", prompt="a snowman", image=png_bytes(), seed=5)
        rendered = engine.generate(dataclasses.replace(base, aspect=Aspect.SQUARE, **changes)).frames
        assert rendered is not None
        return rendered.astype(np.int16)

    plain, melt = frames(), frames(effect="melt")
    assert np.abs(plain - melt).mean() > 1 and np.abs(melt - frames(effect="explode")).mean() > 1
    assert np.array_equal(melt, frames(effect="melt")), "the same effect and seed: the same clip"
