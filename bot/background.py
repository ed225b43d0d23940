"""Work the bot runs apart from the request that started it (a refusal on its way to Discord, a moderation-log
post, a status message Discord is slow to show): each task held until it is done (the event loop keeps only
weak references to tasks), at most a bound of them at once."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["Background"]


class Background:
    """Tasks run apart, `most` at a time at most (None: no bound)."""

    def __init__(self, most: int | None = None):
        self.most = most
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def full(self) -> bool:
        return self.most is not None and len(self._tasks) >= self.most

    def start(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None:
        """Run `work` apart as a task named `name` ("motionbot: …": the bot gives those time to end when it
        stops); None, and `work` dropped, when `most` already run."""
        if self.full:
            work.close()
            return None
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
