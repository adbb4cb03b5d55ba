//go:build integration

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
	"github.com/websoft9/stackhub/porter-mixin/naming"
	"github.com/websoft9/stackhub/web/metrics"
	"github.com/websoft9/stackhub/web/wire"
)

// server is a stackhub serve started in-process on a random loopback port.
type server struct {
	url   string
	token string
	// logs holds everything the server logged.
	logs    *logBuffer
	dataDir string
}

// logBuffer keeps the server's log for assertions, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs `stackhub serve` as the binary would, over a fresh
// data dir and the test catalog, and creates a token with `token create`.
func startServer(t *testing.T) server {
	t.Helper()
	return startServerIn(t, t.TempDir())
}

// startServerIn is startServer over an existing data dir.
func startServerIn(t *testing.T, dataDir string) server {
	t.Helper()
	return startServerArgs(t, dataDir, "--bundles", "../../bundles/testdata")
}

// startServerArgs starts serve on dataDir with more flags (the built-in
// catalog unless they give --bundles).
func startServerArgs(t *testing.T, dataDir string, args ...string) server {
	t.Helper()
	s, _ := startStoppable(t, dataDir, args...)
	return s
}

// startStoppable is startServerArgs that also returns a function stopping
// the server (as SIGTERM would), so a test may start another on dataDir.
func startStoppable(t *testing.T, dataDir string, args ...string) (server, func()) {
	t.Helper()
	var tokOut, tokErr strings.Builder
	code := run(t.Context(), []string{"token", "create", "--data-dir", dataDir}, os.Getenv, &tokOut, &tokErr)
	require.Equal(t, 0, code, tokErr.String())
	lines := strings.Split(strings.TrimSpace(tokOut.String()), "\n")
	token := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(token, "shk_"), "token create prints the token last: %q", tokOut.String())

	bin := dockertest.RuntimesDir(t)
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		code := run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
			"--runtimes-dir", bin}, args...), os.Getenv, pw, io.MultiWriter(testLog{t}, logs))
		pw.CloseWithError(fmt.Errorf("serve exited with %d", code))
	})
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan(), "serve printed nothing")
	addr, ok := strings.CutPrefix(sc.Text(), "StackHub listening on ")
	require.True(t, ok, "got %q", sc.Text())
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return server{url: addr, token: token, logs: logs, dataDir: dataDir}, stop
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type reply struct {
	status  int
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// client is the typed API client (web/client) every helper here speaks
// through, with the server's token.
func (s server) client() *Client { return NewClient(s.url, s.token) }

// do sends one request through the client and returns the answer whatever
// its status; header values that are empty remove that header.
func (s server) do(t *testing.T, method, path string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	// Not t.Context(): cleanups call this after it ended.
	resp, err := s.client().Do(context.Background(), method, path, body, h)
	require.NoError(t, err)
	return resp
}

// scrapeMetrics GETs /metrics with the server's token and parses it.
func (s server) scrapeMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp := s.do(t, http.MethodGet, "/metrics", nil, nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// metricValue is the value of family name's sample whose labels include
// labels (a counter's or a gauge's), 0 when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
next:
	for _, m := range fams[name].GetMetric() {
		for k, v := range labels {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v }) {
				continue next
			}
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return 0
}

// call POSTs body (or GETs with a query when body is a url.Values) to a
// seed endpoint, malformed bodies included, and decodes the envelope.
func (s server) call(t *testing.T, path string, body any, header map[string]string) reply {
	t.Helper()
	var resp *http.Response
	switch b := body.(type) {
	case url.Values:
		resp = s.do(t, http.MethodGet, path+"?"+b.Encode(), nil, header)
	case string:
		resp = s.do(t, http.MethodPost, path, strings.NewReader(b), header)
	default:
		t.Fatalf("call %s: body is %T, want url.Values or string", path, body)
	}
	defer resp.Body.Close()
	var r reply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	r.status = resp.StatusCode
	return r
}

// allAppStatus returns the seed status and info of app name in
// /getAllAppInfo.
func (s server) allAppStatus(t *testing.T, name string) (status, info string) {
	t.Helper()
	var r struct {
		Code string           `json:"code"`
		Data []map[string]any `json:"data"`
	}
	s.getJSON(t, "/getAllAppInfo", &r)
	require.Equal(t, "1", r.Code)
	app := appNamed(t, r.Data, name, "/getAllAppInfo")
	status, _ = app["status"].(string)
	info, _ = app["info"].(string)
	return status, info
}

// listedApp returns app name as GET /api/v1/apps lists it.
func (s server) listedApp(t *testing.T, name string) map[string]any {
	t.Helper()
	var list []map[string]any
	s.getJSON(t, "/api/v1/apps", &list)
	return appNamed(t, list, name, "/api/v1/apps")
}

// getJSON GETs path with the token and decodes its 200 answer into out.
func (s server) getJSON(t *testing.T, path string, out any) {
	t.Helper()
	resp := s.do(t, http.MethodGet, path, nil, nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

// appNamed returns the app called name in list (from where).
func appNamed(t *testing.T, list []map[string]any, name, where string) map[string]any {
	t.Helper()
	for _, app := range list {
		if app["appName"] == name {
			return app
		}
	}
	t.Fatalf("%s is not in %s: %v", name, where, list)
	return nil
}

// waitStatus polls getAppInfo until status is want or 90 s pass.
func (s server) waitStatus(t *testing.T, name, want string) reply {
	t.Helper()
	return s.waitStatusWithin(t, name, want, 90*time.Second)
}

// waitStatusWithin polls getAppInfo until status is want; a failed
// install or limit passing ends the test.
func (s server) waitStatusWithin(t *testing.T, name, want string, limit time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
		require.Equal(t, "1", r.Code, r.Message)
		if r.Data["status"] == want {
			return r
		}
		require.NotEqual(t, "2", r.Data["status"], "install failed: %v", r.Data["info"])
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %v (%v) after %s, want %s", name, r.Data["status"], r.Data["info"], limit, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assertAPIStatus checks that err is the server's refusal with status.
func assertAPIStatus(t *testing.T, err error, status int) {
	t.Helper()
	var apiErr *APIError
	if assert.ErrorAs(t, err, &apiErr) {
		assert.Equal(t, status, apiErr.Status, apiErr.Message)
	}
}

func port(t *testing.T, v any) int {
	t.Helper()
	f, ok := v.(float64)
	require.True(t, ok, "got %v (%T), want a number", v, v)
	return int(f)
}

func TestHTTPInstallUninstall(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "itest-http"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	r := s.call(t, "/searchServer", url.Values{}, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	assert.Equal(t, "服务器状态信息查询成功", r.Message)
	assert.NotEmpty(t, r.Data["docker"], "the engine's version")
	assert.Regexp(t, `^\d+\.\d%$`, r.Data["hdd"])

	start := time.Now()
	r = s.call(t, "/installApp", `{"appName":"demo","name":"itest-http"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	require.Equal(t, "1", r.Code)
	assert.Equal(t, "websoft9-itest-http", r.Data["containerName"])
	webPort, dbPort := port(t, r.Data["port"]), port(t, r.Data["db_port"])
	assert.NotEqual(t, webPort, dbPort)
	assert.Equal(t, "0", r.Data["status"])

	r = s.waitStatus(t, name, "1")
	t.Logf("install: request → status 1 in %s", time.Since(start).Round(10*time.Millisecond))
	assert.Equal(t, webPort, port(t, r.Data["port"]))

	// The operations side: ready, and the metrics show the install and the
	// running app (a token is needed; none gets 401).
	code, body := httpGet(t, s.url+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ready"}`, body)
	code, _ = httpGet(t, s.url+"/metrics")
	assert.Equal(t, http.StatusUnauthorized, code, "/metrics needs a token by default")
	fams := s.scrapeMetrics(t)
	assert.GreaterOrEqual(t, metricValue(fams, metrics.JobsTotal, map[string]string{"action": "install", "outcome": "succeeded"}), 1.0)
	assert.GreaterOrEqual(t, metricValue(fams, metrics.Apps, map[string]string{"status": "running"}), 1.0)
	assert.Contains(t, fams, metrics.JobDuration)
	assert.Contains(t, fams, metrics.BuildInfoName)
	assert.GreaterOrEqual(t, metricValue(fams, metrics.PortsReserved, nil), 2.0, "the app's port and db_port")
	assert.Positive(t, metricValue(fams, metrics.PortPoolSize, nil))

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", webPort))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	for _, n := range []string{"websoft9-itest-http", "websoft9-itest-http-db"} {
		insp, err := c.ContainerInspect(t.Context(), n, client.ContainerInspectOptions{})
		require.NoError(t, err, n)
		assert.True(t, insp.Container.State.Running, n)
	}

	// Logs of the main container, over /api/v1.
	rc, err := s.client().AppLogs(t.Context(), "itest-http", LogsOptions{Tail: 20})
	require.NoError(t, err)
	logs, _ := io.ReadAll(rc)
	rc.Close()
	assert.Contains(t, string(logs), "stackhub-testapp: http listening on :8080")

	// A container stopped by hand shows at once; started again, it is back.
	// /getAllAppInfo, which answers from its last rendering while nothing
	// changed, shows both changes too.
	status, _ := s.allAppStatus(t, name)
	assert.Equal(t, "1", status, "getAllAppInfo, rendered and kept while running")
	_, err = c.ContainerStop(t.Context(), "websoft9-itest-http-db", client.ContainerStopOptions{})
	require.NoError(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
		if r.Data["status"] == "0" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, "0", r.Data["status"], "docker stop by hand is observed")
	assert.Contains(t, r.Data["info"], "websoft9-itest-http-db (exited)")
	status, info := s.allAppStatus(t, name)
	assert.Equal(t, "0", status, "getAllAppInfo sees the stop")
	assert.Contains(t, info, "websoft9-itest-http-db (exited)")
	_, err = c.ContainerStart(t.Context(), "websoft9-itest-http-db", client.ContainerStartOptions{})
	require.NoError(t, err)
	s.waitStatus(t, name, "1")
	status, _ = s.allAppStatus(t, name)
	assert.Equal(t, "1", status, "getAllAppInfo sees the start")

	// Installing it again is a conflict.
	r = s.call(t, "/installApp", `{"appName":"demo","name":"itest-http"}`, nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "0", r.Code)
	assert.Contains(t, r.Message, "已经存在")

	start = time.Now()
	r = s.call(t, "/uninstallApp", url.Values{"appName": {name}}, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	t.Logf("uninstall: %s", time.Since(start).Round(10*time.Millisecond))
	assert.Equal(t, "itest-http卸载成功", r.Message)
	assert.ElementsMatch(t, []any{"websoft9-itest-http", "websoft9-itest-http-db"}, r.Data["removedContainers"])
	assert.ElementsMatch(t, []any{"websoft9-itest-http_data", "websoft9-itest-http_dbdata"}, r.Data["keptVolumes"], "volumes are kept without purge")
	assert.ElementsMatch(t, []any{float64(webPort), float64(dbPort)}, r.Data["freedPorts"])
	objs, err := dockerhost.New(c).AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Len(t, objs.Volumes, 2)

	r = s.call(t, "/getAppInfo", url.Values{"appName": {name}}, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "itest-http is not installed", r.Message)

	// Reinstall reattaches the kept volumes; uninstall with purge removes them.
	r = s.call(t, "/installApp", `{"appName":"demo","name":"itest-http"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	s.waitStatus(t, name, "1")
	r = s.call(t, "/uninstallApp", `{"appName":"itest-http","purge":true}`, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
	assert.ElementsMatch(t, []any{"websoft9-itest-http_data", "websoft9-itest-http_dbdata"}, r.Data["removedVolumes"])
	objs, err = dockerhost.New(c).AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Empty(t, objs.Volumes)
}

func TestHTTPFailedInstallLeavesNothing(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "failing"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	for attempt := 1; attempt <= 2; attempt++ { // a retry after a failure is accepted
		r := s.call(t, "/installApp", `{"appName":"failing"}`, nil)
		require.Equal(t, http.StatusAccepted, r.status, "attempt %d: %s", attempt, r.Message)
		deadline := time.Now().Add(90 * time.Second)
		for r.Data["status"] != "2" {
			require.True(t, time.Now().Before(deadline), "still %v", r.Data["status"])
			time.Sleep(200 * time.Millisecond)
			r = s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
			require.NotEqual(t, "1", r.Data["status"])
		}
		assert.Contains(t, r.Data["info"], "websoft9-failing exited (1)", "the reason is the bundle's")
		assert.Empty(t, r.Data["ports"], "ports are released")
		objs, err := host.AppObjects(t.Context(), name)
		require.NoError(t, err)
		assert.Empty(t, objs.Containers)
		assert.Empty(t, objs.Networks)
		assert.Empty(t, objs.Volumes, "a failed install removes the volumes its run created")
		left, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "sh.websoft9.invocation="+name)})
		require.NoError(t, err)
		assert.Empty(t, left.Items, "no invocation container is left")
	}
	r := s.call(t, "/uninstallApp", url.Values{"appName": {name}}, nil)
	assert.Equal(t, http.StatusOK, r.status, r.Message)
}

func TestHTTPBadInput(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	// A container that is not ours holds the name websoft9-itest-squat.
	_, err := c.ContainerCreate(t.Context(), client.ContainerCreateOptions{Name: "websoft9-itest-squat",
		Config: &container.Config{Image: "stackhub-test/web:dev"}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = c.ContainerRemove(context.WithoutCancel(t.Context()), "websoft9-itest-squat", client.ContainerRemoveOptions{Force: true})
	})

	en := map[string]string{"Accept-Language": "en"}
	tests := []struct {
		name    string
		path    string
		body    any
		header  map[string]string
		status  int
		message string
	}{
		{"bad name", "/installApp", `{"appName":"Bad_Name"}`, en, 400, "must match ^[a-z0-9][a-z0-9-]{0,62}$"},
		{"hostile name", "/installApp", url.Values{"appName": {"x;rm -rf /"}}, en, 400, "must match"},
		{"missing name", "/installApp", `{}`, en, 400, "appName or reference is required"},
		{"unknown key", "/installApp", `{"appName":"demo","colour":"blue"}`, en, 400, `unknown field "colour"`},
		{"not json", "/installApp", `appName=demo`, en, 400, "must be a JSON object"},
		{"wrong type", "/uninstallApp", `{"appName":"demo","purge":"yes"}`, en, 400, "purge must be a boolean"},
		{"unknown app", "/installApp", `{"appName":"nope"}`, en, 404, "nope is not in the catalog"},
		{"container exists", "/installApp", `{"appName":"demo","name":"itest-squat"}`, en, 409, "container websoft9-itest-squat is on the host"},
		{"no token", "/installApp", `{"appName":"demo"}`, map[string]string{"Authorization": ""}, 401, "未授权"},
		{"bad token", "/getAppInfo", url.Values{"appName": {"demo"}}, map[string]string{"Authorization": "Bearer shk_forged"}, 401, "invalid token"},
		{"forwarded header earns nothing", "/getAppInfo", url.Values{"appName": {"demo"}}, map[string]string{"Authorization": "", "X-Forwarded-For": "127.0.0.1"}, 401, ""},
		{"unknown route", "/nope", `{}`, en, 404, ""},
		{"dot dot", "/installApp", url.Values{"appName": {"../etc"}}, en, 400, "must match"},
		{"unicode", "/installApp", `{"appName":"démo"}`, en, 400, "must match"},
		{"nul byte", "/getAppInfo", url.Values{"appName": {"a\x00b"}}, en, 400, "must match"},
		{"too long", "/installApp", `{"appName":"` + strings.Repeat("a", 64) + `"}`, en, 400, "must match"},
		{"html", "/installApp", `{"appName":"<script>alert(1)</script>"}`, en, 400, "must match"},
		{"number name", "/installApp", `{"appName":42}`, en, 400, "appName must be a string"},
		{"null name", "/installApp", `{"appName":null}`, en, 400, "appName must be a string"},
		{"array body", "/installApp", `["demo"]`, en, 400, "must be a JSON object"},
		{"two objects", "/installApp", `{"appName":"demo"}{"appName":"x"}`, en, 400, "one JSON object"},
		{"repeated key in query", "/getAppInfo", url.Values{"appName": {"a", "b"}}, en, 400, "more than once"},
		{"big body", "/installApp", `{"appName":"` + strings.Repeat("a", 1100000) + `"}`, en, 413, ""},
		{"instance name with shell", "/installApp", `{"appName":"demo","name":"x$(reboot)"}`, en, 400, "must match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, tc.path, tc.body, tc.header)
			assert.Equal(t, tc.status, r.status, r.Message)
			assert.Equal(t, "0", r.Code)
			assert.Contains(t, r.Message, tc.message)
		})
	}
	// Nothing was reserved by the refused installs.
	r := s.call(t, "/getAppInfo", url.Values{"appName": {"itest-squat"}}, en)
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestHTTPDockerDown(t *testing.T) {
	dockertest.RequireDocker(t)
	// The server's Docker client follows DOCKER_HOST: point it at a socket
	// nobody serves, as when dockerd is stopped.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	s := startServer(t)
	r := s.call(t, "/installApp", `{"appName":"demo","name":"itest-down"}`, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "0", r.Code)
	assert.Contains(t, r.Message, "the Docker engine is not running", "what to do on this host")
	assert.NotContains(t, r.Message, "make docker-up")
	r = s.call(t, "/getAppInfo", url.Values{"appName": {"itest-down"}}, nil)
	assert.Equal(t, http.StatusNotFound, r.status, "nothing was reserved")
	resp := s.do(t, http.MethodGet, "/readyz", nil, nil)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "not ready while start-up recovery cannot run")
}

// api calls /api/v1 with the server's token and decodes the JSON answer.
func (s server) api(t *testing.T, method, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := s.do(t, method, path, rd, nil)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out, resp.Header
}

// runJob starts an app job and waits for it to end; it returns the job.
func (s server) runJob(t *testing.T, path, body string) map[string]any {
	t.Helper()
	status, job, hdr := s.api(t, http.MethodPost, path, body)
	require.Equal(t, http.StatusAccepted, status, "%v", job)
	loc := hdr.Get("Location")
	require.Equal(t, "/api/v1/jobs/"+job["id"].(string), loc)
	deadline := time.Now().Add(90 * time.Second)
	for job["status"] == "running" {
		require.True(t, time.Now().Before(deadline), "job %s still running", loc)
		time.Sleep(200 * time.Millisecond)
		status, job, _ = s.api(t, http.MethodGet, loc, "")
		require.Equal(t, http.StatusOK, status)
	}
	return job
}

// uninstallJob sends DELETE /api/v1/apps/{name}?purge=true; when it is
// accepted (202, the same answer as an install's) it waits for the job. It
// returns the DELETE's status and the finished job, or the refusal.
func (s server) uninstallJob(t *testing.T, name string) (int, map[string]any) {
	t.Helper()
	status, body, hdr := s.api(t, http.MethodDelete, "/api/v1/apps/"+name+"?purge=true", "")
	if status != http.StatusAccepted {
		return status, body
	}
	loc := hdr.Get("Location")
	require.Equal(t, body["job"], loc, "%v", body)
	app, _ := body["app"].(map[string]any)
	require.Equal(t, "uninstalling", app["state"], "%v", body)
	return status, s.waitJob(t, loc, 5*time.Minute)
}

// waitJob polls job loc (/api/v1/jobs/{id}) until it is no longer running.
func (s server) waitJob(t *testing.T, loc string, limit time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		status, job, _ := s.api(t, http.MethodGet, loc, "")
		require.Equal(t, http.StatusOK, status, "%v", job)
		if job["status"] != "running" {
			return job
		}
		require.True(t, time.Now().Before(deadline), "job %s still running after %s", loc, limit)
		time.Sleep(200 * time.Millisecond)
	}
}

// requireUninstall uninstalls name with purge and checks the job removed
// the app: accepted, succeeded, what it removed in its outputs.
func (s server) requireUninstall(t *testing.T, name string) map[string]any {
	t.Helper()
	status, job := s.uninstallJob(t, name)
	require.Equal(t, http.StatusAccepted, status, "%v", job)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	outputs, _ := job["outputs"].(map[string]any)
	require.Contains(t, outputs, "removedContainers", "%v", job)
	return job
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func containerID(t *testing.T, c *client.Client, name string) (id string, running bool, started string) {
	t.Helper()
	insp, err := c.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	require.NoError(t, err, name)
	return insp.Container.ID, insp.Container.State.Running, insp.Container.State.StartedAt
}

func TestHTTPUpgradeAndActions(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "itest-upg"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	r := s.call(t, "/installApp", `{"appName":"demo","name":"itest-upg"}`, nil)
	require.Equal(t, http.StatusAccepted, r.status, r.Message)
	webPort, dbPort := port(t, r.Data["port"]), port(t, r.Data["db_port"])
	s.waitStatus(t, name, "1")
	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	_, created := httpGet(t, base+"/state")
	require.NotEmpty(t, created)
	web1, _, _ := containerID(t, c, "websoft9-itest-upg")
	db1, _, _ := containerID(t, c, "websoft9-itest-upg-db")

	// Upgrade with a new parameter value: web is recreated, db is not, the
	// volume's data and the ports stay.
	start := time.Now()
	job := s.runJob(t, "/api/v1/apps/itest-upg/upgrade", `{"parameters":{"message":"v2"}}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	t.Logf("upgrade: %s", time.Since(start).Round(10*time.Millisecond))
	r = s.waitStatus(t, name, "1")
	assert.Equal(t, webPort, port(t, r.Data["port"]))
	assert.Equal(t, dbPort, port(t, r.Data["db_port"]))
	_, env := httpGet(t, base+"/")
	assert.Contains(t, env, `"APP_MESSAGE":"v2"`)
	_, again := httpGet(t, base+"/state")
	assert.Equal(t, created, again, "the data volume survived the upgrade")
	web2, _, _ := containerID(t, c, "websoft9-itest-upg")
	db2, _, _ := containerID(t, c, "websoft9-itest-upg-db")
	assert.NotEqual(t, web1, web2, "the changed service is recreated")
	assert.Equal(t, db1, db2, "the unchanged service is kept")

	// A second upgrade without parameters keeps the stored value.
	job = s.runJob(t, "/api/v1/apps/itest-upg/upgrade", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	_, env = httpGet(t, base+"/")
	assert.Contains(t, env, `"APP_MESSAGE":"v2"`)

	// What the app page shows and plans: the settings as the last upgrade
	// ran them, and what an edit would change, with nothing run.
	api := s.client()
	st, err := api.AppSettings(t.Context(), name)
	require.NoError(t, err)
	settings := map[string]wire.Setting{}
	for _, v := range st.Settings {
		settings[v.Name] = v
	}
	assert.Equal(t, wire.Setting{Name: "message", Value: "v2", Set: true, Editable: true}, settings["message"])
	assert.Equal(t, wire.Setting{Name: "admin_password", Sensitive: true, Editable: true}, settings["admin_password"], "empty: not set")
	plan, err := api.PlanUpgrade(t.Context(), name, map[string]any{"message": "v3", "admin_password": "plan-secret"})
	require.NoError(t, err)
	assert.Equal(t, []wire.SettingChange{{Name: "message", From: "v2", To: "v3"}, {Name: "admin_password", Sensitive: true, FromDefault: true}}, plan.Changes)
	runs, err := api.AppRuns(t.Context(), name, 50)
	require.NoError(t, err)
	assert.Len(t, runs, 3, "install and two upgrades: the plan ran nothing")
	_, env = httpGet(t, base+"/")
	assert.Contains(t, env, `"APP_MESSAGE":"v2"`, "the plan changed nothing")
	stats, err := api.AppStats(t.Context(), name)
	require.NoError(t, err)
	require.Len(t, stats, 2, "both containers, as Docker samples them: %+v", stats)
	for _, c := range stats {
		assert.Contains(t, []string{"websoft9-itest-upg", "websoft9-itest-upg-db"}, c.Name)
		assert.Positive(t, c.MemoryBytes, c.Name)
		assert.GreaterOrEqual(t, c.MemoryLimit, c.MemoryBytes, c.Name)
		assert.Positive(t, c.PIDs, c.Name)
		assert.GreaterOrEqual(t, c.CPUPercent, 0.0, c.Name)
	}
	web := slices.IndexFunc(stats, func(c wire.ContainerStats) bool { return c.Name == "websoft9-itest-upg" })
	assert.Positive(t, stats[web].NetRxBytes, "the requests above reached the web container")
	// The same from the CLI.
	code, out, errOut := s.stackhub(t, s.token, "app", "upgrade", name, "--plan", "--set", "message=v3")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^message +v2 +v3$`, out)
	code, out, errOut = s.stackhub(t, s.token, "app", "settings", name)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^message +v2 +yes$`, out)
	assert.Regexp(t, `(?m)^admin_password +\(not set\) +yes$`, out)
	code, out, errOut = s.stackhub(t, s.token, "app", "stats", name)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^websoft9-itest-upg-db +\d+\.\d%`, out)

	// Values reach the compose project as values, never pasted into YAML:
	// quotes, colons, ${ }, templates, # and newlines arrive byte for byte.
	for _, nasty := range []string{
		"it's \"quoted\": ${HOME} $$ #not-a-comment",
		"line one\nline two\n  - yaml: [list]\n",
		"${ bundle.parameters.port } {{ installation.name }} '; DROP TABLE x; --",
		"ünïcødé 密码 \t tab \\ backslash `back` &anchor *alias !tag %percent @at |pipe >fold",
	} {
		body, err := json.Marshal(map[string]any{"parameters": map[string]any{"message": nasty, "admin_password": nasty}})
		require.NoError(t, err)
		job = s.runJob(t, "/api/v1/apps/itest-upg/upgrade", string(body))
		require.Equal(t, "succeeded", job["status"], "%q: %v", nasty, job)
		_, env = httpGet(t, base+"/")
		var got struct {
			Env map[string]string `json:"env"`
		}
		require.NoError(t, json.Unmarshal([]byte(env), &got), env)
		assert.Equal(t, nasty, got.Env["APP_MESSAGE"], "byte for byte")
		assert.Equal(t, nasty, got.Env["APP_ADMIN_PASSWORD"], "byte for byte")
	}

	// A port cannot be set on upgrade: refused like any value the bundle's
	// definitions refuse, 422 with the reason beside the parameter.
	status, body, _ := s.api(t, http.MethodPost, "/api/v1/apps/itest-upg/upgrade", `{"parameters":{"port":1,"message":7}}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	fields, _ := body["fields"].(map[string]any)
	assert.Contains(t, fields["port"], "keeps the ports", "%v", body)
	assert.Contains(t, fields["message"], "string", "every refused value at once: %v", body)

	// stop, start, restart.
	job = s.runJob(t, "/api/v1/apps/itest-upg/actions/stop", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	for _, n := range []string{"websoft9-itest-upg", "websoft9-itest-upg-db"} {
		_, running, _ := containerID(t, c, n)
		assert.False(t, running, "%s is stopped", n)
	}
	code, _ = httpGet(t, base+"/healthz")
	assert.NotEqual(t, http.StatusOK, code)

	job = s.runJob(t, "/api/v1/apps/itest-upg/actions/start", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	_, running, started := containerID(t, c, "websoft9-itest-upg")
	assert.True(t, running)
	code, _ = httpGet(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)

	job = s.runJob(t, "/api/v1/apps/itest-upg/actions/restart", "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	_, running, restarted := containerID(t, c, "websoft9-itest-upg")
	assert.True(t, running)
	assert.NotEqual(t, started, restarted, "restart starts the container again")

	status, body, _ = s.api(t, http.MethodPost, "/api/v1/apps/itest-upg/actions/backup", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["message"], `app demo has no action "backup"`)

	r = s.call(t, "/uninstallApp", `{"appName":"itest-upg","purge":true}`, nil)
	require.Equal(t, http.StatusOK, r.status, r.Message)
}

// sseStages reads a job's event stream and returns its stages and log
// lines; onStage may act on each stage as it comes (and stop reading by
// returning false).
func (s server) sseStages(t *testing.T, job string, onStage func(stage string) bool) (stages []string, logs int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	id := strings.TrimPrefix(job, "/api/v1/jobs/")
	stop := errors.New("stop reading")
	_, err := s.client().JobEvents(ctx, id, "", func(ev JobEvent) error {
		if ev.Type == "log" {
			logs++
			return nil
		}
		stages = append(stages, ev.Stage)
		if onStage != nil && !onStage(ev.Stage) {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		require.NoError(t, err)
	}
	return stages, logs
}

func TestHTTPJobEventsAndCancel(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	host := dockerhost.New(c)
	for _, n := range []string{"itest-sse", "itest-cancel"} {
		t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), n, "", true) })
	}

	status, body, hdr := s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"itest-sse"}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	stages, logs := s.sseStages(t, hdr.Get("Location"), nil)
	assert.Equal(t, "queued", stages[0])
	assert.Equal(t, "done", stages[len(stages)-1], "%v", stages)
	for _, want := range []string{"creating", "starting", "healthy"} {
		assert.Contains(t, stages, want)
	}
	assert.Positive(t, logs, "log lines come with the stages")

	// Cancel an install once it creates things: nothing it made is left.
	status, body, hdr = s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"itest-cancel"}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	job := hdr.Get("Location")
	canceled := false
	stages, _ = s.sseStages(t, job, func(stage string) bool {
		if stage == "creating" && !canceled {
			canceled = true
			st, b, _ := s.api(t, http.MethodDelete, job, "")
			assert.Equal(t, http.StatusAccepted, st, "%v", b)
		}
		return true
	})
	require.True(t, canceled, "saw no creating stage: %v", stages)
	assert.Equal(t, "canceled", stages[len(stages)-1], "%v", stages)
	r := s.call(t, "/getAppInfo", url.Values{"appName": {"itest-cancel"}}, nil)
	assert.Equal(t, "2", r.Data["status"])
	assert.Contains(t, r.Data["info"], "canceled")
	assert.Empty(t, r.Data["ports"], "ports are released")
	objs, err := host.AppObjects(t.Context(), "itest-cancel")
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Empty(t, objs.Volumes)
	inv, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "sh.websoft9.invocation=itest-cancel")})
	require.NoError(t, err)
	assert.Empty(t, inv.Items, "no invocation container is left")
	st, b, _ := s.api(t, http.MethodDelete, job, "")
	assert.Equal(t, http.StatusConflict, st, "a finished job cannot be canceled: %v", b)

	// An uninstall is a job too: its events, then what it removed.
	status, body, hdr = s.api(t, http.MethodDelete, "/api/v1/apps/itest-sse?purge=true", "")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	require.Equal(t, body["job"], hdr.Get("Location"))
	stages, _ = s.sseStages(t, hdr.Get("Location"), nil)
	assert.Equal(t, "queued", stages[0])
	assert.Equal(t, "done", stages[len(stages)-1], "%v", stages)
	assert.Contains(t, stages, "removing", "%v", stages)
	done := s.waitJob(t, hdr.Get("Location"), time.Minute)
	outputs, _ := done["outputs"].(map[string]any)
	assert.Contains(t, outputs["removedContainers"], "websoft9-itest-sse", "%v", done)
	status, _, _ = s.api(t, http.MethodGet, "/api/v1/apps/itest-sse", "")
	assert.Equal(t, http.StatusNotFound, status)

	// Cancel an uninstall while it stops the app: it is left failed with its
	// ports, and uninstalls again.
	status, body, _ = s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"itest-sse"}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	s.waitStatus(t, "itest-sse", "1")
	status, body, hdr = s.api(t, http.MethodDelete, "/api/v1/apps/itest-sse", "")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	job = hdr.Get("Location")
	canceled = false
	stages, _ = s.sseStages(t, job, func(stage string) bool {
		if (stage == "stopping" || stage == "removing") && !canceled {
			canceled = true
			st, b, _ := s.api(t, http.MethodDelete, job, "")
			assert.Equal(t, http.StatusAccepted, st, "%v", b)
		}
		return true
	})
	require.True(t, canceled, "saw no stopping stage: %v", stages)
	assert.Equal(t, "canceled", stages[len(stages)-1], "%v", stages)
	r = s.call(t, "/getAppInfo", url.Values{"appName": {"itest-sse"}}, nil)
	assert.Equal(t, "2", r.Data["status"], "%v", r.Data)
	assert.Contains(t, r.Data["info"], "canceled")
	assert.NotEmpty(t, r.Data["ports"], "the ports stay reserved")

	for _, n := range []string{"itest-sse", "itest-cancel"} {
		r := s.call(t, "/uninstallApp", url.Values{"appName": {n}, "purge": {"1"}}, nil)
		assert.Equal(t, http.StatusOK, r.status, r.Message)
	}
	status, _, _ = s.api(t, http.MethodGet, "/api/v1/apps/itest-sse", "")
	assert.Equal(t, http.StatusNotFound, status, "the canceled uninstall's app uninstalls again")
}

func TestHTTPAccounts(t *testing.T) {
	dockertest.RequireDocker(t)
	s := startServer(t)
	code := regexp.MustCompile(`setup_code=(\S+)`).FindStringSubmatch(s.logs.String())
	require.Len(t, code, 2, "the server logs a one-time setup code while no user exists")

	post := func(path, body string, cookie *http.Cookie, csrf string) (*http.Response, map[string]any) {
		t.Helper()
		// A console session: no token, the session cookie and CSRF header.
		h := http.Header{}
		if cookie != nil {
			h.Set("Cookie", cookie.String())
		}
		if csrf != "" {
			h.Set("X-CSRF-Token", csrf)
		}
		resp, err := NewClient(s.url, "").Do(t.Context(), http.MethodPost, path, strings.NewReader(body), h)
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	const canary = "canary-Pw-7d1e9b"
	resp, _ := post("/api/v1/auth/setup", `{"code":"wrong","name":"admin","password":"`+canary+`"}`, nil, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, body := post("/api/v1/auth/setup", `{"code":"`+code[1]+`","name":"admin","password":"`+canary+`"}`, nil, "")
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
	resp, _ = post("/api/v1/auth/setup", `{"code":"`+code[1]+`","name":"mallory","password":"`+canary+`"}`, nil, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the code works once")

	resp, _ = post("/api/v1/auth/login", `{"name":"admin","password":"wrong-password"}`, nil, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, body = post("/api/v1/auth/login", `{"name":"admin","password":"`+canary+`"}`, nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "stackhub_session" {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	csrf, _ := body["csrf"].(string)
	require.NotEmpty(t, csrf)

	resp, _ = post("/api/v1/tokens", `{"name":"from-console","scope":"read"}`, cookie, "")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a cookie without the CSRF token changes nothing")
	resp, body = post("/api/v1/tokens", `{"name":"from-console","scope":"read"}`, cookie, csrf)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)

	// Brute force: the account locks after a few failures, whatever
	// X-Forwarded-For claims.
	for i := range 6 {
		resp, err := NewClient(s.url, "").Do(t.Context(), http.MethodPost, "/api/v1/auth/login",
			strings.NewReader(`{"name":"admin","password":"guess"}`), http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i)}})
		require.NoError(t, err)
		resp.Body.Close()
	}
	resp, body = post("/api/v1/auth/login", `{"name":"admin","password":"`+canary+`"}`, nil, "")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "900", resp.Header.Get("Retry-After"))
	assert.Contains(t, body["message"], "too many failed logins")

	assert.NotContains(t, s.logs.String(), canary, "the password never reaches the log")
}

// TestRecoverAfterCrash leaves the state a crash mid-install leaves (an
// active install run, its reservations, containers and a volume labelled
// with the run) and starts the server on it: the install is marked failed,
// what it created is removed and its ports are freed.
func TestRecoverAfterCrash(t *testing.T) {
	c := dockertest.RequireDocker(t)
	dataDir := t.TempDir()
	const name = "itest-crash"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	db, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "stackhub.db"))
	require.NoError(t, err)
	now := time.Now()
	inst := orchestrator.Installation{Name: name, App: "demo", Version: "0.1.0", State: orchestrator.StateInstalling,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9990}, {Param: "db_port", Port: 3390}}, Containers: []string{"websoft9-" + name},
		Created: now, Updated: now}
	run := orchestrator.Run{ID: "crashrun1", Installation: name, Action: "install", Revision: "crashrev1", Status: orchestrator.RunRunning, Created: now}
	require.NoError(t, db.BeginInstall(t.Context(), inst, run))
	require.NoError(t, db.Close())
	labels := map[string]string{naming.LabelApp: name, naming.LabelRun: "crashrev1"}
	_, err = c.VolumeCreate(t.Context(), client.VolumeCreateOptions{Name: "websoft9-" + name + "_data", Labels: labels})
	require.NoError(t, err)
	_, err = c.ContainerCreate(t.Context(), client.ContainerCreateOptions{Name: "websoft9-" + name,
		Config: &container.Config{Image: "stackhub-test/web:dev", Labels: labels}})
	require.NoError(t, err)

	s := startServerIn(t, dataDir)
	r := s.call(t, "/getAppInfo", url.Values{"appName": {name}}, map[string]string{"Accept-Language": "en"})
	require.Equal(t, http.StatusOK, r.status, r.Message)
	assert.Equal(t, "2", r.Data["status"])
	assert.Contains(t, r.Data["info"], "StackHub restarted during install")
	assert.Empty(t, r.Data["ports"], "the ports are free again")
	objs, err := host.AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Volumes, "the volume the interrupted run created is removed")
	st, job, _ := s.api(t, http.MethodGet, "/api/v1/jobs/crashrun1", "")
	require.Equal(t, http.StatusOK, st)
	assert.Equal(t, "failed", job["status"], "no run is left running")
}

// TestHTTPSecretCanary sets a sensitive parameter to a canary and looks
// for it everywhere StackHub writes: it must reach the app and nothing else.
func TestHTTPSecretCanary(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name, canary = "itest-secret", "canary-Sx-91f2c7"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	status, body, hdr := s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"itest-secret"}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	stages, _ := s.sseStages(t, hdr.Get("Location"), nil)
	require.Equal(t, "done", stages[len(stages)-1])

	status, body, hdr = s.api(t, http.MethodPost, "/api/v1/apps/itest-secret/upgrade", `{"parameters":{"admin_password":"`+canary+`"}}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	job := hdr.Get("Location")
	var seen strings.Builder
	resp := s.do(t, http.MethodGet, job+"/events", nil, nil)
	events, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seen.Write(events)
	require.Contains(t, string(events), `"stage":"done"`, "the upgrade succeeded")

	r := s.call(t, "/getAppInfo", url.Values{"appName": {name}}, nil)
	raw, _ := json.Marshal(r)
	seen.Write(raw)
	_, jobBody, _ := s.api(t, http.MethodGet, job, "")
	raw, _ = json.Marshal(jobBody)
	seen.Write(raw)
	_, env := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port(t, r.Data["port"])))
	assert.Contains(t, env, `"APP_ADMIN_PASSWORD":"`+canary+`"`, "the secret reached the app")

	assert.NotContains(t, seen.String(), canary, "API answers and job events")
	assert.NotContains(t, s.logs.String(), canary, "server log")
	files, err := filepath.Glob(filepath.Join(s.dataDir, "runs", "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NotContains(t, string(b), canary, "run log %s", f)
	}
	dbFiles, err := filepath.Glob(filepath.Join(s.dataDir, "stackhub.db*"))
	require.NoError(t, err)
	require.NotEmpty(t, dbFiles)
	for _, f := range dbFiles {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NotContains(t, string(b), canary, "database file %s holds it in clear", f)
	}

	r = s.call(t, "/uninstallApp", url.Values{"appName": {name}, "purge": {"1"}}, nil)
	assert.Equal(t, http.StatusOK, r.status, r.Message)
}
