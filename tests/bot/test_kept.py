"""What the bot remembers for a while is forgotten in time, and never grows past its bound."""

from __future__ import annotations

import pytest

from bot import kept
from bot.kept import Kept


def test_a_value_is_forgotten_after_its_time_and_the_oldest_go_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(kept.time, "monotonic", lambda: now[0])
    drafts: Kept[str, int] = Kept(ttl_s=60, most=3)
    drafts.keep("a", 1)
    now[0] += 30
    drafts.keep("b", 2)
    assert drafts.get("a") == 1 and "b" in drafts
    now[0] += 31  # "a" is 61 s old, "b" 31 s
    assert drafts.get("a") is None and drafts.get("b") == 2 and len(drafts) == 1
    drafts.keep("b", 3)  # kept again: its time starts again
    now[0] += 45
    assert drafts.get("b") == 3
    for key in "cdef":
        drafts.keep(key, 0)
    assert len(drafts) == 3 and "b" not in drafts and "c" not in drafts, "the oldest went first"
    assert drafts.drop("f") == 0 and drafts.drop("f") is None
