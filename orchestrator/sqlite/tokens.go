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
	defer d.changed() // after the commit: readers load a new snapshot
	_, err := d.db.ExecContext(ctx, `INSERT INTO tokens (id, name, hash, scope, created) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Hash, string(t.Scope), formatTime(t.Created))
	if isUniqueViolation(err) {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "token already exists")
	}
	return classify("create token", err)
}

// TokenByHash implements orchestrator.Tokens, from the read model: a revoke
// (through this DB, as the API does) is seen by the next request, and a token
// that another process made (stackhub token create) is looked up on a miss.
func (d *DB) TokenByHash(ctx context.Context, hash string, now time.Time) (orchestrator.Token, error) {
	snap, err := d.snapshot(ctx)
	if err != nil {
		return orchestrator.Token{}, classify("token", err)
	}
	t, ok := snap.tokens[hash]
	if !ok {
		// Made by stackhub token create beside the server, perhaps.
		row := d.db.QueryRowContext(ctx, selectLiveTokens+` AND hash = ?`, hash)
		if t, err = scanToken(row); errors.Is(err, sql.ErrNoRows) {
			return t, orchestrator.Errorf(orchestrator.ENOTFOUND, "no such token")
		} else if err != nil {
			return t, classify("token", err)
		}
		d.changed() // the snapshot is behind the file
	}
	// Record use at most once a minute so reads stay reads.
	if t.LastUsed.IsZero() || now.Sub(t.LastUsed) > time.Minute {
		// Bookkeeping only: a database that cannot be written (disk full)
		// must not lock every reader out.
		_, err := d.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, formatTime(now), t.ID)
		d.changed()
		if err != nil {
			return t, nil
		}
		t.LastUsed = now
	}
	return t, nil
}

// selectLiveTokens selects the columns scanToken reads, of unrevoked tokens.
const selectLiveTokens = `SELECT id, name, hash, scope, created, last_used FROM tokens WHERE revoked IS NULL`

// scanToken reads a row of selectLiveTokens.
func scanToken(rows interface{ Scan(...any) error }) (orchestrator.Token, error) {
	var t orchestrator.Token
	var scope, created string
	var lastUsed sql.NullString
	if err := rows.Scan(&t.ID, &t.Name, &t.Hash, &scope, &created, &lastUsed); err != nil {
		return t, err
	}
	var err error
	if t.Scope, err = orchestrator.ParseTokenScope(scope); err != nil {
		return t, badRow("token scope", err)
	}
	t.Created = parseTime(created)
	if lastUsed.Valid {
		t.LastUsed = parseTime(lastUsed.String)
	}
	return t, nil
}

// ListTokens implements orchestrator.Tokens.
func (d *DB) ListTokens(ctx context.Context) ([]orchestrator.Token, error) {
	rows, err := d.db.QueryContext(ctx, selectLiveTokens+` ORDER BY created, id`)
	if err != nil {
		return nil, classify("tokens", err)
	}
	defer rows.Close()
	var out []orchestrator.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, classify("tokens", err)
		}
		out = append(out, t)
	}
	return out, classify("tokens", rows.Err())
}

// RevokeToken implements orchestrator.Tokens.
func (d *DB) RevokeToken(ctx context.Context, id string, now time.Time) error {
	defer d.changed() // after the commit: readers load a new snapshot
	res, err := d.db.ExecContext(ctx, `UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL`, formatTime(now), id)
	if err != nil {
		return classify("revoke token", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no live token %s", id)
	}
	return nil
}
