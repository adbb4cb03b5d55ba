-- Installations, their port and container-name reservations, runs, tokens.
CREATE TABLE installations (
    name        TEXT PRIMARY KEY,
    app         TEXT NOT NULL,
    version     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('installing', 'running', 'failed', 'uninstalling', 'uninstalled')),
    reason      TEXT NOT NULL DEFAULT '',
    outputs     TEXT NOT NULL DEFAULT '{}',
    last_run_id TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL,
    updated     TEXT NOT NULL
);

-- The ledger: UNIQUE(host_port) makes two installs racing for a port a conflict.
CREATE TABLE port_reservations (
    host_port    INTEGER NOT NULL UNIQUE CHECK (host_port BETWEEN 1 AND 65535),
    installation TEXT NOT NULL REFERENCES installations (name) ON DELETE CASCADE,
    param        TEXT NOT NULL,
    UNIQUE (installation, param)
);

-- Every container name an installation will create: app foo's service db
-- and an app named foo-db cannot both hold websoft9-foo-db.
CREATE TABLE container_names (
    name         TEXT PRIMARY KEY,
    installation TEXT NOT NULL REFERENCES installations (name) ON DELETE CASCADE
);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    installation TEXT NOT NULL REFERENCES installations (name) ON DELETE CASCADE,
    action       TEXT NOT NULL,
    revision     TEXT NOT NULL,
    status       TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    parameters   TEXT NOT NULL DEFAULT '{}',
    outputs      TEXT NOT NULL DEFAULT '{}',
    created      TEXT NOT NULL,
    finished     TEXT
);
-- One active run per installation.
CREATE UNIQUE INDEX runs_one_active ON runs (installation) WHERE finished IS NULL;

CREATE TABLE tokens (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,
    scope     TEXT NOT NULL CHECK (scope IN ('admin', 'read')),
    created   TEXT NOT NULL,
    last_used TEXT,
    revoked   TEXT
);
