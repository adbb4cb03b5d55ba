package orchestrator_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func runningDemo(store *fakeStore) {
	store.insts["demo"] = orchestrator.Installation{Name: "demo", App: "demo", State: orchestrator.StateRunning,
		Ports: []orchestrator.PortBinding{{Param: "port", Port: 9005}, {Param: "db_port", Port: 3310}}}
}

func TestUninstallGoesThroughTheLifecycle(t *testing.T) {
	tests := []struct {
		name       string
		result     orchestrator.RunResult
		wantStatus orchestrator.RunStatus
		wantReason string
	}{
		{"bundle succeeds", orchestrator.RunResult{Status: orchestrator.RunSucceeded}, orchestrator.RunSucceeded, ""},
		// The app's objects are removed directly: the installation is gone,
		// the run says the bundle failed.
		{"bundle fails", orchestrator.RunResult{Status: orchestrator.RunFailed, Message: "exit 1"}, orchestrator.RunFailed, "exit 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, host := newStore(), &fakeHost{}
			runningDemo(store)
			var got orchestrator.RunRequest
			e := newEngine(host, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
				got = req
				return tc.result, nil
			})
			res, err := e.Uninstall(t.Context(), orchestrator.UninstallRequest{Name: "demo", Purge: true})
			require.NoError(t, err)
			assert.Equal(t, orchestrator.StateUninstalled, res.Installation.State)
			assert.Equal(t, 9005, res.Installation.Port("port"), "the freed ports are reported")
			run := <-store.finished
			assert.Equal(t, orchestrator.ActionUninstall, run.Action)
			assert.Equal(t, orchestrator.ActionUninstall, got.Action)
			require.Len(t, store.begun, 1)
			assert.Equal(t, 9005, store.begun[0].Parameters["port"], "the run has the ports")
			assert.Equal(t, tc.wantStatus, run.Status, "got %q, want %q", run.Status, tc.wantStatus)
			inst, _ := store.Installation(t.Context(), "demo")
			assert.Equal(t, orchestrator.StateUninstalled, inst.State)
			assert.Equal(t, tc.wantReason, inst.Reason)
			assert.Equal(t, []string{"demo"}, store.released)
			assert.Equal(t, []string{"demo//true"}, host.removed, "what is left is removed, volumes with purge")
		})
	}
}

// A canceled uninstall stops before removing anything more and leaves the
// installation failed with its ports: it can be uninstalled again.
func TestUninstallCanceled(t *testing.T) {
	store, host := newStore(), &fakeHost{}
	runningDemo(store)
	started := make(chan string, 1)
	n := 0
	e := orchestrator.New(orchestrator.Deps{
		Catalog: fakeCatalog{}, Builder: fakeBuilder{}, Host: host, Installations: store, Runs: store, Now: time.Now,
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) },
		Runner: ctxRunner(func(ctx context.Context, req orchestrator.RunRequest) (orchestrator.RunResult, error) {
			started <- req.RunID
			<-ctx.Done() // until the job is canceled
			return orchestrator.RunResult{Status: orchestrator.RunCanceled}, nil
		}),
	})
	require.NoError(t, e.Recover(t.Context()))
	done := make(chan error, 1)
	go func() {
		_, err := e.Uninstall(context.WithoutCancel(t.Context()), orchestrator.UninstallRequest{Name: "demo"})
		done <- err
	}()
	id := <-started
	_, err := e.CancelJob(t.Context(), id)
	require.NoError(t, err)
	run := <-store.finished
	assert.Equal(t, orchestrator.RunCanceled, run.Status)
	err = <-done
	assert.Equal(t, orchestrator.ECONFLICT, orchestrator.ErrorCode(err), "got %v", err)
	inst, _ := store.Installation(t.Context(), "demo")
	assert.Equal(t, orchestrator.StateFailed, inst.State)
	assert.Empty(t, store.released, "the ports stay reserved")
	assert.Empty(t, host.removed, "nothing is removed after the cancel")
}

type ctxRunner func(ctx context.Context, req orchestrator.RunRequest) (orchestrator.RunResult, error)

func (f ctxRunner) Run(ctx context.Context, req orchestrator.RunRequest) (orchestrator.RunResult, error) {
	return f(ctx, req)
}

// A run accepted while the engine shuts down is recorded as failed at once:
// no installation is left installing, its ports are released.
func TestRunRefusedAtShutdownIsRecorded(t *testing.T) {
	store := newStore()
	e := newEngine(&fakeHost{}, store, func(orchestrator.RunRequest) (orchestrator.RunResult, error) { panic("must not run") })
	e.Shutdown(t.Context())
	_, err := e.Install(t.Context(), orchestrator.InstallRequest{App: "demo"})
	assert.Equal(t, orchestrator.EUNAVAILABLE, orchestrator.ErrorCode(err), "got %v", err)
	run := <-store.finished
	assert.Equal(t, orchestrator.RunFailed, run.Status)
	inst, _ := store.Installation(t.Context(), "demo")
	assert.Equal(t, orchestrator.StateFailed, inst.State, "not left installing")
	assert.Equal(t, []string{"demo"}, store.released)
}

// A failed upgrade keeps the outputs the run produced and leaves the
// installation failed with the reason; a failed custom action leaves it as
// it was.
func TestModifyRecordsTheOutcome(t *testing.T) {
	for _, tc := range []struct {
		name      string
		start     func(e *orchestrator.Engine) error
		wantState orchestrator.State
		reason    string
	}{
		{"upgrade", func(e *orchestrator.Engine) error {
			_, err := e.Upgrade(context.Background(), orchestrator.UpgradeRequest{Name: "demo"})
			return err
		}, orchestrator.StateFailed, "upgrade failed: boom"},
		{"custom action", func(e *orchestrator.Engine) error {
			_, err := e.Action(context.Background(), orchestrator.ActionRequest{Name: "demo", Action: "stop"})
			return err
		}, orchestrator.StateRunning, "stop failed: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			runningDemo(store)
			e := newEngine(&fakeHost{}, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
				_, _ = io.WriteString(req.Out, "Error: boom\n")
				return orchestrator.RunResult{Status: orchestrator.RunFailed,
					Outputs: []orchestrator.Output{{Name: "porter-state", Internal: true}}}, nil
			})
			require.NoError(t, tc.start(e))
			run := <-store.finished
			assert.Equal(t, orchestrator.RunFailed, run.Status)
			assert.Len(t, run.Values, 1, "porter-state is kept after a failure")
			inst, _ := store.Installation(t.Context(), "demo")
			assert.Equal(t, tc.wantState, inst.State)
			assert.Equal(t, tc.reason, inst.Reason)
		})
	}
}

func TestStartUninstallReturnsTheJob(t *testing.T) {
	store := newStore()
	runningDemo(store)
	release := make(chan struct{})
	e := newEngine(&fakeHost{}, store, func(orchestrator.RunRequest) (orchestrator.RunResult, error) {
		<-release
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	})
	inst, err := e.StartUninstall(t.Context(), orchestrator.UninstallRequest{Name: "demo"})
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateUninstalling, inst.State)
	assert.Equal(t, orchestrator.ActionUninstall, inst.Active)
	require.Len(t, store.begun, 1)
	assert.Equal(t, store.begun[0].ID, inst.LastRunID, "the installation names its job")
	_, err = e.StartUninstall(t.Context(), orchestrator.UninstallRequest{Name: "nope"})
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
	close(release)
	run := <-store.finished
	assert.Equal(t, orchestrator.RunSucceeded, run.Status)
	assert.Equal(t, map[string]string{orchestrator.OutputRemovedContainers: "", orchestrator.OutputRemovedNetworks: "",
		orchestrator.OutputRemovedVolumes: "", orchestrator.OutputKeptVolumes: "", orchestrator.OutputFreedPorts: "9005,3310"},
		run.Outputs, "the job records what it removed and freed")
}

// UninstallAll runs the uninstall jobs side by side, never more than
// MaxParallelUninstalls at once, and reports every app in order.
func TestUninstallAllIsBounded(t *testing.T) {
	store := newStore()
	store.finished = make(chan orchestrator.Run, 16)
	names := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"}
	for _, n := range names {
		store.insts[n] = orchestrator.Installation{Name: n, App: "demo", State: orchestrator.StateRunning}
	}
	var mu sync.Mutex
	running, most := 0, 0
	e := newEngine(&fakeHost{}, store, func(req orchestrator.RunRequest) (orchestrator.RunResult, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		if req.Installation == "a3" {
			return orchestrator.RunResult{}, orchestrator.Errorf(orchestrator.EUNAVAILABLE, "docker went away")
		}
		return orchestrator.RunResult{Status: orchestrator.RunSucceeded}, nil
	})
	res, err := e.UninstallAll(t.Context(), false)
	require.NoError(t, err)
	require.Len(t, res, len(names))
	for i, r := range res {
		assert.Equal(t, names[i], r.Name, "in the list's order")
		require.NoError(t, r.Err, "a bundle failure is no uninstall failure: %s", r.Name)
		assert.Equal(t, orchestrator.StateUninstalled, r.Result.Installation.State)
	}
	assert.LessOrEqual(t, most, orchestrator.MaxParallelUninstalls)
	assert.Greater(t, most, 1, "the jobs run side by side")
}
