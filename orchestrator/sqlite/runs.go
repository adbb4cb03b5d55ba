package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/websoft9/stackhub/orchestrator"
)

// BeginRun implements orchestrator.Runs.
func (d *DB) BeginRun(ctx context.Context, run orchestrator.Run, state orchestrator.State) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("begin run", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE installations SET state = ?, last_run_id = ?, updated = ? WHERE name = ? AND state != 'uninstalled'`,
		string(state), run.ID, formatTime(run.Created), run.Installation)
	if err != nil {
		return classify("begin run", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not installed", run.Installation)
	}
	if err := d.insertRunRow(ctx, tx, run); err != nil {
		return classify("begin run "+run.ID, err)
	}
	return classify("begin run", tx.Commit())
}

// FinishRun implements orchestrator.Runs.
func (d *DB) FinishRun(ctx context.Context, run orchestrator.Run, state orchestrator.State, reason string, release bool) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("finish run", err)
	}
	defer tx.Rollback()
	if err := finishRun(ctx, tx, run, state, reason, release); err != nil {
		return classify("finish run "+run.ID, err)
	}
	if err := d.insertOutputs(ctx, tx, run); err != nil {
		return classify("finish run "+run.ID, err)
	}
	return classify("finish run", tx.Commit())
}

func finishRun(ctx context.Context, tx *sql.Tx, run orchestrator.Run, state orchestrator.State, reason string, release bool) error {
	outputs, err := json.Marshal(nonNil(run.Outputs))
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, message = ?, outputs = ?, finished = ? WHERE id = ? AND finished IS NULL`,
		string(run.Status), run.Message, string(outputs), formatTime(run.Finished), run.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "run %s is not active", run.ID)
	}
	q := `UPDATE installations SET state = ?, reason = ?, updated = ? WHERE name = ?`
	args := []any{string(state), reason, formatTime(run.Finished), run.Installation}
	if state == orchestrator.StateRunning && run.Status == orchestrator.RunSucceeded &&
		(run.Action == orchestrator.ActionInstall || run.Action == orchestrator.ActionUpgrade || run.Action == orchestrator.ActionRestore) {
		q = `UPDATE installations SET state = ?, reason = ?, updated = ?, outputs = ?, version = COALESCE(NULLIF(?, ''), version),
digest = COALESCE(NULLIF(?, ''), digest) WHERE name = ?`
		args = []any{string(state), reason, formatTime(run.Finished), string(outputs), run.Version, run.Digest, run.Installation}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	if release {
		for _, q := range []string{`DELETE FROM port_reservations WHERE installation = ?`, `DELETE FROM container_names WHERE installation = ?`} {
			if _, err := tx.ExecContext(ctx, q, run.Installation); err != nil {
				return err
			}
		}
	}
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ActiveRuns implements orchestrator.Runs.
func (d *DB) ActiveRuns(ctx context.Context) ([]orchestrator.Run, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, installation, action, revision, status, parameters, created FROM runs WHERE finished IS NULL ORDER BY created`)
	if err != nil {
		return nil, classify("active runs", err)
	}
	defer rows.Close()
	var out []orchestrator.Run
	for rows.Next() {
		var r orchestrator.Run
		var action, status, params, created string
		if err := rows.Scan(&r.ID, &r.Installation, &action, &r.Revision, &status, &params, &created); err != nil {
			return nil, classify("active runs", err)
		}
		if err := parseRunKinds(&r, action, status); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(params), &r.Parameters); err != nil {
			return nil, classify("active runs", err)
		}
		r.Created = parseTime(created)
		out = append(out, r)
	}
	return out, classify("active runs", rows.Err())
}

// runColumns are the columns scanRun reads, in its order.
const runColumns = `id, installation, action, revision, status, message, parameters, outputs, created, finished, version, digest`

// scanRun reads one row of runColumns.
func scanRun(row interface{ Scan(...any) error }) (orchestrator.Run, error) {
	var r orchestrator.Run
	var action, status, params, outputs, created string
	var finished sql.NullString
	if err := row.Scan(&r.ID, &r.Installation, &action, &r.Revision, &status, &r.Message, &params, &outputs, &created, &finished, &r.Version, &r.Digest); err != nil {
		return r, err
	}
	if err := parseRunKinds(&r, action, status); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(params), &r.Parameters); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(outputs), &r.Outputs); err != nil {
		return r, err
	}
	r.Created = parseTime(created)
	if finished.Valid {
		r.Finished = parseTime(finished.String)
	}
	return r, nil
}

// parseRunKinds sets r's action and status from their columns.
func parseRunKinds(r *orchestrator.Run, action, status string) error {
	var err error
	if r.Action, err = orchestrator.ParseAction(action); err != nil {
		return badRow("action of run "+r.ID, err)
	}
	if r.Status, err = orchestrator.ParseRunStatus(status); err != nil {
		return badRow("status of run "+r.ID, err)
	}
	return nil
}

// Run returns run id. Returns ENOTFOUND if there is none.
func (d *DB) Run(ctx context.Context, id string) (orchestrator.Run, error) {
	r, err := scanRun(d.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, orchestrator.Errorf(orchestrator.ENOTFOUND, "run %s not found", id)
	}
	return r, classify("run", err)
}

// Runs implements orchestrator.Runs.
func (d *DB) Runs(ctx context.Context, installation string, limit int) ([]orchestrator.Run, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE installation = ? ORDER BY created DESC, id DESC LIMIT ?`, installation, limit)
	if err != nil {
		return nil, classify("runs", err)
	}
	defer rows.Close()
	out := []orchestrator.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, classify("runs", err)
		}
		out = append(out, r)
	}
	return out, classify("runs", rows.Err())
}

// insertOutputs stores every output of run, sealing sensitive ones; with
// no Sealer, sensitive outputs are dropped rather than stored in clear.
func (d *DB) insertOutputs(ctx context.Context, tx *sql.Tx, run orchestrator.Run) error {
	for _, o := range run.Values {
		v := o.Value
		if o.Sensitive {
			if d.Sealer == nil {
				continue
			}
			var err error
			if v, err = d.Sealer.Seal(v); err != nil {
				return fmt.Errorf("seal output %s: %w", o.Name, err)
			}
		}
		if v == nil {
			v = []byte{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outputs (run_id, installation, name, value, sensitive) VALUES (?, ?, ?, ?, ?)`,
			run.ID, run.Installation, o.Name, v, o.Sensitive); err != nil {
			return err
		}
	}
	return nil
}

// LastOutputs implements orchestrator.Runs.
func (d *DB) LastOutputs(ctx context.Context, installation string) (map[string][]byte, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT o.name, o.value, o.sensitive FROM outputs o JOIN runs r ON r.id = o.run_id
WHERE o.installation = ? ORDER BY r.created, r.id`, installation)
	if err != nil {
		return nil, classify("last outputs", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name string
		var v []byte
		var sensitive bool
		if err := rows.Scan(&name, &v, &sensitive); err != nil {
			return nil, classify("last outputs", err)
		}
		if sensitive {
			if d.Sealer == nil {
				continue
			}
			if v, err = d.Sealer.Open(v); err != nil {
				return nil, classify("last outputs", fmt.Errorf("open output %s: %w", name, err))
			}
		}
		out[name] = v // later runs overwrite earlier ones
	}
	return out, classify("last outputs", rows.Err())
}

// LastParameters implements orchestrator.Runs.
func (d *DB) LastParameters(ctx context.Context, installation string) (map[string]any, error) {
	var params string
	var secrets []byte
	err := d.db.QueryRowContext(ctx, `SELECT parameters, secrets FROM runs WHERE installation = ? AND action IN ('install', 'upgrade', 'restore')
AND status = 'succeeded' ORDER BY created DESC, id DESC LIMIT 1`, installation).Scan(&params, &secrets)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s has no successful install", installation)
	}
	if err != nil {
		return nil, classify("last parameters", err)
	}
	out := map[string]any{}
	if err := json.Unmarshal([]byte(params), &out); err != nil {
		return nil, classify("last parameters", err)
	}
	if len(secrets) > 0 {
		if d.Sealer == nil {
			return nil, orchestrator.Errorf(orchestrator.EINTERNAL, "sensitive parameters of %s cannot be read: no sealer is configured", installation)
		}
		plain, err := d.Sealer.Open(secrets)
		if err != nil {
			return nil, classify("last parameters", err)
		}
		if err := json.Unmarshal(plain, &out); err != nil {
			return nil, classify("last parameters", err)
		}
	}
	return out, nil
}

// HasSealed tells whether anything in the database is sealed (sensitive
// outputs or parameters): then the key that sealed it is needed.
func (d *DB) HasSealed(ctx context.Context) (bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM outputs WHERE sensitive = 1) + (SELECT count(*) FROM runs WHERE secrets IS NOT NULL)`).Scan(&n)
	return n > 0, classify("sealed rows", err)
}
