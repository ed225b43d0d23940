"""/quota and /queue: what you have left, and where your videos are."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.limits import clip, lines_within
from bot.records import request_of
from bot.services import Services
from storage.jobs import FINAL, JobRecord


def _named(record: JobRecord) -> str:
    """A job as the user knows it: its prompt (in a code span), or what kind of job it is."""
    prompt = clip(request_of(record).prompt.replace("`", "'"), 80)
    return f"`{prompt}`" if prompt else record.kind


class Quota(commands.Cog):
    def __init__(self, services: Services):
        self.services = services

    @app_commands.command(name="quota", description="How many credits you have left today and when they reset")
    async def quota(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        s = self.services
        roles = [role.id for role in getattr(interaction.user, "roles", ())]
        status = await s.quotas.status(interaction.guild_id or 0, interaction.user.id, roles)
        running = [r for r in await s.ledger.recent(interaction.user.id, 20) if r.state not in FINAL]
        lines = [
            f"You have **{status.left}** credits left today (used {status.used} of {status.allowance}"
            + (f", plus {status.granted} granted" if status.granted else "")
            + ").",
            f"They reset <t:{int(status.resets_at.timestamp())}:R> (<t:{int(status.resets_at.timestamp())}:t>).",
            "A standard 25-frame clip costs about 10 credits.",
        ]
        if status.blocked:
            lines.insert(0, "⛔ You are blocked from making videos in this server.")
        if running:
            lines.append("Your videos on the way:")
            lines += [f"• {_named(r)} ({r.state})" for r in running]
        await interaction.followup.send(lines_within(lines), ephemeral=True)

    @app_commands.command(name="queue", description="How busy the video queue is and where your videos are")
    async def queue(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        s = self.services
        depth = await s.queue.depth()
        workers = await s.queue.workers()
        mine = [r for r in await s.ledger.recent(interaction.user.id, 20) if r.state not in FINAL]
        lines = [f"**{depth}** jobs in the queue, **{len(workers)}** GPU workers online."]
        for record in mine:
            state = await s.queue.state(record.job_id)
            where = f"#{state.position} in line" if state.position else state.status
            lines.append(f"• {_named(record)}: {where}")
        await interaction.followup.send(lines_within(lines), ephemeral=True)


async def setup(bot: Any) -> None:
    await bot.add_cog(Quota(bot.services))
