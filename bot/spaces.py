"""Whose settings and credits a request uses. A server that added the app has its admins' settings and its
own daily credits; anywhere else (a DM, a group DM, or a server the bot is not in, reached through a user's
own install of the app) the DM settings and the user's DM credits apply: a user who added the app to their
account does not get a fresh day of credits in every server they join."""

from __future__ import annotations

import discord

from bot.records import request_of
from storage.guilds import DM
from storage.jobs import JobRecord

__all__ = ["space_of", "space_of_job"]


def space_of(interaction: discord.Interaction) -> int:
    """The server whose settings and credits apply to `interaction`, or DM."""
    guild = interaction.guild_id
    if guild is None or (interaction.is_user_integration() and not interaction.is_guild_integration()):
        return DM
    return guild


def space_of_job(record: JobRecord) -> int:
    """The server whose settings and credits a job used, or DM: its request says (the ledger's `guild_id` is
    where it was made)."""
    asked = request_of(record).guild_id
    return int(asked) if asked.isdigit() else record.guild_id
