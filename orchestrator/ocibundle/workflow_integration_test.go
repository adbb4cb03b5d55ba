//go:build integration

package ocibundle_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
)

// stackhubBin builds cmd/stackhub into a directory that also holds the
// runtimes and the websoft9 client from bin/ (make build), as the
// workflow's bin/ does after make build.
func stackhubBin(t *testing.T) string {
	t.Helper()
	runtimes := dockertest.RuntimesDir(t)
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", filepath.Join(dir, "stackhub"), "./cmd/stackhub")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	for _, f := range []string{"bundle-runtime", "websoft9-runtime", "websoft9"} {
		data, err := os.ReadFile(filepath.Join(runtimes, f))
		require.NoError(t, err, "make build puts %s in bin/", f)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o755))
	}
	return filepath.Join(dir, "stackhub")
}

// runCmd runs argv with env added and returns its combined output and exit code.
func runCmd(t *testing.T, env []string, argv ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(out), ee.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// TestIntegration_WorkflowPublish runs the workflow's publish script, as
// the workflow does (credentials from docker login's config), on a bundles
// root holding the demo bundle, against a loopback registry with basic
// auth; then the CLI's pull, archive and load on what it published.
func TestIntegration_WorkflowPublish(t *testing.T) {
	dockertest.RequireDocker(t)
	reg := registrytest.Start(t, registrytest.WithBasicAuth("ci", "ci-password"))
	bin := stackhubBin(t)
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "demo"), os.DirFS(demoDir)))
	env := []string{"BUNDLE_REGISTRY=" + reg.Host + "/stackhub", "DOCKER_CONFIG=" + reg.DockerConfig(t)}
	script := filepath.Join("..", "..", publishScript)

	out, code := runCmd(t, env, "bash", script, bin, root)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "published 1 bundle(s)")
	pulled, err := ocibundle.Pull(t.Context(), reg.Ref("stackhub/demo:v0.1.0"), ocibundle.Registry{ConfigDir: reg.DockerConfig(t)})
	require.NoError(t, err)
	assert.Equal(t, "demo", pulled.Bundle.Name)

	// A second release leaves the published version alone.
	out, code = runCmd(t, env, "bash", script, bin, root)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "already published")
	assert.Contains(t, out, "published 0 bundle(s)")

	// The CLI: pull prints the digest; exit codes follow the error class.
	out, code = runCmd(t, env, bin, "bundle", "pull", reg.Ref("stackhub/demo:v0.1.0"))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, pulled.Digest)
	out, code = runCmd(t, env, bin, "bundle", "pull", reg.Ref("stackhub/nothing:v1"))
	assert.Equal(t, 3, code, out)
	assert.Contains(t, out, "no such repository or tag")
	out, code = runCmd(t, []string{"DOCKER_CONFIG=" + t.TempDir()}, bin, "bundle", "pull", reg.Ref("stackhub/demo:v0.1.0"))
	assert.Equal(t, 5, code, out)
	assert.NotContains(t, out, "ci-password")
	out, code = runCmd(t, env, bin, "bundle", "publish", filepath.Join(root, "demo"), "--reference", reg.Ref("stackhub/demo"))
	assert.Equal(t, 4, code, out)
	assert.Contains(t, out, "--force")

	// archive --reference, then load with the registry gone.
	archive := filepath.Join(t.TempDir(), "demo.tgz")
	out, code = runCmd(t, env, bin, "bundle", "archive", "--reference", reg.Ref("stackhub/demo:v0.1.0"), "--output", archive)
	require.Equal(t, 0, code, out)
	reg.Stop()
	mapping := filepath.Join(t.TempDir(), "relocation.json")
	out, code = runCmd(t, nil, bin, "bundle", "load", archive, "--write-relocation-mapping", mapping)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "loaded demo 0.1.0")
	removeImages(t, nil, reg.Host+"/stackhub/demo:sha256-"+pulled.Bundle.InvocationImages[0].Digest[len("sha256:"):])
	_, err = os.Stat(mapping)
	assert.NoError(t, err)
}
