"""Every setting the code reads is documented in .env.example and in the README's settings table."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from bot.settings import BotSettings
from generation.queue_redis import QueueSettings
from generation.settings import GenerationSettings, ModelOverrides
from storage.settings import StorageSettings

ROOT = Path(__file__).resolve().parents[1]


def env_names(cls: type[BaseSettings]) -> list[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = []
    for name, field in cls.model_fields.items():
        if name == "models":
            continue  # the per-model fields (MOTIONBOT_<MODEL>__<FIELD>) are checked below
        alias = field.validation_alias
        names.append(alias if isinstance(alias, str) else (prefix + name).upper())
    return names


@pytest.mark.parametrize("cls", [BotSettings, QueueSettings, GenerationSettings, StorageSettings])
def test_each_setting_is_in_env_example_and_readme(cls: type[BaseSettings]) -> None:
    example, readme = (ROOT / ".env.example").read_text(), (ROOT / "README.md").read_text()
    for name in env_names(cls):
        assert name in example, f"{name} is missing from .env.example"
        short = name.removeprefix("MOTIONBOT_QUEUE__").removeprefix("MOTIONBOT_")
        assert name in readme or short in readme, f"{name} is missing from README.md"


def test_each_per_model_field_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for field in ModelOverrides.model_fields:
        assert f"`{field.upper()}`" in readme, f"per-model field {field} is missing from README.md"
