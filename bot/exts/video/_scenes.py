"""Clips from words with something of the user's in them: /illusion (words or a shape hidden in the scene),
/ingredients (the people, things or places of their pictures, in a clip the prompt tells) and /expand (their
video on a wider or taller frame, the scene around it drawn). A cog of its own beside Video, whose request path
(admission, intake, downloads, requests) it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts.video._declare import CHOICES, DESCRIBE, Frames, Seed, Strength, emoji_names, hidden_words
from bot.exts.video._files import Files
from bot.exts.video._interact import requester
from generation.jobs import MAX_HIDDEN_TEXT, JobKind
from generation.options import OptionError, from_command
from generation.text import _

if TYPE_CHECKING:
    from bot.exts.video._cog import Video

__all__ = ["Scenes"]


class Scenes(commands.Cog):
    def __init__(self, video: Video):
        self.video = video

    async def _illusion_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.video.model_choices(interaction, current, lambda spec: spec.takes(JobKind.ILLUSION))

    async def _ingredient_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.video.model_choices(interaction, current, lambda spec: spec.takes(JobKind.INGREDIENTS))

    async def _expand_models(self, interaction: discord.Interaction, current: str) -> list[Any]:
        return await self.video.model_choices(interaction, current, lambda spec: spec.takes(JobKind.EXPAND))

    @app_commands.command(name="illusion", description="A clip with words or a shape hidden in it, seen from afar")
    @app_commands.describe(
        prompt="The scene they hide in, e.g. a forest in autumn. Pika flags work here too (-ar 9:16 -seed 7)",
        text="The words to hide",
        image="Or a shape to hide: a logo, or any black and white picture",
        strength="How plainly it shows, 0.1 (barely) to 1 (plainly); default 0.7",
        model="Which model renders it (one that makes illusions)",
        seed=DESCRIBE["seed"],
    )
    @app_commands.autocomplete(model=_illusion_models)
    async def illusion(
        self,
        interaction: discord.Interaction,
        prompt: str,
        text: app_commands.Range[str, 1, MAX_HIDDEN_TEXT] | None = None,
        image: discord.Attachment | None = None,
        strength: Strength | None = None,
        model: str | None = None,
        seed: Seed | None = None,
    ) -> None:
        """A clip with words or a shape hidden in it."""
        video = self.video
        reply = await video.defer(interaction)
        words = hidden_words(emoji_names(text or ""))
        try:
            options = from_command(emoji_names(prompt), strength=strength, model=model, seed=seed)
        except OptionError as exc:
            return await reply.refuse(exc.text)
        if bool(words) == (image is not None):
            return await reply.refuse(_("give the words to hide (`text`) or a picture of the shape (`image`): one"))

        def shape(found: list[bytes]) -> Files:  # the picture of the shape, or none: the words are hidden
            return Files(image=found[0] if found else None)

        urls = [image.url] if image is not None else []
        await video.requests.fetch_and_new(requester(interaction), reply, JobKind.ILLUSION, options, urls, shape, words)

    @app_commands.command(name="ingredients", description="A clip from words with who or what is in your pictures")
    @app_commands.describe(
        prompt="What happens, e.g. the cat and the dog dance on the beach. Pika flags work here too (-ar 9:16)",
        image="Who or what is in it: a person, a pet, an object or a place",
        image2="Another one (up to 3 in all)",
        image3="And another",
        model="Which model renders it (one that takes ingredients)",
        aspect=DESCRIBE["aspect"],
        frames=DESCRIBE["frames"],
        seed=DESCRIBE["seed"],
    )
    @app_commands.choices(aspect=CHOICES["aspect"])
    @app_commands.autocomplete(model=_ingredient_models)
    async def ingredients(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: discord.Attachment,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        model: str | None = None,
        aspect: str | None = None,
        frames: Frames | None = None,
        seed: Seed | None = None,
    ) -> None:
        """A clip from words with the people, things or places of your pictures in it."""
        video = self.video
        reply = await video.defer(interaction)
        try:
            options = from_command(emoji_names(prompt), model=model, aspect=aspect, frames=frames, seed=seed)
        except OptionError as exc:
            return await reply.refuse(exc.text)

        def cast(found: list[bytes]) -> Files:
            return Files(ingredients=tuple(found))

        urls = [given.url for given in (image, image2, image3) if given is not None]
        await video.requests.fetch_and_new(requester(interaction), reply, JobKind.INGREDIENTS, options, urls, cast)

    @app_commands.command(name="expand", description="Widen or heighten a video: the scene around it is drawn")
    @app_commands.describe(
        video="The video to expand (MP4, WebM, MOV or GIF, a few seconds)",
        aspect="The new shape, e.g. 9:16 to make a wide video tall; the video stays whole in the middle",
        prompt="What is around it, e.g. a beach at sunset (optional). Pika flags work here too (-seed 7)",
        model="Which model draws it (one that expands videos)",
        seed=DESCRIBE["seed"],
    )
    @app_commands.choices(aspect=CHOICES["aspect"])
    @app_commands.autocomplete(model=_expand_models)
    async def expand(
        self,
        interaction: discord.Interaction,
        video: discord.Attachment,
        aspect: str,
        prompt: str | None = None,
        model: str | None = None,
        seed: Seed | None = None,
    ) -> None:
        """Put a video on a wider or taller frame and draw the scene around it."""
        cog = self.video
        reply = await cog.defer(interaction)
        try:
            options = from_command(emoji_names(prompt or ""), aspect=aspect, model=model, seed=seed)
        except OptionError as exc:
            return await reply.refuse(exc.text)

        def clip(found: list[bytes]) -> Files:
            return Files(video=found[0])

        await cog.requests.fetch_and_new(requester(interaction), reply, JobKind.EXPAND, options, [video.url], clip)
