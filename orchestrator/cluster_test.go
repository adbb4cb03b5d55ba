package orchestrator_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// fakeSwarm is an engine's swarm in memory: inactive until InitSwarm,
// then a manager "self" with the nodes the test adds. Like the engine, it
// refuses node calls while inactive (ECONFLICT) and unknown nodes
// (ENOTFOUND). down makes every call fail as Docker down does.
type fakeSwarm struct {
	mu      sync.Mutex
	state   string
	nodes   []orchestrator.Node
	removed []string
	forced  bool
	down    bool
	inits   []string
}

const fakeToken = "SWMTKN-1-secretsecretsecret-workerpart"

func (f *fakeSwarm) fail() error {
	if f.down {
		return orchestrator.Errorf(orchestrator.EUNAVAILABLE, "the Docker engine is not running")
	}
	return nil
}

func (f *fakeSwarm) SwarmStatus(context.Context) (orchestrator.ClusterStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return orchestrator.ClusterStatus{}, err
	}
	st := orchestrator.ClusterStatus{Swarm: f.state}
	if st.Swarm == "" {
		st.Swarm = orchestrator.SwarmInactive
	}
	if st.Swarm != orchestrator.SwarmInactive {
		st.NodeID, st.NodeAddr = "self0000id", "10.0.0.1"
		st.Nodes = len(f.nodes)
	}
	return st, nil
}

func (f *fakeSwarm) InitSwarm(_ context.Context, addr string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return "", err
	}
	f.inits = append(f.inits, addr)
	f.state = orchestrator.SwarmManager
	f.nodes = append([]orchestrator.Node{{ID: "self0000id", Hostname: "host", Role: orchestrator.NodeManager, Availability: orchestrator.NodeActive,
		State: orchestrator.NodeReady, Addr: "10.0.0.1:2377", Leader: true, Reachability: "reachable", CPUs: 2, MemoryBytes: 4 << 30}}, f.nodes...)
	return "self0000id", nil
}

func (f *fakeSwarm) managed() error {
	if err := f.fail(); err != nil {
		return err
	}
	if f.state != orchestrator.SwarmManager {
		return orchestrator.Errorf(orchestrator.ECONFLICT, "the engine is not a swarm manager")
	}
	return nil
}

func (f *fakeSwarm) WorkerToken(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.managed(); err != nil {
		return "", err
	}
	return fakeToken, nil
}

func (f *fakeSwarm) Nodes(context.Context) ([]orchestrator.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.managed(); err != nil {
		return nil, err
	}
	return append([]orchestrator.Node(nil), f.nodes...), nil
}

func (f *fakeSwarm) node(id string) (*orchestrator.Node, error) {
	for i := range f.nodes {
		if f.nodes[i].ID == id {
			return &f.nodes[i], nil
		}
	}
	return nil, orchestrator.Errorf(orchestrator.ENOTFOUND, "node %s: not found", id)
}

func (f *fakeSwarm) SetAvailability(_ context.Context, id, availability string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.managed(); err != nil {
		return err
	}
	n, err := f.node(id)
	if err != nil {
		return err
	}
	n.Availability = availability
	return nil
}

func (f *fakeSwarm) RemoveNode(_ context.Context, id string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.managed(); err != nil {
		return err
	}
	if _, err := f.node(id); err != nil {
		return err
	}
	f.removed, f.forced = append(f.removed, id), force
	for i := range f.nodes {
		if f.nodes[i].ID == id {
			f.nodes = append(f.nodes[:i], f.nodes[i+1:]...)
			break
		}
	}
	return nil
}

func (f *fakeSwarm) add(n orchestrator.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.Role == "" {
		n.Role = orchestrator.NodeWorker
	}
	if n.Availability == "" {
		n.Availability = orchestrator.NodeActive
	}
	if n.State == "" {
		n.State = orchestrator.NodeReady
	}
	f.nodes = append(f.nodes, n)
}

// fakeSample is HostStats with one sample.
type fakeSample struct{ orchestrator.HostSample }

func (f fakeSample) Latest() (orchestrator.HostSample, bool)     { return f.HostSample, true }
func (f fakeSample) History() []orchestrator.HostSample          { return nil }
func (fakeSample) DockerVersion(context.Context) (string, error) { return "20.10.24", nil }

func newCluster(t *testing.T) (*orchestrator.Cluster, *fakeSwarm, *bytes.Buffer) {
	t.Helper()
	sw := &fakeSwarm{}
	var logs bytes.Buffer
	c := &orchestrator.Cluster{Swarm: sw, Stats: fakeSample{orchestrator.HostSample{Time: time.Now(), DiskTotal: 100 << 30, DiskUsed: 40 << 30}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	return c, sw, &logs
}

func TestClusterNeverInitialised(t *testing.T) {
	c, sw, _ := newCluster(t)
	ctx := t.Context()
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.SwarmInactive, st.Swarm)
	for name, call := range map[string]func() error{
		"nodes":    func() error { _, err := c.Nodes(ctx); return err },
		"join":     func() error { _, err := c.JoinCommand(ctx); return err },
		"drain":    func() error { _, err := c.Drain(ctx, orchestrator.NodeChange{Node: "host"}); return err },
		"activate": func() error { _, err := c.Activate(ctx, orchestrator.NodeChange{Node: "host"}); return err },
		"remove":   func() error { _, err := c.Remove(ctx, orchestrator.NodeChange{Node: "host"}); return err },
	} {
		err := call()
		assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), name)
		assert.Contains(t, orchestrator.ErrorMessage(err), "not a swarm", name)
		assert.Contains(t, orchestrator.ErrorMessage(err), "stackhub cluster init", name)
	}
	assert.Empty(t, sw.inits, "reads never init a swarm")

	var none *orchestrator.Cluster
	_, err = none.Status(ctx)
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "no swarm behind the cluster")
}

func TestClusterInit(t *testing.T) {
	c, sw, _ := newCluster(t)
	ctx := t.Context()
	for _, bad := range []string{"example.com", "eth0", "0.0.0.0", "::", "224.0.0.1", "10.0.0.1:0", "10.0.0.1:99999", "fe80::1%eth0",
		"10.0.0.1 ", "http://10.0.0.1", strings.Repeat("1", 65)} {
		_, err := c.Init(ctx, orchestrator.ClusterInitRequest{AdvertiseAddr: bad})
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%q: %v", bad, err)
	}
	assert.Empty(t, sw.inits, "bad input reaches no engine")
	for _, good := range []string{"", "10.0.0.1", "10.0.0.1:2400", "2001:db8::1", "[2001:db8::1]:2377", "127.0.0.1"} {
		assert.NoError(t, orchestrator.ValidateAdvertiseAddr(good), good)
	}

	st, err := c.Init(ctx, orchestrator.ClusterInitRequest{AdvertiseAddr: "10.0.0.1"})
	require.NoError(t, err)
	assert.Equal(t, orchestrator.SwarmManager, st.Swarm)
	assert.Equal(t, "self0000id", st.NodeID)
	assert.Equal(t, []string{"10.0.0.1"}, sw.inits)

	_, err = c.Init(ctx, orchestrator.ClusterInitRequest{})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "already the manager")
	assert.Len(t, sw.inits, 1, "a second init never reaches the engine")

	sw.state = orchestrator.SwarmWorker
	_, err = c.Init(ctx, orchestrator.ClusterInitRequest{})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "worker")
	_, err = c.Nodes(ctx)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "worker")

	sw.down = true
	_, err = c.Status(ctx)
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err))
	_, err = c.Init(ctx, orchestrator.ClusterInitRequest{})
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err))
}

func TestClusterJoinCommand(t *testing.T) {
	c, _, logs := newCluster(t)
	ctx := t.Context()
	_, err := c.Init(ctx, orchestrator.ClusterInitRequest{})
	require.NoError(t, err)
	j, err := c.JoinCommand(ctx)
	require.NoError(t, err)
	assert.Equal(t, "docker swarm join --token "+fakeToken+" 10.0.0.1:2377", j.String())
	assert.Equal(t, []string{"docker", "swarm", "join", "--token", fakeToken, "10.0.0.1:2377"}, j.Argv())
	assert.NotContains(t, logs.String(), "SWMTKN", "a join token is never logged")
}

func TestClusterNodes(t *testing.T) {
	c, sw, _ := newCluster(t)
	ctx := t.Context()
	_, err := c.Init(ctx, orchestrator.ClusterInitRequest{})
	require.NoError(t, err)
	sw.add(orchestrator.Node{ID: "w2aaaa", Hostname: "b-worker"})
	sw.add(orchestrator.Node{ID: "w1aaaa", Hostname: "a-worker", State: "down"})
	nodes, err := c.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 3)
	assert.Equal(t, []string{"a-worker", "b-worker", "host"}, []string{nodes[0].Hostname, nodes[1].Hostname, nodes[2].Hostname}, "by hostname")
	self := nodes[2]
	assert.True(t, self.Self)
	require.NotNil(t, self.Disk, "the host's own disk is known")
	assert.Equal(t, uint64(100<<30), self.Disk.Total)
	assert.Nil(t, nodes[0].Disk, "Swarm reports no disks of other nodes")
	assert.False(t, nodes[0].Self)
	for _, n := range nodes {
		assert.Zero(t, n.Apps, "installations carry no node yet")
	}
}

func TestClusterDrainActivate(t *testing.T) {
	c, sw, _ := newCluster(t)
	ctx := t.Context()
	_, err := c.Init(ctx, orchestrator.ClusterInitRequest{})
	require.NoError(t, err)

	_, err = c.Drain(ctx, orchestrator.NodeChange{Node: "host"})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "the last active node")
	assert.Contains(t, orchestrator.ErrorMessage(err), "last active node")
	n, err := c.Drain(ctx, orchestrator.NodeChange{Node: "host", Force: true})
	require.NoError(t, err)
	assert.Equal(t, orchestrator.NodeDrain, n.Availability)
	n, err = c.Drain(ctx, orchestrator.NodeChange{Node: "host"})
	require.NoError(t, err, "draining a drained node changes nothing")
	assert.Equal(t, orchestrator.NodeDrain, n.Availability)
	n, err = c.Activate(ctx, orchestrator.NodeChange{Node: "self0000id"})
	require.NoError(t, err)
	assert.Equal(t, orchestrator.NodeActive, n.Availability)

	sw.add(orchestrator.Node{ID: "w1aaaa", Hostname: "worker"})
	n, err = c.Drain(ctx, orchestrator.NodeChange{Node: "host"})
	require.NoError(t, err, "another node is active: the manager may be drained")
	assert.Equal(t, orchestrator.NodeDrain, n.Availability)
	assert.True(t, n.Self)
	_, err = c.Drain(ctx, orchestrator.NodeChange{Node: "w1"})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "now the worker is the last active node")
	_, err = c.Activate(ctx, orchestrator.NodeChange{Node: "host"})
	require.NoError(t, err)
	n, err = c.Drain(ctx, orchestrator.NodeChange{Node: "w1"})
	require.NoError(t, err, "by ID prefix")
	assert.Equal(t, "worker", n.Hostname)

	for ref, code := range map[string]string{"nope": orchestrator.ENOTFOUND, "": orchestrator.EINVALID, "a b": orchestrator.EINVALID,
		"../x": orchestrator.EINVALID, strings.Repeat("a", 300): orchestrator.EINVALID} {
		_, err := c.Drain(ctx, orchestrator.NodeChange{Node: ref})
		assert.Equal(t, code, orchestrator.ErrorCode(err), "%q: %v", ref, err)
	}
	sw.add(orchestrator.Node{ID: "w1bbbb", Hostname: "twin"})
	sw.add(orchestrator.Node{ID: "w3cccc", Hostname: "twin"})
	_, err = c.Drain(ctx, orchestrator.NodeChange{Node: "w1"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "an ambiguous prefix")
	_, err = c.Drain(ctx, orchestrator.NodeChange{Node: "twin"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "an ambiguous hostname")
	assert.Contains(t, orchestrator.ErrorMessage(err), "give its ID")
	_, err = c.Drain(ctx, orchestrator.NodeChange{Node: "w3cccc"})
	require.NoError(t, err, "an ID is never ambiguous")
}

func TestClusterRemove(t *testing.T) {
	c, sw, _ := newCluster(t)
	ctx := t.Context()
	_, err := c.Init(ctx, orchestrator.ClusterInitRequest{})
	require.NoError(t, err)
	sw.add(orchestrator.Node{ID: "m2aaaa", Hostname: "manager2", Role: orchestrator.NodeManager})
	sw.add(orchestrator.Node{ID: "w1aaaa", Hostname: "alive"})
	sw.add(orchestrator.Node{ID: "w2aaaa", Hostname: "gone", State: "down"})

	for _, ref := range []string{"host", "self0000id"} {
		for _, force := range []bool{false, true} {
			_, err := c.Remove(ctx, orchestrator.NodeChange{Node: ref, Force: force})
			assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "%s force=%v", ref, force)
			assert.Contains(t, orchestrator.ErrorMessage(err), "StackHub runs on")
		}
	}
	_, err = c.Remove(ctx, orchestrator.NodeChange{Node: "manager2", Force: true})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "demote")
	_, err = c.Remove(ctx, orchestrator.NodeChange{Node: "alive"})
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "still ready")
	assert.Empty(t, sw.removed)

	n, err := c.Remove(ctx, orchestrator.NodeChange{Node: "gone"})
	require.NoError(t, err)
	assert.Equal(t, "w2aaaa", n.ID)
	assert.False(t, sw.forced)
	n, err = c.Remove(ctx, orchestrator.NodeChange{Node: "alive", Force: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"w2aaaa", "w1aaaa"}, sw.removed)
	assert.True(t, sw.forced)
	_, err = c.Remove(ctx, orchestrator.NodeChange{Node: "gone"})
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
}

func TestAppsByNode(t *testing.T) {
	// Installations carry no node yet: nothing is counted on any node.
	got := orchestrator.AppsByNode([]orchestrator.Installation{{Name: "a", State: orchestrator.StateRunning}})
	assert.Empty(t, got)
}
