package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/websoft9/stackhub/orchestrator"
)

const (
	upsertInstallation = `INSERT INTO installations (name, app, version, state, reason, outputs, last_run_id, created, updated, node_id, node_hostname, node_addr)
VALUES (?, ?, ?, ?, '', '{}', ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET app = excluded.app, version = excluded.version, state = excluded.state,
  reason = '', outputs = '{}', last_run_id = excluded.last_run_id, updated = excluded.updated,
  node_id = excluded.node_id, node_hostname = excluded.node_hostname, node_addr = excluded.node_addr`
	insertReservation = `INSERT INTO port_reservations (node, host_port, installation, param) VALUES (?, ?, ?, ?)`
	insertName        = `INSERT INTO container_names (name, installation) VALUES (?, ?)`
	insertRun         = `INSERT INTO runs (id, installation, action, revision, status, parameters, secrets, created, version, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// BeginInstall implements orchestrator.Installations.
func (d *DB) BeginInstall(ctx context.Context, inst orchestrator.Installation, run orchestrator.Run) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("begin install", err)
	}
	defer tx.Rollback()
	if err := d.beginInstall(ctx, tx, inst, run); err != nil {
		return classify("begin install "+inst.Name, err)
	}
	return classify("begin install "+inst.Name, tx.Commit())
}

func (d *DB) beginInstall(ctx context.Context, tx *sql.Tx, inst orchestrator.Installation, run orchestrator.Run) error {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM installations WHERE name = ?`, inst.Name).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case orchestrator.State(state).Live():
		return orchestrator.Errorf(orchestrator.ECONFLICT, "%s already exists (state %s)", inst.Name, state)
	}
	now := formatTime(inst.Updated)
	if _, err := tx.ExecContext(ctx, upsertInstallation, inst.Name, inst.App, inst.Version, string(inst.State), run.ID, formatTime(inst.Created), now,
		inst.Node.NodeID, inst.Node.Hostname, inst.Node.Addr); err != nil {
		return err
	}
	// A revived record may still hold reservations of its failed run.
	for _, q := range []string{`DELETE FROM port_reservations WHERE installation = ?`, `DELETE FROM container_names WHERE installation = ?`} {
		if _, err := tx.ExecContext(ctx, q, inst.Name); err != nil {
			return err
		}
	}
	if err := reservePorts(ctx, tx, inst.Name, inst.Node.NodeID, inst.Ports); err != nil {
		return err
	}
	for _, n := range inst.Containers {
		_, err := tx.ExecContext(ctx, insertName, n, inst.Name)
		switch {
		case isUniqueViolation(err):
			var holder string
			_ = tx.QueryRowContext(ctx, `SELECT installation FROM container_names WHERE name = ?`, n).Scan(&holder)
			return orchestrator.Errorf(orchestrator.ECONFLICT, "container name %s is reserved by installation %s", n, holder)
		case err != nil:
			return err
		}
	}
	return d.insertRunRow(ctx, tx, run)
}

// reservePorts inserts the reservations on node ("" for the single
// host); the tx also creates the installation, so it is all or nothing.
// UNIQUE(node, host_port) decides races.
func reservePorts(ctx context.Context, tx *sql.Tx, inst, node string, ports []orchestrator.PortBinding) error {
	for _, p := range ports {
		_, err := tx.ExecContext(ctx, insertReservation, node, p.Port, inst, p.Param)
		switch {
		case isUniqueViolation(err) && node != "":
			return orchestrator.WrapError(orchestrator.ECONFLICT, orchestrator.ErrPortTaken{Port: p.Port}, "port %d is already reserved on node %s", p.Port, node)
		case isUniqueViolation(err):
			return orchestrator.WrapError(orchestrator.ECONFLICT, orchestrator.ErrPortTaken{Port: p.Port}, "port %d is already reserved", p.Port)
		case err != nil:
			return err
		}
	}
	return nil
}

func (d *DB) insertRunRow(ctx context.Context, tx *sql.Tx, run orchestrator.Run) error {
	params, err := json.Marshal(run.Parameters)
	if err != nil {
		return err
	}
	var secrets []byte
	if len(run.Secrets) > 0 {
		if d.Sealer == nil {
			return errors.New("sensitive parameters need a sealer: none is configured")
		}
		plain, err := json.Marshal(run.Secrets)
		if err != nil {
			return err
		}
		if secrets, err = d.Sealer.Seal(plain); err != nil {
			return fmt.Errorf("seal parameters: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, insertRun, run.ID, run.Installation, string(run.Action), run.Revision, string(run.Status), string(params), secrets, formatTime(run.Created),
		run.Version, run.Digest)
	if isUniqueViolation(err) {
		var active string
		_ = tx.QueryRowContext(ctx, `SELECT id FROM runs WHERE installation = ? AND finished IS NULL`, run.Installation).Scan(&active)
		return orchestrator.WrapError(orchestrator.ECONFLICT, orchestrator.ErrRunInProgress{Installation: run.Installation, RunID: active},
			"%s has a run in progress", run.Installation)
	}
	return err
}

// Installation implements orchestrator.Installations, from the read model.
func (d *DB) Installation(ctx context.Context, name string) (orchestrator.Installation, error) {
	snap, err := d.snapshot(ctx)
	if err != nil {
		return orchestrator.Installation{}, classify("installation "+name, err)
	}
	i, ok := snap.byName[name]
	if !ok {
		return orchestrator.Installation{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not installed", name)
	}
	return clone(snap.installs[i]), nil
}

// ReservedPorts implements orchestrator.Installations.
func (d *DB) ReservedPorts(ctx context.Context, nodes ...string) (map[int]string, error) {
	// The nodes as a JSON array; null selects every node.
	var list []byte
	if len(nodes) > 0 {
		var err error
		if list, err = json.Marshal(nodes); err != nil {
			return nil, classify("reserved ports", err)
		}
	}
	rows, err := d.db.QueryContext(ctx, `SELECT host_port, installation FROM port_reservations
WHERE ?1 IS NULL OR node IN (SELECT value FROM json_each(?1)) ORDER BY node, host_port`, nullString(list))
	if err != nil {
		return nil, classify("reserved ports", err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var p int
		var inst string
		if err := rows.Scan(&p, &inst); err != nil {
			return nil, classify("reserved ports", err)
		}
		out[p] = inst
	}
	return out, classify("reserved ports", rows.Err())
}

// Installations implements orchestrator.Installations, from the read model.
func (d *DB) Installations(ctx context.Context) ([]orchestrator.Installation, error) {
	snap, err := d.snapshot(ctx)
	if err != nil {
		return nil, classify("installations", err)
	}
	out := make([]orchestrator.Installation, len(snap.installs))
	for i, inst := range snap.installs {
		out[i] = clone(inst)
	}
	return out, nil
}

// nullString is b as text, or NULL when b is nil.
func nullString(b []byte) sql.NullString {
	return sql.NullString{String: string(b), Valid: b != nil}
}
