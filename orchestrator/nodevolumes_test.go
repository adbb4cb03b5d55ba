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

// fakeNodeVolumes records the purges asked of it.
type fakeNodeVolumes struct {
	mu     sync.Mutex
	purged []string
	err    error
}

func (f *fakeNodeVolumes) OnNode(context.Context, string) (orchestrator.VolumeHost, error) {
	return nil, orchestrator.Errorf(orchestrator.EINTERNAL, "not in this test")
}

func (f *fakeNodeVolumes) PurgeVolumes(_ context.Context, node, app string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purged = append(f.purged, node+"/"+app)
	if f.err != nil {
		return nil, f.err
	}
	return []string{"websoft9-" + app + "_data"}, nil
}

// TestUninstallPurgesOnTheNode: an uninstall with purge of an app placed
// on a Swarm node asks NodeVolumes to remove its volumes there and
// reports them; a node that is not ready keeps them and the uninstall
// still succeeds; any other failure fails the uninstall (it can be run
// again); without purge nothing is asked.
func TestUninstallPurgesOnTheNode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		purge   bool
		err     error
		status  orchestrator.RunStatus
		asked   []string
		removed string
	}{
		{"purge", true, nil, orchestrator.RunSucceeded, []string{"n2/demo"}, "websoft9-demo_data"},
		{"node down", true, orchestrator.Errorf(orchestrator.EPRECONDITION, "node n2 is down"), orchestrator.RunSucceeded, []string{"n2/demo"}, ""},
		{"helper fails", true, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "the volume helper failed"), orchestrator.RunFailed, []string{"n2/demo"}, ""},
		{"no purge", false, nil, orchestrator.RunSucceeded, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, host := newStore(), &fakeHost{}
			runningDemo(store)
			inst := store.insts["demo"]
			inst.Node = orchestrator.Placement{NodeID: "n2", Hostname: "two", Addr: "10.0.0.2"}
			store.insts["demo"] = inst
			nv := &fakeNodeVolumes{err: tc.err}
			var n int
			var mu sync.Mutex
			e := orchestrator.New(orchestrator.Deps{
				Catalog: fakeCatalog{}, Builder: fakeBuilder{}, Host: host, Installations: store, Runs: store, Now: time.Now,
				NodeVolumes: nv, RunLogDir: t.TempDir(),
				NewID: func() string { mu.Lock(); defer mu.Unlock(); n++; return fmt.Sprintf("id%d", n) },
				Runner: fakeRunner{run: func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
					return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
				}},
			})
			_ = e.Recover(t.Context())
			_, _ = e.Uninstall(t.Context(), orchestrator.UninstallRequest{Name: "demo", Purge: tc.purge})
			run := <-store.finished
			assert.Equal(t, tc.status, run.Status, run.Message)
			assert.Equal(t, tc.asked, nv.purged)
			if tc.removed != "" {
				assert.Equal(t, tc.removed, run.Outputs[orchestrator.OutputRemovedVolumes])
			}
			inst, err := store.Installation(t.Context(), "demo")
			require.NoError(t, err)
			if tc.status == orchestrator.RunFailed {
				assert.Equal(t, orchestrator.StateFailed, inst.State)
				assert.Contains(t, inst.Reason, "the volume helper failed")
			} else {
				assert.Equal(t, orchestrator.StateUninstalled, inst.State)
			}
		})
	}
}
