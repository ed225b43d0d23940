"""Options checked against the chosen model become a `VideoJob` (torch-free).

`build_job` is the one place that knows what each model can do with what a user asked for: the input it
takes, keyframes, prompt travel, `-upscale`, `-fast`, styles, effects, the motion brush, orbits, and each model's
own frame and step limits. Every refusal is an `OptionError` that names the models that could do it.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping

from generation.jobs import DEFAULT_BYTE_BUDGET, MAX_MIDDLE_IMAGES, Fit, JobKind, OutputFormat, VideoJob
from generation.models import ModelSpec
from generation.options import MAX_SEGMENTS, NONE_ENABLED, NOTHING, SEGMENTS, OptionError, Options, segments_of
from generation.text import Text, _

__all__ = ["build_job"]

_NOT_JOB_FIELDS = ("prompt", "model", "duration", "gif")  # passed apart; duration becomes frames, gif the output


def _usable(models: Mapping[str, ModelSpec], kind: JobKind, can: Callable[[ModelSpec], bool]) -> Text | str:
    """The enabled models that take `kind` and can do the thing, for an error message."""
    return ", ".join(name for name, spec in models.items() if can(spec) and spec.takes(kind)) or NONE_ENABLED


def _check_brush(options: Options, spec: ModelSpec, kind: JobKind, models: Mapping[str, ModelSpec], mask: bool) -> None:
    """The motion brush (a mask or `-region`) needs a picture, one way to say the region, a model that keeps
    the rest still, and no camera move (which would move the whole picture). A restyle takes `-region` too:
    only that part of the video is redrawn (a swap)."""
    flag = "-region" if options.region else "mask"
    if kind is JobKind.RESTYLE and options.region:
        if not spec.masks:
            usable = _usable(models, kind, lambda s: s.masks)
            raise OptionError(
                "-region",
                options.region,
                "",
                _(
                    "`{model}` cannot redraw only part of a video; models that can: {usable}",
                    model=spec.name,
                    usable=usable,
                ),
            )
        return
    if kind is not JobKind.IMAGE_TO_VIDEO:
        raise OptionError(
            flag, options.region or "mask", "", _("the motion brush animates part of a picture: use /animate")
        )
    if mask and options.region:
        raise OptionError("-region", options.region, "", _("give a mask or a `-region`, not both"))
    if not spec.masks:
        usable = _usable(models, kind, lambda s: s.masks)
        raise OptionError(
            flag,
            spec.name,
            "",
            _(
                "`{model}` cannot keep part of the picture still; models that can: {usable}",
                model=spec.name,
                usable=usable,
            ),
        )
    if options.camera is not None and options.camera.framed:
        raise OptionError(
            "-camera", options.camera, "", _("a camera move moves the whole picture: drop it to use the motion brush")
        )


def _check_loop(options: Options, spec: ModelSpec, kind: JobKind, models: Mapping[str, ModelSpec], end: bool) -> None:
    """`-loop` ends on the picture it starts on: it needs a picture, no other last picture, a keyframe model
    and no camera move (which would not come back)."""
    if kind is not JobKind.IMAGE_TO_VIDEO:
        raise OptionError("-loop", "-loop", "", _("`-loop` starts and ends on your picture: use /animate"))
    if end:
        raise OptionError("-loop", "-loop", "", _("`-loop` ends on the picture it starts on: drop the last picture"))
    if not spec.keyframes:
        usable = _usable(models, kind, lambda s: s.keyframes)
        raise OptionError(
            "-model",
            spec.name,
            "",
            _("`{model}` cannot loop; models that can: {usable}", model=spec.name, usable=usable),
        )
    if options.camera is not None and options.camera.framed:
        raise OptionError(
            "-camera", options.camera, "", _("a camera move would not come back to the start: drop it to loop")
        )


def _check_effect(options: Options, spec: ModelSpec, kind: JobKind, models: Mapping[str, ModelSpec], end: bool) -> None:
    """An effect happens to the subject of a picture, told to a model that reads prompts; it is the clip's one
    action, so it takes no last picture, no loop and no prompt travel."""
    effect = options.effect
    if kind is not JobKind.IMAGE_TO_VIDEO:
        raise OptionError("-effect", effect, "", _("an effect happens to the subject of a picture: use /animate"))
    if end or options.loop or SEGMENTS in options.prompt:
        raise OptionError(
            "-effect",
            effect,
            "",
            _("an effect decides how the clip ends: it takes no last picture, no `-loop` and no prompt travel"),
        )
    if not spec.follows_prompt(kind):
        usable = _usable(models, kind, lambda s: s.follows_prompt(kind))
        raise OptionError(
            "-effect",
            effect,
            "",
            _(
                "`{model}` does not read prompts, so it takes no effect; models that do: {usable}",
                model=spec.name,
                usable=usable,
            ),
        )


def _check_middle(spec: ModelSpec, kind: JobKind, models: Mapping[str, ModelSpec], count: int, end: bool) -> None:
    """Pictures between the first and the last: a clip from a picture to a last one, on a model that
    conditions on frames in between (`plan.resolve` checks they fit its frames)."""
    if kind is not JobKind.IMAGE_TO_VIDEO or not end:
        raise OptionError("second", count, "", _("pictures in between need a first and a last picture: use /morph"))
    if count > MAX_MIDDLE_IMAGES:
        raise OptionError("second", count, "", _("at most {most} pictures in all", most=MAX_MIDDLE_IMAGES + 2))
    if spec.middle_keyframes < count:
        usable = _usable(models, kind, lambda s: s.middle_keyframes >= count)
        raise OptionError(
            "-model",
            spec.name,
            "",
            _(
                "`{model}` cannot pass through pictures between the first and the last; models that can: {usable}",
                model=spec.name,
                usable=usable,
            ),
        )


def build_job(
    options: Options,
    *,
    job_id: str,
    kind: JobKind,
    models: Mapping[str, ModelSpec],
    default_model: str,
    image: bytes | None = None,
    end_image: bytes | None = None,
    middle_images: tuple[bytes, ...] = (),
    ingredients: tuple[bytes, ...] = (),
    mask: bytes | None = None,
    user_id: str = "",
    smooth: bool = False,
    output: OutputFormat = OutputFormat.MP4,
    byte_budget: int = DEFAULT_BYTE_BUDGET,
    max_pixels: int | None = None,
    fit: Fit = Fit.CROP,
) -> VideoJob:
    """Check options against the chosen model and make the job (`plan.resolve` fills in the defaults)."""
    name = options.model or default_model
    spec = models.get(name)
    if spec is None:
        raise OptionError(
            "-model", name, _("one of {names}", names=", ".join(models)) if models else _("an enabled model")
        )
    if not spec.takes(kind):
        usable = _usable(models, kind, lambda s: True)
        wanted = {
            JobKind.IMAGE_TO_VIDEO: _("a model for image input ({usable})", usable=usable),
            JobKind.TEXT_TO_VIDEO: _("a model for text input ({usable})", usable=usable),
            JobKind.RESTYLE: _("a model for restyling videos ({usable})", usable=usable),
            JobKind.POSE: _(
                "a model for pose-driven animation: a character and a pose video ({usable})", usable=usable
            ),
            JobKind.ILLUSION: _("a model that hides words or shapes in clips ({usable})", usable=usable),
            JobKind.INGREDIENTS: _("a model that puts your pictures in a clip ({usable})", usable=usable),
            JobKind.EXPAND: _("a model that expands videos to another shape ({usable})", usable=usable),
        }.get(kind, _("a model for Extend ({usable})", usable=usable))
        raise OptionError("-model", name, wanted)
    if kind is JobKind.TEXT_TO_VIDEO and not options.prompt:
        raise OptionError("prompt", NOTHING, "", _("a prompt is needed to make a video from text"))
    if kind is JobKind.ILLUSION and not options.prompt:
        raise OptionError("prompt", NOTHING, "", _("say what scene it hides in: a prompt is needed"))
    if kind is JobKind.INGREDIENTS and not options.prompt:
        raise OptionError("prompt", NOTHING, "", _("say what happens to who or what is in your pictures: a prompt"))
    if ingredients and kind is JobKind.RESTYLE and not options.region:
        said = _("a picture for a restyle shows what goes in the `-region`: name the region")
        raise OptionError("image", len(ingredients), "", said)
    if spec.ingredients and len(ingredients) > spec.ingredients:  # a model without any: refused below, naming others
        said = _("`{model}` takes at most {most} pictures", model=name, most=spec.ingredients)
        raise OptionError("image", len(ingredients), "", said)
    if kind is JobKind.EXPAND and options.aspect is None:
        raise OptionError("aspect", NOTHING, "", _("say which shape to expand the video to (`aspect`)"))
    if kind is JobKind.RESTYLE and not options.prompt:
        raise OptionError("prompt", NOTHING, "", _("say what the video should look like: a prompt is needed"))
    if options.strength is not None and kind not in (JobKind.RESTYLE, JobKind.ILLUSION):
        raise OptionError(
            "-strength",
            options.strength,
            "",
            _("`-strength` is for /restyle (how much of a video to redraw) and /illusion (how plainly it shows)"),
        )
    if middle_images:
        _check_middle(spec, kind, models, len(middle_images), end_image is not None)
    able = {
        "keyframes": end_image is not None,
        "travels": SEGMENTS in options.prompt,
        "upscales": bool(options.upscale),
        "fast_tier": bool(options.fast),
    }
    for field, asked in able.items():
        if asked and not getattr(spec, field):
            usable = _usable(models, kind, operator.attrgetter(field))
            cannot = {
                "keyframes": _(
                    "`{model}` cannot end on a given picture; models that can: {usable}", model=name, usable=usable
                ),
                "travels": _(
                    "`{model}` cannot do prompt travel (` | ` between prompts); models that can: {usable}",
                    model=name,
                    usable=usable,
                ),
                "upscales": _("`{model}` cannot do `-upscale`; models that can: {usable}", model=name, usable=usable),
                "fast_tier": _("`{model}` has no `-fast` tier; models that have: {usable}", model=name, usable=usable),
            }
            raise OptionError("-model", name, "", cannot[field])
    if options.style and not spec.follows_prompt(kind):
        usable = _usable(models, kind, lambda s: s.follows_prompt(kind))
        raise OptionError(
            "-style",
            options.style,
            "",
            _(
                "`{model}` does not read prompts, so it takes no style; models that do: {usable}",
                model=name,
                usable=usable,
            ),
        )
    if options.effect:
        _check_effect(options, spec, kind, models, end_image is not None)
    if mask is not None or options.region:
        _check_brush(options, spec, kind, models, mask is not None)
    if options.loop:
        _check_loop(options, spec, kind, models, end_image is not None)
    if options.camera is not None and options.camera.orbit and not spec.prompt_camera:
        usable = _usable(models, kind, lambda s: s.prompt_camera)
        raise OptionError(
            "-camera",
            options.camera,
            "",
            _("`{model}` cannot orbit the camera; models that can: {usable}", model=name, usable=usable),
        )
    segments = segments_of(options.prompt)
    if len(segments) > MAX_SEGMENTS or (len(segments) > 1 and not all(segments)):
        raise OptionError(
            "prompt", options.prompt, "", _("prompt travel takes 2–{most} non-empty prompts", most=MAX_SEGMENTS)
        )
    fps = options.fps or spec.fps
    frames = options.frames
    if options.duration is not None:
        if frames is not None:
            raise OptionError("-duration", options.duration, "", _("give `-frames` or `-duration`, not both"))
        frames = max(2, round(options.duration * fps))
        if frames > spec.max_frames:
            longest = spec.max_frames / fps
            raise OptionError(
                "-duration",
                options.duration,
                _("at most {seconds} s at {fps} fps on {model}", seconds=f"{longest:.2g}", fps=fps, model=name),
            )
    if frames is not None and not 2 <= frames <= spec.max_frames:
        raise OptionError("-frames", frames, _("{low}–{high} on {model}", low=2, high=spec.max_frames, model=name))
    if options.steps is not None and options.steps > spec.max_steps:
        raise OptionError("-steps", options.steps, _("{low}–{high} on {model}", low=1, high=spec.max_steps, model=name))
    # Every option the user gave lands on the job field of the same name; the job's defaults fill the rest.
    given = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in _NOT_JOB_FIELDS}
    given |= {"frames": frames, "fps": fps, "camera": options.camera or None, "upscale": options.upscale or None}
    # An illusion's ControlNet steers every step in full: no draft tier beside it.
    given |= {"fast": (options.fast and kind is not JobKind.ILLUSION) or None, "loop": options.loop or None}
    return VideoJob(
        job_id=job_id,
        kind=kind,
        model=name,
        prompt=options.prompt,
        image=image,
        end_image=end_image,
        middle_images=middle_images,
        ingredients=ingredients,
        mask=mask,
        fit=fit,
        smooth=smooth,
        output=OutputFormat.GIF if options.gif else output,
        byte_budget=byte_budget,
        max_pixels=max_pixels,
        user_id=user_id,
        **{field: value for field, value in given.items() if value is not None},
    )
