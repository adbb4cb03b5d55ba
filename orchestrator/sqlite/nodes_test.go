package sqlite_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// TestLedgerPerNode: a host port is reserved once per Swarm node ("" is
// the single host): two nodes may hold the same port, one node never
// twice; the node is kept on the installation and read back.
func TestLedgerPerNode(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	single, run := newInstall("single", 9001, 3307)
	require.NoError(t, db.BeginInstall(ctx, single, run))

	onA, run := newInstall("on-a", 9001, 3307)
	onA.Node = orchestrator.Placement{NodeID: "nodea", Hostname: "a", Addr: "10.0.0.1"}
	require.NoError(t, db.BeginInstall(ctx, onA, run), "the single host's ports are free on node a")

	onB, run := newInstall("on-b", 9001, 3308)
	onB.Node = orchestrator.Placement{NodeID: "nodeb", Hostname: "b", Addr: "10.0.0.2"}
	require.NoError(t, db.BeginInstall(ctx, onB, run))

	again, run := newInstall("again-a", 9002, 3307)
	again.Node = onA.Node
	err := db.BeginInstall(ctx, again, run)
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err))
	_, lost := errors.AsType[orchestrator.ErrPortTaken](err)
	assert.True(t, lost, "got %v, want ErrPortTaken", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "node nodea")

	got, err := db.Installation(ctx, "on-a")
	require.NoError(t, err)
	assert.Equal(t, onA.Node, got.Node)
	assert.Equal(t, onA.Ports, got.Ports)
	got, err = db.Installation(ctx, "single")
	require.NoError(t, err)
	assert.False(t, got.Node.OnSwarm())

	for _, tc := range []struct {
		name  string
		nodes []string
		want  map[int]string
	}{
		{"single host", []string{""}, map[int]string{9001: "single", 3307: "single"}},
		{"node a", []string{"nodea"}, map[int]string{9001: "on-a", 3307: "on-a"}},
		{"node b", []string{"nodeb"}, map[int]string{9001: "on-b", 3308: "on-b"}},
		{"node a and the single host", []string{"", "nodea"}, map[int]string{9001: "on-a", 3307: "on-a"}},
		{"unknown node", []string{"nodec"}, map[int]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reserved, err := db.ReservedPorts(ctx, tc.nodes...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, reserved)
		})
	}
	all, err := db.ReservedPorts(ctx)
	require.NoError(t, err)
	assert.Len(t, all, 3, "every node's ports, each port once: %v", all)

	// A failed install releases its own node's ports only.
	first, err := db.Installation(ctx, "on-a")
	require.NoError(t, err)
	r, err := db.Run(ctx, first.LastRunID)
	require.NoError(t, err)
	r.Status, r.Finished = orchestrator.RunFailed, t0
	require.NoError(t, db.FinishRun(ctx, r, orchestrator.StateFailed, "boom", true))
	reserved, err := db.ReservedPorts(ctx, "nodea")
	require.NoError(t, err)
	assert.Empty(t, reserved)
	reserved, err = db.ReservedPorts(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, map[int]string{9001: "single", 3307: "single"}, reserved)
}
