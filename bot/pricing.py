"""What a job costs and the server limits it runs under (no Discord here): the rules VideoRequests applies, and
the prices /quota shows."""

from __future__ import annotations

import dataclasses

from bot.services import Services
from generation.job_builder import build_job
from generation.jobs import JobKind, VideoJob
from generation.models import ModelSpec
from generation.options import Options
from generation.plan import Plan, resolve
from generation.text import Said, _
from storage.guilds import GuildSettings
from storage.quotas import job_cost

__all__ = ["Refused", "default_price", "models_for", "price", "upscaler_for", "within_server_limits"]


class Refused(Said, ValueError):
    """The request cannot be served; the message is for the user."""


def price(
    job: VideoJob, spec: ModelSpec, input_size: tuple[int, int] | None = None, source_frames: int = 0
) -> tuple[VideoJob, int, Plan]:
    """The job as it will render (`plan.resolve`, as the engine plans it) and its credits; PlanError if
    the model cannot run it."""
    plan = resolve(job, spec, input_size, source_frames)
    # The job says exactly what was priced: the worker renders this, whatever its defaults.
    if job.kind is not JobKind.UPSCALE:
        job = dataclasses.replace(job, aspect=plan.aspect, frames=plan.frames, steps=plan.steps)
    if job.kind is JobKind.RESTYLE:
        job = dataclasses.replace(job, strength=plan.strength)
    work = [
        job_cost(run.width, run.height, run.frames, run.steps, spec.cost_factor) for run in plan.passes(spec, job.kind)
    ]
    return job, sum(work) + (1 if job.smooth else 0), plan


def models_for(services: Services, kind: JobKind, settings: GuildSettings) -> tuple[dict[str, ModelSpec], str]:
    """The models this server may use for `kind`, and the default one among them."""
    s = services
    models = {name: spec for name, spec in s.models.items() if settings.allows_model(name)}
    wanted = {
        JobKind.TEXT_TO_VIDEO: s.generation.default_text_model,
        JobKind.RESTYLE: s.generation.default_restyle_model,
    }.get(kind, s.generation.default_image_model)
    if wanted not in models or not models[wanted].takes(kind):
        wanted = next((name for name, spec in models.items() if spec.takes(kind)), wanted)
    return models, wanted


def default_price(
    services: Services, kind: JobKind, settings: GuildSettings, prompted: bool = False
) -> tuple[str, int] | None:
    """The model a request of `kind` with no options runs on in this server, and its credits (a picture in
    the model's own shape); `prompted`: an /animate with a prompt, on the prompted-image default. None where
    this server enables no such model."""
    models, default = models_for(services, kind, settings)
    if prompted:
        default = services.generation.default_prompted_image_model
    spec = models.get(default)
    if spec is None or not spec.takes(kind):
        return None
    words = Options(prompt="a clip") if prompted or kind is JobKind.TEXT_TO_VIDEO else Options()
    job = build_job(words, job_id="", kind=kind, models=models, default_model=default)
    cost = price(within_server_limits(job, spec, settings), spec, (spec.width, spec.height))[1]
    return default, cost


def upscaler_for(services: Services, model: str) -> str | None:
    """The model that upscales clips of `model`: itself where it can, else the configured upscale model."""
    for name in (model, services.generation.upscale_model):
        spec = services.models.get(name)
        if spec is not None and spec.upscales:
            return name
    return None


def _over_limit(flag: str, limit: int, value: int) -> Refused:
    said = _("`{flag}` must be at most {limit} in this server, got {value}", flag=flag, limit=limit, value=value)
    return Refused(said)


def within_server_limits(job: VideoJob, spec: ModelSpec, settings: GuildSettings) -> VideoJob:
    """The job under the server's frame and step limits: a default above a limit comes down to it; a value
    the user asked for is refused."""
    frames, steps = job.frames or spec.default_frames(job.kind), job.steps or spec.steps
    if settings.max_frames is not None and frames > settings.max_frames:
        if job.frames is not None and job.kind not in (JobKind.EXTEND, JobKind.UPSCALE):
            raise _over_limit("-frames", settings.max_frames, frames)
        frames = settings.max_frames
    if settings.max_frames is not None and spec.frame_count(frames) > settings.max_frames:
        # LTX renders 8k + 1 frames: the largest such count within the limit.
        frames = spec.frames_within(settings.max_frames)
        if frames < spec.frame_step + 1:
            raise Refused(
                _(
                    "{model} makes at least {least} frames; this server allows {limit}",
                    model=spec.name,
                    least=spec.frame_step + 1,
                    limit=settings.max_frames,
                )
            )
    if settings.max_steps is not None and steps > settings.max_steps:
        if job.steps is not None:
            raise _over_limit("-steps", settings.max_steps, steps)
        steps = settings.max_steps
    return dataclasses.replace(job, frames=frames, steps=steps)
