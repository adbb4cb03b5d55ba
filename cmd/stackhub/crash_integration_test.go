//go:build integration

package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/failpoint"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// proc is a stackhub serve child process.
type proc struct {
	server
	cmd  *exec.Cmd
	done chan error
}

// crashRig runs the stackhub binary built with -tags failpoints on one
// data directory, restarting it as a test needs.
type crashRig struct {
	t       *testing.T
	bin     string
	dataDir string
	catalog string
	token   string
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "stackhub-failpoints")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-tags", "failpoints", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	r := &crashRig{t: t, bin: bin, dataDir: filepath.Join(dir, "data"), catalog: narrowCatalog(t, 9960, 4960, 30)}
	tok, err := exec.CommandContext(t.Context(), bin, "token", "create", "--data-dir", r.dataDir).Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(tok)), "\n")
	r.token = lines[len(lines)-1]
	return r
}

// start runs serve with the fail point armed ("" arms none) and waits for
// its address.
func (r *crashRig) start(point string) *proc {
	t := r.t
	t.Helper()
	cmd := exec.Command(r.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", r.dataDir,
		"--bundles", r.catalog, "--runtimes-dir", dockertest.RuntimesDir(t))
	cmd.Env = append(os.Environ(), failpoint.Env+"="+point)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log(sc.Text())
		}
	}()
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "serve printed nothing")
	addr, ok := strings.CutPrefix(sc.Text(), "StackHub listening on ")
	require.True(t, ok, "got %q", sc.Text())
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	p := &proc{server: server{url: addr, token: r.token, logs: &logBuffer{}, dataDir: r.dataDir}, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends p with SIGTERM, as an operator would.
func (p *proc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Errorf("serve did not stop within 60 s of SIGTERM")
		_ = p.cmd.Process.Kill()
	}
}

// killed waits until p dies and checks it died of SIGKILL (the fail point).
func (p *proc) killed(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "serve exited with %v, want SIGKILL", err)
		ws, _ := ee.Sys().(syscall.WaitStatus)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "serve ended with %v, want SIGKILL", err)
	case <-time.After(within):
		t.Fatalf("the fail point did not fire within %s", within)
	}
}

// ready waits for /readyz: start-up recovery is done.
func (p *proc) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _ := httpGet(t, p.url+"/readyz")
		if code == http.StatusOK {
			return
		}
		require.True(t, time.Now().Before(deadline), "/readyz still %d after 60 s", code)
		time.Sleep(200 * time.Millisecond)
	}
}

// try sends a change and returns its status, 0 when the server died
// before answering.
func (p *proc) try(method, path, body string) int {
	c := NewClient(p.url, p.token)
	c.HTTP.Timeout = 3 * time.Minute
	resp, err := c.Do(context.Background(), method, path, strings.NewReader(body), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// consistent checks what must hold after a restart: no run left active,
// no orphan or invocation container, the ledger's ports on the running
// app's containers, an intact database. It returns the app's state ("" if
// it is gone).
func (r *crashRig) consistent(t *testing.T, c *client.Client, p *proc, name string) string {
	t.Helper()
	status, app, _ := p.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
	state := ""
	if status == http.StatusOK {
		state, _ = app["state"].(string)
		assert.Contains(t, []string{"running", "failed"}, state, "%s: %v", name, app)
		assert.Nil(t, app["active"], "no run left active")
	} else {
		require.Equal(t, http.StatusNotFound, status, "%v", app)
	}
	published := publishedPorts(t, c, name)
	if state == "running" {
		ports, _ := app["ports"].(map[string]any)
		var ledger []int
		for _, v := range ports {
			ledger = append(ledger, port(t, v))
		}
		assert.ElementsMatch(t, ledger, published, "the ledger's ports are the published ones")
	} else {
		assert.Empty(t, published, "0 orphan containers of %s (state %q)", name, state)
	}
	inv, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", naming.LabelInvocation+"="+name)})
	require.NoError(t, err)
	assert.Empty(t, inv.Items, "no invocation container left")

	db, err := sql.Open("sqlite", "file:"+filepath.Join(r.dataDir, "stackhub.db")+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var check string
	var active int
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check))
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT count(*) FROM runs WHERE finished IS NULL").Scan(&active))
	assert.Equal(t, "ok", check)
	assert.Zero(t, active, "0 runs left running")
	return state
}

// TestCrashFailpoints kills the server with SIGKILL at each named point,
// restarts it on the same data directory and checks it is consistent, and
// that the app can then be installed and removed cleanly.
func TestCrashFailpoints(t *testing.T) {
	c := dockertest.RequireDocker(t)
	r := newCrashRig(t)
	for i, point := range []string{failpoint.InstallAfterCommit, failpoint.RunMidAction, failpoint.RunBeforeResult, failpoint.UninstallAfterMark} {
		name := fmt.Sprintf("crash-%d", i)
		t.Run(point, func(t *testing.T) {
			r.t = t
			if point == failpoint.UninstallAfterMark {
				p := r.start("")
				p.ready(t)
				p.try(http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, name))
				requireRunning(t, p.server, []string{name}, 5*time.Minute)
				p.stop(t)
			}
			p := r.start(point)
			p.ready(t)
			if point == failpoint.UninstallAfterMark {
				p.try(http.MethodDelete, "/api/v1/apps/"+name+"?purge=true", "")
			} else {
				p.try(http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, name))
			}
			p.killed(t, 3*time.Minute)

			start := time.Now()
			p = r.start("")
			p.ready(t)
			t.Logf("%s: ready %s after the restart", point, time.Since(start).Round(10*time.Millisecond))
			state := r.consistent(t, c, p, name)
			if point == failpoint.UninstallAfterMark {
				assert.Empty(t, state, "the interrupted uninstall is finished at start-up")
			}
			if state != "running" {
				status, body, _ := p.api(t, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, name))
				require.Equal(t, http.StatusAccepted, status, "a retry is accepted: %v", body)
				requireRunning(t, p.server, []string{name}, 5*time.Minute)
			}
			p.requireUninstall(t, name)
			objs := publishedPorts(t, c, name)
			assert.Empty(t, objs)
			p.stop(t)
		})
	}
}

// backedUp starts serve, adds a repository, installs the demo as name
// with message, writes data into it and backs it up; it stops serve and
// returns the data's checksums and the backup's ID.
func (r *crashRig) backedUp(t *testing.T, c *client.Client, name, message string, data map[string]int) (map[string]string, string) {
	t.Helper()
	p := r.start("")
	p.ready(t)
	_, err := p.client().AddRepository(t.Context(), RepositoryRequest{ID: "local", Kind: "filesystem", Path: filepath.Join(t.TempDir(), "repo"),
		Password: "long enough password", Create: true})
	require.NoError(t, err)
	status, body, _ := p.api(t, http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q,"parameters":{"message":%q}}`, name, message))
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	requireRunning(t, p.server, []string{name}, 5*time.Minute)
	writeKnownData(t, c, "websoft9-"+name, "/data", data)
	sums := volumeSums(t, dockerhost.New(c), name)
	job := p.runJob(t, "/api/v1/apps/"+name+"/backups", `{}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	p.stop(t)
	return sums, job["outputs"].(map[string]any)["backup"].(string)
}

// restarted starts serve again after a kill and checks what must hold
// then (consistent) and that no volume helper is left holding the app's
// volumes; it returns the app's state.
func (r *crashRig) restarted(t *testing.T, c *client.Client, name string) (*proc, string) {
	t.Helper()
	p := r.start("")
	p.ready(t)
	state := r.consistent(t, c, p, name)
	helpers, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("ancestor", dockerhost.HelperImage)})
	require.NoError(t, err)
	assert.Empty(t, helpers.Items, "no volume helper left: it would hold the app's volumes")
	return p, state
}

// TestCrashBackups kills the server with SIGKILL in the middle of a
// backup, of a restore in place and of an upgrade, restarts it and checks:
// no run left active, the app running again (its containers started after
// the backup, the upgrade rolled back at start-up, the restore finished by
// running it again), its data as before, and the backups taken before
// still restorable and verified.
func TestCrashBackups(t *testing.T) {
	c := dockertest.RequireDocker(t)
	h := dockerhost.New(c)
	r := newCrashRig(t)
	const name = "crash-bk"
	t.Cleanup(func() {
		for _, n := range []string{name, name + "-copy"} {
			_, _ = h.RemoveApp(context.WithoutCancel(t.Context()), n, "", true)
		}
	})
	before, b1 := r.backedUp(t, c, name, "before", map[string]int{"big.bin": 2 << 20, "small.txt": 64})
	restart := func(t *testing.T) *proc {
		p, _ := r.restarted(t, c, name)
		return p
	}

	t.Run("backup", func(t *testing.T) {
		r.t = t
		p := r.start(failpoint.BackupMidSave)
		p.ready(t)
		p.try(http.MethodPost, "/api/v1/apps/"+name+"/backups", `{}`)
		p.killed(t, 3*time.Minute)
		p = restart(t)
		requireRunning(t, p.server, []string{name}, 2*time.Minute)
		for _, n := range []string{"websoft9-" + name, "websoft9-" + name + "-db"} {
			_, running, _ := containerID(t, c, n)
			assert.True(t, running, "%s runs again after the interrupted backup", n)
		}
		list, err := p.client().Backups(t.Context(), name, "")
		require.NoError(t, err)
		require.Len(t, list, 1, "the interrupted backup was never saved")
		assert.Equal(t, b1, list[0].ID)
		res, err := p.client().VerifyBackup(t.Context(), "", "")
		require.NoError(t, err)
		assert.Empty(t, res.Errors, "the repository is intact")
		p.stop(t)
	})

	t.Run("restore", func(t *testing.T) {
		r.t = t
		p := r.start("")
		p.ready(t)
		writeKnownData(t, c, "websoft9-"+name, "/data", map[string]int{"small.txt": 10})
		current := volumeSums(t, h, name)
		p.stop(t)
		p = r.start(failpoint.RestoreAfterVolume)
		p.ready(t)
		p.try(http.MethodPost, "/api/v1/backups/"+b1+"/restore", `{}`)
		p.killed(t, 3*time.Minute)
		p = restart(t)
		status, app, _ := p.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "running", app["state"], "an interrupted restore in place is rolled back at start-up: %v", app)
		assert.Equal(t, current, volumeSums(t, h, name), "the data as before the restore")
		_, _, job := restore(t, p.server, b1, "")
		require.Equal(t, "succeeded", job["status"], "restored again: %v", job)
		assert.Equal(t, before, volumeSums(t, h, name), "the backup's data")
		p.stop(t)
	})

	t.Run("upgrade", func(t *testing.T) {
		r.t = t
		p := r.start(failpoint.RunMidAction)
		p.ready(t)
		p.try(http.MethodPost, "/api/v1/apps/"+name+"/upgrade", `{"parameters":{"message":"after"}}`)
		p.killed(t, 3*time.Minute)
		p = restart(t)
		status, app, _ := p.api(t, http.MethodGet, "/api/v1/apps/"+name, "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "running", app["state"], "rolled back at start-up: %v", app)
		assert.Equal(t, before, volumeSums(t, h, name), "the data as before the upgrade")
		r := p.waitStatus(t, name, "1")
		_, env := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port(t, r.Data["port"])))
		assert.Contains(t, env, `"APP_MESSAGE":"before"`, "the settings as before the upgrade")
		code, runs, _ := p.apiList(t, "/api/v1/apps/"+name+"/runs?limit=1")
		require.Equal(t, http.StatusOK, code)
		assert.Equal(t, "upgrade", runs[0]["action"])
		assert.Contains(t, runs[0]["message"], "rolled back")
		p.stop(t)
	})
}

// TestKillBackupsAtRandom kills serve with SIGKILL at a random moment of a
// backup, a restore in place and an upgrade (each in turn,
// STACKHUB_KILL_ROUNDS times each: 2 in make test, 20 by hand), then
// restarts it on the same data: no run is left active, no helper holds
// the volumes, the app runs with its data (as before the operation, or as
// the restored backup when the restore had finished), every backup
// verifies, and the first one still restores.
func TestKillBackupsAtRandom(t *testing.T) {
	c := dockertest.RequireDocker(t)
	h := dockerhost.New(c)
	rounds := 2
	if v := os.Getenv("STACKHUB_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		rounds = n
	}
	r := newCrashRig(t)
	const name = "kill-bk"
	t.Cleanup(func() { _, _ = h.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	first, b1 := r.backedUp(t, c, name, "v0", map[string]int{"big.bin": 24 << 20, "small.txt": 64})
	p := r.start("")
	p.ready(t)
	// Later data, so that a finished restore shows.
	writeKnownData(t, c, "websoft9-"+name, "/data", map[string]int{"small.txt": 99})

	type op struct {
		kind string
		path string
		body func(i int) string
		took time.Duration
	}
	ops := []*op{
		{kind: "backup", path: "/api/v1/apps/" + name + "/backups", body: func(int) string { return `{}` }},
		{kind: "restore", path: "/api/v1/backups/" + b1 + "/restore", body: func(int) string { return `{}` }},
		{kind: "upgrade", path: "/api/v1/apps/" + name + "/upgrade", body: func(i int) string {
			return fmt.Sprintf(`{"parameters":{"message":"v%d"}}`, i)
		}},
	}
	// How long each takes whole: the kills fall within that.
	for _, o := range ops {
		if o.kind == "restore" {
			continue // measured below without changing the data
		}
		start := time.Now()
		job := p.runJob(t, o.path, o.body(0))
		require.Equal(t, "succeeded", job["status"], "%s: %v", o.kind, job)
		o.took = time.Since(start)
	}
	ops[1].took = ops[0].took + ops[2].took // a safety backup, then a reinstall
	p.stop(t)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 19))
	outcomes := map[string]int{}
	for i := range rounds * len(ops) {
		o := ops[i%len(ops)]
		t.Run(fmt.Sprintf("%s-%d", o.kind, i/len(ops)+1), func(t *testing.T) {
			r.t = t
			before := volumeSums(t, h, name)
			p := r.start("")
			p.ready(t)
			status, _, _ := p.api(t, http.MethodPost, o.path, o.body(i+1))
			require.Equal(t, http.StatusAccepted, status)
			wait := time.Duration(rng.Int64N(int64(o.took) * 5 / 4))
			time.Sleep(wait)
			require.NoError(t, p.cmd.Process.Kill())
			<-p.done

			p, state := r.restarted(t, c, name)
			assert.Equal(t, "running", state, "the app runs after a kill %s into its %s", wait, o.kind)
			requireRunning(t, p.server, []string{name}, 2*time.Minute)
			after := volumeSums(t, h, name)
			code, runs, _ := p.apiList(t, "/api/v1/apps/"+name+"/runs?limit=1")
			require.Equal(t, http.StatusOK, code)
			finished := runs[0]["status"] == "succeeded"
			switch {
			case o.kind == "restore" && finished:
				assert.Equal(t, first, after, "the restored backup's data")
				outcomes[o.kind+" finished"]++
				// The next rounds start from the later data again.
				writeKnownData(t, c, "websoft9-"+name, "/data", map[string]int{"small.txt": 99})
			default:
				assert.Equal(t, before, after, "the data as before the %s (%s in, run %v: %v)", o.kind, wait, runs[0]["status"], runs[0]["message"])
				if finished {
					outcomes[o.kind+" finished"]++
				} else {
					outcomes[o.kind+" interrupted"]++
				}
			}
			res, err := p.client().VerifyBackup(t.Context(), "", "")
			require.NoError(t, err)
			assert.Empty(t, res.Errors, "every backup reads back")
			list, err := p.client().Backups(t.Context(), name, "")
			require.NoError(t, err)
			assert.True(t, slices.ContainsFunc(list, func(b Backup) bool { return b.ID == b1 }), "the first backup is kept")
			p.stop(t)
		})
	}
	t.Logf("outcomes of %d kills: %v", rounds*len(ops), outcomes)

	// The first backup still restores, whole.
	p = r.start("")
	p.ready(t)
	_, _, job := restore(t, p.server, b1, "")
	require.Equal(t, "succeeded", job["status"], "%v", job)
	assert.Equal(t, first, volumeSums(t, h, name))
	p.stop(t)
}
