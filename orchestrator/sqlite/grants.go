package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.Grants = (*DB)(nil)

// CreateGrant implements orchestrator.Grants. The partial unique index
// grants_live keeps one live grant per app and digest.
func (d *DB) CreateGrant(ctx context.Context, g orchestrator.Grant) error {
	defer d.changed() // after the commit: readers load a new snapshot
	perms, err := json.Marshal(orchestrator.PermissionStrings(g.Permissions))
	if err != nil {
		return err
	}
	_, err = d.db.ExecContext(ctx, `INSERT INTO grants (id, app, version, digest, permissions, granted_by, granted_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.App, g.Version, g.Digest, string(perms), g.GrantedBy, formatTime(g.GrantedAt))
	if isUniqueViolation(err) {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "%s's bundle %s already has a live grant", g.App, g.Digest)
	}
	return classify("create grant", err)
}

// selectLiveGrants selects the columns scanGrant reads, of live grants.
const selectLiveGrants = `SELECT id, app, version, digest, permissions, granted_by, granted_at FROM grants WHERE revoked_at IS NULL`

// scanGrant reads a row of selectLiveGrants. A permission the domain does
// not accept is a bad row, never guessed at.
func scanGrant(row interface{ Scan(...any) error }) (orchestrator.Grant, error) {
	var g orchestrator.Grant
	var perms, at string
	if err := row.Scan(&g.ID, &g.App, &g.Version, &g.Digest, &perms, &g.GrantedBy, &at); err != nil {
		return g, err
	}
	var list []string
	if err := json.Unmarshal([]byte(perms), &list); err != nil {
		return g, badRow("grant's permissions", orchestrator.WrapError(orchestrator.EINTERNAL, err, "%q is not a JSON list", perms))
	}
	ps, err := orchestrator.ParsePermissions(list)
	if err != nil {
		return g, badRow("grant's permissions", err)
	}
	g.Permissions = ps
	g.GrantedAt = parseTime(at)
	return g, nil
}

// LiveGrant implements orchestrator.Grants.
func (d *DB) LiveGrant(ctx context.Context, app, digest string) (orchestrator.Grant, error) {
	g, err := scanGrant(d.db.QueryRowContext(ctx, selectLiveGrants+` AND app = ? AND digest = ?`, app, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return g, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s's bundle %s has no grant", app, digest)
	}
	return g, classify("grant", err)
}

// ListGrants implements orchestrator.Grants.
func (d *DB) ListGrants(ctx context.Context) ([]orchestrator.Grant, error) {
	rows, err := d.db.QueryContext(ctx, selectLiveGrants+` ORDER BY granted_at, id`)
	if err != nil {
		return nil, classify("grants", err)
	}
	defer rows.Close()
	out := []orchestrator.Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, classify("grants", err)
		}
		out = append(out, g)
	}
	return out, classify("grants", rows.Err())
}

// RevokeGrant implements orchestrator.Grants.
func (d *DB) RevokeGrant(ctx context.Context, id, by string, now time.Time) error {
	defer d.changed() // after the commit: readers load a new snapshot
	res, err := d.db.ExecContext(ctx, `UPDATE grants SET revoked_by = ?, revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, by, formatTime(now), id)
	if err != nil {
		return classify("revoke grant", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no live grant %s", id)
	}
	return nil
}
