"""Effects: what happens to the subject of the picture (`-effect melt`), as data (torch-free).

Each effect in `effects.toml` beside this file is a sentence about the action, told to a model that reads
prompts after the user's own prompt (which then describes the scene), and words added to the negative
prompt. The bot checks an effect against the model before a job is queued (`job_builder.build_job`); the
worker shapes the prompt with it when it plans the job (`styles.shaped`), so the ledger, the echo line and
Remix keep what the user typed.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Effect", "effects"]

_FILE = Path(__file__).with_name("effects.toml")


@dataclass(frozen=True)
class Effect:
    name: str
    description: str
    prompt: str  # the action, a sentence about "the main subject"
    negative: str

    def apply(self, prompt: str, negative: str) -> tuple[str, str]:
        """The user's prompt (the scene) followed by the action, and the negative prompt with the effect's."""
        scene = prompt.strip()
        ended = scene.endswith((".", "!", "?", "。", "！", "？"))  # its own sentence already ends
        told = f"{scene[0].upper()}{scene[1:]}{'' if ended else '.'} {self.prompt}" if scene else self.prompt
        return told, ", ".join(part for part in (negative, self.negative) if part)


@functools.cache
def effects() -> dict[str, Effect]:
    """Every effect in `effects.toml`, by name, in the file's order."""
    data = tomllib.loads(_FILE.read_text(encoding="utf-8"))
    return {
        name: Effect(name, table["description"], table["prompt"], table.get("negative", ""))
        for name, table in data.items()
    }
