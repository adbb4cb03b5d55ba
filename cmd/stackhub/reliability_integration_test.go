//go:build integration

package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/porter-mixin/naming"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read the state file
)

// narrowCatalog writes a catalog holding the demo bundle with its web and
// database ports narrowed to [web, web+n) and [db, db+n), and more patience
// for health checks (these tests are about ports and storage, not speed).
func narrowCatalog(t *testing.T, web, db, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "catalog")
	require.NoError(t, os.CopyFS(filepath.Join(dir, "demo"), os.DirFS("../../bundles/testdata/demo")))
	path := filepath.Join(dir, "demo", "porter.yaml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(raw)
	for _, r := range []struct {
		from string
		lo   int
	}{{"minimum: 9001\n    maximum: 9999", web}, {"minimum: 3307\n    maximum: 3399", db}} {
		require.Contains(t, s, r.from)
		s = strings.Replace(s, r.from, fmt.Sprintf("minimum: %d\n    maximum: %d", r.lo, r.lo+n-1), 1)
	}
	// Many installs at once on 2 cores take longer to turn healthy than
	// the demo's one minute.
	s = strings.ReplaceAll(s, "wait: 60s", "wait: 5m")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	compose := filepath.Join(dir, "demo", "docker-compose.yml")
	raw, err = os.ReadFile(compose)
	require.NoError(t, err)
	// A probe every second in 40 containers is 40 execs a second: more
	// than 2 cores give while 20 installs run.
	cs := strings.ReplaceAll(string(raw), "retries: 30", "retries: 100")
	cs = strings.ReplaceAll(cs, "interval: 1s", "interval: 3s")
	require.NoError(t, os.WriteFile(compose, []byte(cs), 0o644))
	return dir
}

// installMany posts installs of demo under names at once and returns each
// answer's status and body.
func installMany(t *testing.T, s server, names []string) (codes []int, bodies []map[string]any) {
	t.Helper()
	codes, bodies = make([]int, len(names)), make([]map[string]any, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			codes[i], bodies[i], _ = s.api(t, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, name))
		})
	}
	wg.Wait()
	return codes, bodies
}

// waitAll waits until every named app has left installing; it returns the
// states.
func waitAll(t *testing.T, s server, names []string, limit time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(limit)
	states := map[string]string{}
	for _, name := range names {
		for {
			status, app, _ := s.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
			require.Equal(t, http.StatusOK, status, "%s: %v", name, app)
			if st, _ := app["state"].(string); st != "installing" && app["active"] == nil {
				states[name] = st
				break
			}
			require.True(t, time.Now().Before(deadline), "%s still installing after %s", name, limit)
			time.Sleep(500 * time.Millisecond)
		}
	}
	return states
}

// requireRunning waits until every named app has left installing and
// requires it to run.
func requireRunning(t *testing.T, s server, names []string, limit time.Duration) {
	t.Helper()
	for name, st := range waitAll(t, s, names, limit) {
		require.Equal(t, "running", st, name)
	}
}

// publishedPorts returns the host ports the containers of installation
// name publish.
func publishedPorts(t *testing.T, c *client.Client, name string) []int {
	t.Helper()
	list, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", naming.LabelApp+"="+name)})
	require.NoError(t, err)
	var out []int
	for _, ct := range list.Items {
		for _, p := range ct.Ports {
			if p.PublicPort != 0 {
				out = append(out, int(p.PublicPort))
			}
		}
	}
	return out
}

// uninstallAll removes every app of s with its volumes.
func uninstallAll(t *testing.T, s server) {
	status, list, _ := s.apiList(t, "/api/v1/apps")
	if status != http.StatusOK {
		t.Errorf("list apps: %d", status)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for _, app := range list {
		name, _ := app["appName"].(string)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// An install still running (the test failed early) ends first.
			for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(2 * time.Second) {
				st, body := s.uninstallJob(t, name)
				if st == http.StatusConflict && time.Now().Before(deadline) {
					continue
				}
				if st != http.StatusAccepted || body["status"] != "succeeded" {
					t.Errorf("uninstall %s: %d %v", name, st, body)
				}
				return
			}
		})
	}
	wg.Wait()
}

// apiList GETs a /api/v1 list.
func (s server) apiList(t *testing.T, path string) (int, []map[string]any, http.Header) {
	t.Helper()
	resp := s.do(t, http.MethodGet, path, nil, nil)
	defer resp.Body.Close()
	var out []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out, resp.Header
}

// concurrentInstalls installs rounds × 20 apps, 20 at a time, on 64-port
// ranges: every one runs, on distinct ports that match what Docker
// publishes, and answers HTTP.
func concurrentInstalls(t *testing.T, rounds int) {
	c := dockertest.RequireDocker(t)
	s := startServerArgs(t, t.TempDir(), "--bundles", narrowCatalog(t, 9700, 4700, 64))
	t.Cleanup(func() { uninstallAll(t, s) })
	const perRound = 20
	owner := map[int]string{}
	start := time.Now()
	for round := range rounds {
		names := make([]string, perRound)
		for i := range names {
			names[i] = fmt.Sprintf("conc-%d-%02d", round, i)
		}
		codes, bodies := installMany(t, s, names)
		for i, code := range codes {
			require.Equal(t, http.StatusAccepted, code, "%s: %v", names[i], bodies[i])
		}
		requireRunning(t, s, names, 10*time.Minute)
		for _, name := range names {
			_, app, _ := s.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
			ports, _ := app["ports"].(map[string]any)
			require.Len(t, ports, 2, "%s: %v", name, app)
			var mine []int
			for _, v := range ports {
				p := port(t, v)
				require.Empty(t, owner[p], "port %d given to %s and %s", p, owner[p], name)
				owner[p] = name
				mine = append(mine, p)
			}
			assert.ElementsMatch(t, mine, publishedPorts(t, c, name), "%s: the ledger and Docker agree", name)
			code, _ := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port(t, ports["port"])))
			assert.Equal(t, http.StatusOK, code, "%s answers", name)
		}
		t.Logf("round %d: %d installs running after %s", round+1, perRound, time.Since(start).Round(time.Second))
	}
	assert.Len(t, owner, 2*rounds*perRound, "0 port collisions")
}

// TestPortExhaustion: 15 concurrent installs on 10-port ranges: exactly 10
// are accepted, 5 refused at once with the reason and nothing left of them;
// after one uninstall the next install fits.
func TestPortExhaustion(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServerArgs(t, t.TempDir(), "--bundles", narrowCatalog(t, 9800, 4800, 10))
	t.Cleanup(func() { uninstallAll(t, s) })
	names := make([]string, 15)
	for i := range names {
		names[i] = fmt.Sprintf("full-%02d", i)
	}
	codes, bodies := installMany(t, s, names)
	var accepted, refused []string
	for i, code := range codes {
		switch code {
		case http.StatusAccepted:
			accepted = append(accepted, names[i])
		case http.StatusConflict:
			refused = append(refused, names[i])
			assert.Contains(t, bodies[i]["message"], "no free port for", "%s", names[i])
		default:
			t.Errorf("%s: %d %v", names[i], code, bodies[i])
		}
	}
	require.Len(t, accepted, 10)
	require.Len(t, refused, 5)
	for _, name := range refused {
		status, _, _ := s.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
		assert.Equal(t, http.StatusNotFound, status, "%s left a record", name)
		assert.Empty(t, publishedPorts(t, c, name), "%s left containers", name)
	}
	requireRunning(t, s, accepted, 10*time.Minute)
	s.requireUninstall(t, accepted[0])
	codes, bodies = installMany(t, s, []string{"full-next"})
	require.Equal(t, http.StatusAccepted, codes[0], "%v", bodies[0])
	requireRunning(t, s, []string{"full-next"}, 2*time.Minute)
}

// TestSameNameInstall: 50 concurrent installs of one name: exactly one is
// accepted and one set of containers exists; then of 20 concurrent
// uninstalls one is accepted (the others find its job running, or the app
// gone) and removes it.
func TestSameNameInstall(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServerArgs(t, t.TempDir(), "--bundles", narrowCatalog(t, 9900, 4900, 20))
	t.Cleanup(func() { uninstallAll(t, s) })
	names := make([]string, 50)
	for i := range names {
		names[i] = "same"
	}
	codes, bodies := installMany(t, s, names)
	accepted := 0
	for i, code := range codes {
		if code == http.StatusAccepted {
			accepted++
			continue
		}
		assert.Equal(t, http.StatusConflict, code, "%v", bodies[i])
	}
	require.Equal(t, 1, accepted)
	requireRunning(t, s, []string{"same"}, 2*time.Minute)
	assert.Len(t, publishedPorts(t, c, "same"), 2, "one set of containers")

	var mu sync.Mutex
	removed := 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			status, body := s.uninstallJob(t, "same")
			mu.Lock()
			defer mu.Unlock()
			switch status {
			case http.StatusAccepted:
				assert.Equal(t, "succeeded", body["status"], "%v", body)
				removed++
			case http.StatusNotFound, http.StatusConflict:
			default:
				t.Errorf("uninstall: %d %v", status, body)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, removed, "removed once")
	assert.Empty(t, publishedPorts(t, c, "same"))
}

// TestServiceNameCollision races installs of apps coll and coll-db: coll's
// db service and coll-db's main container are both websoft9-coll-db, so
// exactly one of the twenty is accepted, the others are refused with 409
// naming the container, and one set of containers runs.
func TestServiceNameCollision(t *testing.T) {
	c := dockertest.RequireDocker(t)
	s := startServerArgs(t, t.TempDir(), "--bundles", narrowCatalog(t, 9600, 4600, 20))
	t.Cleanup(func() { uninstallAll(t, s) })
	names := make([]string, 20)
	for i := range names {
		names[i] = "coll"
		if i%2 == 1 {
			names[i] = "coll-db"
		}
	}
	codes, bodies := installMany(t, s, names)
	var winner string
	for i, code := range codes {
		if code == http.StatusAccepted {
			require.Empty(t, winner, "a second install was accepted: %s after %s", names[i], winner)
			winner = names[i]
			continue
		}
		require.Equal(t, http.StatusConflict, code, "%v", bodies[i])
		if names[i] != winner && winner != "" {
			// Refused by the other name: the message says which container.
			msg, _ := bodies[i]["message"].(string)
			assert.Contains(t, msg, "websoft9-coll", "%v", bodies[i])
		}
	}
	require.NotEmpty(t, winner, "one install is accepted")
	requireRunning(t, s, []string{winner}, 2*time.Minute)
	loser := map[string]string{"coll": "coll-db", "coll-db": "coll"}[winner]
	status, body, _ := s.api(t, http.MethodGet, "/api/v1/apps/"+loser, "")
	assert.Equal(t, http.StatusNotFound, status, "%v", body)
	assert.Len(t, publishedPorts(t, c, winner), 2, "one set of containers")
	assert.Empty(t, publishedPorts(t, c, loser))
	// Once the winner is gone the other name installs.
	s.requireUninstall(t, winner)
	status, body, _ = s.api(t, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, loser))
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	requireRunning(t, s, []string{loser}, 2*time.Minute)
}

// TestDiskFull puts the data directory on a 4 MiB tmpfs and fills it: every
// change is refused with 503 and a clear message, nothing reaches Docker,
// the database stays intact, and once space returns installs work again
// without a restart.
func TestDiskFull(t *testing.T) {
	c := dockertest.RequireDocker(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	data := filepath.Join(mnt, "data")
	s := startServerArgs(t, data, "--bundles", narrowCatalog(t, 9940, 4940, 20))
	t.Cleanup(func() { uninstallAll(t, s) })

	ballast := filepath.Join(mnt, "ballast")
	f, err := os.Create(ballast)
	require.NoError(t, err)
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Close())

	for i := range 20 {
		name := fmt.Sprintf("full-disk-%02d", i)
		status, body, _ := s.api(t, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, name))
		require.Equal(t, http.StatusServiceUnavailable, status, "%s: %v", name, body)
		assert.Contains(t, body["message"], "cannot be written")
		assert.Empty(t, publishedPorts(t, c, name), "%s reached Docker", name)
	}
	status, list, _ := s.apiList(t, "/api/v1/apps")
	require.Equal(t, http.StatusOK, status, "reads still work")
	assert.Empty(t, list)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "stackhub.db")+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var check string
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check))
	assert.Equal(t, "ok", check)

	require.NoError(t, os.Remove(ballast))
	codes, bodies := installMany(t, s, []string{"after-full"})
	require.Equal(t, http.StatusAccepted, codes[0], "space is back: %v", bodies[0])
	requireRunning(t, s, []string{"after-full"}, 3*time.Minute)
}
