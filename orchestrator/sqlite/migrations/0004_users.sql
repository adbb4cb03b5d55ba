-- Operator accounts (argon2id hashes only) and console sessions (SHA-256 of
-- the cookie secret only).
CREATE TABLE users (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    hash      TEXT NOT NULL,
    created   TEXT NOT NULL,
    changed   TEXT NOT NULL,
    initial   INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE sessions (
    hash     TEXT PRIMARY KEY,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf     TEXT NOT NULL,
    created  TEXT NOT NULL,
    expires  TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
