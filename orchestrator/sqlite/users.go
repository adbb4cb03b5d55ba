package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.Users = (*DB)(nil)

const insertUser = `INSERT INTO users (id, name, hash, created, changed, initial, role) VALUES (?, ?, ?, ?, ?, 1, ?)`

// CreateUser implements orchestrator.Users.
func (d *DB) CreateUser(ctx context.Context, u orchestrator.User) error {
	defer d.changed() // after the commit: readers load a new snapshot
	_, err := d.db.ExecContext(ctx, insertUser, u.ID, u.Name, u.Hash, formatTime(u.Created), formatTime(u.Changed), string(roleOr(u.Role)))
	if isUniqueViolation(err) {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "user %s already exists", u.Name)
	}
	return classify("create user", err)
}

// CreateFirstUser implements orchestrator.Users.
func (d *DB) CreateFirstUser(ctx context.Context, u orchestrator.User) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("create first user", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return classify("create first user", err)
	}
	if n > 0 {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "the first admin exists already: log in")
	}
	if _, err := tx.ExecContext(ctx, insertUser, u.ID, u.Name, u.Hash, formatTime(u.Created), formatTime(u.Changed), string(orchestrator.RoleAdmin)); err != nil {
		return classify("create first user", err)
	}
	return classify("create first user", tx.Commit())
}

// roleOr is r, or admin for a user made without one (the CLI's first
// accounts, before roles).
func roleOr(r orchestrator.Role) orchestrator.Role {
	if r == "" {
		return orchestrator.RoleAdmin
	}
	return r
}

const selectUsers = `SELECT id, name, hash, created, changed, initial, role, totp_secret, totp_enabled, totp_last_step, require_totp FROM users`

// scanUser reads a row of selectUsers, opening the TOTP secret.
func (d *DB) scanUser(row interface{ Scan(...any) error }) (orchestrator.User, error) {
	var u orchestrator.User
	var created, changed, role string
	var secret []byte
	if err := row.Scan(&u.ID, &u.Name, &u.Hash, &created, &changed, &u.Initial, &role, &secret, &u.TOTPEnabled, &u.TOTPLastStep, &u.RequireTOTP); err != nil {
		return u, err
	}
	u.Created, u.Changed = parseTime(created), parseTime(changed)
	var err error
	if u.Role, err = orchestrator.ParseRole(role); err != nil {
		return u, badRow("user role", err)
	}
	if len(secret) > 0 {
		plain, err := d.openSecret(secret)
		if err != nil {
			return u, fmt.Errorf("user %s: second factor: %w", u.Name, err)
		}
		u.TOTPSecret = string(plain)
	}
	return u, nil
}

// sealSecret seals a TOTP secret with the data directory's key; without
// a sealer (tests of other things) it is kept as it is.
func (d *DB) sealSecret(plain string) ([]byte, error) {
	if d.Sealer == nil {
		return []byte(plain), nil
	}
	return d.Sealer.Seal([]byte(plain))
}

func (d *DB) openSecret(sealed []byte) ([]byte, error) {
	if d.Sealer == nil {
		return sealed, nil
	}
	return d.Sealer.Open(sealed)
}

// UserByName implements orchestrator.Users.
func (d *DB) UserByName(ctx context.Context, name string) (orchestrator.User, error) {
	u, err := d.scanUser(d.db.QueryRowContext(ctx, selectUsers+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, orchestrator.Errorf(orchestrator.ENOTFOUND, "no user %s", name)
	}
	if err != nil {
		return u, classify("user", err)
	}
	return u, nil
}

// CountUsers implements orchestrator.Users.
func (d *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, classify("count users", err)
}

// SetPassword implements orchestrator.Users. Every session of the user
// ends: a changed password logs out everywhere.
func (d *DB) SetPassword(ctx context.Context, name, hash string, now time.Time) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("set password", err)
	}
	defer tx.Rollback()
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, name).Scan(&id); errors.Is(err, sql.ErrNoRows) {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no user %s", name)
	} else if err != nil {
		return classify("set password", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET hash = ?, changed = ?, initial = 0 WHERE id = ?`, hash, formatTime(now), id); err != nil {
		return classify("set password", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
		return classify("set password", err)
	}
	return classify("set password", tx.Commit())
}

// CreateSession implements orchestrator.Users.
func (d *DB) CreateSession(ctx context.Context, s orchestrator.Session) error {
	defer d.changed() // after the commit: readers load a new snapshot
	_, err := d.db.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, csrf, created, expires) VALUES (?, ?, ?, ?, ?)`,
		s.Hash, s.UserID, s.CSRF, formatTime(s.Created), formatTime(s.Expires))
	return classify("create session", err)
}

// SessionByHash implements orchestrator.Users.
func (d *DB) SessionByHash(ctx context.Context, hash string, now time.Time) (orchestrator.Session, error) {
	var s orchestrator.Session
	var created, expires string
	var role string
	var totpEnabled, requireTOTP bool
	err := d.db.QueryRowContext(ctx, `SELECT s.hash, s.user_id, u.name, u.role, u.totp_enabled, u.require_totp, s.csrf, s.created, s.expires FROM sessions s
JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, hash).Scan(&s.Hash, &s.UserID, &s.User, &role, &totpEnabled, &requireTOTP, &s.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return s, orchestrator.Errorf(orchestrator.ENOTFOUND, "no session")
	}
	if err != nil {
		return s, classify("session", err)
	}
	s.Created, s.Expires = parseTime(created), parseTime(expires)
	if s.Role, err = orchestrator.ParseRole(role); err != nil {
		return orchestrator.Session{}, badRow("user role", err)
	}
	s.MustEnroll, s.SecondFactor = requireTOTP && !totpEnabled, totpEnabled
	if !now.Before(s.Expires) {
		_, _ = d.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
		d.changed()
		return orchestrator.Session{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "session expired")
	}
	return s, nil
}

// DeleteSession implements orchestrator.Users.
func (d *DB) DeleteSession(ctx context.Context, hash string) error {
	defer d.changed() // after the commit: readers load a new snapshot
	_, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return classify("delete session", err)
}
