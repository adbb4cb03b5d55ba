-- Backup repositories: where they are, and their secrets (the repository
-- password, an S3 secret key) sealed as one JSON object.
CREATE TABLE repositories (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('filesystem', 's3')),
    location    TEXT NOT NULL,
    secrets     BLOB NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created     TEXT NOT NULL
);
-- At most one default.
CREATE UNIQUE INDEX repositories_one_default ON repositories (is_default) WHERE is_default = 1;
