package web

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

var demoApp = orchestrator.App{Name: "demo", Version: "0.1.0", Title: "Demo", Actions: []string{"start"},
	Ports:        []orchestrator.PortParam{{Name: "port", Min: 9001, Max: 9999}},
	Requirements: orchestrator.Requirements{CPU: "1", Memory: "256Mi"}}

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, s string) (orchestrator.Token, error) {
	switch s {
	case "shk_good":
		return orchestrator.Token{Scope: orchestrator.ScopeAdmin}, nil
	case "shk_read":
		return orchestrator.Token{Scope: orchestrator.ScopeRead}, nil
	case "shk_operator":
		return orchestrator.Token{Scope: orchestrator.ScopeOperator}, nil
	}
	return orchestrator.Token{}, orchestrator.Errorf(orchestrator.EUNAUTHORIZED, "invalid token")
}
func (fakeAuth) Create(_ context.Context, name string, scope orchestrator.TokenScope) (string, orchestrator.Token, error) {
	return "shk_new", orchestrator.Token{ID: "t9", Name: name, Scope: scope, Hash: "hash-must-not-show"}, nil
}
func (fakeAuth) List(context.Context) ([]orchestrator.Token, error) {
	return []orchestrator.Token{{ID: "t1", Name: "cli", Scope: "admin", Hash: "hash-must-not-show"}}, nil
}
func (fakeAuth) Revoke(context.Context, string) error { return nil }

func do(t *testing.T, s *Server, method, target, body string, hdr map[string]string) (int, envelope) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer shk_good")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	var env envelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), rec.Body.String())
	return rec.Code, env
}

func TestInstallAppGetAndPost(t *testing.T) {
	var got []orchestrator.InstallRequest
	s := &Server{Auth: fakeAuth{}, Lifecycle: fakeLifecycle{install: func(r orchestrator.InstallRequest) (orchestrator.Installation, error) {
		got = append(got, r)
		return orchestrator.Installation{Name: "demo", State: orchestrator.StateInstalling,
			Ports: []orchestrator.PortBinding{{Param: "port", Port: 9001}, {Param: "db_port", Port: 3307}}}, nil
	}}}
	for _, tc := range []struct{ method, target, body string }{
		{http.MethodPost, "/installApp", `{"appName":"demo"}`},
		{http.MethodGet, "/installApp?appName=demo", ""},
	} {
		code, env := do(t, s, tc.method, tc.target, tc.body, nil)
		assert.Equal(t, http.StatusAccepted, code)
		assert.Equal(t, "1", env.Code)
		assert.Equal(t, "demo开始安装", env.Message)
		data := env.Data.(map[string]any)
		assert.Equal(t, "websoft9-demo", data["containerName"])
		assert.Equal(t, float64(9001), data["port"])
		assert.Equal(t, float64(3307), data["db_port"])
		assert.Equal(t, "0", data["status"])
	}
	assert.Equal(t, []orchestrator.InstallRequest{{App: "demo"}, {App: "demo"}}, got)
	code, _ := do(t, s, http.MethodGet, "/installApp?appName=demo&force=1", "", nil)
	assert.Equal(t, http.StatusAccepted, code)
	assert.True(t, got[2].Force)
}

func TestUninstallPurgeForms(t *testing.T) {
	var purges []bool
	s := &Server{Auth: fakeAuth{}, Lifecycle: fakeLifecycle{uninstall: func(r orchestrator.UninstallRequest) (orchestrator.UninstallResult, error) {
		purges = append(purges, r.Purge)
		return orchestrator.UninstallResult{Installation: orchestrator.Installation{Name: r.Name}}, nil
	}}}
	for _, target := range []string{"/uninstallApp?appName=x&purge=1", "/uninstallApp?appName=x&purge=true", "/uninstallApp?appName=x&purge=0", "/uninstallApp?appName=x"} {
		code, env := do(t, s, http.MethodGet, target, "", map[string]string{"Accept-Language": "en-US"})
		require.Equal(t, http.StatusOK, code, env.Message)
		assert.Equal(t, "x uninstalled", env.Message)
	}
	code, _ := do(t, s, http.MethodPost, "/uninstallApp", `{"appName":"x","purge":true}`, nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []bool{true, true, false, false, true}, purges)

	code, env := do(t, s, http.MethodGet, "/uninstallApp?appName=x&purge=yes", "", nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "参数错误: purge must be a boolean (true/false; 1/0 in a query)", env.Message)
}

func TestErrorStatuses(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{orchestrator.EINVALID, 400}, {orchestrator.ENOTFOUND, 404}, {orchestrator.ECONFLICT, 409}, {orchestrator.EPRECONDITION, 412},
		{orchestrator.EUNAVAILABLE, 503}, {orchestrator.EINTERNAL, 500},
	}
	for _, tc := range tests {
		s := &Server{Auth: fakeAuth{}, Apps: fakeApps{info: func(string) (orchestrator.Installation, error) {
			return orchestrator.Installation{}, orchestrator.Errorf(tc.code, "because")
		}}}
		status, env := do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", map[string]string{"Accept-Language": "en"})
		assert.Equal(t, tc.status, status, tc.code)
		assert.Equal(t, "0", env.Code)
		assert.Equal(t, "because", env.Message)
	}
	// A plain error never leaks its text.
	s := &Server{Auth: fakeAuth{}, Apps: fakeApps{info: func(string) (orchestrator.Installation, error) {
		return orchestrator.Installation{}, context.DeadlineExceeded
	}}}
	status, env := do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", map[string]string{"Accept-Language": "en"})
	assert.Equal(t, 500, status)
	assert.Equal(t, "internal error", env.Message)
}

func TestAuthOnEveryRouteButHealthz(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	for _, path := range []string{"/installApp", "/uninstallApp", "/getAppInfo"} {
		for _, auth := range []string{"", "Bearer", "Bearer shk_forged", "Basic c2hrX2dvb2Q=", "shk_good"} {
			req := httptest.NewRequest(http.MethodGet, path+"?appName=x", nil)
			req.RemoteAddr = "127.0.0.1:4242" // loopback earns nothing
			req.Header.Set("X-Forwarded-For", "127.0.0.1")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s with %q", path, auth)
		}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestBodyLimit(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	big := `{"appName":"` + strings.Repeat("a", 2<<20) + `"}`
	code, env := do(t, s, http.MethodPost, "/installApp", big, nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, "0", env.Code)
}

func TestAPIv1Jobs(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/apps/demo/actions/stop", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, "/api/v1/jobs/j2", rec.Header().Get("Location"))
	assert.Contains(t, rec.Body.String(), `"action":"stop"`)

	req = httptest.NewRequest(http.MethodPost, "/api/v1/apps/demo/actions/nope", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{"error":"invalid","message":"app demo has no action \"nope\""}`, rec.Body.String(), "plain JSON errors under /api/v1")

	req = httptest.NewRequest(http.MethodGet, "/api/v1/jobs/j9", nil)
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestAPIv1Runs(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	get := func(target, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := get("/api/v1/apps/demo/runs", "shk_read")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var jobs []wire.Job
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &jobs))
	require.Len(t, jobs, 2, "the default limit (50) holds both")
	assert.Equal(t, "r2", jobs[0].ID)
	assert.Equal(t, "demo", jobs[0].App)
	assert.Nil(t, jobs[0].Finished, "a running job has no finish time")
	assert.NotNil(t, jobs[1].Finished)

	rec = get("/api/v1/apps/demo/runs?limit=1", "shk_read")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &jobs))
	assert.Len(t, jobs, 1)

	for _, bad := range []string{"x", "1.5", "1e3"} {
		rec = get("/api/v1/apps/demo/runs?limit="+bad, "shk_read")
		assert.Equal(t, http.StatusBadRequest, rec.Code, bad)
		assert.Contains(t, rec.Body.String(), "limit must be a whole number", bad)
	}
	rec = get("/api/v1/apps/demo/runs?limit=501", "shk_read")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, http.StatusUnauthorized, get("/api/v1/apps/demo/runs", "shk_bad").Code)
}

func TestListAndCatalogEndpoints(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	en := map[string]string{"Accept-Language": "en"}

	code, env := do(t, s, http.MethodGet, "/getAllAppInfo", "", en)
	require.Equal(t, http.StatusOK, code)
	list := env.Data.([]any)
	require.Len(t, list, 2)
	assert.Equal(t, "1", list[0].(map[string]any)["status"])
	assert.Equal(t, "2", list[1].(map[string]any)["status"])
	assert.Equal(t, "boom", list[1].(map[string]any)["info"])

	code, env = do(t, s, http.MethodPost, "/getAllAppInfo", `{"appName":"x"}`, en)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, `unknown field "appName" (accepted: none)`, env.Message)

	code, env = do(t, s, http.MethodPost, "/uninstallAllApp", `{"purge":true}`, en)
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "0", env.Code)
	assert.Equal(t, "1 apps could not be uninstalled", env.Message)
	results := env.Data.([]any)
	assert.Equal(t, "1", results[0].(map[string]any)["code"])
	assert.Contains(t, results[1].(map[string]any)["message"], "websoft9-b (running, port 9002)", "says what still runs and where")

	code, env = do(t, s, http.MethodGet, "/appList", "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "应用列表查询成功", env.Message)
	app := env.Data.([]any)[0].(map[string]any)
	assert.Equal(t, "demo", app["appName"])
	assert.Equal(t, []any{map[string]any{"name": "port", "min": float64(9001), "max": float64(9999)}}, app["ports"])
	assert.Equal(t, "256Mi", app["requirements"].(map[string]any)["memory"])

	code, _ = do(t, s, http.MethodGet, "/appDetail?appName=demo", "", nil)
	assert.Equal(t, http.StatusOK, code)
	code, env = do(t, s, http.MethodGet, "/appDetail?appName=nope", "", en)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "nope is not in the catalog", env.Message)
	code, _ = do(t, s, http.MethodGet, "/appDetail", "", en)
	assert.Equal(t, http.StatusBadRequest, code)
}

func TestSearchServer(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	code, env := do(t, s, http.MethodGet, "/searchServer", "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "服务器状态信息查询成功", env.Message)
	d := env.Data.(map[string]any)
	assert.Equal(t, "12.3%", d["cpu"])
	assert.Equal(t, "95.0%", d["memory"])
	assert.Equal(t, "13.0%", d["hdd"])
	assert.Equal(t, float64(2), d["risk"], "memory over 90% and a failed app")
	assert.Len(t, d["info"], 2)
	assert.Equal(t, float64(3600), d["uptime"])
	assert.Equal(t, map[string]any{"running": float64(2), "failed": float64(1)}, d["apps"])
}

func TestReadTokenCannotMutate(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Apps: fakeApps{
		info: func(string) (orchestrator.Installation, error) { return orchestrator.Installation{Name: "x"}, nil },
	}}
	read := map[string]string{"Authorization": "Bearer shk_read", "Accept-Language": "en"}
	for _, tc := range []struct{ method, target, body string }{
		{http.MethodGet, "/installApp?appName=demo", ""},
		{http.MethodPost, "/uninstallApp", `{"appName":"demo"}`},
		{http.MethodGet, "/uninstallAllApp", ""},
		{http.MethodPost, "/api/v1/apps/demo/upgrade", ""},
		{http.MethodPost, "/api/v1/apps/demo/actions/stop", ""},
		{http.MethodPost, "/api/v1/tokens", `{"name":"x","scope":"admin"}`},
		{http.MethodDelete, "/api/v1/tokens/t1", ""},
	} {
		code, env := do(t, s, tc.method, tc.target, tc.body, read)
		assert.Equal(t, http.StatusForbidden, code, "%s %s", tc.method, tc.target)
		assert.Contains(t, env.Message, "a viewer token cannot do this")
	}
	code, _ := do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", read)
	assert.Equal(t, http.StatusOK, code, "reads are fine")
}

func TestTokenRoutes(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	for _, tc := range []struct {
		method, target, body string
		status               int
		has, hasNot          string
	}{
		{http.MethodGet, "/api/v1/tokens", "", 200, `"name":"cli"`, "hash-must-not-show"},
		{http.MethodPost, "/api/v1/tokens", `{"name":"ci","scope":"read"}`, 201, `"token":"shk_new"`, "hash-must-not-show"},
		{http.MethodPost, "/api/v1/tokens", `{"name":"ci","scope":"read","admin":true}`, 400, "unknown field", ""},
	} {
		req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer shk_good")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		assert.Equal(t, tc.status, rec.Code, tc.target)
		assert.Contains(t, rec.Body.String(), tc.has)
		if tc.hasNot != "" {
			assert.NotContains(t, rec.Body.String(), tc.hasNot)
		}
	}
}

func TestObservedStatus(t *testing.T) {
	inst := orchestrator.Installation{Name: "x", State: orchestrator.StateRunning, Containers: []string{"websoft9-x", "websoft9-x-db"},
		ObservedKnown: true, Observed: []orchestrator.Container{{Name: "websoft9-x", State: "running"}}}
	s := &Server{Auth: fakeAuth{}, Apps: fakeApps{info: func(string) (orchestrator.Installation, error) { return inst, nil }}}
	_, env := do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", nil)
	d := env.Data.(map[string]any)
	assert.Equal(t, "0", d["status"])
	assert.Equal(t, "stopped", d["state"])
	assert.Equal(t, "not running: websoft9-x-db (missing)", d["info"])

	inst.Observed = append(inst.Observed, orchestrator.Container{Name: "websoft9-x-db", State: "running"})
	_, env = do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", nil)
	assert.Equal(t, "1", env.Data.(map[string]any)["status"])

	inst.ObservedKnown = false
	inst.Observed = nil
	_, env = do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", nil)
	assert.Equal(t, "1", env.Data.(map[string]any)["status"], "nothing observed: the record stands")

	// On a Swarm node the manager marks down: unreachable, and the node
	// says its state.
	inst.Node = orchestrator.Placement{NodeID: "n3", Hostname: "three", Addr: "10.0.0.3"}
	inst.NodeState = "down"
	_, env = do(t, s, http.MethodGet, "/getAppInfo?appName=x", "", nil)
	d = env.Data.(map[string]any)
	assert.Equal(t, "0", d["status"])
	assert.Equal(t, "unreachable", d["state"])
	assert.Equal(t, "node three is down: the app cannot be reached", d["info"])
	assert.Equal(t, "down", d["node"].(map[string]any)["state"])
}

func TestAPIv1AppsAndCatalog(t *testing.T) {
	var installs []orchestrator.InstallRequest
	var purges []bool
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{fakeLifecycle: fakeLifecycle{
		install: func(r orchestrator.InstallRequest) (orchestrator.Installation, error) {
			installs = append(installs, r)
			return orchestrator.Installation{Name: r.Name, State: orchestrator.StateInstalling, LastRunID: "r1"}, nil
		},
		uninstall: func(r orchestrator.UninstallRequest) (orchestrator.UninstallResult, error) {
			purges = append(purges, r.Purge)
			return orchestrator.UninstallResult{Installation: orchestrator.Installation{Name: r.Name}}, nil
		},
	}}}
	call := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer shk_good")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := call(http.MethodPost, "/api/v1/apps", `{"app":"demo","name":"blog2"}`)
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, "/api/v1/jobs/r1", rec.Header().Get("Location"))
	assert.Equal(t, []orchestrator.InstallRequest{{App: "demo", Name: "blog2"}}, installs)
	assert.Equal(t, http.StatusBadRequest, call(http.MethodPost, "/api/v1/apps", `{"name":"x"}`).Code)
	assert.Equal(t, http.StatusBadRequest, call(http.MethodPost, "/api/v1/apps", `{"app":"demo","port":1}`).Code)

	// An uninstall is a job, answered as an install is.
	rec = call(http.MethodDelete, "/api/v1/apps/blog2?purge=true", "")
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, "/api/v1/jobs/u1", rec.Header().Get("Location"))
	var accepted struct {
		App wire.App `json:"app"`
		Job string   `json:"job"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &accepted))
	assert.Equal(t, "/api/v1/jobs/u1", accepted.Job)
	assert.Equal(t, "blog2", accepted.App.AppName)
	assert.Equal(t, "uninstalling", accepted.App.State)
	assert.Equal(t, "uninstall", accepted.App.Active)
	assert.Equal(t, http.StatusAccepted, call(http.MethodDelete, "/api/v1/apps/blog2", "").Code)
	assert.Equal(t, http.StatusBadRequest, call(http.MethodDelete, "/api/v1/apps/blog2?purge=maybe", "").Code)
	assert.Equal(t, []bool{true, false}, purges)

	rec = call(http.MethodGet, "/api/v1/apps", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"appName":"a"`)
	rec = call(http.MethodGet, "/api/v1/catalog", "")
	assert.Contains(t, rec.Body.String(), `"appName":"demo"`)
	assert.Equal(t, http.StatusNotFound, call(http.MethodGet, "/api/v1/catalog/nope", "").Code)
}

func callAuthed(t *testing.T, s *Server, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestLogsEndpoint(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	rec := callAuthed(t, s, http.MethodGet, "/api/v1/apps/demo/logs?tail=5&follow=1")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "line of demo tail=5 follow=true\n", rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	rec = callAuthed(t, s, http.MethodGet, "/api/v1/apps/nope/logs")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, rec.Body.String(), `"error":"not_found"`)
	rec = callAuthed(t, s, http.MethodGet, "/api/v1/apps/demo/logs?tail=x")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestJobEventsSSE(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	rec := callAuthed(t, s, http.MethodGet, "/api/v1/jobs/j1/events")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/event-stream", rec.Header().Get("Content-Type"))
	body := rec.Body.String()
	assert.Contains(t, body, "id: 1\nevent: stage\ndata: {\"seq\":1,")
	assert.Contains(t, body, `"stage":"pulling","image":"a:1","current":5,"total":10`)
	assert.Contains(t, body, "event: log\ndata: ")
	assert.True(t, strings.HasSuffix(body, "\n\n"))

	req := httptest.NewRequest(http.MethodGet, "/api/v1/jobs/j1/events", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	req.Header.Set("Last-Event-ID", "3")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	assert.NotContains(t, rec.Body.String(), "id: 3\n", "resumes after Last-Event-ID")
	assert.Contains(t, rec.Body.String(), "id: 4\n")

	rec = callAuthed(t, s, http.MethodGet, "/api/v1/jobs/nope/events")
	assert.Equal(t, http.StatusNotFound, rec.Code)

	assert.Equal(t, http.StatusAccepted, callAuthed(t, s, http.MethodDelete, "/api/v1/jobs/j1").Code)
	assert.Equal(t, http.StatusConflict, callAuthed(t, s, http.MethodDelete, "/api/v1/jobs/done1").Code)
}

func TestDebugRuntimeOnlyWhenEnabled(t *testing.T) {
	get := func(s *Server, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/debug/runtime", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	assert.Equal(t, http.StatusNotFound, get(&Server{Auth: fakeAuth{}, Engine: fakeEngine{}}, "shk_good").Code)
	dbFile := filepath.Join(t.TempDir(), "stackhub.db")
	f, err := os.Create(dbFile)
	require.NoError(t, err)
	defer f.Close()
	on := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, DebugRuntime: true, DatabaseFile: dbFile}
	assert.Equal(t, http.StatusUnauthorized, get(on, "shk_bad").Code)
	// Two unix sockets of this process (the handler counts its own).
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	require.NoError(t, err)
	defer ln.Close()
	conn, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	rec := get(on, "shk_good")
	require.Equal(t, http.StatusOK, rec.Code)
	var rt wire.Runtime
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rt))
	assert.Positive(t, rt.Goroutines)
	assert.GreaterOrEqual(t, rt.UnixSockets, 2, "the listener and the dialled end")
	assert.Equal(t, 1, rt.DatabaseFiles, "the one descriptor open on the database file")
	assert.Greater(t, rt.OpenFDs, rt.UnixSockets, "Linux has /proc; the test binary has files open too")
	assert.Greater(t, rt.RSSBytes, int64(1<<20))

	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/debug/cpu?seconds=61", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	on.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/api/v1/debug/goroutines", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	on.Handler().ServeHTTP(rec, req)
	assert.Contains(t, rec.Body.String(), "goroutine profile: total")
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/api/v1/debug/heap", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	on.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, []byte{0x1f, 0x8b}, rec.Body.Bytes()[:2], "a gzipped pprof profile")
}

// stampApps counts List calls and answers ListStamp from stamp.
type stampApps struct {
	fakeApps
	stamp     *orchestrator.ListStamp
	cacheable bool
	lists     *int
	port      *int
}

func (e stampApps) ListStamp() (orchestrator.ListStamp, bool) { return *e.stamp, e.cacheable }
func (e stampApps) List(context.Context) ([]orchestrator.Installation, error) {
	*e.lists++
	return []orchestrator.Installation{{Name: "a", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: *e.port}}}}, nil
}

func TestGetAllAppInfoCachedByStamp(t *testing.T) {
	for _, cacheable := range []bool{true, false} {
		stamp, lists, port := orchestrator.ListStamp{Store: 1}, 0, 9001
		s := &Server{Auth: fakeAuth{}, Apps: stampApps{stamp: &stamp, cacheable: cacheable, lists: &lists, port: &port}, Catalog: fakeCatalog{}}
		h := s.Handler()
		get := func(lang string) string {
			req := httptest.NewRequest(http.MethodGet, "/getAllAppInfo", nil)
			req.Header.Set("Authorization", "Bearer shk_read")
			req.Header.Set("Accept-Language", lang)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			return rec.Body.String()
		}
		first := get("zh")
		assert.Contains(t, first, `"port":9001`)
		assert.Contains(t, first, "应用信息查询成功")
		port = 9002 // what List would say now; the stamp did not move
		second := get("zh")
		english := get("en")
		assert.Contains(t, english, "apps found", "each language has its own answer")
		if cacheable {
			assert.Equal(t, first, second, "same stamp: the rendered answer")
			assert.Equal(t, 2, lists, "once per language")
		} else {
			assert.Contains(t, second, `"port":9002`, "no stamp: rendered every time")
			assert.Equal(t, 3, lists)
		}
		stamp.Observed++ // a container changed
		assert.Contains(t, get("zh"), `"port":9002`, "cacheable %v: a new stamp renders again", cacheable)

		// GET /api/v1/apps the same way; the catalog is in the stamp.
		lists, port = 0, 9003
		list := func() string {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/apps", nil)
			req.Header.Set("Authorization", "Bearer shk_read")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			return rec.Body.String()
		}
		assert.Contains(t, list(), `"port":9003`)
		port = 9004
		if cacheable {
			assert.Contains(t, list(), `"port":9003`, "same stamp: the rendered list")
			assert.Equal(t, 1, lists)
		} else {
			assert.Contains(t, list(), `"port":9004`)
		}
		stamp.Catalog++ // a bundle was pulled
		assert.Contains(t, list(), `"port":9004`, "cacheable %v: a catalog change renders again", cacheable)
	}
}

// infoApps is stampApps answering Info for app "a" (and ENOTFOUND for any
// other name), counting the calls.
type infoApps struct {
	stampApps
	infos *int
}

func (e infoApps) Info(_ context.Context, name string) (orchestrator.Installation, error) {
	*e.infos++
	if name != "a" {
		return orchestrator.Installation{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "%s is not installed", name)
	}
	return orchestrator.Installation{Name: "a", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: *e.port}}}, nil
}

func TestGetAppInfoCachedByStamp(t *testing.T) {
	for _, cacheable := range []bool{true, false} {
		stamp, lists, infos, port := orchestrator.ListStamp{Store: 1}, 0, 0, 9001
		s := &Server{Auth: fakeAuth{}, Apps: infoApps{stampApps{stamp: &stamp, cacheable: cacheable, lists: &lists, port: &port}, &infos}}
		h := s.Handler()
		get := func(name, lang string) (int, string) {
			req := httptest.NewRequest(http.MethodGet, "/getAppInfo?appName="+name, nil)
			req.Header.Set("Authorization", "Bearer shk_read")
			req.Header.Set("Accept-Language", lang)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}
		code, first := get("a", "zh")
		require.Equal(t, http.StatusOK, code, first)
		assert.Contains(t, first, `"port":9001`)
		assert.Contains(t, first, "a信息查询成功")
		port = 9002 // what Info would say now; the stamp did not move
		_, second := get("a", "zh")
		_, english := get("a", "en")
		assert.Contains(t, english, "a found", "each language has its own answer")
		for range 2 {
			code, missing := get("b", "en")
			assert.Equal(t, http.StatusNotFound, code, missing)
		}
		if cacheable {
			assert.Equal(t, first, second, "same stamp: the rendered answer")
			assert.Equal(t, 4, infos, "once per language, and every time for a name that is not installed")
		} else {
			assert.Contains(t, second, `"port":9002`, "no stamp: rendered every time")
			assert.Equal(t, 5, infos)
		}
		stamp.Store++ // the record changed
		_, third := get("a", "zh")
		assert.Contains(t, third, `"port":9002`, "cacheable %v: a new stamp renders again", cacheable)
	}
}

// TestInstallParametersRefused: values the engine refuses answer 422 with
// each parameter's reason, under /api/v1 (fields) and the seed (data.fields,
// code "0"); the parameters reach the engine typed as sent.
func TestInstallParametersRefused(t *testing.T) {
	var got []map[string]any
	s := &Server{Auth: fakeAuth{}, Lifecycle: fakeLifecycle{install: func(r orchestrator.InstallRequest) (orchestrator.Installation, error) {
		got = append(got, r.Parameters)
		return orchestrator.Installation{}, &orchestrator.Error{Code: orchestrator.EPARAMETERS, Message: "install demo: 1 parameter value(s) refused: mode: must be one of fast, safe",
			Fields: map[string]string{"mode": "must be one of fast, safe"}}
	}}}
	h := s.Handler()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/apps", strings.NewReader(`{"app":"demo","parameters":{"mode":"slow","workers":3}}`))
	req.Header.Set("Authorization", "Bearer shk_good")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	assert.JSONEq(t, `{"error":"parameters","message":"install demo: 1 parameter value(s) refused: mode: must be one of fast, safe","fields":{"mode":"must be one of fast, safe"}}`, rec.Body.String())

	status, env := do(t, s, http.MethodPost, "/installApp", `{"appName":"demo","parameters":{"mode":"slow"}}`, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "0", env.Code)
	assert.Equal(t, map[string]any{"error": "parameters", "fields": map[string]any{"mode": "must be one of fast, safe"}}, env.Data)
	status, env = do(t, s, http.MethodGet, `/installApp?appName=demo&parameters=`+url.QueryEscape(`{"mode":"x"}`), "", nil)
	assert.Equal(t, http.StatusBadRequest, status, "parameters may hold secrets: never in a URL")
	assert.Contains(t, env.Message, "parameters never travels in a URL")
	status, env = do(t, s, http.MethodPost, "/installApp", `{"appName":"demo","parameters":"mode=slow"}`, map[string]string{"Accept-Language": "en"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, env.Message, "parameters must be a JSON object")

	require.Len(t, got, 2)
	assert.Equal(t, "slow", got[0]["mode"])
	assert.EqualValues(t, 3, got[0]["workers"])
}

// countingCatalog is fakeCatalog whose list is version (the title), counting calls.
type countingCatalog struct {
	fakeCatalog
	calls *int
	title *string
}

func (f countingCatalog) Catalog(context.Context) ([]orchestrator.App, error) {
	*f.calls++
	a := demoApp
	a.Title = *f.title
	return []orchestrator.App{a}, nil
}

// The catalog's lists are rendered once per stamp (the catalog's version
// is in it): at 1,000 entries rendering was most of a request.
func TestCatalogListsCachedByStamp(t *testing.T) {
	for _, cacheable := range []bool{true, false} {
		stamp, lists, port, calls, title := orchestrator.ListStamp{Catalog: 1}, 0, 9001, 0, "One"
		s := &Server{Auth: fakeAuth{}, Apps: stampApps{stamp: &stamp, cacheable: cacheable, lists: &lists, port: &port},
			Catalog: countingCatalog{calls: &calls, title: &title}}
		h := s.Handler()
		get := func(path, lang string) string {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer shk_read")
			req.Header.Set("Accept-Language", lang)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			return rec.Body.String()
		}
		for _, path := range []string{"/appList", "/api/v1/catalog"} {
			stamp.Catalog++ // each path from a catalog of its own
			calls, title = 0, "One"
			assert.Contains(t, get(path, "en"), `"title":"One"`)
			title = "Two"
			again := get(path, "en")
			if cacheable {
				assert.Contains(t, again, `"title":"One"`, "%s: same stamp, the rendered list", path)
				assert.Equal(t, 1, calls)
			} else {
				assert.Contains(t, again, `"title":"Two"`, "%s: no stamp, rendered every time", path)
			}
			stamp.Catalog++ // a bundle was added
			assert.Contains(t, get(path, "en"), `"title":"Two"`, "%s: a new stamp renders again", path)
		}
		assert.Contains(t, get("/appList", "zh"), "应用列表查询成功", "each language its own answer")
		assert.Contains(t, get("/appList", "en"), "catalog listed")
		assert.True(t, strings.HasPrefix(get("/api/v1/catalog", "en"), "["), "the API's list, not the seed's")
	}
}

// GET /api/v1/server carries the server's release (the console's Server
// page shows it).
func TestServerShowsTheRelease(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Build: wire.BuildInfo{Version: "v1.2.3", Commit: "0123456789abcdef", GoVersion: "go1.26.8", Platform: "linux/amd64"}}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/server", nil)
	req.Header.Set("Authorization", "Bearer shk_good")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var body struct {
		Stackhub wire.BuildInfo `json:"stackhub"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, s.Build, body.Stackhub)
}
