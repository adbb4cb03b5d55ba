-- An installation's run history, newest first (GET /api/v1/apps/{name}/runs),
-- without a scan of every run.
CREATE INDEX runs_by_installation ON runs (installation, created DESC, id DESC);
