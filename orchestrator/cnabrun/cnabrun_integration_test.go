//go:build integration

package cnabrun_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/cnabrun"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

func TestInstallUninstallThroughCNAB(t *testing.T) {
	c := dockertest.RequireDocker(t)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/testdata/demo")))
	res, err := build.Build(t.Context(), build.Options{Dir: filepath.Join(dir), RuntimesDir: dockertest.RuntimesDir(t)})
	require.NoError(t, err)
	require.NoError(t, build.Load(t.Context(), c, res))

	host := dockerhost.New(c)
	r := cnabrun.New(slog.New(slog.NewTextHandler(os.Stderr, nil)), c, host.Ping)
	const inst = "itest-cnab"
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), inst, "", true) })
	web, db := dockertest.FreePort(t, 9001, 9999), dockertest.FreePort(t, 3307, 3399)
	var out syncBuffer
	run := func(action orchestrator.Action, params map[string]any) orchestrator.RunResult {
		t.Helper()
		id := fmt.Sprintf("run-%s-%d", action, time.Now().UnixNano())
		got, err := r.Run(t.Context(), orchestrator.RunRequest{RunID: id, Revision: id, Installation: inst, Action: action,
			Bundle: res.Bundle, Parameters: params, Out: &out})
		require.NoError(t, err)
		return got
	}

	got := run("install", map[string]any{"port": web, "db_port": db})
	require.Equal(t, orchestrator.RunSucceeded, got.Status, "message %q, output:\n%s", got.Message, out.String())
	assert.Equal(t, map[string]string{"containerName": "websoft9-itest-cnab", "port": fmt.Sprint(web), "db_port": fmt.Sprint(db)}, got.Visible())
	var state *orchestrator.Output
	for i := range got.Outputs {
		if got.Outputs[i].Name == "porter-state" {
			state = &got.Outputs[i]
		}
	}
	require.NotNil(t, state, "porter-state is returned for the next run")
	assert.True(t, state.Internal)
	assert.Contains(t, out.String(), "executing install action from demo (installation: itest-cnab)")

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", web))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// cnab-go removed its invocation container.
	left, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", cnabrun.LabelInstallation+"="+inst)})
	require.NoError(t, err)
	assert.Empty(t, left.Items)

	got = run("uninstall", map[string]any{"port": web, "db_port": db, "purge": true})
	require.Equal(t, orchestrator.RunSucceeded, got.Status, "message %q, output:\n%s", got.Message, out.String())
	objs, err := host.AppObjects(t.Context(), inst)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Empty(t, objs.Volumes, "purge removed the volumes")
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunRefusesUndefinedParameter(t *testing.T) {
	c := dockertest.RequireDocker(t)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../bundles/testdata/demo")))
	res, err := build.Build(t.Context(), build.Options{Dir: dir, RuntimesDir: dockertest.RuntimesDir(t)})
	require.NoError(t, err)
	r := cnabrun.New(slog.New(slog.NewTextHandler(os.Stderr, nil)), c, dockerhost.New(c).Ping)
	_, err = r.Run(t.Context(), orchestrator.RunRequest{RunID: "x", Revision: "x", Installation: "itest-undef", Action: "install",
		Bundle: res.Bundle, Parameters: map[string]any{"port": 1}})
	require.Error(t, err)
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "a required parameter is missing: %v", err)
}
