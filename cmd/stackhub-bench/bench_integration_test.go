//go:build integration

package main

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// TestBenchSmoke runs the whole harness with tiny settings (one round, 3
// apps, 2 s reads, the demo bundle only; docker-compose and wrk when
// installed) and checks that the report has every section with numbers
// and that nothing of the run is left in Docker.
func TestBenchSmoke(t *testing.T) {
	c := dockertest.RequireDocker(t)
	bin := filepath.Join(dockertest.RuntimesDir(t), "stackhub")
	require.FileExists(t, bin, "run make build first")
	out := t.TempDir()
	// A prefix of its own, so that a full make bench or another smoke on
	// the machine is left alone.
	prefix := "smoke" + strings.ToLower(rand.Text()[:6])
	args := []string{"-out", out, "-bin", bin, "-bundles", "../../bundles",
		"-rounds", "1", "-action-rounds", "1", "-apps", "3", "-batch", "3", "-starts", "1",
		"-settle", "1s", "-idle-cpu", "1s", "-wrk-duration", "2s", "-wrk-warmup", "0s", "-read-rounds", "1", "-quiet-wait", "0s",
		"-build-runs", "1", "-build-only", "demo", "-backup-mib", "24", "-warmup=false", "-compose-v1", "auto", "-prefix", prefix, "-port-base", "26000"}
	code := run(t.Context(), args, t.Output(), t.Output())
	require.Equal(t, 0, code)

	md, err := os.ReadFile(filepath.Join(out, "RESULTS.md"))
	require.NoError(t, err)
	for _, h := range []string{"## Machine", "## Targets", "## Install: request → the app answers HTTP", "## Uninstall",
		"## One CNAB action: `restart`", "## 3 installs, 3 at once", "## Reads at 3 apps", "## Memory and start-up",
		"## Bundle builds", "## The policed socket", "## Backups", "## The gateway"} {
		assert.Contains(t, string(md), h)
	}
	assert.Regexp(t, regexp.MustCompile(`\| 1 \| \d+ \| \d+ \| (\d+|—) \| \d+\.\d\d \|`), string(md), "an install round with numbers")
	assert.Equal(t, 20, len(regexp.MustCompile(`(?m)^\| .* \| (PASS|MISS) \|$`).FindAllString(string(md), -1)), "every target is judged")

	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	var r Results
	require.NoError(t, json.Unmarshal(data, &r))
	assert.Empty(t, r.Failures, "every section ran")
	require.Len(t, r.Install, 1)
	assert.Empty(t, r.Install[0].Errors)
	for _, side := range []int{sideA, sideB} {
		assert.Positive(t, float64(r.Install[0].Install[side].ReadyMs), sideNames[side])
		assert.Positive(t, float64(r.Install[0].Uninstall[side].ReadyMs), sideNames[side])
		assert.Zero(t, r.Install[0].Uninstall[side].Leftovers, sideNames[side])
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		assert.Positive(t, float64(r.Install[0].Install[sideC].ReadyMs))
		assert.Zero(t, r.Install[0].Uninstall[sideC].Leftovers)
	}
	assert.Positive(t, float64(r.Install[0].InstallAB))
	assert.Positive(t, float64(r.Install[0].RunFloorMs), "docker run --rm of the invocation image")
	assert.Positive(t, float64(r.Install[0].InstallFloor))
	assert.Positive(t, float64(r.Install[0].UninstallFloor))
	require.Len(t, r.Action, 1)
	assert.Positive(t, float64(r.Action[0].EngineMs))
	assert.Positive(t, float64(r.Action[0].FloorMs))
	assert.True(t, r.Action[0].EngineRestarted && r.Action[0].FloorRestarted, "both runs restarted the containers")
	assert.Positive(t, float64(r.Backup.FirstMs), "a backup")
	assert.Positive(t, float64(r.Backup.TarZstdMs), "the tar | zstd baseline")
	assert.Positive(t, float64(r.Backup.RestoreMs), "a restore")
	assert.Positive(t, r.Backup.FirstStored)
	require.Len(t, r.Policed, 1)
	assert.Positive(t, float64(r.Policed[0].PolicedMs), "an install through the policed socket")
	assert.Positive(t, float64(r.Policed[0].DirectMs), "an install through Docker's socket")
	assert.Equal(t, 3, r.Concurrent.Succeeded)
	assert.True(t, r.Concurrent.portsOK(), "%+v", r.Concurrent)
	for _, reads := range []Reads{r.Reads, r.Restarted.Reads} {
		require.Len(t, reads.Rounds, 1)
		require.Len(t, reads.Rounds[0], 7, "five endpoints, the bare handler, and getAppInfo at 10 connections")
		assert.NotEmpty(t, reads.Load)
		for _, rd := range reads.Rounds[0] {
			assert.Positive(t, float64(rd.ReqPerSec), rd.Endpoint)
			assert.Positive(t, float64(rd.P99Ms), rd.Endpoint)
			assert.Zero(t, rd.Non2xx, rd.Endpoint)
		}
	}
	require.Len(t, r.Startup, 1)
	assert.Positive(t, float64(r.Startup[0].HealthyMs))
	assert.Positive(t, r.Memory.IdleRSSKiB)
	assert.Positive(t, r.Memory.LoadedRSSKiB)
	assert.Positive(t, r.Restarted.RSSKiB)
	require.Len(t, r.Builds, 1)
	assert.Equal(t, "demo", r.Builds[0].Bundle)
	assert.Positive(t, r.Builds[0].UncompressedBytes)
	assert.Positive(t, r.Builds[0].CompressedBytes)
	assert.Len(t, r.Targets, 20)
	assert.Equal(t, 100, r.Gateway.Routes, "the gateway section ran")
	require.Len(t, r.Gateway.Gateway, 1)
	assert.Positive(t, float64(r.Gateway.Gateway[0].ReqPerSec))
	assert.Positive(t, float64(r.Gateway.NginxTLS))
	assert.Positive(t, r.Gateway.RSSKiB)

	assertNoneLeft(t, c, prefix)
}

// assertNoneLeft checks that no container, volume or network named with
// prefix is left in Docker.
func assertNoneLeft(t *testing.T, c *client.Client, prefix string) {
	t.Helper()
	cs, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true})
	require.NoError(t, err)
	for _, ct := range cs.Items {
		for _, n := range ct.Names {
			assert.NotContains(t, n, prefix)
		}
	}
	vs, err := c.VolumeList(t.Context(), client.VolumeListOptions{})
	require.NoError(t, err)
	for _, v := range vs.Items {
		assert.NotContains(t, v.Name, prefix)
	}
	ns, err := c.NetworkList(t.Context(), client.NetworkListOptions{})
	require.NoError(t, err)
	for _, n := range ns.Items {
		assert.NotContains(t, n.Name, prefix)
	}
}

// TestLoadSmoke runs make load's harness with tiny settings (1 s runs, 10
// seeded apps, 2 live installs, bars reported but not enforced) and checks
// that every scenario answered only 2xx, that the server's goroutines,
// open files and RSS came back to baseline after each, and that the live
// installs were made and removed.
func TestLoadSmoke(t *testing.T) {
	c := dockertest.RequireDocker(t)
	bin := filepath.Join(dockertest.RuntimesDir(t), "stackhub")
	require.FileExists(t, bin, "run make build first")
	out := t.TempDir()
	prefix := "lsmoke" + strings.ToLower(rand.Text()[:6])
	args := []string{"load", "-out", out, "-bin", bin, "-bundles", "../../bundles", "-duration", "1s", "-warmup", "0s",
		"-apps", "10", "-runs", "5", "-runs-app", "app-004", "-installs", "2", "-bars=false",
		"-baseline", filepath.Join(out, "no-baseline.json"), "-prefix", prefix, "-port-base", "27000"}
	code := run(t.Context(), args, t.Output(), t.Output())

	data, err := os.ReadFile(filepath.Join(out, "load.json"))
	require.NoError(t, err)
	var r LoadResults
	require.NoError(t, json.Unmarshal(data, &r))
	assert.Empty(t, r.Failures)
	require.Len(t, r.Runs, 8, "seven endpoints and getAllAppInfo during installs")
	for _, run := range r.Runs {
		assert.Positive(t, run.Requests, run.Scenario)
		assert.Zero(t, run.Non2xx, run.Scenario)
		assert.Empty(t, run.Problems, run.Scenario)
		assert.True(t, run.SettledMs.ok(), "%s: back to baseline", run.Scenario)
		assert.Positive(t, run.Before.Goroutines, run.Scenario)
		assert.Positive(t, run.Before.OpenFDs, run.Scenario)
	}
	last := r.Runs[len(r.Runs)-1]
	assert.Equal(t, 2, last.Installs)
	assert.Equal(t, 2, last.Installed)
	assert.Positive(t, float64(last.InstallWallMs))
	assert.Equal(t, 0, code, "no check failed (bars are not enforced)")

	md, err := os.ReadFile(filepath.Join(out, "LOAD.md"))
	require.NoError(t, err)
	for _, h := range []string{"**Verdict: PASS** (bars reported, not enforced", "## Scenarios", "## Resources after each scenario", "**Live installs**"} {
		assert.Contains(t, string(md), h)
	}
	assertNoneLeft(t, c, prefix)
}
