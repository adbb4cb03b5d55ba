//go:build integration

package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// swarmAddr is the address the private engine advertises as a Swarm
// manager: on a veth pair inside its own network namespace (both ends
// there: nothing leaves it).
const swarmAddr = "10.215.0.1"

// startSwarm starts a private dockerd with the test image, makes it a
// one-node Swarm manager (its overlay networks in a pool of its own) and
// points the server's Docker client at it. It returns the engine, a
// client for it and the node.
func startSwarm(t *testing.T) (*dockertest.Dockerd, *client.Client, swarm.Node) {
	t.Helper()
	d := dockertest.StartDockerd(t, "stackhub-test/web:dev")
	c, err := d.Client()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for _, argv := range [][]string{
		{"ip", "link", "add", "shsw0", "type", "veth", "peer", "name", "shsw1"},
		{"ip", "addr", "add", swarmAddr + "/24", "dev", "shsw0"},
		{"ip", "link", "set", "shsw0", "up"},
		{"ip", "link", "set", "shsw1", "up"},
	} {
		out, err := d.Exec(t.Context(), argv...)
		require.NoError(t, err, "%v: %s", argv, out)
	}
	_, err = c.SwarmInit(t.Context(), client.SwarmInitOptions{ListenAddr: swarmAddr + ":2377", AdvertiseAddr: swarmAddr,
		DefaultAddrPool: []netip.Prefix{netip.MustParsePrefix("10.216.0.0/16")}, SubnetSize: 24})
	require.NoError(t, err)
	nodes, err := c.NodeList(t.Context(), client.NodeListOptions{})
	require.NoError(t, err)
	require.Len(t, nodes.Items, 1)
	t.Setenv("DOCKER_HOST", "unix://"+d.Socket)
	return d, c, nodes.Items[0]
}

// swarmCatalog is a catalog directory holding the demo with its web port
// published on every address: the demo publishes it on the loopback,
// which a Swarm node cannot do for one address (swarmspec leaves such a
// port unpublished, reachable only on the app's network).
func swarmCatalog(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "catalog")
	require.NoError(t, os.CopyFS(filepath.Join(dir, "demo"), os.DirFS("../../bundles/testdata/demo")))
	compose := filepath.Join(dir, "demo", "docker-compose.yml")
	b, err := os.ReadFile(compose)
	require.NoError(t, err)
	const loopback = `"127.0.0.1:${WEB_PORT`
	require.Contains(t, string(b), loopback)
	require.NoError(t, os.WriteFile(compose, []byte(strings.Replace(string(b), loopback, `"${WEB_PORT`, 1)), 0o644))
	return dir
}

// probeApp asks for url from inside the engine's namespace, where the
// node's address is; it returns the testapp's answer.
func probeApp(t *testing.T, d *dockertest.Dockerd, url string) (string, error) {
	t.Helper()
	out, err := d.Exec(t.Context(), filepath.Join(dockertest.RuntimesDir(t), "stackhub-testapp"), "probe", "http", url)
	return string(out), err
}

// waitAnswers probes url until it answers, for up to limit.
func waitAnswers(t *testing.T, d *dockertest.Dockerd, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, err := probeApp(t, d, url)
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s does not answer after %s: %v: %s", url, limit, err, out)
		time.Sleep(300 * time.Millisecond)
	}
}

// appServices lists the Swarm services labelled with app.
func appServices(t *testing.T, c *client.Client, app string) []swarm.Service {
	t.Helper()
	list, err := c.ServiceList(t.Context(), client.ServiceListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	require.NoError(t, err)
	return list.Items
}

// TestSwarmDeploy: on a one-node Swarm, the demo is installed on the node
// by name and on a node StackHub picks, as Swarm services placed on it,
// reported with the node and the address it answers at; an upgrade keeps
// it there and updates its services in place; uninstall with purge leaves
// no service, network, volume or reserved port; a node the Swarm does not
// have is refused.
func TestSwarmDeploy(t *testing.T) {
	started := time.Now()
	d, c, node := startSwarm(t)
	s := startServerArgs(t, t.TempDir(), "--bundles", swarmCatalog(t))
	t.Logf("private Swarm and server up in %s", time.Since(started).Round(time.Millisecond))

	// A node the Swarm does not have is a 400 with the reason.
	r := s.call(t, "/installApp", `{"appName":"demo","name":"sw-none","node":"no-such-node"}`, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusBadRequest, r.status, r.Message)
	assert.Contains(t, r.Message, `node "no-such-node" is not a node of the Swarm`)

	// On the node, by hostname (seed endpoint).
	t0 := time.Now()
	body := fmt.Sprintf(`{"appName":"demo","name":"sw-a","node":%q,"parameters":{"message":"first"}}`, node.Description.Hostname)
	r = s.call(t, "/installApp", body, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	r = s.waitStatusWithin(t, "sw-a", "1", 3*time.Minute)
	t.Logf("install on the named node: running after %s", time.Since(t0).Round(time.Millisecond))
	n, _ := r.Data["node"].(map[string]any)
	require.NotNil(t, n, "getAppInfo reports the node: %v", r.Data)
	assert.Equal(t, node.ID, n["id"])
	assert.Equal(t, node.Description.Hostname, n["hostname"])
	assert.Equal(t, swarmAddr, n["addr"])
	port := int(r.Data["port"].(float64))
	assert.Equal(t, fmt.Sprintf("%s:%d", swarmAddr, port), n["address"])
	answer, err := probeApp(t, d, "http://"+n["address"].(string)+"/")
	require.NoError(t, err, answer)

	svcs := appServices(t, c, "sw-a")
	require.Len(t, svcs, 2, "one service per compose service")
	for _, svc := range svcs {
		assert.Contains(t, []string{"websoft9-sw-a", "websoft9-sw-a-db"}, svc.Spec.Name)
		assert.Equal(t, []string{"node.id==" + node.ID}, svc.Spec.TaskTemplate.Placement.Constraints)
		require.NotNil(t, svc.Spec.Mode.Replicated)
		assert.EqualValues(t, 1, *svc.Spec.Mode.Replicated.Replicas)
	}
	nets, err := c.NetworkList(t.Context(), client.NetworkListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"=sw-a")})
	require.NoError(t, err)
	require.Len(t, nets.Items, 1)
	assert.Equal(t, "overlay", nets.Items[0].Driver)
	assert.Equal(t, "websoft9-sw-a_default", nets.Items[0].Name)

	// No node: StackHub picks one (the only one), through the API.
	t0 = time.Now()
	inst, err := s.client().InstallAppOn(t.Context(), "demo", "sw-b", "", nil)
	require.NoError(t, err)
	require.NotNil(t, inst.App.Node, "the install's answer says where it goes")
	assert.Equal(t, node.ID, inst.App.Node.ID)
	r = s.waitStatusWithin(t, "sw-b", "1", 3*time.Minute)
	t.Logf("install on the node StackHub picked: running after %s", time.Since(t0).Round(time.Millisecond))
	listed := s.listedApp(t, "sw-b")
	ln, _ := listed["node"].(map[string]any)
	require.NotNil(t, ln, "GET /api/v1/apps shows the node: %v", listed)
	waitAnswers(t, d, "http://"+ln["address"].(string)+"/", 30*time.Second)
	assert.NotEqual(t, port, int(r.Data["port"].(float64)), "two apps on one node never share a port")

	// Upgrade: the app stays on its node, its services are updated in
	// place (same IDs, a newer version), its data volume is kept.
	before := map[string]swarm.Service{}
	for _, svc := range appServices(t, c, "sw-a") {
		before[svc.Spec.Name] = svc
	}
	t0 = time.Now()
	job := s.runJob(t, "/api/v1/apps/sw-a/upgrade", `{"parameters":{"message":"second"}}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	t.Logf("upgrade: done after %s", time.Since(t0).Round(time.Millisecond))
	r = s.call(t, "/getAppInfo", url.Values{"appName": {"sw-a"}}, nil)
	n, _ = r.Data["node"].(map[string]any)
	require.NotNil(t, n)
	assert.Equal(t, node.ID, n["id"], "an upgrade never moves an app")
	for _, svc := range appServices(t, c, "sw-a") {
		old, ok := before[svc.Spec.Name]
		require.True(t, ok, "service %s is new", svc.Spec.Name)
		assert.Equal(t, old.ID, svc.ID, "%s is updated in place", svc.Spec.Name)
		assert.Greater(t, svc.Version.Index, old.Version.Index, "%s is updated", svc.Spec.Name)
	}
	web := before["websoft9-sw-a"]
	for _, svc := range appServices(t, c, "sw-a") {
		if svc.Spec.Name == "websoft9-sw-a" {
			assert.Contains(t, svc.Spec.TaskTemplate.ContainerSpec.Env, "APP_MESSAGE=second")
			assert.NotEqual(t, web.Spec.TaskTemplate.ContainerSpec.Env, svc.Spec.TaskTemplate.ContainerSpec.Env)
		}
	}
	waitAnswers(t, d, "http://"+n["address"].(string)+"/", 60*time.Second)
	r = s.waitStatusWithin(t, "sw-a", "1", 30*time.Second)
	assert.Equal(t, "running", r.Data["state"], "the old task's stopped container does not make the app look stopped: %v", r.Data["info"])

	// Actions: stop scales the services to 0 (the app shows stopped),
	// start brings one task each back, restart replaces them.
	job = s.runJob(t, "/api/v1/apps/sw-b/actions/stop", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	s.waitStatusWithin(t, "sw-b", "0", 30*time.Second)
	for _, svc := range appServices(t, c, "sw-b") {
		assert.EqualValues(t, 0, *svc.Spec.Mode.Replicated.Replicas, "%s stopped", svc.Spec.Name)
	}
	job = s.runJob(t, "/api/v1/apps/sw-b/actions/start", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	s.waitStatusWithin(t, "sw-b", "1", 30*time.Second)
	waitAnswers(t, d, "http://"+ln["address"].(string)+"/", 30*time.Second)
	job = s.runJob(t, "/api/v1/apps/sw-b/actions/restart", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	s.waitStatusWithin(t, "sw-b", "1", 30*time.Second)
	waitAnswers(t, d, "http://"+ln["address"].(string)+"/", 30*time.Second)

	// Uninstall with purge: nothing of either app is left on the node,
	// and its ports are free again.
	for _, name := range []string{"sw-a", "sw-b"} {
		t0 = time.Now()
		job := s.requireUninstall(t, name)
		t.Logf("uninstall %s with purge: done after %s; outputs %v", name, time.Since(t0).Round(time.Millisecond), job["outputs"])
		assert.Empty(t, appServices(t, c, name), "services of %s", name)
		requireNothingLeft(t, c, name)
	}
	var apps []map[string]any
	s.getJSON(t, "/api/v1/apps", &apps)
	assert.Empty(t, apps, "no installation, so no port reserved")

	// The ports are free on the node again: a new install may take the
	// first one.
	inst, err = s.client().InstallAppOn(t.Context(), "demo", "sw-c", node.ID, map[string]any{"port": port})
	require.NoError(t, err)
	s.waitStatusWithin(t, "sw-c", "1", 3*time.Minute)
	s.requireUninstall(t, "sw-c")
	requireNothingLeft(t, c, "sw-c")
	left, err := c.ServiceList(t.Context(), client.ServiceListOptions{})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "no service is left on the Swarm")
	t.Logf("whole test: %s", time.Since(started).Round(time.Millisecond))
}

// TestSwarmNodeOnASingleHost: an engine that is not a Swarm manager has
// no node to place an app on: naming one is a 400 with the reason, and
// nothing is reserved.
func TestSwarmNodeOnASingleHost(t *testing.T) {
	dockertest.RequireDocker(t)
	s := startServer(t)
	r := s.call(t, "/installApp", `{"appName":"demo","name":"sw-single","node":"node-1"}`, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusBadRequest, r.status, r.Message)
	assert.Contains(t, r.Message, "not a Swarm manager")
	status, body, _ := s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"sw-single","node":"node-1"}`)
	assert.Equal(t, http.StatusBadRequest, status, "%v", body)
	assert.Contains(t, fmt.Sprint(body["message"]), "not a Swarm manager")
	var apps []map[string]any
	s.getJSON(t, "/api/v1/apps", &apps)
	for _, a := range apps {
		assert.NotEqual(t, "sw-single", a["appName"])
	}
}
