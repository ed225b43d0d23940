-- What a delivered clip turned out to be (frames, fps, size, seed, model, as JSON), so Extend knows how
-- long the clip it continues is and Smooth / Extend can echo it.

ALTER TABLE jobs ADD COLUMN result TEXT;
