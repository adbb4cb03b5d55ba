package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/password"
)

func newAccounts(t *testing.T) (*orchestrator.Accounts, *time.Time) {
	db := MustOpenDB(t)
	now := t0
	n := 0
	return &orchestrator.Accounts{Users: db, Hasher: password.Argon2{}, Now: func() time.Time { return now },
		NewID: func() string { n++; return fmt.Sprintf("u%d", n) }, SetupCode: "code-123"}, &now
}

func TestFirstAdminOnce(t *testing.T) {
	a, _ := newAccounts(t)
	ctx := t.Context()
	need, err := a.NeedsSetup(ctx)
	require.NoError(t, err)
	assert.True(t, need)

	_, err = a.Setup(ctx, "wrong", "admin", "a-long-password")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err))
	_, err = a.Setup(ctx, "code-123", "admin", "short")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	_, err = a.Setup(ctx, "code-123", "admin", "a-long-password")
	require.NoError(t, err)
	_, err = a.Setup(ctx, "code-123", "mallory", "another-long-password")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "the code is spent")
	a.SetupCode = "code-456"
	_, err = a.Setup(ctx, "code-456", "mallory", "another-long-password")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "only while no user exists")
}

// TestSetupCodeExpires: a setup code works for an hour; then a new one is
// made (and logged by serve), and the old one no longer works.
func TestSetupCodeExpires(t *testing.T) {
	a, now := newAccounts(t)
	a.SetupCode = ""
	ctx := t.Context()
	first, err := a.RenewSetupCode(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, first)
	again, err := a.RenewSetupCode(ctx)
	require.NoError(t, err)
	assert.Empty(t, again, "a live code is kept")

	*now = now.Add(orchestrator.SetupCodeLifetime)
	_, err = a.Setup(ctx, first, "admin", "a-long-password")
	require.Error(t, err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "expired")
	second, err := a.RenewSetupCode(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, second)
	assert.NotEqual(t, first, second)
	_, err = a.Setup(ctx, first, "admin", "a-long-password")
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "the old code is gone")
	_, err = a.Setup(ctx, second, "admin", "a-long-password")
	require.NoError(t, err)
	none, err := a.RenewSetupCode(ctx)
	require.NoError(t, err)
	assert.Empty(t, none, "no code once a user exists")
}

func TestLoginSessionsAndLimits(t *testing.T) {
	a, now := newAccounts(t)
	ctx := t.Context()
	_, err := a.AddUser(ctx, "admin", "a-long-password", orchestrator.RoleAdmin)
	require.NoError(t, err)

	s, secret, err := a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "a-long-password", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	assert.NotEmpty(t, s.CSRF)
	got, err := a.Session(ctx, secret)
	require.NoError(t, err)
	assert.Equal(t, "admin", got.User)

	_, _, err1 := a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "wrong-password", ClientIP: "192.0.2.1"})
	_, _, err2 := a.Login(ctx, orchestrator.LoginRequest{Name: "nobody", Password: "wrong-password", ClientIP: "192.0.2.1"})
	assert.Equal(t, orchestrator.ErrorMessage(err1), orchestrator.ErrorMessage(err2), "an unknown user reads as a wrong password")

	for range orchestrator.LoginPerAccountAddress {
		_, _, _ = a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "wrong-password", ClientIP: "198.51.100.7"})
	}
	_, _, err = a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "a-long-password", ClientIP: "198.51.100.7"})
	assert.Equal(t, orchestrator.ETOOMANY, orchestrator.ErrorCode(err), "the account is locked for a while from that client")
	_, _, err = a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "a-long-password", ClientIP: "203.0.113.9"})
	require.NoError(t, err, "nobody locks the admin out from elsewhere")
	*now = now.Add(orchestrator.LoginWindow)
	_, _, err = a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "a-long-password", ClientIP: "198.51.100.7"})
	require.NoError(t, err, "the window passes")

	_, err = a.AddUser(ctx, "ops", "a-long-password", orchestrator.RoleOperator)
	require.NoError(t, err)
	for i := range orchestrator.LoginPerClient {
		_, _, _ = a.Login(ctx, orchestrator.LoginRequest{Name: fmt.Sprintf("guess%d", i), Password: "x-wrong-password", ClientIP: "198.51.100.8"})
	}
	_, _, err = a.Login(ctx, orchestrator.LoginRequest{Name: "ops", Password: "a-long-password", ClientIP: "198.51.100.8"})
	assert.Contains(t, orchestrator.ErrorMessage(err), "too many failed logins", "the client is limited across accounts")

	// A password change ends every session of the user.
	require.NoError(t, a.ChangePassword(ctx, "admin", "a-long-password", "a-new-long-password"))
	_, err = a.Session(ctx, secret)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err))
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(a.ChangePassword(ctx, "admin", "wrong", "whatever-long-1")))

	// Sessions expire.
	_, secret, err = a.Login(ctx, orchestrator.LoginRequest{Name: "admin", Password: "a-new-long-password", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	*now = now.Add(orchestrator.SessionLifetime)
	_, err = a.Session(ctx, secret)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err))
}
