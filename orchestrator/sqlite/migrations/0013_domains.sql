-- The gateway's domains: one row per host name, for an app or for the
-- console (installation ''), with the state of its certificate.
CREATE TABLE domains (
    name          TEXT PRIMARY KEY,
    installation  TEXT NOT NULL,
    port          TEXT NOT NULL DEFAULT '',
    path_prefix   TEXT NOT NULL DEFAULT '',
    no_redirect   INTEGER NOT NULL DEFAULT 0,
    max_body      INTEGER NOT NULL DEFAULT 0 CHECK (max_body >= 0),
    created       TEXT NOT NULL,
    cert_state    TEXT NOT NULL DEFAULT 'pending',
    cert_issuer   TEXT NOT NULL DEFAULT '',
    cert_error    TEXT NOT NULL DEFAULT '',
    cert_not_after TEXT NOT NULL DEFAULT '',
    cert_attempts INTEGER NOT NULL DEFAULT 0,
    cert_updated  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX domains_by_installation ON domains (installation);
