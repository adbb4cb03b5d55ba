package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
)

// The read model answers from memory, so every write must show in the very
// next read: the server's own, and the tokens stackhub token create adds to
// the server's file from another process while it runs.

func TestReadModelSeesEveryWrite(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	list, err := db.Installations(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)

	inst, run := newInstall("a", 9001)
	require.NoError(t, db.BeginInstall(ctx, inst, run))
	got, err := db.Installation(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateInstalling, got.State)
	assert.Equal(t, orchestrator.ActionInstall, got.Active)

	run.Status, run.Finished, run.Outputs = orchestrator.RunSucceeded, t0, map[string]string{"url": "http://x"}
	require.NoError(t, db.FinishRun(ctx, run, orchestrator.StateRunning, "", false))
	got, err = db.Installation(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateRunning, got.State)
	assert.Empty(t, got.Active)
	assert.Equal(t, map[string]string{"url": "http://x"}, got.Outputs)

	// What a caller is given is its own: changing it changes no later read.
	got.Ports[0].Port = 1
	got.Containers[0] = "x"
	got.Outputs["url"] = "changed"
	again, err := db.Installation(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 9001, again.Port("port"))
	assert.Equal(t, "websoft9-a", again.Containers[0])
	assert.Equal(t, "http://x", again.Outputs["url"])

	un := orchestrator.Run{ID: "run-un", Installation: "a", Action: "uninstall", Revision: "rev", Status: orchestrator.RunRunning, Created: t0}
	require.NoError(t, db.BeginRun(ctx, un, orchestrator.StateUninstalling))
	got, err = db.Installation(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, orchestrator.StateUninstalling, got.State)
	assert.Equal(t, orchestrator.ActionUninstall, got.Active)
	un.Status, un.Finished = orchestrator.RunSucceeded, t0
	require.NoError(t, db.FinishRun(ctx, un, orchestrator.StateUninstalled, "", true))
	_, err = db.Installation(ctx, "a")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "an uninstalled app is gone at once")
	list, err = db.Installations(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestReadModelTokenMadeBeside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := t.Context()
	server, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer server.Close()
	other, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer other.Close()

	// Warm the server's read model, then change the file through the other.
	_, err = server.Installations(ctx)
	require.NoError(t, err)
	secret, _, err := orchestrator.NewToken(ctx, other, "t1", "cli", orchestrator.ScopeAdmin, t0)
	require.NoError(t, err)
	_, err = orchestrator.Authenticate(ctx, server, secret, t0)
	require.NoError(t, err, "a token made beside the server works at once")
	// The server revokes (token revoke goes through the API).
	require.NoError(t, server.RevokeToken(ctx, "t1", t0))
	_, err = orchestrator.Authenticate(ctx, server, secret, t0)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "a revoked token is refused at once")
	_, err = orchestrator.Authenticate(ctx, server, "shk_"+strings.Repeat("x", 43), t0)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "an unknown token is refused")
}

// TestReadModelSeesAnotherProcess has a child process (this test binary,
// run again) create a token in the file the parent serves from, as stackhub
// token create does.
func TestReadModelSeesAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := t.Context()
	server, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer server.Close()
	_, err = server.Installations(ctx)
	require.NoError(t, err)

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReadModelChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "READMODEL_CHILD_DB="+path)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	out := string(b)
	var secret string
	_, err = fmt.Sscanf(out[strings.Index(out, "SECRET=")+len("SECRET="):], "%s", &secret)
	require.NoError(t, err, out)
	_, err = orchestrator.Authenticate(ctx, server, secret, t0)
	require.NoError(t, err, "a token another process made works at once")
	require.NoError(t, server.RevokeToken(ctx, "child", t0))
	_, err = orchestrator.Authenticate(ctx, server, secret, t0)
	assert.Equal(t, orchestrator.EUNAUTHORIZED, orchestrator.ErrorCode(err), "revoked by the server, refused at once")
}

// TestReadModelChild is the child of TestReadModelSeesAnotherProcess; it
// does nothing in a normal run.
func TestReadModelChild(t *testing.T) {
	path := os.Getenv("READMODEL_CHILD_DB")
	if path == "" {
		t.Skip("the child of TestReadModelSeesAnotherProcess")
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	secret, _, err := orchestrator.NewToken(ctx, db, "child", "child", orchestrator.ScopeAdmin, t0)
	require.NoError(t, err)
	fmt.Printf("SECRET=%s\n", secret)
}

// TestReadModelConcurrent reads while installs commit: every read sees a
// consistent installation (its ports and containers with it), and after the
// last commit every install is listed. Run with -race.
func TestReadModelConcurrent(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	const n = 40
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				list, err := db.Installations(ctx)
				if !assert.NoError(t, err) {
					return
				}
				for _, inst := range list {
					assert.Len(t, inst.Ports, 1, inst.Name)
					assert.Len(t, inst.Containers, 2, inst.Name)
				}
			}
		})
	}
	for i := range n {
		inst, run := newInstall(fmt.Sprintf("c%d", i), 10000+i)
		require.NoError(t, db.BeginInstall(ctx, inst, run))
	}
	close(stop)
	wg.Wait()
	list, err := db.Installations(ctx)
	require.NoError(t, err)
	assert.Len(t, list, n)
}
