"""From a user's request to a queued job: check everything, charge nothing until it is queued.

validate options -> check the image by content -> per-server limits -> reserve credits -> ledger ->
submit to the queue -> status message. Any refusal is one short message to the user, and nothing is
charged; a failure after the reservation refunds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Literal

import discord
from redis.exceptions import RedisError

from bot.background import Background
from bot.errors import NOT_CHARGED, QUEUE_DOWN
from bot.exts.preferences import saved_flags, saved_preferences
from bot.exts.video._admission import Admission, admit
from bot.exts.video._files import NO_FILES, Files, keep
from bot.exts.video._intake import Intake
from bot.exts.video._interact import download_all
from bot.exts.video._render import prompt_note, status_text
from bot.exts.video._replies import Reply, Requester
from bot.exts.video._views import Buttons
from bot.pricing import (
    Refused,
    defaults_added,
    draft_job,
    models_for,
    price,
    with_defaults,
    within_server_limits,
)
from bot.services import Services
from generation.images import ImageError, check_whole, probe
from generation.jobs import FROM_VIDEO, JobKind, VideoJob
from generation.models import ModelSpec
from generation.options import OptionError, Options, flags_line
from generation.plan import Plan, PlanError, unfit
from generation.queue_types import NoWorkerForModel, QueueFull, QueueState, QueueStatus
from generation.text import _
from generation.video_input import VideoError, VideoInfo, VideoLimits, normalise
from generation.video_input import probe as probe_video
from storage.guilds import GuildSettings
from storage.jobs import FINAL, JobRecord, JobState
from storage.quotas import QuotaExceeded, QuotaRefused

__all__ = ["Refused", "VideoRequests"]

log = logging.getLogger(__name__)
_MARGIN = 256 * 1024  # room for the message around the file in Discord's upload limit

# Makes the job to run from the models this server may use and its default model for the kind of job.
# The third argument names the models an online worker serves; the fourth is the server's settings.
Draft = Callable[[Mapping[str, ModelSpec], str, set[str], GuildSettings], VideoJob]


class VideoRequests:
    def __init__(
        self, services: Services, track: Callable[[str, str, bool], None], buttons: Buttons, admission: Admission
    ):
        self.services = services
        # The watcher's: follow this job (its status shows this text; or post one) until it is delivered.
        self._track = track
        self.buttons = buttons
        self.admission = admission
        self._checks = asyncio.Semaphore(2)  # images checked (and videos re-encoded) at once: bounds the bot's memory
        self.intake = Intake()  # the requests whose files the bot holds at once, from download to queue
        self.video_limits = VideoLimits(max_seconds=services.settings.max_video_seconds)
        self._late = Background()  # status messages Discord is slow to post (see `_show`)

    async def fetch_and_new(
        self,
        who: Requester,
        reply: Reply,
        kind: JobKind,
        options: Options,
        urls: list[str],
        files: Callable[[list[bytes]], Files],
        hidden_text: str = "",
    ) -> None:
        """A command's request whose files are at `urls`: refused before anything is fetched where it cannot run
        here (`Admission.precheck`), then, holding an intake slot, its files downloaded together (`download_all`),
        made into its `files` and handed to `new`."""
        if (refusal := await self.admission.precheck(who, options, hidden_text)) is not None:
            return await reply.refuse(refusal)
        async with self.intake.taking(who.user_id, reply) as taken:
            if taken and (found := await download_all(self.services, urls, reply)) is not None:
                await self.new(who, reply, kind, options, files(found), hidden_text)

    async def new(
        self,
        who: Requester,
        reply: Reply,
        kind: JobKind,
        options: Options,
        files: Files = NO_FILES,
        hidden_text: str = "",
    ) -> str | None:
        """A request from a command, the menu or a mention, with the files it came with (and an illusion's
        words to hide); the requester's preferences (/preferences), then the server's default flags, wherever
        it does not set that option."""
        mine = await saved_preferences(self.services.users, who.user_id)
        added = Options()  # the default flags the job took, named where its price is refused

        def draft(models: Mapping[str, ModelSpec], default: str, online: set[str], server: GuildSettings) -> VideoJob:
            nonlocal added
            defaults = (mine, saved_flags(server.default_flags or "", f"server {who.space}"))
            build = functools.partial(
                draft_job,
                self.services,
                kind=kind,
                models=models,
                default=default,
                online=online,
                end_image=files.end_image,
                middle_images=files.middle,
                ingredients=files.ingredients,
                mask=files.mask,
            )
            job, kept = with_defaults(options, defaults, build, online, models)
            added = defaults_added(options, kept)
            return dataclasses.replace(job, hidden_text=hidden_text)

        return await self.start(who, reply, kind, draft, files, added=lambda: added)

    async def derive(
        self,
        who: Requester,
        reply: Reply,
        job: VideoJob,
        *,
        parent: str,
        files: Files,
        source_frames: int = 0,
        source_size: tuple[int, int] | None = None,
    ) -> str | None:
        """A job made from an earlier one (Reroll, Remix, Extend, Smooth, Upscale): `job` is its full request."""

        def draft(models: Mapping[str, ModelSpec], default: str, online: set[str], _server: GuildSettings) -> VideoJob:
            if job.model not in models:
                raise Refused(
                    _(
                        "`{model}` is not enabled in this server (enabled: {enabled})",
                        model=job.model,
                        enabled=", ".join(models),
                    )
                )
            return job

        return await self.start(who, reply, job.kind, draft, files, parent=parent, source=(source_frames, source_size))

    async def start(
        self,
        who: Requester,
        reply: Reply,
        kind: JobKind,
        draft: Draft,
        files: Files,
        *,
        parent: str | None = None,
        source: tuple[int, tuple[int, int] | None] = (0, None),
        added: Callable[[], Options] = Options,
    ) -> str | None:
        """Queue a job for `who` and show its status; returns the job id, or None if refused. `source` is the
        frame count and size of the clip an Extend or Upscale starts from; `added`, the default flags the
        draft added to the request (named where they make it cost more than the user has)."""
        s = self.services
        try:
            job, cost, plan = await self._prepare(who, kind, draft, files, source)
            await s.quotas.reserve(job.job_id, who.space, who.user_id, cost, who.role_ids)
        except (Refused, OptionError, ImageError, VideoError, QuotaRefused) as exc:
            s.metrics.refused.labels(type(exc).__name__).inc()
            text = exc.text
            if isinstance(exc, QuotaExceeded) and (flags := flags_line(added())):
                text = _(
                    "{refusal}. That includes the default flags `{flags}` (`/preferences` changes yours)",
                    refusal=text,
                    flags=flags,
                )
            await reply.refuse(text)
            return None
        except (RedisError, OSError):
            log.warning("the queue is unreachable; request refused", exc_info=True)
            s.metrics.refused.labels("QueueDown").inc()
            await reply.refuse(QUEUE_DOWN)
            return None
        for picture in files.pictures:
            if not await self._whole(job.job_id, picture, reply):
                return None
        if job.kind in FROM_VIDEO and plan is not None:  # our re-encode, never the upload
            restyled = await self._normalised(job, plan, reply)
            if restyled is None:
                return None
            job = restyled
        record = JobRecord(
            job_id=job.job_id,
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            user_id=who.user_id,
            kind=job.kind.value,
            model=job.model,
            options={
                "request": job.request(),
                "parent": parent,
                "checks": {"prompt": "pass", "content": job.content},
                "reply_to": reply.reply_to,
            },
            cost=cost,
            application_id=reply.application_id,
            interaction_token=reply.token,
            token_expires_at=reply.token_expires_at,
            locale=reply.voice.locale,
        )
        try:
            await s.ledger.add(record)
            await reply.answered()  # a job came of it: the watcher follows it from here, also after a restart
            await keep(s.inputs, job, files, who.guild_id, who.user_id)  # what Reroll and Remix run again
            await s.queue.submit(job)
        except (NoWorkerForModel, QueueFull, RedisError, OSError) as exc:
            await self._not_queued(job.job_id, str(exc))
            if isinstance(exc, NoWorkerForModel | QueueFull):
                s.metrics.refused.labels(type(exc).__name__).inc()
                await reply.refuse(_("{reason}. {not_charged}", reason=exc.text, not_charged=NOT_CHARGED))
            else:
                s.metrics.refused.labels("QueueDown").inc()
                await reply.refuse(QUEUE_DOWN)
            return None
        except Exception as exc:  # the database failing (a full disk): the credits must not stay held
            with contextlib.suppress(Exception):
                await self._not_queued(job.job_id, repr(exc))
            with contextlib.suppress(Exception):
                await reply.answered()  # the error handler answers it, now: not again at a restart
            raise
        note = prompt_note(job, s.models.get(job.model))
        status = status_text(job, who.user_id, await self._place(job.job_id), reply.voice, note)
        shown = await self._show(job.job_id, reply, status)
        if shown != "shown":
            status = ""  # the watcher shows it at its first look (where it has a message to show it in)
        await s.ledger.set_messages(job.job_id, status_message_id=reply.message_id)
        s.metrics.submitted.labels(job.model).inc()
        log.info(
            "job %s queued: %s for %s, %d credits",
            job.job_id,
            job.model,
            who.user_id,
            cost,
            extra={"job_id": job.job_id},
        )
        # A mention whose status message Discord refused has none: the watcher posts one at its first look.
        self._track(job.job_id, status, shown == "refused" and reply.message_id is None)
        return job.job_id

    async def _show(self, job_id: str, reply: Reply, status: str) -> Literal["shown", "later", "refused"]:
        """Show the job's status: "shown", "later" (on its way, or left to the watcher) or "refused" by
        Discord. A request waits at most `status_wait_s` for it (it holds an intake slot until here), and
        Discord may hang, or hold a busy channel's new messages back for its rate limit. A new message (the
        reply to a mention) still on its way then goes on apart and is linked to the job once posted; an edit
        of the message the job already has is dropped (the watcher edits that one)."""
        new_message = reply.message_id is None
        showing = asyncio.ensure_future(reply.show(status, self.buttons.status(job_id, reply.voice)))
        try:
            await asyncio.wait_for(asyncio.shield(showing), self.services.settings.status_wait_s)
            return "shown"
        except discord.HTTPException as exc:
            log.warning("job %s: could not show its status message: %s", job_id, exc)
            return "refused"
        except TimeoutError:
            log.warning("job %s: Discord has not shown its status message yet", job_id)
        if not new_message:
            showing.cancel()
            return "later"
        self._late.start(self._link_late(job_id, reply, showing), "motionbot: late status")
        return "later"

    async def _link_late(self, job_id: str, reply: Reply, showing: asyncio.Future[None]) -> None:
        """Link a status message Discord posted late to its job, so the watcher shows progress and the clip in
        it; take it back if the job ended meanwhile (its clip or failure was posted apart)."""
        try:
            await showing
        except (discord.HTTPException, OSError) as exc:  # OSError: the connection to Discord (discord.py lets it by)
            log.warning("job %s: could not show its status message: %s", job_id, exc)
            return
        ledger = self.services.ledger
        await ledger.set_messages(job_id, status_message_id=reply.message_id)
        record = await ledger.get(job_id)
        if record is not None and record.state in FINAL and record.result_message_id != reply.message_id:
            await reply.retract()

    async def _place(self, job_id: str) -> QueueState:
        """Where a job just queued is (its place in line and when it should be ready), to show at once."""
        try:
            state = await self.services.queue.state(job_id)
        except (RedisError, OSError):
            return QueueState(QueueStatus.QUEUED)
        return state if state.status in (QueueStatus.QUEUED, QueueStatus.RUNNING) else QueueState(QueueStatus.QUEUED)

    async def _not_queued(self, job_id: str, why: str) -> None:
        """A job that never reached the queue: its credits back, its files let go, its record failed."""
        s = self.services
        await s.quotas.refund(job_id)
        await s.inputs.release(job_id)
        await s.ledger.transition(job_id, JobState.FAILED, error=why)

    async def _whole(self, job_id: str, image: bytes, reply: Reply) -> bool:
        """Check the image is whole, only once the user is allowed and the credits are held (a refused user's
        image is never decoded); a damaged one releases the credits."""
        async with self._checks:
            try:
                await asyncio.to_thread(check_whole, image)
                return True
            except ImageError as exc:
                await self.services.quotas.refund(job_id)
                self.services.metrics.refused.labels("ImageError").inc()
                await reply.refuse(exc.text)
                return False

    async def _normalised(self, job: VideoJob, plan: Plan, reply: Reply) -> VideoJob | None:
        """The job with its video decoded and re-encoded at the size and rate the model renders, only once the
        user is allowed and the credits are held; a file that is not what its header said releases them."""
        assert job.video is not None
        async with self._checks:
            try:
                info = probe_video(job.video, self.video_limits)
                size = plan.inner or (plan.width, plan.height)  # an expanded video: as it sits in the frame
                video, _ = await asyncio.to_thread(
                    normalise, job.video, info, self.video_limits, size, plan.fps, plan.frames
                )
                return dataclasses.replace(job, video=video)
            except VideoError as exc:
                await self.services.quotas.refund(job.job_id)
                self.services.metrics.refused.labels("VideoError").inc()
                await reply.refuse(exc.text)
                return None

    async def _prepare(
        self,
        who: Requester,
        kind: JobKind,
        draft: Draft,
        files: Files,
        source: tuple[int, tuple[int, int] | None],
    ) -> tuple[VideoJob, int, Plan | None]:
        """The job as it will run, its price and its plan (None for Smooth); everything checked that needs no
        pixels: who, where, the prompt, the model, the workers, the files' headers, the server's limits."""
        s = self.services
        image, video = files.image, files.video
        source_frames, size = source
        settings = await s.guilds.get(who.space)
        admit(who, settings)
        workers = await s.queue.workers()
        job = draft(*models_for(s, kind, settings), {model for worker in workers for model in worker.models}, settings)
        content = await self.admission.content(who, job, settings)
        job = dataclasses.replace(job, content=content, blocked=settings.blocked_terms or ())
        spec = s.models[job.model]
        serving = [worker for worker in workers if job.model in worker.models]
        if not serving:
            raise Refused(_("no GPU worker serving `{model}` is online right now; try again later", model=job.model))
        budget = max(1 << 20, min(who.upload_limit, 25 << 20) - _MARGIN)
        job = dataclasses.replace(
            job,
            job_id=uuid.uuid4().hex,
            user_id=str(who.user_id),
            guild_id=str(who.space),
            byte_budget=budget,
            max_pixels=settings.max_pixels,
            image=image,
            end_image=files.end_image,
            middle_images=files.middle,
            ingredients=files.ingredients,
            mask=files.mask,
            video=video,
        )
        if kind is JobKind.SMOOTH:  # frame interpolation: no model run
            return job, 1, None
        if kind is JobKind.GIF:  # the clip's own frames in another file: free
            return job, 0, None
        job = within_server_limits(job, spec, settings)
        if image is not None:  # the header only: the real format, the size as shown; bombs refused here
            info = probe(image)
            size = (info.width, info.height)
        for extra in (*files.middle, files.end_image, files.mask, *files.ingredients):
            if extra is not None:
                probe(extra)
        if kind in FROM_VIDEO:  # the container's header: codec, size, length; nothing decoded
            if video is None:
                raise Refused(
                    {
                        JobKind.RESTYLE: _("there is no video to restyle"),
                        JobKind.EXPAND: _("there is no video to expand"),
                    }.get(kind, _("there is no video to follow"))
                )
            clip: VideoInfo = probe_video(video, self.video_limits)
            source_frames = clip.frames_at(job.fps)
            size = size if kind is JobKind.POSE else (clip.width, clip.height)  # POSE: the picture's shape
        try:
            job, cost, plan = price(job, spec, size, source_frames)
        except PlanError as exc:
            raise Refused(exc.text) from None
        refusal = unfit(spec, plan, [(worker.gpu_memory_gb, worker.memory_mode) for worker in serving], job.kind)
        if refusal is not None:  # refused before any credit is held
            raise Refused(refusal)
        return job, cost, plan
