-- Every output value of every run, so later runs can take parameters from
-- earlier outputs (porter-state, parameter sources). Sensitive values are
-- sealed with the data directory's key before they get here.
CREATE TABLE outputs (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    installation TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        BLOB NOT NULL,
    sensitive    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX outputs_by_installation ON outputs (installation, name);
