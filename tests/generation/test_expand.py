"""/expand on the tiny VACE: a video on a wider or taller frame, what is around it drawn, the video kept."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from PIL import Image

from generation.encode import decode_frames, encode
from generation.engine import Engine, JobRejected
from generation.job_builder import build_job
from generation.jobs import JobKind, OutputFormat, VideoJob
from generation.options import OptionError, parse_flags
from generation.plan import PlanError, contained, resolve
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from generation.values import Aspect


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    # VACE on a wider frame: the tiny VAE's receptive field spans a 64-pixel frame, a trained one's does not.
    models = {"wan": registry["wan"], "wan-vace": dataclasses.replace(registry["wan-vace"], width=256, height=144)}
    return Engine(models, Runtime.from_settings(settings))


def wide_clip(frames: int = 9, seed: int = 4) -> bytes:
    """A clip of ours (as the bot re-encodes users' videos) in the tiny model's 16:9 (256x128, in its size
    multiple): smooth blotches that drift right."""
    blotches = np.random.default_rng(seed).integers(0, 256, (16, 38, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(blotches).resize((300, 128), Image.Resampling.BICUBIC))
    return encode(np.stack([base[:, n * 4 : n * 4 + 256] for n in range(frames)]), 16, OutputFormat.MP4, 10 << 20).data


def expand(**changes: Any) -> VideoJob:
    job = VideoJob("e", JobKind.EXPAND, "wan-vace", prompt="a beach", video=wide_clip(), aspect=Aspect.TALL)
    return dataclasses.replace(job, **{"seed": 1, "fps": 16, "steps": 4} | changes)


def test_the_video_is_kept_whole_in_the_middle_and_the_frame_around_it_is_drawn(engine: Engine) -> None:
    job = expand()
    source = decode_frames(job.video or b"")[0]
    request = engine.plan(job, source)
    assert (request.width, request.height) == (128, 256), "9:16 at the model's pixels, in its size multiple"
    assert request.video is not None and request.mask is not None
    made = engine.generate(job).frames
    assert made is not None and made.shape == (9, 256, 128, 3)
    rows = np.flatnonzero(request.mask[0].min(axis=1) < 0.5)  # the rows the video is on
    top, bottom = rows[0], rows[-1] + 1
    assert (bottom - top, np.flatnonzero(request.mask[0][top] < 0.5).size) == (64, 128), "whole, at its own shape"
    assert top == (256 - 64) // 2, "centred"
    inner = np.s_[:, top + 8 : bottom - 8]  # past the composite's soft edge
    assert np.array_equal(made[inner], request.video[inner]), "the video as it was, pixel for pixel"
    halved = source[:, ::2, ::2].astype(int)  # the 256x128 video at half its size
    assert np.abs(made[:, top:bottom].astype(int) - halved).mean() < 30, "the user's video"
    assert np.abs(made[:, top:bottom].astype(int) - halved[::-1]).mean() > 40, "(the comparison can tell)"
    around = made[:, : top - 8].astype(int)
    assert np.abs(around - 127).mean() > 5, "above and below it: drawn, not the grey it was given"
    other = engine.generate(expand(prompt="a snowy forest")).frames
    assert other is not None and np.array_equal(other[inner], made[inner]), "another prompt keeps the video"
    assert np.abs(other[:, : top - 8].astype(int) - around).mean() > 1, "and draws something else around it"
    square = engine.generate(expand(aspect=Aspect.SQUARE)).frames
    assert square is not None and square.shape[1] == square.shape[2], "the shape asked for"


def test_a_frame_that_adds_nothing_or_a_model_that_cannot_is_refused(engine: Engine) -> None:
    with pytest.raises(JobRejected, match="already 16:9"):
        engine.plan(expand(aspect=Aspect.WIDE), decode_frames(wide_clip())[0])
    with pytest.raises(JobRejected, match="`wan` cannot expand a clip"):
        engine.generate(expand(model="wan"))
    with pytest.raises(JobRejected, match="too short to expand"):
        engine.generate(expand(video=wide_clip(frames=1)))
    spec = engine.models["wan-vace"]
    with pytest.raises(PlanError, match="which shape"):
        resolve(expand(aspect=None), spec, (256, 144), 9)
    plan = resolve(expand(), spec, (1920, 1080), 200)
    assert (plan.width, plan.height, plan.inner, plan.frames) == (128, 256, (128, 72), spec.max_frames)
    assert plan.passes(spec, JobKind.EXPAND)[0].steps == 4, "priced as VACE's every step"


def test_a_video_fits_whole_on_the_larger_frame_in_even_sizes() -> None:
    assert contained((1920, 1080), (480, 832)) == (480, 270)
    assert contained((1080, 1920), (832, 480)) == (270, 480)
    assert contained((101, 99), (64, 64)) == (64, 62)


def test_expand_goes_to_a_model_that_can_and_needs_a_shape() -> None:
    def job(text: str, model: str) -> VideoJob:
        return build_job(parse_flags(text), job_id="", kind=JobKind.EXPAND, models=DEFAULT_MODELS, default_model=model)

    made = job("a beach -ar 9:16", "wan-vace")
    assert (made.kind, made.aspect, made.prompt) == (JobKind.EXPAND, Aspect.TALL, "a beach")
    assert job("-ar 1:1", "wan-vace").prompt == "", "the words are optional"
    with pytest.raises(OptionError, match=r"expands videos to another shape \(wan-vace\)"):
        job("-ar 9:16", "wan")
    with pytest.raises(OptionError, match="which shape"):
        job("a beach", "wan-vace")
