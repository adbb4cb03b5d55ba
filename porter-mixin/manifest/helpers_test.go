package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// assertGolden compares got with the golden file at path;
// UPDATE_GOLDEN=1 rewrites the file instead.
func assertGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run UPDATE_GOLDEN=1 go test ./porter-mixin/manifest/")
	require.Equal(t, string(want), string(got), "got differs from %s (UPDATE_GOLDEN=1 rewrites it)", path)
}

// mustParseFile parses the porter.yaml at path.
func mustParseFile(t *testing.T, path string) *Manifest {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := Parse(raw)
	require.NoError(t, err, path)
	return m
}
