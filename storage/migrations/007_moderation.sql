-- Content safety: every refusal or flag of a prompt, an input picture or a clip, for the moderation log
-- and the server's own review. Rows older than the retention are pruned with the kept inputs.

CREATE TABLE moderation (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    job_id     TEXT,
    kind       TEXT NOT NULL,  -- prompt | input | output
    result     TEXT NOT NULL,  -- refused | spoiler
    rule       TEXT NOT NULL,
    excerpt    TEXT NOT NULL,  -- the prompt, shortened
    matched    TEXT NOT NULL,  -- what matched (never shown in a public channel)
    at         REAL NOT NULL
);
CREATE INDEX moderation_guild ON moderation (guild_id, at);
