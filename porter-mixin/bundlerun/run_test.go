package bundlerun

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain plays the websoft9 mixin runtime when re-executed with
// FAKE_MIXIN set: it records its argv and stdin, writes step outputs, and
// fails when asked.
func TestMain(m *testing.M) {
	if dir := os.Getenv("FAKE_MIXIN"); dir != "" {
		os.Exit(fakeMixin(dir))
	}
	os.Exit(m.Run())
}

func fakeMixin(dir string) int {
	in, _ := io.ReadAll(os.Stdin)
	_ = os.WriteFile(filepath.Join(dir, "argv"), []byte(strings.Join(os.Args[1:], " ")), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "stdin"), in, 0o644)
	fmt.Println("fake mixin: the secret is " + os.Getenv("DB_PASSWORD"))
	if os.Getenv("FAKE_MIXIN_FAIL") != "" {
		fmt.Fprintln(os.Stderr, "Error: compose up failed")
		return 1
	}
	outs := os.Getenv("PORTER_HOME") + "/porter/outputs"
	_ = os.WriteFile(filepath.Join(outs, "containerName"), []byte("websoft9-demo"), 0o644)
	_ = os.WriteFile(filepath.Join(outs, "stepOnly"), []byte("x"), 0o644)
	return 0
}

const manifestYAML = `schemaVersion: 1.0.1
name: demo
version: 0.1.0
registry: localhost:5000
mixins: [websoft9]
parameters:
  - name: port
    type: integer
  - name: db_password
    type: string
    sensitive: true
outputs:
  - name: containerName
    applyTo: [install]
install:
  - websoft9:
      description: Start demo
      app: ${ installation.name }
      env:
        PORT: ${ bundle.parameters.port }
uninstall:
  - websoft9:
      description: Stop demo
      app: ${ installation.name }
`

func setup(t *testing.T, env map[string]string) (Options, string, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	app := filepath.Join(root, "cnab", "app")
	rec := filepath.Join(root, "rec")
	require.NoError(t, os.MkdirAll(filepath.Join(app, "mixins", "websoft9", "runtimes"), 0o755))
	require.NoError(t, os.MkdirAll(rec, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(app, "porter.yaml"), []byte(manifestYAML), 0o644))
	self, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, os.Symlink(self, filepath.Join(app, "mixins", "websoft9", "runtimes", "websoft9-runtime")))
	env["FAKE_MIXIN"] = rec
	var out bytes.Buffer
	o := Options{
		AppDir:         app,
		OutputsDir:     filepath.Join(app, "outputs"),
		StepOutputsDir: filepath.Join(app, "porter", "outputs"),
		MixinsDir:      filepath.Join(app, "mixins"),
		Getenv:         func(k string) string { return env[k] },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		Out: &out,
	}
	return o, rec, &out
}

func TestRunInstall(t *testing.T) {
	o, rec, out := setup(t, map[string]string{"CNAB_ACTION": "install", "PORTER_INSTALLATION_NAME": "demo", "PORT": "9001", "DB_PASSWORD": "s3cret-value"})
	require.NoError(t, Run(t.Context(), o))

	argv, _ := os.ReadFile(filepath.Join(rec, "argv"))
	assert.Equal(t, "install", string(argv))
	stdin, _ := os.ReadFile(filepath.Join(rec, "stdin"))
	assert.Contains(t, string(stdin), "install:\n  - websoft9:\n")
	assert.Contains(t, string(stdin), "PORT: 9001\n", "rendered and typed as Porter does")
	assert.Contains(t, string(stdin), "app: demo\n")

	got, err := os.ReadFile(filepath.Join(o.OutputsDir, "containerName"))
	require.NoError(t, err)
	assert.Equal(t, "websoft9-demo", string(got))
	_, err = os.Stat(filepath.Join(o.OutputsDir, "stepOnly"))
	assert.True(t, os.IsNotExist(err), "a step output that is no bundle output is not a CNAB output")
	_, err = os.Stat(filepath.Join(o.OutputsDir, "porter-state"))
	assert.NoError(t, err, "porter-state is always written")
	assert.NotContains(t, out.String(), "s3cret-value", "sensitive parameters are masked")
	assert.Contains(t, out.String(), "the secret is *******")
	assert.Contains(t, out.String(), "executing install action from demo (installation: demo)")
}

func TestRunFailingStepStillFinalizes(t *testing.T) {
	o, _, out := setup(t, map[string]string{"CNAB_ACTION": "install", "CNAB_INSTALLATION_NAME": "/demo", "PORT": "9001", "FAKE_MIXIN_FAIL": "1"})
	err := Run(t.Context(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "install step 1 (Start demo)")
	assert.Contains(t, out.String(), "Error: compose up failed")
	_, err = os.Stat(filepath.Join(o.OutputsDir, "porter-state"))
	assert.NoError(t, err)
}

func TestRunRefusesBadInput(t *testing.T) {
	o, _, _ := setup(t, map[string]string{"CNAB_ACTION": "backup"})
	assert.ErrorContains(t, Run(t.Context(), o), `unsupported action "backup"`)

	o, _, _ = setup(t, map[string]string{"CNAB_ACTION": "install", "PORTER_DEBUG": "maybe"})
	assert.ErrorContains(t, Run(t.Context(), o), `PORTER_DEBUG "maybe" is not a boolean`)
}
