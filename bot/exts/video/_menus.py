"""The menus (right-click → Apps): "Animate image", "Restyle video" (and its form), "Animate avatar" and
"Apply effect" (and its effect picker). Each finds what to work on in the message or the member Discord shows
it, then hands over to the commands' own paths (`animate`, `restyle`: the Video cog's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.exts.video._declare import (
    A_PICTURE,
    A_VIDEO,
    avatar_url,
    image_url,
    image_urls,
    keyframe_urls,
    request_words,
    video_url,
    words,
)
from bot.exts.video._files import most_keyframes
from bot.exts.video._interact import defer, hidden, requester
from bot.exts.video._replies import Reply, Requester
from bot.exts.video._views import EffectPickers, RestyleModal
from bot.i18n import voice_of
from bot.services import Services
from bot.spaces import space_of
from generation.options import OptionError, Options, from_command, parse_flags
from generation.text import _

__all__ = ["Menus"]

# The Video cog's paths from a request to a job: pictures to animate (URLs), a video to restyle (a URL).
Animate = Callable[[discord.Interaction, Reply, Options, list[str]], Awaitable[None]]
Restyle = Callable[[Requester, Reply, Options, str], Awaitable[None]]


class Menus:
    def __init__(self, bot: discord.Client, services: Services, animate: Animate, restyle: Restyle):
        self.bot, self.services, self.animate, self.restyle = bot, services, animate, restyle
        self.pickers = EffectPickers(self)  # "Apply effect": its picks come to `on_effect`
        self.commands = (
            app_commands.ContextMenu(name="Animate image", callback=self.animate_message),
            app_commands.ContextMenu(name="Restyle video", callback=self.restyle_message),
            app_commands.ContextMenu(name="Animate avatar", callback=self.animate_avatar),
            app_commands.ContextMenu(name="Apply effect", callback=self.effect_message),
        )

    async def animate_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Animate image" message menu; a message with two images becomes a clip from the first to the
        second where a keyframe model is enabled here (else the first is animated), one with more passes
        through them in order (up to five, where an enabled model takes pictures in between)."""
        reply = await defer(interaction, self.services)
        urls = keyframe_urls(message, self.services.settings.cdn)
        if not urls:
            return await reply.refuse(A_VIDEO if video_url(message) else _("that message has no image to animate"))
        try:
            options = parse_flags(request_words(words(message)))
        except OptionError:
            options = Options()  # the message's text is not for us: animate with defaults
        await self.animate(
            interaction, reply, options, urls[: await most_keyframes(self.services, space_of(interaction))]
        )

    async def animate_avatar(self, interaction: discord.Interaction, user: discord.Member | discord.User) -> None:
        """The "Animate avatar" user menu: the picture someone shows in this server, brought to life (with the
        presser's own default flags; Remix then changes it); not someone else's who keeps it to themselves
        (/privacy)."""
        reply = await defer(interaction, self.services)
        if user.id != interaction.user.id and await self.services.users.avatar_private(user.id):
            return await reply.refuse(_("<@{user}> keeps their avatar to themselves", user=user.id))
        if (url := avatar_url(user, self.services.settings.cdn)) is None:
            return await reply.refuse(_("<@{user}> has no avatar of their own to animate", user=user.id))
        await self.animate(interaction, reply, Options(), [url])

    async def effect_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Apply effect" message menu: the message's picture, privately, with the effects to pick from
        (`on_effect`); the picker shows the picture, so it needs nothing kept to know which it was."""
        say = voice_of(interaction)
        urls = image_urls(message, self.services.settings.cdn)
        if not urls:
            text = A_VIDEO if video_url(message) else _("that message has no image to animate")
            await interaction.response.send_message(f"⚠️ {say(text)}", ephemeral=True)
            return
        await interaction.response.send_message(
            say(_("What happens to this picture? Pick an effect (each pick makes a clip).")),
            embed=discord.Embed().set_image(url=urls[0]),
            view=self.pickers.view(say),
            ephemeral=True,
        )

    async def on_effect(self, interaction: discord.Interaction, effect: str) -> None:
        """An effect picked under the picture the "Apply effect" menu showed: animate it so, with the picker's
        own default flags."""
        reply = await defer(interaction, self.services)
        shown = interaction.message.embeds if interaction.message is not None else []
        url = shown[0].image.url if shown else None
        if not url:
            return await reply.refuse(_("I no longer see that picture: open the menu on its message again"))
        try:
            options = from_command(effect=effect)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        await self.animate(interaction, reply, options, [url])

    async def restyle_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Restyle video" message menu: asks for the prompt in a form (its answer: `restyle_form`)."""
        if (url := video_url(message)) is None:
            no_video = voice_of(interaction)(
                A_PICTURE
                if image_url(message, self.services.settings.cdn)
                else _("that message has no video to restyle")
            )
            await interaction.response.send_message(no_video, ephemeral=True)
            return
        # The menu sees the message whole; a bot without the Message Content intent could not fetch it again.
        await self.services.forms.remember(message.channel.id, message.id, url)
        await interaction.response.send_modal(RestyleModal(message.channel.id, message.id, voice_of(interaction)))

    async def restyle_form(
        self, interaction: discord.Interaction, channel_id: int, message_id: int, text: str, strength: str
    ) -> None:
        """A submitted Restyle form (also one opened before a restart): restyle the video of its message."""
        reply = await defer(interaction, self.services)
        try:
            options = from_command(text, strength=strength or None)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        url = await self.services.forms.video(channel_id, message_id)
        if url is None:  # a form older than a day: look at the message again
            try:
                channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
                message = await channel.fetch_message(message_id)  # type: ignore[union-attr]
            except (discord.HTTPException, AttributeError):
                return await reply.refuse(_("I can no longer see that message"))
            if hidden(self.bot, message):
                return await reply.refuse(
                    _("I can no longer see that message's video: choose Restyle video on it again")
                )
            if (url := video_url(message)) is None:
                return await reply.refuse(_("that message has no video to restyle any more"))
        await self.restyle(requester(interaction), reply, options, url)
