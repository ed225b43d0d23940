-- Each distinct input file once (by content hash), shared by the jobs that use it; a blob no job refers
-- to any more is deleted. Inputs kept before this keep working under a per-job key.

CREATE TABLE input_blobs (
    hash       TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    size       INTEGER NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE input_refs (
    job_id     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL REFERENCES input_blobs (hash),
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX input_refs_hash ON input_refs (hash);
CREATE INDEX input_refs_owner ON input_refs (guild_id, user_id, created_at);
CREATE INDEX input_refs_age ON input_refs (created_at);

INSERT INTO input_blobs (hash, data, size, created_at)
    SELECT 'job:' || job_id, image, length(image), created_at FROM job_inputs;
INSERT INTO input_refs (job_id, hash, guild_id, user_id, created_at)
    SELECT i.job_id, 'job:' || i.job_id, COALESCE(j.guild_id, 0), COALESCE(j.user_id, 0), i.created_at
    FROM job_inputs i LEFT JOIN jobs j ON j.job_id = i.job_id;
DROP TABLE job_inputs;
