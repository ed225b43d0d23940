"""/privacy: what the bot keeps about you, a button that has it forget you (storage/users.py says what goes
and what stays), and one that keeps your avatar to yourself (others' "Animate avatar" on you is refused)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import tell, theirs
from bot.i18n import Voice, voice_of
from bot.limits import lines_within
from bot.services import Services
from generation.text import _
from storage.users import Kept

_FORGET = r"mb:forget:(?P<user>[0-9]{1,20})"
_AVATAR = r"mb:avatar:(?P<user>[0-9]{1,20}):(?P<private>[01])"


def _kept_lines(kept: Kept, days: int, record_days: int, say: Voice) -> list[str]:
    lines = [
        say(_("🔒 What I keep about you, in every server and in DMs:")),
        say(
            _(
                "• **Your requests** ({count}): prompts, options, how they ended and links to their messages "
                "(for /history and the buttons under your clips), each for {days} days after it ended",
                count=kept.requests,
                days=record_days,
            )
        ),
        say(
            _(
                "• **Pictures and videos you gave** ({count}, {size} MB): for Reroll and Remix, each for {days} "
                "days at most",
                count=kept.files,
                size=f"{kept.file_bytes / 2**20:.1f}",
                days=days,
            )
        ),
        say(_("• **Your credit use** of today and yesterday, so that a day's limit holds")),
    ]
    if kept.moderation:
        lines.append(
            say(
                _(
                    "• **The moderators' log**: {count} of your requests, refused or flagged, each for {days} days",
                    count=kept.moderation,
                    days=days,
                )
            )
        )
    if kept.preferences:
        lines.append(say(_("• **Your preferences** (`/preferences`): `{flags}`", flags=kept.preferences)))
    if kept.avatar_private:
        lines.append(say(_("• **Your avatar** is yours: nobody else may animate it (Animate avatar)")))
    if kept.servers:
        lines.append(say(_("• **Credits or a block** that admins gave you (servers: {count})", count=kept.servers)))
    lines.append(
        say(
            _(
                "**Forget me** deletes your requests, your files, your preferences and your older credit use. It "
                "keeps today's credits, what admins set and the moderators' log, and which messages are your clips, "
                "so that you can still delete them. It cannot be undone."
            )
        )
    )
    if kept.on_the_way:
        waiting = _(
            "⏳ Videos of yours on the way: {count}. I can forget you once they are done.", count=kept.on_the_way
        )
        lines.append(say(waiting))
    return lines


class ForgetButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_FORGET):
    """The "Forget me" button under a /privacy answer; a dynamic item, so it still works after a restart."""

    services: ClassVar[Services]  # set by the Privacy cog

    def __init__(self, user_id: int, label: str = ""):
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=label or "Forget me", emoji="🗑️", style=discord.ButtonStyle.danger, custom_id=f"mb:forget:{user_id}"
        )
        super().__init__(button)
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ForgetButton:
        return cls(int(match["user"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._forget(interaction)
        except Exception as exc:
            await tell(interaction, exc)

    async def _forget(self, interaction: discord.Interaction) -> None:
        say = voice_of(interaction)
        if not await theirs(interaction, self.user_id):
            return
        forgotten = await self.services.users.forget(self.user_id)
        if forgotten is None:
            wait = _("You have a video on the way: press again once it is delivered or cancelled.")
            await interaction.response.send_message(say(wait), ephemeral=True)
            return
        done = _(
            "✅ Forgotten: your requests ({requests}) and files ({files}). Your clips stay in their channels, with a "
            "Delete button that still works for you.",
            requests=forgotten.requests,
            files=forgotten.files,
        )
        await interaction.response.edit_message(content=say(done), view=None)


class AvatarButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_AVATAR):
    """Under a /privacy answer: keep one's avatar to oneself (others' "Animate avatar" on them is refused), or
    let others animate it again. A dynamic item: it works after a restart."""

    services: ClassVar[Services]  # set by the Privacy cog

    def __init__(self, user_id: int, private: bool, say: Voice | None = None):
        label = _("Keep my avatar to myself") if private else _("Let others animate my avatar")
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=say(label) if say is not None else str(label),
            emoji="🙈" if private else "🙂",
            style=discord.ButtonStyle.secondary,
            custom_id=f"mb:avatar:{user_id}:{int(private)}",
        )
        super().__init__(button)
        self.user_id, self.private = user_id, private

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AvatarButton:
        return cls(int(match["user"]), match["private"] == "1")

    async def callback(self, interaction: discord.Interaction) -> None:
        if not await theirs(interaction, self.user_id):
            return
        try:
            await self.services.users.keep_avatar_private(self.user_id, self.private)
        except Exception as exc:
            await tell(interaction, exc)
            return
        done = (
            _("🙈 Only you may animate your avatar now; others are told you keep it to yourself.")
            if self.private
            else _("🙂 Others may animate your avatar again (right-click you → Apps → Animate avatar).")
        )
        await interaction.response.edit_message(content=voice_of(interaction)(done), view=None)


class Privacy(commands.Cog):
    def __init__(self, bot: Any, services: Services):
        self.bot, self.services = bot, services
        ForgetButton.services = AvatarButton.services = services

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ForgetButton, AvatarButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ForgetButton, AvatarButton)

    @app_commands.command(name="privacy", description="What the bot keeps about you, and having it forget you")
    async def privacy(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        say = voice_of(interaction)
        kept = await self.services.users.kept(interaction.user.id)
        settings = self.services.settings
        lines = _kept_lines(kept, settings.input_retention_days, settings.record_retention_days, say)
        view = discord.ui.View(timeout=None)
        view.add_item(ForgetButton(interaction.user.id, say(_("Forget me"))))
        view.add_item(AvatarButton(interaction.user.id, not kept.avatar_private, say))
        await interaction.followup.send(lines_within(lines), view=view, ephemeral=True)


async def setup(bot: Any) -> None:
    await bot.add_cog(Privacy(bot, bot.services))
