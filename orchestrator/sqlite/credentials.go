package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

// RevealOutputs implements orchestrator.CredentialStore. The check and the
// record of the reveal are one transaction, so two concurrent readers
// cannot both get the values.
func (d *DB) RevealOutputs(ctx context.Context, installation string, names []string, now time.Time) (map[string]string, []string, *time.Time, error) {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, nil, classify("reveal credentials", err)
	}
	defer func() { _ = tx.Rollback() }()

	var installRun, installCreated string
	err = tx.QueryRowContext(ctx, `SELECT id, created FROM runs WHERE installation = ? AND action = 'install' AND status = 'succeeded'
ORDER BY created DESC, id DESC LIMIT 1`, installation).Scan(&installRun, &installCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s has no successful install", installation)
	}
	if err != nil {
		return nil, nil, nil, classify("reveal credentials", err)
	}

	// The latest value of each named sensitive output, from the install
	// run or a later one (never from an earlier installation of the name).
	rows, err := tx.QueryContext(ctx, `SELECT o.name, o.value FROM outputs o JOIN runs r ON r.id = o.run_id
WHERE o.installation = ? AND o.sensitive = 1 AND r.created >= ? ORDER BY r.created, r.id`, installation, installCreated)
	if err != nil {
		return nil, nil, nil, classify("reveal credentials", err)
	}
	sealed := map[string][]byte{}
	for rows.Next() {
		var name string
		var v []byte
		if err := rows.Scan(&name, &v); err != nil {
			rows.Close()
			return nil, nil, nil, classify("reveal credentials", err)
		}
		if slices.Contains(names, name) {
			sealed[name] = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, nil, classify("reveal credentials", err)
	}
	present := make([]string, 0, len(sealed))
	for _, n := range names {
		if _, ok := sealed[n]; ok {
			present = append(present, n)
		}
	}

	var shownRun, shownAt string
	err = tx.QueryRowContext(ctx, `SELECT run_id, shown_at FROM credentials_shown WHERE installation = ?`, installation).Scan(&shownRun, &shownAt)
	switch {
	case err == nil && shownRun == installRun:
		t := parseTime(shownAt)
		return nil, present, &t, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, nil, nil, classify("reveal credentials", err)
	}

	values := make(map[string]string, len(sealed))
	for name, v := range sealed {
		if d.Sealer == nil {
			return nil, nil, nil, orchestrator.Errorf(orchestrator.EINTERNAL, "credentials of %s cannot be read: no sealer is configured", installation)
		}
		plain, err := d.Sealer.Open(v)
		if err != nil {
			return nil, nil, nil, classify("reveal credentials", fmt.Errorf("open output %s: %w", name, err))
		}
		values[name] = string(plain)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO credentials_shown (installation, run_id, shown_at) VALUES (?, ?, ?)
ON CONFLICT (installation) DO UPDATE SET run_id = excluded.run_id, shown_at = excluded.shown_at`,
		installation, installRun, formatTime(now)); err != nil {
		return nil, nil, nil, classify("reveal credentials", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, nil, classify("reveal credentials", err)
	}
	return values, present, nil, nil
}
