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
		if _, err := d.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, formatTime(now), t.ID); err != nil {
			return t, classify("token", err)
		}
	}
	t.LastUsed = now
	return t, nil
}
