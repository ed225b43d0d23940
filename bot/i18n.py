"""Saying things in the user's language: the message catalogs (gettext `.po` files in bot/locales/, one per
Discord locale, read with Babel), the voice a reply speaks in, and the Translator that localizes the
command tree (names, descriptions, options, choices) when it is synced.

A sentence is written once, in English, where it is made (`_("…")` from generation.text); that English is
the catalogs' msgid. Command and option names carry a msgctxt ("command_name", "parameter_name"), because
Discord allows only lowercase letters, digits, `-` and `_` there. A locale with no catalog, or a message a
catalog lacks, is said in English.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import discord
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from discord import app_commands

from generation.text import Text, _

__all__ = [
    "ENGLISH",
    "LOCALES",
    "Catalogs",
    "MotionTranslator",
    "Voice",
    "more_lines",
    "placeholders",
    "voice_of",
]

log = logging.getLogger(__name__)

LOCALES = Path(__file__).parent / "locales"
ENGLISH = "en-US"
# The command tree's names: the msgctxt they are filed under (descriptions and choices have none).
NAME_CONTEXTS = {
    app_commands.TranslationContextLocation.command_name: "command_name",
    app_commands.TranslationContextLocation.group_name: "command_name",
    app_commands.TranslationContextLocation.parameter_name: "parameter_name",
}


def placeholders(template: str) -> set[str]:
    """The `{names}` a template formats (what a translation must keep)."""
    try:
        return {field for _text, field, _spec, _conversion in string.Formatter().parse(template) if field is not None}
    except ValueError:
        return {"<unbalanced braces>"}


class Voice:
    """Say a Text in one locale: `voice(text)` is the string to send."""

    def __init__(self, locale: str, catalog: Catalog | None):
        self.locale, self._catalog = locale, catalog

    def wording(self, message: str, context: str | None = None) -> str | None:
        """The catalog's translation of `message`, or None where it has none (fuzzy ones are not used)."""
        if self._catalog is None:
            return None
        found = self._catalog.get(message, context=context)
        if found is None or not found.string or found.fuzzy or not isinstance(found.string, str):
            return None
        return found.string

    def __call__(self, text: Text | str) -> str:
        if isinstance(text, str):
            text = Text(text)
        return text.render(lambda message: self.wording(message) or message)


class Catalogs:
    """Every language the bot speaks besides English, by Discord locale ("zh-CN", "ja", …)."""

    def __init__(self, catalogs: Mapping[str, Catalog]):
        self._catalogs = dict(catalogs)
        self._voices = {locale: Voice(locale, catalog) for locale, catalog in self._catalogs.items()}
        self._english = Voice(ENGLISH, None)

    @classmethod
    def load(cls, directory: Path = LOCALES) -> Catalogs:
        """Read every `<locale>.po` in `directory`."""
        catalogs = {}
        for path in sorted(directory.glob("*.po")):
            with path.open("rb") as file:
                catalogs[path.stem] = read_po(file, locale=None, charset="utf-8")
        log.info("speaking English and %s", ", ".join(catalogs) or "no other language")
        return cls(catalogs)

    @property
    def locales(self) -> list[str]:
        """The locales with a catalog."""
        return list(self._catalogs)

    def resolve(self, locale: discord.Locale | str | None) -> str:
        """The catalog's locale for a Discord locale: itself, else its language ("ja-JP" -> "ja"), else English."""
        wanted = str(locale.value if isinstance(locale, discord.Locale) else locale or ENGLISH)
        if wanted in self._catalogs:
            return wanted
        language = wanted.split("-")[0]
        return language if language in self._catalogs else ENGLISH

    def voice(self, locale: discord.Locale | str | None) -> Voice:
        return self._voices.get(self.resolve(locale), self._english)

    def missing(self, messages: Iterable[tuple[str, str | None]]) -> list[str]:
        """Each (msgid, msgctxt) some catalog does not translate, or translates naming other placeholders."""
        found = []
        for locale in self._catalogs:
            voice = self.voice(locale)
            for message, context in messages:
                wording = voice.wording(message, context)
                if wording is None:
                    found.append(f"{locale}: no translation of {message!r}" + (f" ({context})" if context else ""))
                elif placeholders(wording) != placeholders(message):
                    found.append(f"{locale}: {wording!r} names other {{values}} than {message!r}")
        return found


class MotionTranslator(app_commands.Translator):
    """Localizes the command tree from the catalogs, for every locale that has one."""

    def __init__(self, catalogs: Catalogs):
        self.catalogs = catalogs

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        if self.catalogs.resolve(locale) != locale.value:  # only exact locales: "ja" must not localize "en-GB"
            return None
        return self.catalogs.voice(locale).wording(string.message, NAME_CONTEXTS.get(context.location))


def voice_of(interaction: discord.Interaction) -> Voice:
    """The voice to answer `interaction` in: its user's locale, from the catalogs the command tree translates
    with (the tree's translator is the one place the bot keeps them for an interaction)."""
    translator = getattr(getattr(interaction.client, "tree", None), "translator", None)
    if isinstance(translator, MotionTranslator):
        return translator.catalogs.voice(interaction.locale)
    return Voice(ENGLISH, None)


def more_lines(say: Voice) -> Callable[[int], str]:
    """What `lines_within` writes for the lines that did not fit, in `say`'s language."""
    return lambda left: say(_("…and {left} more", left=left))
