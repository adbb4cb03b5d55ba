package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const lintClean = `schemaVersion: 1.0.1
name: x
version: 1.0.0
registry: example.com
mixins: [websoft9]
install:
  - websoft9: {description: Start, app: x}
uninstall:
  - websoft9: {description: Stop, app: x}
`

// bundleDir writes porter.yaml into a new directory.
func bundleDir(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(text), 0o644))
	return dir
}

func runLint(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append([]string{"bundle", "lint"}, args...), func(string) string { return "" }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBundleLint_Text(t *testing.T) {
	dir := bundleDir(t, lintClean+"colour: blue\nparameters:\n  - name: p\n    type: port\n    sensitive: \"yes\"\noutputs:\n  - name: o\n")
	file := filepath.Join(dir, "porter.yaml")
	code, stdout, stderr := runLint(t, dir)

	assert.Equal(t, 1, code, "errors exit 1")
	assert.Equal(t, strings.Join([]string{
		file + ":10:1: error: colour: unknown field (a custom action must be a list of steps)",
		file + ":13:11: error: parameters[0].type: type \"port\" is not one of string, integer, number, boolean, object, array, file",
		file + ":14:16: error: parameters[0].sensitive: must be true or false, not a string",
		file + ":16: warning: outputs[0]: output \"o\" has neither applyTo nor default: every action, uninstall included, must produce it or the run fails",
	}, "\n")+"\n", stdout, "every finding, with file:line, field and message")
	assert.Equal(t, "stackhub: "+file+": 3 error(s)\n", stderr)
}

func TestBundleLint_JSON(t *testing.T) {
	dir := bundleDir(t, lintClean+"colour: blue\n")
	code, stdout, _ := runLint(t, "-o", "json", dir)
	assert.Equal(t, 1, code)
	var findings []lintFinding
	require.NoError(t, json.Unmarshal([]byte(stdout), &findings), "stdout is a JSON array: %s", stdout)
	assert.Equal(t, []lintFinding{{
		File: filepath.Join(dir, "porter.yaml"), Line: 10, Column: 1, Level: "error", Field: "colour",
		Message: "unknown field (a custom action must be a list of steps)",
	}}, findings)

	code, stdout, _ = runLint(t, "--output", "json", bundleDir(t, lintClean))
	assert.Equal(t, 0, code)
	assert.Equal(t, "[]\n", stdout, "a clean bundle is an empty array")
}

func TestBundleLint_Clean(t *testing.T) {
	dir := bundleDir(t, lintClean)
	code, stdout, stderr := runLint(t, dir)
	assert.Equal(t, 0, code)
	assert.Equal(t, filepath.Join(dir, "porter.yaml")+": no problems found\n", stdout)
	assert.Empty(t, stderr)

	code, stdout, _ = runLint(t, bundleDir(t, lintClean+"dockerfile: Dockerfile.tmpl\n"))
	assert.Equal(t, 0, code, "warnings alone exit 0")
	assert.Contains(t, stdout, ": warning: dockerfile: ignored")
}

func TestBundleLint_BundleAndMixinFindings(t *testing.T) {
	dir := bundleDir(t, lintClean+"parameters:\n  - {name: p, type: integer, minimum: 5, default: 1}\n")
	code, stdout, _ := runLint(t, dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, ": error: bundle x: invalid bundle.json:", "what only bundle.json generation finds")
	assert.Contains(t, stdout, "(bundle.json)")

	code, stdout, _ = runLint(t, "--mixin", "websoft9="+filepath.Join(t.TempDir(), "missing"), bundleDir(t, lintClean))
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, ": error: missing lint:", "a mixin program that cannot run is an error finding")
	assert.Contains(t, stdout, "(websoft9)")
}

func TestBundleLint_BadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"output format", []string{"-o", "yaml", "."}, `-o "yaml": want text or json`},
		{"mixin spec", []string{"--mixin", "websoft9", "."}, `--mixin "websoft9": want NAME=PROGRAM`},
		{"no porter.yaml", []string{t.TempDir()}, "porter.yaml: no such file or directory"},
		{"no directory", nil, "accepts 1 arg(s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runLint(t, tc.args...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, tc.err)
		})
	}
}

// TestBundleLint_CrossStepAlias: an alias whose anchor is in another step
// is reported with its code, file and line; an alias to an anchor of its
// own step (again: *inner) is not.
func TestBundleLint_CrossStepAlias(t *testing.T) {
	raw, err := os.ReadFile("../../porter-mixin/manifest/testdata/cross-step-alias.porter.yaml")
	require.NoError(t, err)
	dir := bundleDir(t, string(raw))
	file := filepath.Join(dir, "porter.yaml")
	code, stdout, _ := runLint(t, dir)
	assert.Equal(t, 1, code, "an error")
	assert.Equal(t, file+":27: error: upgrade[0].websoft9.env: alias *env names the anchor &env on line 16, outside this step: "+
		"Porter's runtime renders each step alone and fails with \"unknown anchor 'env' referenced\"; write the values out in this step (stackhub-100)\n", stdout)
}
