-- /preferences: a user's own default Pika flags (a flags line, e.g. "-ar 9:16 -gif"), used by their new
-- requests wherever the request does not set that option. Forget me (/privacy) deletes it.
CREATE TABLE preferences (
    user_id    INTEGER PRIMARY KEY,
    flags      TEXT NOT NULL,
    updated_at REAL NOT NULL
);
