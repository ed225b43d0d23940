"""How each option's value is read and checked (torch-free): a whole number or a number in a range, an
aspect, a model, a style, an effect, a camera move, a switch, or text on one line (controls, bidirectional
overrides and invisible characters taken out). Each reader takes the flag as typed and the raw value and returns
the value, or raises an `OptionError` naming the flag, the value and what is allowed. `generation/options.py`
holds the table of options built from them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from generation.effects import effects
from generation.registry import KNOWN_MODELS
from generation.styles import styles
from generation.text import Said, Text, _
from generation.values import CAMERA_HELP, Aspect, Camera

__all__ = [
    "MOST_PROBLEMS",
    "Option",
    "OptionError",
    "aspect",
    "camera",
    "effect",
    "model",
    "number",
    "number_in",
    "style",
    "switch",
    "text",
    "whole",
    "whole_in",
]

MOST_PROBLEMS = 5  # what a message tells of the problems a flags line has: each line is short, five fit


class OptionError(Said, ValueError):
    """An option a user gave is unknown or out of range; the message is safe to show them."""

    def __init__(self, flag: str, value: object, allowed: Text | str, message: Text | None = None):
        self.flag, self.value, self.allowed = flag, value, allowed
        written = f"{value:g}" if isinstance(value, float) else str(value)  # `16`, as typed, not `16.0`
        shown = value if isinstance(value, Text) else written.replace("`", "'")  # it stays in its code span
        shown = shown if isinstance(shown, Text) or len(shown) <= 40 else shown[:39] + "…"
        super().__init__(
            message or _("`{flag}` must be {allowed}, got `{value}`", flag=flag, allowed=allowed, value=shown)
        )

    @classmethod
    def together(cls, problems: list[OptionError]) -> OptionError:
        """One error telling `problems` (the first MOST_PROBLEMS), one to a line."""
        if len(problems) == 1:
            return problems[0]
        told = problems[:MOST_PROBLEMS]
        lines = Text(
            "\n".join(f"{{p{n}}}" for n in range(len(told))), tuple((f"p{n}", p.text) for n, p in enumerate(told))
        )
        first = problems[0]
        return cls(first.flag, first.value, first.allowed, lines)


def whole_in(low: int, high: int) -> Callable[[str, object], int]:
    def check(flag: str, raw: object) -> int:
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?[0-9]{1,12}", text):
            raise OptionError(flag, raw, _("a whole number from {low} to {high}", low=low, high=high))
        value = int(text)
        if not low <= value <= high:
            raise OptionError(flag, raw, f"{low}–{high}")
        return value

    return check


def number_in(low: float, high: float) -> Callable[[str, object], float]:
    def check(flag: str, raw: object) -> float:
        text = re.sub(r"(?<=[0-9]),(?=[0-9])", ".", str(raw).strip())  # a decimal comma, as much of Europe writes
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?([0-9]{1,9}(\.[0-9]{0,6})?|\.[0-9]{1,6})", text):
            raise OptionError(flag, raw, _("a number from {low} to {high}", low=f"{low:g}", high=f"{high:g}"))
        value = float(text)
        if not low <= value <= high:
            raise OptionError(flag, raw, f"{low:g}–{high:g}")
        return value

    return check


def aspect(flag: str, raw: object) -> Aspect:
    """16:9 as typed on any keyboard: 16x9, 16/9, 16×9, a CJK keyboard's full-width "１６：９"."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw))).lower()
    text = re.sub(r"[x×/]", ":", text)
    if text not in set(Aspect):
        raise OptionError(flag, raw, _("one of {names}", names=", ".join(Aspect)))
    return Aspect(text)


def model(flag: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in KNOWN_MODELS:
        raise OptionError(flag, raw, _("one of {names}", names=", ".join(KNOWN_MODELS)))
    return text


# Characters a prompt never needs and an echo must not carry: controls (NUL, escapes) read as spaces; the
# bidirectional overrides that would turn the rest of the bot's message around, and the characters that show
# nothing (zero-width space, soft hyphen, word joiners, Hangul fillers), dropped: a prompt of them is empty.
# The joiners that emoji and some scripts need (U+200C, U+200D) stay.
_UNSHOWN = (
    {code: " " for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
    | {code: None for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, *range(0x2060, 0x2065), 0xFEFF)}
    | dict.fromkeys((0xAD, 0x34F, 0x115F, 0x1160, 0x180E, 0x3164, 0xFFA0))
)


# What a region's words never need and the messages that quote them must not carry: Discord's markdown, and
# the colon of a link (which Discord would preview under the message).
_MARKDOWN = dict.fromkeys(map(ord, "`*_~|[]()<>#\\:"), " ")


def text(limit: int, plain: bool = False) -> Callable[[str, object], str]:
    """Text of at most `limit` characters, on one line; `plain`: without markdown (quoted as it is)."""

    def check(flag: str, raw: object) -> str:
        text = str(raw).translate(_UNSHOWN)
        text = " ".join((text.translate(_MARKDOWN) if plain else text).split())
        if len(text) > limit:
            raise OptionError(
                flag, _("{count} characters", count=len(text)), _("at most {limit} characters", limit=limit)
            )
        return text

    return check


def switch(flag: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false", "yes", "no", "on", "off"):
        raise OptionError(flag, raw, _("on or off"))
    return text in ("true", "yes", "on")


def style(flag: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in styles():
        raise OptionError(flag, raw, _("one of {names}", names=", ".join(styles())))
    return text


def effect(flag: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in effects():
        raise OptionError(flag, raw, _("one of {names}", names=", ".join(effects())))
    return text


def camera(flag: str, raw: object) -> Camera:
    camera = raw if isinstance(raw, Camera) else Camera.parse(str(raw))
    if camera is None:
        raise OptionError(flag, raw, CAMERA_HELP)
    return camera


@dataclass(frozen=True)
class Option:
    check: Callable[[str, Any], Any]
    flags: tuple[str, ...]  # the names users type; the first is the one the echo line uses
    switch: bool = False  # a flag without a value: `-upscale`
    values: str = ""  # what it takes, as /help shows it: "0–4"


def whole(low: int, high: int, flags: tuple[str, ...]) -> Option:
    """An option taking a whole number in `low`..`high` (its range written once: checked and shown)."""
    return Option(whole_in(low, high), flags, values=f"{low}–{high}")


def number(low: float, high: float, flags: tuple[str, ...]) -> Option:
    """An option taking a number in `low`..`high`."""
    return Option(number_in(low, high), flags, values=f"{low:g}–{high:g}")
