-- Roles, second factors and invites (issue 17 §4). Accounts made before
-- roles were all admins. A TOTP secret is sealed with the data directory's
-- key; recovery codes and invite codes are kept as SHA-256 hashes only.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT NOT NULL,
    used    TEXT,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE invites (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created    TEXT NOT NULL,
    expires    TEXT NOT NULL
);

-- A token carries a role now: the scope's CHECK grows to the three roles
-- ('read', the old viewer, stays readable). SQLite changes a CHECK only by
-- making the table again.
CREATE TABLE tokens_roles (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,
    scope     TEXT NOT NULL CHECK (scope IN ('admin', 'operator', 'viewer', 'read')),
    created   TEXT NOT NULL,
    last_used TEXT,
    revoked   TEXT
);
INSERT INTO tokens_roles (id, name, hash, scope, created, last_used, revoked)
    SELECT id, name, hash, scope, created, last_used, revoked FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_roles RENAME TO tokens;
