//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// pkgImage is a fresh Debian 12 with docker.io and systemd but no init
// (packaging/test/build-image), where the package is installed.
const pkgImage = "stackhub-e2e/pkgtest:debian12"

// The two versions the test packages: the second upgrades the first.
const (
	version1 = "v0.99.0-pkgtest.1"
	version2 = "v0.99.0-pkgtest.2"
)

// TestDebPackage installs the .deb in a fresh Debian 12 (a container
// using the host's Docker engine), runs the unit's command line, installs
// the demo app through the API, upgrades the package under it and checks
// the app never stopped; then runs install.sh there twice, upgrades and
// uninstalls with it.
//
// The data dir is a host path mounted at the same path in the container:
// the server makes each run's Docker socket under it, and dockerd, on the
// host, resolves the bind mount's source there.
func TestDebPackage(t *testing.T) {
	c := dockertest.RequireDocker(t)
	requireImage(t, "stackhub-test/web:dev", "make test-images builds it")
	start := time.Now()
	build := exec.CommandContext(t.Context(), "bash", "../../packaging/test/build-image")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "packaging/test/build-image: %s", out)
	t.Logf("image %s ready in %s", pkgImage, time.Since(start).Round(time.Second))

	h := t.TempDir()
	start = time.Now()
	deb1 := buildDeb(t, version1, filepath.Join(h, "v1"))
	deb2 := buildDeb(t, version2, filepath.Join(h, "v2"))
	t.Logf("packages built in %s: %s, %s", time.Since(start).Round(time.Second), filepath.Base(deb1), filepath.Base(deb2))
	require.NoError(t, os.CopyFS(filepath.Join(h, "bundles"), os.DirFS("../../bundles/testdata")))
	// The server in the container keeps a port ledger of its own and
	// cannot see the ports of apps other tests' servers install on the
	// same engine at the same time (make test runs packages in parallel):
	// its demo takes ports from ranges no other test uses.
	demo := filepath.Join(h, "bundles", "demo", "porter.yaml")
	raw, err := os.ReadFile(demo)
	require.NoError(t, err)
	ranged := strings.NewReplacer("minimum: 9001\n    maximum: 9999", "minimum: 22001\n    maximum: 22099",
		"minimum: 3307\n    maximum: 3399", "minimum: 22101\n    maximum: 22199").Replace(string(raw))
	require.NotEqual(t, string(raw), ranged, "the demo's port ranges moved")
	require.NoError(t, os.WriteFile(demo, []byte(ranged), 0o644))
	require.NoError(t, copyFile("../../packaging/install.sh", filepath.Join(h, "install.sh"), 0o755))

	t.Run("dpkg", func(t *testing.T) {
		ctr := startContainer(t, h)
		app := fmt.Sprintf("pkg%d", time.Now().UnixNano()%1_000_000)
		t.Cleanup(func() {
			// Whatever happened, the app's containers, networks and volumes go.
			_, err := dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), app, "", true)
			assert.NoError(t, err)
		})

		// No systemd runs in the container: postinst must not fail.
		ctr.must(t, "dpkg", "-i", deb1)
		assert.Equal(t, "700", strings.TrimSpace(ctr.must(t, "stat", "-c", "%a", "/var/lib/stackhub")))
		conf := ctr.must(t, "cat", "/etc/stackhub/config.yaml")
		for _, want := range []string{"\ndata-dir: /var/lib/stackhub\n", "\nruntimes-dir: /usr/lib/stackhub\n", "\ngateway: true\n", "\nlisten: "} {
			assert.Contains(t, conf, want)
		}
		assert.Contains(t, ctr.must(t, "dpkg-query", "-W", "-f", "${Conffiles}", "stackhub"), "/etc/stackhub/config.yaml")
		checkVersion(t, ctr, version1)
		out, err := ctr.run("stackhub", "doctor")
		t.Logf("stackhub doctor (%v):\n%s", err, out)
		assert.NotContains(t, out, "unknown command", "stackhub doctor")
		out, err = ctr.run("systemd-analyze", "verify", "/lib/systemd/system/stackhub.service")
		assert.NoError(t, err, "systemd-analyze verify: %s", out)
		assert.NotContains(t, out, "stackhub.service", "systemd-analyze verify")

		// The unit's command line, with the test's settings in the config
		// file: a loopback listener, the data dir on the host's path, the
		// demo catalog, the gateway on loopback ports.
		data := filepath.Join(h, "data")
		listen := fmt.Sprintf("127.0.0.1:%d", dockertest.FreePort(t, 20000, 20999))
		config := fmt.Sprintf("listen: %s\ndata-dir: %s\nruntimes-dir: /usr/lib/stackhub\nbundles: %s\ngateway: true\ngateway-http: 127.0.0.1:%d\ngateway-https: 127.0.0.1:%d\n",
			listen, data, filepath.Join(h, "bundles"), dockertest.FreePort(t, 21000, 21499), dockertest.FreePort(t, 21500, 21999))
		ctr.writeFile(t, "/etc/stackhub/config.yaml", config)
		token := lastLine(ctr.stdout(t, "stackhub", "token", "create", "--data-dir", data))
		require.True(t, strings.HasPrefix(token, "shk_"), "token create prints the token last: %q", token)
		execStart := unitExecStart(t, ctr)
		api := apiClient{url: "http://" + listen, token: token}

		srv := ctr.serve(t, execStart)
		api.waitHealthy(t, srv)
		status, body := api.get(t, "/")
		assert.Equal(t, http.StatusOK, status, "GET / (the console)")
		assert.Contains(t, body, "<html", "GET / (the console)")
		assert.Contains(t, srv.logs.String(), "setup_code=", "no user yet: the setup code is logged")

		start := time.Now()
		status, body = api.send(t, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, app))
		require.Equal(t, http.StatusAccepted, status, body)
		api.waitRunning(t, app, 2*time.Minute)
		t.Logf("demo app %s running after %s", app, time.Since(start).Round(time.Second))
		// The install's run had a Docker socket of its own under the data
		// dir (not the container's /tmp), which dockerd bind-mounted.
		assert.Equal(t, "700", strings.TrimSpace(ctr.must(t, "stat", "-c", "%a", filepath.Join(data, "run"))))
		before := startTimes(t, app)
		require.NotEmpty(t, before)
		srv.stop(t)

		// The next version over the first: the operator's config.yaml is
		// kept, the app never stops.
		ctr.must(t, "dpkg", "-i", deb2)
		checkVersion(t, ctr, version2)
		assert.Equal(t, config, ctr.must(t, "cat", "/etc/stackhub/config.yaml"), "an upgrade keeps the conffile's edits")
		srv = ctr.serve(t, unitExecStart(t, ctr))
		api.waitHealthy(t, srv)
		status, body = api.get(t, "/api/v1/apps/"+app)
		require.Equal(t, http.StatusOK, status, body)
		api.waitRunning(t, app, 30*time.Second)
		assert.Equal(t, before, startTimes(t, app), "the app's containers were not restarted by the upgrade")

		status, body = api.send(t, http.MethodDelete, "/api/v1/apps/"+app+"?purge=true", "")
		require.Equal(t, http.StatusAccepted, status, body)
		require.Eventually(t, func() bool {
			status, _ := api.get(t, "/api/v1/apps/"+app)
			return status == http.StatusNotFound
		}, time.Minute, 500*time.Millisecond, "uninstalling %s", app)
		assert.Empty(t, startTimes(t, app), "the app's containers are gone")
		srv.stop(t)
	})

	t.Run("install.sh", func(t *testing.T) {
		ctr := startContainer(t, h)
		script := filepath.Join(h, "install.sh")
		for i, want := range []string{"installed stackhub 0.99.0~pkgtest.1", "stackhub 0.99.0~pkgtest.1 is installed already"} {
			start := time.Now()
			out := ctr.must(t, "bash", script, "--deb", deb1)
			t.Logf("install.sh, run %d, %s:\n%s", i+1, time.Since(start).Round(time.Second), out)
			assert.Contains(t, out, "Docker answers", "docker works here: no docker.io install")
			assert.Contains(t, out, want)
			assert.Contains(t, out, "systemd does not run here")
		}
		checkVersion(t, ctr, version1)
		out := ctr.must(t, "bash", script, "--deb", deb2)
		assert.Contains(t, out, "upgraded stackhub 0.99.0~pkgtest.1 → 0.99.0~pkgtest.2")
		checkVersion(t, ctr, version2)

		ctr.must(t, "touch", "/var/lib/stackhub/keep-me")
		out = ctr.must(t, "bash", script, "--uninstall")
		assert.Contains(t, out, "removed the package")
		_, err := ctr.run("test", "-x", "/usr/bin/stackhub")
		assert.Error(t, err, "the binary is gone")
		ctr.must(t, "test", "-f", "/var/lib/stackhub/keep-me")
		ctr.must(t, "test", "-f", "/etc/stackhub/config.yaml")

		out = ctr.must(t, "bash", script, "--uninstall", "--purge-data")
		assert.Contains(t, out, "/var/lib/stackhub")
		_, err = ctr.run("test", "-e", "/var/lib/stackhub")
		assert.Error(t, err, "--purge-data removes the data dir")
		_, err = ctr.run("test", "-e", "/etc/stackhub/config.yaml")
		assert.Error(t, err, "purged: the conffile is gone")
	})
}

// buildDeb builds the release's binaries and .deb of version for the
// host's architecture into dir and returns the .deb's path.
func buildDeb(t *testing.T, version, dir string) string {
	t.Helper()
	var log bytes.Buffer
	files, err := Release(t.Context(), Options{Version: version, Arches: []string{runtime.GOARCH}, Out: dir, Root: "../..", Log: &log})
	require.NoError(t, err, log.String())
	for _, f := range files {
		if strings.HasSuffix(f, ".deb") {
			return f
		}
	}
	t.Fatalf("no .deb among %q", files)
	return ""
}

func requireImage(t *testing.T, ref, hint string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "docker", "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput()
	require.NoError(t, err, "image %s (%s): %s", ref, hint, out)
}

// container is a running pkgImage container.
type container struct{ name string }

// startContainer runs a fresh pkgImage container on the host's network
// with the host's Docker socket and h at the same path, removed at the
// end of t.
func startContainer(t *testing.T, h string) container {
	t.Helper()
	name := fmt.Sprintf("stackhub-pkgtest-%d", time.Now().UnixNano())
	out, err := exec.CommandContext(t.Context(), "docker", "run", "-d", "--name", name, "--network", "host",
		"-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", h+":"+h, pkgImage, "sleep", "infinity").CombinedOutput()
	require.NoError(t, err, "docker run: %s", out)
	t.Cleanup(func() {
		out, err := exec.Command("docker", "rm", "-f", "-v", name).CombinedOutput()
		assert.NoError(t, err, "docker rm %s: %s", name, out)
	})
	return container{name: name}
}

// run runs argv in the container and returns its output (stdout and stderr).
func (c container) run(argv ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"exec", c.name}, argv...)...).CombinedOutput()
	return string(out), err
}

// must is run that fails t when argv fails.
func (c container) must(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := c.run(argv...)
	require.NoError(t, err, "%s: %s", strings.Join(argv, " "), out)
	return out
}

// stdout is must that returns only the standard output.
func (c container) stdout(t *testing.T, argv ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("docker", append([]string{"exec", c.name}, argv...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s", strings.Join(argv, " "), stderr.String())
	return string(out)
}

// writeFile writes content to path in the container.
func (c container) writeFile(t *testing.T, path, content string) {
	t.Helper()
	cmd := exec.Command("docker", "exec", "-i", c.name, "tee", path)
	cmd.Stdin = strings.NewReader(content)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "write %s: %s", path, out)
}

// unitExecStart reads the installed unit's command line.
func unitExecStart(t *testing.T, c container) []string {
	t.Helper()
	unit := c.must(t, "cat", "/lib/systemd/system/stackhub.service")
	for line := range strings.SplitSeq(unit, "\n") {
		if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(cmd) // the unit quotes nothing
		}
	}
	t.Fatalf("no ExecStart in the unit:\n%s", unit)
	return nil
}

// checkVersion runs stackhub version -o json in the container.
func checkVersion(t *testing.T, c container, want string) {
	t.Helper()
	out := c.must(t, "stackhub", "version", "-o", "json")
	var v struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
		Date    string `json:"date"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v), "stackhub version -o json: %s", out)
	assert.Equal(t, want, v.Version)
	assert.Len(t, v.Commit, 40)
	_, err := time.Parse(time.RFC3339, v.Date)
	assert.NoError(t, err, "date %q", v.Date)
}

// server is the unit's command line running in a container.
type server struct {
	c    container
	logs *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serve starts argv in the container in the background, as systemd would.
func (c container) serve(t *testing.T, argv []string) *server {
	t.Helper()
	s := &server{c: c, logs: &lockedBuffer{}, done: make(chan struct{})}
	cmd := exec.Command("docker", append([]string{"exec", c.name}, argv...)...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	require.NoError(t, cmd.Start())
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends the server SIGTERM (as systemctl stop does) and waits for it.
func (s *server) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
		return
	default:
	}
	out, err := s.c.run("start-stop-daemon", "--stop", "--exec", "/usr/bin/stackhub", "--retry", "TERM/40/KILL/5")
	assert.NoError(t, err, "stop the server: %s", out)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		t.Errorf("the server did not stop")
	}
	t.Logf("server log:\n%s", s.logs.String())
}

// apiClient speaks to the server with a token.
type apiClient struct{ url, token string }

func (a apiClient) send(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), method, a.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func (a apiClient) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return a.send(t, http.MethodGet, path, "")
}

// waitHealthy waits for /healthz to answer 200, failing at once when the
// server exits.
func (a apiClient) waitHealthy(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("the server exited (%v):\n%s", s.err, s.logs.String())
		default:
		}
		resp, err := http.Get(a.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer 200 in 30 s (%v):\n%s", err, s.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRunning waits for the app's seed status "1" (every service healthy).
func (a apiClient) waitRunning(t *testing.T, app string, within time.Duration) {
	t.Helper()
	var last string
	ok := assert.Eventually(t, func() bool {
		_, body := a.get(t, "/getAppInfo?appName="+app)
		last = body
		var r struct {
			Data struct {
				Status string `json:"status"`
			} `json:"data"`
		}
		return json.Unmarshal([]byte(body), &r) == nil && r.Data.Status == "1"
	}, within, time.Second)
	require.True(t, ok, "%s not running after %s: %s", app, within, last)
}

// startTimes returns when each of the app's containers started, by name.
func startTimes(t *testing.T, app string) map[string]string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label="+naming.LabelApp+"="+app, "--format", "{{.Names}}").Output()
	require.NoError(t, err)
	times := map[string]string{}
	for _, name := range strings.Fields(string(out)) {
		st, err := exec.Command("docker", "inspect", "--format", "{{.State.Running}} {{.State.StartedAt}}", name).Output()
		require.NoError(t, err)
		times[name] = strings.TrimSpace(string(st))
	}
	return times
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
