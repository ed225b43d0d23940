"""The moderation log: every refused or flagged prompt, picture or clip is recorded in the ledger, counted,
and posted in the server's moderation log channel when it has one (never pinging anyone, the matched
words behind a spoiler, no clip)."""

from __future__ import annotations

import contextlib
import logging

import discord

from bot.limits import clip
from bot.services import Services
from storage.moderation import ModerationEvent

__all__ = ["ModLog"]

log = logging.getLogger(__name__)

_WHAT = {"prompt": "Prompt", "input": "Input picture", "output": "Clip"}
_DONE = {"refused": "refused", "spoiler": "posted as a spoiler"}


class ModLog:
    def __init__(self, client: discord.Client, services: Services):
        self.client, self.services = client, services

    async def report(self, event: ModerationEvent) -> None:
        """Record `event`, count it, and post it in the server's moderation log channel, if it has one."""
        s = self.services
        s.metrics.safety.labels(event.kind, event.result).inc()
        await s.moderation.record(event)
        log.info("moderation: %s %s (%s), job %s", event.kind, event.result, event.rule, event.job_id)
        channel_id = (await s.guilds.get(event.guild_id)).mod_log_channel if event.guild_id else None
        if not channel_id:
            return
        lines = [
            f"🛡️ **{_WHAT.get(event.kind, event.kind)} {_DONE.get(event.result, event.result)}** by {event.rule}",
            f"<@{event.user_id}> in <#{event.channel_id}>" + (f" · job `{event.job_id[:8]}`" if event.job_id else ""),
        ]
        if event.excerpt:
            shown = discord.utils.escape_markdown(clip(event.excerpt, 300)).replace("`", "'")
            lines.append(f"prompt: {shown}")
        if event.matched:
            lines.append(f"matched: ||{discord.utils.escape_markdown(event.matched[:100])}||")
        with contextlib.suppress(discord.HTTPException):  # a log that cannot be posted must not stop the request
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
            if isinstance(channel, discord.abc.Messageable):
                await channel.send(clip("\n".join(lines)), allowed_mentions=discord.AllowedMentions.none())
