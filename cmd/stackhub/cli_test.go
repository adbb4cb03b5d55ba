package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodToken = "shk_good-secret"

// fakeAPI is a StackHub server for the CLI's tests: one installed app
// "blog", the catalog app "demo", and a job whose events are scripted.
type fakeAPI struct {
	t *testing.T
	// events are the SSE frames of job j1; hold, when set, is waited on
	// before the last one.
	events []string
	hold   chan struct{}
	// jobStatus and jobMessage are what GET /api/v1/jobs/j1 answers, for
	// the action last started.
	jobStatus, jobMessage string
	action                string
	// jobOutputs is the job's outputs as JSON, "" for none; an uninstall
	// sets them to uninstallOutputs (what a complete one records).
	jobOutputs, uninstallOutputs string

	mu       sync.Mutex
	requests []string
	canceled bool
}

func newFakeAPI(t *testing.T) (*fakeAPI, string) {
	f := &fakeAPI{t: t, jobStatus: JobSucceeded, uninstallOutputs: `{"removedContainers":"websoft9-blog","removedNetworks":"",` +
		`"removedVolumes":"","keptVolumes":"websoft9-blog_data","freedPorts":"9001,3307"}`, events: []string{
		sseFrame(1, "stage", "queued", ""),
		sseFrame(2, "stage", "pulling", `,"image":"web:1","current":1048576,"total":4194304`),
		sseFrame(3, "log", "", `,"line":"websoft9: Container websoft9-blog Started"`),
		sseFrame(4, "stage", "healthy", `,"resource":"Container websoft9-blog"`),
		sseFrame(5, "stage", "done", ""),
	}}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, srv.URL
}

const blogJSON = `{"appName":"blog","app":"demo","version":"0.1.0","containerName":"websoft9-blog","status":"1","state":"running",
	"port":9001,"db_port":3307,"ports":{"port":9001,"db_port":3307},"containers":["websoft9-blog","websoft9-blog-db"],
	"outputs":{"containerName":"websoft9-blog"},"info":"running","runId":"j1"}`

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	apiErr := func(w http.ResponseWriter, status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"message":%q}`, code, msg)
	}
	mux.HandleFunc("GET /api/v1/apps", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "["+blogJSON+"]")
	})
	mux.HandleFunc("GET /api/v1/apps/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "blog" {
			apiErr(w, 404, "not_found", r.PathValue("name")+" is not installed")
			return
		}
		fmt.Fprint(w, blogJSON)
	})
	mux.HandleFunc("POST /api/v1/apps", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		require.NoError(f.t, json.NewDecoder(r.Body).Decode(&body))
		switch {
		case body["app"] != "demo":
			apiErr(w, 404, "not_found", body["app"]+" is not in the catalog")
		case body["name"] == "taken":
			apiErr(w, 409, "conflict", "taken is already installed")
		default:
			f.started("install")
			w.Header().Set("Location", "/api/v1/jobs/j1")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"app":%s,"job":"/api/v1/jobs/j1"}`, blogJSON)
		}
	})
	mux.HandleFunc("DELETE /api/v1/apps/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.record("uninstall purge=" + r.URL.Query().Get("purge"))
		f.started("uninstall")
		f.mu.Lock()
		f.jobOutputs = f.uninstallOutputs
		f.mu.Unlock()
		w.Header().Set("Location", "/api/v1/jobs/j1")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"app":`+strings.Replace(blogJSON, `"state":"running"`, `"state":"uninstalling"`, 1)+`,"job":"/api/v1/jobs/j1"}`)
	})
	mux.HandleFunc("POST /api/v1/apps/{name}/upgrade", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.record("upgrade " + string(b))
		f.started("upgrade")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"id":"j1","app":"blog","action":"upgrade","status":"running"}`)
	})
	mux.HandleFunc("POST /api/v1/apps/{name}/actions/{action}", func(w http.ResponseWriter, r *http.Request) {
		f.started(r.PathValue("action"))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"j1","app":%q,"action":%q,"status":"running"}`, r.PathValue("name"), r.PathValue("action"))
	})
	mux.HandleFunc("GET /api/v1/apps/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		f.record("logs " + r.URL.RawQuery)
		fmt.Fprint(w, "line one\nline two\n")
	})
	mux.HandleFunc("GET /api/v1/jobs/j1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i, ev := range f.events {
			if i == len(f.events)-1 && f.hold != nil {
				select {
				case <-f.hold:
				case <-r.Context().Done():
					return
				}
			}
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("GET /api/v1/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		outputs := ""
		if f.jobOutputs != "" && f.jobStatus != JobCanceled {
			outputs = `,"outputs":` + f.jobOutputs
		}
		fmt.Fprintf(w, `{"id":"j1","app":"blog","action":%q,"status":%q,"message":%q,"created":"2026-01-02T03:04:05Z"%s}`, f.action, f.jobStatus, f.jobMessage, outputs)
	})
	mux.HandleFunc("DELETE /api/v1/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.canceled = true
		f.jobStatus, f.jobMessage = JobCanceled, "canceled on request"
		f.mu.Unlock()
		if f.hold != nil {
			close(f.hold)
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"id":"j1","app":"blog","action":"install","status":"running"}`)
	})
	// The catalog answers a page of one entry, whatever the limit: the
	// CLI follows the pages.
	mux.HandleFunc("GET /api/v1/catalog", func(w http.ResponseWriter, r *http.Request) {
		entries := []string{
			`{"appName":"demo","title":"Demo","version":"0.1.0","description":"a demo","category":"developer","requirements":{"cpu":"1"},"generated":[]}`,
			`{"appName":"wiki","title":"Wiki","version":"2.0.0","description":"pages","category":"cms","requirements":{},"generated":[]}`,
		}
		if c := r.URL.Query().Get("category"); c != "" {
			entries = slices.DeleteFunc(entries, func(e string) bool { return !strings.Contains(e, `"category":"`+c+`"`) })
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		w.Header().Set("X-Total-Count", strconv.Itoa(len(entries)))
		if offset >= len(entries) {
			fmt.Fprint(w, `[]`)
			return
		}
		fmt.Fprint(w, "["+entries[offset]+"]")
	})
	mux.HandleFunc("GET /searchServer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"code":"1","message":"server status","data":{"cpu":"3.0%","memory":"50.0%","hdd":"20.0%","load":[0.1,0.2,0.3],
			"uptime":3600,"docker":"20.10.24","apps":{"running":1},"risk":1,"info":["port 22 open"],
			"risks":[{"code":"ssh","message":"port 22 open","advice":"close it"}],"memoryTotal":1073741824,"memoryUsed":536870912}}`)
	})
	mux.HandleFunc("GET /api/v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"id":"t1","name":"cli","scope":"admin","created":"2026-01-02T03:04:05Z"}]`)
	})
	mux.HandleFunc("POST /api/v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"t2","name":"ci","scope":"read","created":"2026-01-02T03:04:05Z","token":"shk_new"}`)
	})
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "t1" {
			apiErr(w, 404, "not_found", "no token "+r.PathValue("id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/catalog/{name}/permissions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"app":"demo","version":"0.1.0","digest":"sha256:dd","permissions":[{"permission":"cap-add:NET_ADMIN",`+
			`"description":"add the Linux capability NET_ADMIN to a container"}],"grant":null,"missing":["cap-add:NET_ADMIN"]}`)
	})
	mux.HandleFunc("POST /api/v1/catalog/{name}/grants", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.record("grant " + string(b))
		if !strings.Contains(string(b), `"permissions":["cap-add:NET_ADMIN"]`) {
			apiErr(w, 400, "invalid", "grant exactly what demo 0.1.0 declares: cap-add:NET_ADMIN")
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, grantJSON)
	})
	mux.HandleFunc("GET /api/v1/grants", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "["+grantJSON+"]")
	})
	mux.HandleFunc("DELETE /api/v1/grants/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "g1" {
			apiErr(w, 404, "not_found", "no live grant "+r.PathValue("id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r.Method + " " + r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer "+goodToken {
			apiErr(w, 401, "unauthorized", "invalid token")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

const grantJSON = `{"id":"g1","app":"demo","version":"0.1.0","digest":"sha256:dd","permissions":["cap-add:NET_ADMIN"],` +
	`"grantedBy":"token:cli","grantedAt":"2026-01-02T03:04:05Z"}`

func (f *fakeAPI) started(action string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.action = action
}

func (f *fakeAPI) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, s)
}

func (f *fakeAPI) saw(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if r == s {
			return true
		}
	}
	return false
}

// cli runs stackhub with args against url and the good token unless args
// name another; the environment is empty (no config file is read).
func cli(ctx context.Context, url string, args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	full := append([]string{}, args...)
	if url != "" {
		full = append(full, "--url", url)
	}
	if url != "" && !strings.Contains(strings.Join(args, " "), "--token") {
		full = append(full, "--token", goodToken)
	}
	code = run(ctx, full, mapEnv(nil), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLIExitCodes(t *testing.T) {
	_, url := newFakeAPI(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	tests := []struct {
		name string
		url  string
		args []string
		code int
		err  string
	}{
		{"ok", url, []string{"app", "info", "blog"}, exitOK, ""},
		{"not found", url, []string{"app", "info", "nope"}, exitNotFound, "nope is not installed (HTTP 404)"},
		{"not in the catalog", url, []string{"app", "install", "nope"}, exitNotFound, "nope is not in the catalog"},
		{"conflict", url, []string{"app", "install", "demo", "--name", "taken"}, exitConflict, "taken is already installed"},
		{"bad token", url, []string{"app", "list", "--token", "shk_bad"}, exitUnauthorized, "invalid token"},
		{"unreachable", goneURL, []string{"app", "list"}, exitUnavailable, "cannot reach StackHub"},
		{"unknown command", url, []string{"app", "frob"}, exitUsage, `unknown command "frob" for "stackhub app"`},
		{"unknown top command", "", []string{"frob"}, exitUsage, `unknown command "frob"`},
		{"missing argument", url, []string{"app", "info"}, exitUsage, "accepts 1 arg(s)"},
		{"unknown flag", url, []string{"app", "list", "--colour"}, exitUsage, "unknown flag: --colour"},
		{"bad output", url, []string{"app", "list", "-o", "yaml"}, exitUsage, `-o "yaml": want text or json`},
		{"bad tail", url, []string{"app", "logs", "blog", "--tail", "-1"}, exitUsage, "--tail -1"},
		{"bad --set", url, []string{"app", "upgrade", "blog", "--set", "novalue"}, exitUsage, `--set "novalue": want key=value`},
		{"bad --set-json", url, []string{"app", "upgrade", "blog", "--set-json", "n={"}, exitUsage, "not JSON"},
		{"bad url", "ftp://x", []string{"app", "list"}, exitUsage, "want http(s)://host[:port]"},
		{"token not found", url, []string{"token", "revoke", "t9"}, exitNotFound, "no token t9"},
		{"remote create with data dir", url, []string{"token", "create", "--remote", "--data-dir", "/tmp/x"}, exitUsage, "--data-dir is for a local create"},
		{"bad scope", url, []string{"token", "create", "--remote", "--scope", "root"}, exitUsage, `--scope: role "root" must be viewer, operator or admin`},
		{"bad action", url, []string{"app", "action", "blog", "Back Up"}, exitUsage, `action: app name "Back Up" must match`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t.Context(), tc.url, tc.args...)
			assert.Equal(t, tc.code, code, "stdout %q, stderr %q", stdout, stderr)
			assert.Contains(t, stderr, tc.err)
			assert.NotContains(t, stdout+stderr, goodToken, "the token is never printed")
		})
	}
}

func TestCLIInstallWaitsAndShowsProgress(t *testing.T) {
	f, url := newFakeAPI(t)
	code, stdout, stderr := cli(t.Context(), url, "app", "install", "demo", "--name", "blog")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "install of blog succeeded: running (demo 0.1.0)")
	assert.Regexp(t, `(?m)^\s+port\s+9001$`, stdout)
	assert.Regexp(t, `(?m)^\s+db_port\s+3307$`, stdout)
	assert.Contains(t, stdout, "http://127.0.0.1:9001/")
	// Not a terminal: plain lines on stderr, log lines left out.
	assert.Equal(t, "install blog: queued\n"+
		"install blog: pulling web:1 [#####---------------]  25% 1.0 MiB/4.0 MiB\n"+
		"install blog: healthy Container websoft9-blog\n"+
		"install blog: done\n", stderr)
	assert.True(t, f.saw("GET /api/v1/jobs/j1/events"))
}

func TestCLIInstallJSON(t *testing.T) {
	_, url := newFakeAPI(t)
	code, stdout, stderr := cli(t.Context(), url, "app", "install", "demo", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var res struct {
		App map[string]any `json:"app"`
		Job map[string]any `json:"job"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, "blog", res.App["appName"])
	assert.Equal(t, float64(9001), res.App["port"])
	assert.Equal(t, "j1", res.Job["id"])
	assert.Equal(t, "succeeded", res.Job["status"])
}

func TestCLIFailedJobExits1WithTheReason(t *testing.T) {
	f, url := newFakeAPI(t)
	f.events[len(f.events)-1] = sseFrame(5, "stage", "failed", `,"message":"websoft9-blog exited (1)"`)
	f.jobStatus, f.jobMessage = JobFailed, "websoft9-blog exited (1)"
	code, stdout, stderr := cli(t.Context(), url, "app", "install", "demo", "--name", "blog")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, stdout, "install of blog failed")
	assert.Contains(t, stderr, "last lines of the install log:\n  websoft9: Container websoft9-blog Started")
	assert.Contains(t, stderr, "stackhub: install blog failed: websoft9-blog exited (1)")
}

func TestCLIInterruptCancelsTheJob(t *testing.T) {
	f, url := newFakeAPI(t)
	f.hold = make(chan struct{}) // the final event waits for the cancel
	f.events[len(f.events)-1] = sseFrame(5, "stage", "canceled", `,"message":"canceled on request"`)
	ctx, interrupt := context.WithCancel(t.Context())
	go func() {
		for !f.saw("GET /api/v1/jobs/j1/events") {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		interrupt() // Ctrl-C
	}()
	code, stdout, stderr := cli(ctx, url, "app", "install", "demo", "--name", "blog")
	assert.Equal(t, exitFailed, code)
	f.mu.Lock()
	assert.True(t, f.canceled, "Ctrl-C sends DELETE /api/v1/jobs/j1")
	f.mu.Unlock()
	assert.Contains(t, stderr, "interrupted: asking the server to cancel job j1")
	assert.Contains(t, stderr, "install blog: canceled: canceled on request")
	assert.Contains(t, stdout, "install of blog canceled")
	assert.Contains(t, stderr, "stackhub: install blog canceled: canceled on request")
}

func TestCLINoWait(t *testing.T) {
	f, url := newFakeAPI(t)
	f.jobStatus = JobRunning
	code, stdout, stderr := cli(t.Context(), url, "app", "install", "demo", "--no-wait")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "install of blog started: job j1")
	assert.False(t, f.saw("GET /api/v1/jobs/j1/events"))
}

func TestCLIReadCommands(t *testing.T) {
	_, url := newFakeAPI(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"app", "list"}, []string{"NAME  APP   VERSION  STATE    PORTS                   INFO", "blog  demo  0.1.0    running  port=9001 db_port=3307"}},
		{[]string{"app", "info", "blog"}, []string{"Name:        blog\n", "URL:         http://127.0.0.1:9001/\n", "Ports:       port=9001 db_port=3307\n",
			"Containers:  websoft9-blog, websoft9-blog-db\n", "Outputs:\n  containerName  websoft9-blog\n"}},
		{[]string{"app", "uninstall", "blog"}, []string{"blog uninstalled", "kept volumes", "freed ports         9001, 3307", "uninstall --purge removes them"}},
		{[]string{"app", "logs", "blog", "--tail", "5"}, []string{"line one\nline two\n"}},
		{[]string{"app", "stop", "blog"}, []string{"stop of blog succeeded"}},
		{[]string{"catalog"}, []string{"demo  0.1.0    Demo   a demo", "wiki  2.0.0    Wiki   pages"}},
		{[]string{"catalog", "--category", "cms"}, []string{"NAME  VERSION  TITLE  DESCRIPTION\nwiki  2.0.0    Wiki   pages\n"}},
		{[]string{"server"}, []string{"CPU:     3.0%\n", "Memory:  50.0% (512 MiB of 1.0 GiB)\n", "Uptime:  1h0m0s\n", "Apps:    running 1\n", "  [ssh] port 22 open\n      close it"}},
		{[]string{"token", "list"}, []string{"t1  cli   admin"}},
		{[]string{"token", "revoke", "t1"}, []string{"token t1 revoked"}},
		{[]string{"token", "create", "--remote", "--name", "ci", "--scope", "read"}, []string{"shk_new\n"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := cli(t.Context(), url, tc.args...)
			require.Equal(t, 0, code, stderr)
			for _, w := range tc.want {
				assert.Contains(t, stdout, w)
			}
		})
	}
}

func TestCLIJSONOutputKeepsTheAPIFieldNames(t *testing.T) {
	_, url := newFakeAPI(t)
	tests := []struct {
		args []string
		keys []string
	}{
		{[]string{"app", "list"}, []string{"appName", "app", "version", "state", "port", "db_port", "ports", "containers", "runId"}},
		{[]string{"app", "info", "blog"}, []string{"appName", "containerName", "status", "outputs"}},
		{[]string{"app", "uninstall", "blog", "--purge"}, []string{"appName", "removedContainers", "keptVolumes", "freedPorts"}},
		{[]string{"catalog"}, []string{"appName", "title", "version", "category", "requirements", "generated"}},
		{[]string{"server"}, []string{"cpu", "memory", "hdd", "risk", "risks", "docker", "memoryTotal"}},
		{[]string{"token", "list"}, []string{"id", "name", "scope", "created"}},
		{[]string{"token", "revoke", "t1"}, []string{"id", "revoked"}},
		{[]string{"token", "create", "--remote"}, []string{"id", "token"}},
		{[]string{"app", "restart", "blog"}, []string{"app", "job"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := cli(t.Context(), url, append(tc.args, "-o", "json")...)
			require.Equal(t, 0, code, stderr)
			var v any
			require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
			if list, ok := v.([]any); ok {
				require.NotEmpty(t, list)
				v = list[0]
			}
			obj, ok := v.(map[string]any)
			require.True(t, ok, "got %T", v)
			for _, k := range tc.keys {
				assert.Contains(t, obj, k)
			}
		})
	}
}

func TestCLILogs(t *testing.T) {
	f, url := newFakeAPI(t)
	code, stdout, stderr := cli(t.Context(), url, "app", "logs", "blog", "--tail", "5", "--container", "db", "-f", "-o", "json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "{\"line\":\"line one\"}\n{\"line\":\"line two\"}\n", stdout)
	assert.True(t, f.saw("logs container=websoft9-blog-db&follow=true&tail=5"), "a service name becomes the container's")
}

func TestCLIUpgradeSendsParameters(t *testing.T) {
	f, url := newFakeAPI(t)
	code, _, stderr := cli(t.Context(), url, "app", "upgrade", "blog", "--set", "message=v2", "--set-json", "replicas=3")
	require.Equal(t, 0, code, stderr)
	assert.True(t, f.saw(`upgrade {"parameters":{"message":"v2","replicas":3}}`))
}

func TestParseParameters(t *testing.T) {
	got, err := parseParameters([]string{"a=1", "b=x=y", "empty="}, []string{"n=3", "on=true", "list=[1,2]"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "1", "b": "x=y", "empty": "", "n": float64(3), "on": true, "list": []any{float64(1), float64(2)}}, got)
	_, err = parseParameters([]string{"a=1"}, []string{"a=2"})
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err))
	assert.Contains(t, err.Error(), `parameter "a" is given twice`)
}

func TestRootHelpListsExitCodes(t *testing.T) {
	var out strings.Builder
	code := run(t.Context(), []string{"--help"}, mapEnv(nil), &out, io.Discard)
	require.Equal(t, 0, code)
	for _, line := range []string{"0  ok", "1  the operation failed", "2  usage error", "3  not found", "4  conflict",
		"5  unauthorized or forbidden", "6  server unreachable or unavailable", "~/.config/stackhub/config.json"} {
		assert.Contains(t, out.String(), line)
	}
}

func TestProgressViewTerminal(t *testing.T) {
	var b strings.Builder
	p := &progressView{w: &b, tty: true, width: func() int { return 80 }, label: "install blog", pulls: map[string]int64{}}
	require.NoError(t, p.Event(JobEvent{Type: "stage", Stage: "pulling", Image: "web:1", Current: 3 << 20, Total: 4 << 20}))
	require.NoError(t, p.Event(JobEvent{Type: "log", Line: "not shown"}))
	p.Note("a note")
	long := "Container websoft9-blog-with-a-name-so-long-that-the-line-does-not-fit"
	require.NoError(t, p.Event(JobEvent{Type: "stage", Stage: "creating", Resource: long, Status: "Created"}))
	p.Close()
	pull := "install blog: pulling web:1 [###############-----]  75% 3.0 MiB/4.0 MiB"
	cut := []rune("install blog: creating " + long)[:78]
	assert.Equal(t, "\r\033[K"+pull+"\r\033[Ka note\n"+pull+"\r\033[K"+string(cut)+"…"+"\r\033[K", b.String())
	assert.Equal(t, []string{"not shown"}, p.Tail())
}

// TestProgressViewWidths renders a job's progress on terminals 40, 80 and
// 200 columns wide: each line is redrawn in place (\r, erase) and never
// reaches the last column, wide characters counting two, so nothing wraps
// into junk lines.
func TestProgressViewWidths(t *testing.T) {
	events := []JobEvent{
		{Type: "stage", Stage: "pulling", Image: "docker.io/library/nextcloud:31.0.4-apache", Current: 7 << 20, Total: 300 << 20},
		{Type: "stage", Stage: "creating", Resource: "Container websoft9-nextcloud-db", Status: "Created"},
		{Type: "stage", Stage: "starting", Resource: "Container websoft9-博客-数据库-容器-名字很长", Status: "Started", Message: "等待健康检查 (health check)"},
		{Type: "stage", Stage: "waiting", Message: "line one\nline two\ttabbed"},
	}
	for _, cols := range []int{40, 80, 200} {
		t.Run(fmt.Sprint(cols), func(t *testing.T) {
			var b strings.Builder
			p := &progressView{w: &b, tty: true, width: func() int { return cols }, label: "install nextcloud", pulls: map[string]int64{}}
			for _, ev := range events {
				require.NoError(t, p.Event(ev))
			}
			out := b.String()
			assert.NotContains(t, out, "\n", "a progress line is redrawn, never a new line")
			draws := strings.Split(out, "\r\033[K")[1:]
			require.Len(t, draws, len(events))
			for i, d := range draws {
				assert.Less(t, runewidth.StringWidth(d), cols, "draw %d fits %d columns: %q", i, cols, d)
				assert.True(t, strings.HasPrefix(d, "install nextcloud: "), d)
			}
			if cols == 200 {
				assert.Equal(t, "install nextcloud: pulling docker.io/library/nextcloud:31.0.4-apache [--------------------]   2% 7.0 MiB/300 MiB", draws[0], "a wide terminal shows the whole line")
			} else {
				assert.True(t, strings.HasSuffix(draws[2], "…"), "cut lines end in an ellipsis: %q", draws[2])
			}
		})
	}
}

func TestProgressViewPlainThrottlesPulls(t *testing.T) {
	var b strings.Builder
	p := newProgressView(&b, "upgrade blog")
	for cur := int64(0); cur <= 100; cur += 5 {
		require.NoError(t, p.Event(JobEvent{Type: "stage", Stage: "pulling", Image: "a:1", Current: cur << 20, Total: 100 << 20}))
	}
	require.NoError(t, p.Event(JobEvent{Type: "stage", Stage: "pulling", Image: "b:1", Current: 512}))
	require.NoError(t, p.Event(JobEvent{Type: "stage", Stage: "pulled", Image: "a:1"}))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	assert.Equal(t, []string{
		"upgrade blog: pulling a:1 [--------------------]   0% 0 B/100 MiB",
		"upgrade blog: pulling a:1 [#####---------------]  25% 25 MiB/100 MiB",
		"upgrade blog: pulling a:1 [##########----------]  50% 50 MiB/100 MiB",
		"upgrade blog: pulling a:1 [###############-----]  75% 75 MiB/100 MiB",
		"upgrade blog: pulling a:1 [####################] 100% 100 MiB/100 MiB",
		"upgrade blog: pulling b:1 512 B",
		"upgrade blog: pulled a:1",
	}, lines)
}

// app uninstall follows the uninstall job like install does, then says
// what went; an uninstall that left the app in place fails.
func TestCLIUninstallFollowsTheJob(t *testing.T) {
	tests := []struct {
		name     string
		status   string
		noOutput bool
		code     int
		stdout   string
		stderr   string
	}{
		{name: "removed", status: JobSucceeded, code: 0, stdout: "blog uninstalled"},
		{name: "bundle failed, objects removed", status: JobFailed, code: 0, stdout: "blog uninstalled",
			stderr: "the bundle's own uninstall failed (exit 1); StackHub removed the app's objects directly"},
		{name: "not removed", status: JobFailed, noOutput: true, code: exitFailed, stdout: "uninstall of blog failed",
			stderr: "uninstall blog failed: exit 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, url := newFakeAPI(t)
			f.jobStatus, f.jobMessage = tc.status, "exit 1"
			if tc.noOutput {
				f.uninstallOutputs = ""
			}
			code, stdout, stderr := cli(t.Context(), url, "app", "uninstall", "blog", "--purge")
			assert.Equal(t, tc.code, code, "stdout %q, stderr %q", stdout, stderr)
			assert.True(t, f.saw("uninstall purge=true"))
			assert.True(t, f.saw("GET /api/v1/jobs/j1/events"), "the job is followed")
			assert.Contains(t, stdout, tc.stdout)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}

// TestCLIInstallGrants: --grant records the grant of the catalog's bundle
// (its digest read first) before the install; a grant the server refuses
// stops the install with exit 2.
func TestCLIInstallGrants(t *testing.T) {
	f, url := newFakeAPI(t)
	code, _, stderr := cli(t.Context(), url, "app", "install", "demo", "--grant", "cap-add:NET_ADMIN")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "granted cap-add:NET_ADMIN to demo 0.1.0 (bundle sha256:dd, grant g1)")
	assert.True(t, f.saw(`grant {"digest":"sha256:dd","permissions":["cap-add:NET_ADMIN"]}`))
	f.mu.Lock()
	reqs := strings.Join(f.requests, "\n")
	f.mu.Unlock()
	assert.Regexp(t, `(?s)GET /api/v1/catalog/demo/permissions.*POST /api/v1/catalog/demo/grants.*POST /api/v1/apps`, reqs, "granted, then installed")

	f, url = newFakeAPI(t)
	code, _, stderr = cli(t.Context(), url, "app", "install", "demo", "--grant", "privileged")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "grant demo: grant exactly what demo 0.1.0 declares: cap-add:NET_ADMIN (HTTP 400)")
	assert.False(t, f.saw("POST /api/v1/apps"), "no install without the grant")

	f, url = newFakeAPI(t)
	code, _, stderr = cli(t.Context(), url, "app", "upgrade", "blog", "--grant", "cap-add:NET_ADMIN")
	require.Equal(t, 0, code, stderr)
	assert.True(t, f.saw("POST /api/v1/catalog/demo/grants"), "an upgrade grants the installation's app")
}

func TestCLIGrants(t *testing.T) {
	_, url := newFakeAPI(t)
	code, stdout, stderr := cli(t.Context(), url, "grants", "list")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^ID\s+APP\s+VERSION\s+PERMISSIONS\s+GRANTED BY\s+GRANTED AT\s+DIGEST$`, stdout)
	assert.Regexp(t, `(?m)^g1\s+demo\s+0\.1\.0\s+cap-add:NET_ADMIN\s+token:cli\s+.*sha256:dd$`, stdout)

	code, stdout, stderr = cli(t.Context(), url, "grants", "show", "demo")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "demo 0.1.0 (bundle sha256:dd) asks to:")
	assert.Regexp(t, `(?m)^\s+cap-add:NET_ADMIN\s+add the Linux capability NET_ADMIN to a container$`, stdout)
	assert.Contains(t, stdout, "not granted: stackhub app install demo --grant cap-add:NET_ADMIN")

	code, stdout, stderr = cli(t.Context(), url, "grants", "list", "-o", "json")
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, "["+grantJSON+"]", stdout)

	code, stdout, stderr = cli(t.Context(), url, "grants", "revoke", "g1")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "grant g1 revoked\n", stdout)
	code, _, stderr = cli(t.Context(), url, "grants", "revoke", "g9")
	assert.Equal(t, exitNotFound, code)
	assert.Contains(t, stderr, "no live grant g9")
}

// A backup's progress reads as a bar, the files and the time left; a
// restore's volume event as before.
func TestDescribeCopyProgress(t *testing.T) {
	got := describeEvent(JobEvent{Type: "stage", Stage: "backing-up", Current: 256 << 20, Total: 1 << 30, Files: 120, ETASeconds: 95})
	assert.Contains(t, got, "backing-up [")
	assert.Contains(t, got, " 25%")
	assert.Contains(t, got, "120 files")
	assert.Contains(t, got, "about 1m35s left")
	got = describeEvent(JobEvent{Type: "stage", Stage: "restoring", Resource: "websoft9-blog_files", Current: 0, Total: 2})
	assert.Equal(t, "restoring websoft9-blog_files", got)
}
