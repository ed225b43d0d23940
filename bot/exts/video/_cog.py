"""The commands that make clips: /animate, /imagine-video, the "Animate image" menu, @mentions that reply
to an image, and the buttons on status and result messages. Each callback defers first, parses, and
hands over to VideoRequests."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import describe, tell
from bot.exts.video._declare import CHOICES, DESCRIBE, MENTION, Fps, Frames, Motion, Seed, Steps, image_url, image_urls
from bot.exts.video._fetch import FetchError, fetch
from bot.exts.video._render import options_line
from bot.exts.video._requests import InteractionReply, MessageReply, Reply, Requester, VideoRequests, upscaler_for
from bot.exts.video._views import Action, Buttons, RemixModal, remix_form
from bot.exts.video._watch import JobWatcher
from bot.records import request_of
from bot.services import Services
from generation.jobs import JobKind, VideoJob
from generation.models import Input
from generation.options import OptionError, Options, build_job, from_command, parse_flags
from generation.queue import CancelResult
from storage.jobs import JobRecord

__all__ = ["Video"]

log = logging.getLogger(__name__)


class Video(commands.Cog):
    def __init__(self, bot: commands.Bot, services: Services):
        self.bot, self.services = bot, services
        self.buttons = Buttons(self)
        self.watcher = JobWatcher(bot, services, self.buttons)
        self.requests = VideoRequests(services, self.watcher.track, self.buttons)
        self.menu = app_commands.ContextMenu(name="Animate image", callback=self.animate_message)
        self._actions = {
            Action.CANCEL: self._cancel,
            Action.DELETE: self._delete,
            Action.REROLL: self._reroll,
            Action.REMIX: self._remix,
            Action.EXTEND: self._extend,
            Action.SMOOTH: self._smooth,
            Action.UPSCALE: self._upscale,
        }

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self.bot.add_dynamic_items(self.buttons.item)
        await self.watcher.start()

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        self.bot.remove_dynamic_items(self.buttons.item)
        await self.watcher.stop()

    # ---- helpers ----

    def _who(self, interaction: discord.Interaction) -> Requester:
        roles = tuple(role.id for role in getattr(interaction.user, "roles", ()))
        channel = interaction.channel_id or 0
        return Requester(interaction.user.id, interaction.guild_id or 0, channel, roles, interaction.filesize_limit)

    async def _defer(self, interaction: discord.Interaction) -> InteractionReply:
        # Within 3 s, before any other I/O.
        return await InteractionReply.defer(interaction, self.services.settings.token_lifetime_s)

    async def _download(self, url: str, reply: Reply) -> bytes | None:
        settings = self.services.settings
        try:
            return await fetch(self.services.http, url, settings.allowed_hosts, int(settings.max_image_mb * 2**20))
        except FetchError as exc:
            await reply.refuse(str(exc))
            return None

    async def _model_choices(
        self, interaction: discord.Interaction, current: str, wanted: Input, keyframes: bool = False
    ) -> list[Any]:
        served = {m for worker in await self.services.queue.workers() for m in worker.models}
        names = [
            n for n, spec in self.services.models.items() if wanted in spec.inputs and (spec.keyframes or not keyframes)
        ]
        online = [n for n in names if n in served]
        shown = [(n, n) for n in online] or [(f"{n} (no worker online)", n) for n in names]
        return [app_commands.Choice(name=label, value=value) for label, value in shown if current.lower() in value][:25]

    async def _image_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self._model_choices(interaction, current, Input.IMAGE)

    async def _text_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self._model_choices(interaction, current, Input.TEXT)

    async def _keyframe_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self._model_choices(interaction, current, Input.IMAGE, keyframes=True)

    # ---- commands ----

    @app_commands.command(name="animate", description="Turn an image into a short video clip")
    @app_commands.describe(
        image="The picture to animate (PNG, JPEG, WebP or GIF)",
        prompt="What should happen. Pika flags work here too (-motion 3 -camera zoom in); options below win",
        end="A picture for the clip to end on (keyframe models, e.g. ltx)",
        **DESCRIBE,
    )
    @app_commands.choices(**CHOICES)
    @app_commands.autocomplete(model=_image_models)
    async def animate(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: str | None = None,
        motion: Motion | None = None,
        camera: str | None = None,
        fps: Fps | None = None,
        seed: Seed | None = None,
        model: str | None = None,
        aspect: str | None = None,
        frames: Frames | None = None,
        steps: Steps | None = None,
        end: discord.Attachment | None = None,
    ) -> None:
        """Turn an image into a short video clip."""
        reply = await self._defer(interaction)
        typed = dict(motion=motion, camera=camera, fps=fps, seed=seed, model=model, aspect=aspect, frames=frames)
        try:
            options = from_command(prompt or "", steps=steps, **typed)
        except OptionError as exc:
            return await reply.refuse(str(exc))
        await self._animate(interaction, reply, options, [image.url] + ([end.url] if end else []))

    @app_commands.command(name="morph", description="A clip that starts on one picture and ends on another")
    @app_commands.describe(
        first="The picture the clip starts on",
        last="The picture the clip ends on",
        prompt="What happens in between. Pika flags work here too (-motion 2 -seed 7)",
        frames="How many frames (up to the model's maximum)",
        model="Which model renders it (one that takes keyframes)",
    )
    @app_commands.autocomplete(model=_keyframe_models)
    async def morph(
        self,
        interaction: discord.Interaction,
        first: discord.Attachment,
        last: discord.Attachment,
        prompt: str | None = None,
        frames: Frames | None = None,
        model: str | None = None,
    ) -> None:
        """A clip that starts on one picture and ends on another."""
        reply = await self._defer(interaction)
        try:
            options = from_command(prompt or "", frames=frames, model=model)
        except OptionError as exc:
            return await reply.refuse(str(exc))
        await self._animate(interaction, reply, options, [first.url, last.url])

    async def _animate(self, interaction: discord.Interaction, reply: Reply, options: Options, urls: list[str]) -> None:
        """Download the picture (and the last-frame picture, if any) and queue the clip."""
        pictures = []
        for url in urls:
            data = await self._download(url, reply)
            if data is None:
                return
            pictures.append(data)
        image, end = pictures[0], (pictures[1] if len(pictures) > 1 else None)
        await self.requests.new(
            self._who(interaction), reply, JobKind.IMAGE_TO_VIDEO, options, image=image, end_image=end
        )

    @app_commands.command(name="imagine-video", description="Make a short video clip from a text prompt")
    @app_commands.describe(
        prompt="What to see. Pika flags work here too (-camera pan left -gs 16); options below win",
        negative="What to avoid",
        guidance="How closely to follow the prompt, 8 to 24; default 12",
        **DESCRIBE,
    )
    @app_commands.choices(**CHOICES)
    @app_commands.autocomplete(model=_text_models)
    async def imagine_video(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative: str | None = None,
        motion: Motion | None = None,
        camera: str | None = None,
        fps: Fps | None = None,
        guidance: app_commands.Range[float, 8, 24] | None = None,
        seed: Seed | None = None,
        model: str | None = None,
        aspect: str | None = None,
        frames: Frames | None = None,
        steps: Steps | None = None,
    ) -> None:
        """Make a short video clip from a text prompt."""
        reply = await self._defer(interaction)
        typed = dict(motion=motion, camera=camera, fps=fps, seed=seed, model=model, aspect=aspect, frames=frames)
        try:
            options = from_command(prompt, negative_prompt=negative, guidance=guidance, steps=steps, **typed)
        except OptionError as exc:
            return await reply.refuse(str(exc))
        await self.requests.new(self._who(interaction), reply, JobKind.TEXT_TO_VIDEO, options)

    async def animate_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Animate image" message menu; a message with two images becomes a clip from the first to the
        second where a keyframe model is enabled (else the first is animated)."""
        reply = await self._defer(interaction)
        urls = image_urls(message)
        if not urls:
            return await reply.refuse("that message has no image to animate")
        try:
            options = parse_flags(MENTION.sub("", message.content))
        except OptionError:
            options = Options()  # the message's text is not for us: animate with defaults
        keyframes = any(spec.keyframes for spec in self.services.models.values())
        await self._animate(interaction, reply, options, urls[: 2 if keyframes else 1])

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """@bot in a reply to an image (or with an image attached) animates it, reading flags from the text."""
        me = self.bot.user
        if message.author.bot or me is None or me not in message.mentions:
            return
        try:
            await self._animate_mention(message)
        except Exception as exc:
            log.exception("mention %s failed", message.id)
            with contextlib.suppress(discord.HTTPException):
                await MessageReply(message).refuse(describe(exc))

    async def _animate_mention(self, message: discord.Message) -> None:
        url = image_url(message)
        if url is None and message.reference is not None:
            source = message.reference.resolved
            if not isinstance(source, discord.Message) and message.reference.message_id:
                try:
                    source = await message.channel.fetch_message(message.reference.message_id)
                except discord.HTTPException:
                    source = None
            url = image_url(source) if isinstance(source, discord.Message) else None
        reply = MessageReply(message)
        if url is None:
            return await reply.refuse("reply to a message with an image (or attach one) and mention me to animate it")
        try:
            options = parse_flags(MENTION.sub("", message.content))
        except OptionError as exc:
            return await reply.refuse(str(exc))
        data = await self._download(url, reply)
        if data is None:
            return
        roles = tuple(role.id for role in getattr(message.author, "roles", ()))
        who = Requester(message.author.id, message.guild.id if message.guild else 0, message.channel.id, roles)
        await self.requests.new(who, reply, JobKind.IMAGE_TO_VIDEO, options, image=data)

    # ---- buttons: one method per Action ----

    async def _source(self, interaction: discord.Interaction, job_id: str) -> JobRecord | None:
        """The job a button or form names, if it was made where this interaction happens (the same server,
        or the same DM): a job id copied elsewhere is unknown there."""
        record = await self.services.ledger.get(job_id)
        if record is None or record.guild_id != (interaction.guild_id or 0):
            return None
        if not record.guild_id and record.channel_id != interaction.channel_id:
            return None
        return record

    async def on_button(self, interaction: discord.Interaction, action: Action, job_id: str) -> None:
        record = await self._source(interaction, job_id)
        if record is None:
            await interaction.response.send_message("I no longer know that video.", ephemeral=True)
            return
        await self._actions[action](interaction, record)

    async def _owner_or_moderator(self, interaction: discord.Interaction, record: JobRecord, who: str) -> bool:
        if interaction.user.id == record.user_id or interaction.permissions.manage_messages:
            return True
        await interaction.response.send_message(f"Only the person who {who} can do that.", ephemeral=True)
        return False

    async def _cancel(self, interaction: discord.Interaction, record: JobRecord) -> None:
        if not await self._owner_or_moderator(interaction, record, "asked for it"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # the queue may be slow to answer
        result = await self.services.queue.cancel(record.job_id)
        text = {
            CancelResult.REMOVED: "Removed from the queue; the credits are refunded.",
            CancelResult.STOPPING: "Stopping it now; the credits will be refunded.",
            CancelResult.FINISHED: "Too late: it already finished.",
        }.get(result, "I could not find that job.")
        await interaction.followup.send(text, ephemeral=True)

    async def _delete(self, interaction: discord.Interaction, record: JobRecord) -> None:
        if not await self._owner_or_moderator(interaction, record, "asked for it, or moderators"):
            return
        await interaction.response.send_message("Deleted.", ephemeral=True)
        if interaction.message is not None:
            await interaction.message.delete()

    async def _reroll(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The same request with a new seed, for whoever pressed."""
        reply = await self._defer(interaction)
        source = request_of(record)
        await self._again(interaction, reply, record, dataclasses.replace(source, seed=None))

    async def _remix(self, interaction: discord.Interaction, record: JobRecord) -> None:
        source = request_of(record)
        flags = options_line(dataclasses.replace(source, seed=None))
        await interaction.response.send_modal(RemixModal(record.job_id, source.prompt, flags))

    async def _extend(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip followed by its continuation: same model, size and fps, from the clip's last frame."""
        await self._from_clip(interaction, record, JobKind.EXTEND)

    async def _smooth(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip interpolated to a higher frame rate, on a worker for its model."""
        await self._from_clip(interaction, record, JobKind.SMOOTH)

    async def _upscale(self, interaction: discord.Interaction, record: JobRecord) -> None:
        """The clip at twice its width and height (LTX's latent upsampler and a short refine pass)."""
        await self._from_clip(interaction, record, JobKind.UPSCALE)

    async def _from_clip(self, interaction: discord.Interaction, record: JobRecord, kind: JobKind) -> None:
        """A job of `kind` on the clip of the pressed message, with the clip's own request, seed and fps."""
        reply = await self._defer(interaction)
        made = record.result or {}
        source = request_of(record)
        model = source.model
        if kind is JobKind.UPSCALE and (model := upscaler_for(self.services, source.model) or "") == "":
            return await reply.refuse("no model here can upscale clips")
        job = dataclasses.replace(
            source,
            kind=kind,
            model=model,
            seed=made.get("seed", source.seed),
            fps=made.get("fps", source.fps),
            smooth=False,
            upscale=False,
        )
        clip = await self._clip(interaction, reply)
        if clip is not None:
            who, frames = self._who(interaction), made.get("frames", 0)
            size = (made["width"], made["height"]) if "width" in made and "height" in made else None
            await self.requests.derive(
                who, reply, job, parent=record.job_id, video=clip, source_frames=frames, source_size=size
            )

    async def _clip(self, interaction: discord.Interaction, reply: Reply) -> bytes | None:
        """The clip on the message whose button was pressed."""
        message = interaction.message
        if message is None or not message.attachments:
            await reply.refuse("that message has no clip any more")
            return None
        return await self._download(message.attachments[0].url, reply)

    async def _again(self, interaction: discord.Interaction, reply: Reply, record: JobRecord, job: VideoJob) -> None:
        """Run `job` (a Reroll or Remix of `record`) for whoever pressed, with the source's input again."""
        kept, end = await self.requests.kept_inputs(record.job_id)
        if job.kind is not JobKind.TEXT_TO_VIDEO and kept is None:
            return await reply.refuse("I no longer keep the original input; start again with /animate")
        image, video = (kept, None) if job.kind is JobKind.IMAGE_TO_VIDEO else (None, kept)
        parent = record.options.get("parent") if job.kind in (JobKind.EXTEND, JobKind.UPSCALE) else None
        made: dict[str, Any] = {}
        if parent and (source := await self.services.ledger.get(parent)) is not None:
            made = source.result or {}
        size = (made["width"], made["height"]) if "width" in made and "height" in made else None
        await self.requests.derive(
            self._who(interaction),
            reply,
            job,
            parent=record.job_id,
            image=image,
            end_image=end if job.kind is JobKind.IMAGE_TO_VIDEO and self._keyframes(job.model) else None,
            video=video,
            source_frames=made.get("frames", 0),
            source_size=size,
        )

    def _keyframes(self, model: str) -> bool:
        spec = self.services.models.get(model)
        return spec is not None and spec.keyframes

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A submitted Remix form, also one opened before a restart."""
        form = remix_form(interaction)
        if form is None:
            return
        try:
            await self.on_remix(interaction, *form)
        except Exception as exc:
            await tell(interaction, exc)

    async def on_remix(self, interaction: discord.Interaction, job_id: str, text: str) -> None:
        """The source request with the form's prompt and options (an option taken out goes back to its
        default); the input, its kind and its fit stay the source's."""
        reply = await self._defer(interaction)
        record = await self._source(interaction, job_id)
        if record is None:
            return await reply.refuse("I no longer know that video")
        source = request_of(record)
        try:
            options = from_command(text)
            models = {name: spec for name, spec in self.services.models.items() if spec.takes(source.kind)}
            job = build_job(options, job_id="", kind=source.kind, models=models, default_model=source.model)
        except OptionError as exc:
            return await reply.refuse(str(exc))
        kept = dataclasses.replace(job, fit=source.fit, smooth=source.smooth, output=source.output)
        await self._again(interaction, reply, record, kept)
