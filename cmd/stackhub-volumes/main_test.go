package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoundTrip: a volume written as a tar and read into another
// directory holds the same files, links, modes and times; what the target
// held before is gone.
func TestRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(src, "sub", "deep", "file"), []byte("hello"), 0o640))
	require.NoError(t, os.Symlink("sub/deep/file", filepath.Join(src, "link")))
	require.NoError(t, os.Link(filepath.Join(src, "sub", "deep", "file"), filepath.Join(src, "hard")))
	mtime := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(src, "sub", "deep", "file"), mtime, mtime))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "stale"), []byte("old"), 0o644))

	var buf bytes.Buffer
	require.NoError(t, WriteTar(&buf, src, "data"))
	names := tarNames(t, buf.Bytes())
	assert.Equal(t, "data/", names[0], "the volume's root first, as Docker's archive")
	for _, n := range names {
		assert.Regexp(t, `^data(/|$)`, n)
	}
	require.NoError(t, ReadTar(bytes.NewReader(buf.Bytes()), dst, "data"))

	b, err := os.ReadFile(filepath.Join(dst, "sub", "deep", "file"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	info, err := os.Stat(filepath.Join(dst, "sub", "deep", "file"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), info.Mode().Perm())
	assert.True(t, info.ModTime().Equal(mtime))
	link, err := os.Readlink(filepath.Join(dst, "link"))
	require.NoError(t, err)
	assert.Equal(t, "sub/deep/file", link)
	_, err = os.Stat(filepath.Join(dst, "stale"))
	assert.True(t, os.IsNotExist(err), "what the volume held before is gone")
	hard, err := os.Stat(filepath.Join(dst, "hard"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(info, hard), "a hard link stays one")
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		out = append(out, h.Name)
	}
}

// TestReadTarRefuses: entries that leave the volume (.., absolute, under
// another key, through a link the archive made), or of a kind a volume
// does not hold, are refused and nothing is written outside.
func TestReadTarRefuses(t *testing.T) {
	outside := t.TempDir()
	for name, entries := range map[string][]*tar.Header{
		"dot-dot":        {{Name: "data/../escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"dot-dot inside": {{Name: "data/a/../../escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"absolute":       {{Name: "/etc/escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"another key":    {{Name: "other/escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"through a link": {
			{Name: "data/out", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "data/out/escape", Typeflag: tar.TypeReg, Mode: 0o644},
		},
		"hard link out": {{Name: "data/h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}},
		"device":        {{Name: "data/dev", Typeflag: tar.TypeChar, Mode: 0o644}},
		"root a file":   {{Name: "data", Typeflag: tar.TypeReg, Mode: 0o644}},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range entries {
				require.NoError(t, tw.WriteHeader(h))
			}
			require.NoError(t, tw.Close())
			dst := t.TempDir()
			err := ReadTar(&buf, filepath.Join(dst), "data")
			require.Error(t, err)
			t.Log(err)
			left, _ := os.ReadDir(outside)
			assert.Empty(t, left, "nothing written outside the volume")
			_, err = os.Stat(filepath.Join(filepath.Dir(dst), "escape"))
			assert.True(t, os.IsNotExist(err))
		})
	}
}

// TestEntryPath: the paths a volume's tar may hold.
func TestEntryPath(t *testing.T) {
	for in, want := range map[string]string{"data": ".", "data/": ".", "data/a": "a", "data/a/b/": "a/b"} {
		got, err := entryPath(in, "data")
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "datax/a", "data/..", "data/./a", "data//a", "data/a/../b", "/data/a", "../data/a"} {
		_, err := entryPath(bad, "data")
		assert.Error(t, err, bad)
	}
}
