"""/preferences: your own default flags (`-ar 9:16 -gif -style anime`), used by your new requests wherever
the request does not set that option and can take it (bot/exts/video/_requests.py tries each in turn)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import voice_of
from bot.services import Services
from generation.options import OptionError, flags_line, preferable_flags, preferences_of
from generation.text import Text, _

_CLEAR = {"none", "clear", "off", "reset", "-"}


def _how() -> Text:
    return _(
        "They apply to your new `/animate`, `/imagine-video`, `/morph` and `/restyle` requests and mentions, "
        "wherever the request does not set that option, and only where it can take it (a style needs a model that "
        "reads prompts, a loop a picture); the echo under each clip shows what was used. Preferences take "
        "{flags}; `flags:none` clears them.",
        flags=" ".join(f"`{flag}`" for flag in preferable_flags()),
    )


class Preferences(commands.Cog):
    def __init__(self, services: Services):
        self.services = services

    @app_commands.command(name="preferences", description="Your own default flags for every new request")
    @app_commands.describe(flags="Flags to use by default, e.g. -ar 9:16 -gif -style anime; none clears them")
    async def preferences(self, interaction: discord.Interaction, flags: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True)
        say, users, user_id = voice_of(interaction), self.services.users, interaction.user.id
        how = say(_how())
        if flags is not None and flags.strip().lower() in _CLEAR:
            await users.prefer(user_id, "")
            done = _("Cleared: your requests use each model's defaults again.")
            return await interaction.followup.send(say(done), ephemeral=True)
        if flags is not None and flags.strip():
            try:
                saved = flags_line(preferences_of(flags[:1000]))
            except OptionError as exc:
                return await interaction.followup.send(f"⚠️ {say(exc.text)}\n{how}", ephemeral=True)
            await users.prefer(user_id, saved)
            done = _("✅ Saved your preferences: `{flags}`", flags=saved)
            return await interaction.followup.send(f"{say(done)}\n{how}", ephemeral=True)
        current = await users.preferences(user_id)
        shown = _("Your preferences: `{flags}`", flags=current) if current else _("You have no preferences yet.")
        example = _("Set them with `/preferences flags:-ar 9:16 -gif`.")
        await interaction.followup.send(f"{say(shown)} {say(example)}\n{how}", ephemeral=True)


async def setup(bot: Any) -> None:
    await bot.add_cog(Preferences(bot.services))
