"""Fixtures of the engine tests: settings that point every registry model at the tiny random weights."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generation.settings import GenerationSettings


@pytest.fixture(scope="module")
def settings(tiny_models: dict[str, str]) -> Iterator[GenerationSettings]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in tiny_models.items():
            patch.setenv(key, value)
        yield GenerationSettings(_env_file=None)  # type: ignore[call-arg]
