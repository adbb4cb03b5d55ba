package orchestrator_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// vpnApp declares permissions beyond the default bundle policy.
func vpnApp(version, digest string) orchestrator.App {
	return orchestrator.App{Name: "vpn", Version: version, Digest: digest, Services: []string{"vpn"}, Main: "vpn",
		Actions: []string{"restart"}, Ports: []orchestrator.PortParam{{Name: "port", Min: 9001, Max: 9999}},
		Permissions: []orchestrator.Permission{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}}
}

// grantCatalog serves demo and a vpn app whose bundle a test can replace.
type grantCatalog struct {
	mu  sync.Mutex
	vpn orchestrator.App
}

func (c *grantCatalog) App(_ context.Context, name string) (orchestrator.App, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch name {
	case "demo":
		return demo, nil
	case "vpn":
		return c.vpn, nil
	}
	return orchestrator.App{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not in the catalog", name)
}
func (c *grantCatalog) Apps(context.Context) ([]orchestrator.App, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []orchestrator.App{demo, c.vpn}, nil
}
func (c *grantCatalog) set(app orchestrator.App) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vpn = app
}

// fakeGrants is an orchestrator.Grants in memory.
type fakeGrants struct {
	mu   sync.Mutex
	live []orchestrator.Grant
}

func (f *fakeGrants) CreateGrant(_ context.Context, g orchestrator.Grant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.ContainsFunc(f.live, func(l orchestrator.Grant) bool { return l.App == g.App && l.Digest == g.Digest }) {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "live")
	}
	f.live = append(f.live, g)
	return nil
}
func (f *fakeGrants) LiveGrant(_ context.Context, app, digest string) (orchestrator.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.live {
		if g.App == app && g.Digest == digest {
			return g, nil
		}
	}
	return orchestrator.Grant{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "no grant")
}
func (f *fakeGrants) ListGrants(context.Context) ([]orchestrator.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.live), nil
}
func (f *fakeGrants) RevokeGrant(_ context.Context, id, _ string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.live, func(g orchestrator.Grant) bool { return g.ID == id })
	if i < 0 {
		return orchestrator.Errorf(orchestrator.ENOTFOUND, "no live grant %s", id)
	}
	f.live = slices.Delete(f.live, i, i+1)
	return nil
}

// grantEngine is an engine over the grant catalog and fakeGrants whose
// runs report their request on runs.
func grantEngine(t *testing.T, cat *grantCatalog, grants orchestrator.Grants, store *fakeStore) (*orchestrator.Engine, chan orchestrator.RunRequest) {
	t.Helper()
	runs := make(chan orchestrator.RunRequest, 4)
	var n atomic.Int64
	e := orchestrator.New(orchestrator.Deps{
		Catalog: cat, Builder: fakeBuilder{}, Host: &fakeHost{}, Installations: store, Runs: store, Grants: grants,
		Now:   func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) },
		NewID: func() string { return fmt.Sprintf("id%d", n.Add(1)) },
		Runner: fakeRunner{run: func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
			runs <- req
			return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
		}},
	})
	require.NoError(t, e.Recover(t.Context()))
	return e, runs
}

// TestInstallNeedsGrant: a bundle that declares permissions is refused
// until an admin grants exactly those for its digest; the refusal lists
// them in plain words and says how to grant; granted, the install runs
// with exactly those permissions.
func TestInstallNeedsGrant(t *testing.T) {
	cat := &grantCatalog{vpn: vpnApp("1.0.0", "sha256:aa")}
	grants, store := &fakeGrants{}, newStore()
	e, runs := grantEngine(t, cat, grants, store)
	ctx := t.Context()

	_, err := e.Install(ctx, orchestrator.InstallRequest{App: "vpn", Name: "vpn2"})
	require.Error(t, err)
	assert.Equal(t, orchestrator.EFORBIDDEN, orchestrator.ErrorCode(err))
	msg := orchestrator.ErrorMessage(err)
	for _, want := range []string{
		"install vpn2: vpn 1.0.0 asks for permissions beyond StackHub's default bundle policy that no admin granted to its bundle sha256:aa",
		"cap-add:NET_ADMIN (add the Linux capability NET_ADMIN to a container: configure network interfaces, routes and firewall rules)",
		"devices:/dev/net/tun (use the host's device /dev/net/tun)",
		"`stackhub app install vpn --name vpn2 --grant cap-add:NET_ADMIN --grant devices:/dev/net/tun`",
		`POST /api/v1/catalog/vpn/grants {"digest": "sha256:aa", "permissions": ["cap-add:NET_ADMIN", "devices:/dev/net/tun"]}`,
	} {
		assert.Contains(t, msg, want)
	}
	assert.Empty(t, store.insts, "nothing is reserved")

	ap, err := e.AppPermissions(ctx, "vpn")
	require.NoError(t, err)
	assert.Nil(t, ap.Grant)
	assert.Equal(t, cat.vpn.Permissions, ap.Missing())

	g, created, err := e.GrantPermissions(ctx, orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa",
		Permissions: []string{"devices:/dev/net/tun", "CAP-ADD:net_admin"}, By: "alice"})
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, orchestrator.Grant{ID: "id1", App: "vpn", Version: "1.0.0", Digest: "sha256:aa", Permissions: cat.vpn.Permissions,
		GrantedBy: "alice", GrantedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, g)

	again, created, err := e.GrantPermissions(ctx, orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa",
		Permissions: []string{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}, By: "bob"})
	require.NoError(t, err)
	assert.False(t, created, "the same grant again is the one recorded")
	assert.Equal(t, g, again)

	_, err = e.Install(ctx, orchestrator.InstallRequest{App: "vpn"})
	require.NoError(t, err)
	req := <-runs
	assert.Equal(t, cat.vpn.Permissions, req.Granted, "the run gets exactly the grant")
	<-store.finished

	// An app declaring nothing runs with nothing beyond the default policy.
	_, err = e.Install(ctx, orchestrator.InstallRequest{App: "demo"})
	require.NoError(t, err)
	assert.Nil(t, (<-runs).Granted)
	<-store.finished
}

// TestGrantRefusals: a grant must be exactly the declared set of the
// catalog's bundle, given by someone.
func TestGrantRefusals(t *testing.T) {
	cat := &grantCatalog{vpn: vpnApp("1.0.0", "sha256:aa")}
	e, _ := grantEngine(t, cat, &fakeGrants{}, newStore())
	both := []string{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}
	tests := []struct {
		name string
		req  orchestrator.GrantRequest
		code string
		msg  string
	}{
		{"fewer", orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa", Permissions: both[:1], By: "a"}, orchestrator.EINVALID,
			"grant exactly what vpn 1.0.0 declares: cap-add:NET_ADMIN, devices:/dev/net/tun (asked: cap-add:NET_ADMIN)"},
		{"more", orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa", Permissions: append(both, "privileged"), By: "a"}, orchestrator.EINVALID, "grant exactly"},
		{"none", orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa", By: "a"}, orchestrator.EINVALID, "(asked: none)"},
		{"malformed", orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa", Permissions: []string{"cap:NET_ADMIN"}, By: "a"}, orchestrator.EINVALID, "unknown kind"},
		{"other digest", orchestrator.GrantRequest{App: "vpn", Digest: "sha256:old", Permissions: both, By: "a"}, orchestrator.ECONFLICT,
			"the catalog's vpn 1.0.0 is the bundle sha256:aa, not sha256:old"},
		{"no digest", orchestrator.GrantRequest{App: "vpn", Permissions: both, By: "a"}, orchestrator.EINVALID, "digest is required"},
		{"nobody", orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa", Permissions: both}, orchestrator.EINVALID, "who gives it"},
		{"nothing declared", orchestrator.GrantRequest{App: "demo", Digest: "sha256:dd", Permissions: both, By: "a"}, orchestrator.EINVALID, "declares no permissions"},
		{"unknown app", orchestrator.GrantRequest{App: "nope", Digest: "sha256:aa", Permissions: both, By: "a"}, orchestrator.ENOTFOUND, "not in the catalog"},
		{"bad name", orchestrator.GrantRequest{App: "No", Digest: "sha256:aa", Permissions: both, By: "a"}, orchestrator.EINVALID, "appName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.GrantPermissions(t.Context(), tc.req)
			assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%v", err)
			assert.Contains(t, orchestrator.ErrorMessage(err), tc.msg)
		})
	}
	grants, err := e.Grants(t.Context())
	require.NoError(t, err)
	assert.Empty(t, grants, "no refusal recorded anything")

	noStore, _ := grantEngine(t, cat, nil, newStore())
	_, _, err = noStore.GrantPermissions(t.Context(), orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa", Permissions: both, By: "a"})
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err))
	_, err = noStore.Install(t.Context(), orchestrator.InstallRequest{App: "vpn"})
	assert.Equal(t, orchestrator.EFORBIDDEN, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "This server keeps no grants.")
}

// TestGrantIsPerDigest: a new bundle needs its own grant, even when it
// asks for fewer permissions; upgrades are refused until then, custom
// actions run with whatever the live grant holds, and a revoked grant
// stops the next install.
func TestGrantIsPerDigest(t *testing.T) {
	cat := &grantCatalog{vpn: vpnApp("1.0.0", "sha256:aa")}
	grants, store := &fakeGrants{}, newStore()
	e, runs := grantEngine(t, cat, grants, store)
	ctx := t.Context()
	_, _, err := e.GrantPermissions(ctx, orchestrator.GrantRequest{App: "vpn", Digest: "sha256:aa",
		Permissions: []string{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}, By: "alice"})
	require.NoError(t, err)
	_, err = e.Install(ctx, orchestrator.InstallRequest{App: "vpn"})
	require.NoError(t, err)
	<-runs
	<-store.finished
	store.insts["vpn"] = orchestrator.Installation{Name: "vpn", App: "vpn", Version: "1.0.0", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}}}

	// Version 2 asks for less, as another bundle.
	v2 := vpnApp("2.0.0", "sha256:bb")
	v2.Permissions = v2.Permissions[:1]
	cat.set(v2)
	_, err = e.Upgrade(ctx, orchestrator.UpgradeRequest{Name: "vpn"})
	require.Error(t, err)
	assert.Equal(t, orchestrator.EFORBIDDEN, orchestrator.ErrorCode(err))
	msg := orchestrator.ErrorMessage(err)
	assert.Contains(t, msg, "upgrade vpn: vpn 2.0.0 asks for permissions")
	assert.Contains(t, msg, "The grant of vpn 1.0.0 (bundle sha256:aa) does not carry over")
	assert.Contains(t, msg, "`stackhub app upgrade vpn --grant cap-add:NET_ADMIN`")
	assert.NotContains(t, msg, "console", "the console grants at install only")

	// A custom action is not refused; it runs with no permission.
	_, err = e.Action(ctx, orchestrator.ActionRequest{Name: "vpn", Action: "restart"})
	require.NoError(t, err)
	assert.Nil(t, (<-runs).Granted)
	<-store.finished

	_, _, err = e.GrantPermissions(ctx, orchestrator.GrantRequest{App: "vpn", Digest: "sha256:bb", Permissions: []string{"cap-add:NET_ADMIN"}, By: "alice"})
	require.NoError(t, err)
	_, err = e.Upgrade(ctx, orchestrator.UpgradeRequest{Name: "vpn"})
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Permission{"cap-add:NET_ADMIN"}, (<-runs).Granted)
	<-store.finished
	_, err = e.Action(ctx, orchestrator.ActionRequest{Name: "vpn", Action: "restart"})
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Permission{"cap-add:NET_ADMIN"}, (<-runs).Granted, "an action gets the live grant")
	<-store.finished

	list, err := e.Grants(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.NoError(t, e.RevokeGrant(ctx, list[1].ID, "bob"))
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(e.RevokeGrant(ctx, list[1].ID, "bob")))
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(e.RevokeGrant(ctx, list[0].ID, "")))
	_, err = e.Install(ctx, orchestrator.InstallRequest{App: "vpn", Name: "vpn3"})
	assert.Equal(t, orchestrator.EFORBIDDEN, orchestrator.ErrorCode(err), "revoked: the next install is refused")
}
