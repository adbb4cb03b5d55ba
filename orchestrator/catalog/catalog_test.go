package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/catalog"
)

func TestLoadTestdataCatalog(t *testing.T) {
	c, err := catalog.Load("../../bundles/testdata")
	require.NoError(t, err)
	app, err := c.App(t.Context(), "demo")
	require.NoError(t, err)
	assert.Equal(t, "0.1.0", app.Version)
	assert.Equal(t, []orchestrator.PortParam{{Name: "port", Min: 9001, Max: 9999}, {Name: "db_port", Min: 3307, Max: 3399}}, app.Ports)
	assert.Equal(t, []string{"db", "web"}, app.Services)
	assert.Equal(t, "web", app.Main)
	assert.True(t, app.HasPurge)
	assert.Equal(t, []string{"websoft9-demo", "websoft9-demo-db"}, orchestrator.ContainerNames("demo", app))

	_, err = c.App(t.Context(), "nope")
	assert.Equal(t, orchestrator.ENOTFOUND, orchestrator.ErrorCode(err))
}

func TestLoadSkipsTestdata(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "testdata", "demo"), os.DirFS("../../bundles/testdata/demo")))
	c, err := catalog.Load(dir)
	require.NoError(t, err)
	apps, err := c.Apps(t.Context())
	require.NoError(t, err)
	assert.Empty(t, apps)
}

func TestLoadRefusesMismatchedName(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "other"), os.DirFS("../../bundles/testdata/demo")))
	_, err := catalog.Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `bundle name "demo" must match its directory`)
}
