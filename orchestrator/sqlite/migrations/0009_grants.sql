-- Operators' grants of what a bundle declares beyond the default bundle
-- policy (custom.sh.websoft9.permissions), per bundle digest, with who
-- granted and when. A revoked grant is kept with who revoked it and when;
-- at most one grant per app and digest is live.
CREATE TABLE grants (
    id          TEXT PRIMARY KEY,
    app         TEXT NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    permissions TEXT NOT NULL, -- JSON array of canonical permission strings
    granted_by  TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    revoked_by  TEXT,
    revoked_at  TEXT
);
CREATE UNIQUE INDEX grants_live ON grants (app, digest) WHERE revoked_at IS NULL;
