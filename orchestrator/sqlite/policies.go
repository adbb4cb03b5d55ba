package sqlite

import (
	"context"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.BackupPolicies = (*DB)(nil)

// SetBackupPolicy implements orchestrator.BackupPolicies.
func (d *DB) SetBackupPolicy(ctx context.Context, p orchestrator.BackupPolicy) error {
	defer d.changed() // after the commit: readers load a new snapshot
	_, err := d.db.ExecContext(ctx, `INSERT INTO backup_policies (installation, schedule, repository, keep_last, keep_daily, keep_weekly, keep_monthly, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (installation) DO UPDATE SET schedule = excluded.schedule, repository = excluded.repository,
keep_last = excluded.keep_last, keep_daily = excluded.keep_daily, keep_weekly = excluded.keep_weekly, keep_monthly = excluded.keep_monthly,
updated = excluded.updated`, p.Installation, p.Schedule, p.Repository, p.Keep.Last, p.Keep.Daily, p.Keep.Weekly, p.Keep.Monthly, formatTime(p.Updated))
	return classify("set backup policy", err)
}

// BackupPolicies implements orchestrator.BackupPolicies.
func (d *DB) BackupPolicies(ctx context.Context) ([]orchestrator.BackupPolicy, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT installation, schedule, repository, keep_last, keep_daily, keep_weekly, keep_monthly, updated
FROM backup_policies ORDER BY installation`)
	if err != nil {
		return nil, classify("backup policies", err)
	}
	defer rows.Close()
	out := []orchestrator.BackupPolicy{}
	for rows.Next() {
		var p orchestrator.BackupPolicy
		var updated string
		if err := rows.Scan(&p.Installation, &p.Schedule, &p.Repository, &p.Keep.Last, &p.Keep.Daily, &p.Keep.Weekly, &p.Keep.Monthly, &updated); err != nil {
			return nil, classify("backup policies", err)
		}
		p.Updated = parseTime(updated)
		out = append(out, p)
	}
	return out, classify("backup policies", rows.Err())
}

// DeleteBackupPolicy implements orchestrator.BackupPolicies.
func (d *DB) DeleteBackupPolicy(ctx context.Context, installation string) error {
	defer d.changed() // after the commit: readers load a new snapshot
	_, err := d.db.ExecContext(ctx, `DELETE FROM backup_policies WHERE installation = ?`, installation)
	return classify("delete backup policy", err)
}
