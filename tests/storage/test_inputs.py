"""Input files on a real SQLite file: stored once, dropped when no job needs them, capped per user and server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Database
from storage.inputs import Inputs

G, U = 1, 10


@pytest.fixture
async def inputs(db: Database) -> AsyncIterator[Inputs]:
    yield Inputs(db, max_user_bytes=3000, max_guild_bytes=5000)


async def test_the_same_file_is_stored_once_and_kept_while_a_job_needs_it(inputs: Inputs) -> None:
    image = b"x" * 1000
    await inputs.put("a", image, G, U)
    await inputs.put("b", image, G, U + 1)  # a Reroll of the same picture, by someone else
    assert await inputs.stored_bytes() == 1000
    await inputs.release("a")
    assert await inputs.get("b") == image and await inputs.stored_bytes() == 1000
    await inputs.release("b")
    assert await inputs.get("b") is None and await inputs.stored_bytes() == 0


async def test_a_user_past_the_cap_loses_their_oldest_inputs_first(inputs: Inputs) -> None:
    for index in range(5):
        await inputs.put(f"u{index}", bytes([index]) * 1000, G, U)
    assert [await inputs.get(f"u{i}") is not None for i in range(5)] == [False, False, True, True, True]
    assert await inputs.stored_bytes() == 3000


async def test_a_server_past_its_cap_loses_its_oldest_inputs_first(inputs: Inputs) -> None:
    for index in range(7):  # seven users, 1000 bytes each: the server keeps 5000
        await inputs.put(f"s{index}", bytes([index]) * 1000, G, 100 + index)
    assert [await inputs.get(f"s{i}") is not None for i in range(7)] == [False, False, True, True, True, True, True]
    await inputs.put("other", b"y" * 1000, G + 1, U)  # another server has its own cap
    assert await inputs.get("other") is not None


async def test_old_inputs_are_pruned_with_their_files(inputs: Inputs) -> None:
    await inputs.put("old", b"z" * 500, G, U)
    assert await inputs.prune(older_than_s=-1) == 1
    assert await inputs.stored_bytes() == 0


async def test_a_jobs_files_in_slots_are_kept_and_go_together(inputs: Inputs) -> None:
    await inputs.put("m", b"f" * 1000, G, U)
    await inputs.put("m", b"l" * 1000, G, U, slot="end")
    assert (await inputs.get("m"), await inputs.get("m", slot="end")) == (b"f" * 1000, b"l" * 1000)
    await inputs.put("n", b"n" * 1500, G, U)  # past the user's 3000 bytes: the oldest job goes, both its files
    assert await inputs.get("m") is None and await inputs.get("m", slot="end") is None
    await inputs.put("o", b"o" * 500, G, U, slot="end")
    await inputs.release("o")
    assert await inputs.get("o", slot="end") is None and await inputs.get("n") == b"n" * 1500
