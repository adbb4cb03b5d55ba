package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

// CreateToken implements orchestrator.Tokens.
func (d *DB) CreateToken(ctx context.Context, t orchestrator.Token) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO tokens (id, name, hash, scope, created) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Hash, t.Scope, formatTime(t.Created))
	if isUniqueViolation(err) {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "token already exists")
	}
	return classify("create token", err)
}

// TokenByHash implements orchestrator.Tokens.
func (d *DB) TokenByHash(ctx context.Context, hash string, now time.Time) (orchestrator.Token, error) {
	var t orchestrator.Token
	var created string
	var lastUsed sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT id, name, hash, scope, created, last_used FROM tokens WHERE hash = ? AND revoked IS NULL`, hash).
		Scan(&t.ID, &t.Name, &t.Hash, &t.Scope, &created, &lastUsed)
	if errors.Is(err, sql.ErrNoRows) {
		return t, orchestrator.Errorf(orchestrator.ENOTFOUND, "no such token")
	}
	if err != nil {
		return t, classify("token", err)
	}
	t.Created = parseTime(created)
	// Record use at most once a minute so reads stay reads.
	if !lastUsed.Valid || now.Sub(parseTime(lastUsed.String)) > time.Minute {
		// Bookkeeping only: a database that cannot be written (disk full)
		// must not lock every reader out.
		if _, err := d.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, formatTime(now), t.ID); err != nil {
			if lastUsed.Valid {
				t.LastUsed = parseTime(lastUsed.String)
			}
			return t, nil
		}
	}
	t.LastUsed = now
	return t, nil
}

// ListTokens implements orchestrator.Tokens.
func (d *DB) ListTokens(ctx context.Context) ([]orchestrator.Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, name, hash, scope, created, last_used FROM tokens WHERE revoked IS NULL ORDER BY created, id`)
	if err != nil {
		return nil, classify("tokens", err)
	}
	defer rows.Close()
	var out []orchestrator.Token
	for rows.Next() {
		var t orchestrator.Token
		var created string
		var lastUsed sql.NullString
		if err := rows.Scan(&t.ID, &t.Name, &t.Hash, &t.Scope, &created, &lastUsed); err != nil {
			return nil, classify("tokens", err)
		}
		t.Created = parseTime(created)
		if lastUsed.Valid {
			t.LastUsed = parseTime(lastUsed.String)
		}
		out = append(out, t)
	}
	return out, classify("tokens", rows.Err())
}

// RevokeToken implements orchestrator.Tokens.
func (d *DB) RevokeToken(ctx context.Context, id string, now time.Time) error {
	res, err := d.db.ExecContext(ctx, `UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL`, formatTime(now), id)
	if err != nil {
		return classify("revoke token", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no live token %s", id)
	}
	return nil
}
