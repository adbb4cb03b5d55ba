package sqlite

import (
	"context"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.DomainStore = (*DB)(nil)

// AddDomain implements orchestrator.DomainStore.
func (d *DB) AddDomain(ctx context.Context, dom orchestrator.Domain) error {
	defer d.changed()
	_, err := d.db.ExecContext(ctx, `INSERT INTO domains (name, installation, port, path_prefix, no_redirect, max_body, created,
cert_state, cert_issuer, cert_error, cert_not_after, cert_attempts, cert_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		dom.Name, dom.Installation, dom.Port, dom.PathPrefix, dom.NoRedirect, dom.MaxBodyBytes, formatTime(dom.Created),
		dom.Certificate.State, dom.Certificate.Issuer, dom.Certificate.Error, formatOptionalTime(dom.Certificate.NotAfter),
		dom.Certificate.Attempts, formatOptionalTime(dom.Certificate.Updated))
	if e, ok := errors.AsType[*sqlite.Error](err); ok && e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		owner := "another app"
		var inst string
		if d.db.QueryRowContext(ctx, `SELECT installation FROM domains WHERE name = ?`, dom.Name).Scan(&inst) == nil {
			switch {
			case inst == orchestrator.Console:
				owner = "the console"
			case inst == dom.Installation:
				owner = "this app already"
			default:
				owner = inst
			}
		}
		return orchestrator.WrapError(orchestrator.ECONFLICT, err, "%s is taken: %s has it", dom.Name, owner)
	}
	return classify("add domain", err)
}

// Domains implements orchestrator.DomainStore.
func (d *DB) Domains(ctx context.Context, installation string, all bool) ([]orchestrator.Domain, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, installation, port, path_prefix, no_redirect, max_body, created,
cert_state, cert_issuer, cert_error, cert_not_after, cert_attempts, cert_updated FROM domains WHERE ? OR installation = ? ORDER BY name`, all, installation)
	if err != nil {
		return nil, classify("domains", err)
	}
	defer rows.Close()
	out := []orchestrator.Domain{}
	for rows.Next() {
		var dom orchestrator.Domain
		var created, notAfter, updated string
		c := &dom.Certificate
		if err := rows.Scan(&dom.Name, &dom.Installation, &dom.Port, &dom.PathPrefix, &dom.NoRedirect, &dom.MaxBodyBytes, &created,
			&c.State, &c.Issuer, &c.Error, &notAfter, &c.Attempts, &updated); err != nil {
			return nil, classify("domains", err)
		}
		dom.Created, c.NotAfter, c.Updated = parseTime(created), parseOptionalTime(notAfter), parseOptionalTime(updated)
		out = append(out, dom)
	}
	return out, classify("domains", rows.Err())
}

// RemoveDomain implements orchestrator.DomainStore.
func (d *DB) RemoveDomain(ctx context.Context, name string) error {
	defer d.changed()
	res, err := d.db.ExecContext(ctx, `DELETE FROM domains WHERE name = ?`, name)
	if err != nil {
		return classify("remove domain", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no domain %s", name)
	}
	return nil
}

// RemoveDomains implements orchestrator.DomainStore.
func (d *DB) RemoveDomains(ctx context.Context, installation string) ([]string, error) {
	defer d.changed()
	rows, err := d.db.QueryContext(ctx, `DELETE FROM domains WHERE installation = ? RETURNING name`, installation)
	if err != nil {
		return nil, classify("remove domains", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, classify("remove domains", err)
		}
		out = append(out, n)
	}
	return out, classify("remove domains", rows.Err())
}

// SetCertificate implements orchestrator.DomainStore.
func (d *DB) SetCertificate(ctx context.Context, name string, c orchestrator.Certificate) error {
	defer d.changed()
	_, err := d.db.ExecContext(ctx, `UPDATE domains SET cert_state = ?, cert_issuer = ?, cert_error = ?, cert_not_after = ?,
cert_attempts = ?, cert_updated = ? WHERE name = ?`, c.State, c.Issuer, c.Error, formatOptionalTime(c.NotAfter), c.Attempts,
		formatOptionalTime(c.Updated), name)
	return classify("set certificate state", err)
}

func formatOptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

func parseOptionalTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	return parseTime(s)
}
