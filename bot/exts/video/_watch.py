"""Follow every unfinished job: edit its status (at most one edit per job per interval, latest value
wins), hand each ended job to its ending (_endings: the clip delivered and charged, or a failure told and
refunded), and pick everything up again after a restart. Deliveries and status edits run in tasks of their
own: one slow upload or edit holds up no other job.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import time
from dataclasses import dataclass

import discord
from redis.exceptions import RedisError

from bot.exts.video._endings import Endings
from bot.exts.video._messages import CannotPost, JobMessages, Upload
from bot.exts.video._modlog import ModLog
from bot.exts.video._render import edit_interval, prompt_note, status_text
from bot.exts.video._views import Buttons
from bot.i18n import Voice
from bot.limits import clip
from bot.records import request_of
from bot.services import Services
from generation.queue_types import JobOutcome, QueueState, QueueStatus
from generation.text import Text, _
from storage.jobs import FINAL, JobRecord, JobState
from storage.pending import PendingRequest

__all__ = ["JobWatcher"]

log = logging.getLogger(__name__)
_LOST_AFTER_S = 10.0  # a job the queue does not know for this long is lost
_SWEEP_EVERY_S = 600.0
_SWEEP_AGAIN_S = 30.0  # after a sweep the queue's outage cut short


@dataclass
class _Tracked:
    last_edit: float = 0.0
    last_text: str = ""
    unknown_since: float | None = None
    unserved_since: float | None = None  # queued, and no live worker serves its model
    outlined: bool = False  # the motion brush's region was shown to the requester
    previews: int = 0  # the live previews shown on the status message so far
    looked_at: float = 0.0  # when the watcher last looked at it (monotonic)
    every_s: float = 0.0  # how often to look (its status's edit interval)
    post: bool = False  # it has no status message (Discord refused a mention's): post one


class JobWatcher:
    def __init__(self, bot: discord.Client, services: Services, buttons: Buttons, modlog: ModLog):
        self.bot, self.services, self.buttons = bot, services, buttons
        self.messages = JobMessages(bot)
        self.endings = Endings(bot, services, buttons, modlog, self.messages)
        self.tracked: dict[str, _Tracked] = {}
        self._task: asyncio.Task[None] | None = None
        self._telling: asyncio.Task[None] | None = None
        self._started = time.time()  # this run's start: credits held before it belong to no request any more
        # Each finished job is delivered in its own task (a slow upload holds up no other job), a few at a
        # time: each holds its clip in memory while it uploads.
        self._finishing: dict[str, asyncio.Task[None]] = {}
        self._uploads = asyncio.Semaphore(4)
        # Status edits too, at most one per job in flight: behind a deep queue every position changes at
        # once, and one slow edit after another would hold up every job's round (and its delivery).
        self._status_edits: dict[str, asyncio.Task[None]] = {}
        self._editors = asyncio.Semaphore(8)

    def track(self, job_id: str, shown: str = "", post: bool = False) -> None:
        """Follow a job whose status message shows `shown` now (`post`: it has none, post one)."""
        now, every_s = time.monotonic(), self.services.settings.progress_interval_s
        tracked = _Tracked(last_edit=now, last_text=shown, looked_at=now, every_s=every_s, post=post)
        self.tracked.setdefault(job_id, tracked)

    async def start(self) -> None:
        """Re-attach to every unfinished job in the ledger, then follow them all."""
        for record in await self.services.ledger.unfinished():
            self.tracked.setdefault(record.job_id, _Tracked())
        log.info("following %d unfinished jobs", len(self.tracked))
        abandoned = await self.services.pending.left_before(self._started)  # before any job of theirs ends
        self._task = asyncio.create_task(self._run())
        self._telling = asyncio.create_task(self._tell_abandoned(abandoned))  # apart: deliveries need not wait

    async def stop(self) -> None:
        for task in (self._task, self._telling):
            if task is not None:
                task.cancel()
        for task in [*self._finishing.values(), *self._status_edits.values()]:
            task.cancel()  # a delivery cut short is redone after the restart, once

    async def _gauges(self) -> None:
        metrics, queue = self.services.metrics, self.services.queue
        metrics.queue_depth.set(await queue.depth())
        metrics.workers.set(len(await queue.workers()))

    async def _tell_abandoned(self, requests: list[PendingRequest]) -> None:
        """Tell the users whose requests the last run acknowledged and was stopped before answering (no job
        came of them: their credits go back at the first sweep) to ask again."""
        for request in requests:
            voice = self.services.catalogs.voice(request.locale)
            text = voice(_("⚠️ I restarted before your request was queued. Nothing was charged: please ask again."))
            try:
                if request.channel_id is None:  # in the "thinking…" message: the interaction's first response
                    webhook = discord.Webhook.partial(request.application_id, request.token, client=self.bot)
                    # Discord's name for that message, known even where the bot died before learning its id;
                    # discord.py types the id as int and puts it in the path as it is.
                    await webhook.edit_message("@original", content=text)  # type: ignore[call-overload]
                else:  # a mention: a reply to it
                    channel = self.bot.get_partial_messageable(request.channel_id)
                    await channel.get_partial_message(request.message_id).reply(text, mention_author=False)
            except (discord.HTTPException, OSError) as exc:
                log.info("could not tell user %s their request was dropped: %s", request.user_id, exc)
        if requests:
            log.info("told %d users that their requests were dropped at a restart", len(requests))

    async def _run(self) -> None:
        next_sweep = -math.inf  # the first round sweeps: what the last run left held is refunded at once
        while True:
            with contextlib.suppress(RedisError, OSError):  # Redis down: the gauges wait for the next round
                await self._gauges()
            try:
                await self._round()
            except (RedisError, OSError):
                log.warning("queue unreachable; will look at the jobs again")
            if time.monotonic() > next_sweep:
                next_sweep = time.monotonic() + (_SWEEP_EVERY_S if await self._sweep() else _SWEEP_AGAIN_S)
            await asyncio.sleep(self.services.settings.watch_interval_s)

    async def _round(self) -> None:
        """Look at every job that ended or that the queue lost (one round trip for all), and at the others
        when their status may change (`edit_interval`): a deep queue costs a round trip, not a look at every
        job, each second, and a lost job is told within seconds however far back in line it was."""
        ids = [job_id for job_id in self.tracked if job_id not in self._finishing]
        glance = await self.services.queue.glance(ids)
        for job_id in ids:
            tracked = self.tracked.get(job_id)
            due = job_id in glance.ended or job_id in glance.gone
            if tracked is None or (not due and time.monotonic() - tracked.looked_at < tracked.every_s):
                continue
            try:
                await self.check(job_id, job_id in glance.ended)
            except (RedisError, OSError):
                log.warning("queue unreachable; will look at %s again", job_id)
            except Exception:
                log.exception("job %s: watching failed", job_id)

    async def _sweep(self) -> bool:
        """Refund credits no job will use, forget what is past its retention; False if Redis cut it short."""
        s = self.services
        try:
            # A request holds credits from its reservation to its ledger row (seconds: a restyle's re-encode);
            # one made before this run started is an orphan of a bot killed in between, at once.
            await s.quotas.sweep(self._is_lost, older_than_s=3600, made_before=self._started)
            await s.inputs.prune(s.settings.input_retention_days * 86400)
            await s.moderation.prune(s.settings.input_retention_days * 86400)
            await s.users.prune(s.settings.record_retention_days * 86400)
            await s.pending.prune()
        except (RedisError, OSError):
            log.warning("queue unreachable; the sweep of held credits will run again")
            return False
        except Exception:
            log.exception("sweep failed")
        return True

    async def _is_lost(self, job_id: str) -> bool:
        record = await self.services.ledger.get(job_id)
        if record is not None and record.state not in FINAL:
            return False  # the watcher settles it
        return (
            await self.services.queue.outcome(job_id) is None
            and (await self.services.queue.state(job_id)).status is QueueStatus.UNKNOWN
        )

    async def check(self, job_id: str, ended: bool) -> None:
        """Settle a job that `ended` (in its own task), or see where it is and show it."""
        s = self.services
        record = await s.ledger.get(job_id)
        tracked = self.tracked.get(job_id)
        if record is None or record.state in FINAL or tracked is None:
            self.tracked.pop(job_id, None)
            return
        if ended:
            self._finishing[job_id] = asyncio.create_task(self._finish_apart(record))
            return
        state = await s.queue.state(job_id)
        if state.status in (QueueStatus.DONE, QueueStatus.FAILED, QueueStatus.CANCELLED):
            return  # it ended since the round looked: the next round settles it
        tracked.looked_at = time.monotonic()
        tracked.every_s = edit_interval(s.settings.progress_interval_s, state)
        if state.status is QueueStatus.UNKNOWN:
            tracked.unknown_since = tracked.unknown_since or time.monotonic()
            if time.monotonic() - tracked.unknown_since > _LOST_AFTER_S:
                lost = _("the job was lost by the queue")
                await self.finish(record, JobOutcome(QueueStatus.FAILED, str(lost), said=lost))
            return
        tracked.unknown_since = None
        await self._give_up_if_unserved(record, tracked, state)
        if state.status is QueueStatus.RUNNING and record.state is JobState.QUEUED:
            await s.ledger.transition(job_id, JobState.RUNNING)
        job = request_of(record)
        if state.progress is not None and state.progress.note and not tracked.outlined:
            tracked.outlined = True
            await self._show_outline(record, state.progress.note)
        voice = self._voice(record)
        note = prompt_note(job, s.models.get(job.model))
        text = status_text(job, record.user_id, state, voice, note)
        previews = state.progress.previews if state.progress is not None else 0
        changed = text != tracked.last_text or previews > tracked.previews
        if changed and time.monotonic() - tracked.last_edit >= tracked.every_s and job_id not in self._status_edits:
            tracked.last_edit, tracked.last_text = time.monotonic(), text
            preview = await s.queue.preview(job_id) if previews > tracked.previews else None
            tracked.previews = max(tracked.previews, previews)
            shown = Upload("preview.gif", preview) if preview else None  # the clip so far; the result replaces it
            edit = self._edit_status(record, text, self.buttons.status(job_id, voice), shown)
            self._status_edits[job_id] = asyncio.create_task(edit)

    async def _edit_status(self, record: JobRecord, text: str, view: discord.ui.View, shown: Upload | None) -> None:
        """Show the job's status, in its own task; a failed edit is tried again at the next look."""
        tracked = self.tracked.get(record.job_id)
        try:
            async with self._editors:
                if tracked is not None and tracked.post and record.status_message_id is None:
                    tracked.post = False  # once: refused again, its clip still replies to the mention
                    sent = await self.messages.post(record, text, view, shown, nonce="status", ping=False)
                    await self.services.ledger.set_messages(record.job_id, status_message_id=sent.id)
                else:
                    await self.messages.edit(record, text, view, shown)
        except (discord.HTTPException, CannotPost) as exc:
            log.warning("job %s: could not update the status: %s", record.job_id, exc, extra={"job_id": record.job_id})
            if tracked is not None:
                tracked.last_text = ""  # not shown: the next look shows the status again
        finally:
            self._status_edits.pop(record.job_id, None)

    def _voice(self, record: JobRecord) -> Voice:
        """The requester's language, for the messages of their interaction (status, result, failure)."""
        return self.services.catalogs.voice(record.locale)

    async def _show_outline(self, record: JobRecord, note: Text) -> None:
        """Show the requester, privately, the region of their picture that will move (segmented by the worker
        from their `-region` words), while the interaction can still answer them (a followup)."""
        png = await self.services.queue.outline(record.job_id)
        token = record.interaction_token
        if png is None or not token or not record.application_id or time.time() > (record.token_expires_at or 0):
            return
        webhook = discord.Webhook.partial(record.application_id, token, client=self.bot)
        webhook.type = discord.WebhookType.application  # an interaction's webhook: it may send ephemeral messages
        text = self._voice(record)(_("{note}: the bright part of your picture, before the clip is made.", note=note))
        try:
            await webhook.send(clip(text), file=discord.File(io.BytesIO(png), "region.png"), ephemeral=True)
        except discord.HTTPException:
            log.info("job %s: could not show the region", record.job_id, extra={"job_id": record.job_id})

    async def _give_up_if_unserved(self, record: JobRecord, tracked: _Tracked, state: QueueState) -> None:
        """Fail a job whose model no live worker has served for too long; the next look refunds it."""
        if state.status is not QueueStatus.QUEUED or state.served:
            tracked.unserved_since = None
            return
        tracked.unserved_since = tracked.unserved_since or time.monotonic()
        waited = time.monotonic() - tracked.unserved_since
        if waited > self.services.settings.unserved_timeout_s:
            minutes = _("{n} minutes", n=f"{waited / 60:.0f}") if waited >= 90 else _("{n} s", n=f"{waited:.0f}")
            reason = _(
                "no GPU worker serving `{model}` came online in {minutes}; try another model or later",
                model=record.model,
                minutes=minutes,
            )
            if await self.services.queue.give_up(record.job_id, reason):
                log.warning("job %s: %s", record.job_id, reason, extra={"job_id": record.job_id})

    async def _finish_apart(self, record: JobRecord) -> None:
        """Read the outcome and deliver or settle it, in this job's own task; a failure is tried again next
        round (delivery and refunds are idempotent)."""
        try:
            async with self._uploads:
                outcome = await self.services.queue.outcome(record.job_id)
                if outcome is not None:
                    await self.finish(record, outcome)
        except (RedisError, OSError):
            log.warning("queue unreachable; will finish %s later", record.job_id)
        except Exception:
            log.exception("job %s: finishing failed", record.job_id)
        finally:
            self._finishing.pop(record.job_id, None)

    async def finish(self, record: JobRecord, outcome: JobOutcome) -> None:
        """Deliver the job's clip, or tell its failure, once its status edit under way has landed."""
        if (editing := self._status_edits.get(record.job_id)) is not None:
            await asyncio.wait([editing])  # a status edit that lands after the result would hide it
        await self.endings.end(record, outcome)
        self.tracked.pop(record.job_id, None)
