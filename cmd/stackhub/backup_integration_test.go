//go:build integration

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// writeKnownData copies files of random content into a running container's
// directory and returns their checksums by name.
func writeKnownData(t *testing.T, c *client.Client, container, dir string, sizes map[string]int) map[string]string {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	sums := map[string]string{}
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "known/", Typeflag: tar.TypeDir, Mode: 0o755}))
	for name, n := range sizes {
		data := make([]byte, n)
		_, _ = rand.Read(data)
		sum := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(sum[:])
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "known/" + name, Typeflag: tar.TypeReg, Mode: 0o640, Uid: 999, Size: int64(n)}))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	_, err := c.CopyToContainer(t.Context(), container, client.CopyToContainerOptions{DestinationPath: dir, Content: &b})
	require.NoError(t, err)
	return sums
}

// volumeSums reads app's volumes through the host (as a backup does) and
// returns the checksum of every regular file, by volume key and path.
func volumeSums(t *testing.T, h *dockerhost.Host, app string) map[string]string {
	t.Helper()
	vols, err := h.AppVolumes(t.Context(), app)
	require.NoError(t, err)
	out := map[string]string{}
	require.NoError(t, h.ExportVolumes(t.Context(), vols, func(x orchestrator.VolumeExport) error {
		for _, v := range vols {
			rd, err := x.Open(v)
			if err != nil {
				return err
			}
			tr := tar.NewReader(rd)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					rd.Close()
					return err
				}
				if hdr.Typeflag != tar.TypeReg {
					continue
				}
				s := sha256.New()
				if _, err := io.Copy(s, tr); err != nil {
					rd.Close()
					return err
				}
				out[hdr.Name] = fmt.Sprintf("%x uid=%d mode=%o", s.Sum(nil), hdr.Uid, hdr.Mode&0o7777)
			}
			rd.Close()
		}
		return nil
	}))
	return out
}

// TestBackupRestoreRoundTrip: known data written into a real app's volume
// is backed up (the app stopped for the copy and running again after),
// survives a purge-uninstall through a restore, comes back in a clone that
// runs beside the original on other ports, and replaces changed data in a
// restore in place, whose safety backup holds what it replaced. Every
// checksum, owner and mode compared; the repository verifies clean.
func TestBackupRestoreRoundTrip(t *testing.T) {
	c := dockertest.RequireDocker(t)
	h := dockerhost.New(c)
	s := startServer(t)
	const name, clone = "itest-bk", "itest-bk-copy"
	t.Cleanup(func() {
		for _, n := range []string{name, clone} {
			_, _ = h.RemoveApp(context.WithoutCancel(t.Context()), n, "", true)
		}
	})
	api := s.client()
	ctx := t.Context()

	// No repository yet: a clear refusal.
	status, body, _ := s.api(t, http.MethodPost, "/api/v1/apps/"+name+"/backups", `{}`)
	assert.Equal(t, http.StatusNotFound, status, "%v", body)

	repoDir := filepath.Join(t.TempDir(), "repo")
	repo, err := api.AddRepository(ctx, RepositoryRequest{ID: "local", Kind: "filesystem", Path: repoDir, Password: "long enough password", Create: true})
	require.NoError(t, err)
	assert.True(t, repo.Default, "the first repository is the default")
	_, err = api.AddRepository(ctx, RepositoryRequest{ID: "again", Kind: "filesystem", Path: repoDir, Password: "not the password"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wrong repository password")

	installAndCheck(t, s, `{"app":"demo","name":"`+name+`","parameters":{"message":"before the backup"}}`, name)
	r := s.waitStatus(t, name, "1")
	webPort := port(t, r.Data["port"])
	known := writeKnownData(t, c, "websoft9-"+name, "/data", map[string]int{"big.bin": 3 << 20, "small.txt": 17, "empty": 0})
	require.Len(t, known, 3)
	before := volumeSums(t, h, name)
	require.Contains(t, before, "data/known/big.bin")

	job := s.runJob(t, "/api/v1/apps/"+name+"/backups", `{}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	outputs, _ := job["outputs"].(map[string]any)
	backupID, _ := outputs["backup"].(string)
	require.NotEmpty(t, backupID, "%v", job)
	for _, n := range []string{"websoft9-" + name, "websoft9-" + name + "-db"} {
		_, running, _ := containerID(t, c, n)
		assert.True(t, running, "%s runs again after the copy", n)
	}
	list, err := api.Backups(ctx, name, "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, backupID, list[0].ID)
	assert.Equal(t, "stopped", list[0].Quiesce, "the demo has no backup actions: its containers were stopped for the copy")
	assert.Equal(t, "0.1.0", list[0].Version)
	assert.GreaterOrEqual(t, list[0].Size, int64(3<<20))

	// Purge the app, then restore it under its own name.
	s.requireUninstall(t, name)
	_, app, restoreJob := restore(t, s, backupID, "")
	assert.Equal(t, name, app)
	require.Equal(t, "succeeded", restoreJob["status"], "%v", restoreJob)
	r = s.waitStatus(t, name, "1")
	assert.Equal(t, before, volumeSums(t, h, name), "every file back, byte for byte, with its owner and mode")
	_, env := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port(t, r.Data["port"])))
	assert.Contains(t, env, `"APP_MESSAGE":"before the backup"`, "the settings came back too")

	// A clone beside it: other ports, the same data.
	_, app, cloneJob := restore(t, s, backupID, clone)
	assert.Equal(t, clone, app)
	require.Equal(t, "succeeded", cloneJob["status"], "%v", cloneJob)
	rc := s.waitStatus(t, clone, "1")
	assert.NotEqual(t, port(t, r.Data["port"]), port(t, rc.Data["port"]))
	assert.Equal(t, before, volumeSums(t, h, clone))
	code, _ := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port(t, rc.Data["port"])))
	assert.Equal(t, http.StatusOK, code, "the clone answers")
	code, _ = httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port(t, r.Data["port"])))
	assert.Equal(t, http.StatusOK, code, "and the original still does")
	assert.NotEqual(t, webPort, 0)

	// Change the data, then restore in place: the backup's data is back,
	// and the safety backup holds the changed data.
	changed := writeKnownData(t, c, "websoft9-"+name, "/data", map[string]int{"big.bin": 1 << 20})
	require.NotEqual(t, known["big.bin"], changed["big.bin"])
	_, _, inPlace := restore(t, s, backupID, "")
	require.Equal(t, "succeeded", inPlace["status"], "%v", inPlace)
	out, _ := inPlace["outputs"].(map[string]any)
	safety, _ := out["safety"].(string)
	require.NotEmpty(t, safety, "%v", inPlace)
	s.waitStatus(t, name, "1")
	assert.Equal(t, before, volumeSums(t, h, name), "the backup's data replaced the changed data")

	res, err := api.VerifyBackup(ctx, "", "")
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, 2, res.Backups, "the backup and the safety backup")
	assert.Positive(t, res.Bytes)

	// Retention: the older backup goes, the apps run on.
	kept, err := api.PruneBackups(ctx, name, "", Retention{Last: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{backupID}, kept, "the older backup goes, the safety backup (newest) stays")
	list, err = api.Backups(ctx, name, "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, safety, list[0].ID)

	// The same from the CLI.
	code, out1, errOut := s.stackhub(t, s.token, "app", "backup", clone)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^\s+backup\s+[0-9a-f]+$`, out1)
	code, out1, errOut = s.stackhub(t, s.token, "backup", "list", clone)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^[0-9a-f]+\s+`+clone+`\s+demo 0\.1\.0\s+.*\s+stopped$`, out1)
	code, out1, errOut = s.stackhub(t, s.token, "backup", "verify")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out1, "read 2 backups")
	code, out1, errOut = s.stackhub(t, s.token, "backup", "repository", "list")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^local\s+filesystem\s+`+regexp.QuoteMeta(repoDir)+`\s+yes$`, out1)
	code, _, errOut = s.stackhub(t, s.token, "backup", "repository", "add", "other", "--path", t.TempDir(), "--create")
	assert.Equal(t, exitUsage, code, "no password given: %s", errOut)
	assert.Contains(t, errOut, "STACKHUB_REPOSITORY_PASSWORD")

	// No helper container is left.
	left, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("ancestor", dockerhost.HelperImage)})
	require.NoError(t, err)
	assert.Empty(t, left.Items)
	assert.NotContains(t, s.logs.String(), "long enough password", "the repository's password is never logged")
}

// restore starts a restore of backup id into name and waits for its job;
// it returns the POST's status, the installation name and the job.
func restore(t *testing.T, s server, id, name string) (int, string, map[string]any) {
	t.Helper()
	status, body, hdr := s.api(t, http.MethodPost, "/api/v1/backups/"+id+"/restore", fmt.Sprintf(`{"name":%q}`, name))
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	app, _ := body["app"].(map[string]any)
	inst, _ := app["appName"].(string)
	return status, inst, s.waitJob(t, hdr.Get("Location"), 5*time.Minute)
}

// TestUpgradeRollsBack: an upgrade to a version that breaks (its web
// service overwrites a file of the data, then exits instead of serving)
// is rolled back: the volumes restored from the backup taken just before,
// the previous version (kept by digest: the catalog no longer has it)
// brought up again with its settings and ports. The app runs as before
// with its data intact; the run fails and says it was rolled back, and
// why. STACKHUB_ROLLBACK_ROUNDS sets how many times (2 by default; the
// issue's 20 is a manual run).
func TestUpgradeRollsBack(t *testing.T) {
	c := dockertest.RequireDocker(t)
	h := dockerhost.New(c)
	const name = "itest-rb"
	t.Cleanup(func() { _, _ = h.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	catalogDir, dataDir := t.TempDir(), t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(catalogDir, "demo"), os.DirFS("../../bundles/testdata/demo")))
	s, stop := startStoppable(t, dataDir, "--bundles", catalogDir)
	_, err := s.client().AddRepository(t.Context(), RepositoryRequest{ID: "local", Kind: "filesystem", Path: filepath.Join(t.TempDir(), "repo"),
		Password: "long enough password", Create: true})
	require.NoError(t, err)
	installAndCheck(t, s, `{"app":"demo","name":"`+name+`","parameters":{"message":"v1 settings"}}`, name)
	r := s.waitStatus(t, name, "1")
	webPort := port(t, r.Data["port"])
	writeKnownData(t, c, "websoft9-"+name, "/data", map[string]int{"big.bin": 2 << 20, "small.txt": 100})
	before := volumeSums(t, h, name)
	stop()

	// The catalog moves on to a 0.2.0 whose web service breaks the data
	// and exits; 0.1.0 is gone from it.
	edit := func(file, old, new string) {
		p := filepath.Join(catalogDir, "demo", file)
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Contains(t, string(raw), old, "the demo's %s changed; update this test", file)
		require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(raw), old, new, 1)), 0o644))
	}
	edit("porter.yaml", "version: 0.1.0\n", "version: 0.2.0\n")
	edit("porter.yaml", "      description: Upgrade the demo app\n", "      description: Upgrade the demo app\n      # 0.2.0 breaks: its web service exits.\n")
	edit("porter.yaml", "      wait: 60s\n      outputs:\n        - name: containerName\n          container: web\n        - name: port\n          env: WEB_PORT\n        - name: db_port\n          env: DB_PORT\n\nuninstall:",
		"      wait: 15s\n      outputs:\n        - name: containerName\n          container: web\n        - name: port\n          env: WEB_PORT\n        - name: db_port\n          env: DB_PORT\n\nuninstall:")
	edit("docker-compose.yml", `command: ["http", "-addr", ":8080", "-state", "/data"]`, `command: ["write", "/data/known/small.txt", "APP_MESSAGE"]`)
	s = startServerArgs(t, dataDir, "--bundles", catalogDir)
	code, app, _ := s.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, app["upgradable"], "%v", app)

	rounds := 2
	if n, err := strconv.Atoi(os.Getenv("STACKHUB_ROLLBACK_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for i := range rounds {
		start := time.Now()
		job := s.runJob(t, "/api/v1/apps/"+name+"/upgrade", "")
		require.Equal(t, "failed", job["status"], "round %d: %v", i, job)
		assert.Contains(t, job["message"], "rolled back to 0.1.0", "round %d", i)
		outputs, _ := job["outputs"].(map[string]any)
		assert.Equal(t, "0.1.0", outputs["rolledBack"], "round %d: %v", i, job)
		assert.NotEmpty(t, outputs["backup"], "round %d: the backup taken before", i)
		r = s.waitStatus(t, name, "1")
		assert.Equal(t, "0.1.0", r.Data["version"], "round %d", i)
		assert.Equal(t, webPort, port(t, r.Data["port"]), "round %d: the port stays", i)
		assert.Equal(t, before, volumeSums(t, h, name), "round %d: the data is as before the upgrade", i)
		_, env := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", webPort))
		assert.Contains(t, env, `"APP_MESSAGE":"v1 settings"`, "round %d: the settings too", i)
		t.Logf("round %d: upgrade failed and rolled back in %s", i, time.Since(start).Round(100*time.Millisecond))
	}
	code, runs, _ := s.apiList(t, "/api/v1/apps/"+name+"/runs?limit=1")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "upgrade", runs[0]["action"])
	assert.Contains(t, runs[0]["message"], "rolled back to 0.1.0")
}

// TestScheduledBackups: the default policy is inherited, an app's own
// policy overrides it, the scheduler backs the app up when its schedule
// fires (every minute here: up to about 70 s) and then applies the
// retention, so a backup taken by hand before is pruned.
func TestScheduledBackups(t *testing.T) {
	c := dockertest.RequireDocker(t)
	h := dockerhost.New(c)
	s := startServer(t)
	const name = "itest-sched"
	t.Cleanup(func() { _, _ = h.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	api := s.client()
	ctx := t.Context()
	_, err := api.AddRepository(ctx, RepositoryRequest{ID: "local", Kind: "filesystem", Path: filepath.Join(t.TempDir(), "repo"),
		Password: "long enough password", Create: true})
	require.NoError(t, err)
	installAndCheck(t, s, `{"app":"demo","name":"`+name+`"}`, name)

	code, out, errOut := s.stackhub(t, s.token, "backup", "policy", "--schedule", "0 3 * * *", "--keep-daily", "7")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^schedule\s+0 3 \* \* \*$`, out)
	pol, err := api.BackupPolicy(ctx, name)
	require.NoError(t, err)
	assert.True(t, pol.Inherited, "no policy of its own: the default")
	assert.Equal(t, 7, pol.Keep.Daily)
	require.NotNil(t, pol.Next)
	assert.Equal(t, 3, pol.Next.Local().Hour())
	code, _, errOut = s.stackhub(t, s.token, "backup", "policy", name, "--schedule", "61 * * * *")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "minute", "a bad schedule is refused, naming the field")

	// A backup by hand, then the app's own policy: every minute, keep 1.
	job := s.runJob(t, "/api/v1/apps/"+name+"/backups", `{}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	first := job["outputs"].(map[string]any)["backup"].(string)
	pol, err = api.SetBackupPolicy(ctx, name, BackupPolicy{Schedule: "* * * * *", Keep: Retention{Last: 1}})
	require.NoError(t, err)
	assert.False(t, pol.Inherited)

	deadline := time.Now().Add(100 * time.Second)
	var list []Backup
	for {
		list, err = api.Backups(ctx, name, "")
		require.NoError(t, err)
		if len(list) == 1 && list[0].ID != first {
			break
		}
		require.True(t, time.Now().Before(deadline), "no scheduled backup and prune within 100 s: %+v\n%s", list, s.logs.String())
		time.Sleep(2 * time.Second)
	}
	assert.Contains(t, s.logs.String(), "scheduled backup started")
	code, runs, _ := s.apiList(t, "/api/v1/apps/"+name+"/runs?limit=1")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "snapshot", runs[0]["action"])

	// Cleared: the default applies again.
	require.NoError(t, api.ClearBackupPolicy(ctx, name))
	pol, err = api.BackupPolicy(ctx, name)
	require.NoError(t, err)
	assert.True(t, pol.Inherited)
	assert.Equal(t, "0 3 * * *", pol.Schedule)
}
