"""The server settings `/motionbot-admin set` takes: their names, each value as an admin types it read and
checked (`read_setting`) and shown back (`setting_shown`), and a range refused in the options' own words
(`out_of_range`)."""

from __future__ import annotations

from typing import Any

from generation.options import OptionError
from generation.text import Text, _
from storage.guilds import SettingError

__all__ = ["SETTINGS", "out_of_range", "read_setting", "setting_shown"]

SETTINGS = [
    "enabled",
    "daily_credits",
    "timezone",
    "cooldown_s",
    "max_queued",
    "max_frames",
    "max_pixels",
    "max_steps",
    "language",
    "default_flags",
]
_TRUE, _FALSE = {"true", "on", "yes", "1"}, {"false", "off", "no", "0"}


def read_setting(key: str, text: str, languages: list[str]) -> Any:
    text = text.strip()
    if key == "enabled":
        if text.lower() not in _TRUE | _FALSE:
            raise SettingError(_("`enabled` must be on or off"))
        return text.lower() in _TRUE
    if key == "timezone":
        return text
    if key == "default_flags":  # none: no defaults of the server's own
        return None if text.lower() in ("none", "off", "") else text
    if key == "language":  # the channel messages' language; auto: the server's own in Discord
        if text.lower() in ("auto", "none", ""):
            return None
        known = {language.lower(): language for language in languages}
        if text.lower() not in known:
            raise SettingError(_("`language` must be auto or one of {names}", names=", ".join(languages)))
        return known[text.lower()]
    if key.startswith("max_") and key != "max_queued" and text.lower() in ("none", "off", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise SettingError(_("`{key}` must be a whole number, got `{value}`", key=key, value=text[:40])) from None


def setting_shown(key: str, value: Any) -> str:
    """A setting's value as an admin types it: on/off, none for no limit, auto for the server's language."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "auto" if key == "language" else "none"
    return f"`{value}`" if key == "default_flags" else str(value)


def out_of_range(name: str, value: int, low: int, high: int) -> Text | None:
    """Why `value` is refused, or None: Discord checks a declared range in its client, but anything may
    reach the bot over the API, so each range is checked again here."""
    if low <= value <= high:
        return None
    return _("⚠️ {error}", error=OptionError(name, value, f"{low}–{high}").text)  # the options' own words
