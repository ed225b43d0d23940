-- Role tiers, per-user grants / blocks / resets, the settings audit log, and the result message id.

CREATE TABLE role_tiers (
    guild_id      INTEGER NOT NULL,
    role_id       INTEGER NOT NULL,
    daily_credits INTEGER NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE members (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    granted    INTEGER NOT NULL DEFAULT 0,        -- extra credits from admins, used after the daily ones
    blocked    INTEGER NOT NULL DEFAULT 0,
    reset_day  TEXT,                              -- usage on this day before reset_at does not count
    reset_at   REAL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE settings_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    changed_by INTEGER NOT NULL,
    changed_at REAL NOT NULL
);
CREATE INDEX settings_audit_guild ON settings_audit (guild_id, changed_at);

ALTER TABLE jobs ADD COLUMN result_message_id INTEGER;
