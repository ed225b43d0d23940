"""Discord's limits on what a bot sends, and the one way this bot shortens text to fit them: visibly
("…"), never by letting Discord refuse the message."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["ATTACHMENT_DESCRIPTION", "CONTENT", "clip", "lines_within"]

CONTENT = 2000  # characters of a message's content
ATTACHMENT_DESCRIPTION = 1024  # characters of an attachment's alt text


def clip(text: str, limit: int = CONTENT) -> str:
    """`text`, cut to `limit` characters with an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
