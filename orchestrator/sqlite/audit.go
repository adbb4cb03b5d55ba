package sqlite

import (
	"context"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.AuditLog = (*DB)(nil)

// RecordRefusal implements orchestrator.AuditLog.
func (d *DB) RecordRefusal(ctx context.Context, r orchestrator.PolicyRefusal) error {
	defer d.changed()
	_, err := d.db.ExecContext(ctx, `INSERT INTO policy_refusals (at, installation, run_id, rule, call, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		r.At.UTC().Format(time.RFC3339Nano), r.Installation, r.RunID, r.Rule, r.Call, r.Detail)
	return classify("record a policy refusal", err)
}

const selectRefusals = `SELECT at, installation, run_id, rule, call, detail FROM policy_refusals`

// Refusals implements orchestrator.AuditLog.
func (d *DB) Refusals(ctx context.Context, installation string, limit int) ([]orchestrator.PolicyRefusal, error) {
	q, args := selectRefusals+` ORDER BY id DESC LIMIT ?`, []any{limit}
	if installation != "" {
		q, args = selectRefusals+` WHERE installation = ? ORDER BY id DESC LIMIT ?`, []any{installation, limit}
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, classify("read policy refusals", err)
	}
	defer rows.Close()
	out := []orchestrator.PolicyRefusal{}
	for rows.Next() {
		var r orchestrator.PolicyRefusal
		var at string
		if err := rows.Scan(&at, &r.Installation, &r.RunID, &r.Rule, &r.Call, &r.Detail); err != nil {
			return nil, classify("read policy refusals", err)
		}
		if r.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, orchestrator.WrapError(orchestrator.EINTERNAL, err, "bad row in policy_refusals: at %q", at)
		}
		out = append(out, r)
	}
	return out, classify("read policy refusals", rows.Err())
}
