-- Which clip is whose is kept a year after the clip was made (the Delete button under it works that long for
-- a user the bot forgot), not for ever: `made_at` is when the clip was made. Rows from before are dated now.
ALTER TABLE clip_owners ADD COLUMN made_at REAL NOT NULL DEFAULT 0;
UPDATE clip_owners SET made_at = CAST(strftime('%s', 'now') AS REAL);
CREATE INDEX clip_owners_made ON clip_owners (made_at);
