"""Making clips: /animate, /imagine-video, /morph, /restyle, /illusion, /ingredients, /expand, the Animate
image, Restyle video and Animate avatar menus, @mention replies, result buttons."""

from __future__ import annotations

from typing import Any

from bot.exts.video._cog import Video
from bot.exts.video._scenes import Scenes


async def setup(bot: Any) -> None:
    video = Video(bot, bot.services)
    await bot.add_cog(video)
    await bot.add_cog(Scenes(video))
