-- A mention the bot is taking in is a pending request too. It has no "thinking…" message: its row names the
-- channel of the user's message (message_id), and a start after a kill replies to that message.
ALTER TABLE pending_requests ADD COLUMN channel_id INTEGER;
