-- A database as StackHub left it at schema version 1: the schema exactly as
-- its migrations were then (copied, so that editing an old migration shows
-- here), and data. migrate_test.go opens it with today's code.
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

-- Data as a v1 server left it: redmine running on 9001 and 3307, one
-- finished install run, one admin token (secret in migrate_test.go).
INSERT INTO installations (name, app, version, state, reason, outputs, last_run_id, created, updated)
VALUES ('redmine', 'redmine', '5.1.3', 'running', '', '{"url":"http://127.0.0.1:9001"}', 'run-1', '2026-11-20T10:00:00Z', '2026-11-20T10:01:00Z');
INSERT INTO port_reservations (host_port, installation, param) VALUES (9001, 'redmine', 'port'), (3307, 'redmine', 'db_port');
INSERT INTO container_names (name, installation) VALUES ('websoft9-redmine', 'redmine'), ('websoft9-redmine-mariadb', 'redmine');
INSERT INTO runs (id, installation, action, revision, status, message, parameters, outputs, created, finished)
VALUES ('run-1', 'redmine', 'install', 'rev-1', 'succeeded', '', '{"port":9001,"db_port":3307}', '{"url":"http://127.0.0.1:9001"}', '2026-11-20T10:00:00Z', '2026-11-20T10:01:00Z');
INSERT INTO installations (name, app, version, state, reason, outputs, last_run_id, created, updated)
VALUES ('gone', 'wordpress', '6.7', 'uninstalled', '', '{}', 'run-2', '2026-11-20T09:00:00Z', '2026-11-20T09:30:00Z');
INSERT INTO tokens (id, name, hash, scope, created) VALUES ('t1', 'ops', 'c4fcefff7db4bf5b479b48efb3d2c3ff2fe9379a68a56bb9563843162ddef6a4', 'admin', '2026-11-20T09:00:00Z');
PRAGMA user_version = 1;
