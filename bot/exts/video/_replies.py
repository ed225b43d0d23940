"""Who asked and where the answers go: the deferred response of a slash command, button or menu, or a
reply to the message that mentioned the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import discord

from bot.exts.video._refusals import Refusals, Said
from bot.i18n import Voice, voice_of
from bot.limits import clip
from generation.jobs import DEFAULT_BYTE_BUDGET
from generation.text import Text
from storage.guilds import DM
from storage.pending import PendingRequest, PendingRequests, mention_token

__all__ = ["InteractionReply", "MessageReply", "Reply", "Requester"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    user_id: int
    guild_id: int  # 0 for direct messages
    channel_id: int
    role_ids: tuple[int, ...] = ()
    upload_limit: int = DEFAULT_BYTE_BUDGET
    age_restricted: bool = False  # the channel is one Discord marks age-restricted (NSFW)
    around: tuple[int, ...] = ()  # what the channel is in: a thread's channel (a forum post's forum), a category
    own_install: bool = False  # only the user's own install of the app brings it here (a server the bot is not in)

    @property
    def space(self) -> int:
        """Whose settings and credits apply (bot.spaces): the server's, or DM (the user's own)."""
        return DM if self.own_install else self.guild_id


class Reply(Protocol):
    """Where a request's answers go: the interaction's response, or a reply to a user's message; `voice`
    says them in the requester's language."""

    voice: Voice
    message_id: int | None
    reply_to: int | None  # the user's message that asked (a mention), for answers posted apart
    application_id: int | None
    token: str | None
    token_expires_at: float | None

    async def refuse(self, text: Text | str) -> None: ...

    async def show(self, text: str, view: discord.ui.View) -> None: ...

    async def retract(self) -> None:
        """Take back the status message `show` made (it came too late to be of use)."""

    async def answered(self) -> None:
        """The request is answered (a job came of it): a restart need not tell the user."""


class InteractionReply:
    """The deferred ("thinking…") response of a slash command, button or menu. Until it is answered (a
    refusal, or a job queued: `Requests.start`) the request is in `pending`: a bot killed meanwhile tells the
    user at its next start."""

    def __init__(
        self, interaction: discord.Interaction, lifetime_s: float, message_id: int | None, pending: PendingRequests
    ):
        self.interaction, self.pending = interaction, pending
        self.voice = voice_of(interaction)  # the user's own language (Discord's client setting)
        self.application_id: int | None = interaction.application_id
        self.token: str | None = interaction.token
        self.token_expires_at: float | None = time.time() + lifetime_s
        self.message_id = message_id  # the "thinking…" message the defer created
        self.reply_to: int | None = None
        self.refusal_view: discord.ui.View | None = None  # buttons a refusal offers (Remix, to edit a form again)
        self.refused = False

    async def refuse(self, text: Text | str) -> None:
        # Errors are private: drop the public "thinking…" message, answer only the user.
        self.refused = True
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.delete_original_response()
        try:
            view = self.refusal_view or discord.utils.MISSING
            await self.interaction.followup.send(clip(f"⚠️ {self.voice(text)}"), ephemeral=True, view=view)
        except discord.HTTPException as exc:
            log.warning("could not tell user %s: %s (%s)", self.interaction.user.id, text, exc)
        await self.answered()

    async def answered(self) -> None:
        await self.pending.answered(self.interaction.token)

    async def show(self, text: str, view: discord.ui.View) -> None:
        message = await self.interaction.edit_original_response(content=clip(text), view=view)
        self.message_id = message.id

    async def retract(self) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.delete_original_response()

    @classmethod
    async def defer(
        cls, interaction: discord.Interaction, lifetime_s: float, pending: PendingRequests
    ) -> InteractionReply:
        """Acknowledge within Discord's 3 s with a public "thinking…" message, and note the request while
        Discord takes the acknowledgement (not after it: a bot killed while Discord is slow to answer must still
        find the request at its next start, and tell its user in that message)."""
        acknowledging = asyncio.ensure_future(interaction.response.defer(thinking=True))  # first: Discord's 3 s
        user, expires_at = interaction.user.id, time.time() + lifetime_s
        application = interaction.application_id
        waiting = PendingRequest(interaction.token, application, user, 0, voice_of(interaction).locale, expires_at)
        try:
            await pending.add(waiting)
        finally:
            try:
                response = await acknowledging
            except BaseException:
                await pending.answered(interaction.token)  # never acknowledged: nothing to tell at a restart
                raise
        return cls(interaction, lifetime_s, getattr(response, "message_id", None), pending)


class MessageReply:
    """A reply to the message that mentioned the bot, in the server's language (a message has no locale). A
    request (`noted`) is in `pending` until it is answered: a bot killed meanwhile replies at its next start."""

    application_id: int | None = None
    token: str | None = None
    token_expires_at: float | None = None

    def __init__(
        self,
        message: discord.Message,
        voice: Voice,
        refusals: Refusals,
        pending: PendingRequests | None = None,
        on_refused: Callable[[MessageReply], None] | None = None,
    ):
        self.message, self.voice, self.refusals = message, voice, refusals
        self.pending, self.on_refused = pending, on_refused
        self.message_id: int | None = None
        self.reply_to: int | None = message.id
        self.refusal: Said | None = None  # the refusal, as it reaches Discord

    @classmethod
    async def noted(
        cls,
        message: discord.Message,
        voice: Voice,
        refusals: Refusals,
        lifetime_s: float,
        pending: PendingRequests,
        on_refused: Callable[[MessageReply], None] | None = None,
    ) -> MessageReply:
        """The reply to a mention the bot takes in as a request, noted until it is answered; `on_refused` is
        told if it is refused."""
        expires_at = time.time() + lifetime_s
        request = PendingRequest.mention(message.channel.id, message.id, message.author.id, voice.locale, expires_at)
        await pending.add(request)
        return cls(message, voice, refusals, pending, on_refused)

    async def refuse(self, text: Text | str) -> None:
        """Reply with the refusal, without waiting for Discord: a busy channel's rate limit may hold new
        messages back for a while, and the request holds an intake slot until it returns."""
        self.refusal = self.refusals.say(self.message, clip(f"⚠️ {self.voice(text)}"))
        if self.on_refused is not None:
            self.on_refused(self)
        await self.answered()

    async def answered(self) -> None:
        if self.pending is not None:
            await self.pending.answered(mention_token(self.message.id))

    async def show(self, text: str, view: discord.ui.View) -> None:
        sent = await self.message.reply(clip(text), view=view, mention_author=False)
        self.message_id = sent.id

    async def retract(self) -> None:
        if self.message_id is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.channel.get_partial_message(self.message_id).delete()  # type: ignore[union-attr]
