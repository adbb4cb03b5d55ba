package build_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/porter-mixin/manifest"
)

// TestMain plays a mixin program's lint command when re-executed with
// FAKE_LINT set: it checks the BuildInput on stdin and that it runs in the
// bundle directory, as Porter runs it, and prints FAKE_LINT ("unknown"
// answers as a mixin without lint does).
func TestMain(m *testing.M) {
	if out, ok := os.LookupEnv("FAKE_LINT"); ok {
		os.Exit(fakeLint(out))
	}
	os.Exit(m.Run())
}

func fakeLint(out string) int {
	in, _ := io.ReadAll(os.Stdin)
	var input struct {
		Actions map[string][]map[string]any `yaml:"actions"`
	}
	if len(os.Args) != 2 || os.Args[1] != "lint" || yaml.Unmarshal(in, &input) != nil || input.Actions["install"] == nil {
		fmt.Fprintf(os.Stderr, "unexpected call %q with %q", os.Args[1:], in)
		return 2
	}
	if _, err := os.Stat(build.ManifestFile); err != nil {
		fmt.Fprintf(os.Stderr, "not run in the bundle directory: %v", err)
		return 2
	}
	if out == "unknown" {
		fmt.Fprintln(os.Stderr, `unknown command "lint" for "fake"`)
		return 1
	}
	fmt.Print(out)
	return 0
}

func lintDir(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, build.ManifestFile), []byte(text), 0o644))
	return dir
}

const lintManifest = `schemaVersion: 1.0.1
name: x
version: 1.0.0
registry: example.com
mixins: [websoft9]
install:
  - websoft9:
      description: Start
      app: x
uninstall:
  - websoft9:
      description: Stop
      app: x
`

func TestLint(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	mixinResult := `[{"Level":0,"Location":{"Action":"uninstall","Mixin":"websoft9","StepNumber":1,"StepDescription":"Stop"},` +
		`"Code":"websoft9-100","Title":"app is required","Message":"write app: ${ installation.name }","URL":"https://example.com/lint"},` +
		`{"level":2,"location":{},"code":"websoft9-161","title":"config ignored"}]`

	tests := []struct {
		name      string
		text      string
		files     map[string]string
		fakeLint  string
		want      []string
		wantError bool
	}{
		{name: "clean", text: lintManifest},
		{
			name: "manifest findings, all at once", text: lintManifest + "colour: blue\nparameters:\n  - name: p\n    type: port\n", wantError: true,
			want: []string{"error line 14: colour: unknown field", "error line 17: parameters[0].type: type \"port\""},
		},
		{
			name: "bundle.json findings", text: lintManifest + "parameters:\n  - name: p\n    type: integer\n    minimum: 5\n    default: 1\n", wantError: true,
			want: []string{"error bundle x: invalid bundle.json"},
		},
		{
			name: "bundle file findings", text: lintManifest, files: map[string]string{"outputs/x": "shadowed"}, wantError: true,
			want: []string{"bundle file outputs: /cnab/app/outputs is reserved"},
		},
		{
			name: "mixin findings located at their step", text: lintManifest, fakeLint: mixinResult, wantError: true,
			want: []string{
				"warning config ignored",
				"error line 11: uninstall[0].websoft9: app is required: write app: ${ installation.name } (https://example.com/lint)",
			},
		},
		{name: "mixin without lint", text: lintManifest, fakeLint: "unknown"},
		{
			name: "mixin answering garbage", text: lintManifest, fakeLint: "not json", wantError: true,
			want: []string{"error mixin websoft9 lint: the output is not a JSON array of results"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := lintDir(t, tc.text)
			for name, content := range tc.files {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			opts := build.LintOptions{Dir: dir}
			if tc.fakeLint != "" {
				t.Setenv("FAKE_LINT", tc.fakeLint)
				opts.Mixins = map[string]build.MixinLinter{"websoft9": build.ProgramLinter("websoft9", self)}
			}
			findings, err := build.Lint(t.Context(), opts)
			require.NoError(t, err)
			var got []string
			for _, f := range findings {
				got = append(got, string(f.Level)+" "+f.String())
			}
			for _, w := range tc.want {
				assert.True(t, containsFinding(got, w), "got\n%s\nwant a finding with %q", strings.Join(got, "\n"), w)
			}
			if len(tc.want) == 0 {
				assert.Empty(t, got)
			}
			assert.Equal(t, tc.wantError, manifest.HasErrors(findings))
		})
	}
}

func containsFinding(list []string, want string) bool {
	for _, s := range list {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

func TestLint_Errors(t *testing.T) {
	_, err := build.Lint(t.Context(), build.LintOptions{Dir: t.TempDir()})
	require.ErrorContains(t, err, "porter.yaml")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	failing := func(ctx context.Context, _ string, m *manifest.Manifest) ([]manifest.Finding, error) {
		return nil, ctx.Err()
	}
	_, err = build.Lint(ctx, build.LintOptions{Dir: lintDir(t, lintManifest), Mixins: map[string]build.MixinLinter{"websoft9": failing}})
	require.ErrorIs(t, err, context.Canceled)
}

// TestLint_EveryBundle lints every repository and testdata bundle: none
// has an error.
func TestLint_EveryBundle(t *testing.T) {
	for _, path := range allManifests(t) {
		t.Run(path, func(t *testing.T) {
			findings, err := build.Lint(t.Context(), build.LintOptions{Dir: filepath.Dir(path)})
			require.NoError(t, err)
			assert.False(t, manifest.HasErrors(findings), "%v", findings)
		})
	}
}
