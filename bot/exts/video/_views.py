"""Buttons on status and result messages. Each is a dynamic item whose custom id carries the job id, so
buttons on old messages keep working after a restart. The callbacks hand over to the Video cog."""

from __future__ import annotations

import re
from typing import Any

import discord

__all__ = ["JobButton", "RemixModal", "result_view", "status_view"]

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
        await cog.on_button(interaction, self.action, self.job_id)


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
    def __init__(self, job_id: str, prompt: str, flags: str):
        super().__init__(custom_id=f"mb:remixmodal:{job_id}", timeout=None)
        self.job_id = job_id
        self.prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Prompt", style=discord.TextStyle.paragraph, default=prompt[:1000], required=False, max_length=1000
        )
        self.flags: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Options (Pika flags)", default=flags[:400], required=False, max_length=400,
            placeholder="-motion 3 -camera zoom in -seed 42",
        )  # fmt: skip
        self.add_item(self.prompt)
        self.add_item(self.flags)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        cog: Any = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
        await cog.on_remix(interaction, self.job_id, f"{self.prompt.value} {self.flags.value}")
