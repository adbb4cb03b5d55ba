package orchestrator_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// recordLogs is a LogSource and a ServiceLogSource that writes who was
// asked.
type recordLogs struct{ prefix string }

func (r recordLogs) Logs(_ context.Context, c string, o orchestrator.LogOptions, w io.Writer) error {
	_, err := io.WriteString(w, r.prefix+" container "+c+"\n")
	return err
}
func (r recordLogs) ServiceLogs(_ context.Context, s string, o orchestrator.LogOptions, w io.Writer) error {
	_, err := io.WriteString(w, r.prefix+" service "+s+"\n")
	return err
}

type fixedStats struct{ asked [][]string }

func (f *fixedStats) ContainerStats(_ context.Context, cs []string) ([]orchestrator.ContainerStats, error) {
	f.asked = append(f.asked, cs)
	out := make([]orchestrator.ContainerStats, 0, len(cs))
	for _, c := range cs {
		out = append(out, orchestrator.ContainerStats{Name: c, CPUPercent: 1, MemoryBytes: 1 << 20})
	}
	return out, nil
}

// TestLogsAndStatsOnSwarmNodes: the logs of an app placed on a Swarm node
// (StackHub's own node included: its task's container is not named as
// the service) are its service's, through the manager; a single host's
// app's are its container's. Stats of an app on another node are not
// sampled: each container says why, with its node's figures; an app on
// StackHub's own node is sampled as on a single host.
func TestLogsAndStatsOnSwarmNodes(t *testing.T) {
	store := newStore()
	far := orchestrator.Installation{Name: "far", App: "demo", State: orchestrator.StateRunning, Containers: []string{"websoft9-far", "websoft9-far-db"},
		Node: orchestrator.Placement{NodeID: "n2", Hostname: "two", Addr: "10.0.0.2"}}
	near := orchestrator.Installation{Name: "near", App: "demo", State: orchestrator.StateRunning, Containers: []string{"websoft9-near"},
		Node: orchestrator.Placement{NodeID: "self0000id", Hostname: "host", Addr: "10.0.0.1"}}
	single := orchestrator.Installation{Name: "single", App: "demo", State: orchestrator.StateRunning, Containers: []string{"websoft9-single"}}
	store.insts["far"], store.insts["near"], store.insts["single"] = far, near, single
	nodes := &fakeNodes{nodes: map[string]orchestrator.Node{"n2": {ID: "n2", Hostname: "two", Addr: "10.0.0.2", State: "ready", CPUs: 2, MemoryBytes: 4 << 30}}}
	stats := &fixedStats{}
	swarm := &placeSwarm{manager: true, local: "self0000id"}
	e := orchestrator.New(orchestrator.Deps{Installations: store, Runs: store, Nodes: nodes, Swarm: swarm, Now: time.Now,
		Logs: recordLogs{"local"}, ServiceLogs: recordLogs{"manager"}, ContainerStats: stats, Host: &fakeHost{}})
	require.NoError(t, e.Recover(t.Context()))

	logs := func(name, c string) string {
		var b strings.Builder
		require.NoError(t, e.Logs(t.Context(), orchestrator.LogsRequest{Name: name, Container: c, LogOptions: orchestrator.LogOptions{Tail: 10}}, &b))
		return b.String()
	}
	assert.Equal(t, "manager service websoft9-far\n", logs("far", ""))
	assert.Equal(t, "manager service websoft9-far-db\n", logs("far", "websoft9-far-db"))
	assert.Equal(t, "manager service websoft9-near\n", logs("near", ""))
	assert.Equal(t, "local container websoft9-single\n", logs("single", ""))
	err := e.Logs(t.Context(), orchestrator.LogsRequest{Name: "far", Container: "websoft9-near"}, io.Discard)
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "not its container")

	got, err := e.Stats(t.Context(), "far")
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i, c := range far.Containers {
		assert.Equal(t, c, got[i].Name)
		assert.Contains(t, got[i].Unavailable, "runs on Swarm node two")
		assert.Zero(t, got[i].CPUPercent)
		require.NotNil(t, got[i].Node)
		assert.Equal(t, 2.0, got[i].Node.CPUs)
		assert.Equal(t, int64(4<<30), got[i].Node.MemoryBytes)
	}
	got, err = e.Stats(t.Context(), "near")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Unavailable, "StackHub's own node is sampled")
	assert.Equal(t, [][]string{{"websoft9-near"}}, stats.asked, "only the local node's containers are asked of the engine")
}
