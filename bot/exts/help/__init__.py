"""/help: what the bot makes, its commands, the flags a prompt may carry, and what this server offers."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import more_lines, voice_of
from bot.limits import EMBED_DESCRIPTION, lines_within
from bot.services import Services
from bot.spaces import space_of
from generation.effects import effects
from generation.options import flag_reference
from generation.styles import styles
from generation.text import _
from generation.values import CAMERA_MOVES

_COMMANDS = (
    _("`/animate` a picture → a clip (a prompt steers the models that read one)"),
    _("`/imagine-video` words → a clip"),
    _("`/morph` a clip from one picture to another, through up to three more on the way"),
    _("`/restyle` a short video redrawn to a prompt, or only a part of it (`region`: a swap)"),
    _("`/illusion` a clip with words or a logo hidden in it: seen from afar, or squinting"),
    _("`/ingredients` a clip from words with the people, pets, things or places of your pictures in it"),
    _("`/expand` a video widened or heightened to another shape (16:9 → 9:16), the scene around it drawn"),
    _(
        "Right-click a message → Apps → **Animate image** or **Restyle video**, or reply to a picture and mention me"
        " (in a DM with me, just send the picture)"
    ),
    _("Right-click a member → Apps → **Animate avatar**: their picture, brought to life"),
    _("Right-click one of my clips → Apps → **Report clip**: this server's moderators are told about it"),
    _("`/quota` your credits · `/queue` the line and your videos · `/history` the ones you made"),
    _("`/preferences` your default flags · `/privacy` what I keep about you, and a button to have me forget it"),
)
_BUTTONS = _(
    "Under each clip: **Reroll** (a new seed), **Remix** (edit it), **Extend**, **Smooth**, **Upscale** (twice the"
    " size), **GIF** (the same clip as a GIF, free), **Expand** (on another shape, the scene around it drawn),"
    " **Delete**. Under a failure: **Try again** (nothing to upload again)."
)


class Help(commands.Cog):
    def __init__(self, services: Services):
        self.services = services

    @app_commands.command(name="help", description="How to make clips: commands, flags, camera moves, styles")
    async def help(self, interaction: discord.Interaction) -> None:
        say = voice_of(interaction)
        settings = await self.services.guilds.get(space_of(interaction))
        here = [name for name in self.services.models if settings.allows_model(name)]  # the enabled models
        flags = " ".join(f"`{flag}`" for flag in flag_reference())
        lines = [say(_("**motionbot** turns pictures and words into short video clips."))]
        lines += [f"• {say(line)}" for line in _COMMANDS]
        lines += [
            say(_("**Flags** go in any prompt: `{example}`", example="a fox in the snow -motion 3 -camera zoom in")),
            flags,
            say(_("**Camera moves**: {moves}", moves=", ".join(CAMERA_MOVES))),
            say(_("**Styles**: {styles}", styles=", ".join(styles()))),
            say(
                _(
                    "**Effects** (`/animate`, or right-click a picture → Apps → **Apply effect**): {effects}",
                    effects=", ".join(effects()),
                )
            ),
            say(_("**Models here**: {models}", models=", ".join(f"`{name}`" for name in here) or "-")),
            say(_BUTTONS),
        ]
        # An embed: twice a message's 2000 characters, room for every line in every language.
        text = lines_within(lines, EMBED_DESCRIPTION, more=more_lines(say))
        await interaction.response.send_message(embed=discord.Embed(description=text), ephemeral=True)


async def setup(bot: Any) -> None:
    await bot.add_cog(Help(bot.services))
