"""Load settings classes from the environment / `.env` and turn validation errors into lines that name the
variable, the value it has (secrets masked) and what is expected. Torch-free: the bot uses it too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

__all__ = ["SettingsError", "load", "mask_url"]

S = TypeVar("S", bound=BaseSettings)
_SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY")


class SettingsError(ValueError):
    """One or more settings are wrong; `lines` says which and why, one line each."""

    def __init__(self, lines: Sequence[str]):
        super().__init__("\n".join(lines))
        self.lines = list(lines)


def load(cls: type[S]) -> S:
    """Build `cls` from the environment; raise SettingsError with readable lines if a value is wrong."""
    try:
        return cls()
    except ValidationError as exc:
        raise SettingsError([_line(cls, error) for error in exc.errors()]) from None


def mask_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def _line(cls: type[BaseSettings], error: Any) -> str:
    name = _variable(cls, tuple(error["loc"]))
    if error["type"] == "missing":
        return f"{name} is not set; copy .env.example to .env and fill it in"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith(name):  # a validator that already wrote the whole sentence
        return message
    return f"{name}={_shown(name, error.get('input'))} is not valid: {message}"


def _variable(cls: type[BaseSettings], loc: tuple[Any, ...]) -> str:
    """The environment variable a pydantic error location comes from."""
    if not loc:
        return "a setting"
    config = cls.model_config
    field = cls.model_fields.get(str(loc[0]))
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    if loc[0] == "models" and len(loc) > 1:  # GenerationSettings.models comes from MOTIONBOT_<MODEL>__<FIELD>
        loc = (str(loc[1]).replace("-", "_"), *loc[2:])
    prefix = str(config.get("env_prefix") or "")
    delimiter = str(config.get("env_nested_delimiter") or "__")
    return (prefix + delimiter.join(str(part) for part in loc if not isinstance(part, int))).upper()


def _shown(name: str, value: Any) -> str:
    if isinstance(value, SecretStr) or (value and any(word in name for word in _SECRET_WORDS)):
        return "***"
    if isinstance(value, str) and "://" in value:
        return repr(mask_url(value))
    return repr(value)
