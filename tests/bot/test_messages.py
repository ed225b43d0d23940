"""A job's messages: what the bot remembers about interaction tokens Discord refused stays bounded."""

from __future__ import annotations

import time
from typing import Any

import discord
import pytest

from bot.exts.video._messages import JobMessages
from storage.jobs import JobRecord


class _Gone:  # what discord.py reads of Discord's HTTP answer
    status, reason = 404, "Not Found"


async def test_a_refused_token_is_remembered_only_until_it_would_have_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    class Webhook:
        async def edit_message(self, *args: Any, **kwargs: Any) -> None:
            raise discord.NotFound(_Gone(), {"message": "Unknown Webhook", "code": 10015})  # type: ignore[arg-type]

    monkeypatch.setattr(discord.Webhook, "partial", lambda *args, **kwargs: Webhook())
    messages, now = JobMessages(discord.Client(intents=discord.Intents.none())), time.time()

    def record(token: str, expires: float) -> JobRecord:
        ids = {"application_id": 4, "status_message_id": 5}
        return JobRecord("j", 1, 2, 3, "t2v", "m", interaction_token=token, token_expires_at=expires, **ids)

    assert not await messages.edit(record("soon", now + 0.2), "text", None)
    assert not await messages.edit(record("later", now + 900), "text", None)
    assert set(messages.dead_tokens) == {"soon", "later"}, "a refused token is not tried again"
    time.sleep(0.3)
    assert not await messages.edit(record("next", now + 900), "text", None)
    assert set(messages.dead_tokens) == {"later", "next"}, "the expired one is forgotten"
