-- The video of each open "Restyle video" form, by the message the menu was used on: the menu sees the
-- message whole, but a bot without the Message Content intent cannot fetch it again when the form comes
-- back, also after a restart. Kept a day at most (storage/forms.py).

CREATE TABLE restyle_forms (
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    opened_at REAL NOT NULL,
    PRIMARY KEY (channel_id, message_id)
);
CREATE INDEX restyle_forms_opened ON restyle_forms (opened_at);
