"""What the bot remembers for a short while in memory (a refused request, a Remix form's draft, who was
told how to ask): each value for a fixed time, and never more than a bound of them at once."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K")
V = TypeVar("V")


class Kept(Generic[K, V]):
    """Values by key, each forgotten `ttl_s` after it was kept; past `most` of them the oldest go first."""

    def __init__(self, ttl_s: float, most: int = 10_000):
        self.ttl_s, self.most = ttl_s, most
        self._values: OrderedDict[K, tuple[float, V]] = OrderedDict()  # oldest first

    def keep(self, key: K, value: V) -> None:
        self._values.pop(key, None)
        self._values[key] = (time.monotonic(), value)
        self._forget()

    def get(self, key: K) -> V | None:
        self._forget()
        kept = self._values.get(key)
        return kept[1] if kept is not None else None

    def drop(self, key: K) -> V | None:
        kept = self._values.pop(key, None)
        return kept[1] if kept is not None else None

    def __contains__(self, key: object) -> bool:
        self._forget()
        return key in self._values

    def __len__(self) -> int:
        self._forget()
        return len(self._values)

    def _forget(self) -> None:
        """Let go of the values past their time, and the oldest beyond `most`."""
        now = time.monotonic()
        while self._values and (
            len(self._values) > self.most or now - next(iter(self._values.values()))[0] > self.ttl_s
        ):
            self._values.popitem(last=False)
