package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunSocketDir(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("data dir", func(t *testing.T) {
		data := t.TempDir()
		stale := filepath.Join(data, "run", "r123", "docker.sock")
		require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o700))
		require.NoError(t, os.WriteFile(stale, nil, 0o600))

		dir, err := runSocketDir(data, log)
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(data, "run"), dir)
		st, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "what a stopped server left is removed")
	})
	t.Run("long path", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
		dir, err := runSocketDir(data, log)
		require.NoError(t, err)
		assert.Equal(t, os.TempDir(), dir)
		_, err = os.Stat(filepath.Join(data, "run"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}
