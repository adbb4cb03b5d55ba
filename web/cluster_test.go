package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// fakeCluster is a ClusterService: not a swarm until Init, then one
// manager "host" (node self1); it answers the domain's codes for unknown
// nodes and refusals, and records the requests it was given.
type fakeCluster struct {
	mu      sync.Mutex
	manager bool
	addr    string
	drained bool
	changes []orchestrator.NodeChange
}

const fakeJoinToken = "SWMTKN-1-aaaa-bbbb"

func (f *fakeCluster) Status(context.Context) (orchestrator.ClusterStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.manager {
		return orchestrator.ClusterStatus{Swarm: orchestrator.SwarmInactive}, nil
	}
	return orchestrator.ClusterStatus{Swarm: orchestrator.SwarmManager, NodeID: "self1", NodeAddr: "10.0.0.1", Nodes: 1, Managers: 1}, nil
}

func (f *fakeCluster) Init(ctx context.Context, req orchestrator.ClusterInitRequest) (orchestrator.ClusterStatus, error) {
	if err := orchestrator.ValidateAdvertiseAddr(req.AdvertiseAddr); err != nil {
		return orchestrator.ClusterStatus{}, err
	}
	f.mu.Lock()
	if f.manager {
		f.mu.Unlock()
		return orchestrator.ClusterStatus{}, orchestrator.Errorf(orchestrator.ECONFLICT, "the engine is already the manager of a swarm")
	}
	f.manager, f.addr = true, req.AdvertiseAddr
	f.mu.Unlock()
	return f.Status(ctx)
}

func (f *fakeCluster) notSwarm() error {
	if !f.manager {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "not a swarm: this server runs apps on one host")
	}
	return nil
}

func (f *fakeCluster) JoinCommand(context.Context) (orchestrator.JoinCommand, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.notSwarm(); err != nil {
		return orchestrator.JoinCommand{}, err
	}
	return orchestrator.JoinCommand{Token: fakeJoinToken, Addr: "10.0.0.1:2377"}, nil
}

func (f *fakeCluster) self() orchestrator.Node {
	n := orchestrator.Node{ID: "self1", Hostname: "host", Role: orchestrator.NodeManager, Availability: orchestrator.NodeActive,
		State: orchestrator.NodeReady, Leader: true, Addr: "10.0.0.1:2377", CPUs: 2, MemoryBytes: 4 << 30, Self: true,
		Disk: &orchestrator.DiskUsage{Total: 100, Used: 40}}
	if f.drained {
		n.Availability = orchestrator.NodeDrain
	}
	return n
}

func (f *fakeCluster) Nodes(context.Context) ([]orchestrator.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.notSwarm(); err != nil {
		return nil, err
	}
	return []orchestrator.Node{f.self()}, nil
}

func (f *fakeCluster) change(req orchestrator.NodeChange, drain bool, remove bool) (orchestrator.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.notSwarm(); err != nil {
		return orchestrator.Node{}, err
	}
	f.changes = append(f.changes, req)
	if req.Node != "host" && req.Node != "self1" {
		return orchestrator.Node{}, orchestrator.Errorf(orchestrator.ENOTFOUND, "no node %q in the swarm", req.Node)
	}
	if remove {
		return orchestrator.Node{}, orchestrator.Errorf(orchestrator.ECONFLICT, "node host is the one StackHub runs on")
	}
	if drain && !req.Force {
		return orchestrator.Node{}, orchestrator.Errorf(orchestrator.ECONFLICT, "node host is the swarm's last active node")
	}
	f.drained = drain
	return f.self(), nil
}

func (f *fakeCluster) Drain(_ context.Context, req orchestrator.NodeChange) (orchestrator.Node, error) {
	return f.change(req, true, false)
}

func (f *fakeCluster) Activate(_ context.Context, req orchestrator.NodeChange) (orchestrator.Node, error) {
	return f.change(req, false, false)
}

func (f *fakeCluster) Remove(_ context.Context, req orchestrator.NodeChange) (orchestrator.Node, error) {
	return f.change(req, false, true)
}

func TestClusterRoutes(t *testing.T) {
	cl := &fakeCluster{}
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}, Cluster: cl}
	h := s.Handler()
	call := func(method, target, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	errorOf := func(rec *httptest.ResponseRecorder) wire.Error {
		var e wire.Error
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
		return e
	}

	// Never initialised: inactive, and node routes say "not a swarm".
	rec := call(http.MethodGet, "/api/v1/cluster", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"swarm":"inactive","nodes":0,"managers":0}`, rec.Body.String())
	rec = call(http.MethodGet, "/api/v1/nodes", "shk_read", "")
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Equal(t, orchestrator.ECONFLICT, errorOf(rec).Error)
	assert.Contains(t, errorOf(rec).Message, "not a swarm")
	assert.Equal(t, http.StatusConflict, call(http.MethodGet, "/api/v1/cluster/join", "shk_good", "").Code)

	// Roles: viewers read, admins change and read the join command.
	for _, tc := range []struct{ method, target, body string }{
		{http.MethodPost, "/api/v1/cluster/init", "{}"},
		{http.MethodGet, "/api/v1/cluster/join", ""},
		{http.MethodPost, "/api/v1/nodes/host/drain", ""},
		{http.MethodPost, "/api/v1/nodes/host/activate", ""},
		{http.MethodDelete, "/api/v1/nodes/host", ""},
	} {
		for _, tok := range []string{"shk_read", "shk_operator"} {
			assert.Equal(t, http.StatusForbidden, call(tc.method, tc.target, tok, tc.body).Code, "%s %s with %s", tc.method, tc.target, tok)
		}
	}
	assert.False(t, cl.manager, "a refused init changed nothing")

	// Bad input: 400 with the reason, before any engine is asked.
	for _, body := range []string{`{"advertiseAddr":"example.com"}`, `{"advertiseAddr":"0.0.0.0"}`, `{"advertise":"10.0.0.1"}`, `[`, `{"advertiseAddr":1}`} {
		rec = call(http.MethodPost, "/api/v1/cluster/init", "shk_good", body)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", body, rec.Body.String())
	}
	assert.False(t, cl.manager)

	rec = call(http.MethodPost, "/api/v1/cluster/init", "shk_good", `{"advertiseAddr":"10.0.0.1"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var st wire.Cluster
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	assert.Equal(t, wire.Cluster{Swarm: "manager", NodeID: "self1", NodeAddr: "10.0.0.1", Nodes: 1, Managers: 1}, st)
	assert.Equal(t, "10.0.0.1", cl.addr)
	rec = call(http.MethodPost, "/api/v1/cluster/init", "shk_good", "")
	assert.Equal(t, http.StatusConflict, rec.Code, "already a swarm")

	rec = call(http.MethodGet, "/api/v1/cluster/join", "shk_good", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	var j wire.JoinCommand
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &j))
	assert.Equal(t, "docker swarm join --token "+fakeJoinToken+" 10.0.0.1:2377", j.Command)
	assert.Equal(t, []string{"docker", "swarm", "join", "--token", fakeJoinToken, "10.0.0.1:2377"}, j.Argv)
	assert.Equal(t, fakeJoinToken, j.Token)

	rec = call(http.MethodGet, "/api/v1/nodes", "shk_read", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var nodes []wire.Node
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &nodes))
	require.Len(t, nodes, 1)
	assert.Equal(t, wire.Node{ID: "self1", Hostname: "host", Role: "manager", Leader: true, Availability: "active", State: "ready",
		Addr: "10.0.0.1:2377", CPUs: 2, MemoryBytes: 4 << 30, Labels: map[string]string{}, Self: true,
		Disk: &wire.NodeDisk{Total: 100, Used: 40}}, nodes[0])
	assert.Contains(t, rec.Body.String(), `"labels":{}`, "labels are an object, never null")

	rec = call(http.MethodPost, "/api/v1/nodes/host/drain", "shk_good", "")
	assert.Equal(t, http.StatusConflict, rec.Code, "the last active node")
	rec = call(http.MethodPost, "/api/v1/nodes/host/drain?force=true", "shk_good", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"availability":"drain"`)
	rec = call(http.MethodPost, "/api/v1/nodes/self1/activate", "shk_good", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"availability":"active"`)
	assert.Equal(t, http.StatusBadRequest, call(http.MethodPost, "/api/v1/nodes/host/drain?force=maybe", "shk_good", "").Code)
	assert.Equal(t, http.StatusBadRequest, call(http.MethodDelete, "/api/v1/nodes/host?force=yes", "shk_good", "").Code)
	assert.Equal(t, http.StatusNotFound, call(http.MethodPost, "/api/v1/nodes/nope/drain", "shk_good", "").Code)
	assert.Equal(t, http.StatusNotFound, call(http.MethodDelete, "/api/v1/nodes/nope", "shk_good", "").Code)
	rec = call(http.MethodDelete, "/api/v1/nodes/host?force=1", "shk_good", "")
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Contains(t, errorOf(rec).Message, "StackHub runs on")
	last := cl.changes[len(cl.changes)-1]
	assert.Equal(t, orchestrator.NodeChange{Node: "host", Force: true}, last)
}

// TestNoClusterServer: a server built without a cluster is never a swarm.
func TestNoClusterServer(t *testing.T) {
	s := &Server{Auth: fakeAuth{}, Engine: fakeEngine{}}
	rec := callAuthed(t, s, http.MethodGet, "/api/v1/cluster")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"swarm":"inactive"`)
	assert.Equal(t, http.StatusConflict, callAuthed(t, s, http.MethodGet, "/api/v1/nodes").Code)
	assert.Equal(t, http.StatusServiceUnavailable, callAuthed(t, s, http.MethodPost, "/api/v1/cluster/init").Code)
}
