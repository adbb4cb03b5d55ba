//go:build integration

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest/standin"
)

// standInConcurrency is how many catalog apps install at once: each is an
// invocation container and a compose project coming up and waiting for its
// health checks, mostly waiting, so a few at a time fit 2 cores.
const standInConcurrency = 8

// standInPrefix starts the installation name of every app the test
// installs (si-nextcloud), so that nothing it does meets an app of the
// same name installed by anyone else on the engine.
const standInPrefix = "si-"

// standInSkip says why the stand-ins cannot meaningfully mimic app on
// this engine, "" when they can. It is the one place an app is left out.
func standInSkip(t *testing.T, c *client.Client, plan *standInPlan, app standInApp) string {
	if len(app.Ulimits) > 0 {
		if err := engineGrants(t, c, plan.Images[app.Services[app.Main]].Tag, app.Ulimits); err != nil {
			var asked []string
			for _, k := range slices.Sorted(maps.Keys(app.Ulimits)) {
				asked = append(asked, fmt.Sprintf("%s %d:%d", k, app.Ulimits[k].Soft, app.Ulimits[k].Hard))
			}
			return fmt.Sprintf("this engine cannot start a container with the ulimits the app asks (%s), as its own are lower "+
				"(systemd's docker.service gives dockerd LimitNOFILE=infinity): %v", strings.Join(asked, ", "), err)
		}
	}
	if len(app.HostFixed) > 0 {
		return fmt.Sprintf("on the host's network (network_mode: host) it listens on a host port StackHub neither chose nor "+
			"reserved, where a stand-in could meet the host's own services: %s", strings.Join(app.HostFixed, "; "))
	}
	for _, svc := range app.HostNetwork {
		if !slices.ContainsFunc(slices.Concat(slices.Collect(maps.Values(app.Published))...), func(p publishedPort) bool { return p.Service == svc }) {
			return fmt.Sprintf("service %s is on the host's network (network_mode: host) and no port parameter reaches it, "+
				"so nothing says which host port it listens on", svc)
		}
	}
	for _, d := range app.Devices {
		if _, err := os.Stat(d); err != nil {
			return fmt.Sprintf("device %s is not on this host: %v", d, err)
		}
	}
	return ""
}

// engineGrants starts and removes a container of image with ulimits, and
// returns the engine's refusal.
func engineGrants(t *testing.T, c *client.Client, image string, ulimits map[string]types.UlimitsConfig) error {
	t.Helper()
	ctx := t.Context()
	var limits []*container.Ulimit
	for _, k := range slices.Sorted(maps.Keys(ulimits)) {
		limits = append(limits, &container.Ulimit{Name: k, Soft: int64(ulimits[k].Soft), Hard: int64(ulimits[k].Hard)})
	}
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Env: []string{standin.PortsEnv + "="}, Labels: map[string]string{standin.Label: "ulimits probe"}},
		HostConfig: &container.HostConfig{Resources: container.Resources{Ulimits: limits}, NetworkMode: "none"},
	})
	require.NoError(t, err)
	defer func() {
		_, err := c.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
		assert.NoError(t, err, "remove the ulimits probe")
	}()
	_, err = c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	return err
}

// standInResult is how one app went, for the summary.
type standInResult struct {
	App     string
	Outcome string // installed, skipped, failed
	Detail  string
	Install time.Duration
	Total   time.Duration
}

// TestCatalogStandIns installs every catalog bundle through the API on the
// real engine, its images relocated (serve --relocation-mapping) to local
// stand-ins of the same shape (catalog_standin_test.go works it out from
// the bundle files): the ports each service listens on, the programs its
// health check, entrypoint and exec commands start, the users they run
// as. Each app is installed with what a person fills in (its required
// settings, a licence accepted); a bundle that declares permissions is
// refused with 403 naming them until an admin grants exactly them. Then:
// the install ends with every service healthy (the compose health checks
// ran against the stand-ins: the program is where the check starts it, the
// port is the one the service listens on), getAppInfo reports the web port
// and the right container answers HTTP on it, the other published ports
// answer; uninstall with purge leaves no container, volume, network,
// invocation container or port behind.
func TestCatalogStandIns(t *testing.T) {
	c := dockertest.RequireDocker(t)
	start := time.Now()
	plan := planStandIns(t)
	buildStandIns(t, c, plan)
	built := time.Since(start)
	t.Logf("built %d stand-in images for %d catalog apps in %s", len(plan.Images), len(plan.Apps), built.Round(10*time.Millisecond))
	removeNewInvocationImages(t, c, plan)

	dir := t.TempDir()
	mapping := filepath.Join(dir, "relocation-mapping.json")
	data, err := json.MarshalIndent(plan.Relocation(), "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mapping, data, 0o644))
	s := startServerArgs(t, filepath.Join(dir, "data"), "--relocation-mapping", mapping)

	var (
		mu      sync.Mutex
		results []standInResult
		wg      sync.WaitGroup
	)
	record := func(r standInResult) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, r)
	}
	sem := make(chan struct{}, standInConcurrency)
	for _, app := range plan.Apps {
		if reason := standInSkip(t, c, plan, app); reason != "" {
			t.Run(app.Name, func(t *testing.T) { t.Skip(reason) })
			record(standInResult{App: app.Name, Outcome: "skipped", Detail: reason})
			continue
		}
		// t.Run may be called from several goroutines: each app is a
		// subtest of its own, standInConcurrency at a time whatever
		// -parallel says.
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := standInResult{App: app.Name}
			begin := time.Now()
			ran := false // false when -run leaves the app out
			ok := t.Run(app.Name, func(t *testing.T) {
				ran = true
				r.Install = installStandIn(t, s, c, app)
			})
			if !ran {
				return
			}
			r.Total = time.Since(begin)
			r.Outcome = map[bool]string{true: "installed", false: "failed"}[ok]
			record(r)
		})
	}
	wg.Wait()

	slices.SortFunc(results, func(a, b standInResult) int { return strings.Compare(a.App, b.App) })
	var b strings.Builder
	count := map[string]int{}
	for _, r := range results {
		count[r.Outcome]++
		switch r.Outcome {
		case "skipped":
			fmt.Fprintf(&b, "  %-20s skipped: %s\n", r.App, r.Detail)
		case "failed":
			fmt.Fprintf(&b, "  %-20s failed after %s (its subtest says why)\n", r.App, r.Total.Round(100*time.Millisecond))
		default:
			fmt.Fprintf(&b, "  %-20s %-9s install → running %6s, with checks and uninstall %6s\n", r.App, r.Outcome,
				r.Install.Round(100*time.Millisecond), r.Total.Round(100*time.Millisecond))
		}
	}
	t.Logf("catalog on stand-ins: %d installed, %d failed, %d skipped, %d left out by -run, of %d apps in %s (images %s, %d at a time)\n%s",
		count["installed"], count["failed"], count["skipped"], len(plan.Apps)-len(results), len(plan.Apps), time.Since(start).Round(time.Second),
		built.Round(10*time.Millisecond), standInConcurrency, b.String())
}

// installStandIn installs app as si-<app> and checks it, then uninstalls it
// with purge and checks nothing is left. It returns how long the install
// took to run with every service healthy.
func installStandIn(t *testing.T, s server, c *client.Client, app standInApp) time.Duration {
	ctx := t.Context()
	api := s.client()
	name := standInPrefix + app.Name
	host := dockerhost.New(c)
	clearStandInLeftovers(t, c, name)
	t.Cleanup(func() { _, _ = host.RemoveApp(context.WithoutCancel(ctx), name, "", true) })

	assert.Empty(t, app.Unpublished, "a health check asks a port its service does not publish: which one does the app listen on?")

	entry, err := api.CatalogApp(ctx, app.Name)
	require.NoError(t, err)
	params, err := standInParameters(app.Name, entry.Parameters)
	require.NoError(t, err)
	install := func(force bool) (int, map[string]any) {
		body, err := json.Marshal(map[string]any{"app": app.Name, "name": name, "parameters": params, "force": force})
		require.NoError(t, err)
		status, out, _ := s.api(t, http.MethodPost, "/api/v1/apps", string(body))
		return status, out
	}
	perms, err := api.AppPermissions(ctx, app.Name)
	require.NoError(t, err)
	if len(perms.Permissions) > 0 {
		// Refused until an admin grants exactly what the bundle declares.
		status, refused := install(false)
		require.Equal(t, http.StatusForbidden, status, "an install of a bundle declaring %v before any grant: %v", perms.Missing, refused)
		message, _ := refused["message"].(string)
		var declared []string
		for _, p := range perms.Permissions {
			declared = append(declared, p.Permission)
			assert.Contains(t, message, p.Permission, "the refusal names the missing permission")
		}
		assert.ElementsMatch(t, declared, perms.Missing)
		_, created, err := api.GrantPermissions(ctx, app.Name, perms.Digest, declared)
		require.NoError(t, err, "grant %v", declared)
		assert.True(t, created)
		t.Logf("granted %v after the install was refused", declared)
	}

	begin := time.Now()
	status, accepted := install(false)
	if status == http.StatusPreconditionFailed {
		// More than this host has (4 cores, ...): a person goes ahead.
		t.Logf("%v; installing with force", accepted["message"])
		status, accepted = install(true)
	}
	require.Equal(t, http.StatusAccepted, status, "install with %v: %v", params, accepted)
	jobPath, _ := accepted["job"].(string)
	require.NotEmpty(t, jobPath, "%v", accepted)
	// A failed install removes its containers: what their health checks
	// said is kept from the last look while it ran.
	var health string
	deadline := time.Now().Add(5 * time.Minute)
	for {
		status, job, _ := s.api(t, http.MethodGet, jobPath, "")
		require.Equal(t, http.StatusOK, status, "%v", job)
		if job["status"] != "running" {
			require.Equal(t, "succeeded", job["status"], "install job: %v\ncontainers, a moment before:\n%s\nrun log:\n%s",
				job, health, runLog(s, path.Base(jobPath)))
			break
		}
		require.True(t, time.Now().Before(deadline), "install still running after 5m\ncontainers:\n%s", health)
		if h := healthReport(c, name); h != "" {
			health = h
		}
		time.Sleep(time.Second)
	}
	r := s.waitStatusWithin(t, name, "1", 2*time.Minute)
	installed := time.Since(begin)
	t.Logf("installed with %v: running, every service healthy, in %s", params, installed.Round(100*time.Millisecond))

	// The web port is reported and the service that publishes it answers
	// there; every other published port answers too.
	ports := map[string]int{}
	raw, _ := r.Data["ports"].(map[string]any)
	for k, v := range raw {
		ports[k] = port(t, v)
	}
	require.Contains(t, ports, app.Web, "getAppInfo reports the web port %s: %v", app.Web, r.Data)
	if app.Web == "port" {
		assert.Equal(t, ports["port"], port(t, r.Data["port"]))
	}
	for _, param := range slices.Sorted(maps.Keys(app.Published)) {
		hostPort, ok := ports[param]
		if !assert.True(t, ok, "getAppInfo reports port %s: %v", param, r.Data) {
			continue
		}
		for _, pub := range app.Published[param] {
			image := app.Services[pub.Service]
			switch pub.Proto {
			case "udp":
				assert.NoError(t, udpEcho(hostPort), "%s (%d/udp → %s)", param, hostPort, pub)
			default:
				code, body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", hostPort))
				assert.Equal(t, http.StatusOK, code, "%s: GET http://127.0.0.1:%d/ (→ %s): %s", param, hostPort, pub, body)
				assert.Contains(t, body, "stackhub stand-in for "+image, "%s answers from service %s", param, pub.Service)
			}
		}
	}

	// Every service is healthy by its compose health check, which ran the
	// stand-in as the program the check names.
	containers, _ := r.Data["containers"].([]any)
	require.Len(t, containers, len(app.Services), "%v", r.Data)
	for _, ctr := range containers {
		insp, err := c.ContainerInspect(ctx, fmt.Sprint(ctr), client.ContainerInspectOptions{})
		require.NoError(t, err)
		health := insp.Container.State.Health
		if assert.NotNil(t, health, "%s has a health check", ctr) && assert.NotEmpty(t, health.Log, "%s", ctr) {
			last := health.Log[len(health.Log)-1]
			assert.Equal(t, 0, last.ExitCode, "%s: %s", ctr, last.Output)
			assert.Contains(t, last.Output, "stand-in check", "%s: the health check ran the stand-in", ctr)
		}
	}

	s.requireUninstall(t, name)
	requireNothingLeft(t, c, name)
	// Its host ports are free again, in the protocols it published them
	// in (a port of the ephemeral range may be some connection's own port
	// in the other).
	for param, p := range ports {
		protos := map[string]bool{"tcp": len(app.Published[param]) == 0}
		for _, pub := range app.Published[param] {
			protos[pub.Proto] = true
		}
		if protos["tcp"] {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
			if assert.NoError(t, err, "port %s (%d/tcp) is free again", param, p) {
				ln.Close()
			}
		}
		if protos["udp"] {
			pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(p))
			if assert.NoError(t, err, "port %s (%d/udp) is free again", param, p) {
				pc.Close()
			}
		}
	}
	return installed
}

// healthReport lists installation name's containers with their state and
// their health check's last outputs, for a failure's message.
func healthReport(c *client.Client, name string) string {
	ctx := context.Background()
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "sh.websoft9.app="+name)})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, ctr := range list.Items {
		insp, err := c.ContainerInspect(ctx, ctr.ID, client.ContainerInspectOptions{})
		if err != nil {
			fmt.Fprintf(&b, "  %v: %v\n", ctr.Names, err)
			continue
		}
		st := insp.Container.State
		fmt.Fprintf(&b, "  %s (%s): %s, exit %d %s\n", strings.TrimPrefix(insp.Container.Name, "/"), insp.Container.Config.Image, st.Status, st.ExitCode, st.Error)
		if st.Health != nil {
			logs := st.Health.Log
			if len(logs) > 3 {
				logs = logs[len(logs)-3:]
			}
			for _, l := range logs {
				fmt.Fprintf(&b, "    health check exit %d: %s\n", l.ExitCode, strings.TrimSpace(l.Output))
			}
		}
	}
	return b.String()
}

// runLog returns the run log of job id, for a failure's message.
func runLog(s server, id string) string {
	files, _ := filepath.Glob(filepath.Join(s.dataDir, "runs", "*"+id+"*"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return tail(b.String(), 3000)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// udpEcho sends a datagram to 127.0.0.1:port and waits for it back.
func udpEcho(port int) error {
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer conn.Close()
	var last error
	for range 10 { // udp may drop one
		if err := conn.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			return err
		}
		if _, err := conn.Write([]byte("stackhub")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err == nil && string(buf[:n]) == "stackhub" {
			return nil
		}
		last = err
	}
	return fmt.Errorf("no echo: %v", last)
}

// clearStandInLeftovers removes what an earlier run of this test, killed
// before its cleanup, left of installation name: only containers of
// stand-in images (and the app's networks and volumes with them), never an
// app somebody else installed.
func clearStandInLeftovers(t *testing.T, c *client.Client, name string) {
	t.Helper()
	host := dockerhost.New(c)
	objs, err := host.AppObjects(t.Context(), name)
	require.NoError(t, err)
	if len(objs.Containers)+len(objs.Networks)+len(objs.Volumes) == 0 {
		return
	}
	list, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "sh.websoft9.app="+name)})
	require.NoError(t, err)
	for _, ctr := range list.Items {
		img, err := c.ImageInspect(t.Context(), ctr.ImageID)
		require.NoError(t, err)
		_, standIn := img.Config.Labels[standin.Label]
		require.True(t, standIn, "%s has container %v of image %s, not a stand-in: somebody's app, so the test stops", name, ctr.Names, ctr.Image)
	}
	_, err = host.RemoveApp(t.Context(), name, "", true)
	require.NoError(t, err)
	t.Logf("removed what an interrupted run left of %s", name)
}

// removeNewInvocationImages removes, when t ends, the invocation images the
// server builds for the catalog's bundles that were not on the engine
// before.
func removeNewInvocationImages(t *testing.T, c *client.Client, plan *standInPlan) {
	t.Helper()
	var fresh []string
	for _, app := range plan.Apps {
		if _, err := c.ImageInspect(t.Context(), app.InvocationImage); err != nil {
			fresh = append(fresh, app.InvocationImage)
		}
	}
	t.Cleanup(func() {
		for _, ref := range fresh {
			_, _ = c.ImageRemove(context.WithoutCancel(t.Context()), ref, client.ImageRemoveOptions{PruneChildren: true})
		}
	})
}

// buildStandIns builds the plan's images in the engine, FROM scratch: a
// layer with the test app (built static from this repository), shared by
// every image, and one of its own with a symlink to it for each program
// and /etc/passwd and /etc/group for its users, ENTRYPOINT the test app,
// the ports in standin.PortsEnv. All go in one docker load (an image
// tarball made here, the shared layer in it once). They are removed when t
// ends.
func buildStandIns(t *testing.T, c *client.Client, plan *standInPlan) {
	t.Helper()
	ctx := t.Context()
	removeStaleStandIns(t, c)
	bin := filepath.Join(t.TempDir(), "stackhub-testapp")
	gobuild := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "github.com/websoft9/stackhub/cmd/stackhub-testapp")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := gobuild.CombinedOutput()
	require.NoError(t, err, "build the test app: %s", out)
	program, err := os.ReadFile(bin)
	require.NoError(t, err)
	shared, err := layer(dirEntries(path.Dir(standInBinary)), []tarEntry{{Name: standInBinary, Mode: 0o755, Data: program}})
	require.NoError(t, err)

	images := map[name.Reference]v1.Image{}
	for _, ref := range slices.Sorted(maps.Keys(plan.Images)) {
		img := plan.Images[ref]
		own, err := layer(standInFiles(img))
		require.NoError(t, err, ref)
		var exposed map[string]struct{}
		for _, p := range img.PortList() {
			if p.Var != "" { // known when the container starts
				continue
			}
			if exposed == nil {
				exposed = map[string]struct{}{}
			}
			exposed[p.String()] = struct{}{}
		}
		cfg := &v1.ConfigFile{
			Architecture: runtime.GOARCH,
			OS:           "linux",
			Config: v1.Config{
				Entrypoint:   []string{standInBinary},
				Env:          []string{"PATH=" + standInPath, standin.PortsEnv + "=" + standin.FormatPorts(img.PortList()), standin.ImageEnv + "=" + ref},
				Labels:       map[string]string{standin.Label: ref},
				ExposedPorts: exposed,
			},
			RootFS: v1.RootFS{Type: "layers"},
		}
		base, err := mutate.ConfigFile(empty.Image, cfg)
		require.NoError(t, err)
		image, err := mutate.AppendLayers(base, shared, own)
		require.NoError(t, err)
		tag, err := name.NewTag(img.Tag)
		require.NoError(t, err)
		images[tag] = image
	}
	t.Cleanup(func() {
		for _, img := range plan.Images {
			_, err := c.ImageRemove(context.WithoutCancel(ctx), img.Tag, client.ImageRemoveOptions{PruneChildren: true})
			if err != nil {
				t.Logf("remove %s: %v", img.Tag, err)
			}
		}
	})
	require.NoError(t, load(ctx, c, images))
	for _, img := range plan.Images {
		got, err := c.ImageInspect(ctx, img.Tag)
		require.NoError(t, err, "%s is loaded", img.Tag)
		assert.Equal(t, img.Ref, got.Config.Labels[standin.Label], img.Tag)
	}
}

// removeStaleStandIns removes stand-in images an interrupted run left.
func removeStaleStandIns(t *testing.T, c *client.Client) {
	t.Helper()
	list, err := c.ImageList(t.Context(), client.ImageListOptions{Filters: client.Filters{}.Add("label", standin.Label)})
	require.NoError(t, err)
	for _, img := range list.Items {
		_, err := c.ImageRemove(t.Context(), img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		if err != nil {
			t.Logf("remove stale stand-in %v: %v", img.RepoTags, err)
		}
	}
}

// standInFiles are an image's own files: the programs as symlinks to the
// test app, /etc/passwd and /etc/group with root and its users (uid and
// gid from 1000 up), and /tmp.
func standInFiles(img *standInImage) []tarEntry {
	var entries []tarEntry
	for _, prog := range slices.Sorted(maps.Keys(img.Programs)) {
		entries = append(entries, dirEntries(path.Dir(prog))...)
		entries = append(entries, tarEntry{Name: prog, Link: standInBinary})
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	group := "root:x:0:\n"
	id := 1000
	for _, u := range slices.Sorted(maps.Keys(img.Users)) {
		passwd += fmt.Sprintf("%s:x:%d:%d::/home/%s:/bin/sh\n", u, id, id, u)
		group += fmt.Sprintf("%s:x:%d:\n", u, id)
		id++
	}
	for _, g := range slices.Sorted(maps.Keys(img.Groups)) {
		if !img.Users[g] {
			group += fmt.Sprintf("%s:x:%d:\n", g, id)
			id++
		}
	}
	entries = append(entries, dirEntries("/etc")...)
	entries = append(entries,
		tarEntry{Name: "/etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		tarEntry{Name: "/etc/group", Mode: 0o644, Data: []byte(group)},
		tarEntry{Name: "/tmp", Dir: true, Mode: 0o1777})
	return entries
}

// tarEntry is one file, directory or symlink of a layer, by absolute path.
type tarEntry struct {
	Name string
	Dir  bool
	Mode int64
	Data []byte
	// Link makes it a symlink to Link.
	Link string
}

// dirEntries are the directories down to dir (/usr, /usr/local, ...).
func dirEntries(dir string) []tarEntry {
	var out []tarEntry
	for d := path.Clean(dir); d != "/" && d != "."; d = path.Dir(d) {
		out = append([]tarEntry{{Name: d, Dir: true, Mode: 0o755}}, out...)
	}
	return out
}

// layer returns the entries as an image layer, each once, in order, owned
// by root, with no time.
func layer(entries ...[]tarEntry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, e := range slices.Concat(entries...) {
		name := strings.TrimPrefix(path.Clean(e.Name), "/")
		if seen[name] {
			continue
		}
		seen[name] = true
		hdr := &tar.Header{Name: name, Mode: e.Mode, Size: int64(len(e.Data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		switch {
		case e.Dir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case e.Link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, e.Link, 0o777
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// load streams images as one docker-save tarball into the engine (docker
// load) and returns the first error the engine reports.
func load(ctx context.Context, c *client.Client, images map[name.Reference]v1.Image) error {
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		writeErr = tarball.MultiRefWrite(images, pw)
		pw.CloseWithError(writeErr)
	})
	loadErr := func() error {
		resp, err := c.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
		if err != nil {
			return fmt.Errorf("docker load: %w", err)
		}
		defer resp.Close()
		dec := json.NewDecoder(resp)
		for {
			var msg jsonstream.Message
			switch err := dec.Decode(&msg); {
			case errors.Is(err, io.EOF):
				return nil
			case err != nil:
				return fmt.Errorf("docker load: read response: %w", err)
			case msg.Error != nil:
				return fmt.Errorf("docker load: %w", msg.Error)
			}
		}
	}()
	pr.Close()
	wg.Wait()
	if writeErr != nil && !errors.Is(writeErr, io.ErrClosedPipe) {
		return fmt.Errorf("write the image tarball: %w", writeErr)
	}
	return loadErr
}
