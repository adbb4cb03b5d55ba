//go:build integration

package build_test

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/build"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// realRuntimes builds cmd/stackhub-testapp as a static linux/amd64 binary
// and installs it as both bundle-runtime and websoft9-runtime: the builder
// only copies them, and the test app's "exit N" shows that the image runs a
// static binary.
func realRuntimes(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bundle-runtime")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "./cmd/stackhub-testapp")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	data, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "websoft9-runtime"), data, 0o755))
	return dir
}

// countingClient counts the loads that reach the engine.
type countingClient struct {
	*client.Client
	loads int
}

func (c *countingClient) ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (client.ImageLoadResult, error) {
	c.loads++
	return c.Client.ImageLoad(ctx, input, opts...)
}

func TestIntegration_BuildAndLoad(t *testing.T) {
	cli := dockertest.RequireDocker(t)
	ctx := t.Context()

	// The demo bundle under a repository of its own, so removing the image
	// afterwards cannot disturb other tests using the demo.
	dir := copyDir(t, demoDir)
	raw, err := os.ReadFile(filepath.Join(dir, "porter.yaml"))
	require.NoError(t, err)
	text := strings.Replace(string(raw), "registry: localhost:5000/stackhub\n", "registry: localhost:5000/stackhub-build-itest\n", 1)
	require.NotEqual(t, string(raw), text, "the demo's registry line changed; update this test")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "porter.yaml"), []byte(text), 0o644))

	r, err := build.Build(ctx, build.Options{Dir: dir, RuntimesDir: realRuntimes(t)})
	require.NoError(t, err)
	configID, err := r.Image.ConfigName()
	require.NoError(t, err)

	docker := &countingClient{Client: cli}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.WithoutCancel(ctx), r.ImageRef, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	require.NoError(t, build.Load(ctx, docker, r))
	assert.Equal(t, 1, docker.loads)

	t.Run("image config", func(t *testing.T) {
		res, err := cli.ImageInspect(ctx, r.ImageRef)
		require.NoError(t, err)
		assert.Contains(t, []string{configID.String(), mustDigest(t, r)}, res.ID)
		assert.Contains(t, res.RepoTags, r.ImageRef)
		assert.Equal(t, "linux", res.Os)
		assert.Equal(t, "amd64", res.Architecture)
		require.NotNil(t, res.Config)
		assert.Equal(t, "65532:0", res.Config.User)
		assert.Equal(t, "/cnab/app", res.Config.WorkingDir)
		assert.Equal(t, []string{"/cnab/app/run"}, res.Config.Cmd)
	})

	t.Run("second load is skipped", func(t *testing.T) {
		require.NoError(t, build.Load(ctx, docker, r))
		assert.Equal(t, 1, docker.loads)
	})

	t.Run("container", func(t *testing.T) {
		// As cnab-go's driver does: the image's entrypoint is /cnab/app/run.
		created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: r.ImageRef, Entrypoint: []string{"/cnab/app/run"}, Cmd: []string{"exit", "7"}},
		})
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
		})

		for _, p := range []string{"/cnab/app/run", "/cnab/app/mixins/websoft9/runtimes/websoft9-runtime"} {
			st, err := cli.ContainerStatPath(ctx, created.ID, client.ContainerStatPathOptions{Path: p})
			require.NoError(t, err, p)
			assert.True(t, st.Stat.Mode.IsRegular(), p)
			assert.Equal(t, os.FileMode(0o755), st.Stat.Mode.Perm(), p)
		}
		for _, p := range []string{"/cnab/bundle.json", "/cnab/app/porter.yaml", "/cnab/app/docker-compose.yml", "/etc/passwd"} {
			_, err := cli.ContainerStatPath(ctx, created.ID, client.ContainerStatPathOptions{Path: p})
			require.NoError(t, err, p)
		}

		copied, err := cli.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: "/cnab/app/outputs"})
		require.NoError(t, err)
		defer copied.Content.Close()
		hdr, err := tar.NewReader(copied.Content).Next()
		require.NoError(t, err)
		assert.Equal(t, 65532, hdr.Uid, "/cnab/app/outputs belongs to the bundle user")

		// The static runtime executes in the FROM-scratch image as 65532.
		wait := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
		_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
		require.NoError(t, err)
		select {
		case res := <-wait.Result:
			assert.Equal(t, int64(7), res.StatusCode)
		case err := <-wait.Error:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the container did not exit")
		}
	})
}

func mustDigest(t *testing.T, r *build.Result) string {
	t.Helper()
	d, err := r.Image.Digest()
	require.NoError(t, err)
	return d.String()
}
