-- Sensitive parameter values of a run, as one JSON object sealed with the
-- data directory's key; never stored in clear in runs.parameters.
ALTER TABLE runs ADD COLUMN secrets BLOB;
