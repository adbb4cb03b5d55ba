//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
	"github.com/websoft9/stackhub/web/metrics"
)

// A Swarm of three engines made by StackHub (issue 23's multi-node
// tests). dockertest.StartCluster gives three dockerd, each in a network
// namespace of its own on a bridge the host is on; `stackhub serve` drives
// node 1's engine, makes it a manager (cluster init) and hands out the
// join command the two others run. The host reaches every node's address,
// so the apps are asked from the test process at node Addr:port.

// swarm3 is a running three-node Swarm made by StackHub and its server.
type swarm3 struct {
	s     server
	c     *dockertest.Cluster
	nodes []*dockertest.Node
	// ids and hosts are the nodes' Swarm IDs and hostnames, in order.
	ids, hosts []string
	clients    []*client.Client
}

// startSwarm3 starts three engines with the test image, `stackhub serve`
// on node 1's with catalog (and serveArgs), then makes the Swarm through StackHub: cluster
// init with node 1's address, and nodes 2 and 3 joined with the token and
// manager address `node add` gives.
func startSwarm3(t *testing.T, catalog string, serveArgs ...string) *swarm3 {
	t.Helper()
	ctx := t.Context()
	began := time.Now()
	// StackHub's node volume helper too (nothing is pulled): make
	// test-images builds it, as an operator loads it on every node.
	c := dockertest.StartCluster(t, 3, "stackhub-test/web:dev", dockerhost.NodeHelperImage)
	t.Logf("three engines up in %s", time.Since(began).Round(time.Millisecond))
	sw := &swarm3{c: c, nodes: c.Nodes}
	for _, n := range c.Nodes {
		cli, err := n.Client()
		require.NoError(t, err)
		t.Cleanup(func() { cli.Close() })
		sw.clients = append(sw.clients, cli)
	}
	t.Setenv("DOCKER_HOST", c.Nodes[0].Host())
	// The helper tasks on the nodes reach StackHub, on the host, at the
	// bridge's address.
	sw.s = startServerArgs(t, t.TempDir(), append([]string{"--bundles", catalog, "--node-transfers", c.Gateway.String() + ":0"}, serveArgs...)...)

	step := time.Now()
	code, out, errOut := sw.sh(t, "cluster", "init", "--advertise-addr", c.Nodes[0].Addr.String())
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "at "+c.Nodes[0].Addr.String())
	code, out, errOut = sw.sh(t, "node", "add", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var join JoinCommand
	require.NoError(t, json.Unmarshal([]byte(out), &join))
	assert.Equal(t, c.Nodes[0].Addr.String()+":2377", join.Addr)
	assert.Equal(t, []string{"docker", "swarm", "join", "--token", join.Token, join.Addr}, join.Argv)
	// What `docker swarm join --token T ADDR` does on the machine, through
	// each node's own engine.
	for _, n := range c.Nodes[1:] {
		require.NoError(t, n.Join(ctx, join.Addr, join.Token))
	}
	nodes := sw.waitReady(t, 3, 30*time.Second)
	t.Logf("swarm of 3 made by StackHub in %s", time.Since(step).Round(time.Millisecond))
	byHost := map[string]Node{}
	for _, n := range nodes {
		byHost[n.Hostname] = n
	}
	for i, n := range c.Nodes {
		got, ok := byHost[n.Name]
		require.True(t, ok, "node %s listed: %v", n.Name, nodes)
		sw.ids, sw.hosts = append(sw.ids, got.ID), append(sw.hosts, got.Hostname)
		assert.Equal(t, i == 0, got.Self, "%s is the node StackHub runs on", n.Name)
		assert.Equal(t, map[bool]string{true: "manager", false: "worker"}[i == 0], got.Role)
	}
	// Each private engine has its own socket: the node label tells
	// StackHub's volume helper where (/var/run/docker.sock otherwise).
	for i, n := range c.Nodes {
		res, err := sw.clients[0].NodeInspect(ctx, sw.ids[i], client.NodeInspectOptions{})
		require.NoError(t, err)
		spec := res.Node.Spec
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[dockerhost.LabelDockerSocket] = n.Socket
		_, err = sw.clients[0].NodeUpdate(ctx, sw.ids[i], client.NodeUpdateOptions{Version: res.Node.Version, Spec: spec})
		require.NoError(t, err)
	}
	code, out, _ = sw.sh(t, "node", "list")
	require.Equal(t, exitOK, code)
	for _, h := range sw.hosts {
		assert.Regexp(t, h+`\s.*ready`, out, "node list shows %s ready", h)
	}
	return sw
}

// sh runs the CLI against the server with its token.
func (sw *swarm3) sh(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cli(t.Context(), sw.s.url, append(args, "--token", sw.s.token)...)
}

// waitReady waits until the server lists want nodes, all ready and
// active, and returns them.
func (sw *swarm3) waitReady(t *testing.T, want int, limit time.Duration) []Node {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		nodes, err := sw.s.client().Nodes(t.Context())
		require.NoError(t, err)
		ready := 0
		for _, n := range nodes {
			if n.State == "ready" && n.Availability == "active" {
				ready++
			}
		}
		if len(nodes) == want && ready == want {
			return nodes
		}
		require.True(t, time.Now().Before(deadline), "%d nodes, %d ready after %s: %+v", len(nodes), ready, limit, nodes)
		time.Sleep(200 * time.Millisecond)
	}
}

// node returns the index of node id.
func (sw *swarm3) node(t *testing.T, id string) int {
	t.Helper()
	i := slices.Index(sw.ids, id)
	require.GreaterOrEqual(t, i, 0, "node %s is one of %v", id, sw.ids)
	return i
}

// appNode checks that getAppInfo places app on node i and returns the
// info and the address of its main port.
func (sw *swarm3) appNode(t *testing.T, app string, i int) (reply, string) {
	t.Helper()
	r := sw.s.call(t, "/getAppInfo", url.Values{"appName": {app}}, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	n, _ := r.Data["node"].(map[string]any)
	require.NotNil(t, n, "getAppInfo reports the node of %s: %v", app, r.Data)
	assert.Equal(t, sw.ids[i], n["id"], "%s on node %d", app, i+1)
	assert.Equal(t, sw.hosts[i], n["hostname"])
	assert.Equal(t, sw.nodes[i].Addr.String(), n["addr"])
	p := port(t, r.Data["port"])
	addr := fmt.Sprintf("%s:%d", sw.nodes[i].Addr, p)
	assert.Equal(t, addr, n["address"])
	return r, addr
}

// swarm3Catalog is a catalog directory with the demo (its web port on
// every address, as swarmCatalog; and a memory requirement of 1 GiB, so
// that placement has something to count) and the three-service trio
// (256 MiB), whose waits become wait when it is not "".
func swarm3Catalog(t *testing.T, wait string) string {
	t.Helper()
	dir := swarmCatalog(t)
	porter := filepath.Join(dir, "demo", "porter.yaml")
	b, err := os.ReadFile(porter)
	require.NoError(t, err)
	const anchor = "    category: test\n"
	require.Contains(t, string(b), anchor)
	b = []byte(strings.Replace(string(b), anchor, anchor+"    requirements:\n      memory: 1Gi\n", 1))
	require.NoError(t, os.WriteFile(porter, b, 0o644))
	trio := filepath.Join(dir, "trio")
	require.NoError(t, os.CopyFS(trio, os.DirFS("testdata/swarm/trio")))
	if wait != "" {
		p := filepath.Join(trio, "porter.yaml")
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "wait: 60s", "wait: "+wait)), 0o644))
	}
	return dir
}

// answers GETs http://addr/path from the host (the bridge reaches every
// node) until it answers 200, for up to limit, and returns the body.
func answers(t *testing.T, addr, path string, limit time.Duration) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	var last string
	for {
		resp, err := hc.Get("http://" + addr + path)
		if err == nil {
			var body strings.Builder
			_, _ = fmt.Fprint(&body, readAll(resp))
			if resp.StatusCode == http.StatusOK {
				return body.String()
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body.String())
		} else {
			last = err.Error()
		}
		require.True(t, time.Now().Before(deadline), "http://%s%s does not answer after %s: %s", addr, path, limit, last)
		time.Sleep(250 * time.Millisecond)
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// appEnv is the environment the testapp at addr echoes on /.
func appEnv(t *testing.T, addr string) map[string]string {
	t.Helper()
	var echo struct {
		Env map[string]string `json:"env"`
	}
	body := answers(t, addr, "/", 30*time.Second)
	require.NoError(t, json.Unmarshal([]byte(body), &echo), body)
	return echo.Env
}

// leftOnNodes lists what of app (every app when app is "") the nodes
// still hold: services (on the manager), containers, networks, volumes.
func (sw *swarm3) leftOnNodes(t *testing.T, app string) (services, containers, networks []string, volumes map[int][]string) {
	t.Helper()
	ctx := t.Context()
	f := client.Filters{}.Add("label", naming.LabelApp)
	if app != "" {
		f = client.Filters{}.Add("label", naming.LabelApp+"="+app)
	}
	svcs, err := sw.clients[0].ServiceList(ctx, client.ServiceListOptions{})
	require.NoError(t, err)
	for _, s := range svcs.Items {
		if app == "" || s.Spec.Labels[naming.LabelApp] == app {
			services = append(services, s.Spec.Name)
		}
	}
	volumes = map[int][]string{}
	for i, c := range sw.clients {
		cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		require.NoError(t, err, "node %d", i+1)
		for _, x := range cs.Items {
			containers = append(containers, fmt.Sprintf("node %d: %s (%s)", i+1, strings.Join(x.Names, ","), x.State))
		}
		inv := client.Filters{}.Add("label", naming.LabelInvocation)
		if app != "" {
			inv = client.Filters{}.Add("label", naming.LabelInvocation+"="+app)
		}
		cs, err = c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: inv})
		require.NoError(t, err)
		for _, x := range cs.Items {
			containers = append(containers, fmt.Sprintf("node %d: invocation %s", i+1, strings.Join(x.Names, ",")))
		}
		ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		require.NoError(t, err)
		for _, n := range ns.Items {
			networks = append(networks, fmt.Sprintf("node %d: %s", i+1, n.Name))
		}
		vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		require.NoError(t, err)
		for _, v := range vs.Items {
			volumes[i] = append(volumes[i], v.Name)
		}
		sort.Strings(volumes[i])
	}
	return services, containers, networks, volumes
}

// requireGone waits (a removed task's container goes a moment after its
// task, a network once no task uses it) until no node holds a service,
// container or network of app, and returns the volumes left, by node.
func (sw *swarm3) requireGone(t *testing.T, app string, limit time.Duration) map[int][]string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s, c, n, v := sw.leftOnNodes(t, app)
		if len(s)+len(c)+len(n) == 0 {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the nodes still hold of %q: services %v, containers %v, networks %v", limit, app, s, c, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// volumeNames are the names app's volumes get (compose's <project>_<volume>).
func volumeNames(app string, vols ...string) []string {
	out := make([]string, 0, len(vols))
	for _, v := range vols {
		out = append(out, "websoft9-"+app+"_"+v)
	}
	sort.Strings(out)
	return out
}

// seedUninstallAll calls /uninstallAllApp with purge and returns what it says
// of each app.
func seedUninstallAll(t *testing.T, s server) []map[string]any {
	t.Helper()
	resp := s.do(t, http.MethodPost, "/uninstallAllApp", strings.NewReader(`{"purge":true}`), nil)
	defer resp.Body.Close()
	var r struct {
		Code    string           `json:"code"`
		Message string           `json:"message"`
		Data    []map[string]any `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, http.StatusOK, resp.StatusCode, r.Message)
	require.Equal(t, "1", r.Code, r.Message)
	return r.Data
}

// runLogOf reads the log of run id from the server's data directory.
func runLogOf(t *testing.T, s server, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir, "runs", id+".log"))
	require.NoError(t, err)
	return string(b)
}

// reservedPorts is the server's count of reserved ports.
func reservedPorts(t *testing.T, s server) float64 {
	t.Helper()
	return metricValue(s.scrapeMetrics(t), metrics.PortsReserved, nil)
}

// TestSwarmThreeNodes: StackHub makes a Swarm of three engines and places
// apps on it: the demo on node 2 by hostname, the three-service trio on
// node 3 (its services reach each other by name over the app's overlay
// network), two demos on the nodes StackHub picks by free memory (the
// same host port on two nodes); every app is reported with its node and
// answers from the host at node Addr:port. An upgrade keeps its node;
// uninstall, uninstall with purge and uninstallAllApp leave nothing on
// any node but the volumes the docs say are kept (an app's volumes
// without purge; with purge, those on a node other than the manager's,
// named in the run's log), and no reserved port.
func TestSwarmThreeNodes(t *testing.T) {
	began := time.Now()
	sw := startSwarm3(t, swarm3Catalog(t, ""))
	s, ctx := sw.s, t.Context()

	// The demo on node 2, by hostname.
	step := time.Now()
	inst, err := s.client().InstallAppOn(ctx, "demo", "d2", sw.hosts[1], map[string]any{"message": "on two"})
	require.NoError(t, err)
	require.NotNil(t, inst.App.Node)
	assert.Equal(t, sw.ids[1], inst.App.Node.ID)
	// The trio on node 3 at the same time, by ID.
	inst, err = s.client().InstallAppOn(ctx, "trio", "t3", sw.ids[2], nil)
	require.NoError(t, err)
	assert.Equal(t, sw.ids[2], inst.App.Node.ID)
	s.waitStatusWithin(t, "d2", "1", 2*time.Minute)
	s.waitStatusWithin(t, "t3", "1", 2*time.Minute)
	t.Logf("demo on node 2 and trio on node 3, installed together: running after %s", time.Since(step).Round(time.Millisecond))
	r, d2Addr := sw.appNode(t, "d2", 1)
	d2Port := port(t, r.Data["port"])
	assert.Equal(t, "on two", appEnv(t, d2Addr)["APP_MESSAGE"])
	r, t3Addr := sw.appNode(t, "t3", 2)
	t3API := port(t, r.Data["ports"].(map[string]any)["api_port"])
	env := appEnv(t, t3Addr)
	assert.Equal(t, "http://api:8081", env["APP_API_URL"])
	answers(t, fmt.Sprintf("%s:%d", sw.nodes[2].Addr, t3API), "/healthz", 10*time.Second)
	// Every service of the trio is placed on node 3, one task each, and
	// runs there (web is healthy only once it reached api by name, api
	// once it reached cache).
	svcs := appServices(t, sw.clients[0], "t3")
	require.Len(t, svcs, 3)
	for _, svc := range svcs {
		assert.Equal(t, []string{"node.id==" + sw.ids[2]}, svc.Spec.TaskTemplate.Placement.Constraints, svc.Spec.Name)
	}
	cs, err := sw.clients[2].ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"=t3")})
	require.NoError(t, err)
	require.Len(t, cs.Items, 3, "the trio's three containers run on node 3")
	for _, c := range cs.Items {
		assert.Contains(t, c.Status, "(healthy)", c.Names)
	}
	for _, i := range []int{0, 1} {
		cs, err := sw.clients[i].ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", naming.LabelApp+"=t3")})
		require.NoError(t, err)
		assert.Empty(t, cs.Items, "nothing of the trio on node %d", i+1)
	}

	// Placement by free memory (StackHub's count: a node's memory less the
	// requirements of the apps placed on it): node 1 has all of its own,
	// so the first demo without a node goes there; then node 3, which
	// holds only the trio's 256 MiB, has the most.
	nodes, err := s.client().Nodes(ctx)
	require.NoError(t, err)
	for _, n := range nodes {
		assert.Equal(t, map[string]int{sw.hosts[0]: 0, sw.hosts[1]: 1, sw.hosts[2]: 1}[n.Hostname], n.Apps, n.Hostname)
	}
	step = time.Now()
	inst, err = s.client().InstallAppOn(ctx, "demo", "auto1", "", nil)
	require.NoError(t, err)
	require.NotNil(t, inst.App.Node)
	assert.Equal(t, sw.ids[0], inst.App.Node.ID, "the node with the most free memory: node 1")
	// The same host port as d2's, on another node: the ledger is per node.
	inst, err = s.client().InstallAppOn(ctx, "demo", "auto2", "", map[string]any{"port": d2Port})
	require.NoError(t, err)
	require.NotNil(t, inst.App.Node)
	assert.Equal(t, sw.ids[2], inst.App.Node.ID, "the node with the most free memory: node 3 (1 GiB placed on nodes 1 and 2, 256 MiB on 3)")
	s.waitStatusWithin(t, "auto1", "1", 2*time.Minute)
	s.waitStatusWithin(t, "auto2", "1", 2*time.Minute)
	t.Logf("two demos on the nodes StackHub picked: running after %s", time.Since(step).Round(time.Millisecond))
	r, a1Addr := sw.appNode(t, "auto1", 0)
	answers(t, a1Addr, "/healthz", 30*time.Second)
	r, a2Addr := sw.appNode(t, "auto2", 2)
	assert.Equal(t, d2Port, port(t, r.Data["port"]), "port %d on node 3 as on node 2", d2Port)
	answers(t, a2Addr, "/healthz", 30*time.Second)
	assert.Equal(t, "websoft9-auto2", appEnv(t, a2Addr)["HOSTNAME"], "on node 3, port %d is auto2's", d2Port)
	assert.Equal(t, "websoft9-d2", appEnv(t, d2Addr)["HOSTNAME"], "on node 2, port %d is d2's", d2Port)
	// The same port twice on one node is refused, with nothing reserved.
	_, err = s.client().InstallAppOn(ctx, "demo", "clash", sw.hosts[1], map[string]any{"port": d2Port})
	require.Error(t, err, "port %d is d2's on node 2", d2Port)
	t.Logf("the same port on node 2 again: %v", err)
	var apps []map[string]any
	s.getJSON(t, "/api/v1/apps", &apps)
	assert.Len(t, apps, 4)
	nodes, err = s.client().Nodes(ctx)
	require.NoError(t, err)
	for _, n := range nodes {
		assert.Equal(t, map[string]int{sw.hosts[0]: 1, sw.hosts[1]: 1, sw.hosts[2]: 2}[n.Hostname], n.Apps, n.Hostname)
	}

	// Upgrade the trio: it stays on node 3, its services are updated in
	// place, its data volume kept.
	before := map[string]string{}
	for _, svc := range appServices(t, sw.clients[0], "t3") {
		before[svc.Spec.Name] = svc.ID
	}
	state := answers(t, t3Addr, "/state", 10*time.Second)
	step = time.Now()
	job := s.runJob(t, "/api/v1/apps/t3/upgrade", `{"parameters":{"message":"second"}}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	t.Logf("upgrade of the trio on node 3: done after %s", time.Since(step).Round(time.Millisecond))
	r = s.waitStatusWithin(t, "t3", "1", 30*time.Second)
	_, t3Addr2 := sw.appNode(t, "t3", 2)
	assert.Equal(t, t3Addr, t3Addr2, "an upgrade keeps the node and the port")
	for _, svc := range appServices(t, sw.clients[0], "t3") {
		assert.Equal(t, before[svc.Spec.Name], svc.ID, "%s updated in place", svc.Spec.Name)
	}
	deadline := time.Now().Add(60 * time.Second)
	for appEnv(t, t3Addr)["APP_MESSAGE"] != "second" {
		require.True(t, time.Now().Before(deadline), "the upgraded trio answers with its new message")
		time.Sleep(250 * time.Millisecond)
	}
	assert.Equal(t, state, answers(t, t3Addr, "/state", 10*time.Second), "the web volume on node 3 is kept across the upgrade")

	// Uninstall d2 (no purge): nothing of it on any node but its volumes,
	// kept on node 2 as on a single host.
	step = time.Now()
	r = s.call(t, "/uninstallApp", url.Values{"appName": {"d2"}}, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	t.Logf("uninstall d2 from node 2: %s", time.Since(step).Round(time.Millisecond))
	assert.Contains(t, r.Data["freedPorts"], float64(d2Port))
	assert.Len(t, r.Data["freedPorts"], 2, "its port and db_port")
	vols := sw.requireGone(t, "d2", 30*time.Second)
	assert.Equal(t, map[int][]string{1: volumeNames("d2", "data", "dbdata")}, vols, "d2's volumes are kept on node 2")

	// Uninstall t3 with purge: its volumes are on node 3, which the
	// manager's API cannot reach; StackHub's volume helper task removes
	// them there and the run's log names them (docs/swarm-apps.md).
	step = time.Now()
	job = s.requireUninstall(t, "t3")
	t.Logf("uninstall t3 with purge from node 3: %s", time.Since(step).Round(time.Millisecond))
	vols = sw.requireGone(t, "t3", 30*time.Second)
	t3Vols := volumeNames("t3", "cachedata", "data")
	assert.Empty(t, vols, "t3's volumes are removed on node 3")
	log := runLogOf(t, s, job["id"].(string))
	assert.Contains(t, log, "removed volumes "+strings.Join(t3Vols, ", ")+" on node "+sw.hosts[2], "the run's log names the removed volumes")
	outputs, _ := job["outputs"].(map[string]any)
	assert.Equal(t, t3Vols, toStrings(outputs["removedVolumes"]), "the uninstall's answer names them")

	// uninstallAllApp with purge: auto1 on node 1, the manager's own node,
	// and auto2 on node 3 lose their volumes.
	step = time.Now()
	all := seedUninstallAll(t, s)
	t.Logf("uninstallAllApp (auto1 on node 1, auto2 on node 3): %s: %v", time.Since(step).Round(time.Millisecond), all)
	for _, a := range []string{"auto1", "auto2"} {
		sw.requireGone(t, a, 30*time.Second)
	}
	s.getJSON(t, "/api/v1/apps", &apps)
	assert.Empty(t, apps)
	assert.Zero(t, reservedPorts(t, s), "no port is reserved on any node")

	// Nothing is left on any node but d2's volumes (uninstalled without
	// purge), which the test removes through node 2's own engine.
	services, containers, networks, volumes := sw.leftOnNodes(t, "")
	assert.Empty(t, services)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Equal(t, map[int][]string{
		1: volumeNames("d2", "data", "dbdata"),
	}, volumes, "only the volumes of the app uninstalled without purge")
	for i, names := range volumes {
		for _, v := range names {
			_, err := sw.clients[i].VolumeRemove(context.WithoutCancel(ctx), v, client.VolumeRemoveOptions{})
			assert.NoError(t, err, "remove kept volume %s on node %d", v, i+1)
		}
	}
	left, err := sw.clients[0].ServiceList(ctx, client.ServiceListOptions{})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "no service at all on the Swarm")
	t.Logf("TestSwarmThreeNodes: %s", time.Since(began).Round(time.Millisecond))
}

// runningTasks returns the IDs of app's running tasks and its services'
// versions, to tell an app nothing touched.
func (sw *swarm3) runningTasks(t *testing.T, app string) []string {
	t.Helper()
	var out []string
	for _, svc := range appServices(t, sw.clients[0], app) {
		tasks, err := sw.clients[0].TaskList(t.Context(), client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID).Add("desired-state", "running")})
		require.NoError(t, err)
		for _, tk := range tasks.Items {
			out = append(out, fmt.Sprintf("%s v%d task %s %s", svc.Spec.Name, svc.Version.Index, tk.ID, tk.Status.State))
		}
	}
	sort.Strings(out)
	return out
}

// waitEnded polls getAppInfo until name's install ended (status 1 or 2)
// and returns the answer.
func waitEnded(t *testing.T, s server, name string, limit time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
		require.Equal(t, http.StatusOK, r.status, r.Message)
		if r.Data["status"] == "1" || r.Data["status"] == "2" {
			return r
		}
		require.True(t, time.Now().Before(deadline), "%s: still %v (%v) after %s", name, r.Data["status"], r.Data["info"], limit)
		time.Sleep(200 * time.Millisecond)
	}
}

// restart starts node i's dockerd again and waits until every node is
// ready; it returns how long that took.
func (sw *swarm3) restart(t *testing.T, i int) time.Duration {
	t.Helper()
	step := time.Now()
	require.NoError(t, sw.nodes[i].Start())
	sw.waitReady(t, 3, time.Minute)
	cli, err := sw.nodes[i].Client()
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	sw.clients[i] = cli
	return time.Since(step)
}

// TestSwarmNodeFaults: node 3's dockerd stops during an install on node
// 2 (which succeeds or fails clearly, nothing half-made, its ports
// released when it fails), and during an install on node 3 itself (a
// clear failure, its ports released at once, and nothing of it left on
// any node once node 3 is back but the volumes its tasks made there); an
// app on a lost node shows unreachable within 30 s and runs again when
// the node is back. An app on node 2 is untouched throughout.
func TestSwarmNodeFaults(t *testing.T) {
	began := time.Now()
	sw := startSwarm3(t, swarm3Catalog(t, "30s"))
	s, ctx := sw.s, t.Context()

	// The app that nothing may touch.
	_, err := s.client().InstallAppOn(ctx, "demo", "keep", sw.hosts[1], nil)
	require.NoError(t, err)
	s.waitStatusWithin(t, "keep", "1", 2*time.Minute)
	_, keepAddr := sw.appNode(t, "keep", 1)
	keepState := answers(t, keepAddr, "/state", 30*time.Second)
	keepTasks := sw.runningTasks(t, "keep")
	require.Len(t, keepTasks, 2)
	untouched := func(when string) {
		t.Helper()
		r := s.call(t, "/getAppInfo", url.Values{"appName": {"keep"}}, nil)
		assert.Equal(t, "1", r.Data["status"], "keep runs %s: %v", when, r.Data["info"])
		assert.Equal(t, keepState, answers(t, keepAddr, "/state", 10*time.Second), "keep answers, the same, %s", when)
		assert.Equal(t, keepTasks, sw.runningTasks(t, "keep"), "keep's services and tasks are untouched %s", when)
	}
	reserved := reservedPorts(t, s)

	// 1. Node 3's dockerd stops during an install on node 2.
	step := time.Now()
	_, err = s.client().InstallAppOn(ctx, "demo", "fa", sw.hosts[1], nil)
	require.NoError(t, err)
	require.NoError(t, sw.nodes[2].Stop())
	r := waitEnded(t, s, "fa", 2*time.Minute)
	t.Logf("install on node 2 while node 3 stopped: status %v after %s (%v)", r.Data["status"], time.Since(step).Round(time.Millisecond), r.Data["info"])
	if r.Data["status"] == "1" {
		_, faAddr := sw.appNode(t, "fa", 1)
		answers(t, faAddr, "/healthz", 30*time.Second)
		assert.Equal(t, reserved+2, reservedPorts(t, s))
	} else {
		assert.NotEmpty(t, r.Data["info"], "a failure says why")
		assert.Empty(t, r.Data["ports"], "ports are released")
		assert.Equal(t, reserved, reservedPorts(t, s))
		sw.requireGone(t, "fa", 30*time.Second)
	}
	untouched("while node 3 is down")
	t.Logf("node 3 ready again %s after its dockerd started", sw.restart(t, 2).Round(time.Millisecond))
	untouched("once node 3 is back")
	reserved = reservedPorts(t, s)

	// 2. Node 3's dockerd stops during an install on node 3: once its
	// first service is created.
	step = time.Now()
	_, err = s.client().InstallAppOn(ctx, "trio", "fb", sw.hosts[2], nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(appServices(t, sw.clients[0], "fb")) > 0 }, time.Minute, 50*time.Millisecond)
	require.NoError(t, sw.nodes[2].Stop())
	t.Logf("node 3 stopped %s into the install on it", time.Since(step).Round(time.Millisecond))
	r = waitFailed(t, s, "fb", 3*time.Minute)
	t.Logf("install on node 3 while it is down: failed after %s: %v", time.Since(step).Round(time.Millisecond), r.Data["info"])
	assert.Contains(t, r.Data["info"], "fb")
	assert.Empty(t, r.Data["ports"], "ports are released")
	assert.Equal(t, reserved, reservedPorts(t, s), "ports are released")
	assert.Empty(t, appServices(t, sw.clients[0], "fb"), "the failed install's services are removed at once")
	untouched("while node 3 is down")
	t.Logf("node 3 ready again %s after its dockerd started", sw.restart(t, 2).Round(time.Millisecond))
	step = time.Now()
	vols := sw.requireGone(t, "fb", 90*time.Second)
	t.Logf("nothing of fb on any node %s after node 3 was back but volumes %v", time.Since(step).Round(time.Millisecond), vols)
	for i, names := range vols {
		assert.Equal(t, 2, i, "volumes only on node 3, where its tasks ran")
		assert.Subset(t, volumeNames("fb", "data", "cachedata"), names)
	}
	untouched("once node 3 is back")

	// 3. A lost node: an app on it shows unreachable within 30 s; the
	// others are untouched; an app uninstalled meanwhile goes (its
	// containers there once the node is back); back, the first runs again
	// (the trio restarts unless stopped, as the catalog's bundles do).
	_, err = s.client().InstallAppOn(ctx, "trio", "lost", sw.hosts[2], nil)
	require.NoError(t, err)
	_, err = s.client().InstallAppOn(ctx, "trio", "gone", sw.hosts[2], nil)
	require.NoError(t, err)
	s.waitStatusWithin(t, "lost", "1", 2*time.Minute)
	s.waitStatusWithin(t, "gone", "1", 2*time.Minute)
	reserved = reservedPorts(t, s)
	_, lostAddr := sw.appNode(t, "lost", 2)
	lostState := answers(t, lostAddr, "/state", 30*time.Second)
	step = time.Now()
	require.NoError(t, sw.nodes[2].Stop())
	var unreachable time.Duration
	for {
		r = s.call(t, "/getAppInfo", url.Values{"appName": {"lost"}}, nil)
		if r.Data["state"] == "unreachable" {
			unreachable = time.Since(step)
			break
		}
		require.Less(t, time.Since(step), 30*time.Second, "lost shows unreachable within 30 s: %v", r.Data)
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("node 3 stopped: its app showed unreachable %s later: %v", unreachable.Round(time.Millisecond), r.Data["info"])
	assert.Equal(t, "0", r.Data["status"])
	assert.Equal(t, "down", r.Data["node"].(map[string]any)["state"])
	listed := s.listedApp(t, "lost")
	assert.Equal(t, "unreachable", listed["state"], "the app list says so too")
	status, info := s.allAppStatus(t, "lost")
	assert.Equal(t, "0", status)
	assert.Contains(t, info, "is down")
	code, out, errOut := sw.sh(t, "app", "info", "lost")
	require.Equal(t, exitOK, code, errOut)
	assert.Regexp(t, `State:\s+unreachable`, out)
	assert.Contains(t, out, sw.nodes[2].Addr.String()+", down)", "app info says the node is down")
	untouched("while node 3 is lost")
	step = time.Now()
	s.requireUninstall(t, "gone")
	t.Logf("uninstall of an app on the lost node: %s after it was asked", time.Since(step).Round(time.Millisecond))
	assert.Equal(t, reserved-2, reservedPorts(t, s), "its ports are released")
	step = time.Now()
	require.NoError(t, sw.nodes[2].Start())
	r = s.waitStatusWithin(t, "lost", "1", 90*time.Second)
	t.Logf("node 3's dockerd started: its app running again %s later", time.Since(step).Round(time.Millisecond))
	assert.Equal(t, "ready", r.Data["node"].(map[string]any)["state"])
	assert.Equal(t, lostState, answers(t, lostAddr, "/state", 60*time.Second), "the same app, its volume kept")
	t.Logf("and answering %s after", time.Since(step).Round(time.Millisecond))
	sw.waitReady(t, 3, time.Minute)
	cli, err := sw.nodes[2].Client()
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	sw.clients[2] = cli
	untouched("once node 3 is back")
	vols = sw.requireGone(t, "gone", 60*time.Second)
	assert.Equal(t, map[int][]string{2: volumeNames("gone", "cachedata", "data")}, vols, "of the app uninstalled while its node was lost, only its volumes are left, on node 3")

	// Everything goes; what is left on the nodes is the volumes the docs
	// say are kept (those of apps on node 2 and 3, purged or not), which
	// the test removes through each node's engine.
	t.Logf("uninstallAllApp: %v", seedUninstallAll(t, s))
	for _, a := range []string{"keep", "fa", "lost"} {
		sw.requireGone(t, a, 30*time.Second)
	}
	assert.Zero(t, reservedPorts(t, s))
	services, containers, networks, volumes := sw.leftOnNodes(t, "")
	assert.Empty(t, services)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Empty(t, volumes[0], "nothing on node 1")
	t.Logf("volumes left on node 2 and 3, removed by the test: %v", volumes)
	for i, names := range volumes {
		for _, v := range names {
			_, err := sw.clients[i].VolumeRemove(context.WithoutCancel(ctx), v, client.VolumeRemoveOptions{})
			assert.NoError(t, err, "remove kept volume %s on node %d", v, i+1)
		}
	}
	t.Logf("TestSwarmNodeFaults: %s", time.Since(began).Round(time.Millisecond))
}
