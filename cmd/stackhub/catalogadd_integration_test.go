//go:build integration

package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnabio/cnab-go/bundle"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/storeconv"
)

// convertFixture converts the plain compose project testdata/catalogadd/
// catadd-hello into a bundle named name under out, and returns its
// directory; edit, when set, changes the converted compose file.
func convertFixture(t *testing.T, out, name string, edit func(string) string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.MkdirAll(src, 0o755))
	compose, err := os.ReadFile("testdata/catalogadd/catadd-hello/docker-compose.yml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(src, "docker-compose.yml"), compose, 0o644))
	res, err := storeconv.Convert(t.Context(), storeconv.Compose, src)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.True(t, res[0].Converted, "%v", res[0].Problems)
	dir, err := storeconv.Write(out, res[0])
	require.NoError(t, err)
	if edit != nil {
		p := filepath.Join(dir, "docker-compose.yml")
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, []byte(edit(string(data))), 0o644))
	}
	return dir
}

// storedBundles lists the dir- entries the server keeps under dataDir.
func storedBundles(t *testing.T, dataDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dataDir, "bundles", "dir-*"))
	require.NoError(t, err)
	return m
}

func TestCatalogAdd(t *testing.T) {
	c := dockertest.RequireDocker(t)
	const name = "catadd-hello"
	host := dockerhost.New(c)
	dataDir := t.TempDir()
	var invocation []string
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		for _, app := range []string{name, "catadd-bad"} {
			_, _ = host.RemoveApp(ctx, app, "", true)
		}
		for _, img := range invocation {
			_, _ = c.ImageRemove(ctx, img, client.ImageRemoveOptions{Force: true})
		}
	})
	s, stop := startStoppable(t, dataDir, "--bundles", "../../bundles/testdata")

	// (a) A converted compose project, added by the CLI, installs and
	// answers.
	out := t.TempDir()
	convertFixture(t, out, name, nil)
	code, stdout, stderr := s.stackhub(t, s.token, "catalog", "add", out)
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "added "+name+" 0.1.0 (catalog add (converted from compose:"+name+"))")
	stored := storedBundles(t, dataDir)
	require.Len(t, stored, 1)
	bj, err := os.ReadFile(filepath.Join(stored[0], "bundle.json"))
	require.NoError(t, err)
	b, err := bundle.Unmarshal(bj)
	require.NoError(t, err)
	invocation = append(invocation, b.InvocationImages[0].Image)
	inv, err := c.ImageInspect(t.Context(), b.InvocationImages[0].Image)
	require.NoError(t, err, "the server built and loaded the invocation image")
	rj, err := os.ReadFile(filepath.Join(stored[0], "relocation.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"`+b.InvocationImages[0].Image+`":"`+inv.ID+`"}`, string(rj), "runs take the invocation image by its ID")
	source, err := os.ReadFile(filepath.Join(stored[0], "source"))
	require.NoError(t, err)
	assert.Equal(t, "catalog add (converted from compose:"+name+")", string(source))

	web := installAndCheck(t, s, `{"app":"`+name+`"}`, name)
	status, body := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(web)+"/")
	assert.Equal(t, http.StatusOK, status, body)

	// The same files again: nothing new is stored; another version of
	// them under the same name and version is a 409 unless forced.
	code, _, stderr = s.stackhub(t, s.token, "catalog", "add", filepath.Join(out, name))
	require.Equal(t, 0, code, stderr)
	assert.Len(t, storedBundles(t, dataDir), 1)
	changed := filepath.Join(out, name, "notes.txt")
	require.NoError(t, os.WriteFile(changed, []byte("changed\n"), 0o644))
	code, stdout, _ = s.stackhub(t, s.token, "catalog", "add", filepath.Join(out, name))
	assert.Equal(t, exitConflict, code, stdout)
	assert.Contains(t, stdout, "refused: the catalog already has "+name+" 0.1.0")
	assert.Len(t, storedBundles(t, dataDir), 1, "a refused bundle is not kept")
	require.NoError(t, os.Remove(changed))
	s.requireUninstall(t, name)
	requireNothingLeft(t, c, name)

	// (b) A bundle that breaks the bundle policy: refused by the CLI's own
	// lint, and by the server when sent anyway, naming the rule; nothing
	// is kept.
	bad := convertFixture(t, t.TempDir(), "catadd-bad", func(compose string) string {
		return strings.Replace(compose, "  hello:\n", "  hello:\n    privileged: true\n", 1)
	})
	code, stdout, _ = s.stackhub(t, s.token, "catalog", "add", bad)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stdout, "refused: 1 lint error(s)")
	assert.Contains(t, stdout, "privileged", "the finding is printed")
	var tarball bytes.Buffer
	require.NoError(t, writeBundleTar(&tarball, bad))
	_, err = s.client().AddBundleDir(t.Context(), &tarball, false)
	assertAPIStatus(t, err, http.StatusBadRequest)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "privileged: true gives the container every device and capability of the host (policy privileged)")
	assert.Contains(t, err.Error(), "docker-compose.yml:")
	assert.Len(t, storedBundles(t, dataDir), 1, "nothing of the refused bundle is stored")
	code, _ = apiStatus(t, s, http.MethodGet, "/api/v1/catalog/catadd-bad", "")
	assert.Equal(t, http.StatusNotFound, code)
	leftovers, err := filepath.Glob(filepath.Join(dataDir, "bundles", ".*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temporary directory is left")

	// A token the server does not know adds nothing.
	code, _, stderr = s.stackhub(t, "shk_nope", "catalog", "add", out)
	assert.Equal(t, exitUnauthorized, code, stderr)

	// After a restart the entry is still in the catalog, with its origin.
	stop()
	s = startServerArgs(t, dataDir, "--bundles", "../../bundles/testdata")
	var entry CatalogApp
	s.cliJSON(t, &entry, "catalog", name)
	assert.Equal(t, "catalog add (converted from compose:"+name+")", entry.Source)
	require.NotNil(t, entry.Origin)
	assert.Equal(t, "compose", entry.Origin.Store)
	assert.Equal(t, name, entry.Origin.ID)
	code, stdout, _ = s.stackhub(t, s.token, "catalog", name)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "Converted from:")
	assert.Contains(t, stdout, "a compose project ("+name+")")
	// And it installs again from what was kept.
	installAndCheck(t, s, `{"app":"`+name+`"}`, name)
	s.requireUninstall(t, name)
	requireNothingLeft(t, c, name)
}
