"""Discord's limits on what a bot may send, checked the way Discord checks them: a payload over a limit is
refused with 400 and code 50035 ("Invalid Form Body"), naming the field, and nothing is posted."""

from __future__ import annotations

from typing import Any

import regex

CONTENT = 2000
ATTACHMENT_DESCRIPTION = 1024  # an attachment's alt text
EMBEDS = 10
EMBED = {"title": 256, "description": 4096}
EMBED_FIELD = {"name": 256, "value": 1024}
EMBED_TOTAL = 6000
ROWS, PER_ROW = 5, 5
BUTTON_LABEL, CUSTOM_ID = 80, 100
MODAL_TITLE, INPUT_LABEL, INPUT_VALUE, PLACEHOLDER = 45, 45, 4000, 100
SELECT_OPTIONS, OPTION_TEXT, SELECT_PLACEHOLDER = 25, 100, 150  # a select menu's options, their label and value


COMMANDS, OPTIONS, CHOICES = 100, 25, 25  # per application; per command or option; per option
MENUS = 5  # user menus (type 2) and message menus (type 3), each, per application
NAME, DESCRIPTION = 32, 100  # of a command, an option, a choice's name (100)
COMMAND_SIZE = 8000  # a command's names, descriptions and choice values together (the longest locale of each)
# Discord's locales (https://discord.com/developers/docs/reference#locales): a localization under any other
# key refuses the whole sync.
LOCALES = frozenset(
    {
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    }
)
# A slash command's or option's name, in every locale: lowercase where the script has case.
CHAT_NAME = regex.compile(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")


def command_problems(commands: Any) -> list[str]:
    """What in a bulk command overwrite (PUT .../commands) breaks Discord's limits: one bad field refuses
    the whole list, and the bot then has no slash commands at all."""
    if not isinstance(commands, list):
        return []
    found = [f"commands: at most {COMMANDS}"] if len(commands) > COMMANDS else []
    for kind, what in ((2, "user"), (3, "message")):
        if sum(1 for command in commands if isinstance(command, dict) and command.get("type") == kind) > MENUS:
            found.append(f"commands: at most {MENUS} {what} menus")

    def localized(item: dict[str, Any], key: str, where: str, limit: int, chat_name: bool = False) -> None:
        for locale, text in (item.get(f"{key}_localizations") or {}).items():
            if locale not in LOCALES:
                found.append(f"{where}.{key}_localizations: {locale!r} is not a Discord locale")
            elif not 1 <= len(str(text)) <= limit:
                found.append(f"{where}.{key}_localizations.{locale}: must be 1–{limit} in length")
            elif chat_name and (not CHAT_NAME.match(str(text)) or str(text) != str(text).lower()):
                found.append(f"{where}.{key}_localizations.{locale}: {text!r} is not a valid command or option name")

    def check(item: dict[str, Any], where: str, menu: bool = False) -> None:
        name, description = str(item.get("name") or ""), str(item.get("description") or "")
        if not 1 <= len(name) <= NAME:
            found.append(f"{where}.name: must be 1–{NAME} in length")
        if not menu and not 1 <= len(description) <= DESCRIPTION:
            found.append(f"{where}.description: must be 1–{DESCRIPTION} in length (got {len(description)})")
        localized(item, "name", where, NAME, chat_name=not menu)
        localized(item, "description", where, DESCRIPTION)
        options = item.get("options") or []
        if len(options) > OPTIONS:
            found.append(f"{where}.options: at most {OPTIONS}")
        for index, option in enumerate(options):
            check(option, f"{where}.options.{index}")
            choices = option.get("choices") or []
            if len(choices) > CHOICES:
                found.append(f"{where}.options.{index}.choices: at most {CHOICES}")
            for number, choice in enumerate(choices):
                if not 1 <= len(str(choice.get("name") or "")) <= DESCRIPTION:
                    found.append(f"{where}.options.{index}.choices.{number}.name: must be 1–100 in length")
                localized(choice, "name", f"{where}.options.{index}.choices.{number}", DESCRIPTION)

    for index, command in enumerate(commands):
        check(command, str(index), menu=command.get("type", 1) != 1)
        if (size := _size(command)) > COMMAND_SIZE:
            found.append(f"{index}: APPLICATION_COMMAND_TOO_LARGE ({size} characters, at most {COMMAND_SIZE})")
    return found


def _size(item: dict[str, Any]) -> int:
    """A command's size as Discord counts it: every name, description and choice value, each at the length of
    its longest localization (https://github.com/discord/discord-api-docs/pull/5343)."""

    def longest(entry: dict[str, Any], key: str) -> int:
        texts = [entry.get(key) or "", *(entry.get(f"{key}_localizations") or {}).values()]
        return max(len(str(text)) for text in texts)

    total = longest(item, "name") + longest(item, "description")
    for choice in item.get("choices") or []:
        total += longest(choice, "name") + len(str(choice.get("value") or ""))
    return total + sum(_size(option) for option in item.get("options") or [])


def problems(payload: Any) -> list[str]:
    """What in a message (or interaction callback / modal) payload breaks Discord's limits."""
    if isinstance(payload, list):
        return command_problems(payload)
    if not isinstance(payload, dict):
        return []
    if payload.get("type") == 9:  # a modal
        return _modal(payload.get("data") or {})
    if payload.get("type") == 8:  # autocomplete suggestions
        return _suggestions((payload.get("data") or {}).get("choices") or [])
    if "type" in payload and isinstance(payload.get("data"), dict):  # an interaction callback with a message
        payload = payload["data"]
    found = []
    if len(payload.get("content") or "") > CONTENT:
        found.append(f"content: must be {CONTENT} or fewer in length (got {len(payload['content'])})")
    for index, attachment in enumerate(payload.get("attachments") or []):
        if len(attachment.get("description") or "") > ATTACHMENT_DESCRIPTION:
            found.append(f"attachments.{index}.description: must be {ATTACHMENT_DESCRIPTION} or fewer in length")
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS:
        found.append(f"embeds: at most {EMBEDS}")
    total = 0
    for index, embed in enumerate(embeds):
        for key, limit in EMBED.items():
            total += len(embed.get(key) or "")
            if len(embed.get(key) or "") > limit:
                found.append(f"embeds.{index}.{key}: must be {limit} or fewer in length")
        for number, item in enumerate(embed.get("fields") or []):
            for key, limit in EMBED_FIELD.items():
                total += len(item.get(key) or "")
                if len(item.get(key) or "") > limit:
                    found.append(f"embeds.{index}.fields.{number}.{key}: must be {limit} or fewer in length")
    if total > EMBED_TOTAL:
        found.append(f"embeds: {total} characters in all, the limit is {EMBED_TOTAL}")
    return found + _components(payload.get("components") or [])


def _components(rows: list[dict[str, Any]]) -> list[str]:
    found = [f"components: at most {ROWS} rows"] if len(rows) > ROWS else []
    for row in rows:
        items = row.get("components") or []
        if len(items) > PER_ROW:
            found.append(f"components: at most {PER_ROW} in a row")
        for item in items:
            if len(item.get("custom_id") or "") > CUSTOM_ID:
                found.append(f"custom_id: must be {CUSTOM_ID} or fewer in length")
            if item.get("type") == 2 and len(item.get("label") or "") > BUTTON_LABEL:
                found.append(f"button label: must be {BUTTON_LABEL} or fewer in length")
            if item.get("type") == 3:  # a select menu
                options = item.get("options") or []
                if not 1 <= len(options) <= SELECT_OPTIONS:
                    found.append(f"select options: must be 1–{SELECT_OPTIONS}")
                if len(item.get("placeholder") or "") > SELECT_PLACEHOLDER:
                    found.append(f"select placeholder: must be {SELECT_PLACEHOLDER} or fewer in length")
                for option in options:
                    for key in ("label", "value", "description"):
                        if len(option.get(key) or "") > OPTION_TEXT:
                            found.append(f"select option {key}: must be {OPTION_TEXT} or fewer in length")
            if item.get("type") == 4:
                for key, limit in (("label", INPUT_LABEL), ("value", INPUT_VALUE), ("placeholder", PLACEHOLDER)):
                    if len(item.get(key) or "") > limit:
                        found.append(f"text input {key}: must be {limit} or fewer in length")
                if len(item.get("value") or "") > int(item.get("max_length") or INPUT_VALUE):
                    found.append("text input value: longer than its max_length")
    return found


def _suggestions(choices: list[dict[str, Any]]) -> list[str]:
    found = [f"choices: at most {CHOICES}"] if len(choices) > CHOICES else []
    for number, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name") or "")) <= DESCRIPTION:
            found.append(f"choices.{number}.name: must be 1–100 in length")
        if len(str(choice.get("value") or "")) > DESCRIPTION:
            found.append(f"choices.{number}.value: must be 100 or fewer in length")
    return found


def _modal(data: dict[str, Any]) -> list[str]:
    found = [f"title: must be {MODAL_TITLE} or fewer in length"] if len(data.get("title") or "") > MODAL_TITLE else []
    if len(data.get("custom_id") or "") > CUSTOM_ID:
        found.append(f"custom_id: must be {CUSTOM_ID} or fewer in length")
    return found + _components(data.get("components") or [])


def empty(payload: dict[str, Any], files: int) -> bool:
    """Whether a new message (or a message as an edit leaves it) would show nothing: Discord refuses one with
    no text (blank text counts as none), embeds, files or stickers (50006)."""
    return not (
        (payload.get("content") or "").strip()
        or payload.get("embeds")
        or payload.get("attachments")
        or files
        or payload.get("sticker_ids")
        or payload.get("poll")
    )


EMPTY_MESSAGE = {"message": "Cannot send an empty message", "code": 50006}


def invalid_form_body(found: list[str]) -> dict[str, Any]:
    """Discord's answer to a payload over its limits."""
    return {"message": "Invalid Form Body", "code": 50035, "errors": {"_errors": [{"message": m} for m in found]}}
