"""How the bot answers a failure no handler planned for (bot/errors.py)."""

from __future__ import annotations

import logging

import discord
import pytest

from bot.errors import tell


class _Expired:  # what discord.py reads of Discord's answer to an acknowledgement after its 3 s
    status, reason = 404, "Not Found"


async def test_an_interaction_discord_no_longer_knows_is_a_warning_and_is_not_answered_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Interaction:  # only its id may be read: answering it again would only meet 10062 again
        id = 42

    error = discord.NotFound(_Expired(), {"message": "Unknown interaction", "code": 10062})  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="bot.errors"):
        await tell(Interaction(), error)  # type: ignore[arg-type]
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "expired before it was acknowledged" in record.getMessage()
    assert record.exc_info is None, "no traceback: not a bug of the bot's"
