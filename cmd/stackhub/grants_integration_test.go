//go:build integration

package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// capAdd returns the capabilities container name was created with
// (HostConfig.CapAdd), without compose's CAP_ prefix.
func capAdd(t *testing.T, c *client.Client, name string) []string {
	t.Helper()
	v, err := c.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	require.NoError(t, err)
	require.True(t, v.Container.State.Running, "%s runs", name)
	var out []string
	for _, cp := range v.Container.HostConfig.CapAdd {
		out = append(out, strings.TrimPrefix(cp, "CAP_"))
	}
	return out
}

// TestGrantElevatedBundle installs a bundle whose container needs
// cap-add:NET_ADMIN, which it declares (testdata/grants/catalog/vpn), on
// the real engine: the install is refused with the permission in plain
// words and how to grant it; once an admin grants exactly it through the
// API the install runs and the container really has NET_ADMIN; an upgrade
// asking the socket for SYS_ADMIN, never granted, is refused by the socket
// with its rule; revoked (CLI), installs are refused again, and
// stackhub app install --grant grants and installs in one go.
func TestGrantElevatedBundle(t *testing.T) {
	c := dockertest.RequireDocker(t)
	ctx := t.Context()
	catalogDir := t.TempDir()
	copyTree(t, "testdata/grants/catalog", catalogDir)
	host := dockerhost.New(c)
	for _, n := range []string{"vpn1", "vpn2"} {
		t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(ctx), n, "", true) })
	}
	s := startServerArgs(t, t.TempDir(), "--bundles", catalogDir)
	api := s.client()

	// Refused until granted, saying what and how; nothing is reserved.
	status, refused, _ := s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"vpn","name":"vpn1"}`)
	require.Equal(t, http.StatusForbidden, status, "%v", refused)
	assert.Equal(t, "forbidden", refused["error"])
	msg, _ := refused["message"].(string)
	for _, want := range []string{
		"vpn 0.1.0 asks for permissions beyond StackHub's default bundle policy that no admin granted to its bundle sha256:",
		"cap-add:NET_ADMIN (add the Linux capability NET_ADMIN to a container: configure network interfaces, routes and firewall rules)",
		"`stackhub app install vpn --name vpn1 --grant cap-add:NET_ADMIN`",
		`POST /api/v1/catalog/vpn/grants {"digest": "sha256:`,
	} {
		assert.Contains(t, msg, want)
	}
	_, err := api.GetApp(ctx, "vpn1")
	assertAPIStatus(t, err, http.StatusNotFound)
	seed := s.call(t, "/installApp", url.Values{"appName": {"vpn"}, "name": {"vpn1"}}, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusForbidden, seed.status)
	assert.Equal(t, "0", seed.Code)
	assert.Contains(t, seed.Message, "cap-add:NET_ADMIN")

	// An admin reviews and grants exactly what the bundle declares.
	ap, err := api.AppPermissions(ctx, "vpn")
	require.NoError(t, err)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, ap.Digest)
	assert.Contains(t, msg, ap.Digest, "the refusal names the bundle the grant is for")
	require.Len(t, ap.Permissions, 1)
	assert.Equal(t, "cap-add:NET_ADMIN", ap.Permissions[0].Permission)
	assert.Equal(t, []string{"cap-add:NET_ADMIN"}, ap.Missing)
	_, _, err = api.GrantPermissions(ctx, "vpn", ap.Digest, []string{"cap-add:NET_ADMIN", "cap-add:SYS_ADMIN"})
	assertAPIStatus(t, err, http.StatusBadRequest)
	_, _, err = api.GrantPermissions(ctx, "vpn", "sha256:0000", []string{"cap-add:NET_ADMIN"})
	assertAPIStatus(t, err, http.StatusConflict)
	g, created, err := api.GrantPermissions(ctx, "vpn", ap.Digest, []string{"cap-add:net_admin"})
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, []string{"cap-add:NET_ADMIN"}, g.Permissions)
	assert.Equal(t, "token:cli", g.GrantedBy, "who granted")
	assert.WithinDuration(t, time.Now(), g.GrantedAt, time.Minute, "when")

	inst, err := api.InstallApp(ctx, "vpn", "vpn1")
	require.NoError(t, err)
	job := s.waitJob(t, "/api/v1/jobs/"+inst.JobID, 2*time.Minute)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	assert.Contains(t, capAdd(t, c, naming.Project("vpn1")), "NET_ADMIN", "the container really has the granted capability")

	// A run asking the socket for a capability never granted is refused.
	up, err := api.UpgradeApp(ctx, "vpn1", map[string]any{"extra_cap": "SYS_ADMIN"})
	require.NoError(t, err)
	job = s.waitJob(t, "/api/v1/jobs/"+up.ID, 2*time.Minute)
	assert.Equal(t, "failed", job["status"], "%v", job)
	refusals, err := api.Refusals(ctx, "vpn1", 100)
	require.NoError(t, err)
	require.NotEmpty(t, refusals, "the socket refused the upgrade's container")
	for _, r := range refusals {
		assert.Equal(t, up.ID, r.Run)
		assert.Equal(t, "cap-add", r.Rule)
		assert.Contains(t, r.Detail, "SYS_ADMIN")
		assert.NotContains(t, r.Detail, "NET_ADMIN", "what was granted is never refused")
	}

	// Revoked, the bundle is refused again; --grant grants and installs.
	var out, errOut strings.Builder
	code := run(ctx, []string{"grants", "revoke", g.ID, "--url", s.url, "--token", s.token}, os.Getenv, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	_, err = api.InstallApp(ctx, "vpn", "vpn2")
	assertAPIStatus(t, err, http.StatusForbidden)
	out.Reset()
	errOut.Reset()
	code = run(ctx, []string{"app", "install", "vpn", "--name", "vpn2", "--grant", "cap-add:NET_ADMIN", "--url", s.url, "--token", s.token},
		os.Getenv, &out, &errOut)
	require.Equal(t, 0, code, "stdout %s\nstderr %s", out.String(), errOut.String())
	assert.Contains(t, errOut.String(), "granted cap-add:NET_ADMIN to vpn 0.1.0 (bundle "+ap.Digest)
	assert.Contains(t, capAdd(t, c, naming.Project("vpn2")), "NET_ADMIN")
	list, err := api.ListGrants(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1, "the revoked grant is no longer listed")
	assert.NotEqual(t, g.ID, list[0].ID)

	for _, n := range []string{"vpn1", "vpn2"} {
		s.requireUninstall(t, n)
	}
}

// TestConsoleGrantDialog installs the vpn test bundle from the console:
// Install opens a dialog listing what the bundle asks for in plain words;
// Cancel grants and installs nothing; Grant & install records the grant
// under the console user's name and installs, and the container has the
// capability.
func TestConsoleGrantDialog(t *testing.T) {
	chromium(t) // skip before starting a server
	c := dockertest.RequireDocker(t)
	catalogDir := t.TempDir()
	copyTree(t, "testdata/grants/catalog", catalogDir)
	const name = "vpn"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	s := startServerArgs(t, t.TempDir(), "--bundles", catalogDir)
	api := s.client()
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)

	b.waitFor("the vpn card", `document.querySelector('.card[data-app="vpn"]')`, 10*time.Second)
	b.click(`.card[data-app="vpn"] button[data-action="install"]`)
	b.waitFor("the install dialog", `document.querySelector('#install-dialog[open]')`, 10*time.Second)
	b.click(`#install-dialog [data-role="install-submit"]`)
	b.waitFor("the grant dialog", `document.querySelector('#grant-dialog[open]')`, 10*time.Second)
	item := `#grant-dialog li[data-permission="cap-add:NET_ADMIN"]`
	assert.Contains(t, b.text(item), "add the Linux capability NET_ADMIN to a container: configure network interfaces, routes and firewall rules")
	assert.Contains(t, b.text("#grant-dialog"), "It is installed only if you grant it exactly this")
	assert.Equal(t, "Grant & install", b.text(`#grant-dialog button[data-role="confirm"]`))
	b.screenshot("grant-dialog")

	b.click(`#grant-dialog .buttons button[type="button"]`)
	b.waitFor("the grant dialog closed", `!document.querySelector('#grant-dialog')`, 10*time.Second)
	list, err := api.ListGrants(t.Context())
	require.NoError(t, err)
	assert.Empty(t, list, "cancel grants nothing")
	_, err = api.GetApp(t.Context(), name)
	assertAPIStatus(t, err, http.StatusNotFound)

	b.click(`#install-dialog [data-role="install-submit"]`)
	b.waitFor("the grant dialog", `document.querySelector('#grant-dialog[open]')`, 10*time.Second)
	b.click(`#grant-dialog button[data-role="confirm"]`)
	b.waitFor("the progress panel", `document.querySelector('#job-panel[open]')`, 10*time.Second)
	b.waitFor("the end of the install", `document.querySelector('#job-panel').dataset.final`, 3*time.Minute)
	require.Equal(t, "done", b.attr("#job-panel", "data-final"), "result: %s", b.text("#job-result"))
	var open bool
	require.NoError(t, b.eval(`Boolean(document.querySelector('#install-dialog, #grant-dialog'))`, &open))
	assert.False(t, open, "both dialogs closed")
	b.screenshot("granted-and-installed")

	list, err = api.ListGrants(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "admin", list[0].GrantedBy, "the console user granted")
	assert.Equal(t, []string{"cap-add:NET_ADMIN"}, list[0].Permissions)
	assert.Contains(t, capAdd(t, c, naming.Project(name)), "NET_ADMIN")
	s.requireUninstall(t, name)
}
