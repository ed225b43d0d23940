"""How the bot says no to a message in a server's channel (a mention it cannot take): a reply, sent without
waiting for Discord, a bounded number at once, and not said over and over. The channel is everyone's: a user
refused the same way again within a minute, or refused more than a few times a minute, gets a ⚠️ on their
message instead of another reply (the reply they already got is just above it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import discord

from bot.background import Background
from bot.kept import Kept

__all__ = ["MARK", "MOST_A_MINUTE", "MOST_SENDING", "REPEAT_S", "Refusals", "Said"]

log = logging.getLogger(__name__)
MARK = "⚠️"  # the reaction that stands for a refusal already said
REPEAT_S = 60.0  # a refusal said to a user is not said to them again in the same channel within this long
MOST_A_MINUTE = 5  # refusals a user is replied to in REPEAT_S, in any channel; beyond it, the reaction
WITHDRAW_WAIT_S = 10.0  # how long taking a refusal back waits for it to reach Discord first
MOST_SENDING = 100  # replies waiting for Discord at once (5 a channel every 5 s): a flood of mentions is not
# answered beyond this, rather than held in memory without end


@dataclass
class Said:
    """A refusal to `message`, as it reached Discord: a reply, a mark on the message, or (Discord refused
    it, or too many wait) nothing."""

    message: discord.Message
    reply: discord.Message | None = None
    marked: bool = False
    sending: asyncio.Task[None] | None = None  # the reply or the mark, on its way

    async def withdraw(self, me: discord.abc.Snowflake) -> None:
        """Take the refusal back (its request was edited, and is read again); `me`: the bot's user."""
        if self.sending is not None:  # an edit may come before Discord answered the refusal itself
            await asyncio.wait([self.sending], timeout=WITHDRAW_WAIT_S)
        with contextlib.suppress(discord.HTTPException):
            if self.reply is not None:
                await self.reply.delete()
            if self.marked:
                await self.message.remove_reaction(MARK, me)


class Refusals:
    """The refusals on their way to Discord, and those each user was told lately."""

    def __init__(self) -> None:
        self._sending = Background(MOST_SENDING)
        self._told: Kept[int, list[tuple[float, int, str]]] = Kept(REPEAT_S)  # user -> (when, channel, text)

    def say(self, message: discord.Message, text: str) -> Said:
        """Reply `text` to `message` (or mark it, see the module) without waiting for Discord."""
        said = Said(message)
        marking = message.guild is not None and not self._due(message.author.id, message.channel.id, text)
        said.sending = self._sending.start(
            self._mark(said) if marking else self._reply(said, text), "motionbot: refusal"
        )
        if said.sending is None:
            log.warning("%d replies already wait for Discord; not answering user %s", MOST_SENDING, message.author.id)
        elif marking:
            log.info("user %s was refused so lately: marking their message", message.author.id)
        return said

    def _due(self, user_id: int, channel_id: int, text: str) -> bool:
        """Whether this user may be told `text` in this channel now (noted as told if so)."""
        now = time.monotonic()
        told = [said for said in self._told.get(user_id) or [] if now - said[0] < REPEAT_S]
        if len(told) >= MOST_A_MINUTE or any(said[1:] == (channel_id, text) for said in told):
            return False
        self._told.keep(user_id, [*told, (now, channel_id, text)])
        return True

    @staticmethod
    async def _reply(said: Said, text: str) -> None:
        try:
            said.reply = await said.message.reply(text, mention_author=False)
        except (discord.HTTPException, OSError) as exc:
            log.warning("could not tell user %s: %s (%s)", said.message.author.id, text, exc)

    @staticmethod
    async def _mark(said: Said) -> None:
        try:
            await said.message.add_reaction(MARK)
            said.marked = True
        except (discord.HTTPException, OSError) as exc:  # no Add Reactions here, or the author blocked the bot
            log.info("could not mark message %s: %s", said.message.id, exc)
