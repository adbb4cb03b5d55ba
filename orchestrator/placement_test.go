package orchestrator_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

const gib = int64(1) << 30

func node(id, host string, memGiB int64, cpus float64) orchestrator.Node {
	return orchestrator.Node{ID: id, Hostname: host, Addr: "10.9.0." + id[len(id)-1:], Role: "worker", State: "ready",
		Availability: "active", MemoryBytes: memGiB * gib, CPUs: cpus}
}

func TestPlaceApp(t *testing.T) {
	small := orchestrator.App{Name: "demo", Requirements: orchestrator.Requirements{Memory: "1Gi", CPU: "1"}}
	big := orchestrator.App{Name: "big", Requirements: orchestrator.Requirements{Memory: "6Gi", CPU: "4"}}
	down := node("n4", "d", 64, 16)
	down.State = "down"
	drained := node("n5", "e", 64, 16)
	drained.Availability = "drain"
	nodes := []orchestrator.Node{node("n1", "a", 4, 2), node("n2", "b", 8, 2), node("n3", "c", 8, 8), down, drained}
	tests := []struct {
		name   string
		req    orchestrator.PlaceRequest
		want   string // node ID
		code   string
		reason string
	}{
		{name: "most free memory, ties by hostname", req: orchestrator.PlaceRequest{App: small}, want: "n2"},
		{name: "free memory counts the apps placed", req: orchestrator.PlaceRequest{App: small,
			Placed: map[string]uint64{"n2": 6 << 30, "n3": 1 << 30}}, want: "n3"},
		{name: "requirements rule nodes out", req: orchestrator.PlaceRequest{App: big}, want: "n3"},
		{name: "no node fits", req: orchestrator.PlaceRequest{App: big, Placed: map[string]uint64{"n3": 4 << 30}},
			code: orchestrator.EPRECONDITION, reason: "c: memory: needs 6.0 GiB, 4.0 GiB free of 8.0 GiB"},
		{name: "force takes the freest ready node", req: orchestrator.PlaceRequest{App: big, Force: true,
			Placed: map[string]uint64{"n3": 4 << 30}}, want: "n2"},
		{name: "down and drained nodes are never picked", req: orchestrator.PlaceRequest{App: orchestrator.App{Name: "x"}}, want: "n2"},
		{name: "named by ID", req: orchestrator.PlaceRequest{App: small, Want: "n1"}, want: "n1"},
		{name: "named by hostname", req: orchestrator.PlaceRequest{App: small, Want: "c"}, want: "n3"},
		{name: "named node lacks memory", req: orchestrator.PlaceRequest{App: big, Want: "a"},
			code: orchestrator.EPRECONDITION, reason: "node a cannot take big: cpu: needs 4 cores, it has 2; memory: needs 6.0 GiB"},
		{name: "named node lacks memory, forced", req: orchestrator.PlaceRequest{App: big, Want: "a", Force: true}, want: "n1"},
		{name: "named node is down", req: orchestrator.PlaceRequest{App: small, Want: "d", Force: true},
			code: orchestrator.EPRECONDITION, reason: "it is down and active"},
		{name: "named node is drained", req: orchestrator.PlaceRequest{App: small, Want: "n5"},
			code: orchestrator.EPRECONDITION, reason: "it is ready and drain"},
		{name: "named node is not in the Swarm", req: orchestrator.PlaceRequest{App: small, Want: "zz"},
			code: orchestrator.EINVALID, reason: `node "zz" is not a node of the Swarm (nodes: a, b, c, d, e)`},
		{name: "bad requirement", req: orchestrator.PlaceRequest{App: orchestrator.App{Name: "x", Requirements: orchestrator.Requirements{Memory: "lots"}}},
			code: orchestrator.EINVALID, reason: "requirements.memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := orchestrator.PlaceApp(nodes, tc.req)
			if tc.code != "" {
				require.Error(t, err)
				assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%v", err)
				assert.Contains(t, orchestrator.ErrorMessage(err), tc.reason)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.ID, "got %q, want %q", got.ID, tc.want)
		})
	}
	t.Run("a hostname two nodes share", func(t *testing.T) {
		_, err := orchestrator.PlaceApp([]orchestrator.Node{node("n1", "a", 4, 2), node("n2", "a", 4, 2)}, orchestrator.PlaceRequest{App: small, Want: "a"})
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
		assert.Contains(t, orchestrator.ErrorMessage(err), "names 2 nodes (n1, n2): give its ID")
	})
	t.Run("no nodes", func(t *testing.T) {
		_, err := orchestrator.PlaceApp(nil, orchestrator.PlaceRequest{App: small})
		assert.Equal(t, orchestrator.EPRECONDITION, orchestrator.ErrorCode(err))
	})
}

func TestPlacementAddress(t *testing.T) {
	assert.Equal(t, "10.0.0.2:9001", orchestrator.Placement{NodeID: "n", Addr: "10.0.0.2"}.Address(9001))
	assert.Equal(t, "[fd00::2]:9001", orchestrator.Placement{NodeID: "n", Addr: "fd00::2"}.Address(9001))
	n := node("m1", "a", 1, 1)
	n.Addr, n.Role = "10.0.0.1:2377", "manager"
	sw := &placeSwarm{manager: true, local: "m1", nodes: []orchestrator.Node{n}}
	store := newStore()
	e := newSwarmEngine(t, sw, store, func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	})
	inst, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Parameters: map[string]any{"mode": "fast"}})
	require.NoError(t, err)
	<-store.finished
	assert.Equal(t, "10.0.0.1", inst.Node.Addr, "a manager's address without the swarm port")
	assert.Empty(t, orchestrator.Placement{}.Address(9001))
	assert.Empty(t, orchestrator.Placement{NodeID: "n", Addr: "10.0.0.2"}.Address(0))
}

// placeSwarm is a manager with nodes, or (manager false) an engine that
// is not one.
type placeSwarm struct {
	manager bool
	local   string
	nodes   []orchestrator.Node
	ports   map[string]map[int]bool
}

func (s *placeSwarm) SwarmStatus(context.Context) (orchestrator.ClusterStatus, error) {
	if !s.manager {
		return orchestrator.ClusterStatus{Swarm: orchestrator.SwarmInactive}, nil
	}
	return orchestrator.ClusterStatus{Swarm: orchestrator.SwarmManager, NodeID: s.local}, nil
}
func (s *placeSwarm) Nodes(context.Context) ([]orchestrator.Node, error) {
	return s.nodes, nil
}
func (s *placeSwarm) NodePorts(_ context.Context, n string) (map[int]bool, error) {
	out := map[int]bool{}
	for p := range s.ports[n] {
		out[p] = true
	}
	return out, nil
}

func newSwarmEngine(t *testing.T, sw orchestrator.SwarmPlacement, store *fakeStore, run func(orchestrator.RunRequest) (orchestrator.RunResult, error)) *orchestrator.Engine {
	t.Helper()
	n := 0
	e := orchestrator.New(orchestrator.Deps{
		Catalog: fakeCatalog{}, Builder: fakeBuilder{}, Runner: fakeRunner{run: run}, Host: &fakeHost{}, Swarm: sw,
		Installations: store, Runs: store, Now: time.Now,
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) },
	})
	require.NoError(t, e.Recover(t.Context()))
	return e
}

// TestInstallPlacement: on an engine that is not a manager a node is
// refused; on a manager the install is placed (asked for or picked), the
// node is recorded and every run of the installation is told it, and
// ports are reserved per node.
func TestInstallPlacement(t *testing.T) {
	ok := func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	}
	params := map[string]any{"mode": "fast"}
	t.Run("not a manager", func(t *testing.T) {
		for _, sw := range []orchestrator.SwarmPlacement{nil, &placeSwarm{}} {
			store := newStore()
			e := newSwarmEngine(t, sw, store, ok)
			_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Node: "n1", Parameters: params})
			require.Error(t, err)
			assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
			assert.Contains(t, orchestrator.ErrorMessage(err), "not a Swarm manager")
			assert.Empty(t, store.insts, "nothing is reserved")

			inst, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Parameters: params})
			require.NoError(t, err, "without a node it installs as before")
			assert.False(t, inst.Node.OnSwarm())
			<-store.finished
		}
	})
	t.Run("manager", func(t *testing.T) {
		sw := &placeSwarm{manager: true, local: "n1", nodes: []orchestrator.Node{node("n1", "a", 4, 2), node("n2", "b", 8, 2)},
			ports: map[string]map[int]bool{"n2": {9001: true}}}
		store := newStore()
		var reqs []orchestrator.RunRequest
		var mu sync.Mutex
		e := newSwarmEngine(t, sw, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
			mu.Lock()
			defer mu.Unlock()
			reqs = append(reqs, req)
			return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
		})
		_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "nope", Node: "zz", Parameters: params})
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)

		onA, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "on-a", Node: "a", Parameters: params})
		require.NoError(t, err)
		<-store.finished
		assert.Equal(t, orchestrator.Placement{NodeID: "n1", Hostname: "a", Addr: "10.9.0.1"}, onA.Node)
		assert.Equal(t, 9001, onA.Port("port"), "node a is the local one: its ledger and the host's")

		auto, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: "auto", Parameters: params})
		require.NoError(t, err)
		<-store.finished
		assert.Equal(t, "n2", auto.Node.NodeID, "the node with the most free memory")
		assert.Equal(t, 9002, auto.Port("port"), "9001 is published on n2 by a service the manager knows")
		assert.Equal(t, 3307, auto.Port("db_port"), "the same port as on-a's: another node")

		got, err := e.Info(t.Context(), "auto")
		require.NoError(t, err)
		assert.Equal(t, "10.9.0.2:9002", got.Node.Address(got.Port("port")))

		_, err = e.Upgrade(t.Context(), orchestrator.UpgradeRequest{Name: "auto"})
		require.NoError(t, err)
		<-store.finished
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, reqs, 3)
		assert.Equal(t, []string{"n1", "n2", "n2"}, []string{reqs[0].Node, reqs[1].Node, reqs[2].Node}, "an upgrade runs on the app's node")
		assert.Equal(t, orchestrator.ActionUpgrade, reqs[2].Action)
	})
}

// barrierSwarm is placeSwarm whose Nodes answers once want installs
// asked: every one has looked at the nodes before any is reserved.
type barrierSwarm struct {
	placeSwarm
	mu    sync.Mutex
	asked int
	want  int
	all   chan struct{}
}

func (s *barrierSwarm) Nodes(ctx context.Context) ([]orchestrator.Node, error) {
	s.mu.Lock()
	if s.asked++; s.asked == s.want {
		close(s.all)
	}
	s.mu.Unlock()
	<-s.all
	return s.placeSwarm.Nodes(ctx)
}

// memCatalog is fakeCatalog whose demo asks for 1 GiB.
type memCatalog struct{ fakeCatalog }

func (c memCatalog) App(ctx context.Context, name string) (orchestrator.App, error) {
	app, err := c.fakeCatalog.App(ctx, name)
	app.Requirements.Memory = "1Gi"
	return app, err
}

// TestInstallPlacementAtOnce: installs StackHub places itself, asked for
// at once, each count the memory of those placed before them: six on
// three equal nodes go two to a node, even when all six looked at the
// nodes before any was reserved (before, each counted only the installs
// reserved when it looked, and the spread depended on timing).
func TestInstallPlacementAtOnce(t *testing.T) {
	sw := &barrierSwarm{placeSwarm: placeSwarm{manager: true, local: "n1", nodes: []orchestrator.Node{node("n1", "a", 4, 2), node("n2", "b", 4, 2), node("n3", "c", 4, 2)}},
		all: make(chan struct{}), want: 6}
	store := newStore()
	release := make(chan struct{})
	n := 0
	var idMu sync.Mutex
	e := orchestrator.New(orchestrator.Deps{
		Catalog: memCatalog{}, Builder: fakeBuilder{}, Host: &fakeHost{}, Swarm: sw, Installations: store, Runs: store, Now: time.Now,
		Runner: fakeRunner{run: func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
			<-release
			return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
		}},
		NewID: func() string { idMu.Lock(); defer idMu.Unlock(); n++; return fmt.Sprintf("id%d", n) },
	})
	require.NoError(t, e.Recover(t.Context()))
	var wg sync.WaitGroup
	nodes := make([]string, 6)
	for i := range nodes {
		wg.Go(func() {
			inst, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo", Name: fmt.Sprintf("app%d", i), Parameters: map[string]any{"mode": "fast"}})
			if assert.NoError(t, err) {
				nodes[i] = inst.Node.NodeID
			}
		})
	}
	wg.Wait()
	close(release)
	for range nodes {
		<-store.finished
	}
	count := map[string]int{}
	for _, id := range nodes {
		count[id]++
	}
	assert.Equal(t, map[string]int{"n1": 2, "n2": 2, "n3": 2}, count)
}
