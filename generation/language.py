"""Which language a prompt is written in, deterministically and cheaply, so a prompt for a model whose text
encoder reads only English can be translated first (`generation.translate`). Torch-free.

- Hangul -> "ko", kana -> "ja", other Han characters -> "zh" (Simplified and Traditional alike): any such
  character decides, since an English-only encoder cannot read it even inside an English prompt.
- Another non-Latin script (Cyrillic, Arabic, Greek, Thai, …) that makes up most of the letters: py3langid
  names the language among all it knows.
- Latin script: py3langid among the common Latin-script languages, believed only for three words or more
  and a probability of at least `SURE`; anything else reads as English. Short prompts ("a cat", "cyberpunk
  samurai") are too short to tell, and leaving English untouched matters more than translating every word.
  `loose` believes its best guess whatever the length: for a check that reads a translation beside the
  words as written, where translating English costs only time.

Pika flags are parsed off before a prompt gets here (`generation.options`): flags are never translated.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

__all__ = ["ENGLISH", "SURE", "detect"]

ENGLISH = "en"
SURE = 0.95
_LATIN = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "no", "fi", "cs", "tr", "id", "vi", "ro", "hu")


def _script(char: str) -> str:
    code = ord(char)
    if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF or code >= 0x20000:
        return "han"
    return "latin" if unicodedata.name(char, "").startswith("LATIN") else "other"


def detect(text: str, loose: bool = False) -> str:
    """The ISO 639-1 code of the language `text` is written in; "en" when it cannot tell (`loose`: its best
    guess for Latin script, however short)."""
    scripts = [_script(char) for char in text if char.isalpha()]
    for script, language in (("hangul", "ko"), ("kana", "ja"), ("han", "zh")):
        if script in scripts:
            return language
    others = scripts.count("other")
    if others and others >= scripts.count("latin"):
        language, _ = _identifier(None).classify(text)
        return str(language)
    if len(text.split()) < 3 and not loose:
        return ENGLISH
    language, probability = _identifier(_LATIN).classify(text)
    return str(language) if probability >= SURE or loose else ENGLISH


@functools.cache
def _identifier(languages: tuple[str, ...] | None) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # numpy: in the worker, on the first prompt

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages:
        identifier.set_languages(list(languages))
    return identifier
