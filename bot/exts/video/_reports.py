"""Report clip (right-click one of the bot's clips → Apps): a member tells the server's moderators about a clip
they find wrong. The report is recorded with the moderation events and posted in the moderation log, if the
server has one (who asked, the prompt, who reported it, a link to the clip); the moderators there delete it
with its Delete button. Where no server's admins are (a group DM, a server only a user's install of the app
is in), it goes to the operator's log (MOTIONBOT_DM_MOD_LOG_CHANNEL), who can ban. Each member reports a clip
once."""

from __future__ import annotations

import time

import discord
from discord import app_commands

from bot.exts.video._modlog import ModLog
from bot.exts.video._views import job_on
from bot.i18n import voice_of
from bot.kept import Kept
from bot.records import request_of
from bot.services import Services
from bot.spaces import space_of
from generation.text import _
from storage.guilds import DM
from storage.moderation import ModerationEvent

__all__ = ["Reports"]

REPORTED_KEPT_S = 86_400.0  # a member's report of a clip is not taken again for a day
REPORTS_A_MINUTE = 5  # one member's reports in a minute: a flood of them is not posted


class Reports:
    def __init__(self, bot: discord.Client, services: Services, modlog: ModLog):
        self.bot, self.services, self.modlog = bot, services, modlog
        self.menu = app_commands.ContextMenu(name="Report clip", callback=self.report)
        self._reported: Kept[tuple[int, str], bool] = Kept(REPORTED_KEPT_S, most=20_000)  # (member, job)
        self._lately: Kept[int, list[float]] = Kept(60.0)  # member -> when they reported, this minute

    async def report(self, interaction: discord.Interaction, message: discord.Message) -> None:
        say = voice_of(interaction)
        me = self.bot.user
        job_id = job_on(message) if me is not None and message.author.id == me.id else None
        space = space_of(interaction)  # this server's moderators, or the operator's (DM)
        operator = space == DM and bool((await self.services.guilds.get(DM)).mod_log_channel)
        if job_id is None:
            refusal = _("only my clips can be reported: right-click one of them → Apps → **Report clip**")
        elif space == DM and not operator:
            refusal = _(
                "no server's moderators are here to tell: "
                "whoever made the clip can delete it with its **Delete** button"
            )
        elif (interaction.user.id, job_id) in self._reported:
            refusal = _("you have reported this clip already")
        elif not self._may_report(interaction.user.id):
            refusal = _("you have reported {count} clips in a minute: try again in a moment", count=REPORTS_A_MINUTE)
        else:
            told = await self._record(interaction, message, job_id, space)
            self._reported.keep((interaction.user.id, job_id), True)
            thanks = (
                _("Reported to the bot's moderators. Thank you.")
                if operator
                else _("Reported to this server's moderators. Thank you.")
            )
            unheard = _(
                "Recorded. This server has no moderation log, so no moderator was told: "
                "ask one (or whoever made it) to delete it with its **Delete** button"
            )
            await interaction.response.send_message(say(thanks if told else unheard), ephemeral=True)
            return
        await interaction.response.send_message(f"⚠️ {say(refusal)}", ephemeral=True)

    def _may_report(self, member: int) -> bool:
        """Whether `member` may report another clip now (noted as reporting if so)."""
        now = time.monotonic()
        lately = [when for when in self._lately.get(member) or [] if now - when < 60]
        if len(lately) >= REPORTS_A_MINUTE:
            return False
        self._lately.keep(member, [*lately, now])
        return True

    async def _record(
        self, interaction: discord.Interaction, message: discord.Message, job_id: str, space: int
    ) -> bool:
        """Record the report and post it in the moderation log of `space`; whether it has one."""
        record = await self.services.ledger.get(job_id)  # None once its requester had the bot forget them
        owner = await self.services.users.clip_owner(job_id) if record is None else None  # whose, then
        event = ModerationEvent(
            guild_id=space,
            channel_id=message.channel.id,
            user_id=record.user_id if record is not None else owner[1] if owner is not None else 0,
            kind="output",
            result="reported",
            rule=f"<@{interaction.user.id}> · {message.jump_url}",
            excerpt=request_of(record).prompt if record is not None else "",
            job_id=job_id,
        )
        await self.modlog.report(event)
        return bool((await self.services.guilds.get(space)).mod_log_channel)
