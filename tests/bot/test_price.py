"""The bot prices exactly what the engine renders: the same plan for every model, aspect and input size."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.pricing import Refused, defaults_added, price, with_defaults, within_server_limits
from generation.engine import Engine
from generation.job_builder import build_job
from generation.jobs import JobKind, VideoJob
from generation.models import Input
from generation.options import Options, flags_line, preferences_of
from generation.plan import resolve
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from generation.values import Aspect
from storage.guilds import GuildSettings
from storage.quotas import job_cost
from tests.conftest import png_bytes


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    settings = GenerationSettings(_env_file=None, device="cpu")  # type: ignore[call-arg]
    yield Engine(DEFAULT_MODELS, Runtime.from_settings(settings))  # real sizes; plan() loads no weights


def kind_of(model: str) -> JobKind:
    return JobKind.IMAGE_TO_VIDEO if Input.IMAGE in DEFAULT_MODELS[model].inputs else JobKind.TEXT_TO_VIDEO


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(sorted(DEFAULT_MODELS)),
    aspect=st.sampled_from([None, *Aspect]),
    size=st.tuples(st.integers(16, 700), st.integers(16, 700)),
    max_pixels=st.sampled_from([None, 200_000, 10**9]),
    frames=st.integers(2, 25),
)
def test_the_priced_plan_is_the_engine_plan(
    engine: Engine, model: str, aspect: Aspect | None, size: tuple[int, int], max_pixels: int | None, frames: int
) -> None:
    spec = DEFAULT_MODELS[model]
    kind = kind_of(model)
    image = png_bytes(*size) if kind is JobKind.IMAGE_TO_VIDEO else None
    frames = min(frames, spec.max_frames)
    job = VideoJob("p", kind, model, "a fox", image=image, aspect=aspect, frames=frames, max_pixels=max_pixels)
    priced, cost, _ = price(job, spec, size if image else None)
    plan = resolve(job, spec, size if image else None)
    for sent in (priced, job):  # what the bot queues, and the job before the bot filled in the defaults
        request = engine.plan(sent)
        rendered = (request.width, request.height, request.frames, request.steps, request.fps)
        assert rendered == (plan.width, plan.height, plan.frames, plan.steps, plan.fps)
        assert cost == job_cost(request.width, request.height, request.frames, request.steps, spec.cost_factor)


@pytest.mark.parametrize("model", [name for name, spec in DEFAULT_MODELS.items() if spec.extends])
@pytest.mark.parametrize("aspect", list(Aspect))
def test_an_extension_is_priced_as_the_continuation_the_engine_renders(
    engine: Engine, model: str, aspect: Aspect
) -> None:
    spec = DEFAULT_MODELS[model]
    width, height = aspect.size(spec.pixels, spec.size_multiple)
    clip = np.zeros((spec.frames, height, width, 3), np.uint8)  # the clip the source job made
    job = VideoJob(job_id="e", kind=JobKind.EXTEND, model=model, aspect=aspect, video=b"clip")
    priced, cost, _ = price(job, spec, None, source_frames=len(clip))
    request = engine.plan(priced, clip)
    assert (request.width, request.height, request.frames) == (width, height, priced.frames)
    assert cost == job_cost(width, height, priced.frames, request.steps, spec.cost_factor)


def test_a_servers_limits_bring_defaults_down_and_refuse_what_a_user_asked_for_above_them() -> None:
    limits = GuildSettings(max_frames=20, max_steps=10)
    svd = DEFAULT_MODELS["svd-xt"]  # 25 frames and 25 steps by default
    job = VideoJob("p", JobKind.IMAGE_TO_VIDEO, "svd-xt", "")
    assert (within_server_limits(job, svd, limits).frames, within_server_limits(job, svd, limits).steps) == (20, 10)
    with pytest.raises(Refused, match="`-frames` must be at most 20 in this server, got 24"):
        within_server_limits(dataclasses.replace(job, frames=24), svd, limits)
    with pytest.raises(Refused, match="`-steps` must be at most 10 in this server, got 12"):
        within_server_limits(dataclasses.replace(job, steps=12), svd, limits)
    ltx, at_most_24 = DEFAULT_MODELS["ltx"], GuildSettings(max_frames=24)  # 8k + 1 frames: 24 would render 25
    assert within_server_limits(VideoJob("p", JobKind.IMAGE_TO_VIDEO, "ltx", ""), ltx, at_most_24).frames == 17
    with pytest.raises(Refused, match="ltx makes at least 9 frames; this server allows 8"):
        within_server_limits(VideoJob("p", JobKind.IMAGE_TO_VIDEO, "ltx", ""), ltx, GuildSettings(max_frames=8))


def test_default_flags_are_kept_where_the_job_can_take_them_in_order() -> None:
    def build(options: Options, model: str) -> VideoJob:
        return build_job(options, job_id="", kind=JobKind.IMAGE_TO_VIDEO, models=DEFAULT_MODELS, default_model=model)

    mine, server = preferences_of("-neg blurry -style anime"), preferences_of("-ar 9:16 -neg text -motion 3")
    typed = Options(motion=1)
    online = set(DEFAULT_MODELS)
    job, kept = with_defaults(typed, [mine, server], lambda o: build(o, "svd-xt"), online, DEFAULT_MODELS)
    assert (job.aspect, job.negative_prompt, job.style, job.motion) == (Aspect("9:16"), "", None, 1)
    assert flags_line(defaults_added(typed, kept)) == "-ar 9:16", "SVD reads no prompt: no -neg, no -style"
    job, kept = with_defaults(
        Options(prompt="a cat"), [mine, server], lambda o: build(o, "ltx"), online, DEFAULT_MODELS
    )
    assert (job.negative_prompt, job.style, job.motion) == ("blurry", "anime", 3), "the user's -neg before the server's"


def test_an_illusion_costs_its_controlnets_work_more_than_the_same_clip_from_words() -> None:
    spec = DEFAULT_MODELS["animatediff"]
    words = VideoJob("w", JobKind.TEXT_TO_VIDEO, "animatediff", prompt="a forest", aspect=Aspect.SQUARE)
    hidden = dataclasses.replace(words, kind=JobKind.ILLUSION, hidden_text="HI")
    _, plain, _ = price(words, spec)
    _, illusion, _ = price(hidden, spec)
    assert illusion == job_cost(512, 512, 16, 25, spec.cost_factor * 1.4) > plain == job_cost(512, 512, 16, 25, 1.5)


def test_each_picture_an_ingredients_clip_or_a_swap_takes_in_is_a_latent_frame_of_work_and_is_priced() -> None:
    spec = DEFAULT_MODELS["wan-vace"]
    clip = VideoJob("i", JobKind.INGREDIENTS, "wan-vace", prompt="they dance")
    costs = [price(dataclasses.replace(clip, ingredients=(b"",) * n), spec)[1] for n in (1, 2, 3)]
    assert costs[0] < costs[1] < costs[2], costs
    plan = resolve(dataclasses.replace(clip, ingredients=(b"",) * 3), spec)
    [run] = plan.passes(spec, JobKind.INGREDIENTS)
    assert run.frames == plan.frames + 3 * spec.frame_step, "81 frames and 3 reference latent frames"
