"""Discord's limits on what a bot sends, and the one way this bot shortens text to fit them: visibly
("…"), never by letting Discord refuse the message; and how a user's own words are shown in its messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import discord

__all__ = ["ATTACHMENT_DESCRIPTION", "CONTENT", "EMBED_DESCRIPTION", "clip", "lines_within", "user_words"]

CONTENT = 2000  # characters of a message's content
ATTACHMENT_DESCRIPTION = 1024  # characters of an attachment's alt text
EMBED_DESCRIPTION = 4096  # characters of an embed's description


def clip(text: str, limit: int = CONTENT) -> str:
    """`text`, cut to `limit` characters with an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# A link Discord would turn into a preview under the bot's message (discord.py's pattern for links, less one
# already in <>, which Discord shows without a preview, and ending before a bracket).
_BARE_LINK = re.compile(r"(?<!<)(?:https?|steam)://[^\s<>()]*[^\s<>().,:;\"'\]]")


def user_words(text: str, limit: int) -> str:
    """A user's words (a prompt) as the bot shows them: on one line, cut to `limit`, pinging nobody, with
    their markdown shown as typed (no masked link, heading or spoiler) and their links without a preview,
    so that nobody can make the bot's message look like something the bot said."""
    text = clip(" ".join(text.split()), limit)
    shown = discord.utils.escape_markdown(discord.utils.escape_mentions(text))
    return _BARE_LINK.sub(lambda link: f"<{link.group(0)}>", shown)


def lines_within(
    lines: Sequence[str],
    limit: int = CONTENT,
    more: Callable[[int], str] = lambda left: f"…and {left} more",
    sep: str = "\n",
) -> str:
    """The lines joined by `sep`, as many whole lines as fit in `limit`, then how many were left out (`more`:
    those words in the reader's language). Items of a list joined by ", " are cut the same way."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        line = clip(line, limit - 40)
        left = len(lines) - index
        if used + len(line) + len(sep) > limit - (40 if left > 1 else 0):
            kept.append(more(left))
            break
        kept.append(line)
        used += len(line) + len(sep)
    return sep.join(kept)
