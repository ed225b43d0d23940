"""Style presets and camera words: how a job's prompt is shaped for its model (torch-free).

The presets are data (`styles.toml` beside this file: a prompt template and a negative prompt per style,
with per-family variants). `shaped` applies the job's effect (generation/effects.py), its style, then, for
the models that take camera moves by prompt (`ModelSpec.prompt_camera`: LTX and Wan), the words for a lock
or an orbit. The bot checks a
style and a camera move against the model before a job is queued (`job_builder.build_job`); the worker shapes
the prompt when it plans the job, so the ledger, the echo line and Remix keep what the user typed.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from generation.effects import effects
from generation.models import ModelSpec
from generation.values import Camera

__all__ = ["CAMERA_WORDS", "Style", "shaped", "styles"]

_FILE = Path(__file__).with_name("styles.toml")

# What a prompt-following model is told for the moves it makes by prompt (LTX and Wan were trained on
# captions that describe the camera this way).
CAMERA_WORDS = {
    "lock": "static camera, a locked-off tripod shot, the camera does not move",
    "orbit left": "the camera orbits to the left around the subject in a smooth arc",
    "orbit right": "the camera orbits to the right around the subject in a smooth arc",
}


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    prompt: str  # a template with {prompt}
    negative: str
    families: dict[str, tuple[str, str]] = field(default_factory=dict)  # family -> (prompt, negative)
    loras: dict[str, str] = field(default_factory=dict)  # family -> a LoRA of the style (AnimateDiff: SD 1.5)

    def apply(self, prompt: str, negative: str, family: str) -> tuple[str, str]:
        """The prompt in this style's template and the negative prompt with the style's added."""
        template, extra = self.families.get(family, (self.prompt, self.negative))
        if prompt and ". {prompt}" in template:  # the prompt starts a sentence of the template
            prompt = prompt[0].upper() + prompt[1:]
        styled = template.replace("{prompt}", prompt).strip(" ,")
        return styled, ", ".join(part for part in (negative, extra) if part)


@functools.cache
def styles() -> dict[str, Style]:
    """Every preset in `styles.toml`, by name, in the file's order."""
    data = tomllib.loads(_FILE.read_text(encoding="utf-8"))
    presets = {}
    for name, table in data.items():
        families = {
            family: (variant.get("prompt", table["prompt"]), variant.get("negative", table.get("negative", "")))
            for family, variant in table.items()
            if isinstance(variant, dict)
        }
        loras = {
            family: variant["lora"]
            for family, variant in table.items()
            if isinstance(variant, dict) and "lora" in variant
        }
        presets[name] = Style(name, table["description"], table["prompt"], table.get("negative", ""), families, loras)
    return presets


def shaped(
    prompt: str, negative: str, spec: ModelSpec, style: str | None, camera: Camera | None, effect: str | None = None
) -> tuple[str, str]:
    """The prompt and negative prompt `spec` is given for a job with this effect, style and camera move."""
    if effect:
        prompt, negative = effects()[effect].apply(prompt, negative)
    if style:
        prompt, negative = styles()[style].apply(prompt, negative, spec.family.value)
    if camera is not None and not camera.framed and spec.prompt_camera and str(camera) in CAMERA_WORDS:
        prompt = ", ".join(part for part in (prompt, CAMERA_WORDS[str(camera)]) if part)
    return prompt, negative
