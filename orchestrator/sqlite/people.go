package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/websoft9/stackhub/orchestrator"
)

// ListUsers implements orchestrator.Users.
func (d *DB) ListUsers(ctx context.Context) ([]orchestrator.User, error) {
	rows, err := d.db.QueryContext(ctx, selectUsers+` ORDER BY name`)
	if err != nil {
		return nil, classify("users", err)
	}
	defer rows.Close()
	var out []orchestrator.User
	for rows.Next() {
		u, err := d.scanUser(rows)
		if err != nil {
			return nil, classify("users", err)
		}
		out = append(out, u)
	}
	return out, classify("users", rows.Err())
}

// userTx runs fn on user name's id in one transaction that keeps at least
// one admin: after fn, a change leaving none is rolled back with
// ECONFLICT. Sessions of the user end with any change.
func (d *DB) userTx(ctx context.Context, op, name string, fn func(tx *sql.Tx, id string) error) error {
	defer d.changed() // after the commit: readers load a new snapshot
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(op, err)
	}
	defer tx.Rollback()
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, name).Scan(&id); errors.Is(err, sql.ErrNoRows) {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no user %s", name)
	} else if err != nil {
		return classify(op, err)
	}
	if err := fn(tx, id); err != nil {
		return classify(op, err)
	}
	var admins int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
		return classify(op, err)
	}
	if admins == 0 {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "%s is the last admin: make another admin first", name)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
		return classify(op, err)
	}
	return classify(op, tx.Commit())
}

// SetRole implements orchestrator.Users.
func (d *DB) SetRole(ctx context.Context, name string, role orchestrator.Role) error {
	return d.userTx(ctx, "set role", name, func(tx *sql.Tx, id string) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), id)
		return err
	})
}

// DeleteUser implements orchestrator.Users.
func (d *DB) DeleteUser(ctx context.Context, name string) error {
	return d.userTx(ctx, "delete user", name, func(tx *sql.Tx, id string) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
}

// SetRequireTOTP implements orchestrator.Users.
func (d *DB) SetRequireTOTP(ctx context.Context, name string, require bool) error {
	defer d.changed()
	res, err := d.db.ExecContext(ctx, `UPDATE users SET require_totp = ? WHERE name = ?`, require, name)
	return affectedOne("require second factor", "user "+name, res, err)
}

// SetTOTP implements orchestrator.Users.
func (d *DB) SetTOTP(ctx context.Context, userID, secret string, enabled bool) error {
	defer d.changed()
	if secret == "" {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return classify("second factor", err)
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret = NULL, totp_enabled = 0 WHERE id = ?`, userID)
		if err := affectedOne("second factor", "user", res, err); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return classify("second factor", err)
		}
		return classify("second factor", tx.Commit())
	}
	sealed, err := d.sealSecret(secret)
	if err != nil {
		return classify("second factor", err)
	}
	res, err := d.db.ExecContext(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = ? WHERE id = ?`, sealed, enabled, userID)
	return affectedOne("second factor", "user", res, err)
}

// AdvanceTOTPStep implements orchestrator.Users: one UPDATE that only
// moves forward, so two logins racing with one code cannot both pass.
func (d *DB) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	defer d.changed()
	res, err := d.db.ExecContext(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, userID, step)
	if err != nil {
		return false, classify("second factor", err)
	}
	n, err := res.RowsAffected()
	return n == 1, classify("second factor", err)
}

// SetRecoveryCodes implements orchestrator.Users.
func (d *DB) SetRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	defer d.changed()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("recovery codes", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return classify("recovery codes", err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)`, userID, h); err != nil {
			return classify("recovery codes", err)
		}
	}
	return classify("recovery codes", tx.Commit())
}

// UseRecoveryCode implements orchestrator.Users.
func (d *DB) UseRecoveryCode(ctx context.Context, userID, hash string) (bool, error) {
	defer d.changed()
	res, err := d.db.ExecContext(ctx, `UPDATE recovery_codes SET used = ? WHERE user_id = ? AND hash = ? AND used IS NULL`,
		formatTime(time.Now()), userID, hash)
	if err != nil {
		return false, classify("recovery code", err)
	}
	n, err := res.RowsAffected()
	return n == 1, classify("recovery code", err)
}

// CountRecoveryCodes implements orchestrator.Users.
func (d *DB) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used IS NULL`, userID).Scan(&n)
	return n, classify("recovery codes", err)
}

// CreateInvite implements orchestrator.Users.
func (d *DB) CreateInvite(ctx context.Context, inv orchestrator.Invite) error {
	defer d.changed()
	_, err := d.db.ExecContext(ctx, `INSERT INTO invites (id, hash, role, created_by, created, expires) VALUES (?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.Hash, string(inv.Role), inv.CreatedBy, formatTime(inv.Created), formatTime(inv.Expires))
	return classify("create invite", err)
}

// Invites implements orchestrator.Users; expired invites are dropped on
// the way.
func (d *DB) Invites(ctx context.Context, now time.Time) ([]orchestrator.Invite, error) {
	defer d.changed()
	if _, err := d.db.ExecContext(ctx, `DELETE FROM invites WHERE expires <= ?`, formatTime(now)); err != nil {
		return nil, classify("invites", err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, hash, role, created_by, created, expires FROM invites ORDER BY created`)
	if err != nil {
		return nil, classify("invites", err)
	}
	defer rows.Close()
	var out []orchestrator.Invite
	for rows.Next() {
		var inv orchestrator.Invite
		var role, created, expires string
		if err := rows.Scan(&inv.ID, &inv.Hash, &role, &inv.CreatedBy, &created, &expires); err != nil {
			return nil, classify("invites", err)
		}
		if inv.Role, err = orchestrator.ParseRole(role); err != nil {
			return nil, badRow("invite role", err)
		}
		inv.Created, inv.Expires = parseTime(created), parseTime(expires)
		out = append(out, inv)
	}
	return out, classify("invites", rows.Err())
}

// DeleteInvite implements orchestrator.Users.
func (d *DB) DeleteInvite(ctx context.Context, id string) error {
	defer d.changed()
	res, err := d.db.ExecContext(ctx, `DELETE FROM invites WHERE id = ?`, id)
	return affectedOne("withdraw invite", "invite "+id, res, err)
}

// AcceptInvite implements orchestrator.Users.
func (d *DB) AcceptInvite(ctx context.Context, hash string, u orchestrator.User, now time.Time) (orchestrator.User, error) {
	defer d.changed()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return u, classify("accept invite", err)
	}
	defer tx.Rollback()
	var id, role string
	err = tx.QueryRowContext(ctx, `SELECT id, role FROM invites WHERE hash = ? AND expires > ?`, hash, formatTime(now)).Scan(&id, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return u, orchestrator.Errorf(orchestrator.ENOTFOUND, "no such invite")
	} else if err != nil {
		return u, classify("accept invite", err)
	}
	if u.Role, err = orchestrator.ParseRole(role); err != nil {
		return u, badRow("invite role", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM invites WHERE id = ?`, id); err != nil {
		return u, classify("accept invite", err)
	}
	_, err = tx.ExecContext(ctx, insertUser, u.ID, u.Name, u.Hash, formatTime(u.Created), formatTime(u.Changed), string(u.Role))
	if isUniqueViolation(err) {
		return u, orchestrator.Errorf(orchestrator.ECONFLICT, "user %s already exists: pick another name", u.Name)
	} else if err != nil {
		return u, classify("accept invite", err)
	}
	return u, classify("accept invite", tx.Commit())
}

// affectedOne classifies an UPDATE or DELETE of one row: ENOTFOUND when
// none matched.
func affectedOne(op, what string, res sql.Result, err error) error {
	if err != nil {
		return classify(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(op, err)
	}
	if n == 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no %s", what)
	}
	return nil
}
