"""Requests acknowledged and not answered yet, so that a bot killed in between can tell their users.

A slash command, button or menu is acknowledged ("thinking…") at once; its answer (the status message or a
refusal) may come seconds later, after a download, a check or a re-encode. A row is written while the
acknowledgement is on its way (a bot killed while Discord is slow to take it must still know of it) and
deleted at the answer: the rows a start finds from before it are requests a killed bot
never answered. Their tokens live 15 minutes; a row is kept no longer than that. A mention is taken in the
same way, without an acknowledgement: its row names the user's message, which a start after a kill replies to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database

__all__ = ["PendingRequest", "PendingRequests", "mention_token"]


def mention_token(message_id: int) -> str:
    """A mention's key among the pending requests (it has no interaction token)."""
    return f"mention-{message_id}"


@dataclass(frozen=True)
class PendingRequest:
    token: str
    application_id: int
    user_id: int
    message_id: int  # a mention: the user's message (an interaction: 0, its first response is where it is told)
    locale: str  # the user's client language, to tell them in it (a mention: the server's)
    expires_at: float  # when the token stops working
    channel_id: int | None = None  # a mention's channel: told by a reply to its message there

    @classmethod
    def mention(cls, channel_id: int, message_id: int, user_id: int, locale: str, expires_at: float) -> PendingRequest:
        """A mention being taken in: keyed by its message (it has no interaction token)."""
        return cls(mention_token(message_id), 0, user_id, message_id, locale, expires_at, channel_id)


class PendingRequests:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, request: PendingRequest) -> None:
        row = (request.token, request.application_id, request.user_id, request.message_id, request.locale)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO pending_requests (token, application_id, user_id, message_id, locale, "
                "made_at, expires_at, channel_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, time.time(), request.expires_at, request.channel_id),
            )

    async def answered(self, token: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM pending_requests WHERE token = ?", (token,))

    async def left_before(self, moment: float) -> list[PendingRequest]:
        """Take (delete and return) the requests acknowledged before `moment` whose tokens still work and that
        no job came of (a job is followed, and its status shown, by the watcher: found by its interaction token,
        or by the message a mention's job replies to); the others go too."""
        now = time.time()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT token, application_id, user_id, message_id, locale, expires_at, channel_id "
                "FROM pending_requests AS p WHERE made_at < ? AND expires_at > ? AND token NOT IN "
                "(SELECT interaction_token FROM jobs WHERE interaction_token IS NOT NULL) AND (channel_id IS NULL "
                "OR NOT EXISTS (SELECT 1 FROM jobs WHERE json_extract(options, '$.reply_to') = p.message_id))",
                (moment, now),
            ) as cursor:
                rows = await cursor.fetchall()
            await conn.execute("DELETE FROM pending_requests WHERE made_at < ? OR expires_at <= ?", (moment, now))
        return [PendingRequest(*row) for row in rows]

    async def prune(self) -> None:
        """Forget the requests whose tokens no longer work (one whose handler failed is never answered)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM pending_requests WHERE expires_at <= ?", (time.time(),))
