package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/catalog"
)

// tarOf writes entries as a plain tar.
func tarOf(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			_, err := tw.Write(bytes.Repeat([]byte{'x'}, int(h.Size)))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func TestExtractBundleTarRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []*tar.Header
		want    string
	}{
		{"dot-dot", []*tar.Header{{Name: "../escape", Size: 1}}, "leaving the bundle directory"},
		{"dot-dot inside", []*tar.Header{{Name: "a/../../escape", Size: 1}}, "leaving the bundle directory"},
		{"absolute", []*tar.Header{{Name: "/etc/passwd", Size: 1}}, "absolute paths are refused"},
		{"backslash", []*tar.Header{{Name: `..\escape`, Size: 1}}, "backslash"},
		{"symlink", []*tar.Header{{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}, "link is a link"},
		{"hard link", []*tar.Header{{Name: "porter.yaml", Size: 1}, {Name: "hard", Typeflag: tar.TypeLink, Linkname: "porter.yaml"}}, "hard is a link"},
		{"device", []*tar.Header{{Name: "dev", Typeflag: tar.TypeChar}}, "not a regular file"},
		{"fifo", []*tar.Header{{Name: "pipe", Typeflag: tar.TypeFifo}}, "not a regular file"},
		{"one file too big", []*tar.Header{{Name: "big", Size: maxBundleDirBytes + 1}}, "larger than"},
		{"too big in all", []*tar.Header{{Name: "a", Size: maxBundleDirBytes / 2}, {Name: "b", Size: maxBundleDirBytes/2 + 1}}, "larger than"},
		{"twice", []*tar.Header{{Name: "porter.yaml", Size: 1}, {Name: "./porter.yaml", Size: 2}}, "given twice"},
		{"empty", nil, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			err := extractBundleTar(bytes.NewReader(tarOf(t, tc.entries...)), dst)
			require.Error(t, err)
			assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
			assert.Contains(t, orchestrator.ErrorMessage(err), tc.want)
			_, err = os.Lstat(filepath.Join(filepath.Dir(dst), "escape"))
			assert.True(t, os.IsNotExist(err), "nothing written outside dst")
		})
	}

	t.Run("too many entries", func(t *testing.T) {
		var hs []*tar.Header
		for i := range maxBundleDirEntries + 1 {
			hs = append(hs, &tar.Header{Name: "d" + strings.Repeat("x", i%7) + "/" + string(rune('a'+i%26)) + "/" + strings.Repeat("f", 1+i/26)})
		}
		err := extractBundleTar(bytes.NewReader(tarOf(t, hs...)), t.TempDir())
		require.Error(t, err)
		assert.Contains(t, orchestrator.ErrorMessage(err), "more than")
	})
	t.Run("not a tar", func(t *testing.T) {
		err := extractBundleTar(strings.NewReader(strings.Repeat("not a tar ", 100)), t.TempDir())
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
	})
	t.Run("broken gzip", func(t *testing.T) {
		err := extractBundleTar(bytes.NewReader([]byte{0x1f, 0x8b, 0, 1, 2, 3}), t.TempDir())
		assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
	})
}

func TestBundleTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "porter.yaml"), []byte("name: x\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(src, "conf", "nginx"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "conf", "nginx", "site.conf"), []byte("server {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "hook.sh"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(src, ".cnab"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, ".cnab", "bundle.json"), []byte("{}"), 0o644))

	var buf bytes.Buffer
	require.NoError(t, writeBundleTar(&buf, src))
	_, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err, "sent gzip-compressed")
	dst := t.TempDir()
	require.NoError(t, extractBundleTar(&buf, dst))
	got, err := os.ReadFile(filepath.Join(dst, "conf", "nginx", "site.conf"))
	require.NoError(t, err)
	assert.Equal(t, "server {}\n", string(got))
	st, err := os.Stat(filepath.Join(dst, "hook.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "executable stays executable")
	_, err = os.Stat(filepath.Join(dst, ".cnab"))
	assert.True(t, os.IsNotExist(err), "the builder's output is not sent")

	// A plain tar is taken too.
	plain := tarOf(t, &tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "./porter.yaml", Size: 3})
	require.NoError(t, extractBundleTar(bytes.NewReader(plain), t.TempDir()))
}

func TestWriteBundleTarRefuses(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		src := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(src, "porter.yaml"), []byte("name: x\n"), 0o644))
		require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "passwd")))
		err := writeBundleTar(&bytes.Buffer{}, src)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "passwd is a symbolic link")
	})
	t.Run("oversize", func(t *testing.T) {
		src := t.TempDir()
		f, err := os.Create(filepath.Join(src, "huge.bin"))
		require.NoError(t, err)
		require.NoError(t, f.Truncate(maxBundleDirBytes+1))
		require.NoError(t, f.Close())
		err = writeBundleTar(&bytes.Buffer{}, src)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "larger than")
	})
}

func TestBundleDirs(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"b-app", "a-app", "notes", "c-app/nested"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	for _, d := range []string{"b-app", "a-app", "c-app/nested"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, d, "porter.yaml"), []byte("name: x\n"), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "porter.yml.bak"), nil, 0o644))

	got, err := bundleDirs(root)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(root, "a-app"), filepath.Join(root, "b-app")}, got,
		"subdirectories holding porter.yaml, in name order; not deeper ones")

	got, err = bundleDirs(filepath.Join(root, "b-app"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(root, "b-app")}, got, "a bundle directory is itself")

	_, err = bundleDirs(filepath.Join(root, "notes"))
	assert.ErrorContains(t, err, "no porter.yaml")
	_, err = bundleDirs(filepath.Join(root, "missing"))
	assert.Error(t, err)
}

func TestAddDirRefusesBeforeBuilding(t *testing.T) {
	// No Docker, no runtimes: every refusal here comes before the build.
	empty, err := catalog.Load(t.TempDir())
	require.NoError(t, err)
	s := &bundleSource{dir: t.TempDir(), runtimesDir: t.TempDir(), cat: empty}
	send := func(files map[string]string) error {
		t.Helper()
		src := t.TempDir()
		for name, content := range files {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(src, name), []byte(content), 0o644))
		}
		var buf bytes.Buffer
		require.NoError(t, writeBundleTar(&buf, src))
		_, err := s.AddDir(t.Context(), &buf, orchestrator.AddOptions{})
		return err
	}
	err = send(map[string]string{"docker-compose.yml": "services: {}\n"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "no porter.yaml")

	err = send(map[string]string{"porter.yaml": "name: [\n"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "porter.yaml")

	err = send(map[string]string{"porter.yaml": "schemaVersion: 1.0.1\nname: Bad_Name\nversion: 0.1.0\n"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)

	// The demo bundle with a privileged service: the bundle policy's
	// finding, with its file and line.
	demo := map[string]string{}
	for _, f := range []string{"porter.yaml", "docker-compose.yml"} {
		data, err := os.ReadFile(filepath.Join("../../bundles/testdata/demo", f))
		require.NoError(t, err)
		demo[f] = string(data)
	}
	demo["docker-compose.yml"] = strings.Replace(demo["docker-compose.yml"], "\n  db:\n", "\n  db:\n    privileged: true\n", 1)
	err = send(demo)
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err), "%v", err)
	assert.Contains(t, orchestrator.ErrorMessage(err), "bundle demo has 1 lint error(s): docker-compose.yml:")
	assert.Contains(t, orchestrator.ErrorMessage(err), "(policy privileged)")

	entries, err := os.ReadDir(s.dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is left under the store's directory")
}
