"""Removing a user's personal data on request."""

from __future__ import annotations

from storage.db import Database

__all__ = ["delete_user_data"]


async def delete_user_data(db: Database, user_id: int) -> dict[str, int]:
    """Delete a user's jobs (prompts, options, input images, message ids), quota and admin records about them;
    audit rows they wrote keep the change but lose their name. Returns rows touched per table."""
    async with db.transaction() as conn:
        cursor = await conn.execute("DELETE FROM input_refs WHERE user_id = ?", (user_id,))
        counts = {"input_refs": cursor.rowcount}
        await conn.execute("DELETE FROM input_blobs WHERE hash NOT IN (SELECT hash FROM input_refs)")
        for table in ("jobs", "reservations", "members"):
            cursor = await conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
            counts[table] = cursor.rowcount
        cursor = await conn.execute(
            "DELETE FROM settings_audit WHERE key LIKE '%:' || ?", (str(user_id),)
        )  # grant / block / reset entries about them
        counts["settings_audit"] = cursor.rowcount
        cursor = await conn.execute("UPDATE settings_audit SET changed_by = 0 WHERE changed_by = ?", (user_id,))
        counts["settings_audit"] += cursor.rowcount
    return counts
