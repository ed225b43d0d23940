"""The Restyle forms' videos on a real SQLite file: kept across a restart, a day at most, the newest only."""

from __future__ import annotations

import time
from pathlib import Path

from storage.db import Database
from storage.forms import RestyleForms


async def test_a_forms_video_outlives_a_restart_of_the_bot(tmp_path: Path) -> None:
    path = tmp_path / "motionbot.db"
    db = await Database.open(path)
    try:
        await RestyleForms(db).remember(1, 10, "https://cdn.discordapp.com/attachments/1/2/a.mp4?ex=1")
        await RestyleForms(db).remember(1, 10, "https://cdn.discordapp.com/attachments/1/2/b.mp4?ex=2")  # again
    finally:
        await db.close()
    db = await Database.open(path)  # the bot started again
    try:
        forms = RestyleForms(db)
        assert await forms.video(1, 10) == "https://cdn.discordapp.com/attachments/1/2/b.mp4?ex=2"
        assert await forms.video(1, 11) is None and await forms.video(2, 10) is None
    finally:
        await db.close()


async def test_forms_are_kept_a_day_and_the_newest_only(db: Database) -> None:
    forms = RestyleForms(db, most=3)
    await forms.remember(1, 1, "u1")
    await db.conn.execute("UPDATE restyle_forms SET opened_at = ?", (time.time() - 2 * 86400,))
    assert await forms.video(1, 1) is None, "a form from the day before yesterday is not trusted"
    for message in range(2, 7):
        await forms.remember(1, message, f"u{message}")
    rows = await db.fetchall("SELECT message_id FROM restyle_forms ORDER BY message_id")
    assert [row["message_id"] for row in rows] == [4, 5, 6], "the old one and the oldest beyond 3 are gone"
