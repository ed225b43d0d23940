-- Users who keep their avatar to themselves (/privacy): the "Animate avatar" menu of anyone else on them is
-- refused. Forget me keeps it: it protects them.
CREATE TABLE private_avatars (
    user_id INTEGER PRIMARY KEY,
    set_at  REAL NOT NULL
);
