package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	readToken     = "shk_read-secret"
	workerToken   = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx"
	managerSuffix = "7p73s1dx5in4tatdymyhg9hu2"
)

// fakeClusterAPI is the cluster part of a StackHub server for the CLI's
// tests: not a swarm until cluster init, then one manager "host". Only
// goodToken may change things; readToken reads.
type fakeClusterAPI struct {
	mu      sync.Mutex
	manager bool
	drained bool
	bodies  []string
}

func newFakeClusterAPI(t *testing.T) (*fakeClusterAPI, string) {
	f := &fakeClusterAPI{}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeClusterAPI) node() string {
	avail := "active"
	if f.drained {
		avail = "drain"
	}
	return fmt.Sprintf(`{"id":"abcdefghijklmnopqrstuvwxy","hostname":"host","role":"manager","leader":true,"availability":%q,"state":"ready",`+
		`"reachability":"reachable","engineVersion":"20.10.24","addr":"10.0.0.1:2377","cpus":2,"memoryBytes":4294967296,"labels":{},`+
		`"self":true,"apps":0,"disk":{"total":107374182400,"used":42949672960}}`, avail)
}

func (f *fakeClusterAPI) handler() http.Handler {
	mux := http.NewServeMux()
	apiErr := func(w http.ResponseWriter, status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"message":%q}`, code, msg)
	}
	// guard answers for the caller: false when it already refused.
	guard := func(w http.ResponseWriter, r *http.Request, admin, swarm bool) bool {
		switch tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); {
		case tok != goodToken && tok != readToken:
			apiErr(w, 401, "unauthorized", "invalid token")
			return false
		case admin && tok != goodToken:
			apiErr(w, 403, "forbidden", "this needs the admin role; you are a viewer")
			return false
		}
		if swarm && !f.manager {
			apiErr(w, 409, "conflict", "not a swarm: this server runs apps on one host; `stackhub cluster init` makes it the manager of a cluster")
			return false
		}
		return true
	}
	status := func() string {
		if !f.manager {
			return `{"swarm":"inactive","nodes":0,"managers":0}`
		}
		return `{"swarm":"manager","nodeId":"abcdefghijklmnopqrstuvwxy","nodeAddr":"10.0.0.1","nodes":1,"managers":1}`
	}
	mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if guard(w, r, false, false) {
			fmt.Fprint(w, status())
		}
	})
	mux.HandleFunc("POST /api/v1/cluster/init", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !guard(w, r, true, false) {
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.bodies = append(f.bodies, string(b))
		var body struct {
			AdvertiseAddr string `json:"advertiseAddr"`
		}
		_ = json.Unmarshal(b, &body)
		switch {
		case body.AdvertiseAddr == "example.com":
			apiErr(w, 400, "invalid", `advertise address "example.com": not an IP address or IP:port`)
		case f.manager:
			apiErr(w, 409, "conflict", "the engine is already the manager of a swarm")
		default:
			f.manager = true
			fmt.Fprint(w, status())
		}
	})
	mux.HandleFunc("GET /api/v1/cluster/join", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if guard(w, r, true, true) {
			fmt.Fprintf(w, `{"command":"docker swarm join --token %[1]s 10.0.0.1:2377","argv":["docker","swarm","join","--token",%[1]q,"10.0.0.1:2377"],"token":%[1]q,"addr":"10.0.0.1:2377"}`, workerToken)
		}
	})
	mux.HandleFunc("GET /api/v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if guard(w, r, false, true) {
			fmt.Fprint(w, "["+f.node()+"]")
		}
	})
	change := func(w http.ResponseWriter, r *http.Request, do func(force bool) (int, string)) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !guard(w, r, true, true) {
			return
		}
		if id := r.PathValue("id"); id != "host" && !strings.HasPrefix("abcdefghijklmnopqrstuvwxy", id) {
			apiErr(w, 404, "not_found", fmt.Sprintf("no node %q in the swarm", id))
			return
		}
		code, msg := do(r.URL.Query().Get("force") == "true")
		if code != 200 {
			apiErr(w, code, "conflict", msg)
			return
		}
		fmt.Fprint(w, f.node())
	}
	mux.HandleFunc("POST /api/v1/nodes/{id}/drain", func(w http.ResponseWriter, r *http.Request) {
		change(w, r, func(force bool) (int, string) {
			if !force {
				return 409, "node host is the swarm's last active node"
			}
			f.drained = true
			return 200, ""
		})
	})
	mux.HandleFunc("POST /api/v1/nodes/{id}/activate", func(w http.ResponseWriter, r *http.Request) {
		change(w, r, func(bool) (int, string) { f.drained = false; return 200, "" })
	})
	mux.HandleFunc("DELETE /api/v1/nodes/{id}", func(w http.ResponseWriter, r *http.Request) {
		change(w, r, func(bool) (int, string) { return 409, "node host is the one StackHub runs on" })
	})
	return mux
}

func TestCLICluster(t *testing.T) {
	f, url := newFakeClusterAPI(t)
	ctx := t.Context()

	// A host that never ran cluster init.
	code, out, _ := cli(ctx, url, "cluster", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "inactive (one host; stackhub cluster init starts a cluster)")
	code, out, _ = cli(ctx, url, "cluster", "status", "-o", "json")
	require.Equal(t, exitOK, code)
	assert.JSONEq(t, `{"swarm":"inactive","nodes":0,"managers":0}`, out)
	for _, args := range [][]string{{"node", "list"}, {"node", "add"}, {"node", "drain", "host"}} {
		code, _, errOut := cli(ctx, url, args...)
		assert.Equal(t, exitConflict, code, "%v", args)
		assert.Contains(t, errOut, "not a swarm", "%v", args)
	}

	code, _, errOut := cli(ctx, url, "cluster", "init", "--advertise-addr", "example.com")
	assert.Equal(t, exitUsage, code, "a 400 is a usage error")
	assert.Contains(t, errOut, "not an IP address")
	code, _, errOut = cli(ctx, url, "cluster", "init", "--token", readToken)
	assert.Equal(t, exitUnauthorized, code)
	assert.Contains(t, errOut, "admin")
	code, _, errOut = cli(ctx, url, "cluster", "init", "extra")
	assert.Equal(t, exitUsage, code, errOut)

	code, out, errOut = cli(ctx, url, "cluster", "init", "--advertise-addr", "10.0.0.1")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "now the manager of a swarm (node abcdefghijklmnopqrstuvwxy, at 10.0.0.1)")
	assert.Contains(t, out, "stackhub node add")
	assert.Contains(t, f.bodies, `{"advertiseAddr":"10.0.0.1"}`)
	code, _, errOut = cli(ctx, url, "cluster", "init")
	assert.Equal(t, exitConflict, code)
	assert.Contains(t, errOut, "already the manager")

	code, out, _ = cli(ctx, url, "cluster", "status")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "manager")
	assert.Contains(t, out, "1 (1 manager)")

	// node add: the command to run, the hint, and never a manager token.
	code, out, _ = cli(ctx, url, "node", "add")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "    docker swarm join --token "+workerToken+" 10.0.0.1:2377\n")
	assert.Contains(t, out, "needs Docker (apt-get install docker.io)")
	assert.NotContains(t, out, managerSuffix)
	code, out, _ = cli(ctx, url, "node", "add", "-o", "json")
	require.Equal(t, exitOK, code)
	var j JoinCommand
	require.NoError(t, json.Unmarshal([]byte(out), &j))
	assert.Equal(t, []string{"docker", "swarm", "join", "--token", workerToken, "10.0.0.1:2377"}, j.Argv)
	code, _, _ = cli(ctx, url, "node", "add", "--token", readToken)
	assert.Equal(t, exitUnauthorized, code, "the join token is admins'")

	code, out, _ = cli(ctx, url, "node", "list", "--token", readToken)
	require.Equal(t, exitOK, code, "viewers list nodes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^ID\s+HOSTNAME\s+ROLE\s+STATE\s+AVAILABILITY\s+CPU\s+MEMORY\s+DISK\s+APPS\s+ADDRESS$`, lines[0])
	assert.Regexp(t, `^abcdefghijkl \*\s+host\s+manager \(leader\)\s+ready\s+active\s+2\s+4\.0 GiB\s+40 GiB/100 GiB\s+0\s+10\.0\.0\.1:2377$`, lines[1])
	code, out, _ = cli(ctx, url, "node", "list", "-o", "json")
	require.Equal(t, exitOK, code)
	var nodes []Node
	require.NoError(t, json.Unmarshal([]byte(out), &nodes))
	require.Len(t, nodes, 1)
	assert.True(t, nodes[0].Self)
	assert.Contains(t, out, `"memoryBytes": 4294967296`, "the API's field names")

	code, _, errOut = cli(ctx, url, "node", "drain", "host")
	assert.Equal(t, exitConflict, code)
	assert.Contains(t, errOut, "last active node")
	code, out, _ = cli(ctx, url, "node", "drain", "host", "--force")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "Node host is drained: no app of StackHub's is placed on it; stackhub node activate host undoes it.")
	code, out, _ = cli(ctx, url, "node", "activate", "abcdef")
	require.Equal(t, exitOK, code)
	assert.Equal(t, "Node host is active.\n", out)
	code, out, _ = cli(ctx, url, "node", "activate", "host", "-o", "json")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, `"availability": "active"`)
	code, _, _ = cli(ctx, url, "node", "drain", "host", "--force", "--token", readToken)
	assert.Equal(t, exitUnauthorized, code)

	code, _, errOut = cli(ctx, url, "node", "remove", "host", "--force")
	assert.Equal(t, exitConflict, code)
	assert.Contains(t, errOut, "StackHub runs on")
	code, _, errOut = cli(ctx, url, "node", "remove", "nope")
	assert.Equal(t, exitNotFound, code)
	assert.Contains(t, errOut, `no node "nope"`)
	code, _, errOut = cli(ctx, url, "node", "remove")
	assert.Equal(t, exitUsage, code, errOut)
	code, _, errOut = cli(ctx, url, "node", "frob")
	assert.Equal(t, exitUsage, code, errOut)
}
