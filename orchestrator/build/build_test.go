package build_test

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/build"
)

// mustBuild builds the bundle in dir with the fake runtimes.
func mustBuild(t *testing.T, dir string) *build.Result {
	t.Helper()
	r, err := build.Build(t.Context(), build.Options{Dir: dir, RuntimesDir: fakeRuntimes(t)})
	require.NoError(t, err)
	return r
}

// imageFiles flattens the image's layers into path → header and content.
func imageFiles(t *testing.T, r *build.Result) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	rc := mutate.Extract(r.Image)
	defer rc.Close()
	headers, contents := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		name := filepath.Clean("/" + hdr.Name)
		headers[name] = hdr
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		contents[name] = data
	}
	return headers, contents
}

func TestBuild_Result(t *testing.T) {
	dir := copyDir(t, demoDir)
	r := mustBuild(t, dir)

	assert.Equal(t, "demo", r.Manifest.Name)
	assert.Equal(t, "localhost:5000/stackhub/demo:v0.1.0", r.Reference)
	assert.Equal(t, r.Bundle.InvocationImages[0].Image, r.ImageRef)
	assert.Equal(t, "localhost:5000/stackhub/demo:porter-64ea32dbc02505faa720c042a7d540f5", r.ImageRef)

	written, err := os.ReadFile(filepath.Join(dir, ".cnab", "bundle.json"))
	require.NoError(t, err)
	assert.Equal(t, string(r.BundleJSON), string(written), "Dir/.cnab/bundle.json is the canonical bundle.json")
	assertGolden(t, "testdata/demo.bundle.json", indentJSON(t, r.BundleJSON))
}

func TestBuild_ImageConfig(t *testing.T) {
	r := mustBuild(t, copyDir(t, demoDir))
	cfg, err := r.Image.ConfigFile()
	require.NoError(t, err)

	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)
	assert.Equal(t, "65532:0", cfg.Config.User)
	assert.Equal(t, "/cnab/app", cfg.Config.WorkingDir)
	assert.Equal(t, []string{"/cnab/app/run"}, cfg.Config.Cmd)
	assert.Empty(t, cfg.Config.Entrypoint)
	assert.Equal(t, []string{"PATH=/cnab/app:/usr/bin:/bin", "HOME=/home/nonroot"}, cfg.Config.Env)
	assert.True(t, cfg.Created.Time.Equal(time.Unix(0, 0)), "created %s, want the epoch", cfg.Created.Time)
	for _, h := range cfg.History {
		assert.True(t, h.Created.Time.Equal(time.Unix(0, 0)), "history %q created %s", h.CreatedBy, h.Created.Time)
	}
}

func TestBuild_ImageLayout(t *testing.T) {
	dir := copyDir(t, demoDir)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "scripts"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "hook.sh"), []byte("#!/bin/false\n"), 0o700))
	require.NoError(t, os.Symlink("docker-compose.yml", filepath.Join(dir, "compose.yaml")))
	r := mustBuild(t, dir)
	headers, contents := imageFiles(t, r)

	tests := []struct {
		path     string
		typeflag byte
		mode     int64
		uid      int
	}{
		{"/cnab/app/run", tar.TypeReg, 0o755, 0},
		{"/cnab/app/mixins/websoft9/runtimes/websoft9-runtime", tar.TypeReg, 0o755, 0},
		{"/cnab/app/porter.yaml", tar.TypeReg, 0o664, 0},
		{"/cnab/app/docker-compose.yml", tar.TypeReg, 0o664, 0},
		{"/cnab/app/scripts", tar.TypeDir, 0o775, 0},
		{"/cnab/app/scripts/hook.sh", tar.TypeReg, 0o775, 0},
		{"/cnab/app/compose.yaml", tar.TypeSymlink, 0o777, 0},
		{"/cnab/bundle.json", tar.TypeReg, 0o664, 0},
		{"/cnab", tar.TypeDir, 0o775, 0},
		{"/cnab/app", tar.TypeDir, 0o775, 0},
		{"/cnab/app/outputs", tar.TypeDir, 0o775, 65532},
		{"/cnab/app/porter/outputs", tar.TypeDir, 0o775, 65532},
		{"/home/nonroot", tar.TypeDir, 0o755, 65532},
		{"/tmp", tar.TypeDir, 0o1777, 0},
		{"/etc/passwd", tar.TypeReg, 0o644, 0},
		{"/etc/group", tar.TypeReg, 0o644, 0},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			hdr, ok := headers[tc.path]
			require.True(t, ok, "%s is missing from the image", tc.path)
			assert.Equal(t, tc.typeflag, hdr.Typeflag, "type")
			assert.Equal(t, tc.mode, hdr.Mode, "got mode %o, want %o", hdr.Mode, tc.mode)
			assert.Equal(t, tc.uid, hdr.Uid, "uid")
			assert.Equal(t, 0, hdr.Gid, "gid")
			assert.True(t, hdr.ModTime.Equal(time.Unix(0, 0)), "mtime %s", hdr.ModTime)
			assert.Empty(t, hdr.Uname)
		})
	}

	raw, err := os.ReadFile(filepath.Join(demoDir, "porter.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(raw), string(contents["/cnab/app/porter.yaml"]))
	assert.Equal(t, string(r.BundleJSON), string(contents["/cnab/bundle.json"]))
	assert.Contains(t, string(contents["/cnab/app/run"]), "bundle-runtime")
	assert.Contains(t, string(contents["/cnab/app/mixins/websoft9/runtimes/websoft9-runtime"]), "websoft9-runtime")
	assert.Contains(t, string(contents["/etc/passwd"]), "nonroot:x:65532:0:")
	assert.Equal(t, "docker-compose.yml", headers["/cnab/app/compose.yaml"].Linkname)
	for _, absent := range []string{"/cnab/app/.cnab", "/cnab/app/.cnab/bundle.json"} {
		assert.NotContains(t, headers, absent)
	}
}

func TestBuild_SameInputSameDigest(t *testing.T) {
	a := copyDir(t, demoDir)
	b := copyDir(t, demoDir)
	// Host details that must not reach the image: times, umask, a previous build.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	require.NoError(t, filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			require.NoError(t, os.Chmod(p, 0o600))
		}
		return os.Chtimes(p, old, old)
	}))
	require.NoError(t, os.MkdirAll(filepath.Join(b, ".cnab"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b, ".cnab", "bundle.json"), []byte("stale"), 0o644))

	first := mustBuild(t, a)
	want, err := first.Image.Digest()
	require.NoError(t, err)
	for _, dir := range []string{a, b, a} {
		r := mustBuild(t, dir)
		got, err := r.Image.Digest()
		require.NoError(t, err)
		assert.Equal(t, want, got, "building %s again gave another digest", dir)
		assert.Equal(t, string(first.BundleJSON), string(r.BundleJSON))
	}

	// A changed bundle file changes the digest.
	require.NoError(t, os.WriteFile(filepath.Join(b, "docker-compose.yml"), []byte("services: {}\n"), 0o644))
	changed, err := mustBuild(t, b).Image.Digest()
	require.NoError(t, err)
	assert.NotEqual(t, want, changed)
}

func TestBuild_Dockerignore(t *testing.T) {
	dir := copyDir(t, demoDir)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "node_modules", "x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "node_modules", "x", "index.js"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.md"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("node_modules\n*.md\n!README.md\n"), 0o644))
	headers, _ := imageFiles(t, mustBuild(t, dir))

	assert.Contains(t, headers, "/cnab/app/README.md")
	assert.Contains(t, headers, "/cnab/app/.dockerignore")
	assert.Contains(t, headers, "/cnab/app/docker-compose.yml")
	for _, p := range []string{"/cnab/app/notes.md", "/cnab/app/node_modules", "/cnab/app/node_modules/x/index.js"} {
		assert.NotContains(t, headers, p)
	}
}

func TestBuild_Errors(t *testing.T) {
	writeRuntime := func(data []byte) func(t *testing.T, dir, runtimes string) {
		return func(t *testing.T, dir, runtimes string) {
			require.NoError(t, os.WriteFile(filepath.Join(runtimes, "websoft9-runtime"), data, 0o755))
		}
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir, runtimes string)
		errorHas string
	}{
		{
			name:     "no porter.yaml",
			setup:    func(t *testing.T, dir, _ string) { require.NoError(t, os.Remove(filepath.Join(dir, "porter.yaml"))) },
			errorHas: "porter.yaml: no such file",
		},
		{
			name: "missing bundle runtime",
			setup: func(t *testing.T, _, runtimes string) {
				require.NoError(t, os.Remove(filepath.Join(runtimes, "bundle-runtime")))
			},
			errorHas: "bundle-runtime: no such file",
		},
		{
			name:     "mixin runtime is a script",
			setup:    writeRuntime([]byte("#!/bin/sh\n")),
			errorHas: "not a linux executable",
		},
		{
			name:     "mixin runtime for arm64",
			setup:    writeRuntime(fakeELF(t, elf.EM_AARCH64, false, "")),
			errorHas: "want linux/amd64",
		},
		{
			name:     "dynamically linked mixin runtime",
			setup:    writeRuntime(fakeELF(t, elf.EM_X86_64, true, "")),
			errorHas: "CGO_ENABLED=0",
		},
		{
			name: "bundle file on the runtime's path",
			setup: func(t *testing.T, dir, _ string) {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "outputs"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "outputs", "url"), nil, 0o644))
			},
			errorHas: "/cnab/app/outputs is reserved",
		},
		{
			name: "unsupported mixin",
			setup: func(t *testing.T, dir, _ string) {
				raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
				require.NoError(t, err)
				text := strings.Replace(string(raw), "  - websoft9\n", "  - websoft9\n  - exec\n", 1)
				require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(text), 0o644))
			},
			errorHas: `mixin "exec" is not supported`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, runtimes := copyDir(t, demoDir), fakeRuntimes(t)
			tc.setup(t, dir, runtimes)
			_, err := build.Build(t.Context(), build.Options{Dir: dir, RuntimesDir: runtimes})
			require.ErrorContains(t, err, tc.errorHas)
			assert.NoFileExists(t, filepath.Join(dir, ".cnab", "bundle.json"), "a failed build writes no bundle.json")
		})
	}
}

func TestBuild_Cancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := build.Build(ctx, build.Options{Dir: copyDir(t, demoDir), RuntimesDir: fakeRuntimes(t)})
	require.ErrorIs(t, err, context.Canceled)
}
