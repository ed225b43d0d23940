"""The words and progress bars users see: status while a job runs, the result, failures."""

from __future__ import annotations

import time
from typing import Any

import discord

from generation.jobs import Stage
from generation.queue import JobState

__all__ = ["failure_text", "options_line", "result_text", "status_text"]

_STAGE = {
    Stage.QUEUED: "⏳ Queued",
    Stage.LOADING: "📦 Loading the model",
    Stage.DENOISING: "🎨 Generating",
    Stage.DECODING: "🎞️ Decoding frames",
    Stage.ENCODING: "🎬 Encoding the clip",
    Stage.DONE: "✅ Done",
}


def options_line(options: dict[str, Any]) -> str:
    """Every parameter as Pika flags, so a user can copy them into a new prompt."""
    parts = []
    for flag, key in (("-model", "model"), ("-motion", "motion"), ("-camera", "camera"), ("-fps", "fps"),
                      ("-gs", "guidance"), ("-ar", "aspect"), ("-frames", "frames"), ("-steps", "steps"),
                      ("-seed", "seed")):  # fmt: skip
        value = options.get(key)
        if value not in (None, ""):
            parts.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    if options.get("negative_prompt"):
        parts.append(f'-neg "{options["negative_prompt"]}"'.replace("`", "'"))  # shown inside a code span
    return " ".join(parts)


def _bar(step: int, total: int, width: int = 12) -> str:
    filled = round(width * step / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)


def _headline(options: dict[str, Any], user_id: int) -> str:
    prompt = options.get("prompt") or ("animating your image" if options.get("kind") == "image-to-video" else "")
    # A prompt is user text: it must not ping anyone or break the message's formatting.
    shown = discord.utils.escape_markdown(discord.utils.escape_mentions(prompt[:300]))
    return f"**{shown}** — <@{user_id}>" if prompt else f"<@{user_id}>"


def status_text(options: dict[str, Any], user_id: int, state: JobState) -> str:
    lines = [_headline(options, user_id)]
    progress = state.progress
    if state.status == "queued":
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
    lines.append(f"`{options_line(options)}`")
    return "\n".join(lines)


def result_text(options: dict[str, Any], user_id: int, result: Any, cost: int) -> str:
    shown = dict(options, seed=result.seed, model=result.model)
    return (
        f"{_headline(options, user_id)}\n`{options_line(shown)}`\n"
        f"{result.width}x{result.height}, {result.frames} frames at {result.fps} fps · {cost} credits"
    )


def failure_text(options: dict[str, Any], user_id: int, reason: str, cost: int, cancelled: bool = False) -> str:
    refund = f" Your {cost} credits were refunded." if cost else ""
    what = "🚫 Cancelled" if cancelled else f"❌ That did not work: {reason[:300]}"
    return f"{_headline(options, user_id)}\n{what}.{refund}"
