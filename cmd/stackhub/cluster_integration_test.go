//go:build integration

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// clusterAddr is the address the private engine's namespace gets on a
// veth pair of its own (both ends inside it), for the engine to advertise.
const clusterAddr = "10.215.77.1"

// startClusterServer starts a private dockerd (never the host's engine:
// Swarm is only ever initialised there) and `stackhub serve` over it.
func startClusterServer(t *testing.T) (server, *dockertest.Dockerd, *client.Client) {
	t.Helper()
	d := dockertest.StartDockerd(t)
	c, err := d.Client()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	t.Setenv("DOCKER_HOST", "unix://"+d.Socket)
	return startServerArgs(t, t.TempDir(), "--bundles", "../../bundles/testdata"), d, c
}

// TestClusterOnPrivateEngine drives the cluster commands of a real
// stackhub serve over a private dockerd: a host that never ran cluster
// init answers "not a swarm" (409, exit 4); init, refused while the
// engine has no address to choose, then on the engine's choice; a
// second init refused; node add's join command (worker token, never the
// manager's, never logged); node list (one ready manager, this server);
// drain refused for the last active node, forced, activated; remove
// refused for the node StackHub runs on; a viewer lists but may not
// change nodes or read the token.
func TestClusterOnPrivateEngine(t *testing.T) {
	start := time.Now()
	s, d, docker := startClusterServer(t)
	ctx := t.Context()
	t.Logf("private dockerd and serve up in %s", time.Since(start).Round(time.Millisecond))
	sh := func(args ...string) (int, string, string) {
		t.Helper()
		return cli(ctx, s.url, append(args, "--token", s.token)...)
	}

	// Never initialised: as today.
	st, err := s.client().Cluster(ctx)
	require.NoError(t, err)
	assert.Equal(t, "inactive", st.Swarm)
	_, err = s.client().Nodes(ctx)
	assertAPIStatus(t, err, http.StatusConflict)
	assert.Contains(t, err.Error(), "not a swarm")
	code, out, errOut := sh("node", "list")
	assert.Equal(t, exitConflict, code, out)
	assert.Contains(t, errOut, "not a swarm")
	code, out, _ = sh("cluster", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "inactive")

	// The namespace has only its loopback and docker0: the engine cannot
	// choose an address, and says what to do.
	code, _, errOut = sh("cluster", "init")
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "--advertise-addr")
	code, _, errOut = sh("cluster", "init", "--advertise-addr", "swarm.example.com")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "not an IP address")
	// An address of the namespace's own: now the engine's choice works.
	for _, argv := range [][]string{
		{"ip", "link", "add", "shva", "type", "veth", "peer", "name", "shvb"},
		{"ip", "addr", "add", clusterAddr + "/24", "dev", "shva"},
		{"ip", "link", "set", "shva", "up"},
		{"ip", "link", "set", "shvb", "up"},
	} {
		b, err := d.Exec(ctx, argv...)
		require.NoError(t, err, "%v: %s", argv, b)
	}
	began := time.Now()
	code, out, errOut = sh("cluster", "init")
	require.Equal(t, exitOK, code, errOut)
	t.Logf("cluster init in %s: %s", time.Since(began).Round(time.Millisecond), strings.TrimSpace(out))
	assert.Contains(t, out, "at "+clusterAddr+")")
	code, _, errOut = sh("cluster", "init", "--advertise-addr", clusterAddr)
	assert.Equal(t, exitConflict, code)
	assert.Contains(t, errOut, "already the manager")

	code, out, _ = sh("cluster", "status", "-o", "json")
	require.Equal(t, exitOK, code)
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, "manager", st.Swarm)
	assert.Equal(t, 1, st.Nodes)
	assert.Equal(t, clusterAddr, st.NodeAddr)

	// node add: the worker's join command, never the manager's token.
	inspect, err := docker.SwarmInspect(ctx, client.SwarmInspectOptions{})
	require.NoError(t, err)
	tokens := inspect.Swarm.JoinTokens
	code, out, _ = sh("node", "add")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "docker swarm join --token "+tokens.Worker+" "+clusterAddr+":2377")
	assert.Regexp(t, `docker swarm join --token SWMTKN-1-[a-z0-9]+-[a-z0-9]+ `, out)
	assert.Contains(t, out, "docker.io")
	assert.NotContains(t, out, tokens.Manager)
	code, out, _ = sh("node", "add", "-o", "json")
	require.Equal(t, exitOK, code)
	var j JoinCommand
	require.NoError(t, json.Unmarshal([]byte(out), &j))
	assert.Equal(t, []string{"docker", "swarm", "join", "--token", tokens.Worker, clusterAddr + ":2377"}, j.Argv)
	assert.NotContains(t, s.logs.String(), tokens.Worker, "the join token is never logged")

	// node list: this server, a ready manager, with its disk.
	code, out, _ = sh("node", "list", "-o", "json")
	require.Equal(t, exitOK, code)
	var nodes []Node
	require.NoError(t, json.Unmarshal([]byte(out), &nodes))
	require.Len(t, nodes, 1)
	self := nodes[0]
	assert.Equal(t, st.NodeID, self.ID)
	assert.Equal(t, "manager", self.Role)
	assert.Equal(t, "ready", self.State)
	assert.Equal(t, "active", self.Availability)
	assert.Equal(t, "reachable", self.Reachability)
	assert.True(t, self.Self)
	assert.True(t, self.Leader)
	assert.Zero(t, self.Apps)
	assert.Equal(t, clusterAddr+":2377", self.Addr)
	assert.Greater(t, self.CPUs, 0.0)
	assert.Greater(t, self.MemoryBytes, int64(0))
	require.NotNil(t, self.Disk, "the server's own disk is known")
	assert.Greater(t, self.Disk.Total, uint64(0))
	code, out, _ = sh("node", "list")
	require.Equal(t, exitOK, code)
	t.Logf("node list:\n%s", out)
	assert.Regexp(t, `(?m)^`+self.ID[:12]+` \*\s+\S+\s+manager \(leader\)\s+ready\s+active\s`, out)

	// Drain: the last active node only by force; activate undoes it.
	code, _, errOut = sh("node", "drain", self.Hostname)
	assert.Equal(t, exitConflict, code)
	assert.Contains(t, errOut, "last active node")
	code, out, errOut = sh("node", "drain", self.ID[:6], "--force")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "is drained")
	nodes, err = s.client().Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, "drain", nodes[0].Availability)
	code, out, errOut = sh("node", "activate", self.ID)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "is active")
	nodes, err = s.client().Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, "active", nodes[0].Availability)

	// Remove: never the node StackHub runs on.
	for _, args := range [][]string{{"node", "remove", self.Hostname}, {"node", "remove", self.ID, "--force"}} {
		code, _, errOut = sh(args...)
		assert.Equal(t, exitConflict, code, "%v", args)
		assert.Contains(t, errOut, "StackHub runs on", "%v", args)
	}
	code, _, errOut = sh("node", "remove", "nosuchnode")
	assert.Equal(t, exitNotFound, code, errOut)
	code, _, errOut = sh("node", "drain", "bad name")
	assert.Equal(t, exitUsage, code, errOut)

	// A viewer lists nodes; the token and changes are admins'.
	viewer, err := s.client().CreateToken(ctx, "viewer", "viewer")
	require.NoError(t, err)
	code, _, _ = cli(ctx, s.url, "node", "list", "--token", viewer.Token)
	assert.Equal(t, exitOK, code)
	for _, args := range [][]string{{"node", "add"}, {"node", "drain", self.ID, "--force"}, {"cluster", "init"}} {
		code, _, _ = cli(ctx, s.url, append(args, "--token", viewer.Token)...)
		assert.Equal(t, exitUnauthorized, code, "%v", args)
	}
	nodes, err = s.client().Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, "active", nodes[0].Availability, "the viewer changed nothing")
	t.Logf("whole test: %s", time.Since(start).Round(time.Millisecond))
}

// TestConsoleServerNodes: in the browser, the server page of a host that
// never ran cluster init shows no nodes table, only the line on how to
// start a cluster; once the engine (a private one) is a swarm manager,
// the page shows its node, and the admin drains it (refused as the last
// active node, then forced) and activates it again with the buttons.
func TestConsoleServerNodes(t *testing.T) {
	chromium(t) // skip before starting a server
	s, _, _ := startClusterServer(t)
	createAdmin(t, s)
	b := newBrowser(t, s, 1280, 900)
	b.login("admin", consolePassword)

	b.click("#nav-server")
	b.waitFor("the cluster hint", `document.querySelector('#cluster-hint') && !document.querySelector('#cluster-hint').hidden`, 15*time.Second)
	assert.Contains(t, b.text("#cluster-hint"), "stackhub cluster init")
	var shown bool
	require.NoError(t, b.eval(`Boolean(document.querySelector('#nodes-section') && !document.querySelector('#nodes-section').hidden)`, &shown))
	assert.False(t, shown, "not a swarm: no nodes table")
	b.screenshot("server-single-host")

	st, err := s.client().InitCluster(t.Context(), "127.0.0.1")
	require.NoError(t, err)
	b.run("reload the server page", chromedp.Reload())
	b.waitFor("the nodes table", `document.querySelectorAll('#server-nodes tbody tr').length === 1 && !document.querySelector('#nodes-section').hidden`, 15*time.Second)
	row := `#server-nodes tr[data-node="` + st.NodeID + `"]`
	var hintHidden bool
	require.NoError(t, b.eval(`document.querySelector('#cluster-hint').hidden`, &hintHidden))
	assert.True(t, hintHidden, "the single-host hint goes")
	assert.Contains(t, b.text(row), "this server")
	assert.Contains(t, b.text(row), "manager")
	assert.Equal(t, "ready", b.text(row+` [data-role="state"]`))
	assert.Equal(t, "active", b.text(row+` [data-role="availability"]`))
	assert.Equal(t, "0", b.text(row+` [data-role="apps"]`))
	assert.Zero(t, b.count(row+` [data-action="remove-node"]`), "no Remove for the node StackHub runs on")
	b.screenshot("server-nodes")

	b.click(row + ` [data-action="drain-node"]`)
	b.waitFor("the drain dialog", `document.querySelector('#drain-node-dialog[open]')`, 10*time.Second)
	b.click(`#drain-node-dialog [data-role="confirm"]`)
	b.waitFor("the refusal", `document.querySelector('#drain-node-dialog p.error:not([hidden])')`, 10*time.Second)
	assert.Contains(t, b.text(`#drain-node-dialog p.error`), "last active node")
	b.click(`#drain-node-dialog-force`)
	b.click(`#drain-node-dialog [data-role="confirm"]`)
	b.waitFor("the node drained", `!document.querySelector('#drain-node-dialog') && document.querySelector('`+row+` [data-role="availability"]').textContent === 'drained'`, 15*time.Second)
	b.screenshot("server-node-drained")
	b.click(row + ` [data-action="activate-node"]`)
	b.waitFor("the activate dialog", `document.querySelector('#activate-node-dialog[open]')`, 10*time.Second)
	b.click(`#activate-node-dialog [data-role="confirm"]`)
	b.waitFor("the node active", `!document.querySelector('#activate-node-dialog') && document.querySelector('`+row+` [data-role="availability"]').textContent === 'active'`, 15*time.Second)
	nodes, err := s.client().Nodes(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "active", nodes[0].Availability)
}
