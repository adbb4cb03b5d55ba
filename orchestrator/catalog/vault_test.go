package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/catalog"
)

func TestVault(t *testing.T) {
	src := filepath.Join(t.TempDir(), "demo")
	require.NoError(t, os.CopyFS(src, os.DirFS("../../bundles/testdata/demo")))
	require.NoError(t, os.MkdirAll(filepath.Join(src, ".cnab"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, ".cnab", "bundle.json"), []byte("{}"), 0o644))
	app, err := catalog.ReadApp(src)
	require.NoError(t, err)
	app.Digest, err = catalog.DirDigest(src)
	require.NoError(t, err)

	v := &catalog.Vault{Dir: filepath.Join(t.TempDir(), "vault")}
	_, err = v.Kept(t.Context(), "demo", app.Digest)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
	require.NoError(t, v.Keep(t.Context(), app))

	// The catalog moves on: the directory now holds another version.
	require.NoError(t, os.WriteFile(filepath.Join(src, "porter.yaml"), []byte("garbage"), 0o644))
	kept, err := v.Kept(t.Context(), "demo", app.Digest)
	require.NoError(t, err)
	assert.Equal(t, app.Version, kept.Version)
	assert.Equal(t, app.Digest, kept.Digest)
	assert.Equal(t, app.Parameters, kept.Parameters)
	assert.NoFileExists(t, filepath.Join(kept.Dir, ".cnab", "bundle.json"), "build output is not kept: the builder makes it again")
	again, err := catalog.DirDigest(kept.Dir)
	require.NoError(t, err)
	assert.Equal(t, app.Digest, again, "the kept files are the bundle's, byte for byte")
	require.NoError(t, v.Keep(t.Context(), app), "keeping twice is fine")

	_, err = v.Kept(t.Context(), "other", app.Digest)
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err), "a digest is one app's")
	_, err = v.Kept(t.Context(), "demo", "../../etc")
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))

	// A pulled bundle keeps its bundle.json.
	pulled := kept
	pulled.Digest, pulled.Source = "sha256:"+string(make([]byte, 0))+"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "reg.example/demo:0.1.0"
	pulled.Bundle = &bundle.Bundle{Name: "demo", Version: "0.1.0", SchemaVersion: "1.2.0"}
	require.NoError(t, v.Keep(t.Context(), pulled))
	got, err := v.Kept(t.Context(), "demo", pulled.Digest)
	require.NoError(t, err)
	assert.Equal(t, "reg.example/demo:0.1.0", got.Source)
	require.NotNil(t, got.Bundle)
	assert.Equal(t, "0.1.0", got.Bundle.Version)
}
