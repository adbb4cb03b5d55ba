//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// stackhub runs the CLI against s with token, as `stackhub ARGS --url
// URL --token TOKEN` would, in an empty environment.
func (s server) stackhub(t *testing.T, token string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(t.Context(), append(args, "--url", s.url, "--token", token), mapEnv(nil), &out, &errOut)
	t.Logf("stackhub %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// cliJSON runs the CLI with -o json and decodes stdout into v.
func (s server) cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, stdout, stderr := s.stackhub(t, s.token, append(args, "-o", "json")...)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), v), stdout)
}

func TestCLIAppLifecycle(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServer(t)
	const name = "itest-cli"
	t.Cleanup(func() { _, _ = dockerhost.New(c).RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })

	// Install and wait: the printed port answers.
	code, stdout, stderr := s.stackhub(t, s.token, "app", "install", "demo", "--name", name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "install of itest-cli succeeded: running (demo 0.1.0)")
	assert.Contains(t, stderr, "install itest-cli: queued\n", "plain progress lines off a terminal")
	assert.Contains(t, stderr, "install itest-cli: done\n")
	m := regexp.MustCompile(`(?m)^\s+port\s+(\d+)$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "no port in %q", stdout)
	webPort, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	status, _ := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", webPort))
	assert.Equal(t, 200, status)

	// info and list, as JSON with the API's field names.
	var app App
	s.cliJSON(t, &app, "app", "info", name)
	assert.Equal(t, name, app.AppName)
	assert.Equal(t, "demo", app.App)
	assert.Equal(t, "running", app.State)
	require.NotNil(t, app.Port)
	assert.Equal(t, webPort, *app.Port)
	assert.ElementsMatch(t, []string{"websoft9-itest-cli", "websoft9-itest-cli-db"}, app.Containers)
	var list []map[string]any
	s.cliJSON(t, &list, "app", "list")
	require.Len(t, list, 1)
	assert.Equal(t, name, list[0]["appName"])
	assert.Equal(t, float64(webPort), list[0]["port"])

	// Logs of the main container, the last 5 lines.
	code, stdout, stderr = s.stackhub(t, s.token, "app", "logs", name, "--tail", "5")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	assert.NotEmpty(t, stdout)
	assert.LessOrEqual(t, len(lines), 5)
	assert.Contains(t, stdout, "stackhub-testapp")

	// stop, then start.
	var res jobResult
	s.cliJSON(t, &res, "app", "stop", name)
	assert.Equal(t, JobSucceeded, res.Job.Status)
	assert.Equal(t, "stop", res.Job.Action)
	status, _ = httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", webPort))
	assert.NotEqual(t, 200, status, "stopped")
	code, stdout, stderr = s.stackhub(t, s.token, "app", "start", name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "start of itest-cli succeeded")
	status, _ = httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", webPort))
	assert.Equal(t, 200, status, "started")

	// Exit codes for scripts.
	code, _, stderr = s.stackhub(t, s.token, "app", "install", "nope")
	assert.Equal(t, exitNotFound, code, stderr)
	assert.Contains(t, stderr, "nope is not in the catalog")
	code, _, stderr = s.stackhub(t, s.token, "app", "install", "demo", "--name", name)
	assert.Equal(t, exitConflict, code, stderr)
	code, stdout, stderr = s.stackhub(t, "shk_forged", "app", "list")
	assert.Equal(t, exitUnauthorized, code, stderr)
	assert.NotContains(t, stdout+stderr, "shk_forged", "the token is never printed")
	code, _, stderr = s.stackhub(t, s.token, "app", "info", "itest-none")
	assert.Equal(t, exitNotFound, code, stderr)

	// server and catalog.
	var st ServerStatus
	s.cliJSON(t, &st, "server")
	assert.NotEmpty(t, st.Docker)
	assert.Regexp(t, `^\d+\.\d%$`, st.HDD)
	assert.Equal(t, len(st.Risks), st.Risk)
	var cat []CatalogApp
	s.cliJSON(t, &cat, "catalog")
	names := []string{}
	for _, a := range cat {
		names = append(names, a.Name)
	}
	assert.Contains(t, names, "demo")

	// Uninstall with purge: everything goes, the name is free again.
	start := time.Now()
	var gone Uninstalled
	s.cliJSON(t, &gone, "app", "uninstall", name, "--purge")
	t.Logf("uninstall: %s", time.Since(start).Round(10*time.Millisecond))
	assert.ElementsMatch(t, []string{"websoft9-itest-cli", "websoft9-itest-cli-db"}, gone.RemovedContainers)
	assert.ElementsMatch(t, []string{"websoft9-itest-cli_data", "websoft9-itest-cli_dbdata"}, gone.RemovedVolumes)
	assert.Contains(t, gone.FreedPorts, webPort)
	code, _, _ = s.stackhub(t, s.token, "app", "info", name)
	assert.Equal(t, exitNotFound, code)
	objs, err := dockerhost.New(c).AppObjects(t.Context(), name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Volumes)
}

func TestCLITokensRemote(t *testing.T) {
	dockertest.RequireDocker(t)
	s := startServer(t)
	var tok Token
	s.cliJSON(t, &tok, "token", "create", "--remote", "--name", "ci", "--scope", "read")
	require.True(t, strings.HasPrefix(tok.Token, "shk_"), "got %q", tok.Token)
	assert.Equal(t, "viewer", tok.Scope, "read is the old name of the viewer role")

	// The viewer's token may look, not change.
	code, _, stderr := s.stackhub(t, tok.Token, "app", "list")
	assert.Equal(t, 0, code, stderr)
	code, _, stderr = s.stackhub(t, tok.Token, "app", "install", "demo", "--name", "itest-ro")
	assert.Equal(t, exitUnauthorized, code, stderr)

	var toks []Token
	s.cliJSON(t, &toks, "token", "list")
	ids := []string{}
	for _, x := range toks {
		assert.Empty(t, x.Token, "a list never shows secrets")
		ids = append(ids, x.ID)
	}
	assert.Contains(t, ids, tok.ID)
	code, _, stderr = s.stackhub(t, s.token, "token", "revoke", tok.ID)
	require.Equal(t, 0, code, stderr)
	code, _, _ = s.stackhub(t, tok.Token, "app", "list")
	assert.Equal(t, exitUnauthorized, code, "a revoked token is refused")
}
