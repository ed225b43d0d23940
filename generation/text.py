"""The sentences users see, carried as their English template and the values they name, so that the bot
can say each one in the user's language (bot/i18n.py, catalogs in bot/locales/*.po).

    raise OptionError(..., _("`{flag}` must be {allowed}, got `{value}`", flag=..., allowed=..., value=...))

The template is the catalogs' msgid, so a sentence is written once, in English, where it is made; `str()`
of a Text is that English. A value may itself be a Text (translated too) or plain data (numbers, names,
what the user typed: never translated). Torch-free: the contract, the bot and the worker all make them,
and they cross Redis as plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Said", "Text", "_"]


@dataclass(frozen=True)
class Text:
    message: str  # the English template: "`{flag}` must be {allowed}"
    args: tuple[tuple[str, Any], ...] = ()  # the values it names: str, int, float or Text

    def render(self, wording: Callable[[str], str]) -> str:
        """This sentence, with `wording` giving each template in the wanted language (or None: English)."""
        template = wording(self.message)
        if not self.args:
            return template
        values = {key: value.render(wording) if isinstance(value, Text) else value for key, value in self.args}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):  # a translation naming a value it does not get: the English
            return self.message.format(**values)

    def __str__(self) -> str:
        return self.render(lambda template: template)

    def to_dict(self) -> dict[str, Any]:
        args = {key: value.to_dict() if isinstance(value, Text) else value for key, value in self.args}
        return {"message": self.message, "args": args}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Text:
        args = data.get("args") or {}
        values = {str(k): cls.from_dict(v) if isinstance(v, Mapping) else v for k, v in args.items()}
        return cls(str(data.get("message", "")), tuple(values.items()))


def _(message: str, /, **args: Any) -> Text:
    """`message` (a catalog msgid, in English) with the values its `{names}` stand for."""
    return Text(message, tuple(args.items()))


class Said(Exception):
    """An error whose message is for the user: `text` in their language, `str()` in English."""

    def __init__(self, text: Text | str):
        self.text = text if isinstance(text, Text) else Text(text)
        super().__init__(str(self.text))
