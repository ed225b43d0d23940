"""The commands that make clips: /animate, /imagine-video, the "Animate image" menu, @mentions that reply
to an image, and the buttons on status and result messages. Each callback defers first, parses, and
hands over to VideoRequests."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import describe, tell
from bot.exts.video._fetch import FetchError, fetch
from bot.exts.video._render import options_line
from bot.exts.video._requests import InteractionReply, MessageReply, Reply, Requester, VideoRequests
from bot.exts.video._views import RemixModal, remix_form
from bot.exts.video._watch import JobWatcher
from bot.services import Services
from generation.jobs import JobKind
from generation.models import ASPECTS, Input
from generation.options import OptionError, Options, from_command, parse_camera, parse_flags
from generation.queue import CancelResult
from storage.jobs import JobRecord

__all__ = ["Video"]

log = logging.getLogger(__name__)

CAMERAS = [app_commands.Choice(name=c, value=c) for c in (
    "zoom in", "zoom out", "pan left", "pan right", "pan up", "pan down", "pan up left", "pan up right",
    "pan down left", "pan down right", "rotate cw", "rotate ccw")]  # fmt: skip
ASPECT_CHOICES = [app_commands.Choice(name=a, value=a) for a in ASPECTS]
_IMAGE_NAME = re.compile(r"\.(png|jpe?g|webp|gif)$", re.IGNORECASE)
_MENTION = re.compile(r"<@!?\d+>")


def _image_url(message: discord.Message) -> str | None:
    """The first image on a message: an attachment, else an embed's image or thumbnail."""
    for attachment in message.attachments:
        if (attachment.content_type or "").startswith("image/") or _IMAGE_NAME.search(attachment.filename):
            return attachment.url
    for embed in message.embeds:  # a link preview: Discord's media proxy copy, not the original site
        for url in (embed.image.proxy_url, embed.thumbnail.proxy_url, embed.image.url, embed.thumbnail.url):
            if url:
                return url
    return None


class Video(commands.Cog):
    def __init__(self, bot: commands.Bot, services: Services):
        self.bot, self.services = bot, services
        self.watcher = JobWatcher(bot, services)
        self.requests = VideoRequests(services, self.watcher.track)
        self.menu = app_commands.ContextMenu(name="Animate image", callback=self.animate_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        await self.watcher.start()

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        await self.watcher.stop()

    # ---- helpers ----

    def _who(self, interaction: discord.Interaction) -> Requester:
        roles = tuple(role.id for role in getattr(interaction.user, "roles", ()))
        return Requester(interaction.user.id, interaction.guild_id or 0, interaction.channel_id or 0, roles,
                         interaction.filesize_limit)  # fmt: skip

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

    async def _model_choices(self, interaction: discord.Interaction, current: str, wanted: Input) -> list[Any]:
        served = {m for worker in await self.services.queue.workers() for m in worker.models}
        names = [n for n, spec in self.services.models.items() if spec.input is wanted]
        online = [n for n in names if n in served]
        shown = [(n, n) for n in online] or [(f"{n} (no worker online)", n) for n in names]
        return [app_commands.Choice(name=label, value=value) for label, value in shown if current.lower() in value][:25]

    async def _image_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self._model_choices(interaction, current, Input.IMAGE)

    async def _text_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self._model_choices(interaction, current, Input.TEXT)

    # ---- commands ----

    @app_commands.command(name="animate", description="Turn an image into a short video clip")
    @app_commands.describe(
        image="The picture to animate (PNG, JPEG, WebP or GIF)",
        prompt="What should happen. Pika flags work here too (-motion 3 -camera zoom in); options below win",
        motion="How much things move, 0 (subtle) to 4 (a lot); default 1",
        camera="A camera move", fps="Frames per second, 8 to 24; default 24",
        seed="Same seed + same options = same clip", model="Which model renders it",
        aspect="Shape of the clip; default: the image's own", frames="How many frames (up to the model's maximum)",
    )  # fmt: skip
    @app_commands.choices(camera=CAMERAS, aspect=ASPECT_CHOICES)
    @app_commands.autocomplete(model=_image_models)
    async def animate(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: str | None = None,
        motion: app_commands.Range[int, 0, 4] | None = None,
        camera: str | None = None,
        fps: app_commands.Range[int, 8, 24] | None = None,
        seed: app_commands.Range[int, 0, 4294967295] | None = None,
        model: str | None = None,
        aspect: str | None = None,
        frames: app_commands.Range[int, 2, 128] | None = None,
    ) -> None:
        reply = await self._defer(interaction)
        try:
            options = from_command(prompt or "", motion=motion, camera=camera, fps=fps, seed=seed, model=model,
                                   aspect=aspect, frames=frames)  # fmt: skip
        except OptionError as exc:
            return await reply.refuse(str(exc))
        data = await self._download(image.url, reply)
        if data is not None:
            await self.requests.start(self._who(interaction), reply, JobKind.IMAGE_TO_VIDEO, options, image=data)

    @app_commands.command(name="imagine-video", description="Make a short video clip from a text prompt")
    @app_commands.describe(
        prompt="What to see. Pika flags work here too (-camera pan left -gs 16); options below win",
        negative="What to avoid", motion="How much the camera moves, 0 to 4; default 1", camera="A camera move",
        fps="Frames per second, 8 to 24; default 24", guidance="How closely to follow the prompt, 8 to 24; default 12",
        seed="Same seed + same options = same clip", model="Which model renders it", aspect="Shape of the clip",
    )  # fmt: skip
    @app_commands.choices(camera=CAMERAS, aspect=ASPECT_CHOICES)
    @app_commands.autocomplete(model=_text_models)
    async def imagine_video(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative: str | None = None,
        motion: app_commands.Range[int, 0, 4] | None = None,
        camera: str | None = None,
        fps: app_commands.Range[int, 8, 24] | None = None,
        guidance: app_commands.Range[float, 8, 24] | None = None,
        seed: app_commands.Range[int, 0, 4294967295] | None = None,
        model: str | None = None,
        aspect: str | None = None,
    ) -> None:
        reply = await self._defer(interaction)
        try:
            options = from_command(prompt, negative_prompt=negative, motion=motion, camera=camera, fps=fps,
                                   guidance=guidance, seed=seed, model=model, aspect=aspect)  # fmt: skip
        except OptionError as exc:
            return await reply.refuse(str(exc))
        await self.requests.start(self._who(interaction), reply, JobKind.TEXT_TO_VIDEO, options)

    async def animate_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Animate image" message menu."""
        reply = await self._defer(interaction)
        url = _image_url(message)
        if url is None:
            return await reply.refuse("that message has no image to animate")
        try:
            options = parse_flags(_MENTION.sub("", message.content))
        except OptionError:
            options = Options()  # the message's text is not for us: animate with defaults
        data = await self._download(url, reply)
        if data is not None:
            await self.requests.start(self._who(interaction), reply, JobKind.IMAGE_TO_VIDEO, options, image=data)

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
        url = _image_url(message)
        if url is None and message.reference is not None:
            source = message.reference.resolved
            if not isinstance(source, discord.Message) and message.reference.message_id:
                try:
                    source = await message.channel.fetch_message(message.reference.message_id)
                except discord.HTTPException:
                    source = None
            url = _image_url(source) if isinstance(source, discord.Message) else None
        reply = MessageReply(message)
        if url is None:
            return await reply.refuse("reply to a message with an image (or attach one) and mention me to animate it")
        try:
            options = parse_flags(_MENTION.sub("", message.content))
        except OptionError as exc:
            return await reply.refuse(str(exc))
        data = await self._download(url, reply)
        if data is None:
            return
        roles = tuple(role.id for role in getattr(message.author, "roles", ()))
        who = Requester(message.author.id, message.guild.id if message.guild else 0, message.channel.id, roles)
        await self.requests.start(who, reply, JobKind.IMAGE_TO_VIDEO, options, image=data)

    # ---- buttons ----

    async def _source(self, interaction: discord.Interaction, job_id: str) -> JobRecord | None:
        """The job a button or form names, if it was made where this interaction happens (the same server,
        or the same DM): a job id copied elsewhere is unknown there."""
        record = await self.services.ledger.get(job_id)
        if record is None or record.guild_id != (interaction.guild_id or 0):
            return None
        if not record.guild_id and record.channel_id != interaction.channel_id:
            return None
        return record

    async def on_button(self, interaction: discord.Interaction, action: str, job_id: str) -> None:
        record = await self._source(interaction, job_id)
        if record is None:
            await interaction.response.send_message("I no longer know that video.", ephemeral=True)
            return
        owner = interaction.user.id == record.user_id
        moderator = interaction.permissions.manage_messages
        if action in ("cancel", "delete") and not (owner or moderator):
            allowed = "asked for it" if action == "cancel" else "asked for it, or moderators"
            await interaction.response.send_message(f"Only the person who {allowed} can do that.", ephemeral=True)
            return
        if action == "cancel":
            await interaction.response.defer(ephemeral=True, thinking=True)  # the queue may be slow to answer
            result = await self.services.queue.cancel(job_id)
            text = {
                CancelResult.REMOVED: "Removed from the queue; the credits are refunded.",
                CancelResult.STOPPING: "Stopping it now; the credits will be refunded.",
                CancelResult.FINISHED: "Too late: it already finished.",
            }.get(result, "I could not find that job.")
            await interaction.followup.send(text, ephemeral=True)
            return
        if action == "delete":
            await interaction.response.send_message("Deleted.", ephemeral=True)
            if interaction.message is not None:
                await interaction.message.delete()
            return
        options = _stored_options(record.options)
        if action == "remix":
            modal = RemixModal(job_id, options.prompt, options_line(record.options | {"seed": None}))
            await interaction.response.send_modal(modal)
            return
        reply = await self._defer(interaction)
        who = self._who(interaction)
        if action in ("extend", "smooth"):
            clip = (
                interaction.message.attachments[0].url
                if interaction.message and interaction.message.attachments
                else None
            )
            data = await self._download(clip, reply) if clip else None
            if clip is None:
                return await reply.refuse("that message has no clip any more")
            if data is None:
                return
            if action == "smooth":
                await self.requests.start(who, reply, JobKind.SMOOTH, Options(), video=data, parent=job_id)
            else:  # continue from the last frame, with an image model
                extended = Options(prompt=options.prompt, motion=options.motion, camera=options.camera, fps=options.fps)
                await self.requests.start(who, reply, JobKind.IMAGE_TO_VIDEO, extended, video=data, parent=job_id)
            return
        await self._again(interaction, reply, record, options, job_id)

    async def _again(self, interaction: discord.Interaction, reply: Reply, record: Any, options: Options,
                     parent: str) -> None:  # fmt: skip
        """Run a job again (Reroll, Remix) for whoever pressed, with its input image if it had one."""
        kind = JobKind(record.kind)
        image = None
        if kind is JobKind.IMAGE_TO_VIDEO:
            image = await self.services.inputs.get(parent)
            if image is None:
                return await reply.refuse("I no longer keep the original image; use /animate again")
        await self.requests.start(self._who(interaction), reply, kind, options, image=image, parent=parent)

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
        reply = await self._defer(interaction)
        record = await self._source(interaction, job_id)
        if record is None:
            return await reply.refuse("I no longer know that video")
        try:
            options = from_command(text)
        except OptionError as exc:
            return await reply.refuse(str(exc))
        await self._again(interaction, reply, record, options, job_id)


def _stored_options(stored: dict[str, Any]) -> Options:
    """A ledger job's options, ready to run again with a new seed."""
    camera = stored.get("camera")
    return Options(
        prompt=stored.get("prompt") or "", negative_prompt=stored.get("negative_prompt") or None,
        motion=stored.get("motion"), camera=parse_camera(camera) if camera else None, fps=stored.get("fps"),
        guidance=stored.get("guidance"), aspect=stored.get("aspect"), model=stored.get("model"),
        frames=stored.get("frames"), steps=stored.get("steps"),
    )  # fmt: skip
