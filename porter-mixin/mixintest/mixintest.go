// Package mixintest lints bundle directories in tests as `stackhub bundle
// lint` does with bin/websoft9 beside it, but in process: Porter's rules,
// bundle.json generation, the bundle policy and the websoft9 mixin's own
// lint. A harness: no shipped binary links it.
package mixintest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/build"
	portermixin "github.com/websoft9/stackhub/porter-mixin"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// Websoft9 lints m's websoft9 steps as `websoft9 lint` does for Porter,
// reading the compose files in the bundle directory dir.
func Websoft9(_ context.Context, dir string, m *manifest.Manifest) ([]manifest.Finding, error) {
	input, err := manifest.BuildInput(m, portermixin.Name)
	if err != nil {
		return nil, err
	}
	results, err := portermixin.LintInput(bytes.NewReader(input), dir)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(results)
	if err != nil {
		return nil, err
	}
	return manifest.MixinLintFindings(m, portermixin.Name, out)
}

// Lint runs build.Lint on the bundle directory dir with Websoft9.
func Lint(t testing.TB, dir string) []manifest.Finding {
	t.Helper()
	findings, err := build.Lint(t.Context(), build.LintOptions{Dir: dir, Mixins: map[string]build.MixinLinter{portermixin.Name: Websoft9}})
	require.NoError(t, err)
	return findings
}
