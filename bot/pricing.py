"""What a job costs and the server limits it runs under (no Discord here): the rules VideoRequests applies, and
the prices /quota shows."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
from collections.abc import Callable, Mapping, Sequence

from bot.services import Services
from generation.job_builder import build_job
from generation.jobs import JobKind, VideoJob
from generation.models import ModelSpec
from generation.options import PREFERABLE, SEGMENTS, OptionError, Options
from generation.plan import Plan, resolve
from generation.text import Said, _
from storage.guilds import GuildSettings
from storage.quotas import job_cost

__all__ = [
    "Refused",
    "default_price",
    "defaults_added",
    "draft_job",
    "models_for",
    "price",
    "upscaler_for",
    "with_defaults",
    "within_server_limits",
]


class Refused(Said, ValueError):
    """The request cannot be served; the message is for the user."""


ILLUSION_WORK = 1.4  # an illusion's ControlNet runs beside the UNet at every step: about 0.4 of one more


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
    factor = spec.cost_factor * (ILLUSION_WORK if job.kind is JobKind.ILLUSION else 1.0)
    work = [job_cost(run.width, run.height, run.frames, run.steps, factor) for run in plan.passes(spec, job.kind)]
    return job, sum(work) + (1 if job.smooth else 0), plan


def with_defaults(
    options: Options,
    defaults: Sequence[Options],
    build: Callable[[Options], VideoJob],
    online: set[str],
    models: Mapping[str, ModelSpec],
) -> tuple[VideoJob, Options]:
    """The job `options` ask for (its refusals are the request's own), then with each of the `defaults` (the
    user's /preferences, then the server's default_flags) wherever the request does not set that option, kept
    where the job can take it: a style or a negative prompt on a model that reads no prompt, a loop on text, a
    model this server or no worker offers are left out. Returns the job and the options it was built from."""
    job, kept = build(options), options
    for preferred, name in itertools.product(defaults, PREFERABLE):
        value = getattr(preferred, name)
        if value is None or getattr(kept, name) is not None or (name == "model" and value not in online):
            continue
        tried = dataclasses.replace(kept, **{name: value})
        with contextlib.suppress(Refused, OptionError):
            built = build(tried)
            if name != "negative_prompt" or models[built.model].follows_prompt(built.kind):
                job, kept = built, tried
    return job, kept


def defaults_added(options: Options, kept: Options) -> Options:
    """The default flags `with_defaults` added to `options`."""
    return Options(**{name: getattr(kept, name) for name in PREFERABLE if getattr(options, name) is None})


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
    services: Services,
    kind: JobKind,
    settings: GuildSettings,
    online: set[str],
    prompted: bool = False,
    defaults: Sequence[Options] = (),
) -> tuple[str, int, Options] | None:
    """The model a request of `kind` with no options runs on in this server, its credits (a picture in the
    model's own shape) and the `defaults` it takes, as VideoRequests would draft it; `prompted`: an /animate
    with a prompt. None where this server enables no such model."""
    models, default = models_for(services, kind, settings)
    if default not in models or not models[default].takes(kind):
        return None
    from_words = (JobKind.TEXT_TO_VIDEO, JobKind.ILLUSION, JobKind.INGREDIENTS)
    words = Options(prompt="a clip") if prompted or kind in from_words else Options()
    build = functools.partial(draft_job, services, kind=kind, models=models, default=default, online=online)
    job, kept = with_defaults(words, defaults, build, online, models)
    if kind is JobKind.INGREDIENTS:  # priced with one picture, the least such a clip takes
        job = dataclasses.replace(job, ingredients=(b"",))
    spec = models[job.model]
    cost = price(within_server_limits(job, spec, settings), spec, (spec.width, spec.height))[1]
    return job.model, cost, defaults_added(words, kept)


def draft_job(
    services: Services,
    options: Options,
    *,
    kind: JobKind,
    models: Mapping[str, ModelSpec],
    default: str,
    online: set[str],
    end_image: bytes | None = None,
    middle_images: tuple[bytes, ...] = (),
    ingredients: tuple[bytes, ...] = (),
    mask: bytes | None = None,
) -> VideoJob:
    """The job `options` ask for, on the model they name or the one that can do what they ask."""
    if options.model and options.model in services.models and options.model not in models:
        raise Refused(
            _(
                "`{model}` is not enabled in this server (enabled: {enabled})",
                model=options.model,
                enabled=", ".join(models),
            )
        )
    needs = _needs(options, end_image is not None, mask is not None, bool(middle_images))
    if not options.model and (needs or (kind is JobKind.IMAGE_TO_VIDEO and (options.prompt or options.style))):
        prompted = services.generation.default_prompted_image_model
        default = _capable(prompted, kind, needs, models, default, online, options)
    return build_job(
        options,
        job_id="",
        kind=kind,
        models=models,
        default_model=default,
        end_image=end_image,
        middle_images=middle_images,
        ingredients=ingredients,
        mask=mask,
    )


def _needs(options: Options, end_image: bool, mask: bool, middle: bool) -> tuple[str, ...]:
    """The registry capabilities a request needs beyond making a clip (with a picture to end on, a mask,
    pictures between the first and the last)."""
    wanted = {
        "keyframes": end_image or bool(options.loop),
        "middle_keyframes": middle,
        "masks": mask or bool(options.region),
        "travels": SEGMENTS in options.prompt,
        "upscales": bool(options.upscale),
        "prompt_camera": options.camera is not None and bool(options.camera.orbit),
        "follows_prompt": bool(options.effect),  # an effect is words the model must read
    }
    return tuple(name for name, asked in wanted.items() if asked)


def _has(spec: ModelSpec, need: str, kind: JobKind) -> bool:
    """Whether `spec` has the capability `need` (a registry flag, or following prompts) for clips of `kind`."""
    return spec.follows_prompt(kind) if need == "follows_prompt" else bool(getattr(spec, need))


def _capable(
    prompted: str,
    kind: JobKind,
    needs: tuple[str, ...],
    models: Mapping[str, ModelSpec],
    default: str,
    online: set[str],
    options: Options,
) -> str:
    """The model for a job that asks for more than the default may give. A prompted image job uses the
    `prompted`-image default while a worker serves it and the options fit it (`-steps 40` does not fit a
    distilled model), else the image default (its result then says the prompt was not used); a job that
    needs keyframes, prompt travel, -upscale or an effect uses a model that can, preferring the prompted
    default and one a worker serves now."""

    def able(name: str) -> bool:
        spec = models.get(name)
        if spec is None or not spec.takes(kind) or not all(_has(spec, need, kind) for need in needs):
            return False
        frames = options.frames or round((options.duration or 0) * (options.fps or 24))
        return (options.steps or 0) <= spec.max_steps and frames <= spec.max_frames

    if not needs:
        return prompted if able(prompted) and prompted in online else default
    choices = [name for name in (prompted, default, *models) if able(name)]
    return next((name for name in choices if name in online), choices[0] if choices else default)


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
