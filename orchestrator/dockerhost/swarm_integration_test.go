//go:build integration

package dockerhost_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// TestSwarmOnPrivateEngine drives the Swarm API of a private dockerd
// (never the host's): inactive at first, where node calls are a conflict
// and not Docker being down; init; a second init refused; the worker
// token; the one node, a ready manager; drain and activate; the engine's
// own refusal to remove its only manager.
func TestSwarmOnPrivateEngine(t *testing.T) {
	d := dockertest.StartDockerd(t)
	c, err := d.Client()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	sw := dockerhost.NewSwarm(c)
	ctx := t.Context()

	st, err := sw.SwarmStatus(ctx)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.SwarmInactive, st.Swarm)
	assert.Empty(t, st.NodeID)
	_, err = sw.Nodes(ctx)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "%v", err)
	_, err = sw.WorkerToken(ctx)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "%v", err)

	id, err := sw.InitSwarm(ctx, "")
	if orchestrator.ErrorCode(err) == orchestrator.EINVALID {
		// The engine could not choose among its namespace's addresses.
		t.Logf("engine's choice refused: %v", err)
		id, err = sw.InitSwarm(ctx, "127.0.0.1")
	}
	require.NoError(t, err)
	require.NotEmpty(t, id)
	st, err = sw.SwarmStatus(ctx)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.SwarmManager, st.Swarm)
	assert.Equal(t, id, st.NodeID)
	assert.Equal(t, 1, st.Nodes)
	assert.Equal(t, 1, st.Managers)
	t.Logf("node %s advertises %s", st.NodeID, st.NodeAddr)

	_, err = sw.InitSwarm(ctx, "")
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "%v", err)

	tok, err := sw.WorkerToken(ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok, "SWMTKN-1-"), "a swarm token")

	nodes, err := sw.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	n := nodes[0]
	assert.Equal(t, id, n.ID)
	assert.Equal(t, orchestrator.NodeManager, n.Role)
	assert.Equal(t, orchestrator.NodeActive, n.Availability)
	assert.Equal(t, orchestrator.NodeReady, n.State)
	assert.True(t, n.Leader)
	assert.Equal(t, "reachable", n.Reachability)
	assert.Greater(t, n.CPUs, 0.0)
	assert.Greater(t, n.MemoryBytes, int64(0))
	assert.NotEmpty(t, n.EngineVersion)
	assert.Contains(t, n.Addr, ":2377")
	t.Logf("node: %+v", n)

	require.NoError(t, sw.SetAvailability(ctx, id, orchestrator.NodeDrain))
	nodes, err = sw.Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.NodeDrain, nodes[0].Availability)
	require.NoError(t, sw.SetAvailability(ctx, id, orchestrator.NodeActive))
	nodes, err = sw.Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, orchestrator.NodeActive, nodes[0].Availability)

	err = sw.SetAvailability(ctx, "nosuchnode", orchestrator.NodeDrain)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "%v", err)
	err = sw.RemoveNode(ctx, id, false)
	require.Error(t, err, "the engine never removes its only manager")
	t.Logf("remove the only manager: %s: %v", orchestrator.ErrorCode(err), err)
	assert.NotEqual(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err))
}
