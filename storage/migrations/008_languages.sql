-- Languages: each job remembers its requester's Discord locale, so that its status and result messages
-- are edited in that language after a restart too. (A server's own `language` is a guild_settings row.)

ALTER TABLE jobs ADD COLUMN locale TEXT NOT NULL DEFAULT 'en-US';
