package manifest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDemo(t *testing.T) {
	raw, err := os.ReadFile("../../bundles/testdata/demo/porter.yaml")
	require.NoError(t, err)
	m, err := Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, "demo", m.Name)
	assert.Equal(t, []string{"websoft9"}, m.Mixins)
	assert.Equal(t, []string{"docker"}, m.Required)
	assert.Equal(t, []string{"install", "uninstall"}, m.ActionNames())
	p, ok := m.Parameter("db_port")
	require.True(t, ok)
	assert.Equal(t, "integer", p.Type())
	assert.Equal(t, "DB_PORT", p.EnvName())
	lo, _ := p.IntBound("minimum")
	assert.Equal(t, 3307, lo)
	assert.Equal(t, "Start the demo app", m.Actions["install"][0].Description())
}

const minimal = `schemaVersion: 1.0.1
name: x
version: v0.1.0
registry: localhost:5000
mixins: [websoft9]
install:
  - websoft9: {description: a}
uninstall:
  - websoft9: {description: b}
`

func TestParse(t *testing.T) {
	tests := []struct {
		name, yaml, err string
		check           func(t *testing.T, m *Manifest)
	}{
		{name: "minimal, v prefix dropped", yaml: minimal, check: func(t *testing.T, m *Manifest) {
			assert.Equal(t, "0.1.0", m.Version)
		}},
		{name: "custom action", yaml: minimal + "backup:\n  - websoft9: {description: c}\n", check: func(t *testing.T, m *Manifest) {
			assert.Len(t, m.Actions["backup"], 1)
		}},
		{name: "unknown scalar field", yaml: minimal + "colour: blue\n", err: "line 10: colour: unknown field"},
		{name: "reserved custom action", yaml: minimal + "lint:\n  - websoft9: {}\n", err: `custom action "lint" is reserved`},
		{name: "schema version", yaml: strings.Replace(minimal, "1.0.1", "1.2.0", 1), err: `schemaVersion "1.2.0" is not supported`},
		{name: "undeclared mixin", yaml: minimal + "upgrade:\n  - exec: {description: c}\n", err: `uses mixin "exec", which is not declared`},
		{name: "step with two keys", yaml: minimal + "upgrade:\n  - {websoft9: {}, exec: {}}\n", err: "a step is a map with exactly one key"},
		{name: "dependencies refused", yaml: minimal + "dependencies: {}\n", err: "dependencies are not supported yet"},
		{name: "required other than docker", yaml: minimal + "required: [kubernetes]\n", err: `required extension "kubernetes" is not supported`},
		{name: "no install", yaml: strings.Replace(minimal, "install:\n  - websoft9: {description: a}\n", "", 1), err: "install is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.yaml))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, m)
		})
	}
}

func TestMarshalStepShape(t *testing.T) {
	b, err := MarshalStep("install", Step{Mixin: "websoft9", Data: map[string]any{"app": "demo"}})
	require.NoError(t, err)
	assert.Equal(t, "install:\n  - websoft9:\n      app: demo\n", string(b))
}
