//go:build integration

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Docker faults (reliability.md §3): the server talks to Docker through a
// proxy that breaks it on purpose. Each fault must end in a clear state
// with nothing left behind, and the server must work again once Docker
// does, without a restart.

// faultServer starts a server whose Docker is the proxy.
func faultServer(t *testing.T, args ...string) (server, *dockertest.FaultProxy, *client.Client) {
	t.Helper()
	c := dockertest.RequireDocker(t)
	p := dockertest.StartFaultProxy(t, "/var/run/docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+p.Socket)
	s := startServerArgs(t, t.TempDir(), append([]string{"--bundles", "../../bundles/testdata"}, args...)...)
	return s, p, c
}

// waitFailed polls getAppInfo until name's install failed and returns its
// reason.
func waitFailed(t *testing.T, s server, name string, limit time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
		require.Equal(t, http.StatusOK, r.status, r.Message)
		require.NotEqual(t, "1", r.Data["status"], "the install succeeded through a broken Docker")
		if r.Data["status"] == "2" {
			return r
		}
		require.True(t, time.Now().Before(deadline), "%s: still %v after %s", name, r.Data["status"], limit)
		time.Sleep(200 * time.Millisecond)
	}
}

// requireNothingLeft checks that Docker holds nothing of name: no app or
// invocation container, network or volume.
func requireNothingLeft(t *testing.T, c *client.Client, name string) {
	t.Helper()
	objs, err := dockerhost.New(c).AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers, "containers of %s", name)
	assert.Empty(t, objs.Networks, "networks of %s", name)
	assert.Empty(t, objs.Volumes, "volumes of %s", name)
	left, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "sh.websoft9.invocation="+name)})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "invocation containers of %s", name)
}

// installRecovers retries name's install once Docker works again and
// checks it runs and answers (probe, when given, asks for the URL's status
// instead of a plain GET).
func installRecovers(t *testing.T, s server, name string, probe ...func(url string) int) {
	t.Helper()
	start := time.Now()
	r := s.call(t, "/installApp", fmt.Sprintf(`{"appName":"demo","name":%q}`, name), nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	s.waitStatusWithin(t, name, "1", 60*time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port(t, r.Data["port"]))
	var code int
	if len(probe) > 0 {
		code = probe[0](url)
	} else {
		code, _ = httpGet(t, url)
	}
	assert.Equal(t, http.StatusOK, code)
	t.Logf("%s: installed again %s after the fault ended", name, time.Since(start).Round(10*time.Millisecond))
	r = s.call(t, "/uninstallApp", fmt.Sprintf(`{"appName":%q,"purge":true}`, name), nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
}

func TestDockerFaultErrors(t *testing.T) {
	s, p, c := faultServer(t)
	const name = "fault-err"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	// Docker refuses to create the invocation container.
	remove := p.Inject(dockertest.Fault{Method: http.MethodPost, Path: `^/containers/create$`,
		Status: http.StatusInternalServerError, Message: "injected: no space left on device"})
	r := s.call(t, "/installApp", `{"appName":"demo","name":"fault-err"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	r = waitFailed(t, s, name, 60*time.Second)
	assert.Contains(t, r.Data["info"], "injected: no space left on device", "Docker's reason is the failure's")
	assert.Empty(t, r.Data["ports"], "ports are released")
	assert.GreaterOrEqual(t, p.Seen(http.MethodPost, "/containers/create"), 1)
	requireNothingLeft(t, c, name)

	// Docker answers again: the same name installs, no restart needed.
	remove()
	installRecovers(t, s, name)
	requireNothingLeft(t, c, name)
}

func TestDockerFaultStall(t *testing.T) {
	s, p, c := faultServer(t, "--docker-timeout", "3s")
	const name = "fault-stall"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	// dockerd holds the start of the invocation container (once) longer
	// than the server waits for one call.
	p.Inject(dockertest.Fault{Method: http.MethodPost, Path: `^/containers/[^/]+/start$`, Stall: 30 * time.Second, Times: 1})
	start := time.Now()
	r := s.call(t, "/installApp", `{"appName":"demo","name":"fault-stall"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	r = waitFailed(t, s, name, 30*time.Second)
	t.Logf("stalled install failed after %s: %v", time.Since(start).Round(10*time.Millisecond), r.Data["info"])
	assert.Contains(t, r.Data["info"], "Docker did not answer within 3s (start the invocation container)")
	assert.Empty(t, r.Data["ports"], "ports are released")
	requireNothingLeft(t, c, name)

	// A stall shorter than the bound only slows the install down.
	listed := p.Seen(http.MethodGet, "/containers/json")
	p.Inject(dockertest.Fault{Path: `^/containers/json$`, Stall: 1500 * time.Millisecond, Times: 3})
	installRecovers(t, s, name)
	assert.GreaterOrEqual(t, p.Seen(http.MethodGet, "/containers/json")-listed, 3, "the stalled calls were made")
	requireNothingLeft(t, c, name)
}

func TestDockerFaultEventStream(t *testing.T) {
	s, p, c := faultServer(t)
	const name = "fault-events"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	r := s.call(t, "/installApp", `{"appName":"demo","name":"fault-events"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	s.waitStatus(t, name, "1")

	// The event stream is cut three times; each time the server
	// reconnects and its view follows what happens on the host.
	for i, stopped := range []bool{true, false, true} {
		subscribed := p.Seen(http.MethodGet, "/events")
		require.Positive(t, p.DropEvents(), "round %d: a stream was open", i)
		deadline := time.Now().Add(30 * time.Second)
		for p.Seen(http.MethodGet, "/events") == subscribed {
			require.True(t, time.Now().Before(deadline), "round %d: the server did not subscribe again within 30 s", i)
			time.Sleep(100 * time.Millisecond)
		}
		// Changed behind the server's back, on the real socket.
		if stopped {
			_, err := c.ContainerStop(t.Context(), "websoft9-fault-events", client.ContainerStopOptions{})
			require.NoError(t, err)
		} else {
			_, err := c.ContainerStart(t.Context(), "websoft9-fault-events", client.ContainerStartOptions{})
			require.NoError(t, err)
		}
		want := map[bool]string{true: "0", false: "1"}[stopped]
		deadline = time.Now().Add(30 * time.Second)
		for {
			r = s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
			if r.Data["status"] == want {
				break
			}
			require.True(t, time.Now().Before(deadline), "round %d: status %v 30 s after the change, want %s", i, r.Data["status"], want)
			time.Sleep(200 * time.Millisecond)
		}
	}
	r = s.call(t, "/uninstallApp", fmt.Sprintf(`{"appName":%q,"purge":true}`, name), nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	requireNothingLeft(t, c, name)
}

// TestDockerdRestart restarts a real dockerd (a private one, never the
// host's) while an install runs: the running install ends failed with a
// clear reason and nothing of it left, the installed app's containers
// stop with the engine and the server sees it, and once the engine is
// back the server installs again, without a restart of its own.
func TestDockerdRestart(t *testing.T) {
	if _, err := net.InterfaceByName("docker0"); err == nil {
		t.Cleanup(func() {
			_, err := net.InterfaceByName("docker0")
			assert.NoError(t, err, "the host engine's docker0 survives the private dockerd")
		})
	}
	d := dockertest.StartDockerd(t, "stackhub-test/web:dev")
	c, err := d.Client()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	t.Setenv("DOCKER_HOST", "unix://"+d.Socket)
	s := startServerArgs(t, t.TempDir(), "--bundles", "../../bundles/testdata")

	r := s.call(t, "/installApp", `{"appName":"demo","name":"rs-kept"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	s.waitStatusWithin(t, "rs-kept", "1", 90*time.Second)

	r = s.call(t, "/installApp", `{"appName":"demo","name":"rs-cut"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	// Restart once the install's invocation container runs.
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := c.ContainerList(t.Context(), client.ContainerListOptions{
			Filters: client.Filters{}.Add("label", "sh.websoft9.invocation=rs-cut")})
		require.NoError(t, err)
		if len(list.Items) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the install's invocation container never ran")
		time.Sleep(50 * time.Millisecond)
	}
	// ... and once its network exists: dockerd 20.10 stopped in the middle
	// of creating a network stores it without its address pool and then
	// panics at its next start (libnetwork reservePools, index out of
	// range), which is Docker's bug, not what this test is about.
	for {
		nets, err := c.NetworkList(t.Context(), client.NetworkListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"=rs-cut")})
		require.NoError(t, err)
		if len(nets.Items) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the install never made its network")
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, d.Stop())
	down := time.Now()
	time.Sleep(2 * time.Second)
	require.NoError(t, d.Start())
	back := time.Now()
	t.Logf("dockerd down for %s", back.Sub(down).Round(10*time.Millisecond))

	// Within 60 s of the engine's return: clear states, nothing left.
	r = waitFailed(t, s, "rs-cut", 60*time.Second)
	t.Logf("cut install: failed %s after dockerd came back: %v", time.Since(back).Round(10*time.Millisecond), r.Data["info"])
	assert.NotEmpty(t, r.Data["info"], "a failed install says why")
	assert.Empty(t, r.Data["ports"], "its ports are released")
	requireNothingLeft(t, c, "rs-cut")
	deadline = back.Add(60 * time.Second)
	for {
		r = s.call(t, "/getAppInfo", url.Values{"appName": {"rs-kept"}}, nil)
		if r.Data["status"] == "0" {
			break
		}
		require.True(t, time.Now().Before(deadline), "rs-kept: status %v 60 s after the restart, want 0 (its containers stopped with dockerd)", r.Data["status"])
		time.Sleep(200 * time.Millisecond)
	}
	code, _ := httpGet(t, s.url+"/readyz")
	assert.Equal(t, http.StatusOK, code)

	// The server works again: start the kept app, install a new one.
	// (Unless Docker's own reservePools bug made dockertest set the
	// network store aside: the kept app's network is gone then, by
	// Docker, and its containers cannot start again.)
	if d.NetworkStoreReset {
		t.Log("dockerd lost its network store to Docker 20.10's reservePools panic: the kept app is not started again")
	} else {
		job := s.runJob(t, "/api/v1/apps/rs-kept/actions/start", "")
		require.Equal(t, "succeeded", job["status"], "%v", job)
		s.waitStatusWithin(t, "rs-kept", "1", 60*time.Second)
	}
	installRecovers(t, s, "rs-after", func(url string) int {
		// The private engine publishes its ports in its own namespace.
		out, err := d.Exec(t.Context(), filepath.Join(dockertest.RuntimesDir(t), "stackhub-testapp"), "probe", "http", url)
		if err != nil {
			t.Logf("probe %s: %v: %s", url, err, out)
			return 0
		}
		return http.StatusOK
	})
	requireNothingLeft(t, c, "rs-after")
}
