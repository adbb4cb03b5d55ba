-- The bundle each install or upgrade ran, by version and digest, and the
-- one an installation runs now: what a rollback, a restore or a clone
-- installs again (the bundle vault keeps it by digest).
ALTER TABLE runs ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE installations ADD COLUMN digest TEXT NOT NULL DEFAULT '';
