-- When apps are backed up and which backups stay: one row per app with a
-- policy of its own, and the default for every other app (installation '').
CREATE TABLE backup_policies (
    installation TEXT PRIMARY KEY,
    schedule     TEXT NOT NULL DEFAULT '',
    repository   TEXT NOT NULL DEFAULT '',
    keep_last    INTEGER NOT NULL DEFAULT 0 CHECK (keep_last >= 0),
    keep_daily   INTEGER NOT NULL DEFAULT 0 CHECK (keep_daily >= 0),
    keep_weekly  INTEGER NOT NULL DEFAULT 0 CHECK (keep_weekly >= 0),
    keep_monthly INTEGER NOT NULL DEFAULT 0 CHECK (keep_monthly >= 0),
    updated      TEXT NOT NULL
);
