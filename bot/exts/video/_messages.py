"""A job's messages in Discord: its status message edited in place (through the interaction while its
token lives, or as the bot's own message), and a message posted in reply to the request when that is
no longer possible. Only the requester may ever be pinged."""

from __future__ import annotations

import io
import time
from typing import Any, NamedTuple

import discord

from bot.limits import clip
from storage.jobs import JobRecord

__all__ = ["CannotPost", "JobMessages", "Upload"]

# Discord's codes for a thread that takes no message: archived (50083) or locked (160005).
_CLOSED_THREAD = (50083, 160005)


class CannotPost(Exception):
    """Discord will not take a message in the job's channel: the bot has no right to post there (any more),
    the channel is gone, or it is a thread a moderator closed. `why` is Discord's answer."""

    def __init__(self, why: discord.HTTPException):
        super().__init__(why.text or why.status)
        self.why = why


class Upload(NamedTuple):
    """A file for a job's message: its name, its bytes, and its alt text (what a screen reader says of it)."""

    name: str
    data: bytes
    description: str | None = None

    def file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.name, description=self.description)


class JobMessages:
    def __init__(self, bot: discord.Client):
        self.bot = bot
        # Interaction tokens Discord refused before they expire (revoked, a closed thread), with when they
        # expire: channel messages from then on. An expired token is known dead without it, so it is dropped.
        self.dead_tokens: dict[str, float] = {}

    async def edit(
        self,
        record: JobRecord,
        text: str,
        view: discord.ui.View | None,
        file: Upload | None = None,
        clear: bool = False,
    ) -> bool:
        """Edit the job's status message in place, with `file` as its one attachment (`clear`: none; else the
        one it has stays); False when that is no longer possible."""
        attachments: Any = discord.utils.MISSING  # the one it has stays
        if file is not None:
            attachments = [file.file()]
        elif clear:
            attachments = []
        if record.status_message_id is None:
            return False
        if record.application_id is None:  # a reply to a mention: the bot's own message
            message = self.bot.get_partial_messageable(record.channel_id).get_partial_message(record.status_message_id)
            try:
                await message.edit(content=clip(text), view=view, attachments=attachments)
                return True
            except discord.HTTPException as exc:
                if isinstance(exc, discord.NotFound | discord.Forbidden) or exc.code in _CLOSED_THREAD:
                    return False  # deleted, or the channel closed to the bot: a new message (or a DM) says it
                raise
        token = record.interaction_token
        if not token or token in self.dead_tokens or time.time() > (record.token_expires_at or 0):
            return False
        webhook = discord.Webhook.partial(record.application_id, token, client=self.bot)
        try:
            await webhook.edit_message(record.status_message_id, content=clip(text), view=view, attachments=attachments)
            return True
        except discord.HTTPException as exc:
            if exc.status in (401, 404) or exc.code in (50027, 10015, 10008, *_CLOSED_THREAD):
                now = time.time()
                self.dead_tokens = {dead: until for dead, until in self.dead_tokens.items() if until > now}
                self.dead_tokens[token] = record.token_expires_at or now
                return False
            raise

    async def post(
        self,
        record: JobRecord,
        text: str,
        view: discord.ui.View | None,
        file: Upload | None,
        channel: discord.abc.Messageable | None = None,
        nonce: str = "",
        ping: bool = True,
    ) -> discord.Message:
        """A message replying to the request in its channel (to its status message, or to the mention that
        asked where that never showed), or a plain one in `channel` (a DM); the nonce makes a repeat after a
        restart a no-op (`nonce`: which of the job's messages this is, where it posts more than one). It pings
        the requester (`ping`: a clip or failure they waited for) and nobody else. CannotPost where the job's
        channel takes no message from the bot."""
        reference, private = None, channel is not None
        if not private and (to := record.status_message_id or record.options.get("reply_to")) is not None:
            reference = discord.MessageReference(message_id=to, channel_id=record.channel_id, fail_if_not_exists=False)
        channel = channel or self.bot.get_partial_messageable(record.channel_id)
        kwargs: dict[str, Any] = {
            "content": clip(text),
            "reference": reference,
            "nonce": (nonce + record.job_id)[:25],
            # Only the requester may be pinged, whatever else the text holds (a prompt, a failure reason).
            "allowed_mentions": discord.AllowedMentions(
                users=[discord.Object(record.user_id)] if ping else False, replied_user=False
            ),
        }
        if view is not None:
            kwargs["view"] = view
        if file is not None:
            kwargs["file"] = file.file()
        try:
            return await channel.send(**kwargs)
        except discord.HTTPException as exc:
            closed = isinstance(exc, discord.Forbidden | discord.NotFound) or exc.code in _CLOSED_THREAD
            if closed and not private:
                raise CannotPost(exc) from exc
            raise
