package sqlite_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// TestGrants: a grant is found by app and digest, listed while live, one
// live per app and digest; revoked, it is gone from both but another can
// be given; permissions come back canonical and in order.
func TestGrants(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	g1 := orchestrator.Grant{ID: "g1", App: "vpn", Version: "1.0.0", Digest: "sha256:aa",
		Permissions: []orchestrator.Permission{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}, GrantedBy: "alice", GrantedAt: t0}
	require.NoError(t, db.CreateGrant(ctx, g1))

	got, err := db.LiveGrant(ctx, "vpn", "sha256:aa")
	require.NoError(t, err)
	assert.Equal(t, g1, got)
	_, err = db.LiveGrant(ctx, "vpn", "sha256:bb")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "a grant is per digest")
	_, err = db.LiveGrant(ctx, "other", "sha256:aa")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))

	dup := g1
	dup.ID = "g1b"
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(db.CreateGrant(ctx, dup)), "one live grant per app and digest")

	g2 := orchestrator.Grant{ID: "g2", App: "vpn", Version: "2.0.0", Digest: "sha256:bb",
		Permissions: []orchestrator.Permission{"privileged"}, GrantedBy: "token:ci", GrantedAt: t0.Add(time.Minute)}
	require.NoError(t, db.CreateGrant(ctx, g2))
	list, err := db.ListGrants(ctx)
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Grant{g1, g2}, list, "oldest first")

	require.NoError(t, db.RevokeGrant(ctx, "g1", "bob", t0.Add(time.Hour)))
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(db.RevokeGrant(ctx, "g1", "bob", t0)), "revoked once")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(db.RevokeGrant(ctx, "nope", "bob", t0)))
	_, err = db.LiveGrant(ctx, "vpn", "sha256:aa")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
	list, err = db.ListGrants(ctx)
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Grant{g2}, list)

	// The revocation is kept, with who and when.
	var by, at string
	require.NoError(t, sqlite.RawDB(t, db).QueryRowContext(ctx, `SELECT revoked_by, revoked_at FROM grants WHERE id = 'g1'`).Scan(&by, &at))
	assert.Equal(t, "bob", by)
	assert.Equal(t, t0.Add(time.Hour).Format(time.RFC3339Nano), at)

	// The digest may be granted again once its grant is revoked.
	dup.GrantedBy = "carol"
	require.NoError(t, db.CreateGrant(ctx, dup))
	got, err = db.LiveGrant(ctx, "vpn", "sha256:aa")
	require.NoError(t, err)
	assert.Equal(t, "carol", got.GrantedBy)
}

// TestGrantBadRow: a permission the domain does not know (a newer
// StackHub wrote it, or a hand edit) is refused, never guessed at.
func TestGrantBadRow(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	_, err := sqlite.RawDB(t, db).ExecContext(ctx, `INSERT INTO grants (id, app, version, digest, permissions, granted_by, granted_at)
		VALUES ('g', 'vpn', '1', 'sha256:aa', '["teleport:moon"]', 'alice', ?)`, t0.Format(time.RFC3339Nano))
	require.NoError(t, err)
	_, err = db.LiveGrant(ctx, "vpn", "sha256:aa")
	assert.Equal(t, orchestrator.EINTERNAL, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "bad grant's permissions")
	_, err = db.ListGrants(ctx)
	assert.Equal(t, orchestrator.EINTERNAL, orchestrator.ErrorCode(err))
}
