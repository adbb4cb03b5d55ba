package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFingerprint(t *testing.T) {
	dir, runtimes := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte("name: x"), 0o644))
	for _, f := range []string{BundleRuntime, "websoft9-runtime"} {
		require.NoError(t, os.WriteFile(filepath.Join(runtimes, f), []byte("bin"), 0o755))
	}
	first, err := fingerprint(dir, runtimes)
	require.NoError(t, err)
	again, err := fingerprint(dir, runtimes)
	require.NoError(t, err)
	assert.Equal(t, first, again)

	require.NoError(t, os.MkdirAll(filepath.Join(dir, GeneratedDir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, GeneratedDir, "bundle.json"), []byte("{}"), 0o644))
	got, err := fingerprint(dir, runtimes)
	require.NoError(t, err)
	assert.Equal(t, first, got, "what the build writes does not count")

	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(runtimes, "websoft9-runtime"), later, later))
	got, err = fingerprint(dir, runtimes)
	require.NoError(t, err)
	assert.NotEqual(t, first, got, "a rebuilt runtime counts")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte("services: {}"), 0o644))
	got2, err := fingerprint(dir, runtimes)
	require.NoError(t, err)
	assert.NotEqual(t, got, got2, "a new bundle file counts")

	_, err = fingerprint(dir, t.TempDir())
	assert.Error(t, err, "missing runtimes are an error")
}
