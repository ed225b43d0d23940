"""The moderation ledger and the content settings of a server, on a real SQLite file."""

from __future__ import annotations

import time

import pytest

from storage.db import Database
from storage.guilds import Guilds, SettingError
from storage.moderation import Moderation, ModerationEvent


async def test_events_are_kept_newest_first_and_pruned_by_age(db: Database) -> None:
    moderation = Moderation(db)
    old = ModerationEvent(1, 2, 3, "prompt", "refused", "the built-in list", "x" * 500, "nud*", at=time.time() - 9e5)
    await moderation.record(old)
    await moderation.record(ModerationEvent(1, 2, 4, "output", "spoiler", "the image check", "a fox", job_id="j"))
    await moderation.record(ModerationEvent(9, 2, 5, "input", "refused", "the image check"))
    newest, oldest = await moderation.recent(1)
    assert (newest.user_id, newest.job_id, oldest.user_id) == (4, "j", 3)
    assert len(oldest.excerpt) == 300, "prompts are kept shortened"
    assert await moderation.prune(older_than_s=86400) == 1
    assert [event.user_id for event in await moderation.recent(1)] == [4]


async def test_content_settings_are_checked_and_audited(guilds: Guilds) -> None:
    assert (await guilds.get(1)).content == "strict"
    await guilds.update(1, 77, content="off", blocked_terms=["clown*", "/x+y/"], mod_log_channel=42)
    settings = await guilds.get(1)
    assert (settings.content, settings.blocked_terms, settings.mod_log_channel) == ("off", ("clown*", "/x+y/"), 42)
    for bad in ({"content": "lax"}, {"content": None}, {"blocked_terms": ["x" * 101]}, {"mod_log_channel": "here"}):
        with pytest.raises(SettingError):
            await guilds.update(1, 77, **bad)
    audit = {entry.key: entry for entry in await guilds.audit(1)}
    assert audit["content"].new_value == "off" and audit["content"].changed_by == 77
