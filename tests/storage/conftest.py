from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.guilds import Guilds
from storage.quotas import Quotas
from storage.settings import StorageSettings


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def defaults() -> StorageSettings:
    return StorageSettings(_env_file=None, daily_credits=150, dm_daily_credits=50, max_queued=1000)  # type: ignore[call-arg]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "motionbot.db")
    yield database
    await database.close()


@pytest.fixture
def guilds(db: Database, defaults: StorageSettings) -> Guilds:
    return Guilds(db, defaults)


@pytest.fixture
def quotas(db: Database, guilds: Guilds, clock: Clock) -> Quotas:
    return Quotas(db, guilds, clock)
