package bundles

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestStepsEncodeAlone does what Porter's runtime does before it renders
// a step (getporter/porter pkg/runtime/runtime_manifest.go, getStepTemplate
// and ResolveStep): take the YAML node of one step (install[0], a custom
// action's step, …) from porter.yaml, encode that node alone with yaml.v3,
// and parse the text again. It uses yaml.v3 only, not StackHub's manifest
// reader, so it holds every bundle to Porter's runtime rather than to ours:
// an alias whose anchor is in another step fails here with "unknown
// anchor", as the action would fail under real Porter.
func TestStepsEncodeAlone(t *testing.T) {
	files, err := filepath.Glob("*/porter.yaml")
	require.NoError(t, err)
	more, err := filepath.Glob("testdata/*/porter.yaml")
	require.NoError(t, err)
	files = append(files, more...)
	require.GreaterOrEqual(t, len(files), minApps)
	for _, file := range files {
		t.Run(filepath.Dir(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			steps := porterSteps(t, raw)
			require.NotEmpty(t, steps["install"], "install has steps")
			for _, action := range slices.Sorted(maps.Keys(steps)) {
				for i, node := range steps[action] {
					var buf bytes.Buffer
					enc := yaml.NewEncoder(&buf)
					require.NoError(t, enc.Encode(node))
					require.NoError(t, enc.Close())
					var back map[string]any
					require.NoError(t, yaml.Unmarshal(buf.Bytes(), &back),
						"%s %s[%d] (line %d), encoded alone as Porter's runtime does:\n%s", file, action, i, node.Line, buf.String())
					require.Len(t, back, 1, "%s[%d] is one mixin's step", action, i)
				}
			}
		})
	}
}

// porterSteps returns the step nodes of every action of a manifest: the
// built-in actions and each action named under customActions.
func porterSteps(t *testing.T, raw []byte) map[string][]*yaml.Node {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	top := doc.Content[0]
	require.Equal(t, yaml.MappingNode, top.Kind)
	actions := []string{"install", "upgrade", "uninstall"}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "customActions" {
			ca := top.Content[i+1]
			for j := 0; j < len(ca.Content); j += 2 {
				actions = append(actions, ca.Content[j].Value)
			}
		}
	}
	out := map[string][]*yaml.Node{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		name, val := top.Content[i].Value, top.Content[i+1]
		if slices.Contains(actions, name) {
			require.Equal(t, yaml.SequenceNode, val.Kind, "%s is a list of steps", name)
			out[name] = val.Content
		}
	}
	return out
}
