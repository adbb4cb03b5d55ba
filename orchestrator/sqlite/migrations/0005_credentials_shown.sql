-- When an installation's credentials (sensitive outputs) were shown, per
-- install run: a new install shows the new ones once again.
CREATE TABLE credentials_shown (
    installation TEXT PRIMARY KEY REFERENCES installations (name) ON DELETE CASCADE,
    run_id       TEXT NOT NULL,
    shown_at     TEXT NOT NULL
);
