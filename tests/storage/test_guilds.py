from __future__ import annotations

import pytest

from storage.guilds import DM, Guilds, GuildSettings, SettingError
from storage.settings import StorageSettings


async def test_defaults_come_from_the_environment(guilds: Guilds, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTIONBOT_DAILY_CREDITS", "80")
    monkeypatch.setenv("MOTIONBOT_DMS_ALLOWED", "false")
    monkeypatch.setenv("MOTIONBOT_TIMEZONE", "Asia/Tokyo")
    env_guilds = Guilds(guilds.db, StorageSettings(_env_file=None))  # type: ignore[call-arg]
    settings = await env_guilds.get(5)
    assert (settings.daily_credits, settings.timezone, settings.enabled) == (80, "Asia/Tokyo", True)
    assert not (await env_guilds.get(DM)).enabled


async def test_changes_are_kept_and_audited_with_who_and_when(guilds: Guilds) -> None:
    settings = await guilds.update(5, 77, daily_credits=300, allowed_channels=[10, 11], enabled_models=["svd-xt"])
    assert settings.daily_credits == 300 and settings.allowed_channels == (10, 11)
    assert settings.allows_channel(10) and not settings.allows_channel(12)
    assert settings.allows_model("svd-xt") and not settings.allows_model("animatediff")
    assert await guilds.get(5) == settings
    assert await guilds.get(6) == GuildSettings(daily_credits=150, max_queued=1000)  # other servers untouched
    audit = await guilds.audit(5)
    assert sorted((e.key, e.old_value, e.new_value, e.changed_by) for e in audit) == [
        ("allowed_channels", None, [10, 11], 77),
        ("daily_credits", 150, 300, 77),
        ("enabled_models", None, ["svd-xt"], 77),
    ]
    assert all(e.changed_at > 0 for e in audit)


async def test_limits_can_be_cleared_and_unchanged_values_are_not_audited(guilds: Guilds) -> None:
    await guilds.update(5, 1, max_frames=14)
    await guilds.update(5, 1, max_frames=None, daily_credits=150)
    assert (await guilds.get(5)).max_frames is None
    assert [e.key for e in await guilds.audit(5)] == ["max_frames", "max_frames"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"daily_credits": -5}, "whole number"),
        ({"cooldown_s": "soon"}, "whole number"),
        ({"timezone": "Mars/Olympus"}, "not a time zone"),
        ({"colour": "blue"}, "unknown setting"),
        ({"daily_credits": None}, "cannot be empty"),
        ({"enabled": "yes"}, "true or false"),
        ({"allowed_channels": ["general"]}, "channel ids"),
        ({"max_pixels": 0}, "from 4096"),  # 0 would have meant "no limit"
        ({"max_frames": 1}, "from 2"),
        ({"default_flags": "-seed 3"}, "is for one request"),
        ({"default_flags": "a cat -gif"}, "flags only"),
    ],
)
async def test_bad_values_are_refused_with_a_clear_message(guilds: Guilds, change: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        await guilds.update(5, 1, **change)
    assert await guilds.audit(5) == []


async def test_role_tiers_are_set_removed_and_audited(guilds: Guilds) -> None:
    await guilds.set_role_tier(5, 900, 400, changed_by=3)
    assert await guilds.role_tiers(5) == {900: 400}
    await guilds.set_role_tier(5, 900, None, changed_by=3)
    assert await guilds.role_tiers(5) == {}
    assert [(e.key, e.old_value, e.new_value) for e in await guilds.audit(5)] == [
        ("role_tier:900", 400, None),
        ("role_tier:900", None, 400),
    ]


async def test_default_flags_are_kept_as_the_echo_writes_them(guilds: Guilds) -> None:
    await guilds.update(5, 1, default_flags="-gif  —ar 9:16")
    assert (await guilds.get(5)).default_flags == "-ar 9:16 -gif"
    await guilds.update(5, 1, default_flags="")
    assert (await guilds.get(5)).default_flags is None
