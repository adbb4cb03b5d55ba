//go:build integration

package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/orchestrator/ocibundle"
	"github.com/websoft9/stackhub/orchestrator/ocibundle/registrytest"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o755)
	}))
}

// TestHostileBundleRefusedBySocket installs, through the API, a bundle
// whose porter.yaml and compose file are clean but whose invocation image
// carries its own program in place of the websoft9 runtime: it calls the
// Docker API directly and tries each thing the bundle policy forbids. The
// policed socket refuses every call with its rule, the run sees no
// container but its own, and nothing of it is left on the host; another
// app's container is untouched.
func TestHostileBundleRefusedBySocket(t *testing.T) {
	c := dockertest.RequireDocker(t)
	ctx := t.Context()

	runtimes := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dockertest.RuntimesDir(t), "bundle-runtime"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(runtimes, "bundle-runtime"), data, 0o755))
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(runtimes, "websoft9-runtime"), "./testdata/hostile/runtime")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	catalogDir := t.TempDir()
	copyTree(t, "testdata/hostile/catalog", catalogDir)

	// Another app's container, which the bundle tries to reach.
	const victim = "websoft9-victim"
	_, _ = c.ContainerRemove(ctx, victim, client.ContainerRemoveOptions{Force: true})
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: victim,
		Config: &container.Config{Image: "stackhub-test/web:dev", Cmd: []string{"http", "-addr", ":8080"}, Labels: map[string]string{naming.LabelApp: "victim"}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = c.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	_, err = c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err)

	const name = "hostile1"
	host := dockerhost.New(c)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true) })
	s := startServerArgs(t, t.TempDir(), "--bundles", catalogDir, "--runtimes-dir", runtimes)
	code, accepted, _ := s.api(t, http.MethodPost, "/api/v1/apps", `{"app":"hostile","name":"`+name+`"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", accepted)
	loc := accepted["job"].(string)
	var job map[string]any
	require.Eventually(t, func() bool {
		_, job, _ = s.api(t, http.MethodGet, loc, "")
		return job["status"] != "running"
	}, 90*time.Second, 200*time.Millisecond)
	assert.Equal(t, "failed", job["status"], "%v", job)

	logData, err := os.ReadFile(filepath.Join(s.dataDir, "runs", job["id"].(string)+".log"))
	require.NoError(t, err)
	log := string(logData)
	line := regexp.MustCompile(`(?m)^hostile: ([a-z-]+): (\d{3}) (.*)$`)
	calls := line.FindAllStringSubmatch(log, -1)
	require.Len(t, calls, 22, "every call the program made:\n%s", log)
	for _, m := range calls {
		assert.Equal(t, "403", m[2], "%s was not refused: %s", m[1], m[3])
		assert.Contains(t, m[3], "rule "+m[1], "refused by its own rule")
	}
	assert.Contains(t, log, "hostile: list: 0 containers", "the run sees no container of another installation")
	assert.Contains(t, s.logs.String(), "bundle policy: refused", "each refusal is logged for the operator")

	// The audit log holds every refusal, for admins.
	audit, err := s.client().Refusals(ctx, name, 100)
	require.NoError(t, err)
	require.Len(t, audit, len(calls), "one audit entry per refused call")
	for i, a := range audit {
		want := calls[len(calls)-1-i] // newest first
		assert.Equal(t, name, a.Installation)
		assert.Equal(t, job["id"], a.Run)
		assert.Equal(t, want[1], a.Rule, "entry %d", i)
		assert.NotEmpty(t, a.Call)
	}

	objs, err := host.AppObjects(ctx, name)
	require.NoError(t, err)
	assert.Empty(t, objs.Containers)
	assert.Empty(t, objs.Networks)
	assert.Empty(t, objs.Volumes)
	for _, n := range []string{"evil", naming.Project(name)} {
		_, err := c.ContainerInspect(ctx, n, client.ContainerInspectOptions{})
		assert.Error(t, err, "no container %s", n)
	}
	_, err = c.NetworkInspect(ctx, naming.Project(name)+"_lan", client.NetworkInspectOptions{})
	assert.Error(t, err, "no macvlan network")
	_, err = c.VolumeInspect(ctx, naming.Project(name)+"_etc", client.VolumeInspectOptions{})
	assert.Error(t, err, "no bind volume")
	v, err := c.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.True(t, v.Container.State.Running, "the other app's container still runs")
	_, err = c.ImageInspect(ctx, "stackhub-test/web:dev")
	assert.NoError(t, err, "the test image is still there")
}

// TestHostileBundlesRefused publishes one bundle per rule a compose file
// can break, each the demo with one hostile line, and installs each by
// reference through the API: each is refused naming its rule, before
// Docker pulls anything, and nothing of it is on the host afterwards.
// (The rules only a program can break, endpoint, foreign, object-name
// and image-pull, are TestHostileBundleRefusedBySocket's: the mixin
// names every container itself, whatever container_name says.)
func TestHostileBundlesRefused(t *testing.T) {
	c := dockertest.RequireDocker(t)
	reg := registrytest.Start(t)
	const db = "  db:\n    image: stackhub-test/web:dev\n"
	cases := []struct{ rule, old, new string }{
		{dockerpolicy.RulePrivileged, db, db + "    privileged: true\n"},
		{dockerpolicy.RuleHostNamespace, db, db + "    pid: host\n"},
		{dockerpolicy.RuleCapAdd, db, db + "    cap_add: [NET_ADMIN]\n"},
		{dockerpolicy.RuleDevices, db, db + "    devices: [\"/dev/fuse:/dev/fuse\"]\n"},
		{dockerpolicy.RuleSecurityOpt, db, db + "    security_opt: [\"seccomp:unconfined\"]\n"},
		{dockerpolicy.RuleSysctls, db, db + "    sysctls:\n      vm.swappiness: \"10\"\n"},
		{dockerpolicy.RuleBindMount, "      - dbdata:/var/lib/db\n", "      - dbdata:/var/lib/db\n      - /etc:/host-etc:ro\n"},
		{dockerpolicy.RuleDockerSocket, "      - dbdata:/var/lib/db\n", "      - dbdata:/var/lib/db\n      - /var/run/docker.sock:/var/run/docker.sock\n"},
		{dockerpolicy.RuleVolumeDriver, "  dbdata:\n", "  dbdata:\n    driver_opts: {type: none, o: bind, device: /srv}\n"},
		{dockerpolicy.RuleVolumesFrom, db, db + "    volumes_from: [\"container:websoft9-other\"]\n"},
		{dockerpolicy.RulePorts, "127.0.0.1:${DB_PORT:?DB_PORT is required}:5432", "192.0.2.1:${DB_PORT:?DB_PORT is required}:5432"},
		{dockerpolicy.RuleNetworkDriver, "volumes:\n  data:\n", "networks:\n  default:\n    driver: macvlan\nvolumes:\n  data:\n"},
		{dockerpolicy.RuleRuntime, db, db + "    runtime: runsc\n"},
	}
	s := startServer(t)
	host := dockerhost.New(c)
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			name := "hostile-" + tc.rule
			res := variant(t, name, "", "0.1.0", "docker-compose.yml", tc.old, tc.new)
			pub, err := ocibundle.Publish(t.Context(), ocibundle.PublishOptions{Reference: reg.Ref("stackhub/" + name),
				Bundle: res.Bundle, InvocationImage: res.Image, Docker: c})
			require.NoError(t, err)
			inv := pub.Bundle.InvocationImages[0].Image
			t.Cleanup(func() {
				_, _ = host.RemoveApp(context.WithoutCancel(t.Context()), name, "", true)
				_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), inv, client.ImageRemoveOptions{Force: true})
			})

			code, msg := apiStatus(t, s, http.MethodPost, "/api/v1/apps", `{"reference":"`+pub.Reference+`","name":"`+name+`"}`)
			assert.Equal(t, http.StatusBadRequest, code, msg)
			assert.Contains(t, msg, "(rule "+tc.rule+")", "refused by its own rule")
			assert.Contains(t, msg, "docker-compose.yml:", "with the file and line")

			objs, err := host.AppObjects(t.Context(), name)
			require.NoError(t, err)
			assert.Empty(t, objs.Containers)
			assert.Empty(t, objs.Networks)
			assert.Empty(t, objs.Volumes)
			_, err = c.ImageInspect(t.Context(), inv)
			assert.Error(t, err, "Docker pulled nothing of it")
			code, _ = apiStatus(t, s, http.MethodGet, "/api/v1/catalog/"+name, "")
			assert.Equal(t, http.StatusNotFound, code, "nor is it in the catalog")
		})
	}
}
