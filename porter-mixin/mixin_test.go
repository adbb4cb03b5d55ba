package portermixin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/websoft9/stackhub/porter-mixin/events"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCompose records the calls of the runtime verbs; err fails every call.
type fakeCompose struct {
	calls   []string
	plans   []Plan
	inspect map[string]string
	err     error
}

func (f *fakeCompose) record(name string, p Plan) error {
	f.calls = append(f.calls, name)
	f.plans = append(f.plans, p)
	return f.err
}

func (f *fakeCompose) Up(_ context.Context, p Plan) error      { return f.record("up", p) }
func (f *fakeCompose) Down(_ context.Context, p Plan) error    { return f.record("down", p) }
func (f *fakeCompose) Start(_ context.Context, p Plan) error   { return f.record("start", p) }
func (f *fakeCompose) Stop(_ context.Context, p Plan) error    { return f.record("stop", p) }
func (f *fakeCompose) Restart(_ context.Context, p Plan) error { return f.record("restart", p) }
func (f *fakeCompose) Inspect(_ context.Context, _ Plan, service string) (json.RawMessage, error) {
	doc, ok := f.inspect[service]
	if !ok {
		return nil, errors.New("no container")
	}
	return json.RawMessage(doc), nil
}

func newTestMixin(t *testing.T, input string, compose Composer) (*Mixin, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	return &Mixin{
		In: strings.NewReader(input), Out: &out, Err: &out,
		Getenv:     func(k string) string { return map[string]string{"CNAB_REVISION": "rev-1"}[k] },
		WorkDir:    "/cnab/app",
		OutputsDir: filepath.Join(t.TempDir(), "outputs"),
		Compose:    compose,
	}, &out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// eventLines returns the event lines of out, and checks every other line is a
// websoft9 log line.
func eventLines(t *testing.T, out string) []events.Event {
	t.Helper()
	var evs []events.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if e, ok := events.Parse(sc.Text()); ok {
			evs = append(evs, e)
			continue
		}
		assert.True(t, strings.HasPrefix(sc.Text(), Name+": "), "log line %q", sc.Text())
	}
	return evs
}

func TestInstall(t *testing.T) {
	input, err := os.ReadFile("testdata/step/install.yaml")
	require.NoError(t, err)
	fake := &fakeCompose{inspect: map[string]string{"web": webInspect}}
	m, out := newTestMixin(t, string(input), fake)
	require.NoError(t, m.Install(t.Context()))

	assert.Equal(t, []string{"up"}, fake.calls)
	assert.Equal(t, "/cnab/app/docker-compose.yml", fake.plans[0].ComposeFile)
	for name, want := range map[string]string{"containerName": "websoft9-demo", "port": "9001", "webPort": "9001", "health": "healthy", "greeting": "hello"} {
		assert.Equal(t, want, readFile(t, filepath.Join(m.OutputsDir, name)), name)
	}
	assert.Equal(t, []events.Event{
		{Stage: events.StageBegin, Action: "install", App: "demo"},
		{Stage: events.StageOutputs, Action: "install", App: "demo", Message: "containerName, port, webPort, health, greeting"},
		{Stage: events.StageDone, Action: "install", App: "demo"},
	}, eventLines(t, out.String()))
	assert.Contains(t, out.String(), "websoft9: install project websoft9-demo from docker-compose.yml\n")
}

func TestUpgrade_InlineServices(t *testing.T) {
	input, err := os.ReadFile("testdata/step/install-inline.yaml")
	require.NoError(t, err)
	fake := &fakeCompose{}
	m, out := newTestMixin(t, strings.Replace(string(input), "install:", "upgrade:", 1), fake)
	require.NoError(t, m.Upgrade(t.Context()))
	assert.Equal(t, []string{"up"}, fake.calls)
	assert.Equal(t, "upgrade", fake.plans[0].Action)
	assert.Contains(t, fake.plans[0].Services, "db")
	assert.Contains(t, out.String(), "websoft9: upgrade project websoft9-inline-demo from inline services\n")
}

func TestUp_Failures(t *testing.T) {
	tests := []struct {
		name, input string
		compose     *fakeCompose
		wantErr     string
	}{
		{"no model", "install:\n- websoft9: {app: a, main: web}\n", &fakeCompose{}, "install step \"\": compose or services is required"},
		{"no main", "install:\n- websoft9: {app: a, compose: c.yml}\n", &fakeCompose{}, "main is required"},
		{"compose fails", "install:\n- websoft9: {app: a, compose: c.yml, main: web}\n", &fakeCompose{err: errors.New("container websoft9-a exited (1)")}, "install websoft9-a: container websoft9-a exited (1)"},
		{"output fails", "install:\n- websoft9: {app: a, compose: c.yml, main: web, outputs: [{name: h, container: web, jsonPath: $.State}]}\n", &fakeCompose{}, `install step "": output h: inspect service web: no container`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, out := newTestMixin(t, tc.input, tc.compose)
			err := m.Install(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			evs := eventLines(t, out.String())
			require.NotEmpty(t, evs)
			last := evs[len(evs)-1]
			assert.Equal(t, events.StageFailed, last.Stage)
			assert.Equal(t, err.Error(), last.Message)
		})
	}
}

func TestUninstall(t *testing.T) {
	input, err := os.ReadFile("testdata/step/uninstall.yaml")
	require.NoError(t, err)
	fake := &fakeCompose{}
	m, out := newTestMixin(t, string(input), fake)
	require.NoError(t, m.Uninstall(t.Context()))
	assert.Equal(t, []string{"down"}, fake.calls)
	assert.True(t, fake.plans[0].Purge)
	assert.Contains(t, out.String(), "websoft9: uninstall project websoft9-demo (purge volumes: true)\n")

	fake = &fakeCompose{}
	m, _ = newTestMixin(t, "uninstall:\n- websoft9: {app: demo}\n", fake)
	require.NoError(t, m.Uninstall(t.Context()))
	assert.False(t, fake.plans[0].Purge, "volumes are kept unless purge")
	assert.False(t, fake.plans[0].HasModel())
}

func TestInvoke(t *testing.T) {
	for _, action := range InvokeActions {
		t.Run(action, func(t *testing.T) {
			fake := &fakeCompose{inspect: map[string]string{"web": webInspect}}
			m, out := newTestMixin(t, action+":\n- websoft9:\n    app: demo\n    start: [web]\n    wait: 5s\n    outputs: [{name: state, container: web, jsonPath: $.State.Status}]\n", fake)
			require.NoError(t, m.Invoke(t.Context(), action))
			assert.Equal(t, []string{action}, fake.calls)
			assert.Equal(t, []string{"web"}, fake.plans[0].Start)
			assert.Equal(t, "running", readFile(t, filepath.Join(m.OutputsDir, "state")))
			evs := eventLines(t, out.String())
			assert.Equal(t, events.Event{Stage: events.StageBegin, Action: action, App: "demo"}, evs[0])
		})
	}
}

func TestInvoke_Errors(t *testing.T) {
	m, _ := newTestMixin(t, "backup:\n- websoft9: {app: demo}\n", &fakeCompose{})
	err := m.Invoke(t.Context(), "backup")
	require.EqualError(t, err, "websoft9 does not implement action backup (it implements start, stop, restart)")

	m, _ = newTestMixin(t, "", &fakeCompose{})
	require.ErrorContains(t, m.Invoke(t.Context(), ""), "invoke: --action is required")

	m, _ = newTestMixin(t, "start:\n- websoft9: {app: demo}\n", &fakeCompose{})
	require.ErrorContains(t, m.Invoke(t.Context(), "stop"), "read stop step: the input holds a start step")

	fake := &fakeCompose{err: errors.New("no container found")}
	m, _ = newTestMixin(t, "stop:\n- websoft9: {app: demo}\n", fake)
	require.EqualError(t, m.Invoke(t.Context(), "stop"), "stop websoft9-demo: no container found")
}

func TestBuild(t *testing.T) {
	m, out := newTestMixin(t, "actions: {install: []}\n", nil)
	require.NoError(t, m.Build())
	assert.Equal(t, "# websoft9 mixin has no buildtime dependencies\n", out.String())
}

func TestPrintVersion(t *testing.T) {
	m, out := newTestMixin(t, "", nil)
	require.NoError(t, m.PrintVersion("json"))
	var info map[string]string
	require.NoError(t, json.Unmarshal(out.Bytes(), &info))
	assert.Equal(t, map[string]string{"name": "websoft9", "version": Version, "commit": Commit, "author": "StackHub"}, info)

	for _, format := range []string{"", "plaintext"} {
		out.Reset()
		require.NoError(t, m.PrintVersion(format))
		assert.Equal(t, "websoft9 mixin "+Version+" ("+Commit+") by StackHub\n", out.String())
	}

	out.Reset()
	require.EqualError(t, m.PrintVersion("yaml"), `version: unsupported output format "yaml" (json or plaintext)`)
	assert.Empty(t, out.String())
}
