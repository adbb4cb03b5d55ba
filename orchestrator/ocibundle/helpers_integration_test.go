//go:build integration

package ocibundle_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// demoDir is the repository's demo bundle; its images come from the local
// test image stackhub-test/web:dev (make test-images).
const (
	demoDir  = "../../bundles/testdata/demo"
	webImage = "stackhub-test/web:dev"
)

// buildDemo copies the demo bundle, points its registry at registry and
// declares images: entries (alias → repository:tag; by default web →
// webImage), so that publish and archive carry component images; then
// builds it.
func buildDemo(t *testing.T, registry string, images ...map[string]string) *build.Result {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(demoDir)))
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o644)
		}
		return err
	}))
	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	text := strings.Replace(string(raw), "registry: localhost:5000/stackhub\n", "registry: "+registry+"\n", 1)
	require.NotEqual(t, string(raw), text, "the demo's registry line changed; update this test")
	imgs := map[string]string{"web": webImage}
	if len(images) > 0 {
		imgs = images[0]
	}
	text += "\nimages:\n"
	for _, alias := range slices.Sorted(maps.Keys(imgs)) {
		repo, tag, _ := strings.Cut(imgs[alias][strings.LastIndex(imgs[alias], "/")+1:], ":")
		repo = imgs[alias][:strings.LastIndex(imgs[alias], "/")+1] + repo
		text += "  " + alias + ":\n    repository: " + repo + "\n    tag: \"" + tag + "\"\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(text), 0o644))
	res, err := build.Build(t.Context(), build.Options{Dir: dir, RuntimesDir: dockertest.RuntimesDir(t)})
	require.NoError(t, err)
	return res
}
