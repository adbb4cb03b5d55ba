package bundlerun

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain plays the websoft9 mixin runtime when re-executed with
// FAKE_MIXIN set to a directory where it records what it saw.
func TestMain(m *testing.M) {
	if dir := os.Getenv("FAKE_MIXIN"); dir != "" {
		os.Exit(fakeMixin(dir))
	}
	os.Exit(m.Run())
}

// fakeMixin records its argv and stdin (the last call in argv and stdin,
// every call appended to calls), prints the DB_PASSWORD it got and
// FAKE_ECHO, and writes two step outputs. Other variables make it fail
// (FAKE_MIXIN_FAIL), wait for SIGTERM (FAKE_MIXIN_WAIT_TERM), report a file
// relative to PORTER_HOME (FAKE_MIXIN_READ) and write files relative to it
// (FAKE_MIXIN_WRITE, "path=content;...").
func fakeMixin(dir string) int {
	home := os.Getenv("PORTER_HOME")
	in, _ := io.ReadAll(os.Stdin)
	_ = os.WriteFile(filepath.Join(dir, "argv"), []byte(strings.Join(os.Args[1:], " ")), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "stdin"), in, 0o644)
	if f, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, "%s\n", strings.Join(os.Args[1:], " "))
		f.Close()
	}
	fmt.Println("fake mixin: the secret is " + os.Getenv("DB_PASSWORD"))
	if e := os.Getenv("FAKE_ECHO"); e != "" {
		fmt.Println("fake mixin: " + e)
	}
	if p := os.Getenv("FAKE_MIXIN_READ"); p != "" {
		b, err := os.ReadFile(filepath.Join(home, p))
		if err != nil {
			b = []byte("missing")
		}
		_ = os.WriteFile(filepath.Join(dir, "read"), b, 0o644)
	}
	for _, spec := range strings.Split(os.Getenv("FAKE_MIXIN_WRITE"), ";") {
		if p, content, ok := strings.Cut(spec, "="); ok {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(home, p)), 0o755)
			_ = os.WriteFile(filepath.Join(home, p), []byte(content), 0o644)
		}
	}
	if os.Getenv("FAKE_MIXIN_WAIT_TERM") != "" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		_ = os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
		select {
		case <-sig:
			_ = os.WriteFile(filepath.Join(dir, "got-sigterm"), nil, 0o644)
			return 3
		case <-time.After(20 * time.Second):
			return 4
		}
	}
	if os.Getenv("FAKE_MIXIN_FAIL") != "" {
		fmt.Fprintln(os.Stderr, "Error: compose up failed")
		return 1
	}
	outs := filepath.Join(home, "porter", "outputs")
	_ = os.WriteFile(filepath.Join(outs, "containerName"), []byte("websoft9-demo"), 0o644)
	_ = os.WriteFile(filepath.Join(outs, "stepOnly"), []byte("step-only-value"), 0o644)
	return 0
}

// setup lays out an invocation image in a temporary directory: the
// manifest from testdata, the test binary as the websoft9 runtime, and
// bundle.json and the relocation mapping when named.
func setup(t *testing.T, manifest, bundleJSON string, env map[string]string) (Options, string, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	app := filepath.Join(root, "cnab", "app")
	rec := filepath.Join(root, "rec")
	require.NoError(t, os.MkdirAll(filepath.Join(app, "mixins", "websoft9", "runtimes"), 0o755))
	require.NoError(t, os.MkdirAll(rec, 0o755))
	copyFile(t, filepath.Join("testdata", manifest), filepath.Join(app, "porter.yaml"))
	if bundleJSON != "" {
		copyFile(t, filepath.Join("testdata", bundleJSON), filepath.Join(root, "cnab", "bundle.json"))
	}
	self, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, os.Symlink(self, filepath.Join(app, "mixins", "websoft9", "runtimes", "websoft9-runtime")))
	env["FAKE_MIXIN"] = rec
	out := &syncBuffer{}
	o := Options{
		AppDir:         app,
		OutputsDir:     filepath.Join(app, "outputs"),
		StepOutputsDir: filepath.Join(app, "porter", "outputs"),
		MixinsDir:      filepath.Join(app, "mixins"),
		BundleFile:     filepath.Join(root, "cnab", "bundle.json"),
		RelocationFile: filepath.Join(app, "relocation-mapping.json"),
		StateFile:      filepath.Join(root, "porter", "state.tgz"),
		Root:           root,
		Getenv:         func(k string) string { return env[k] },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		Out:       out,
		KillDelay: 5 * time.Second,
	}
	return o, rec, &out.Buffer
}

// syncBuffer is a bytes.Buffer safe for the writes of a running mixin and
// the reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// stateArchive returns a gzip tar of name → content under porter-state/.
func stateArchive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "porter-state/" + name, Mode: 0o600, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// readState returns the entries of a porter-state archive.
func readState(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err, "porter-state is a gzip tar")
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[hdr.Name] = string(b)
	}
}

func TestRunInstall(t *testing.T) {
	o, rec, out := setup(t, "porter.yaml", "", map[string]string{
		"CNAB_ACTION": "install", "PORTER_INSTALLATION_NAME": "demo", "PORT": "9001", "DB_PASSWORD": "s3cret-value",
		"SETTINGS": `{"user":"root"}`, "FAKE_ECHO": "saw step-only-value and websoft9-demo",
	})
	require.NoError(t, Run(t.Context(), o))

	assert.Equal(t, "install\ninstall\n", readFile(t, filepath.Join(rec, "calls")))
	stdin := readFile(t, filepath.Join(rec, "stdin"))
	assert.Contains(t, stdin, "install:\n  - websoft9:\n")
	assert.Contains(t, stdin, "container: websoft9-demo\n", "the second step sees the first step's output")

	assert.Equal(t, "websoft9-demo", readFile(t, filepath.Join(o.OutputsDir, "containerName")))
	_, err := os.Stat(filepath.Join(o.OutputsDir, "stepOnly"))
	assert.True(t, os.IsNotExist(err), "a step output that is no bundle output is not a CNAB output")
	assert.Empty(t, readState(t, filepath.Join(o.OutputsDir, "porter-state")), "porter-state is always written")

	log := out.String()
	assert.Contains(t, log, "executing install action from demo (installation: demo)")
	assert.NotContains(t, log, "s3cret-value", "sensitive parameters are masked")
	assert.Contains(t, log, "the secret is *******")
	assert.Contains(t, log, "fake mixin: saw step-only-value and websoft9-demo\n", "nothing to mask before the first step's outputs")
	assert.Contains(t, log, "fake mixin: saw ******* and websoft9-demo\n",
		"step outputs are masked unless a bundle output of that name is not sensitive, as in Porter")
}

func TestRunRendersParameters(t *testing.T) {
	o, rec, _ := setup(t, "porter.yaml", "", map[string]string{
		"CNAB_ACTION": "install", "CNAB_INSTALLATION_NAME": "/demo", "PORT": "9001", "SETTINGS": `{"user":"root"}`,
		"FAKE_MIXIN_FAIL": "1",
	})
	require.Error(t, Run(t.Context(), o))
	stdin := readFile(t, filepath.Join(rec, "stdin"))
	assert.Contains(t, stdin, "PORT: 9001\n", "rendered and typed as Porter does")
	assert.Contains(t, stdin, "USER: root\n", "object parameters are parsed JSON")
	assert.Contains(t, stdin, "app: demo\n", "the namespace is dropped from CNAB_INSTALLATION_NAME")
}

func TestRunCustomActionReadsPreviousOutputs(t *testing.T) {
	o, rec, _ := setup(t, "porter.yaml", "", map[string]string{
		"CNAB_ACTION": "backup", "PORTER_INSTALLATION_NAME": "demo", "PORTER_URL_OUTPUT": "http://old",
	})
	require.NoError(t, Run(t.Context(), o))
	assert.Equal(t, "invoke --action backup", readFile(t, filepath.Join(rec, "argv")))
	stdin := readFile(t, filepath.Join(rec, "stdin"))
	assert.Contains(t, stdin, "backup:\n  - websoft9:\n")
	assert.Contains(t, stdin, "previous: http://old\n", "a bundle output's last value comes in as PORTER_<O>_OUTPUT")
	assert.Equal(t, "websoft9-demo", readFile(t, filepath.Join(o.OutputsDir, "containerName")))
}

func TestRunFailingStepStillFinalizes(t *testing.T) {
	o, rec, out := setup(t, "porter.yaml", "", map[string]string{
		"CNAB_ACTION": "install", "PORT": "9001", "SETTINGS": `{"user":"u"}`, "FAKE_MIXIN_FAIL": "1",
	})
	err := Run(t.Context(), o)
	require.ErrorContains(t, err, "install step 1 (Start demo)")
	require.ErrorContains(t, err, "websoft9-runtime install")
	assert.Contains(t, out.String(), "Error: compose up failed")
	assert.Equal(t, "install\n", readFile(t, filepath.Join(rec, "calls")), "later steps are skipped")
	assert.Empty(t, readState(t, filepath.Join(o.OutputsDir, "porter-state")))
}

func TestRunMissingVariableNamesStepAndVariable(t *testing.T) {
	o, _, _ := setup(t, "porter.yaml", "", map[string]string{"CNAB_ACTION": "uninstall"})
	require.NoError(t, Run(t.Context(), o))

	o, _, _ = setup(t, "porter.yaml", "", map[string]string{"CNAB_ACTION": "install", "PORT": "9001", "SETTINGS": "not json"})
	err := Run(t.Context(), o)
	require.ErrorContains(t, err, `install step 1: render step "Start demo" (websoft9)`)
	require.ErrorContains(t, err, `missing template variable "bundle.parameters.settings.user"`)
	_, err = os.Stat(filepath.Join(o.OutputsDir, "porter-state"))
	assert.NoError(t, err)
}

func TestRunRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"no action", map[string]string{}, "CNAB_ACTION is not set"},
		{"unknown action", map[string]string{"CNAB_ACTION": "restore"}, `unsupported action "restore", the bundle defines: backup, install, uninstall`},
		{"bad debug flag", map[string]string{"CNAB_ACTION": "install", "PORTER_DEBUG": "maybe"}, `PORTER_DEBUG "maybe" is not a boolean`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, _, _ := setup(t, "porter.yaml", "", tc.env)
			previous := stateArchive(t, map[string]string{"tfstate": "v1"})
			require.NoError(t, os.MkdirAll(filepath.Dir(o.StateFile), 0o755))
			require.NoError(t, os.WriteFile(o.StateFile, []byte(base64.StdEncoding.EncodeToString(previous)), 0o600))

			require.ErrorContains(t, Run(t.Context(), o), tc.err)
			assert.Equal(t, string(previous), readFile(t, filepath.Join(o.OutputsDir, "porter-state")),
				"a run that cannot start passes the previous state on")
		})
	}
}

func TestRunDebugPrintsRenderedSteps(t *testing.T) {
	o, _, out := setup(t, "porter.yaml", "", map[string]string{
		"CNAB_ACTION": "install", "PORTER_DEBUG": "true", "PORT": "9001", "SETTINGS": `{"user":"s3cret-user"}`, "DB_PASSWORD": "s3cret-user",
	})
	require.NoError(t, Run(t.Context(), o))
	assert.Contains(t, out.String(), "=== Step 1 ===\ninstall:\n  - websoft9:\n")
	assert.Contains(t, out.String(), "PORT: 9001\n")
	assert.Contains(t, out.String(), "USER: *******\n", "the printed step is masked")
	assert.NotContains(t, out.String(), "s3cret-user")

	o, _, out = setup(t, "porter.yaml", "", map[string]string{"CNAB_ACTION": "install", "PORTER_DEBUG": "false", "PORT": "1", "SETTINGS": `{"user":"u"}`})
	require.NoError(t, Run(t.Context(), o))
	assert.NotContains(t, out.String(), "=== Step")
}

func TestRunStateFileParametersImages(t *testing.T) {
	o, rec, _ := setup(t, "stateful.porter.yaml", "stateful.bundle.json", map[string]string{
		"CNAB_ACTION":      "install",
		"FAKE_MIXIN_READ":  "terraform/terraform.tfstate",
		"FAKE_MIXIN_WRITE": "terraform/terraform.tfstate=v2;logs/run.log=ran;report.txt=not for install",
	})
	copyFile(t, filepath.Join("testdata", "relocation-mapping.json"), o.RelocationFile)
	require.NoError(t, os.MkdirAll(filepath.Dir(o.StateFile), 0o755))
	previous := stateArchive(t, map[string]string{"tfstate": "v1", "vars": `{"a":1}`, "dropped": "x"})
	require.NoError(t, os.WriteFile(o.StateFile, []byte(base64.StdEncoding.EncodeToString(previous)), 0o600))
	license := filepath.Join(o.AppDir, "license.txt")
	require.NoError(t, os.WriteFile(license, []byte(base64.StdEncoding.EncodeToString([]byte("MIT"))), 0o600))
	unset := filepath.Join(o.AppDir, "unset.txt")
	require.NoError(t, os.WriteFile(unset, []byte("null"), 0o600))

	require.NoError(t, Run(t.Context(), o))

	assert.Equal(t, "MIT", readFile(t, license), "file parameters are base64-decoded in place")
	_, err := os.Stat(unset)
	assert.True(t, os.IsNotExist(err), "a null file parameter is deleted")
	assert.Equal(t, "v1", readFile(t, filepath.Join(rec, "read")), "the previous state is unpacked before the steps")
	assert.Equal(t, `{"a":1}`, readFile(t, filepath.Join(o.AppDir, "vars.json")))
	assert.Equal(t, map[string]string{"porter-state/tfstate": "v2", "porter-state/vars": `{"a":1}`},
		readState(t, filepath.Join(o.OutputsDir, "porter-state")), "state files are packed after the steps; undeclared entries dropped")

	assert.Equal(t, "ran", readFile(t, filepath.Join(o.OutputsDir, "log")), "outputs with a path are copied at the end")
	_, err = os.Stat(filepath.Join(o.OutputsDir, "report"))
	assert.True(t, os.IsNotExist(err), "an output that does not apply is not copied")

	stdin := readFile(t, filepath.Join(rec, "stdin"))
	assert.Contains(t, stdin, "installer: relocated.example/stateful@sha256:1111\n", "installerImage: bundle.json's image at its digest, relocated")
	assert.Contains(t, stdin, "web: nginx:1.27@sha256:2222\n", "images from bundle.json, in Porter's familiar form")
	assert.Contains(t, stdin, "db: relocated.example/db:latest@sha256:4444\n", "images through the relocation mapping")
	assert.Contains(t, stdin, "license: /cnab/app/license.txt\n", "a path parameter's value is its path")
}

func TestRunStatePackedAfterFailure(t *testing.T) {
	o, _, _ := setup(t, "stateful.porter.yaml", "stateful.bundle.json", map[string]string{
		"CNAB_ACTION": "install", "FAKE_MIXIN_FAIL": "1", "FAKE_MIXIN_WRITE": "terraform/terraform.tfstate=partial",
	})
	require.Error(t, Run(t.Context(), o))
	assert.Equal(t, map[string]string{"porter-state/tfstate": "partial"}, readState(t, filepath.Join(o.OutputsDir, "porter-state")))
}

func TestRunKeepsStateItCannotUnpack(t *testing.T) {
	o, rec, _ := setup(t, "stateful.porter.yaml", "stateful.bundle.json", map[string]string{"CNAB_ACTION": "install"})
	require.NoError(t, os.MkdirAll(filepath.Dir(o.StateFile), 0o755))
	require.NoError(t, os.WriteFile(o.StateFile, []byte(base64.StdEncoding.EncodeToString([]byte("not gzip"))), 0o600))

	err := Run(t.Context(), o)
	require.ErrorContains(t, err, "unpack state")
	_, err = os.Stat(filepath.Join(rec, "calls"))
	assert.True(t, os.IsNotExist(err), "no step runs")
	assert.Equal(t, "not gzip", readFile(t, filepath.Join(o.OutputsDir, "porter-state")), "the previous state is passed on, not lost")
}

func TestRunWithoutBundleJSON(t *testing.T) {
	o, rec, _ := setup(t, "stateful.porter.yaml", "", map[string]string{"CNAB_ACTION": "install", "FAKE_MIXIN_READ": "license.txt"})
	require.NoError(t, os.WriteFile(filepath.Join(o.AppDir, "license.txt"), []byte(base64.StdEncoding.EncodeToString([]byte("MIT"))), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Dir(o.StateFile), 0o755))
	require.NoError(t, os.WriteFile(o.StateFile, []byte("null"), 0o600))

	require.NoError(t, Run(t.Context(), o))
	assert.Equal(t, "MIT", readFile(t, filepath.Join(rec, "read")), "file parameters come from porter.yaml")
	stdin := readFile(t, filepath.Join(rec, "stdin"))
	assert.Contains(t, stdin, "web: docker.io/library/nginx:1.27@\n", "images as declared")
	assert.Contains(t, stdin, "db: ghcr.io/example/db:latest@\n")
	assert.Contains(t, stdin, "installer: null\n", "no bundle.json, no installer image: an empty value, which YAML reads as null, as in Porter")
}

func TestRunSIGTERM(t *testing.T) {
	o, rec, _ := setup(t, "stateful.porter.yaml", "stateful.bundle.json", map[string]string{
		"CNAB_ACTION": "install", "FAKE_MIXIN_WAIT_TERM": "1", "FAKE_MIXIN_WRITE": "terraform/terraform.tfstate=midway;logs/run.log=half",
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(rec, "ready"))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the mixin starts")
	cancel() // what cmd/bundle-runtime's signal.NotifyContext does on SIGTERM

	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	require.ErrorIs(t, err, context.Canceled)
	_, statErr := os.Stat(filepath.Join(rec, "got-sigterm"))
	assert.NoError(t, statErr, "the mixin got SIGTERM")
	assert.Equal(t, map[string]string{"porter-state/tfstate": "midway"}, readState(t, filepath.Join(o.OutputsDir, "porter-state")), "finalize still runs")
	assert.Equal(t, "half", readFile(t, filepath.Join(o.OutputsDir, "log")))
}

func TestMaskWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &maskWriter{w: &buf, secrets: []string{"abcdef", "abc"}}
	n, err := w.Write([]byte("abcdef abc ab"))
	require.NoError(t, err)
	assert.Equal(t, 13, n)
	assert.Equal(t, "******* ******* ab", buf.String())
}

// TestRunCrossStepAlias runs a bundle whose upgrade aliases install's env
// as Porter's runtime would: install runs (its anchors are its own, and an
// alias inside it resolves), upgrade fails before its mixin starts with
// YAML's "unknown anchor", and the state is still written.
func TestRunCrossStepAlias(t *testing.T) {
	o, rec, _ := setup(t, "cross-step-alias.porter.yaml", "", map[string]string{"CNAB_ACTION": "install", "PORTER_INSTALLATION_NAME": "demo"})
	require.NoError(t, Run(t.Context(), o))
	stdin := readFile(t, filepath.Join(rec, "stdin"))
	assert.Contains(t, stdin, "again:\n")
	assert.Contains(t, stdin, "A: a\n", "an alias to an anchor of the same step resolves")

	o, rec, _ = setup(t, "cross-step-alias.porter.yaml", "", map[string]string{"CNAB_ACTION": "upgrade", "PORTER_INSTALLATION_NAME": "demo"})
	err := Run(t.Context(), o)
	require.ErrorContains(t, err, `upgrade step 1: render step "Upgrade" (websoft9)`)
	require.ErrorContains(t, err, "unknown anchor 'env' referenced")
	_, statErr := os.Stat(filepath.Join(rec, "calls"))
	assert.True(t, os.IsNotExist(statErr), "the mixin never ran")
	_, statErr = os.Stat(filepath.Join(o.OutputsDir, "porter-state"))
	assert.NoError(t, statErr, "finalized after the failure")
}

// TestRunRefusesAnotherApp: a websoft9 step whose app is not the
// installation is refused before its mixin runs.
func TestRunRefusesAnotherApp(t *testing.T) {
	o, rec, _ := setup(t, "porter.yaml", "", map[string]string{"CNAB_ACTION": "uninstall", "PORTER_INSTALLATION_NAME": "other"})
	require.NoError(t, Run(t.Context(), o), "app: ${ installation.name } is the installation")
	assert.Equal(t, "uninstall\n", readFile(t, filepath.Join(rec, "calls")))

	raw := readFile(t, filepath.Join("testdata", "porter.yaml"))
	fixed := strings.Replace(raw, "app: ${ installation.name }", "app: victim", 1)
	require.NotEqual(t, raw, fixed)
	o, rec, _ = setup(t, "porter.yaml", "", map[string]string{"CNAB_ACTION": "install", "PORTER_INSTALLATION_NAME": "demo", "PORT": "9001", "SETTINGS": `{"user":"u"}`})
	require.NoError(t, os.WriteFile(filepath.Join(o.AppDir, "porter.yaml"), []byte(fixed), 0o644))
	err := Run(t.Context(), o)
	require.ErrorContains(t, err, `the step acts on app "victim", but this run is installation "demo"`)
	_, statErr := os.Stat(filepath.Join(rec, "calls"))
	assert.True(t, os.IsNotExist(statErr), "the mixin never ran")
}
