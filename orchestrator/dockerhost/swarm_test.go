package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// fakeSwarmAPI answers Info with info and fails the swarm and node calls
// with err; NodeUpdate records what it was sent.
type fakeSwarmAPI struct {
	info    swarm.Info
	err     error
	node    swarm.Node
	updated *client.NodeUpdateOptions
}

func (f *fakeSwarmAPI) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: f.info}}, nil
}
func (f *fakeSwarmAPI) SwarmInit(context.Context, client.SwarmInitOptions) (client.SwarmInitResult, error) {
	return client.SwarmInitResult{}, f.err
}
func (f *fakeSwarmAPI) SwarmInspect(context.Context, client.SwarmInspectOptions) (client.SwarmInspectResult, error) {
	return client.SwarmInspectResult{}, f.err
}
func (f *fakeSwarmAPI) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	return client.NodeListResult{Items: []swarm.Node{f.node}}, f.err
}
func (f *fakeSwarmAPI) NodeInspect(context.Context, string, client.NodeInspectOptions) (client.NodeInspectResult, error) {
	return client.NodeInspectResult{Node: f.node}, f.err
}
func (f *fakeSwarmAPI) NodeUpdate(_ context.Context, _ string, o client.NodeUpdateOptions) (client.NodeUpdateResult, error) {
	f.updated = &o
	return client.NodeUpdateResult{}, f.err
}
func (f *fakeSwarmAPI) NodeRemove(context.Context, string, client.NodeRemoveOptions) (client.NodeRemoveResult, error) {
	return client.NodeRemoveResult{}, f.err
}

func TestClusterStatusOfEngineInfo(t *testing.T) {
	for _, tc := range []struct {
		in   swarm.Info
		want string
	}{
		{swarm.Info{}, orchestrator.SwarmInactive},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, orchestrator.SwarmInactive},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}, orchestrator.SwarmManager},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateActive}, orchestrator.SwarmWorker},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStatePending}, orchestrator.SwarmPending},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateError, Error: "boom"}, orchestrator.SwarmError},
		{swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, orchestrator.SwarmLocked},
	} {
		assert.Equal(t, tc.want, clusterStatus(tc.in).Swarm, "%+v", tc.in)
	}
	st := clusterStatus(swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true, NodeID: "n1", NodeAddr: "10.0.0.1",
		Nodes: 3, Managers: 1, Cluster: &swarm.ClusterInfo{ID: "c1"}})
	assert.Equal(t, orchestrator.ClusterStatus{Swarm: orchestrator.SwarmManager, NodeID: "n1", NodeAddr: "10.0.0.1", ClusterID: "c1", Nodes: 3, Managers: 1}, st)
}

func TestToNode(t *testing.T) {
	n := swarm.Node{ID: "n1",
		Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}, Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityDrain},
		Description: swarm.NodeDescription{Hostname: "h1", Resources: swarm.Resources{NanoCPUs: 1_500_000_000, MemoryBytes: 1 << 30},
			Engine: swarm.EngineDescription{EngineVersion: "20.10.24"}},
		Status:        swarm.NodeStatus{State: swarm.NodeStateDown, Message: "heartbeat failure", Addr: "10.0.0.2"},
		ManagerStatus: &swarm.ManagerStatus{Reachability: swarm.ReachabilityUnreachable, Addr: "10.0.0.2:2377"}}
	assert.Equal(t, orchestrator.Node{ID: "n1", Hostname: "h1", Role: "manager", Availability: "drain", State: "down", Message: "heartbeat failure",
		Reachability: "unreachable", EngineVersion: "20.10.24", Addr: "10.0.0.2:2377", CPUs: 1.5, MemoryBytes: 1 << 30,
		Labels: map[string]string{"zone": "a"}}, toNode(n))
	w := toNode(swarm.Node{ID: "w", Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker}, Status: swarm.NodeStatus{Addr: "10.0.0.3"}})
	assert.Equal(t, "10.0.0.3", w.Addr, "a worker's address is its status's")
	assert.NotNil(t, w.Labels)
}

// TestSwarmErrors: the engine's 503 on swarm calls is the swarm's state
// (409), its 400 a refusal with its reason, and only a connection that
// fails is Docker being down.
func TestSwarmErrors(t *testing.T) {
	refused := fmt.Errorf("Error response from daemon: rpc error: code = FailedPrecondition desc = node n1 is a cluster manager: %w", cerrdefs.ErrInvalidArgument)
	for _, tc := range []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"not a manager", fmt.Errorf("Error response from daemon: This node is not a swarm manager: %w", cerrdefs.ErrUnavailable), orchestrator.ECONFLICT, "not a swarm manager"},
		{"refused", refused, orchestrator.EINVALID, "the engine refuses: node n1 is a cluster manager"},
		{"conflict", cerrdefs.ErrConflict, orchestrator.ECONFLICT, ""},
		{"not found", cerrdefs.ErrNotFound, orchestrator.ENOTFOUND, "not found"},
		{"stalled", fmt.Errorf("remove: %w", context.DeadlineExceeded), orchestrator.EUNAVAILABLE, "not answering"},
		{"other", errors.New("boom"), orchestrator.EINTERNAL, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var told []string
			sw := NewSwarm(&fakeSwarmAPI{err: tc.err})
			sw.OnError = func(op, class string) { told = append(told, op) }
			err := sw.RemoveNode(t.Context(), "n1", false)
			require.Error(t, err)
			assert.Equal(t, tc.code, orchestrator.ErrorCode(err), "%v", err)
			assert.Contains(t, orchestrator.ErrorMessage(err), tc.msg)
			assert.Equal(t, []string{"remove node"}, told, "told once, by operation")
		})
	}
}

func TestSwarmInit(t *testing.T) {
	api := &fakeSwarmAPI{err: fmt.Errorf("Error response from daemon: could not find the system's IP address: %w", cerrdefs.ErrInvalidArgument)}
	_, err := NewSwarm(api).InitSwarm(t.Context(), "")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "could not find the system's IP address")
	assert.Contains(t, orchestrator.ErrorMessage(err), "--advertise-addr")

	// Docker answers 503 to an init on an engine in a swarm: a conflict.
	api = &fakeSwarmAPI{err: fmt.Errorf("This node is already part of a swarm: %w", cerrdefs.ErrUnavailable),
		info: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true, NodeID: "n1"}}
	_, err = NewSwarm(api).InitSwarm(t.Context(), "10.0.0.1")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	assert.Contains(t, orchestrator.ErrorMessage(err), "already in a swarm")
}

func TestSetAvailabilityKeepsTheSpec(t *testing.T) {
	api := &fakeSwarmAPI{node: swarm.Node{ID: "n1", Meta: swarm.Meta{Version: swarm.Version{Index: 42}},
		Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}, Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityActive}}}
	require.NoError(t, NewSwarm(api).SetAvailability(t.Context(), "n1", orchestrator.NodeDrain))
	require.NotNil(t, api.updated)
	assert.Equal(t, uint64(42), api.updated.Version.Index, "the version read, so a concurrent change is refused")
	assert.Equal(t, swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a"}}, Role: swarm.NodeRoleWorker,
		Availability: swarm.NodeAvailabilityDrain}, api.updated.Spec)
}

// TestSwarmEngineDown: an engine that does not answer is Docker down
// (503), never "not a swarm".
func TestSwarmEngineDown(t *testing.T) {
	c, err := client.New(client.WithHost("unix://"+t.TempDir()+"/none.sock"), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer c.Close()
	sw := NewSwarm(c)
	_, err = sw.SwarmStatus(t.Context())
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "%v", err)
	_, err = sw.Nodes(t.Context())
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "%v", err)
	err = sw.SetAvailability(t.Context(), "n1", orchestrator.NodeDrain)
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "%v", err)
}
