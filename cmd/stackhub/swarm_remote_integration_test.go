//go:build integration

package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// TestSwarmRemoteApps: what StackHub does for apps on the Swarm nodes it
// does not run on (issue 23's last parts), on the three-engine Swarm of
// TestSwarmThreeNodes with the gateway on (internal CA):
//   - the gateway routes a domain to an app on node 2 and one on node 3,
//     at the node's address; an upgrade keeps the route, an uninstall
//     drops it (404), a reinstall on another node is routed there;
//   - logs of an app on node 3 come through the manager (all, tail,
//     follow), its stats say why they are not sampled, with node 3's
//     figures; an app on node 1 is sampled;
//   - compose configs become Swarm configs whose files are in the tasks'
//     containers on node 3, replaced on upgrade, gone after uninstall and
//     after a failed install.
func TestSwarmRemoteApps(t *testing.T) {
	began := time.Now()
	catalog := swarm3Catalog(t, "")
	require.NoError(t, os.CopyFS(filepath.Join(catalog, "conf"), os.DirFS("testdata/swarm/conf")))
	sw := startSwarm3(t, catalog, "--gateway", "--tls-internal",
		"--gateway-http", "127.0.0.1:0", "--gateway-https", "127.0.0.1:0")
	s, ctx := sw.s, t.Context()
	api := s.client()
	gw, err := api.Gateway(ctx)
	require.NoError(t, err)
	require.True(t, gw.Enabled)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM([]byte(gw.RootCA)))
	// Names resolve to the gateway by the test's own dialer.
	hc := gatewayClient(gw.HTTP, gw.HTTPS, roots)
	get := func(u string) (int, string) {
		resp, err := hc.Get(u)
		require.NoError(t, err, u)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// through waits until u answers 200 with want in its body.
	through := func(u, want string, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			code, body := get(u)
			if code == http.StatusOK && (want == "" || strings.Contains(body, want)) {
				return
			}
			require.True(t, time.Now().Before(deadline), "%s: %d %s", u, code, body)
			time.Sleep(200 * time.Millisecond)
		}
	}

	step := time.Now()
	_, err = api.InstallAppOn(ctx, "demo", "g2", sw.hosts[1], map[string]any{"message": "g2 on two"})
	require.NoError(t, err)
	_, err = api.InstallAppOn(ctx, "demo", "g3", sw.hosts[2], map[string]any{"message": "g3 on three"})
	require.NoError(t, err)
	s.waitStatusWithin(t, "g2", "1", 2*time.Minute)
	s.waitStatusWithin(t, "g3", "1", 2*time.Minute)
	t.Logf("g2 on node 2, g3 on node 3: running after %s", time.Since(step).Round(time.Millisecond))
	_, g2Addr := sw.appNode(t, "g2", 1)
	_, g3Addr := sw.appNode(t, "g3", 2)

	// Domains: the answer says where the gateway goes and that the port
	// is reached directly too (Swarm cannot publish on a loopback).
	d, err := api.AddDomain(ctx, "g2", DomainRequest{Domain: "two.test"})
	require.NoError(t, err)
	assert.Equal(t, g2Addr, d.Upstream)
	assert.Equal(t, g2Addr, d.Exposed)
	assert.Empty(t, d.Rebind, "no upgrade moves the web port of an app on a Swarm node")
	d, err = api.AddDomain(ctx, "g3", DomainRequest{Domain: "three.test"})
	require.NoError(t, err)
	assert.Equal(t, g3Addr, d.Upstream)
	step = time.Now()
	through("https://two.test/", "g2 on two", 20*time.Second)
	through("https://three.test/", "g3 on three", 20*time.Second)
	t.Logf("two.test and three.test through the gateway: %s", time.Since(step).Round(time.Millisecond))
	list, err := api.Domains(ctx, "g3")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, g3Addr, list[0].Upstream)

	// An upgrade keeps the node and the route.
	job := s.runJob(t, "/api/v1/apps/g3/upgrade", `{"parameters":{"message":"g3 upgraded"}}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	s.waitStatusWithin(t, "g3", "1", 30*time.Second)
	sw.appNode(t, "g3", 2)
	through("https://three.test/", "g3 upgraded", 60*time.Second)

	// Uninstalled: the domain goes, the gateway has no route (404).
	r := s.call(t, "/uninstallApp", url.Values{"appName": {"g2"}}, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	sw.requireGone(t, "g2", 30*time.Second)
	// (Over HTTPS the gateway has no certificate for it any more.)
	code, body := get("http://two.test/")
	assert.Equal(t, http.StatusNotFound, code, body)
	t.Logf("two.test after g2's uninstall: %d %s", code, strings.TrimSpace(body))
	_, err = hc.Get("https://two.test/")
	assert.Error(t, err, "no certificate is served for a domain gone")

	// Installed again under the same name on node 3: the new domain goes
	// to node 3.
	_, err = api.InstallAppOn(ctx, "demo", "g2", sw.hosts[2], map[string]any{"message": "g2 on three now"})
	require.NoError(t, err)
	s.waitStatusWithin(t, "g2", "1", 2*time.Minute)
	_, g2Addr = sw.appNode(t, "g2", 2)
	d, err = api.AddDomain(ctx, "g2", DomainRequest{Domain: "two.test"})
	require.NoError(t, err)
	assert.Equal(t, g2Addr, d.Upstream, "the new node's address")
	through("https://two.test/", "g2 on three now", 20*time.Second)
	t.Logf("part 1 (gateway) done at %s", time.Since(began).Round(time.Millisecond))

	// Logs of an app on node 3 come through the manager, as a local
	// app's do: all, the last line, following until the client stops.
	step = time.Now()
	readLogs := func(name string, opts LogsOptions) string {
		t.Helper()
		rc, err := api.AppLogs(ctx, name, opts)
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return string(b)
	}
	all := readLogs("g3", LogsOptions{})
	assert.Contains(t, all, "stackhub-testapp: http listening on", "the web service's start, on node 3")
	last := readLogs("g3", LogsOptions{Tail: 1})
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(last), "\n")+1, "tail=1: one line of the current task (the upgrade's), not one per task Swarm remembers: %q", last)
	// The database stand-in writes nothing: its (empty) logs, not the web's.
	db := readLogs("g3", LogsOptions{Container: "websoft9-g3-db"})
	assert.NotContains(t, db, "http listening", "the database stand-in's logs")
	fctx, stop := context.WithTimeout(ctx, 30*time.Second)
	rc, err := api.AppLogs(fctx, "g3", LogsOptions{Follow: true, Tail: 1})
	require.NoError(t, err)
	line := make([]byte, 4096)
	n, err := rc.Read(line)
	require.NoError(t, err, "a followed stream sends the last line at once")
	assert.Contains(t, string(line[:n]), "stackhub-testapp")
	stop()
	rc.Close()
	code, out, errOut := sw.sh(t, "app", "logs", "g3", "--tail", "5")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "stackhub-testapp")
	t.Logf("logs of g3 on node 3 through the manager: %s", time.Since(step).Round(time.Millisecond))

	// Stats of an app on node 3 cannot be sampled through the manager:
	// each container says so, with node 3's figures, and no figure.
	stats, err := api.AppStats(ctx, "g3")
	require.NoError(t, err)
	require.Len(t, stats, 2, "the web service and the database")
	for _, st := range stats {
		assert.Contains(t, st.Unavailable, "runs on Swarm node "+sw.hosts[2], st.Name)
		require.NotNil(t, st.Node, st.Name)
		assert.Equal(t, sw.ids[2], st.Node.ID)
		assert.Positive(t, st.Node.CPUs)
		assert.Positive(t, st.Node.MemoryBytes)
		assert.Zero(t, st.CPUPercent)
	}
	resp := s.do(t, http.MethodGet, "/api/v1/apps/g3/stats", nil, nil)
	raw := readAll(resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, raw)
	assert.NotContains(t, raw, "cpuPercent", "no figure for a container not sampled: %s", raw)
	code, out, errOut = sw.sh(t, "app", "stats", "g3")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "not sampled: g3 runs on Swarm node "+sw.hosts[2])
	t.Logf("app stats g3:\n%s", out)
	// An app on node 1, StackHub's own: its logs through the manager too
	// (its task's container is not named as the service), its stats
	// sampled from the local engine.
	_, err = api.InstallAppOn(ctx, "demo", "g1", sw.hosts[0], nil)
	require.NoError(t, err)
	s.waitStatusWithin(t, "g1", "1", 2*time.Minute)
	assert.Contains(t, readLogs("g1", LogsOptions{}), "stackhub-testapp: http listening on")
	deadline := time.Now().Add(20 * time.Second)
	for {
		stats, err = api.AppStats(ctx, "g1")
		require.NoError(t, err)
		if len(stats) == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "g1's two containers sampled on node 1: %+v", stats)
		time.Sleep(500 * time.Millisecond)
	}
	for _, st := range stats {
		assert.Empty(t, st.Unavailable, st.Name)
		assert.Positive(t, st.MemoryBytes, st.Name)
		assert.Positive(t, st.PIDs, st.Name)
	}
	t.Logf("part 2 (logs, stats) done at %s", time.Since(began).Round(time.Millisecond))

	// Compose configs on node 3: Swarm configs of the app, named with
	// their content's hash, files in the task's container there with
	// their owner and mode; an upgrade that changes one makes a new config
	// and removes the old; uninstall leaves none.
	step = time.Now()
	_, err = api.InstallAppOn(ctx, "conf", "c3", sw.hosts[2], map[string]any{"message": "first"})
	require.NoError(t, err)
	s.waitStatusWithin(t, "c3", "1", 2*time.Minute)
	t.Logf("conf on node 3 with two configs: running after %s", time.Since(step).Round(time.Millisecond))
	names := sw.appConfigs(t, "c3")
	require.Len(t, names, 2, "%v", names)
	assert.Regexp(t, `^websoft9-c3_app\.conf-[0-9a-f]{12}$`, names[0])
	assert.Regexp(t, `^websoft9-c3_motd-[0-9a-f]{12}$`, names[1])
	r, c3Addr := sw.appNode(t, "c3", 2)
	motdAddr := fmt.Sprintf("%s:%d", sw.nodes[2].Addr, port(t, r.Data["ports"].(map[string]any)["motd_port"]))
	// The files in the tasks' containers on node 3, as the apps read them.
	assert.Equal(t, "message = \"first\"\n", answers(t, c3Addr, "/state", 10*time.Second))
	assert.Equal(t, "Welcome to the conf test bundle.\n", answers(t, motdAddr, "/state", 10*time.Second), "the bundle's file, as content")
	// Owner and mode, as the specs give them to Swarm.
	refs := map[string]swarm.ConfigReferenceFileTarget{}
	for _, svc := range appServices(t, sw.clients[0], "c3") {
		for _, ref := range svc.Spec.TaskTemplate.ContainerSpec.Configs {
			require.NotEmpty(t, ref.ConfigID)
			refs[ref.ConfigName] = *ref.File
		}
	}
	assert.Equal(t, map[string]swarm.ConfigReferenceFileTarget{
		names[0]: {Name: "/etc/conf/created", UID: "1000", GID: "1001", Mode: 0o440},
		names[1]: {Name: "/motd/created", UID: "0", GID: "0", Mode: 0o444},
	}, refs)

	step = time.Now()
	job = s.runJob(t, "/api/v1/apps/c3/upgrade", `{"parameters":{"message":"second"}}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	s.waitStatusWithin(t, "c3", "1", 30*time.Second)
	t.Logf("upgrade of conf with a new config content: %s", time.Since(step).Round(time.Millisecond))
	after := sw.appConfigs(t, "c3")
	require.Len(t, after, 2, "the old app.conf is gone: %v", after)
	assert.NotEqual(t, names[0], after[0], "a new app.conf")
	assert.Equal(t, names[1], after[1], "motd unchanged, kept")
	deadline = time.Now().Add(30 * time.Second)
	for answers(t, c3Addr, "/state", 10*time.Second) != "message = \"second\"\n" {
		require.True(t, time.Now().Before(deadline), "the upgraded task reads the new config")
		time.Sleep(250 * time.Millisecond)
	}

	r = s.call(t, "/uninstallApp", url.Values{"appName": {"c3"}}, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	sw.requireGone(t, "c3", 30*time.Second)
	assert.Empty(t, sw.appConfigs(t, "c3"), "no config of the app after uninstall")
	// A failed install (its web service never healthy) leaves no config:
	// StackHub's clean-up removes them with the services.
	step = time.Now()
	reserved := reservedPorts(t, s)
	_, err = api.InstallAppOn(ctx, "conf", "cf", sw.hosts[2], map[string]any{"health_port": "9"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(sw.appConfigs(t, "cf")) == 2 }, time.Minute, 100*time.Millisecond, "the install creates its configs")
	r = waitFailed(t, s, "cf", 2*time.Minute)
	t.Logf("install of conf never healthy: failed after %s: %v", time.Since(step).Round(time.Millisecond), r.Data["info"])
	sw.requireGone(t, "cf", 30*time.Second)
	assert.Empty(t, sw.appConfigs(t, "cf"), "no config of the failed install")
	assert.Equal(t, reserved, reservedPorts(t, s), "its ports are released")
	t.Logf("part 3 (configs) done at %s", time.Since(began).Round(time.Millisecond))

	swarmRemoteCleanup(t, sw)
	t.Logf("TestSwarmRemoteApps: %s", time.Since(began).Round(time.Millisecond))
}

// appConfigs lists the names of app's Swarm configs, sorted.
func (sw *swarm3) appConfigs(t *testing.T, app string) []string {
	t.Helper()
	list, err := sw.clients[0].ConfigList(t.Context(), client.ConfigListOptions{})
	require.NoError(t, err)
	var out []string
	for _, c := range list.Items {
		if c.Spec.Labels[naming.LabelApp] == app || strings.HasPrefix(c.Spec.Name, naming.Project(app)+"_") {
			out = append(out, c.Spec.Name)
		}
	}
	sort.Strings(out)
	return out
}

// swarmRemoteCleanup uninstalls every app with purge and checks nothing
// but the documented kept volumes is left, which it removes through each
// node's own engine.
func swarmRemoteCleanup(t *testing.T, sw *swarm3) {
	t.Helper()
	seedUninstallAll(t, sw.s)
	sw.requireGone(t, "", 60*time.Second)
	assert.Zero(t, reservedPorts(t, sw.s), "no port is reserved on any node")
	_, _, _, volumes := sw.leftOnNodes(t, "")
	for i, names := range volumes {
		for _, v := range names {
			_, err := sw.clients[i].VolumeRemove(t.Context(), v, client.VolumeRemoveOptions{})
			assert.NoError(t, err, "remove kept volume %s on node %d", v, i+1)
		}
	}
}
