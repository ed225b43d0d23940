"""What the buttons on status and result messages do (one method per Action), and the Remix form's
answer. Derived clips start from the source's full request and change only what they are for."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import discord

from bot.exts.video._files import Files, kept
from bot.exts.video._interact import defer, download, requester
from bot.exts.video._render import options_line
from bot.exts.video._replies import Reply
from bot.exts.video._requests import VideoRequests
from bot.exts.video._views import Action, Buttons, ExpandModal, RemixModal
from bot.i18n import voice_of
from bot.kept import Kept
from bot.limits import CONTENT, clip
from bot.pricing import upscaler_for
from bot.records import request_of
from bot.services import Services
from generation.job_builder import build_job
from generation.jobs import JobKind, OutputFormat, VideoJob
from generation.options import OptionError, Options, from_command, segments_of
from generation.queue_types import CancelResult
from generation.text import Text, _
from generation.values import Aspect
from storage.jobs import JobRecord

__all__ = ["ClipActions"]

NONE = Options()  # a button's request: nothing asked beyond the clip's own
DRAFTS_KEPT_S = 900.0  # a refused Remix form's words, for the Remix button under the refusal


class ClipActions:
    def __init__(self, services: Services, requests: VideoRequests, buttons: Buttons):
        self.services, self.requests, self.buttons = services, requests, buttons
        self._drafts: Kept[tuple[int, str], tuple[str, str]] = Kept(DRAFTS_KEPT_S)  # refused Remix forms
        self._actions = {
            Action.CANCEL: self._cancel,
            Action.DELETE: self._delete,
            Action.REMOVE: self._remove,
            Action.RETRY: self._retry,
            Action.REROLL: self._reroll,
            Action.REMIX: self._remix,
            Action.EXTEND: self._extend,
            Action.SMOOTH: self._smooth,
            Action.UPSCALE: self._upscale,
            Action.GIF: self._gif,
            Action.EXPAND: self._expand,
        }

    async def _source(self, interaction: discord.Interaction, job_id: str) -> JobRecord | None:
        """The job a button or form names, if it was made where this interaction happens (the same server,
        or the same DM) or its clip was sent there (by DM, where the bot could not post in the channel): a
        job id copied elsewhere is unknown there."""
        record = await self.services.ledger.get(job_id)
        if record is None:
            return None
        if (record.result or {}).get("channel") == interaction.channel_id and interaction.guild_id is None:
            return record
        if record.guild_id != (interaction.guild_id or 0):
            return None
        if not record.guild_id and record.channel_id != interaction.channel_id:
            return None
        return record

    async def on_button(self, interaction: discord.Interaction, action: Action, job_id: str) -> None:
        record = await self._source(interaction, job_id)
        if record is None and action is Action.DELETE and await self._delete_forgotten(interaction, job_id):
            return
        if record is None:
            await interaction.response.send_message(
                voice_of(interaction)(_("I no longer know that video.")), ephemeral=True
            )
            return
        await self._actions[action](interaction, record)

    async def _owner_or_moderator(
        self, interaction: discord.Interaction, owner: int, who: Text, admins: bool = False
    ) -> bool:
        """The requester, or a moderator (Manage Messages; `admins`: Manage Server too, who run the bot here)."""
        allowed = interaction.permissions.manage_messages or (admins and interaction.permissions.manage_guild)
        if interaction.user.id == owner or allowed:
            return True
        await interaction.response.send_message(voice_of(interaction)(who), ephemeral=True)
        return False

    async def _cancel(self, interaction: discord.Interaction, record: JobRecord) -> None:
        only = _("Only the person who asked for it can do that.")
        if not await self._owner_or_moderator(interaction, record.user_id, only, admins=True):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # the queue may be slow to answer
        result = await self.services.queue.cancel(record.job_id)
        text = {
            CancelResult.REMOVED: _("Removed from the queue; the credits are refunded."),
            CancelResult.STOPPING: _("Stopping it now; the credits will be refunded."),
            CancelResult.FINISHED: _("Too late: it already finished."),
        }.get(result, _("I could not find that job."))
        await interaction.followup.send(voice_of(interaction)(text), ephemeral=True)

    async def _delete(self, interaction: discord.Interaction, record: JobRecord) -> None:
        if await self._delete_message(interaction, record.user_id):
            await self.services.ledger.set_result(record.job_id, (record.result or {}) | {"deleted": True})

    async def _remove(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """Under a report in the moderation log: a moderator deletes the reported clip where it is, and the
        report says who did."""
        say = voice_of(interaction)
        if not interaction.permissions.manage_messages:
            await interaction.response.send_message(
                say(_("Only moderators (Manage Messages) can do that.")), ephemeral=True
            )
            return
        if interaction.message is not None:  # the report says who, at once (Discord's 3 s), then the clip goes
            done = say(_("🗑️ The clip was deleted by <@{user}>.", user=interaction.user.id))
            # The log's post may be near Discord's limit already: the line that says who deleted it stays whole.
            kept = clip(interaction.message.content, CONTENT - len(done) - 1)
            await interaction.response.edit_message(content=f"{kept}\n{done}", view=None)
        made = record.result or {}
        if record.result_message_id is not None and not made.get("deleted"):
            where = interaction.client.get_partial_messageable(made.get("channel", record.channel_id))  # or its DM
            with contextlib.suppress(discord.NotFound):  # deleted meanwhile, by its author or in Discord
                await where.get_partial_message(record.result_message_id).delete()
            await self.services.ledger.set_result(record.job_id, made | {"deleted": True})

    async def _delete_forgotten(self, interaction: discord.Interaction, job_id: str) -> bool:
        """Delete a clip whose requester had the bot forget them (/privacy): the bot kept only whose it is.
        False where it does not know that either."""
        owner = await self.services.users.clip_owner(job_id)
        if owner is None or (interaction.guild_id is not None and owner[0] != interaction.guild_id):
            return False  # (in a DM, only its owner may delete it below)
        if await self._delete_message(interaction, owner[1]):
            await self.services.users.clip_deleted(job_id)
        return True

    async def _delete_message(self, interaction: discord.Interaction, owner: int) -> bool:
        """Delete the message the button is on, for its owner or a moderator."""
        only = _("Only the person who asked for it, or moderators, can do that.")
        if not await self._owner_or_moderator(interaction, owner, only):
            return False
        if interaction.message is None:
            return False
        deleted = voice_of(interaction)(_("Deleted."))
        if _reachable(interaction):  # a server the bot is in, or its own DM: its token deletes its message
            await interaction.response.send_message(deleted, ephemeral=True)
            await interaction.message.delete()
            return True
        # A user's install of the app (a server the bot is not in, a group DM) reaches the message only through
        # the interaction: the button's own message is its "original response" once the press is acknowledged
        # as an update.
        await interaction.response.defer()
        await interaction.delete_original_response()
        await interaction.followup.send(deleted, ephemeral=True)
        return True

    async def _retry(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """A failed job's request again, as it was (its seed too), for whoever pressed."""
        reply = await defer(interaction, self.services)
        await self._again(interaction, reply, record, request_of(record))

    async def _reroll(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The same request with a new seed, for whoever pressed."""
        reply = await defer(interaction, self.services)
        source = request_of(record)
        await self._again(interaction, reply, record, dataclasses.replace(source, seed=None))

    async def _remix(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The Remix form: the clip's prompt and flags, or what this user typed in it last, if it was refused."""
        source = request_of(record)
        flags = options_line(dataclasses.replace(source, seed=None))
        prompt, flags = self._drafts.get((interaction.user.id, record.job_id)) or (source.prompt, flags)
        await interaction.response.send_modal(RemixModal(record.job_id, prompt, flags, voice_of(interaction)))

    async def _extend(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip followed by its continuation: same model, size and fps, from the clip's last frame."""
        await self._from_clip(interaction, record, JobKind.EXTEND)

    async def _smooth(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip interpolated to a higher frame rate, on a worker for its model."""
        await self._from_clip(interaction, record, JobKind.SMOOTH)

    async def _upscale(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip at twice its width and height (LTX's latent upsampler and a short refine pass)."""
        await self._from_clip(interaction, record, JobKind.UPSCALE)

    async def _gif(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip as a looping GIF, frame for frame, made on a worker (free: no model runs)."""
        await self._from_clip(interaction, record, JobKind.GIF)

    async def _from_clip(self, interaction: discord.Interaction, record: JobRecord, kind: JobKind) -> None:
        """A job of `kind` on the clip of the pressed message, with the clip's own request, seed and fps."""
        reply = await defer(interaction, self.services)
        made = record.result or {}
        source = request_of(record)
        model = upscaler_for(self.services, source.model) if kind is JobKind.UPSCALE else source.model
        if model is None:
            return await reply.refuse(_("no model here can upscale clips"))
        job = dataclasses.replace(
            source,
            kind=kind,
            model=model,
            seed=made.get("seed", source.seed),
            fps=made.get("fps", source.fps),
            smooth=False,
            upscale=False,
            strength=None,  # a restyle's: the new clip continues or upscales, it does not redraw
            loop=source.loop and kind is not JobKind.EXTEND,  # a continuation goes on from the end, not back
            output=OutputFormat.GIF if kind is JobKind.GIF else source.output,
        )
        await self._on_clip(interaction, reply, record, job)

    async def _on_clip(
        self, interaction: discord.Interaction, reply: Reply, record: JobRecord, job: VideoJob, asked: Options = NONE
    ) -> None:
        """Run `job` on the clip of the message the button (or its form) was on; `asked`: what a form asked for,
        its prompt checked before the clip is fetched."""
        if (refusal := await self.requests.admission.precheck(requester(interaction), asked)) is not None:
            return await reply.refuse(refusal)  # a blocked user, a closed channel: before the clip is fetched
        async with self.requests.intake.taking(interaction.user.id, reply) as taken:
            if not taken:
                return
            data = await self._clip(interaction, reply)
            if data is not None:
                made = record.result or {}
                await self.requests.derive(
                    requester(interaction),
                    reply,
                    job,
                    parent=record.job_id,
                    files=Files(video=data),
                    source_frames=made.get("frames", 0),
                    source_size=_size(made),
                )

    async def _expand(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The Expand form: the shape to put the clip on (a wide clip made tall, a tall or square one wide) and
        what is around it (the clip's prompt to start with)."""
        size = _size(record.result or {})
        shape = Aspect.TALL if size is not None and size[0] > size[1] else Aspect.WIDE
        prompt = segments_of(request_of(record).prompt)[0]  # prompt travel's first scene: one frame around it
        await interaction.response.send_modal(ExpandModal(record.job_id, shape.value, prompt, voice_of(interaction)))

    async def on_expand(self, interaction: discord.Interaction, job_id: str, shape: str, prompt: str) -> None:
        """The clip of the message the form was opened on, on a frame of the shape typed, the scene around it
        drawn to the form's words, by a model that expands videos."""
        reply = await defer(interaction, self.services)
        record = await self._source(interaction, job_id)
        if record is None:
            return await reply.refuse(_("I no longer know that video."))
        try:
            options = from_command(prompt.strip(), aspect=shape)
            models = {name: spec for name, spec in self.services.models.items() if spec.takes(JobKind.EXPAND)}
            job = build_job(
                options, job_id="", kind=JobKind.EXPAND, models=models, default_model=next(iter(models), "")
            )
        except OptionError as exc:
            return await reply.refuse(exc.text)
        await self._on_clip(interaction, reply, record, job, options)

    async def _clip(self, interaction: discord.Interaction, reply: Reply) -> bytes | None:
        """The clip on the message whose button was pressed."""
        message = interaction.message
        if message is None or not message.attachments:
            await reply.refuse(_("that message has no clip any more"))
            return None
        return await download(self.services, message.attachments[0].url, reply)

    async def _again(self, interaction: discord.Interaction, reply: Reply, record: JobRecord, job: VideoJob) -> None:
        """Run `job` (a Reroll or Remix of `record`) for whoever pressed, with the source's input again."""
        # The kept files are held until the job is queued.
        async with self.requests.intake.taking(interaction.user.id, reply) as taken:
            if not taken:
                return
            saved = await kept(self.services.inputs, record.job_id)
            from_words = job.kind is JobKind.TEXT_TO_VIDEO or (job.kind is JobKind.ILLUSION and job.hidden_text)
            if not from_words and saved.image is None and not saved.ingredients:
                return await reply.refuse(_("I no longer keep the original input; start again with /animate"))
            spec = self.services.models.get(job.model)
            if job.kind is JobKind.IMAGE_TO_VIDEO:  # the pictures the chosen model takes (Remix may change it)
                keyframes, masks = spec is not None and spec.keyframes, spec is not None and spec.masks
                through = keyframes and spec is not None and spec.middle_keyframes >= len(saved.middle)
                files = Files(image=saved.image, end_image=saved.end_image if keyframes else None)
                files = dataclasses.replace(files, mask=saved.mask if masks else None)
                files = dataclasses.replace(files, middle=saved.middle if through else ())
            elif job.kind is JobKind.POSE:  # the character's picture and the pose video
                files = Files(image=saved.image, video=saved.video)
            elif job.kind is JobKind.ILLUSION:  # the shape it hides, unless it hides words
                files = Files(image=None if job.hidden_text else saved.image)
            elif job.kind is JobKind.INGREDIENTS:  # who or what it shows
                files = Files(ingredients=saved.ingredients)
            else:  # a clip (and a swap's picture of what goes in its region)
                files = Files(video=saved.image, ingredients=saved.ingredients)
            parent = record.options.get("parent") if job.kind in (JobKind.EXTEND, JobKind.UPSCALE) else None
            made: dict[str, Any] = {}
            if parent and (source := await self.services.ledger.get(parent)) is not None:
                made = source.result or {}
            await self.requests.derive(
                requester(interaction),
                reply,
                job,
                parent=record.job_id,
                files=files,
                source_frames=made.get("frames", 0),
                source_size=_size(made),
            )

    async def on_remix(self, interaction: discord.Interaction, job_id: str, prompt: str, flags: str) -> None:
        """The source request with the form's prompt and options (an option taken out goes back to its
        default); the input, its kind and its fit stay the source's. Refused, the answer offers Remix again,
        the form then holding what was typed."""
        reply = await defer(interaction, self.services)
        record = await self._source(interaction, job_id)
        if record is None:
            return await reply.refuse(_("I no longer know that video."))
        draft = (interaction.user.id, job_id)
        self._drafts.keep(draft, (prompt, flags))
        reply.refusal_view = self.buttons.remix(job_id, reply.voice)
        source = request_of(record)
        try:
            options = from_command(f"{prompt} {flags}".strip())
            models = {name: spec for name, spec in self.services.models.items() if spec.takes(source.kind)}
            job = build_job(options, job_id="", kind=source.kind, models=models, default_model=source.model)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        # -gif is in the form's flags; the words an illusion hides are not, and stay.
        kept = dataclasses.replace(job, fit=source.fit, smooth=source.smooth, hidden_text=source.hidden_text)
        await self._again(interaction, reply, record, kept)
        if not reply.refused:
            self._drafts.drop(draft)


def _reachable(interaction: discord.Interaction) -> bool:
    """Whether the bot's own token reaches the interaction's channel: a server the bot is in, or its DM (not
    a server only a user's install of the app is in, nor a group DM)."""
    if interaction.guild_id is not None:
        return interaction.client.get_guild(interaction.guild_id) is not None
    return isinstance(interaction.channel, discord.DMChannel)


def _size(made: dict[str, Any]) -> tuple[int, int] | None:
    """The width and height of a delivered clip, from its ledger result."""
    return (made["width"], made["height"]) if "width" in made and "height" in made else None
