"""How a job's end reaches its user: the clip (posted, then charged) or its failure or cancellation (refunded,
then told, with Try again where it may help), and what the checks flagged to the moderation log.

The clip goes through the interaction while its token lives (the status message becomes the result); after
that, or if Discord says the token is dead, it is posted as a channel message that replies to the request
and mentions the user; where the bot may not post in the channel, by direct message. The ledger's state is
the guard against delivering or charging twice.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import discord

from bot.exts.video._interact import server_voice
from bot.exts.video._messages import CannotPost, JobMessages, Upload
from bot.exts.video._modlog import ModLog
from bot.exts.video._render import failure_text, prompt_note, result_text
from bot.exts.video._views import Buttons
from bot.i18n import Voice
from bot.limits import ATTACHMENT_DESCRIPTION, clip
from bot.pricing import upscaler_for
from bot.records import request_of
from bot.services import Services
from bot.spaces import space_of_job
from generation.blocklist import Verdict
from generation.jobs import JobKind, OutputFormat, VideoResult
from generation.queue_types import JobOutcome, QueueStatus
from generation.text import Text, _
from storage.jobs import JobRecord, JobState
from storage.moderation import ModerationEvent

__all__ = ["Endings"]

log = logging.getLogger(__name__)


class Endings:
    def __init__(
        self, bot: discord.Client, services: Services, buttons: Buttons, modlog: ModLog, messages: JobMessages
    ):
        self.bot, self.services, self.buttons, self.modlog, self.messages = bot, services, buttons, modlog, messages

    async def end(self, record: JobRecord, outcome: JobOutcome) -> None:
        """Deliver and charge a job that made its clip; refund and tell one that did not."""
        s, job_id = self.services, record.job_id
        if outcome.status is QueueStatus.DONE and outcome.result is not None:
            if await self.deliver(record, outcome.result):
                if await s.quotas.commit(job_id):
                    s.metrics.credits.labels(record.model).inc(record.cost)
                if await s.ledger.transition(job_id, JobState.DELIVERED):
                    s.metrics.finished.labels(record.model, "delivered").inc()
                    s.metrics.seconds.labels(record.model).observe(time.time() - record.created_at)
                    if outcome.result.flagged:
                        await self._report(record, "output", "spoiler")
                log.info("job %s delivered", job_id, extra={"job_id": job_id})
                return
            # Rendered, but Discord would not take the clip: a failure like any other, said and refunded.
            said = _("Discord would not take the clip")
            outcome = dataclasses.replace(outcome, status=QueueStatus.FAILED, reason=str(said), said=said, result=None)
        await self.settle(record, outcome)

    def _voice(self, record: JobRecord) -> Voice:
        """The requester's language, for the messages of their interaction (result, failure)."""
        return self.services.catalogs.voice(record.locale)

    async def settle(self, record: JobRecord, outcome: JobOutcome) -> None:
        """A job that failed or was cancelled: refund it and say so where the user will see it."""
        s, job_id = self.services, record.job_id
        cancelled = outcome.status is QueueStatus.CANCELLED
        refunded = await s.quotas.refund(job_id)
        picture = await s.inputs.get(job_id) if outcome.flagged == "input" else None  # for moderators
        # A failure (not the content's) offers Try again and Remix: its inputs stay for them, as a clip's
        # do; a cancelled or refused job's go now, not in a week.
        retry = not cancelled and not outcome.flagged and record.kind not in (JobKind.SMOOTH, JobKind.GIF)
        if not retry:
            await s.inputs.release(job_id)
        cost, job = (record.cost if refunded else 0), request_of(record)

        def told(voice: Voice) -> tuple[str, discord.ui.View | None]:
            """What the user is told, in `voice`, and the buttons with it."""
            text = failure_text(job, record.user_id, outcome.why, cost, voice, cancelled=cancelled)
            return text, self.buttons.failed(job_id, voice) if retry else None

        try:
            if not await self.messages.edit(record, *told(self._voice(record)), clear=True):
                text, view = told(await server_voice(self.bot, s, record.guild_id))  # a channel message: the server's
                sent = await self.messages.post(record, f"<@{record.user_id}> {text}", view, None)
                await s.ledger.set_messages(job_id, status_message_id=sent.id)  # for /history's link
        except CannotPost as exc:  # no right to post there (any more), it is gone, or a closed thread
            here = _("I could not post in <#{channel}>, so I am telling you here.", channel=record.channel_id)
            if (dm := await self._send_privately(record, exc.why, here, *told(self._voice(record)))) is not None:
                await s.ledger.set_messages(job_id, status_message_id=dm.id)  # for /history's link
                known = (current.result if (current := await s.ledger.get(job_id)) else None) or {}
                await s.ledger.set_result(job_id, known | {"channel": dm.channel.id})  # and for its Try again
        except discord.HTTPException as exc:
            log.warning("job %s: could not tell the user it ended: %s", job_id, exc)
        state = JobState.CANCELLED if cancelled else JobState.FAILED
        if await s.ledger.transition(job_id, state, error=outcome.reason or None):
            s.metrics.finished.labels(record.model, state.value).inc()
            if outcome.flagged:
                await self._report(record, outcome.flagged, "refused", picture, outcome.refused)
        log.info("job %s %s: %s", job_id, state.value, outcome.reason, extra={"job_id": job_id})

    async def _report(
        self, record: JobRecord, kind: str, result: str, picture: bytes | None = None, refused: Verdict | None = None
    ) -> None:
        """A clip or picture the worker's image check flagged, or a prompt its check refused once translated to
        English (`refused`: the rule, the term it matched in the English it read), for the moderation log
        (without the clip)."""
        rule = _("the built-in list, on the prompt in English") if kind == "prompt" else _("the image check")
        matched = f"{refused.term} — {refused.read_as}" if refused and refused.read_as else ""
        event = ModerationEvent(
            space_of_job(record),  # a server's moderators, or the operator's (DMs, users' own installs)
            record.channel_id,
            record.user_id,
            kind,
            result,
            str(refused.rule if refused else rule),
            request_of(record).prompt,
            matched or (refused.term if refused else ""),
            job_id=record.job_id,
        )
        await self.modlog.report(event, picture)

    async def _offers(self, record: JobRecord) -> dict[str, bool]:
        """Which of the buttons that depend on the clip and the models its result offers: Extend where the model
        continues clips, Upscale where a model this server enables can upscale it and it is not upscaled
        already, GIF where the clip is not one, Expand where this server enables a model that expands videos."""
        settings = await self.services.guilds.get(space_of_job(record))
        spec = self.services.models.get(record.model)
        upscaled = record.kind == JobKind.UPSCALE or request_of(record).upscale
        upscaler = None if upscaled else upscaler_for(self.services, record.model)
        expanders = [name for name, row in self.services.models.items() if row.takes(JobKind.EXPAND)]
        return {
            "extends": spec is not None and spec.extends,
            "upscales": upscaler is not None and settings.allows_model(upscaler),
            "gif": request_of(record).output is not OutputFormat.GIF,
            "expands": any(settings.allows_model(name) for name in expanders),
        }

    def _result_view(self, record: JobRecord, voice: Voice, offers: dict[str, bool]) -> discord.ui.View:
        """The buttons a result offers (`offers`); a smoothed clip or a clip's GIF only Delete."""
        smoothed = record.kind in (JobKind.SMOOTH, JobKind.GIF)
        return self.buttons.result(record.job_id, voice, smoothed=smoothed, **offers)

    async def deliver(self, record: JobRecord, result: VideoResult) -> bool:
        job = request_of(record)
        spoiler = _("🔞 Marked as a spoiler: the image check flagged it (allowed in this channel).")
        note = prompt_note(job, self.services.models.get(job.model))
        notes = tuple(n for n in (note, spoiler if result.flagged else None) if n)
        voice = self._voice(record)  # the requester's (a channel message: the server's)
        text = result_text(job, record.user_id, result, record.cost, voice, notes)
        extension = {"video/mp4": "mp4", "video/webm": "webm", "image/gif": "gif"}.get(result.mime, "mp4")
        # Discord blurs an attachment whose name starts with SPOILER_ until it is clicked.
        name = ("SPOILER_" if result.flagged else "") + f"motionbot-{record.job_id[:8]}.{extension}"
        # Its alt text, what a screen reader says of it: the prompt, where there is one.
        alt = (
            _("An AI-generated video clip: {prompt}", prompt=job.prompt)
            if job.prompt
            else _("An AI-generated video clip made from a picture")
        )
        upload = Upload(name, result.video, clip(voice(alt), ATTACHMENT_DESCRIPTION))
        made = {
            "frames": result.frames,
            "fps": result.fps,
            "width": result.width,
            "height": result.height,
            "seed": result.seed,
            "model": result.model,
            "flagged": result.flagged,
            "checks": result.checks,
        }
        await self.services.ledger.set_result(record.job_id, made)
        job_extra = {"job_id": record.job_id}
        offers = await self._offers(record)
        try:
            if await self.messages.edit(record, text, self._result_view(record, voice, offers), upload):
                await self.services.ledger.set_messages(record.job_id, result_message_id=record.status_message_id)
                return True
            server = await server_voice(self.bot, self.services, record.guild_id)  # a channel message
            ready = server(_("<@{user}> your video is ready", user=record.user_id))
            said = result_text(job, record.user_id, result, record.cost, server, notes)
            view = self._result_view(record, server, offers)
            sent = await self.messages.post(record, f"{ready}\n{said}", view, upload)
            await self.services.ledger.set_messages(record.job_id, result_message_id=sent.id)
            return True
        except CannotPost as exc:  # no right to post there (any more), it is gone, or a closed thread
            here = _("I could not post in <#{channel}>, so here is your video.", channel=record.channel_id)
            view = self._result_view(record, voice, offers)
            if (dm := await self._send_privately(record, exc.why, here, text, view, upload)) is None:
                return False
            await self.services.ledger.set_messages(record.job_id, result_message_id=dm.id)
            await self.services.ledger.set_result(record.job_id, made | {"channel": dm.channel.id})  # for /history
            return True
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:  # Discord's trouble, after discord.py's retries
                log.warning("job %s: Discord would not take the clip: %s", record.job_id, exc, extra=job_extra)
            else:
                log.exception("job %s: delivery failed", record.job_id, extra=job_extra)
            return False

    async def _send_privately(
        self,
        record: JobRecord,
        why: discord.HTTPException,
        note: Text,
        text: str,
        view: discord.ui.View | None,
        file: Upload | None = None,
    ) -> discord.Message | None:
        """Where the bot may not post in the job's channel (`why`: no right, or it is gone), `note` (in the
        requester's language) and `text` by direct message; None if the user does not accept them."""
        log.warning(
            "job %s: cannot post in channel %s (%s); sending it by DM",
            record.job_id,
            record.channel_id,
            why.text or why.status,
            extra={"job_id": record.job_id},
        )
        try:
            dm = await self.bot.create_dm(discord.Object(record.user_id))
            return await self.messages.post(record, f"{self._voice(record)(note)}\n{text}", view, file, channel=dm)
        except discord.HTTPException as exc:
            log.warning("job %s: the DM failed too: %s", record.job_id, exc, extra={"job_id": record.job_id})
            return None
