-- Calls of bundles that StackHub's bundle policy refused (the audit log
-- admins read at GET /api/v1/audit/refusals), newest first per installation.
CREATE TABLE policy_refusals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    installation TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    rule         TEXT NOT NULL,
    call         TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX policy_refusals_by_installation ON policy_refusals (installation, id DESC);
