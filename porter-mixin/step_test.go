package portermixin

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func noEnv(string) string { return "" }

func TestReadStep_Install(t *testing.T) {
	in, err := readStep(mustOpen(t, "testdata/step/install.yaml"), "install")
	require.NoError(t, err)
	assert.Empty(t, in.Unknown)
	s := in.Step
	assert.Equal(t, "Start the demo app", s.Description)
	require.Len(t, s.Outputs, 5)
	assert.Equal(t, &PortSelector{Service: "web", Target: 8080}, s.Outputs[1].Port)
	assert.Equal(t, "$.State.Health.Status", s.Outputs[3].JSONPath)
	require.NotNil(t, s.Outputs[4].Value)
	assert.Equal(t, "hello", *s.Outputs[4].Value)

	p, err := s.plan(in.Action, "/cnab/app", func(k string) string { return map[string]string{"CNAB_REVISION": "rev1"}[k] })
	require.NoError(t, err)
	assert.Equal(t, Plan{
		Action: "install", App: "demo", Project: "websoft9-demo", RunID: "rev1",
		ComposeFile: "/cnab/app/docker-compose.yml", WorkDir: "/cnab/app", Main: "web", Start: []string{"web"},
		Env:  map[string]string{"WEB_PORT": "9001", "DB_PORT": "3307", "DEBUG": "false", "RATIO": "1.5", "EMPTY": ""},
		Wait: 60 * time.Second,
	}, p)
	assert.True(t, p.HasModel())
	assert.Empty(t, p.Node, "no Swarm node unless StackHub says so")

	// StackHub placed the app on a Swarm node: the plan carries it.
	p, err = s.plan(in.Action, "/cnab/app", func(k string) string {
		return map[string]string{"CNAB_REVISION": "rev1", naming.EnvSwarmNode: "n1abc"}[k]
	})
	require.NoError(t, err)
	assert.Equal(t, "n1abc", p.Node)
}

func TestReadStep_InlineServices(t *testing.T) {
	in, err := readStep(mustOpen(t, "testdata/step/install-inline.yaml"), "install")
	require.NoError(t, err)
	p, err := in.Step.plan(in.Action, "/cnab/app", noEnv)
	require.NoError(t, err)
	assert.Empty(t, p.ComposeFile)
	assert.True(t, p.HasModel())
	require.Contains(t, p.Services, "web")
	assert.Equal(t, DefaultWait, p.Wait)

	doc, err := inlineDocument(p.Services)
	require.NoError(t, err)
	// Named volumes and networks are declared; tmpfs is not a volume.
	assert.Contains(t, string(doc), "volumes:\n    data: {}\n    dbdata: {}\n")
	assert.Contains(t, string(doc), "networks:\n    front: {}\n")
	assert.Contains(t, string(doc), "services:\n")
}

func TestReadStep_UninstallAndInvoke(t *testing.T) {
	in, err := readStep(mustOpen(t, "testdata/step/uninstall.yaml"), "uninstall")
	require.NoError(t, err)
	p, err := in.Step.plan(in.Action, "/cnab/app", noEnv)
	require.NoError(t, err)
	assert.True(t, p.Purge, `purge: "true" (a rendered parameter is a string)`)
	assert.Equal(t, "3307", p.Env["DB_PORT"])

	in, err = readStep(mustOpen(t, "testdata/step/invoke-stop.yaml"), "stop")
	require.NoError(t, err)
	assert.Equal(t, []string{"someFutureField"}, in.Unknown, "unknown fields are reported, not fatal")
	p, err = in.Step.plan(in.Action, "/cnab/app", noEnv)
	require.NoError(t, err)
	assert.False(t, p.HasModel())
	assert.Equal(t, []string{"web"}, p.Start)
}

func TestReadStep_Errors(t *testing.T) {
	tests := []struct {
		name, input, want, wantErr string
	}{
		{"empty", "", "install", "read install step: no input on stdin"},
		{"not yaml", "install: [", "install", "read install step: yaml"},
		{"other action", "upgrade:\n- websoft9: {app: a}\n", "install", "the input holds a upgrade step"},
		{"two actions", "install: []\nupgrade: []\n", "install", "want exactly one action, got 2"},
		{"two steps", "install:\n- websoft9: {app: a}\n- websoft9: {app: b}\n", "install", "want exactly one step, got 2"},
		{"other mixin", "install:\n- exec: {command: ls}\n", "install", "the step is not a websoft9 step"},
		{"wrong type", "install:\n- websoft9: {app: [a]}\n", "install", "cannot unmarshal !!seq into string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readStep(strings.NewReader(tc.input), tc.want)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestUnknownFields(t *testing.T) {
	in, err := readStep(strings.NewReader(`install:
- websoft9:
    app: a
    servcies: {}
    outputs:
    - name: x
      value: y
    - name: z
      jsonpath: $.Id
      port: {service: web, target: 80, proto: udp}
`), "install")
	require.NoError(t, err)
	assert.Equal(t, []string{"servcies", "outputs[2].jsonpath", "outputs[2].port.proto"}, in.Unknown)
}

func TestPlan_Errors(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name    string
		step    Step
		wantErr string
	}{
		{"no app", Step{}, "app: app name is empty"},
		{"bad app", Step{App: "Blog"}, `app name "Blog" must match`},
		{"both models", Step{App: "a", Compose: "c.yml", Services: map[string]any{"web": map[string]any{}}}, "compose and services are exclusive"},
		{"service not a map", Step{App: "a", Services: map[string]any{"web": "nginx"}}, "services.web must be a map"},
		{"env not scalar", Step{App: "a", Env: map[string]any{"X": []any{1}}}, "env X: must be a scalar"},
		{"bad wait", Step{App: "a", Wait: "soon"}, `wait "soon" is not a positive duration`},
		{"negative wait", Step{App: "a", Wait: "-1s"}, "is not a positive duration"},
		{"bad purge", Step{App: "a", Purge: "maybe"}, `purge: "maybe" is not a boolean`},
		{"purge type", Step{App: "a", Purge: 1}, "purge: must be a boolean"},
		{"output without name", Step{App: "a", Outputs: []OutputSpec{{Value: str("x")}}}, "output 1 has no name"},
		{"output without source", Step{App: "a", Outputs: []OutputSpec{{Name: "x"}}}, "output x: no source"},
		{"output with two sources", Step{App: "a", Outputs: []OutputSpec{{Name: "x", Env: "A", Value: str("v")}}}, "output x: several sources (value, env)"},
		{"jsonPath without container", Step{App: "a", Outputs: []OutputSpec{{Name: "x", JSONPath: "$.Id"}}}, "jsonPath needs container"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.step.plan("install", "/cnab/app", noEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "install step "), "errors name the step: %q", err)
		})
	}
}

func TestRequireModel(t *testing.T) {
	err := Step{App: "a", Main: "web"}.requireModel("install")
	require.ErrorIs(t, err, errNoModel)
	err = Step{App: "a", Compose: "c.yml"}.requireModel("upgrade")
	require.ErrorContains(t, err, "main is required: the service whose container is websoft9-a")
	require.NoError(t, Step{App: "a", Main: "web", Services: map[string]any{"web": map[string]any{}}}.requireModel("install"))
}

// TestPassEnv: passEnv takes values from the invocation environment as
// they are, next to env; names are checked.
func TestPassEnv(t *testing.T) {
	nasty := "a'b\"c: d ${E} #f\ng\\h"
	getenv := func(k string) string { return map[string]string{"DB_PASSWORD": nasty}[k] }
	s := Step{App: "x", Compose: "c.yml", Env: map[string]any{"PORT": 9001}, PassEnv: []string{"DB_PASSWORD", "UNSET"}}
	p, err := s.plan("install", "/cnab/app", getenv)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"PORT": "9001", "DB_PASSWORD": nasty, "UNSET": ""}, p.Env)

	for _, bad := range []Step{
		{App: "x", Compose: "c.yml", PassEnv: []string{"1BAD"}},
		{App: "x", Compose: "c.yml", PassEnv: []string{"PORT"}, Env: map[string]any{"PORT": 1}},
	} {
		_, err := bad.plan("install", "/cnab/app", getenv)
		require.Error(t, err)
	}
}
