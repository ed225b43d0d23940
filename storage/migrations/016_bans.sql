-- Users the bot's operator banned (`python -m storage ban`): they make no videos anywhere, in any server, DM or
-- user install. Forget me keeps it.
CREATE TABLE bans (
    user_id INTEGER PRIMARY KEY,
    reason  TEXT NOT NULL DEFAULT '',
    at      REAL NOT NULL
);
