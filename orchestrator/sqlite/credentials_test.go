package sqlite_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestRevealOutputsOnce(t *testing.T) {
	db := MustOpenDB(t)
	db.Sealer = xorSealer{}
	ctx := t.Context()
	names := []string{"db_password", "db_root_password"}

	_, _, _, err := db.RevealOutputs(ctx, "demo", names, t0)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "nothing installed")

	inst, run := newInstall("demo", 9001)
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	run.Status, run.Finished = orchestrator.RunSucceeded, t0
	run.Values = []orchestrator.Output{
		{Name: "porter-state", Value: []byte("x"), Internal: true, Sensitive: true},
		{Name: "db_password", Value: []byte("pw-1"), Sensitive: true},
		{Name: "db_root_password", Value: []byte("root-1"), Sensitive: true},
		{Name: "port", Value: []byte("9001")},
	}
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateRunning, "", false))

	// Many readers at once: exactly one gets the values.
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 8 {
		wg.Go(func() {
			values, present, shown, err := db.RevealOutputs(ctx, "demo", names, t0.Add(time.Minute))
			if err != nil {
				t.Error(err)
				return
			}
			assert.Equal(t, names, present)
			mu.Lock()
			defer mu.Unlock()
			if len(values) > 0 {
				got++
				assert.Equal(t, map[string]string{"db_password": "pw-1", "db_root_password": "root-1"}, values)
				assert.Nil(t, shown)
			} else {
				require.NotNil(t, shown)
				assert.Equal(t, t0.Add(time.Minute), *shown)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, got, "the values are shown once")

	// A new install (after an uninstall) shows its new values once again.
	release := orchestrator.Run{ID: "un1", Installation: "demo", Action: "uninstall", Revision: "r", Status: orchestrator.RunRunning, Created: t0.Add(2 * time.Minute)}
	require.NoError(t, db.BeginRun(ctx, release, orchestrator.StateUninstalling))
	release.Status, release.Finished = orchestrator.RunSucceeded, t0.Add(2*time.Minute)
	require.NoError(t, db.FinishRun(ctx, release, orchestrator.StateUninstalled, "", true))
	inst2, run2 := newInstall("demo", 9002)
	run2.ID, run2.Created = "install-2", t0.Add(3*time.Minute)
	require.NoError(t, db.BeginInstall(ctx, inst2, run2))
	run2.Status, run2.Finished = orchestrator.RunSucceeded, t0.Add(3*time.Minute)
	run2.Values = []orchestrator.Output{{Name: "db_password", Value: []byte("pw-2"), Sensitive: true}}
	require.NoError(t, db.FinishRun(ctx, run2, orchestrator.StateRunning, "", false))
	values, present, shown, err := db.RevealOutputs(ctx, "demo", names, t0.Add(4*time.Minute))
	require.NoError(t, err)
	assert.Nil(t, shown)
	assert.Equal(t, map[string]string{"db_password": "pw-2"}, values, "nothing of the earlier installation")
	assert.Equal(t, []string{"db_password"}, present)
	values, _, shown, err = db.RevealOutputs(ctx, "demo", names, t0.Add(5*time.Minute))
	require.NoError(t, err)
	assert.Empty(t, values)
	require.NotNil(t, shown)
	assert.Equal(t, t0.Add(4*time.Minute), *shown)
}
