"""The commands that make clips: /animate, /imagine-video, /morph, /restyle. The menus (right-click → Apps)
are in Menus, @mentions that reply to an image in Mentions, the buttons on status and result messages in
ClipActions. Each callback defers first, parses, and hands over to VideoRequests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from redis.exceptions import RedisError

from bot.errors import tell
from bot.exts.video._actions import ClipActions
from bot.exts.video._admission import Admission
from bot.exts.video._declare import (
    CHOICES,
    DESCRIBE,
    EFFECTS,
    Fps,
    Frames,
    Motion,
    Seed,
    Steps,
    Strength,
    emoji_names,
    model_choices,
)
from bot.exts.video._files import Files
from bot.exts.video._interact import defer, requester
from bot.exts.video._mentions import Mentions
from bot.exts.video._menus import Menus
from bot.exts.video._modlog import ModLog
from bot.exts.video._replies import InteractionReply, Reply, Requester
from bot.exts.video._reports import Reports
from bot.exts.video._requests import VideoRequests
from bot.exts.video._views import Action, Buttons, expand_form, remix_form, restyle_form
from bot.exts.video._watch import JobWatcher
from bot.i18n import voice_of
from bot.services import Services
from bot.spaces import space_of
from generation.jobs import JobKind
from generation.models import Input, ModelSpec
from generation.options import OptionError, Options, from_command
from generation.text import _

__all__ = ["Video"]

log = logging.getLogger(__name__)


class Video(commands.Cog):
    def __init__(self, bot: commands.Bot, services: Services):
        self.bot, self.services = bot, services
        self.buttons = Buttons(self)
        self.modlog = ModLog(bot, services, self.buttons)
        self.watcher = JobWatcher(bot, services, self.buttons, self.modlog)
        self.admission = Admission(services, self.modlog)
        self.requests = VideoRequests(services, self.watcher.track, self.buttons, self.admission)
        self.actions = ClipActions(services, self.requests, self.buttons)
        self.mentions = Mentions(bot, services, self.admission, self.requests)
        self.menus = Menus(bot, services, self._animate, self._restyle)
        self.reports = Reports(bot, services, self.modlog)

    async def cog_load(self) -> None:
        for menu in (*self.menus.commands, self.reports.menu):
            self.bot.tree.add_command(menu)
        self.bot.add_dynamic_items(self.buttons.item, self.menus.pickers.item)
        await self.watcher.start()

    async def cog_unload(self) -> None:
        for menu in (*self.menus.commands, self.reports.menu):
            self.bot.tree.remove_command(menu.name, type=menu.type)
        self.bot.remove_dynamic_items(self.buttons.item, self.menus.pickers.item)
        await self.watcher.stop()

    # ---- helpers ----

    async def defer(self, interaction: discord.Interaction) -> InteractionReply:
        return await defer(interaction, self.services)

    async def model_choices(
        self, interaction: discord.Interaction, current: str, fits: Callable[[ModelSpec], bool]
    ) -> list[Any]:
        """The suggestions for a command's `model` option: the models that `fit` the command."""
        settings = await self.services.guilds.get(space_of(interaction))
        try:
            served: set[str] | None = {m for worker in await self.services.queue.workers() for m in worker.models}
        except (RedisError, OSError):  # the queue is down: the command itself will say so
            served = None

        offline = voice_of(interaction)(_("(no worker online)"))
        return model_choices(self.services.models, settings.allows_model, served, current, fits, offline)

    async def _image_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.model_choices(interaction, current, lambda spec: Input.IMAGE in spec.inputs)

    async def _text_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.model_choices(interaction, current, lambda spec: Input.TEXT in spec.inputs)

    async def _keyframe_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.model_choices(
            interaction, current, lambda spec: Input.IMAGE in spec.inputs and spec.keyframes
        )

    async def _restyle_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.model_choices(interaction, current, lambda spec: spec.restyles)

    # ---- commands ----

    @app_commands.command(name="animate", description="Turn an image into a short video clip")
    @app_commands.describe(
        image="The picture to animate (PNG, JPEG, WebP or GIF)",
        prompt="What should happen. Pika flags work here too (-motion 3 -camera zoom in); options below win",
        end="A picture for the clip to end on (keyframe models, e.g. ltx)",
        mask="Motion brush: a black and white picture, white moves and black stays still",
        region="Motion brush by words: only this part moves, e.g. the water",
        pose="A video of a person: the character in your picture moves as they do (pose models)",
        loop="A seamless loop: the clip ends on your picture (keyframe models, e.g. ltx)",
        effect="What happens to it: inflate, melt, explode, squish, … (models that read prompts)",
        **DESCRIBE,
    )
    @app_commands.choices(effect=EFFECTS, **CHOICES)
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
        style: str | None = None,
        mask: discord.Attachment | None = None,
        region: str | None = None,
        pose: discord.Attachment | None = None,
        loop: bool | None = None,
        gif: bool | None = None,
        effect: str | None = None,
    ) -> None:
        """Turn an image into a short video clip."""
        reply = await self.defer(interaction)
        typed = dict(motion=motion, camera=camera, fps=fps, seed=seed, model=model, aspect=aspect, frames=frames)
        typed |= {"style": style, "region": region, "loop": loop, "gif": gif, "effect": effect}
        try:
            options = from_command(emoji_names(prompt or ""), steps=steps, **typed)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        urls = [image.url] + ([end.url] if end else [])
        if pose is not None:  # the character's picture, moved as the person in the pose video moves

            def posed(found: list[bytes]) -> Files:
                return Files(image=found[0], video=found[1])

            urls, who = [image.url, pose.url], requester(interaction)
            return await self.requests.fetch_and_new(who, reply, JobKind.POSE, options, urls, posed)
        await self._animate(interaction, reply, options, urls, mask.url if mask else None)

    @app_commands.command(name="morph", description="A clip that starts on one picture and ends on another")
    @app_commands.describe(
        first="The picture the clip starts on",
        last="The picture the clip ends on",
        prompt="What happens in between. Pika flags work here too (-motion 2 -seed 7)",
        second="A picture it passes through after the first (then third, fourth: up to 5 in all)",
        third="A picture it passes through after the second",
        fourth="A picture it passes through after the third, before the last",
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
        second: discord.Attachment | None = None,
        third: discord.Attachment | None = None,
        fourth: discord.Attachment | None = None,
        frames: Frames | None = None,
        model: str | None = None,
    ) -> None:
        """A clip that starts on one picture and ends on another, through up to three more on the way."""
        reply = await self.defer(interaction)
        try:
            options = from_command(emoji_names(prompt or ""), frames=frames, model=model)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        between = [picture.url for picture in (second, third, fourth) if picture is not None]
        await self._animate(interaction, reply, options, [first.url, *between, last.url])

    async def _animate(
        self, interaction: discord.Interaction, reply: Reply, options: Options, urls: list[str], mask: str | None = None
    ) -> None:
        """Download the pictures (the first, any it passes through, the last) and the mask, and queue the clip."""

        def files(found: list[bytes]) -> Files:
            return Files.keyframes(found[:-1], found[-1]) if mask else Files.keyframes(found)

        who, kind = requester(interaction), JobKind.IMAGE_TO_VIDEO
        await self.requests.fetch_and_new(who, reply, kind, options, urls + ([mask] if mask else []), files)

    @app_commands.command(name="restyle", description="Redraw a short video to a prompt (video to video)")
    @app_commands.describe(
        video="The video to restyle (MP4, WebM, MOV or GIF, a few seconds)",
        prompt="What it should look like. Pika flags work here too (-seed 7 -strength 0.5)",
        strength="How much to redraw, 0.1 (keep most) to 1 (redraw all); default 0.7",
        region="Only redraw this part, e.g. the car (the rest stays as it is): a swap",
        image="With region: a picture of what goes there instead",
        model="Which model restyles it",
        seed=DESCRIBE["seed"],
        style=DESCRIBE["style"],
    )
    @app_commands.choices(style=CHOICES["style"])
    @app_commands.autocomplete(model=_restyle_models)
    async def restyle(
        self,
        interaction: discord.Interaction,
        video: discord.Attachment,
        prompt: str,
        strength: Strength | None = None,
        region: str | None = None,
        image: discord.Attachment | None = None,
        model: str | None = None,
        seed: Seed | None = None,
        style: str | None = None,
    ) -> None:
        """Redraw a short video to a prompt, or only a part of it (as a picture shows it)."""
        reply = await self.defer(interaction)
        try:
            typed = {"strength": strength, "region": region, "model": model, "seed": seed, "style": style}
            options = from_command(emoji_names(prompt), **typed)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        await self._restyle(requester(interaction), reply, options, video.url, image.url if image else None)

    async def _restyle(
        self, who: Requester, reply: Reply, options: Options, url: str, picture: str | None = None
    ) -> None:
        """Download the video (and a swap's picture of what goes in the region, after the checks that need no
        file) and queue its restyle."""

        def files(found: list[bytes]) -> Files:
            return Files(video=found[0], ingredients=tuple(found[1:]))

        urls = [url] + ([picture] if picture else [])
        await self.requests.fetch_and_new(who, reply, JobKind.RESTYLE, options, urls, files)

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
        style: str | None = None,
        gif: bool | None = None,
    ) -> None:
        """Make a short video clip from a text prompt."""
        reply = await self.defer(interaction)
        typed = dict(motion=motion, camera=camera, fps=fps, seed=seed, model=model, aspect=aspect, frames=frames)
        typed |= {"style": style, "gif": gif}
        try:
            options = from_command(
                emoji_names(prompt), negative_prompt=negative, guidance=guidance, steps=steps, **typed
            )
        except OptionError as exc:
            return await reply.refuse(exc.text)
        await self.requests.new(requester(interaction), reply, JobKind.TEXT_TO_VIDEO, options)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """@bot in a reply to an image (or with an image attached) animates it: see _mentions.py."""
        await self.mentions.on_message(message)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, update: discord.RawMessageUpdateEvent) -> None:
        """A refused @mention request, edited: read again (see _mentions.py)."""
        await self.mentions.on_edit(update)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server (not an outage: that is `on_guild_unavailable`): its videos on the way could
        not be delivered, so they stop now, refunded, instead of taking GPU time from everyone else."""
        if stopped := await self.services.cancel_unfinished(guild_id=guild.id):
            log.info("removed from server %s: %d jobs on the way cancelled", guild.id, stopped)

    # ---- buttons and the Remix form: see _actions.py ----

    async def on_button(self, interaction: discord.Interaction, action: Action, job_id: str) -> None:
        await self.actions.on_button(interaction, action, job_id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A submitted Remix, Expand or Restyle form, also one opened before a restart."""
        remix, restyle, expand = remix_form(interaction), restyle_form(interaction), expand_form(interaction)
        try:
            if remix is not None:
                await self.actions.on_remix(interaction, *remix)
            elif expand is not None:
                await self.actions.on_expand(interaction, *expand)
            elif restyle is not None:
                await self.menus.restyle_form(interaction, *restyle)
        except Exception as exc:
            await tell(interaction, exc)
