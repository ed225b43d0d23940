"""The words and progress bars users see: status while a job runs, the result, failures."""

from __future__ import annotations

import dataclasses
import time

import discord

from bot.limits import clip
from generation.jobs import JobKind, Stage, VideoJob, VideoResult
from generation.options import Options, flags_line
from generation.queue import QueueState, QueueStatus

__all__ = ["failure_text", "options_line", "prompt_note", "result_text", "status_text"]

_STAGE = {
    Stage.QUEUED: "⏳ Queued",
    Stage.LOADING: "📦 Loading the model",
    Stage.DENOISING: "🎨 Generating",
    Stage.DECODING: "🎞️ Decoding frames",
    Stage.ENCODING: "🎬 Encoding the clip",
    Stage.DONE: "✅ Done",
}
_WITHOUT_PROMPT = {
    JobKind.IMAGE_TO_VIDEO: "animating your image",
    JobKind.EXTEND: "extending your clip",
    JobKind.SMOOTH: "smoothing your clip",
    JobKind.UPSCALE: "upscaling your clip",
    JobKind.POSE: "moving your character",
}


def options_line(job: VideoJob) -> str:
    """Every parameter of a job as Pika flags, so a user can copy them into a new prompt."""
    return flags_line(Options.of(job))


def _bar(step: int, total: int, width: int = 12) -> str:
    filled = round(width * step / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)


def _headline(job: VideoJob, user_id: int) -> str:
    prompt = job.prompt or _WITHOUT_PROMPT.get(job.kind, "")
    # A prompt is user text: it must not ping anyone or break the message's formatting.
    shown = discord.utils.escape_markdown(discord.utils.escape_mentions(clip(prompt, 300)))
    return f"**{shown}** — <@{user_id}>" if prompt else f"<@{user_id}>"


def prompt_note(job: VideoJob, follows_prompt: bool) -> str | None:
    """Said when a prompt was given to a model that does not read it: never silently ignored."""
    if job.kind is not JobKind.IMAGE_TO_VIDEO or not job.prompt or follows_prompt:
        return None
    return f"ℹ️ `{job.model}` animates the picture without reading text: your prompt was not used (try `-model ltx`)"


def status_text(job: VideoJob, user_id: int, state: QueueState, note: str | None = None) -> str:
    lines = [_headline(job, user_id)] + ([note] if note else [])
    progress = state.progress
    if progress is not None and progress.note:  # the worker's word on the job (the motion brush's region)
        lines.append(discord.utils.escape_mentions(clip(progress.note, 200)))
    if state.status is QueueStatus.QUEUED:
        where = f" — #{state.position} in line" if state.position else ""
        eta = f", ready <t:{int(time.time() + state.eta_s)}:R>" if state.eta_s else ""
        lines.append(f"⏳ Queued{where}{eta}")
        if not state.served:
            lines.append("⚠️ No GPU worker for this model is online right now; it starts when one is.")
    elif progress is not None and progress.stage is Stage.DENOISING and progress.total:
        lines.append(
            f"{_STAGE[progress.stage]} {_bar(progress.step, progress.total)} step {progress.step}/{progress.total}"
        )
    elif progress is not None:
        lines.append(_STAGE.get(progress.stage, "⚙️ Working"))
    else:
        lines.append("⚙️ Starting")
    lines.append(f"`{options_line(job)}`")
    return "\n".join(lines)


def result_text(job: VideoJob, user_id: int, result: VideoResult, cost: int, note: str | None = None) -> str:
    made = dataclasses.replace(job, seed=result.seed, model=result.model, fps=result.fps)  # what the file is
    if job.kind is JobKind.EXTEND:
        frames = f"extended {result.source_frames} → {result.frames} frames"
    elif job.kind is JobKind.SMOOTH:
        frames = f"smoothed to {result.frames} frames"
    elif job.kind is JobKind.UPSCALE:
        frames = f"upscaled x2, {result.frames} frames"
    elif job.kind is JobKind.RESTYLE:
        frames = f"restyled, {result.frames} frames"
    elif job.kind is JobKind.POSE:
        frames = f"moved by the pose video, {result.frames} frames"
    else:
        frames = f"{result.frames} frames"
    lines = [
        _headline(job, user_id),
        f"`{options_line(made)}`",
        f"{result.width}x{result.height}, {frames} at {result.fps} fps · {cost} credits",
    ]
    if result.read_as:  # the worker translated the prompt: show what the model was given
        read = discord.utils.escape_markdown(discord.utils.escape_mentions(clip(result.read_as, 300)))
        lines.append(f"🌐 `{result.model}` reads English, so it was given: “{read}”")
    return "\n".join(lines + ([note] if note else []))


def failure_text(job: VideoJob, user_id: int, reason: str, cost: int, cancelled: bool = False) -> str:
    refund = f" Your {cost} credits were refunded." if cost else ""
    what = "🚫 Cancelled" if cancelled else f"❌ That did not work: {reason[:300]}"
    return f"{_headline(job, user_id)}\n{what}.{refund}"
