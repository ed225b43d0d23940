"""The typed request behind a ledger record: what the bot echoes, and what Reroll, Remix, Extend and
Smooth start from; and how lists of jobs (/queue, /history, the admin's queue) name and link them."""

from __future__ import annotations

from bot.i18n import Voice
from bot.limits import clip
from generation.jobs import JobKind, JobSchemaError, VideoJob
from generation.text import _
from generation.values import Aspect, Camera
from storage.jobs import JobRecord

__all__ = ["message_link", "named", "request_of"]


# A job without a prompt, as its user knows it: what they did.
_KINDS = {
    JobKind.IMAGE_TO_VIDEO: _("a picture, animated"),
    JobKind.TEXT_TO_VIDEO: _("a clip from words"),
    JobKind.EXTEND: _("a clip, extended"),
    JobKind.SMOOTH: _("a clip, smoothed"),
    JobKind.GIF: _("a clip, as a GIF"),
    JobKind.UPSCALE: _("a clip, upscaled"),
    JobKind.RESTYLE: _("a video, restyled"),
    JobKind.POSE: _("a picture, moved as a video moves"),
    JobKind.ILLUSION: _("a clip with something hidden in it"),
    JobKind.INGREDIENTS: _("a clip with your pictures in it"),
    JobKind.EXPAND: _("a video, expanded"),
}


def named(record: JobRecord, say: Voice) -> str:
    """A job as the user knows it: its prompt (in a code span), or what kind of job it is."""
    prompt = clip(request_of(record).prompt.replace("`", "'"), 80)
    if prompt:
        return f"`{prompt}`"
    kind = next((kind for kind in JobKind if kind.value == record.kind), None)
    return say(_KINDS[kind]) if kind is not None else say(_("a {kind} job", kind=record.kind))


def message_link(record: JobRecord, message_id: int, channel: int | None = None) -> str:
    """A link to one of the job's messages, in its channel or in `channel` (the DM a clip was sent to)."""
    channel = channel or record.channel_id
    place = "@me" if not record.guild_id or channel != record.channel_id else record.guild_id
    return f"https://discord.com/channels/{place}/{channel}/{message_id}"


def request_of(record: JobRecord) -> VideoJob:
    """The full request a ledger record was made from (without its input files)."""
    stored = record.options
    if "request" in stored:
        return VideoJob.from_dict(stored["request"])
    # A record written before the typed request (motionbot 0.1): its flat options.
    try:
        camera = Camera.parse(stored.get("camera") or "")
        aspect = Aspect(stored["aspect"]) if stored.get("aspect") else None
        return VideoJob(
            job_id=record.job_id,
            kind=JobKind(stored.get("kind") or record.kind),
            model=record.model,
            prompt=stored.get("prompt") or "",
            negative_prompt=stored.get("negative_prompt") or "",
            aspect=aspect,
            frames=stored.get("frames"),
            fps=stored.get("fps") or 24,
            motion=1 if stored.get("motion") is None else stored["motion"],
            camera=camera or None,
            guidance=stored.get("guidance"),
            seed=stored.get("seed"),
            steps=stored.get("steps"),
            smooth=bool(stored.get("smooth")),
        )
    except (TypeError, ValueError) as exc:
        raise JobSchemaError(f"job {record.job_id}: its stored options cannot be read ({exc})") from None
