"""How many requests the bot takes in at once: each holds its downloaded files from the first download until
it is queued, so a crowd of uploads waits its turn holding nothing, and one user's burst cannot take every
turn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.exts.video._replies import Reply
from generation.text import _

__all__ = ["FILES_HELD", "INTAKE", "PER_USER", "WAITING_PER_USER", "Intake"]

INTAKE = 8  # requests taken in at once: each may hold files of FILES_HELD times the download limit (25 MB)
FILES_HELD = 3  # a request's files together (a /morph's five pictures, a swap's video and picture): at most this
# many times the download limit, so the intake holds at most INTAKE x FILES_HELD x 25 MB
PER_USER = 2  # of the intake slots, the most one user's requests hold at once: a burst cannot take them all
WAITING_PER_USER = 10  # one user's requests being taken in or waiting for it: more are refused at once


@dataclass
class _Turn:
    """One user's requests in the intake: the slots they may hold, and how many of theirs wait or hold one."""

    slots: asyncio.Semaphore
    requests: int = 0


class Intake:
    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(INTAKE)
        self._users: dict[int, _Turn] = {}  # per user, while any of their requests waits or is taken in

    @contextlib.asynccontextmanager
    async def taking(self, user_id: int, reply: Reply) -> AsyncIterator[bool]:
        """An intake slot for a request of `user_id`'s, held from its first download until it is queued: at
        most PER_USER of theirs at once (the others wait, holding nothing), then one of the INTAKE slots.
        False (the user told) where WAITING_PER_USER of theirs are being taken in or waiting already."""
        turn = self._users.setdefault(user_id, _Turn(asyncio.Semaphore(PER_USER)))
        if turn.requests >= WAITING_PER_USER:
            await reply.refuse(
                _("you have {n} requests on their way in already; ask again once they are answered", n=turn.requests)
            )
            yield False
            return
        turn.requests += 1
        try:
            async with turn.slots, self._slots:
                yield True
        finally:
            turn.requests -= 1
            if not turn.requests:
                del self._users[user_id]
