"""Per-server settings: defaults from the environment, overrides per server, every change audited.

Server id 0 stands for direct messages: its `enabled` is "DMs allowed" and its credits are the DM
allowance.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from generation.options import OptionError, flags_line, preferences_of
from generation.text import Said, _
from storage.db import Database
from storage.settings import StorageSettings

__all__ = ["CONTENT_POLICIES", "DM", "AuditEntry", "GuildSettings", "Guilds", "SettingError", "record_audit"]

DM = 0
CONTENT_POLICIES = ("strict", "age-restricted", "off")


class SettingError(Said, ValueError):
    """A setting value an admin gave is not valid; the message is safe to show."""


@dataclass(frozen=True)
class GuildSettings:
    enabled: bool = True
    daily_credits: int = 150
    timezone: str = "UTC"
    cooldown_s: int = 0
    max_queued: int = 3
    allowed_channels: tuple[int, ...] | None = None  # None: every channel
    enabled_models: tuple[str, ...] | None = None  # None: every model the workers serve
    max_frames: int | None = None
    max_pixels: int | None = None
    max_steps: int | None = None
    content: str = "strict"  # the content policy: strict | age-restricted | off (see generation/blocklist.py)
    blocked_terms: tuple[str, ...] | None = None  # the server's own words and /patterns/
    mod_log_channel: int | None = None  # where refusals and flags are posted
    language: str | None = None  # channel messages' locale ("zh-CN"); None: the server's preferred locale
    default_flags: str | None = None  # the server's own defaults ("-ar 9:16 -fast"), under each user's preferences

    def allows_channel(self, channel_id: int, around: tuple[int, ...] = ()) -> bool:
        """Whether videos may be made in this channel, or in what it is in (`around`: a thread's channel, a
        forum post's forum, the category)."""
        allowed = self.allowed_channels
        return allowed is None or any(place in allowed for place in (channel_id, *around))

    def allows_model(self, model: str) -> bool:
        return self.enabled_models is None or model in self.enabled_models


@dataclass(frozen=True)
class AuditEntry:
    guild_id: int
    key: str
    old_value: Any
    new_value: Any
    changed_by: int
    changed_at: float


def _check(key: str, value: Any) -> Any:
    """Validate one setting; return it normalised (tuples for lists)."""
    if key not in {f.name for f in dataclasses.fields(GuildSettings)}:
        raise SettingError(_("unknown setting `{key}`", key=key))
    if value is None:
        if key in ("enabled", "daily_credits", "timezone", "cooldown_s", "max_queued", "content"):
            raise SettingError(_("`{key}` cannot be empty", key=key))
        return None
    if key == "enabled":
        if not isinstance(value, bool):
            raise SettingError(_("`enabled` must be true or false"))
        return value
    if key == "content":
        if value not in CONTENT_POLICIES:
            raise SettingError(
                _(
                    "`content` must be one of {names}, got `{value}`",
                    names=", ".join(CONTENT_POLICIES),
                    value=str(value)[:40],
                )
            )
        return value
    if key == "blocked_terms":
        items = tuple(value)
        if not all(isinstance(i, str) and 0 < len(i) <= 100 for i in items) or len(items) > 200:
            raise SettingError(_("`blocked_terms` must be up to 200 words or patterns of 1–100 characters"))
        return items or None
    if key == "language":
        if not isinstance(value, str) or not re.fullmatch(r"[a-z]{2,3}(-[A-Z]{2})?", value):
            raise SettingError(_("`language` must be a Discord locale such as zh-CN, ja or ko"))
        return value
    if key == "default_flags":  # the flags users may keep as preferences, checked as theirs are
        try:
            return flags_line(preferences_of(str(value)[:1000])) or None
        except OptionError as exc:
            raise SettingError(exc.text) from None
    if key == "mod_log_channel":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(_("`mod_log_channel` must be a channel"))
        return value
    if key == "timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingError(
                _("`{value}` is not a time zone (try Europe/Berlin or America/New_York)", value=str(value)[:40])
            ) from None
        return str(value)
    if key in ("allowed_channels", "enabled_models"):
        items = tuple(value)
        if key == "allowed_channels" and not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            raise SettingError(_("`allowed_channels` must be channel ids"))
        return tuple(str(i) for i in items) if key == "enabled_models" else items
    low = _LOWEST.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or value > 10**9:
        raise SettingError(
            _(
                "`{key}` must be a whole number from {low} to 1000000000, got `{value}`",
                key=key,
                low=low,
                value=str(value)[:40],
            )
        )
    return value


# A limit of 0 would mean "nothing fits"; the smallest limits that still let a clip through.
_LOWEST = {"max_pixels": 64 * 64, "max_frames": 2, "max_steps": 1, "max_queued": 1}


class Guilds:
    def __init__(self, db: Database, defaults: StorageSettings):
        self.db = db
        self.defaults = defaults

    def _base(self, guild_id: int) -> GuildSettings:
        d = self.defaults
        if guild_id == DM:
            return GuildSettings(
                d.dms_allowed,
                d.dm_daily_credits,
                d.timezone,
                d.cooldown_s,
                d.max_queued,
                content=d.dm_content,
                mod_log_channel=d.dm_mod_log_channel,
            )
        return GuildSettings(True, d.daily_credits, d.timezone, d.cooldown_s, d.max_queued)

    async def get(self, guild_id: int) -> GuildSettings:
        """The server's settings: its overrides over the environment's defaults."""
        rows = await self.db.fetchall("SELECT key, value FROM guild_settings WHERE guild_id = ?", (guild_id,))
        overrides: dict[str, Any] = {}
        for row in rows:
            value = json.loads(row["value"])
            overrides[row["key"]] = tuple(value) if isinstance(value, list) else value
        return dataclasses.replace(self._base(guild_id), **overrides)

    async def update(self, guild_id: int, changed_by: int, **changes: Any) -> GuildSettings:
        """Change settings (None resets a limit to "no limit"); each change is audited."""
        checked = {key: _check(key, value) for key, value in changes.items()}
        current = await self.get(guild_id)
        now = time.time()
        async with self.db.transaction() as conn:
            for key, value in checked.items():
                old = getattr(current, key)
                if old == value:
                    continue
                await conn.execute(
                    "INSERT INTO guild_settings (guild_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (guild_id, key) DO UPDATE SET value = excluded.value",
                    (guild_id, key, json.dumps(value)),
                )
                await record_audit(conn, guild_id, key, old, value, changed_by, now)
        return await self.get(guild_id)

    async def role_tiers(self, guild_id: int) -> dict[int, int]:
        rows = await self.db.fetchall("SELECT role_id, daily_credits FROM role_tiers WHERE guild_id = ?", (guild_id,))
        return {row["role_id"]: row["daily_credits"] for row in rows}

    async def set_role_tier(self, guild_id: int, role_id: int, daily_credits: int | None, changed_by: int) -> None:
        """Give a role its own daily credits (None removes the tier)."""
        if daily_credits is not None:
            _check("daily_credits", daily_credits)
        old = (await self.role_tiers(guild_id)).get(role_id)
        async with self.db.transaction() as conn:
            if daily_credits is None:
                await conn.execute("DELETE FROM role_tiers WHERE guild_id = ? AND role_id = ?", (guild_id, role_id))
            else:
                await conn.execute(
                    "INSERT INTO role_tiers VALUES (?, ?, ?) "
                    "ON CONFLICT (guild_id, role_id) DO UPDATE SET daily_credits = excluded.daily_credits",
                    (guild_id, role_id, daily_credits),
                )
            await record_audit(conn, guild_id, f"role_tier:{role_id}", old, daily_credits, changed_by, time.time())

    async def audit(self, guild_id: int, limit: int = 20) -> list[AuditEntry]:
        rows = await self.db.fetchall(
            "SELECT * FROM settings_audit WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit)
        )
        return [
            AuditEntry(
                row["guild_id"],
                row["key"],
                _load(row["old_value"]),
                _load(row["new_value"]),
                row["changed_by"],
                row["changed_at"],
            )
            for row in rows
        ]


def _load(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


async def record_audit(conn: Any, guild_id: int, key: str, old: Any, new: Any, by: int, at: float) -> None:
    """Write one audit row inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO settings_audit (guild_id, key, old_value, new_value, changed_by, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, key, None if old is None else json.dumps(old), None if new is None else json.dumps(new), by, at),
    )
