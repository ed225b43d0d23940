"""Prompts in a language a model's text encoder does not read, translated to English in the worker with
MarianMT (opus-mt) models: `MOTIONBOT_TRANSLATORS` maps a language code to a hub id or folder, "*" serving
every language without its own model (opus-mt-mul-en). Each model loads on first use and runs on the CPU
(a few hundred MB: the GPU keeps its memory for the video model). One text at a time, a small beam search
and no sampling: the same prompt always gives the same English, as a seeded render must.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch
from transformers import AutoTokenizer, MarianMTModel

from generation.weights import component, local_only

__all__ = ["Translator"]

_BEAMS = 4
_RECENT = 256  # translations kept: a prompt is read for its model and again for the check, a Reroll again
_MAX_TOKENS = 256  # Discord's prompt limit is far shorter; this bounds a runaway random model too


class Translator:
    def __init__(self, sources: Mapping[str, str]):
        self.sources = {language: source for language, source in sources.items() if source}
        self._models: dict[str, tuple[Any, MarianMTModel]] = {}
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str], str] = OrderedDict()  # (language, text) -> English

    def source_for(self, language: str) -> str | None:
        """The model that translates `language` to English, if any."""
        return self.sources.get(language) or self.sources.get("*")

    def translate(self, text: str, language: str) -> str:
        """`text` (in `language`) in English; unchanged when no model translates `language`."""
        source = self.source_for(language)
        if source is None or not text:
            return text
        with self._lock:
            if (known := self._recent.get((language, text))) is not None:
                self._recent.move_to_end((language, text))
                return known
        english = self._translate(text, source)
        with self._lock:
            self._recent[(language, text)] = english
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return english

    def _translate(self, text: str, source: str) -> str:
        tokenizer, model = self._load(source)
        batch = tokenizer([text], return_tensors="pt", truncation=True, max_length=_MAX_TOKENS)
        longest = min(_MAX_TOKENS, 3 * batch["input_ids"].shape[1] + 8)  # English runs longer than CJK
        with torch.no_grad():
            out = model.generate(**batch, num_beams=_BEAMS, max_new_tokens=longest, do_sample=False)
        return str(tokenizer.decode(out[0], skip_special_tokens=True)).strip() or text

    def _load(self, source: str) -> tuple[Any, MarianMTModel]:
        with self._lock:
            if source not in self._models:
                with component("worker", "prompt translator", source, setting="MOTIONBOT_TRANSLATORS"):
                    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only(source))
                    model = MarianMTModel.from_pretrained(source, local_files_only=local_only(source))
                self._models[source] = (tokenizer, model.eval())
            return self._models[source]
