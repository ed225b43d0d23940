-- Jobs, quota reservations and per-server settings.

CREATE TABLE jobs (
    job_id            TEXT PRIMARY KEY,
    guild_id          INTEGER NOT NULL,          -- 0 for direct messages
    channel_id        INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    model             TEXT NOT NULL,
    options           TEXT NOT NULL DEFAULT '{}', -- JSON: prompt and every parameter, for echo and Remix
    state             TEXT NOT NULL DEFAULT 'queued',
    cost              INTEGER NOT NULL DEFAULT 0,
    application_id    INTEGER,
    interaction_token TEXT,                       -- cleared when the job ends
    token_expires_at  REAL,
    status_message_id INTEGER,
    error             TEXT,
    created_at        REAL NOT NULL,
    started_at        REAL,
    finished_at       REAL
);
CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_guild ON jobs (guild_id, created_at);

CREATE TABLE reservations (
    job_id      TEXT PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    cost        INTEGER NOT NULL,
    from_grant  INTEGER NOT NULL DEFAULT 0,       -- the part paid from granted (non-daily) credits
    day         TEXT NOT NULL,                    -- the server-local day it counts against, YYYY-MM-DD
    state       TEXT NOT NULL DEFAULT 'reserved', -- reserved | committed | refunded
    created_at  REAL NOT NULL,
    settled_at  REAL
);
CREATE INDEX reservations_user_day ON reservations (guild_id, user_id, day);
CREATE INDEX reservations_open ON reservations (state) WHERE state = 'reserved';

CREATE TABLE guild_settings (
    guild_id INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,                       -- JSON
    PRIMARY KEY (guild_id, key)
);
