//go:build integration

package portermixin_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/websoft9/stackhub/porter-mixin/events"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	portermixin "github.com/websoft9/stackhub/porter-mixin"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// requireDocker fails (never skips) when no engine answers: make test
// starts one (make docker-up).
func requireDocker(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	require.NoError(t, err, "no Docker engine answers: run make docker-up")
	t.Cleanup(func() { c.Close() })
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func labelled(t *testing.T, c *client.Client, app string) (containers, networks, volumes []string) {
	t.Helper()
	f := client.Filters{}.Add("label", naming.LabelApp+"="+app)
	cs, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: f})
	require.NoError(t, err)
	for _, x := range cs.Items {
		containers = append(containers, strings.TrimPrefix(x.Names[0], "/"))
	}
	ns, err := c.NetworkList(t.Context(), client.NetworkListOptions{Filters: f})
	require.NoError(t, err)
	for _, x := range ns.Items {
		networks = append(networks, x.Name)
	}
	vs, err := c.VolumeList(t.Context(), client.VolumeListOptions{Filters: f})
	require.NoError(t, err)
	for _, x := range vs.Items {
		volumes = append(volumes, x.Name)
	}
	return containers, networks, volumes
}

// cleanupApp removes whatever carries app's label when the test ends,
// whether or not the test's own uninstall ran.
func cleanupApp(t *testing.T, c *client.Client, app string) {
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		f := client.Filters{}.Add("label", naming.LabelApp+"="+app)
		if cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
			for _, x := range cs.Items {
				_, _ = c.ContainerRemove(ctx, x.ID, client.ContainerRemoveOptions{Force: true})
			}
		}
		if ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
			for _, x := range ns.Items {
				_, _ = c.NetworkRemove(ctx, x.ID, client.NetworkRemoveOptions{})
			}
		}
		if vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
			for _, x := range vs.Items {
				_, _ = c.VolumeRemove(ctx, x.Name, client.VolumeRemoveOptions{Force: true})
			}
		}
	})
}

// newMixin returns a Mixin reading step, working in the demo bundle's
// directory, with the SDK composer writing to out.
func newMixin(t *testing.T, step string, out *bytes.Buffer) *portermixin.Mixin {
	t.Helper()
	wd, err := filepath.Abs("../bundles/testdata/demo")
	require.NoError(t, err)
	return &portermixin.Mixin{
		In: strings.NewReader(step), Out: out, Err: out,
		Getenv:     func(k string) string { return map[string]string{"CNAB_REVISION": "rev-mixin-test"}[k] },
		WorkDir:    wd,
		OutputsDir: filepath.Join(t.TempDir(), "outputs"),
		Compose:    &portermixin.SDK{Out: out},
	}
}

func inspect(t *testing.T, c *client.Client, container string) client.ContainerInspectResult {
	t.Helper()
	res, err := c.ContainerInspect(t.Context(), container, client.ContainerInspectOptions{})
	require.NoError(t, err)
	return res
}

func volumeCreated(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	res, err := c.VolumeInspect(t.Context(), name, client.VolumeInspectOptions{})
	require.NoError(t, err)
	return res.Volume.CreatedAt
}

func httpGet(t *testing.T, port int, path string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func readOutput(t *testing.T, m *portermixin.Mixin, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.OutputsDir, name))
	require.NoError(t, err)
	return string(b)
}

func stages(out string) []events.Stage {
	var s []events.Stage
	for line := range strings.Lines(out) {
		if e, ok := events.Parse(line); ok {
			s = append(s, e.Stage)
		}
	}
	return s
}

func demoStep(action, app string, web, db int, extra string) string {
	return fmt.Sprintf("%s:\n- websoft9:\n    description: %s the demo app\n    app: %s\n    compose: docker-compose.yml\n    env:\n      WEB_PORT: %d\n      DB_PORT: %d\n%s",
		action, action, app, web, db, extra)
}

func TestMixinUpDown(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-updown"
	cleanupApp(t, c, app)
	web, db := freePort(t), freePort(t)

	var out bytes.Buffer
	m := newMixin(t, demoStep("install", app, web, db, `    main: web
    wait: 60s
    outputs:
      - name: containerName
        container: web
      - name: port
        env: WEB_PORT
      - name: published
        port: {service: web, target: 8080}
      - name: health
        container: web
        jsonPath: $.State.Health.Status
      - name: appLabel
        container: db
        jsonPath: $.Config.Labels["sh.websoft9.app"]
`), &out)
	require.NoError(t, m.Install(t.Context()), out.String())
	assert.Contains(t, httpGet(t, web, "/"), `"app":"stackhub-testapp"`)

	containers, networks, volumes := labelled(t, c, app)
	assert.ElementsMatch(t, []string{"websoft9-" + app, "websoft9-" + app + "-db"}, containers)
	assert.Equal(t, []string{"websoft9-" + app + "_default"}, networks)
	assert.ElementsMatch(t, []string{"websoft9-" + app + "_data", "websoft9-" + app + "_dbdata"}, volumes)
	insp := inspect(t, c, "websoft9-"+app)
	assert.Equal(t, "rev-mixin-test", insp.Container.Config.Labels[naming.LabelRun])
	assert.Equal(t, "web", insp.Container.Config.Labels[naming.LabelService])

	assert.Equal(t, "websoft9-"+app, readOutput(t, m, "containerName"))
	assert.Equal(t, fmt.Sprint(web), readOutput(t, m, "port"))
	assert.Equal(t, fmt.Sprint(web), readOutput(t, m, "published"))
	assert.Equal(t, "healthy", readOutput(t, m, "health"))
	assert.Equal(t, app, readOutput(t, m, "appLabel"))
	s := stages(out.String())
	require.NotEmpty(t, s)
	assert.Equal(t, events.StageBegin, s[0])
	assert.Equal(t, events.StageDone, s[len(s)-1])
	assert.Contains(t, s, events.StageCreating)
	assert.Contains(t, s, events.StageWaiting)
	assert.Contains(t, out.String(), "websoft9: Container websoft9-"+app+" Healthy\n", "plain log lines stay")

	// Uninstall without purge keeps the volumes; with purge removes them.
	out.Reset()
	require.NoError(t, newMixin(t, demoStep("uninstall", app, web, db, ""), &out).Uninstall(t.Context()), out.String())
	containers, networks, volumes = labelled(t, c, app)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Len(t, volumes, 2, "volumes are kept without purge")
	assert.Contains(t, stages(out.String()), events.StageRemoving)

	require.NoError(t, newMixin(t, "uninstall:\n- websoft9:\n    app: "+app+"\n    purge: \"true\"\n", &out).Uninstall(t.Context()), out.String())
	containers, networks, volumes = labelled(t, c, app)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Empty(t, volumes, "purge removes the volumes, also without the compose file")
}

// inlineStep is an install or upgrade step with inline services: web keeps
// its first-start time in the volume data, and MODE in its environment.
func inlineStep(action, app string, port int, mode string) string {
	return fmt.Sprintf(`%s:
- websoft9:
    description: %s from inline services
    app: %s
    main: web
    wait: 60s
    services:
      web:
        image: stackhub-test/web:dev
        command: [http, -addr, ":8080", -state, /data]
        environment:
          MODE: %s
        ports: ["127.0.0.1:%d:8080"]
        volumes: [data:/data]
        healthcheck:
          test: [CMD, /testapp, probe, http, "http://127.0.0.1:8080/healthz"]
          interval: 1s
          timeout: 2s
          retries: 30
        depends_on:
          db: {condition: service_healthy}
      db:
        image: stackhub-test/web:dev
        command: [tcp, -addr, ":5432"]
        volumes:
          - {type: volume, source: dbdata, target: /var/lib/db}
        healthcheck:
          test: [CMD, /testapp, probe, tcp, "127.0.0.1:5432"]
          interval: 1s
          timeout: 2s
          retries: 30
    outputs:
      - name: port
        port: {service: web, target: 8080}
`, action, action, app, mode, port)
}

func TestMixinUpgrade(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-upgrade"
	cleanupApp(t, c, app)
	port := freePort(t)
	webName, dbName := "websoft9-"+app, "websoft9-"+app+"-db"
	volumes := []string{"websoft9-" + app + "_data", "websoft9-" + app + "_dbdata"}

	var out bytes.Buffer
	require.NoError(t, newMixin(t, inlineStep("install", app, port, "v1"), &out).Install(t.Context()), out.String())
	webID, dbID := inspect(t, c, webName).Container.ID, inspect(t, c, dbName).Container.ID
	created := map[string]string{}
	for _, v := range volumes {
		created[v] = volumeCreated(t, c, v)
	}
	firstStart := httpGet(t, port, "/state")
	require.NotEmpty(t, firstStart)
	assert.Contains(t, httpGet(t, port, "/"), `"MODE":"v1"`)

	// The same step again changes nothing.
	out.Reset()
	require.NoError(t, newMixin(t, inlineStep("upgrade", app, port, "v1"), &out).Upgrade(t.Context()), out.String())
	assert.Equal(t, webID, inspect(t, c, webName).Container.ID, "unchanged web is not recreated")
	assert.Equal(t, dbID, inspect(t, c, dbName).Container.ID, "unchanged db is not recreated")

	// A new MODE for web only recreates web; db, the volumes, their data
	// and the port stay.
	out.Reset()
	m := newMixin(t, inlineStep("upgrade", app, port, "v2"), &out)
	require.NoError(t, m.Upgrade(t.Context()), out.String())
	assert.NotEqual(t, webID, inspect(t, c, webName).Container.ID, "web's config changed: recreated")
	assert.Equal(t, dbID, inspect(t, c, dbName).Container.ID, "db's config did not change: kept")
	for _, v := range volumes {
		assert.Equal(t, created[v], volumeCreated(t, c, v), "volume %s is kept", v)
	}
	assert.Equal(t, firstStart, httpGet(t, port, "/state"), "the data in the volume survived")
	assert.Contains(t, httpGet(t, port, "/"), `"MODE":"v2"`)
	assert.Equal(t, fmt.Sprint(port), readOutput(t, m, "port"))
	assert.Contains(t, out.String(), "Recreate")
}

func TestMixinInvoke(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-invoke"
	cleanupApp(t, c, app)
	web, db := freePort(t), freePort(t)
	webName, dbName := "websoft9-"+app, "websoft9-"+app+"-db"
	running := func() (bool, bool) {
		return inspect(t, c, webName).Container.State.Running, inspect(t, c, dbName).Container.State.Running
	}

	var out bytes.Buffer
	require.NoError(t, newMixin(t, demoStep("install", app, web, db, "    main: web\n    wait: 60s\n"), &out).Install(t.Context()), out.String())

	// stop and start work from the project's containers, without a model.
	out.Reset()
	m := newMixin(t, "stop:\n- websoft9:\n    app: "+app+"\n    outputs: [{name: state, container: web, jsonPath: $.State.Status}]\n", &out)
	require.NoError(t, m.Invoke(t.Context(), "stop"), out.String())
	webUp, dbUp := running()
	assert.False(t, webUp)
	assert.False(t, dbUp)
	assert.Equal(t, "exited", readOutput(t, m, "state"))
	assert.Contains(t, stages(out.String()), events.StageStopping)

	out.Reset()
	require.NoError(t, newMixin(t, "start:\n- websoft9:\n    app: "+app+"\n    wait: 60s\n", &out).Invoke(t.Context(), "start"), out.String())
	webUp, dbUp = running()
	assert.True(t, webUp)
	assert.True(t, dbUp)

	// restart with the compose file, limited to web.
	webStarted, dbStarted := inspect(t, c, webName).Container.State.StartedAt, inspect(t, c, dbName).Container.State.StartedAt
	out.Reset()
	require.NoError(t, newMixin(t, demoStep("restart", app, web, db, "    main: web\n    start: [web]\n"), &out).Invoke(t.Context(), "restart"), out.String())
	webUp, dbUp = running()
	assert.True(t, webUp)
	assert.True(t, dbUp)
	assert.NotEqual(t, webStarted, inspect(t, c, webName).Container.State.StartedAt, "web restarted")
	assert.Equal(t, dbStarted, inspect(t, c, dbName).Container.State.StartedAt, "db left alone")

	// stop limited to db leaves web running.
	out.Reset()
	require.NoError(t, newMixin(t, "stop:\n- websoft9:\n    app: "+app+"\n    start: [db]\n", &out).Invoke(t.Context(), "stop"), out.String())
	webUp, dbUp = running()
	assert.True(t, webUp)
	assert.False(t, dbUp)

	err := newMixin(t, "backup:\n- websoft9: {app: "+app+"}\n", &out).Invoke(t.Context(), "backup")
	require.EqualError(t, err, "websoft9 does not implement action backup (it implements start, stop, restart)")

	err = newMixin(t, "start:\n- websoft9: {app: itest-mx-absent}\n", &out).Invoke(t.Context(), "start")
	require.ErrorContains(t, err, "start websoft9-itest-mx-absent: ")
}

func TestMixinRefusesBindMounts(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-bind"
	cleanupApp(t, c, app)
	dir := t.TempDir()
	compose := "services:\n  web:\n    image: stackhub-test/web:dev\n    volumes:\n      - /etc:/host-etc\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(compose), 0o644))
	tests := []struct{ name, step string }{
		{"compose file", "install:\n- websoft9:\n    app: " + app + "\n    compose: compose.yml\n    main: web\n"},
		{"inline services", "install:\n- websoft9:\n    app: " + app + "\n    main: web\n    services:\n      web:\n        image: stackhub-test/web:dev\n        volumes: [\"/etc:/host-etc\"]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			m := newMixin(t, tc.step, &out)
			m.WorkDir = dir
			err := m.Install(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), `mounts host path "/etc" at /host-etc: host bind mounts are refused, use a named volume`)
			containers, networks, _ := labelled(t, c, app)
			assert.Empty(t, containers, "nothing is created")
			assert.Empty(t, networks)
			var last events.Event
			for line := range strings.Lines(out.String()) {
				if e, ok := events.Parse(line); ok {
					last = e
				}
			}
			assert.Equal(t, events.StageFailed, last.Stage)
		})
	}
}

// TestMixinConfigFiles: a config and a secret read from files of the
// bundle reach the container as those files' content (the host has no
// such path to bind-mount), and a secret file outside the bundle is
// refused before anything is made.
func TestMixinConfigFiles(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-configs"
	cleanupApp(t, c, app)
	dir := t.TempDir()
	compose := "services:\n  web:\n    image: stackhub-test/web:dev\n    configs:\n      - source: site\n        target: /etc/site.yml\n" +
		"    secrets: [token]\nconfigs:\n  site:\n    file: ./site.yml\nsecrets:\n  token:\n    file: ./token.txt\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(compose), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "site.yml"), []byte("title: from the bundle\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token.txt"), []byte("t0ken"), 0o600))
	step := "install:\n- websoft9:\n    app: " + app + "\n    compose: compose.yml\n    main: web\n"
	var out bytes.Buffer
	m := newMixin(t, step, &out)
	m.WorkDir = dir
	require.NoError(t, m.Install(t.Context()), out.String())
	name := naming.Container(app, "web", true)
	assert.Equal(t, "title: from the bundle\n", readContainerFile(t, c, name, "/etc/site.yml"))
	assert.Equal(t, "t0ken", readContainerFile(t, c, name, "/run/secrets/token"))
	assert.Empty(t, inspect(t, c, name).Container.HostConfig.Binds, "no bind mount")
	assert.NotContains(t, out.String(), "t0ken", "a secret's content is never printed")
	out.Reset()
	require.NoError(t, newMixin(t, "uninstall:\n- websoft9:\n    app: "+app+"\n    purge: \"true\"\n", &out).Uninstall(t.Context()), out.String())

	outside := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(outside, []byte("k"), 0o600))
	bad := strings.Replace(compose, "./token.txt", outside, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(bad), 0o644))
	out.Reset()
	m = newMixin(t, step, &out)
	m.WorkDir = dir
	err := m.Install(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret token reads "+outside+", outside the bundle")
	containers, _, _ := labelled(t, c, app)
	assert.Empty(t, containers, "nothing is created")
}

// TestMixinEventLinesAreJSON checks every event line the SDK printed during
// an install decodes, and that the human lines are not mistaken for events.
func TestMixinEventLinesAreJSON(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-events"
	cleanupApp(t, c, app)
	var out bytes.Buffer
	require.NoError(t, newMixin(t, inlineStep("install", app, freePort(t), "v1"), &out).Install(t.Context()), out.String())
	for line := range strings.Lines(out.String()) {
		if rest, ok := strings.CutPrefix(line, events.Prefix); ok {
			assert.True(t, json.Valid([]byte(rest)), "event line %q", line)
			continue
		}
		assert.True(t, strings.HasPrefix(line, "websoft9: "), "log line %q", line)
	}
}

// readContainerFile reads one file out of a container (docker cp).
func readContainerFile(t *testing.T, c *client.Client, container, path string) string {
	t.Helper()
	res, err := c.CopyFromContainer(t.Context(), container, client.CopyFromContainerOptions{SourcePath: path})
	require.NoError(t, err)
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	_, err = tr.Next()
	require.NoError(t, err)
	b, err := io.ReadAll(tr)
	require.NoError(t, err)
	return string(b)
}

// TestMixinExec runs exec commands in the demo app's containers after the
// install (each writes its environment into a file the test reads back),
// then an upgrade whose command exits 3, which fails the step.
func TestMixinExec(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-exec"
	cleanupApp(t, c, app)
	web, db := freePort(t), freePort(t)
	const title = "It's \"ours\": ${x} #1 ü\nsecond line"

	var out bytes.Buffer
	m := newMixin(t, demoStep("install", app, web, db, `    main: web
    wait: 60s
    exec:
      - service: web
        command: [/testapp, write, /data/exec.txt, EXEC_TITLE, EXEC_MODE, APP_DB_HOST]
        passEnv: [EXEC_TITLE]
        env: {EXEC_MODE: first}
      - service: db
        command: [/testapp, write, /var/lib/db/exec.txt, EXEC_MODE, EXEC_TITLE]
        env: {EXEC_MODE: 2}
`), &out)
	m.Exec = &portermixin.SDK{Out: &out}
	getenv := m.Getenv
	m.Getenv = func(k string) string {
		if k == "EXEC_TITLE" {
			return title
		}
		return getenv(k)
	}
	require.NoError(t, m.Install(t.Context()), out.String())

	webName, dbName := "websoft9-"+app, "websoft9-"+app+"-db"
	assert.Equal(t, "EXEC_TITLE="+title+"\nEXEC_MODE=first\nAPP_DB_HOST=db\n", readContainerFile(t, c, webName, "/data/exec.txt"),
		"passEnv byte for byte, env, and the container's own environment")
	assert.Equal(t, "EXEC_MODE=2\nEXEC_TITLE=\n", readContainerFile(t, c, dbName, "/var/lib/db/exec.txt"), "each entry has its own environment")
	assert.Contains(t, out.String(), "websoft9: exec 1/2 in service web: /testapp (5 arguments)\n"+
		"websoft9: web | stackhub-testapp: wrote 3 variables to /data/exec.txt\n")
	assert.Contains(t, out.String(), "websoft9: db | stackhub-testapp: wrote 2 variables to /var/lib/db/exec.txt\n")
	assert.NotContains(t, out.String(), "It's", "passEnv values are not logged")
	s := stages(out.String())
	assert.Equal(t, events.StageDone, s[len(s)-1])

	// An upgrade whose command fails fails the step, naming the service,
	// the exit code and the command's last lines.
	out.Reset()
	m = newMixin(t, demoStep("upgrade", app, web, db, `    main: web
    wait: 60s
    exec:
      - service: db
        command: [/testapp, exit, "3"]
      - service: web
        command: [/testapp, write, /data/never.txt]
`), &out)
	m.Exec = &portermixin.SDK{Out: &out}
	err := m.Upgrade(t.Context())
	require.Error(t, err, out.String())
	assert.Contains(t, err.Error(), `upgrade step "upgrade the demo app": exec 1 in service db (/testapp) exited with code 3; its last lines:`+
		"\nstackhub-testapp: exiting with status 3 as asked")
	s = stages(out.String())
	assert.Equal(t, events.StageFailed, s[len(s)-1])
	_, err = c.CopyFromContainer(t.Context(), webName, client.CopyFromContainerOptions{SourcePath: "/data/never.txt"})
	assert.Error(t, err, "the commands after a failed one do not run")

	// A service the model does not have fails the step before anything
	// is created.
	const other = "itest-mx-exec-none"
	cleanupApp(t, c, other)
	out.Reset()
	m = newMixin(t, demoStep("install", other, freePort(t), freePort(t), "    main: web\n    exec: [{service: cache, command: [ls]}]\n"), &out)
	m.Exec = &portermixin.SDK{Out: &out}
	err = m.Install(t.Context())
	require.ErrorContains(t, err, `exec 1: service "cache" is not a service of the compose model (services: db, web)`)
	containers, networks, _ := labelled(t, c, other)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
}

// An install whose container never turns healthy fails with what its
// health check last said: the run's log had only "container … is
// unhealthy".
func TestMixinSaysWhyAnAppIsNotUp(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mx-why"
	cleanupApp(t, c, app)
	step := fmt.Sprintf(`install:
- websoft9:
    description: a web service whose check asks a port nothing listens on
    app: %s
    main: web
    wait: 60s
    services:
      web:
        image: stackhub-test/web:dev
        command: [http, -addr, ":8080"]
        ports: ["127.0.0.1:%d:8080"]
        healthcheck:
          test: [CMD, /testapp, probe, http, "http://127.0.0.1:8079/healthz"]
          interval: 1s
          timeout: 2s
          retries: 2
`, app, freePort(t))
	var out bytes.Buffer
	err := newMixin(t, step, &out).Install(t.Context())
	require.Error(t, err)
	msg := err.Error()
	t.Log(msg)
	assert.Contains(t, msg, "is unhealthy")
	assert.Contains(t, msg, "the health check of websoft9-"+app+" failed")
	assert.Contains(t, msg, "8079", "the check's own output: %s", msg)
}
