-- The input image of a job, kept for a while so Reroll and Remix can run it again.

CREATE TABLE job_inputs (
    job_id     TEXT PRIMARY KEY,
    image      BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX job_inputs_age ON job_inputs (created_at);
