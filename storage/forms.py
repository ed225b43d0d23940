"""The video each open "Restyle video" form is about, remembered when the menu opens the form.

Discord shows a message command the message whole, but a bot without the Message Content intent gets it
empty when it fetches it again, so the form's video is kept here (a Discord CDN link, no file) until the
form comes back, also after a restart. A form is kept a day at most and the newest `most` forms only.
"""

from __future__ import annotations

import time

from storage.db import Database

__all__ = ["RestyleForms"]

_KEPT_S = 86400.0


class RestyleForms:
    def __init__(self, db: Database, most: int = 5000):
        self.db, self.most = db, most

    async def remember(self, channel_id: int, message_id: int, url: str) -> None:
        """Keep the video a form opened on this message is about; forget forms past their day or count."""
        now = time.time()
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO restyle_forms (channel_id, message_id, url, opened_at) VALUES (?, ?, ?, ?)",
                (channel_id, message_id, url, now),
            )
            await conn.execute("DELETE FROM restyle_forms WHERE opened_at < ?", (now - _KEPT_S,))
            await conn.execute(
                "DELETE FROM restyle_forms WHERE rowid NOT IN "
                "(SELECT rowid FROM restyle_forms ORDER BY opened_at DESC LIMIT ?)",
                (self.most,),
            )

    async def video(self, channel_id: int, message_id: int) -> str | None:
        """The video of a form opened on this message within the last day, or None."""
        row = await self.db.fetchone(
            "SELECT url FROM restyle_forms WHERE channel_id = ? AND message_id = ? AND opened_at >= ?",
            (channel_id, message_id, time.time() - _KEPT_S),
        )
        return str(row["url"]) if row is not None else None
