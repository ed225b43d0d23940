-- /privacy: a user who has the bot forget them keeps only which of the bot's messages are their clips, so
-- that the Delete button under each still works for them. A row goes when its clip is deleted.
CREATE TABLE clip_owners (
    job_id   TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,  -- 0 for direct messages
    user_id  INTEGER NOT NULL
);
CREATE INDEX clip_owners_user ON clip_owners (user_id);
