"""Buttons on status and result messages. Each is a dynamic item whose custom id carries the job id, so
buttons on old messages keep working after a restart. The callbacks hand over to the Video cog."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.errors import tell

__all__ = ["JobButton", "RemixModal", "remix_form", "result_view", "status_view"]

_REMIX_FORM = re.compile(r"mb:remixmodal:(?P<job>[0-9a-f]{32})")

_LOOK = {
    "cancel": ("Cancel", "✖️", discord.ButtonStyle.danger),
    "reroll": ("Reroll", "🎲", discord.ButtonStyle.secondary),
    "remix": ("Remix", "✏️", discord.ButtonStyle.secondary),
    "extend": ("Extend", "⏩", discord.ButtonStyle.secondary),
    "smooth": ("Smooth", "🌊", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.secondary),
}


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mb:(?P<action>[a-z]+):(?P<job>[0-9a-f]{32})"
):
    def __init__(self, action: str, job_id: str):
        label, emoji, style = _LOOK[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"mb:{action}:{job_id}"))
        self.action, self.job_id = action, job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        if match["action"] not in _LOOK:
            raise ValueError("unknown button")
        return cls(match["action"], match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog: Any = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
        try:
            await cog.on_button(interaction, self.action, self.job_id)
        except Exception as exc:
            await tell(interaction, exc)


def _view(job_id: str, actions: tuple[str, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(JobButton(action, job_id))
    return view


def status_view(job_id: str) -> discord.ui.View:
    return _view(job_id, ("cancel",))


def result_view(job_id: str) -> discord.ui.View:
    return _view(job_id, ("reroll", "remix", "extend", "smooth", "delete"))


class RemixModal(discord.ui.Modal, title="Remix"):
    """The form behind Remix. Its answer is handled by the Video cog's `on_interaction` listener, not here:
    a modal is not a persistent view, and a form opened before a bot restart must still work."""

    def __init__(self, job_id: str, prompt: str, flags: str):
        super().__init__(custom_id=f"mb:remixmodal:{job_id}", timeout=None)
        self.add_item(discord.ui.TextInput(
            label="Prompt", custom_id="prompt", style=discord.TextStyle.paragraph, default=prompt[:1000],
            required=False, max_length=1000,
        ))  # fmt: skip
        self.add_item(discord.ui.TextInput(
            label="Options (Pika flags)", custom_id="flags", default=flags[:400], required=False, max_length=400,
            placeholder="-motion 3 -camera zoom in -seed 42",
        ))  # fmt: skip

    async def on_submit(self, interaction: discord.Interaction) -> None:
        return None  # see the class docstring


def remix_form(interaction: discord.Interaction) -> tuple[str, str] | None:
    """(job id, prompt plus flags) when `interaction` submits a Remix form, else None."""
    data: Any = interaction.data or {}
    match = _REMIX_FORM.fullmatch(str(data.get("custom_id", "")))
    if interaction.type is not discord.InteractionType.modal_submit or match is None:
        return None
    values: dict[str, str] = {}
    pending = list(data.get("components", []))
    while pending:  # action rows (or labels) around the text inputs
        component = pending.pop()
        pending += component.get("components", []) + ([component["component"]] if "component" in component else [])
        if component.get("type") == 4:
            values[str(component.get("custom_id"))] = str(component.get("value") or "")
    return match["job"], f"{values.get('prompt', '')} {values.get('flags', '')}".strip()
