"""/preferences: your own default flags (`-ar 9:16 -gif -style anime`), used by your new requests wherever
the request does not set that option and can take it (bot/exts/video/_requests.py tries each in turn)."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import voice_of
from bot.limits import lines_within
from bot.services import Services
from bot.spaces import space_of
from generation.options import OptionError, Options, flags_line, preferable_flags, preferences_of
from generation.text import Text, _
from storage.users import Users

log = logging.getLogger(__name__)

_CLEAR = {"none", "clear", "off", "reset", "-"}


def _how() -> Text:
    return _(
        "They apply to your new `/animate`, `/imagine-video`, `/morph` and `/restyle` requests and mentions, "
        "wherever the request does not set that option, and only where it can take it (a style needs a model that "
        "reads prompts, a loop a picture); the echo under each clip shows what was used. Preferences take "
        "{flags}; `flags:none` clears them.",
        flags=" ".join(f"`{flag}`" for flag in preferable_flags()),
    )


def saved_flags(flags: str, whose: str) -> Options:
    """Saved default flags (a user's preferences, a server's default_flags) as options; none where they no
    longer read (a style since removed)."""
    try:
        return preferences_of(flags)
    except OptionError:
        log.warning("%s: the saved default flags %r no longer read; not used", whose, flags)
        return Options()


async def saved_preferences(users: Users, user_id: int) -> Options:
    """The user's preferences."""
    return saved_flags(await users.preferences(user_id), f"user {user_id}")


class Preferences(commands.Cog):
    def __init__(self, services: Services):
        self.services = services

    @app_commands.command(name="preferences", description="Your own default flags for every new request")
    @app_commands.describe(flags="Flags to use by default, e.g. -ar 9:16 -gif -style anime; none clears them")
    async def preferences(self, interaction: discord.Interaction, flags: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True)
        say, users, user_id = voice_of(interaction), self.services.users, interaction.user.id
        given = (flags or "").strip()
        if given.lower() in _CLEAR:
            await users.prefer(user_id, "")
            done = _("Cleared: your requests use each model's defaults again.")
            return await interaction.followup.send(say(done), ephemeral=True)
        if given:
            try:
                preferred = preferences_of(given[:1000])
            except OptionError as exc:
                return await interaction.followup.send(f"⚠️ {say(exc.text)}\n{say(_how())}", ephemeral=True)
            saved = flags_line(preferred)
            await users.prefer(user_id, saved)
            lines = [say(_("✅ Saved your preferences: `{flags}`", flags=saved))]
        else:
            preferred = await saved_preferences(users, user_id)
            current = flags_line(preferred)
            shown = _("Your preferences: `{flags}`", flags=current) if current else _("You have no preferences yet.")
            lines = [f"{say(shown)} {say(_('Set them with `/preferences flags:-ar 9:16 -gif`.'))}"]
        server = await self.services.guilds.get(space_of(interaction))
        model = preferred.model  # the one preference a server limits
        if model and not server.allows_model(model):
            off = _("`-model {model}` is not enabled in this server: requests here leave it out.", model=model)
            lines.append(say(off))
        if server.default_flags:  # what fills in after them here (an admin's `default_flags`)
            lines.append(say(_("This server's own defaults come after yours: `{flags}`.", flags=server.default_flags)))
        lines.append(say(_how()))
        await interaction.followup.send(lines_within(lines), ephemeral=True)


async def setup(bot: Any) -> None:
    await bot.add_cog(Preferences(bot.services))
