//go:build integration

package portermixin_test

import (
	"bytes"
	"context"
	"fmt"
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

func TestMixinUpDown(t *testing.T) {
	c := requireDocker(t)
	const app = "itest-mixin"
	web, db := freePort(t), freePort(t)
	t.Cleanup(func() { // leave nothing behind even if an assertion failed
		m := newMixin(t, fmt.Sprintf("uninstall:\n- websoft9:\n    app: %s\n    compose: docker-compose.yml\n    env: {WEB_PORT: 1, DB_PORT: 2}\n    purge: true\n", app), &bytes.Buffer{})
		_ = m.Uninstall(context.WithoutCancel(t.Context()))
	})

	var out bytes.Buffer
	install := fmt.Sprintf(`install:
- websoft9:
    description: Start the demo app
    app: %s
    compose: docker-compose.yml
    main: web
    env:
      WEB_PORT: %d
      DB_PORT: %d
    wait: 60s
    outputs:
      - name: containerName
        container: web
      - name: port
        env: WEB_PORT
`, app, web, db)
	m := newMixin(t, install, &out)
	require.NoError(t, m.Install(t.Context()), out.String())

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", web))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	containers, networks, volumes := labelled(t, c, app)
	assert.ElementsMatch(t, []string{"websoft9-itest-mixin", "websoft9-itest-mixin-db"}, containers)
	assert.Equal(t, []string{"websoft9-itest-mixin_default"}, networks)
	assert.ElementsMatch(t, []string{"websoft9-itest-mixin_data", "websoft9-itest-mixin_dbdata"}, volumes)
	insp, err := c.ContainerInspect(t.Context(), "websoft9-itest-mixin", client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "rev-mixin-test", insp.Container.Config.Labels[naming.LabelRun])
	assert.Equal(t, "web", insp.Container.Config.Labels[naming.LabelService])

	name, err := os.ReadFile(filepath.Join(m.OutputsDir, "containerName"))
	require.NoError(t, err)
	assert.Equal(t, "websoft9-itest-mixin", string(name))
	port, err := os.ReadFile(filepath.Join(m.OutputsDir, "port"))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(web), string(port))

	// Down without purge keeps the volumes; with purge removes them.
	down := fmt.Sprintf("uninstall:\n- websoft9:\n    app: %s\n    compose: docker-compose.yml\n    env: {WEB_PORT: %d, DB_PORT: %d}\n", app, web, db)
	require.NoError(t, newMixin(t, down, &out).Uninstall(t.Context()), out.String())
	containers, networks, volumes = labelled(t, c, app)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Len(t, volumes, 2, "volumes are kept without purge")

	require.NoError(t, newMixin(t, down+"    purge: true\n", &out).Uninstall(t.Context()), out.String())
	containers, networks, volumes = labelled(t, c, app)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Empty(t, volumes)
}

func TestMixinRefusesBindMounts(t *testing.T) {
	c := requireDocker(t)
	dir := t.TempDir()
	compose := "services:\n  web:\n    image: stackhub-test/web:dev\n    volumes:\n      - /etc:/host-etc\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(compose), 0o644))
	var out bytes.Buffer
	m := newMixin(t, "install:\n- websoft9:\n    app: itest-bind\n    compose: compose.yml\n    main: web\n", &out)
	m.WorkDir = dir
	err := m.Install(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `mounts host path "/etc" at /host-etc: host bind mounts are refused, use a named volume`)
	containers, networks, _ := labelled(t, c, "itest-bind")
	assert.Empty(t, containers, "nothing is created")
	assert.Empty(t, networks)
}
