"""The words and progress bars users see: status while a job runs, the result, failures."""

from __future__ import annotations

import dataclasses
import time

import discord

from bot.i18n import Voice
from bot.limits import clip, user_words
from generation.jobs import MAX_HIDDEN_TEXT, JobKind, Stage, VideoJob, VideoResult
from generation.models import ModelSpec
from generation.options import Options, flags_line
from generation.queue_types import QueueState, QueueStatus
from generation.text import Text, _
from storage.quotas import credits_of

__all__ = ["edit_interval", "failure_text", "options_line", "prompt_note", "result_text", "status_text"]

_STAGE = {
    Stage.QUEUED: _("⏳ Queued"),
    Stage.LOADING: _("📦 Loading the model"),
    Stage.DENOISING: _("🎨 Generating"),
    Stage.DECODING: _("🎞️ Decoding frames"),
    Stage.ENCODING: _("🎬 Encoding the clip"),
    Stage.DONE: _("✅ Done"),
}
_WITHOUT_PROMPT = {
    JobKind.IMAGE_TO_VIDEO: _("animating your image"),
    JobKind.EXTEND: _("extending your clip"),
    JobKind.SMOOTH: _("smoothing your clip"),
    JobKind.GIF: _("making a GIF of your clip"),
    JobKind.UPSCALE: _("upscaling your clip"),
    JobKind.POSE: _("moving your character"),
}


def options_line(job: VideoJob) -> str:
    """Every parameter of a job as Pika flags, so a user can copy them into a new prompt."""
    return flags_line(Options.of(job))


def _bar(step: int, total: int, width: int = 12) -> str:
    filled = round(width * step / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)


def _headline(job: VideoJob, user_id: int, say: Voice) -> str:
    prompt = job.prompt or (say(_WITHOUT_PROMPT[job.kind]) if job.kind in _WITHOUT_PROMPT else "")
    return f"**{user_words(prompt, 300)}** — <@{user_id}>" if prompt else f"<@{user_id}>"


def prompt_note(job: VideoJob, spec: ModelSpec | None) -> Text | None:
    """Said when a prompt (or a negative prompt) was given to a model (`spec`, the job's) that does not read
    it: never silently ignored."""
    words = job.prompt or job.negative_prompt
    if job.kind is not JobKind.IMAGE_TO_VIDEO or not words or spec is None or spec.follows_prompt(job.kind):
        return None
    return _(
        "ℹ️ `{model}` animates the picture without reading text: your prompt was not used (try `-model ltx`)",
        model=job.model,
    )


def edit_interval(every_s: float, state: QueueState) -> float:
    """How often a job's status may be edited: every `every_s` near the front of the line, less often further
    back (a deep queue moves every position at once; #100 hears of it a tenth as often as #10)."""
    if state.status is QueueStatus.QUEUED and state.position:
        return every_s * max(1.0, state.position / 10)
    return every_s


def status_text(job: VideoJob, user_id: int, state: QueueState, say: Voice, note: Text | None = None) -> str:
    """The status message while a job waits or renders, in `say`'s language."""
    lines = [_headline(job, user_id, say)] + ([say(note)] if note else [])
    progress = state.progress
    if progress is not None and progress.note:  # the worker's word on the job (the motion brush's region)
        lines.append(discord.utils.escape_mentions(clip(say(progress.note), 200)))
    if state.status is QueueStatus.QUEUED:
        at = state.ready_at(time.time())
        if state.position and at:
            queued = _("⏳ Queued — #{position} in line, ready <t:{at}:R>", position=state.position, at=at)
        elif state.position:
            queued = _("⏳ Queued — #{position} in line", position=state.position)
        else:
            queued = _("⏳ Queued, ready <t:{at}:R>", at=at) if at else _("⏳ Queued")
        lines.append(say(queued))
        if not state.served:
            lines.append(say(_("⚠️ No GPU worker for this model is online right now; it starts when one is.")))
    elif progress is not None and progress.stage is Stage.DENOISING and progress.total:
        step = _("step {step}/{total}", step=progress.step, total=progress.total)
        lines.append(f"{say(_STAGE[progress.stage])} {_bar(progress.step, progress.total)} {say(step)}")
    elif progress is not None and progress.stage is not Stage.QUEUED:
        lines.append(say(_STAGE.get(progress.stage, _("⚙️ Working"))))
    else:  # taken by a worker, which has not said anything yet (the submit's "queued" mark is all there is)
        lines.append(say(_("⚙️ Starting")))
    lines.append(f"`{options_line(job)}`")
    return "\n".join(lines)


def _frames(job: VideoJob, result: VideoResult) -> Text:
    """What the clip is, in frames, for its kind of job."""
    frames = result.frames
    return {
        JobKind.EXTEND: _("extended {source} → {frames} frames", source=result.source_frames, frames=frames),
        JobKind.SMOOTH: _("smoothed to {frames} frames", frames=frames),
        JobKind.GIF: _("as a GIF, {frames} frames", frames=frames),
        JobKind.UPSCALE: _("upscaled x2, {frames} frames", frames=frames),
        JobKind.RESTYLE: _("redrew “{region}”, {frames} frames", region=user_words(job.region, 60), frames=frames)
        if job.region
        else _("restyled, {frames} frames", frames=frames),
        JobKind.POSE: _("moved by the pose video, {frames} frames", frames=frames),
        JobKind.EXPAND: _("expanded to {aspect}, {frames} frames", aspect=job.aspect or "", frames=frames),
        JobKind.ILLUSION: _("hiding {shape}, {frames} frames", shape=_hidden(job), frames=frames),
    }.get(job.kind, _("{frames} frames", frames=frames))


def _hidden(job: VideoJob) -> Text:
    """What an illusion hides, as its result says it."""
    return Text(f"“{user_words(job.hidden_text, MAX_HIDDEN_TEXT)}”") if job.hidden_text else _("your picture")


def result_text(
    job: VideoJob, user_id: int, result: VideoResult, cost: int, say: Voice, notes: tuple[Text, ...] = ()
) -> str:
    """The result message of a delivered clip, in `say`'s language."""
    made = dataclasses.replace(job, seed=result.seed, model=result.model, fps=result.fps)  # what the file is
    size = f"{result.width}x{result.height}"
    summary = _(
        "{size}, {frames} at {fps} fps · {cost}",
        size=size,
        frames=_frames(job, result),
        fps=result.fps,
        cost=credits_of(cost) if cost else _("free"),  # a GIF of a clip: no model ran
    )
    lines = [_headline(job, user_id, say), f"`{options_line(made)}`", say(summary)]
    if result.read_as:  # the worker translated the prompt: show what the model was given
        read = user_words(result.read_as, 300)
        lines.append(say(_("🌐 `{model}` reads English, so it was given: “{read}”", model=result.model, read=read)))
    if job.fast:  # the draft tier changes the picture: say so beside it
        lines.append(say(_("⚡ Draft (`-fast`): quicker, less detail; render without `-fast` for full quality")))
    return "\n".join(lines + [say(note) for note in notes])


def failure_text(job: VideoJob, user_id: int, reason: Text, cost: int, say: Voice, cancelled: bool = False) -> str:
    """The message that says a job ended without a clip, and what was refunded, in `say`'s language."""
    failed = _("❌ That did not work: {reason}.", reason=clip(say(reason), 300))
    lines = [say(_("🚫 Cancelled.") if cancelled else failed)]
    if cost:
        lines.append(say(_("{credits} refunded.", credits=credits_of(cost))))
    return f"{_headline(job, user_id, say)}\n{' '.join(lines)}"
