"""Buttons on status and result messages, and the effect picker of the "Apply effect" menu. Each is a dynamic
item (a button's custom id carries the job id), so those on old messages keep working after a restart. The
callbacks hand over to the Video cog."""

from __future__ import annotations

import enum
import re
from typing import Any, ClassVar, Protocol

import discord

from bot.errors import tell
from bot.i18n import Voice
from bot.limits import clip
from generation.effects import effects
from generation.text import _

__all__ = [
    "Action",
    "ButtonHandler",
    "Buttons",
    "EffectPicker",
    "EffectPickers",
    "ExpandModal",
    "JobButton",
    "RemixModal",
    "RestyleModal",
    "expand_form",
    "job_on",
    "remix_form",
    "restyle_form",
]

_REMIX_FORM = re.compile(r"mb:remixmodal:(?P<job>[0-9a-f]{32})")
_EXPAND_FORM = re.compile(r"mb:expandmodal:(?P<job>[0-9a-f]{32})")
_RESTYLE_FORM = re.compile(r"mb:restyle:(?P<channel>[0-9]{1,20}):(?P<message>[0-9]{1,20})")
_TEMPLATE = r"mb:(?P<action>[a-z]+):(?P<job>[0-9a-f]{32})"
_EFFECT = "mb:effect"  # the effect picker: the picture it is about is the picker message's own


class Action(enum.StrEnum):
    """What a button on a status or result message does; the value is part of its custom id."""

    CANCEL = "cancel"
    RETRY = "retry"
    REROLL = "reroll"
    REMIX = "remix"
    EXTEND = "extend"
    SMOOTH = "smooth"
    UPSCALE = "upscale"
    GIF = "gif"
    EXPAND = "expand"
    DELETE = "delete"
    REMOVE = "remove"  # under a report in the moderation log: the reported clip, deleted where it is


_LOOK = {
    Action.CANCEL: (_("Cancel"), "✖️", discord.ButtonStyle.danger),
    Action.RETRY: (_("Try again"), "🔁", discord.ButtonStyle.primary),
    Action.REROLL: (_("Reroll"), "🎲", discord.ButtonStyle.secondary),
    Action.REMIX: (_("Remix"), "✏️", discord.ButtonStyle.secondary),
    Action.EXTEND: (_("Extend"), "⏩", discord.ButtonStyle.secondary),
    Action.SMOOTH: (_("Smooth"), "🌊", discord.ButtonStyle.secondary),
    Action.UPSCALE: (_("Upscale"), "🔍", discord.ButtonStyle.secondary),
    Action.GIF: (_("GIF"), "🖼️", discord.ButtonStyle.secondary),
    Action.EXPAND: (_("Expand"), "↔️", discord.ButtonStyle.secondary),
    Action.DELETE: (_("Delete"), "🗑️", discord.ButtonStyle.secondary),
    Action.REMOVE: (_("Delete the clip"), "🗑️", discord.ButtonStyle.danger),
}


class ButtonHandler(Protocol):
    async def on_button(self, interaction: discord.Interaction, action: Action, job_id: str) -> None: ...


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    handler: ClassVar[ButtonHandler]  # set on the subclass `Buttons` makes

    def __init__(self, action: Action, job_id: str, voice: Voice | None = None):
        label, emoji, style = _LOOK[action]
        shown = voice(label) if voice is not None else str(label)  # a pressed button's own label is not shown
        super().__init__(discord.ui.Button(label=shown, emoji=emoji, style=style, custom_id=f"mb:{action}:{job_id}"))
        self.action, self.job_id = action, job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        return cls(Action(match["action"]), match["job"])  # ValueError for an unknown action: ignored

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.handler.on_button(interaction, self.action, self.job_id)
        except Exception as exc:
            await tell(interaction, exc)


class EffectHandler(Protocol):
    async def on_effect(self, interaction: discord.Interaction, effect: str) -> None: ...


class EffectPicker(discord.ui.DynamicItem[discord.ui.Select[Any]], template=_EFFECT):
    """The effects to pick from (generation/effects.toml), under the picture the "Apply effect" menu shows."""

    handler: ClassVar[EffectHandler]  # set on the subclass `EffectPickers` makes

    def __init__(self, voice: Voice | None = None):
        say = voice or (lambda text: str(text))
        options = [
            discord.SelectOption(label=clip(say(effect.description), 100), value=name)
            for name, effect in effects().items()
        ]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=_EFFECT, placeholder=clip(say(_("Pick an effect")), 150), options=options[:25]
        )
        super().__init__(select)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> EffectPicker:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        picked = [str(value) for value in data.get("values") or []]
        try:
            await self.handler.on_effect(interaction, picked[0] if picked else "")
        except Exception as exc:
            await tell(interaction, exc)


class EffectPickers:
    """The effect picker, bound to the handler its picks go to (registered with the bot as a dynamic item)."""

    def __init__(self, handler: EffectHandler):
        class Bound(EffectPicker, template=_EFFECT):
            pass

        Bound.handler = handler
        self.item: type[EffectPicker] = Bound

    def view(self, voice: Voice) -> discord.ui.View:
        """The picker, in `voice`'s language."""
        view = discord.ui.View(timeout=None)
        view.add_item(self.item(voice))
        return view


class Buttons:
    """The job buttons, bound to the handler their presses go to. `item` is registered with the bot as a
    dynamic item, so buttons on old messages keep working after a restart."""

    def __init__(self, handler: ButtonHandler):
        class Bound(JobButton, template=_TEMPLATE):
            pass

        Bound.handler = handler
        self.item: type[JobButton] = Bound

    def _view(self, job_id: str, actions: tuple[Action, ...], voice: Voice) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        for action in actions:
            view.add_item(self.item(action, job_id, voice))
        return view

    def status(self, job_id: str, voice: Voice) -> discord.ui.View:
        """Cancel, labelled in `voice`'s language."""
        return self._view(job_id, (Action.CANCEL,), voice)

    def remove(self, job_id: str, voice: Voice) -> discord.ui.View:
        """Delete the clip, for moderators: under a report of it in the moderation log."""
        return self._view(job_id, (Action.REMOVE,), voice)

    def remix(self, job_id: str, voice: Voice) -> discord.ui.View:
        """Remix alone: under a Remix form's refusal, to edit what was typed."""
        return self._view(job_id, (Action.REMIX,), voice)

    def failed(self, job_id: str, voice: Voice) -> discord.ui.View:
        """Try again (the same request) and Remix (changed first), under a job that failed."""
        return self._view(job_id, (Action.RETRY, Action.REMIX), voice)

    def result(
        self,
        job_id: str,
        voice: Voice,
        *,
        extends: bool = True,
        smoothed: bool = False,
        upscales: bool = False,
        gif: bool = True,
        expands: bool = False,
    ) -> discord.ui.View:
        """Reroll, Remix, Extend (where the model can continue its clips), Smooth, Upscale (where a model can
        upscale it), GIF (a clip that is not one already), Expand (where a model can), Delete; a smoothed clip
        or a clip's GIF (nothing left to vary) only Delete."""
        if smoothed:
            return self._view(job_id, (Action.DELETE,), voice)
        offered = {Action.EXTEND: extends, Action.UPSCALE: upscales, Action.GIF: gif, Action.EXPAND: expands}
        actions = (
            Action.REROLL,
            Action.REMIX,
            Action.EXTEND,
            Action.SMOOTH,
            Action.UPSCALE,
            Action.GIF,
            Action.EXPAND,
            Action.DELETE,
        )
        return self._view(job_id, tuple(a for a in actions if offered.get(a, True)), voice)


class RemixModal(discord.ui.Modal):
    """The form behind Remix. Its answer is handled by the Video cog's `on_interaction` listener, not here:
    a modal is not a persistent view, and a form opened before a bot restart must still work."""

    def __init__(self, job_id: str, prompt: str, flags: str, voice: Voice):
        super().__init__(title=voice(_("Remix")), custom_id=f"mb:remixmodal:{job_id}", timeout=None)
        self.add_item(
            discord.ui.TextInput(
                label=voice(_("Prompt")),
                custom_id="prompt",
                style=discord.TextStyle.paragraph,
                default=prompt[:1000],
                required=False,
                max_length=1000,
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=voice(_("Options (Pika flags)")),
                custom_id="flags",
                default=flags[:1000],
                required=False,
                max_length=1000,
                placeholder="-motion 3 -camera zoom in -seed 42",
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        return None  # see the class docstring


class ExpandModal(discord.ui.Modal):
    """The form behind Expand: the shape to put the clip on and what is around it. Handled, like Remix, by the
    Video cog's `on_interaction` listener; the clip is the one on the message the button was on."""

    def __init__(self, job_id: str, shape: str, prompt: str, voice: Voice):
        super().__init__(title=voice(_("Expand")), custom_id=f"mb:expandmodal:{job_id}", timeout=None)
        self.add_item(
            discord.ui.TextInput(
                label=voice(_("New shape (16:9, 9:16, 1:1, 4:5, 3:2 …)")),
                custom_id="shape",
                default=shape,
                required=True,
                max_length=8,
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=voice(_("What is around it (optional)")),
                custom_id="prompt",
                style=discord.TextStyle.paragraph,
                default=prompt[:1000],
                required=False,
                max_length=1000,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        return None  # see the class docstring


class RestyleModal(discord.ui.Modal):
    """The form behind the "Restyle video" menu: what the video should become. Handled, like Remix, by the
    Video cog's `on_interaction` listener; its custom id names the message with the video."""

    def __init__(self, channel_id: int, message_id: int, voice: Voice):
        title = voice(_("Restyle video"))
        super().__init__(title=title, custom_id=f"mb:restyle:{channel_id}:{message_id}", timeout=None)
        self.add_item(
            discord.ui.TextInput(
                label=voice(_("Prompt (Pika flags work too)")),
                custom_id="prompt",
                style=discord.TextStyle.paragraph,
                required=True,
                max_length=1000,
                placeholder=voice(_("a watercolor painting, soft light -seed 7")),
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=voice(_("Strength, 0.1 to 1 (how much to redraw)")),
                custom_id="strength",
                required=False,
                max_length=8,
                placeholder="0.7",
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        return None  # see the class docstring


def _submitted(interaction: discord.Interaction, form: re.Pattern[str]) -> tuple[re.Match[str], dict[str, str]] | None:
    """The form's custom-id match and its text values, when `interaction` submits a form of that kind."""
    data: Any = interaction.data or {}
    match = form.fullmatch(str(data.get("custom_id", "")))
    if interaction.type is not discord.InteractionType.modal_submit or match is None:
        return None
    values: dict[str, str] = {}
    pending = list(data.get("components", []))
    while pending:  # action rows (or labels) around the text inputs
        component = pending.pop()
        pending += component.get("components", []) + ([component["component"]] if "component" in component else [])
        if component.get("type") == 4:
            values[str(component.get("custom_id"))] = str(component.get("value") or "")
    return match, values


def remix_form(interaction: discord.Interaction) -> tuple[str, str, str] | None:
    """(job id, prompt, flags) when `interaction` submits a Remix form, else None."""
    submitted = _submitted(interaction, _REMIX_FORM)
    if submitted is None:
        return None
    match, values = submitted
    return match["job"], values.get("prompt", ""), values.get("flags", "")


def expand_form(interaction: discord.Interaction) -> tuple[str, str, str] | None:
    """(job id, shape as typed, prompt) when `interaction` submits an Expand form, else None."""
    submitted = _submitted(interaction, _EXPAND_FORM)
    if submitted is None:
        return None
    match, values = submitted
    return match["job"], values.get("shape", "").strip(), values.get("prompt", "")


def restyle_form(interaction: discord.Interaction) -> tuple[int, int, str, str] | None:
    """(channel id, message id, prompt, strength as typed) when `interaction` submits a Restyle form."""
    submitted = _submitted(interaction, _RESTYLE_FORM)
    if submitted is None:
        return None
    match, values = submitted
    return int(match["channel"]), int(match["message"]), values.get("prompt", ""), values.get("strength", "").strip()


def job_on(message: discord.Message) -> str | None:
    """The job a message of the bot is about (its status or its clip): the one its buttons name."""
    for row in message.components:
        for item in getattr(row, "children", ()):
            if (found := re.fullmatch(_TEMPLATE, getattr(item, "custom_id", None) or "")) is not None:
                return found["job"]
    return None
