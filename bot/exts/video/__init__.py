"""Making clips: /animate, /imagine-video, /morph, /restyle, the Animate image, Restyle video and Animate
avatar menus, @mention replies, result buttons."""

from __future__ import annotations

from typing import Any

from bot.exts.video._cog import Video


async def setup(bot: Any) -> None:
    await bot.add_cog(Video(bot, bot.services))
