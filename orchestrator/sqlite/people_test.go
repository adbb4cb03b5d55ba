package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/password"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// TestInvitesAndRoles: an admin's invite creates one account with its
// role, once; a role change ends the user's sessions; the last admin can
// be neither demoted nor deleted.
func TestInvitesAndRoles(t *testing.T) {
	a, now := newAccounts(t)
	ctx := t.Context()
	_, err := a.AddUser(ctx, "admin", "a-long-password", orchestrator.RoleAdmin)
	require.NoError(t, err)

	_, _, err = a.Invite(ctx, "admin", "root")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "no such role")
	code, inv, err := a.Invite(ctx, "admin", orchestrator.RoleOperator)
	require.NoError(t, err)
	assert.NotContains(t, inv.Hash, code, "only the hash is kept")
	list, err := a.Invites(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "admin", list[0].CreatedBy)

	_, err = a.AcceptInvite(ctx, "shi_wrong", "ops", "a-long-password", "192.0.2.5")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err))
	_, err = a.AcceptInvite(ctx, code, "admin", "a-long-password", "192.0.2.5")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "a taken name")
	u, err := a.AcceptInvite(ctx, code, "ops", "a-long-password", "192.0.2.5")
	require.NoError(t, err, "the failed attempt above rolled back: the invite still works")
	assert.Equal(t, orchestrator.RoleOperator, u.Role)
	_, err = a.AcceptInvite(ctx, code, "ops2", "a-long-password", "192.0.2.5")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "an invite works once")

	expired, _, err := a.Invite(ctx, "admin", orchestrator.RoleViewer)
	require.NoError(t, err)
	*now = now.Add(orchestrator.InviteLifetime)
	_, err = a.AcceptInvite(ctx, expired, "late", "a-long-password", "192.0.2.5")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "an invite expires")
	list, err = a.Invites(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)

	s, secret, err := a.Login(ctx, orchestrator.LoginRequest{Name: "ops", Password: "a-long-password", ClientIP: "192.0.2.5"})
	require.NoError(t, err)
	assert.Equal(t, orchestrator.RoleOperator, s.Role)
	require.NoError(t, a.SetRole(ctx, "ops", orchestrator.RoleViewer))
	_, err = a.Session(ctx, secret)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "a role change ends the sessions")

	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(a.SetRole(ctx, "admin", orchestrator.RoleOperator)), "the last admin stays")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(a.DeleteUser(ctx, "admin")))
	require.NoError(t, a.SetRole(ctx, "ops", orchestrator.RoleAdmin))
	require.NoError(t, a.DeleteUser(ctx, "admin"), "another admin exists now")
	users, err := a.ListUsers(ctx)
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.Equal(t, "ops", users[0].Name)
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return c
}

// TestSecondFactor: enroll, confirm with a code, then login wants a
// code, refuses a replayed one, takes each recovery code once; the secret
// is sealed in the database file.
func TestSecondFactor(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.Sealer = xorSealer{}
	now := t0
	n := 0
	a := &orchestrator.Accounts{Users: db, Hasher: password.Argon2{}, Now: func() time.Time { return now },
		NewID: func() string { n++; return fmt.Sprintf("u%d", n) }}
	ctx := t.Context()
	_, err = a.AddUser(ctx, "admin", "a-long-password", orchestrator.RoleAdmin)
	require.NoError(t, err)
	login := func(otpCode, recovery string) error {
		_, _, err := a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "a-long-password", OTP: otpCode, Recovery: recovery, ClientIP: "192.0.2.1"})
		return err
	}

	_, err = a.ConfirmTOTP(ctx, "admin", "123456")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "nothing to confirm yet")
	enr, err := a.EnrollTOTP(ctx, "admin")
	require.NoError(t, err)
	assert.Contains(t, enr.URL, "otpauth://totp/StackHub:admin")
	require.NoError(t, login("", ""), "unconfirmed: login does not ask for a code yet")
	_, err = a.ConfirmTOTP(ctx, "admin", "000000")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	recovery, err := a.ConfirmTOTP(ctx, "admin", code(t, enr.Secret, now))
	require.NoError(t, err)
	require.Len(t, recovery, orchestrator.RecoveryCodes)
	_, err = a.EnrollTOTP(ctx, "admin")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))

	err = login("", "")
	assert.ErrorIs(t, err, orchestrator.ErrSecondFactor)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err))
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(login(code(t, enr.Secret, now), "")), "the confirming code was used")
	now = now.Add(30 * time.Second)
	c := code(t, enr.Secret, now)
	require.NoError(t, login(c, ""))
	err = login(c, "")
	assert.Contains(t, orchestrator.ErrorMessage(err), "used already", "a code works once")
	now = now.Add(30 * time.Second)
	require.NoError(t, login("", " "+recovery[0]+" "), "a recovery code, as typed")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(login("", recovery[0])), "once")
	u, err := db.UserByName(ctx, "admin")
	require.NoError(t, err)
	left, err := db.CountRecoveryCodes(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.RecoveryCodes-1, left)

	require.NoError(t, db.Close())
	raw, err := os.ReadFile(filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), enr.Secret, "the secret is sealed")
	for _, r := range recovery {
		assert.NotContains(t, string(raw), r)
	}
}

// TestSecondFactorRequired: a user of whom a second factor is required
// logs in only to set it up, and cannot turn it off.
func TestSecondFactorRequired(t *testing.T) {
	a, now := newAccounts(t)
	ctx := t.Context()
	_, err := a.AddUser(ctx, "ops", "a-long-password", orchestrator.RoleOperator)
	require.NoError(t, err)
	require.NoError(t, a.SetRequireTOTP(ctx, "ops", true))
	s, secret, err := a.Login(ctx, orchestrator.LoginRequest{Name: "ops", Password: "a-long-password", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	assert.True(t, s.MustEnroll)
	s, err = a.Session(ctx, secret)
	require.NoError(t, err)
	assert.True(t, s.MustEnroll)
	enr, err := a.EnrollTOTP(ctx, "ops")
	require.NoError(t, err)
	_, err = a.ConfirmTOTP(ctx, "ops", code(t, enr.Secret, *now))
	require.NoError(t, err)
	s, err = a.Session(ctx, secret)
	require.NoError(t, err)
	assert.False(t, s.MustEnroll, "set up: the session may do its work")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(a.DisableTOTP(ctx, "ops", "a-long-password")))

	// Required of everyone by the server.
	a.RequireTOTP = true
	_, err = a.AddUser(ctx, "viewer", "a-long-password", orchestrator.RoleViewer)
	require.NoError(t, err)
	s, secret, err = a.Login(ctx, orchestrator.LoginRequest{Name: "viewer", Password: "a-long-password", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	assert.True(t, s.MustEnroll)
	s, err = a.Session(ctx, secret)
	require.NoError(t, err)
	assert.True(t, s.MustEnroll)
}

// TestTokensCarryRoles: a token of each role is stored and read back
// with it (the scope column took admin and read only before roles).
func TestTokensCarryRoles(t *testing.T) {
	db := MustOpenDB(t)
	for i, role := range orchestrator.Roles {
		secret, _, err := orchestrator.NewToken(t.Context(), db, fmt.Sprint("t", i), "ci-"+string(role), role, t0)
		require.NoError(t, err, role)
		tok, err := orchestrator.Authenticate(t.Context(), db, secret, t0)
		require.NoError(t, err)
		assert.Equal(t, role, tok.Scope)
	}
}
