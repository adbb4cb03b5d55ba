package secretbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	b, err := LoadOrCreate(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	sealed, err := b.Seal([]byte("db-password"))
	require.NoError(t, err)
	assert.NotContains(t, string(sealed), "db-password")
	again, err := b.Seal([]byte("db-password"))
	require.NoError(t, err)
	assert.NotEqual(t, sealed, again, "a fresh nonce each time")

	// The same key file opens it after a restart.
	b2, err := LoadOrCreate(path)
	require.NoError(t, err)
	plain, err := b2.Open(sealed)
	require.NoError(t, err)
	assert.Equal(t, "db-password", string(plain))

	sealed[len(sealed)-1] ^= 1
	_, err = b2.Open(sealed)
	assert.Error(t, err, "tampering is detected")

	other, err := LoadOrCreate(filepath.Join(t.TempDir(), "other.key"))
	require.NoError(t, err)
	_, err = other.Open(again)
	assert.Error(t, err, "another key cannot open it")

	require.NoError(t, os.WriteFile(path, []byte("short"), 0o600))
	_, err = LoadOrCreate(path)
	assert.Error(t, err, "a damaged key file is never replaced")
}
