package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/websoft9/stackhub/porter-mixin/events"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	portermixin "github.com/websoft9/stackhub/porter-mixin"
)

// recorder is a Composer that records which verb reached it.
type recorder struct {
	calls []string
	err   error
}

func (r *recorder) do(name string) error { r.calls = append(r.calls, name); return r.err }

func (r *recorder) Up(context.Context, portermixin.Plan) error      { return r.do("up") }
func (r *recorder) Down(context.Context, portermixin.Plan) error    { return r.do("down") }
func (r *recorder) Start(context.Context, portermixin.Plan) error   { return r.do("start") }
func (r *recorder) Stop(context.Context, portermixin.Plan) error    { return r.do("stop") }
func (r *recorder) Restart(context.Context, portermixin.Plan) error { return r.do("restart") }
func (r *recorder) Inspect(context.Context, portermixin.Plan, string) (json.RawMessage, error) {
	return nil, errors.New("not running")
}

type result struct {
	code        int
	stdout      string
	stderr      string
	composeUsed []string
}

func runArgs(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := &portermixin.Mixin{
		In: strings.NewReader(stdin), Out: &stdout, Err: &stderr,
		Getenv: func(string) string { return "" }, WorkDir: t.TempDir(), OutputsDir: t.TempDir(),
	}
	rec := &recorder{}
	code := run(t.Context(), args, m, func(io.Writer) (portermixin.Composer, portermixin.Execer) { return rec, nil })
	return result{code, stdout.String(), stderr.String(), rec.calls}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version", "--output", "json"}, {"version", "--output=json"}, {"version", "-o", "json"}, {"version", "--output", "json", "--debug"}} {
		r := runArgs(t, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
		var info portermixin.VersionInfo
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &info), args)
		assert.Equal(t, "websoft9", info.Name, "Porter drops a mixin whose version names another")
		assert.Regexp(t, `^v[0-9]+\.[0-9]+\.[0-9]+`, info.Version, "Porter checks websoft9@<constraint> against it")
	}
	for _, args := range [][]string{{"version"}, {"version", "--output", "plaintext"}} {
		r := runArgs(t, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "websoft9 mixin "+portermixin.Version+" ("+portermixin.Commit+") by StackHub\n", r.stdout)
	}
	r := runArgs(t, "", "version", "--output", "yaml")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "Error: version: unsupported output format \"yaml\" (json or plaintext)\n", r.stderr)
}

func TestClientVerbs(t *testing.T) {
	r := runArgs(t, "actions: {install: []}\n", "build", "--debug")
	require.Equal(t, 0, r.code)
	assert.Equal(t, portermixin.BuildLine+"\n", r.stdout)

	r = runArgs(t, "", "schema")
	require.Equal(t, 0, r.code)
	assert.True(t, json.Valid([]byte(r.stdout)))

	r = runArgs(t, "actions:\n  install:\n  - websoft9: {compose: c.yml, main: web}\n", "lint")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"Code":"websoft9-100"`)

	r = runArgs(t, "actions: [", "lint")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout, "Porter parses stdout of a failed lint as nothing")
	assert.Contains(t, r.stderr, "Error: lint: read BuildInput")
}

func TestInputFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "input.yaml")
	require.NoError(t, os.WriteFile(file, []byte("actions:\n  install:\n  - websoft9: {app: \"${ installation.name }\", compose: c.yml, main: web}\n"), 0o644))
	for _, args := range [][]string{{"lint", "-f", file}, {"lint", "--file", file, "--debug"}, {"lint", "-f=" + file}} {
		r := runArgs(t, "not: [yaml", args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "[]\n", r.stdout, "-f replaces stdin")
	}
	r := runArgs(t, "", "lint", "-f", filepath.Join(t.TempDir(), "missing.yaml"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Error: open ")

	step := filepath.Join(t.TempDir(), "step.yaml")
	require.NoError(t, os.WriteFile(step, []byte("restart:\n- websoft9: {app: demo}\n"), 0o644))
	r = runArgs(t, "", "invoke", "--action", "restart", "-f", step)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"restart"}, r.composeUsed)
}

func TestRuntimeVerbs(t *testing.T) {
	tests := []struct {
		args  []string
		stdin string
		want  []string
	}{
		{[]string{"install"}, "install:\n- websoft9: {app: demo, compose: c.yml, main: web}\n", []string{"up"}},
		{[]string{"upgrade", "--debug"}, "upgrade:\n- websoft9: {app: demo, compose: c.yml, main: web}\n", []string{"up"}},
		{[]string{"uninstall"}, "uninstall:\n- websoft9: {app: demo}\n", []string{"down"}},
		{[]string{"invoke", "--action", "start"}, "start:\n- websoft9: {app: demo}\n", []string{"start"}},
		{[]string{"invoke", "--action=stop"}, "stop:\n- websoft9: {app: demo}\n", []string{"stop"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runArgs(t, tc.stdin, tc.args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, tc.want, r.composeUsed)
			assert.Contains(t, r.stdout, events.Prefix+`{"stage":"done"`)
			assert.Empty(t, r.stderr)
		})
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		wantStderr string
	}{
		{"no command", nil, "", 2, "usage: websoft9"},
		{"only --debug", []string{"--debug"}, "", 2, "usage: websoft9"},
		{"unknown command", []string{"backup"}, "", 2, `unknown command "backup"`},
		{"unknown command with flags", []string{"backup", "--force", "-f", "x"}, "", 2, `unknown command "backup"`},
		{"unknown flag", []string{"lint", "--strict"}, "", 2, "flag provided but not defined: -strict"},
		{"extra argument", []string{"schema", "now"}, "", 2, `schema: unexpected arguments ["now"]`},
		{"invoke unknown action", []string{"invoke", "--action", "backup"}, "backup:\n- websoft9: {app: demo}\n", 1, "Error: websoft9 does not implement action backup"},
		{"invoke without action", []string{"invoke"}, "", 1, "Error: invoke: --action is required"},
		{"install step error", []string{"install"}, "install:\n- websoft9: {app: demo}\n", 1, `Error: install step "": compose or services is required`},
		{"wrong action on stdin", []string{"install"}, "upgrade:\n- websoft9: {app: demo}\n", 1, "Error: read install step: the input holds a upgrade step"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runArgs(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.code, r.code)
			assert.Contains(t, r.stderr, tc.wantStderr)
		})
	}
}

func TestFeedVerb(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "v0.1.0"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "v0.1.0", "websoft9-linux-amd64"), []byte("bin"), 0o755))
	out := filepath.Join(dir, "atom.xml")
	r := runArgs(t, "", "feed", "--dir", dir, "--url", "http://127.0.0.1:8080/mixins", "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(b), `<link rel="download" href="http://127.0.0.1:8080/mixins/v0.1.0/websoft9-linux-amd64"></link>`)

	r = runArgs(t, "", "feed", "--dir", dir)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "feed: --dir and --url are required")
}
