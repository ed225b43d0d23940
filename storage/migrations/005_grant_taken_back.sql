-- Granted credits an admin took back while a job held them: its refund does not return them.

ALTER TABLE reservations ADD COLUMN grant_taken_back INTEGER NOT NULL DEFAULT 0;
