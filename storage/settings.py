"""Storage defaults from the environment / `.env`: where the database is and the quota defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import NonNegativeInt, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StorageSettings"]


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTIONBOT_", env_file=".env", env_ignore_empty=True, extra="ignore")

    database_path: Path = Path("data/motionbot.db")
    daily_credits: NonNegativeInt = 150  # per user per server per day: 15 standard SVD-XT clips
    dm_daily_credits: NonNegativeInt = 150  # per user per day in direct messages
    dms_allowed: bool = True
    dm_content: Literal["strict", "age-restricted", "off"] = "strict"  # the content policy in direct messages
    # The operator's moderation log for DMs, group DMs and users' own installs of the app (no server admins
    # there): a channel in a server the bot is in. None: recorded, not posted.
    dm_mod_log_channel: PositiveInt | None = None
    cooldown_s: NonNegativeInt = 0  # between two jobs of one user in one server
    max_queued: NonNegativeInt = 3  # unfinished jobs per user per server
    max_queued_per_server: PositiveInt = 500  # unfinished jobs of a whole server: one server cannot flood all
    timezone: str = "UTC"  # when the day's credits reset (00:00 there)
    max_input_mb_per_user: PositiveInt = 100  # input files kept for Reroll / Remix, per user per server
    max_input_mb_per_server: PositiveInt = 1000  # the same for a whole server (the oldest go first)
