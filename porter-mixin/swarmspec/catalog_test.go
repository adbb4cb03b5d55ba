package swarmspec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// bundlesDir is the repository's bundles directory.
const bundlesDir = "../../bundles"

// catalogBundle is one bundle's install model, as the mixin would load it
// for an installation named sample.
type catalogBundle struct {
	name    string // the directory under bundles, testdata/ for the test catalog
	main    string
	project *types.Project
}

// sampleData is the template data of an install with each integer
// parameter at its minimum (the ports), secrets set and the other
// parameters at their default: what bundles/bundles_test.go's sampleData
// gives, so both tests look at the same model.
func sampleData(m *manifest.Manifest) (data map[string]any, params map[string]any) {
	params = map[string]any{}
	for _, p := range m.Parameters {
		switch def, hasDef := p.Default(); {
		case p.Type() == "integer":
			v, _ := p.IntBound("minimum")
			params[p.Name] = v
		case hasDef:
			params[p.Name] = def
		default:
			params[p.Name] = "Sample0" + strings.Repeat("x", 25)
		}
	}
	images := map[string]any{}
	for alias, img := range m.Images {
		images[alias] = map[string]any{"repository": img.Repository, "tag": img.Tag, "digest": img.Digest}
	}
	return map[string]any{
		"installation": map[string]any{"name": "sample"},
		"bundle":       map[string]any{"name": m.Name, "parameters": params, "images": images},
	}, params
}

// loadCatalogBundle renders dir's websoft9 install step with sampleData
// and loads its compose file with the step's env and passEnv variables,
// as the mixin does in the invocation image.
func loadCatalogBundle(t *testing.T, dir string) catalogBundle {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	m, err := manifest.Parse(raw)
	require.NoError(t, err, dir)
	var steps []manifest.Step
	for _, s := range m.Actions[manifest.ActionInstall] {
		if s.Mixin == "websoft9" {
			steps = append(steps, s)
		}
	}
	require.Len(t, steps, 1, "%s: one websoft9 install step", dir)
	data, params := sampleData(m)
	step, err := m.RenderStep(steps[0], data)
	require.NoError(t, err, dir)

	var env []string
	stepEnv, _ := step.Data["env"].(map[string]any)
	for k, v := range stepEnv {
		env = append(env, k+"="+fmt.Sprint(v))
	}
	passEnv, _ := step.Data["passEnv"].([]any)
	for _, v := range passEnv {
		name := fmt.Sprint(v)
		i := slices.IndexFunc(m.Parameters, func(p manifest.Parameter) bool { return p.EnvName() == name })
		require.GreaterOrEqual(t, i, 0, "%s: passEnv %s is no parameter's variable", dir, name)
		env = append(env, name+"="+fmt.Sprint(params[m.Parameters[i].Name]))
	}
	slices.Sort(env)
	compose, _ := step.Data["compose"].(string)
	require.NotEmpty(t, compose, "%s: the install step names a compose file", dir)
	main, _ := step.Data["main"].(string)
	rel, err := filepath.Rel(bundlesDir, dir)
	require.NoError(t, err)
	return catalogBundle{name: rel, main: main, project: mustLoadFile(t, filepath.Join(dir, compose), "websoft9-sample", env)}
}

// catalogDirs returns every bundle directory: the catalog's, then the
// test catalog's.
func catalogDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, pattern := range []string{"*/porter.yaml", "testdata/*/porter.yaml"} {
		found, err := filepath.Glob(filepath.Join(bundlesDir, pattern))
		require.NoError(t, err)
		for _, f := range found {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	require.NotEmpty(t, dirs)
	return dirs
}

// TestCatalog converts every bundle of the repository, once with the
// default options (loopback ports refused) and once as the mixin will
// (OmitLoopbackPorts): testdata/catalog.golden says, per bundle, what
// converts and why not; testdata/catalog/<bundle>.json is the whole plan.
func TestCatalog(t *testing.T) {
	var summary strings.Builder
	summary.WriteString("# Every bundle of bundles/, installed as \"sample\" on node n1 (go test; UPDATE_GOLDEN=1 rewrites).\n")
	for _, dir := range catalogDirs(t) {
		b := loadCatalogBundle(t, dir)
		opts := Options{App: "sample", Main: b.main, Node: Node{ID: "n1"}, RunID: "run-1"}

		_, err := Convert(b.project, opts)
		fmt.Fprintf(&summary, "\n%s\n  default options: ", b.name)
		if err != nil {
			assert.ErrorIs(t, err, ErrUnsupported, b.name)
			uerr, _ := errorsAsUnsupported(err)
			fmt.Fprintf(&summary, "refused\n")
			for _, p := range uerr.Problems {
				fmt.Fprintf(&summary, "    %s\n", p.Error())
			}
		} else {
			summary.WriteString("converts\n")
		}

		opts.LoopbackPorts = OmitLoopbackPorts
		plan, err := Convert(b.project, opts)
		fmt.Fprintf(&summary, "  OmitLoopbackPorts: ")
		if err != nil {
			assert.ErrorIs(t, err, ErrUnsupported, b.name)
			fmt.Fprintf(&summary, "refused: %v\n", err)
			continue
		}
		summary.WriteString("converts\n")
		for _, line := range strings.Split(strings.TrimSuffix(plan.String(), "\n"), "\n") {
			fmt.Fprintf(&summary, "    %s\n", line)
		}
		out, err := json.MarshalIndent(plan, "", "  ")
		require.NoError(t, err)
		assertGolden(t, filepath.Join("testdata", "catalog", strings.ReplaceAll(b.name, "/", "-")+".json"), append(out, '\n'))
	}
	assertGolden(t, filepath.Join("testdata", "catalog.golden"), []byte(summary.String()))
}
