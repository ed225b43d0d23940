-- Requests the bot has acknowledged ("thinking…") and not answered yet. A bot killed meanwhile leaves its row,
-- and the next start tells that user (the interaction's token lives 15 minutes) instead of leaving them waiting.
CREATE TABLE pending_requests (
    token TEXT PRIMARY KEY,
    application_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,              -- the "thinking…" message, where the user is told
    locale TEXT NOT NULL,
    made_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
