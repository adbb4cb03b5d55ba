//go:build integration

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// toStrings is a JSON list of strings, or a job output's comma-separated
// string, as []string (nil for anything else).
func toStrings(v any) []string {
	if s, ok := v.(string); ok {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// webContainer is the ID of app's web task container on node i, read
// through that node's own engine.
func (sw *swarm3) webContainer(t *testing.T, i int, app string) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		cs, err := sw.clients[i].ContainerList(t.Context(), client.ContainerListOptions{Filters: client.Filters{}.
			Add("label", naming.LabelApp+"="+app).Add("label", dockerhost.ServiceLabel+"="+naming.Project(app))})
		if err != nil || len(cs.Items) == 0 {
			return false
		}
		id = cs.Items[0].ID
		return true
	}, time.Minute, 200*time.Millisecond, "%s's web container runs on node %d", app, i+1)
	return id
}

// nodeSums reads app's volumes on node i through that node's own engine
// (what StackHub cannot do) and returns each regular file's checksum,
// owner and mode.
func (sw *swarm3) nodeSums(t *testing.T, i int, app string) map[string]string {
	t.Helper()
	return volumeSums(t, dockerhost.New(sw.clients[i]), app)
}

// helperServices lists the volume helper's services left on the Swarm.
func (sw *swarm3) helperServices(t *testing.T) []string {
	t.Helper()
	list, err := sw.clients[0].ServiceList(t.Context(), client.ServiceListOptions{Filters: client.Filters{}.Add("label", dockerhost.LabelVolumeHelper)})
	require.NoError(t, err)
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Spec.Name)
	}
	return out
}

// helperOn tells whether a volume helper service is placed on node id.
func (sw *swarm3) helperOn(t *testing.T, id string) bool {
	t.Helper()
	list, err := sw.clients[0].ServiceList(t.Context(), client.ServiceListOptions{Filters: client.Filters{}.Add("label", dockerhost.LabelVolumeHelper)})
	if err != nil {
		return false
	}
	for _, s := range list.Items {
		if p := s.Spec.TaskTemplate.Placement; p != nil && slices.Contains(p.Constraints, "node.id=="+id) {
			return true
		}
	}
	return false
}

// TestSwarmVolumes: the volumes of an app on another node than
// StackHub's, which the manager's API cannot reach, through StackHub's
// volume helper tasks. Known data written in the demo's volume on node 2
// is backed up (its services scaled to 0 for the copy, and back); the
// app is moved to node 3 (stackhub app move: it answers at node 3's
// address with the same data, nothing of it left on node 2); changed
// data is replaced by a restore in place on node 3; node 3 lost during a
// backup fails it clearly, nothing half-made, and the app runs as before
// once the node is back; node 2 lost while a move back to it restores
// fails the move clearly and puts the app back on node 3 with its data; a
// purge leaves no volume on any node, and no helper service is left.
func TestSwarmVolumes(t *testing.T) {
	began := time.Now()
	sw := startSwarm3(t, swarm3Catalog(t, ""))
	s, ctx := sw.s, t.Context()
	_, err := s.client().AddRepository(ctx, RepositoryRequest{ID: "local", Kind: "filesystem", Path: filepath.Join(t.TempDir(), "repo"),
		Password: "long enough password", Create: true})
	require.NoError(t, err)

	// The demo on node 2, with known data in its volume there.
	_, err = s.client().InstallAppOn(ctx, "demo", "m", sw.hosts[1], map[string]any{"message": "moving"})
	require.NoError(t, err)
	s.waitStatusWithin(t, "m", "1", 2*time.Minute)
	_, addr2 := sw.appNode(t, "m", 1)
	state := answers(t, addr2, "/state", 30*time.Second)
	writeKnownData(t, sw.clients[1], sw.webContainer(t, 1, "m"), "/data", map[string]int{"big.bin": 8 << 20, "small.txt": 17, "empty": 0})
	before := sw.nodeSums(t, 1, "m")
	require.Contains(t, before, "data/known/big.bin")

	// 1. A backup: whole reads streamed by a helper task on node 2.
	step := time.Now()
	job := s.runJob(t, "/api/v1/apps/m/backups", `{}`)
	require.Equal(t, "succeeded", job["status"], "%v", job)
	t.Logf("backup of m on node 2: %s", time.Since(step).Round(time.Millisecond))
	backupID := job["outputs"].(map[string]any)["backup"].(string)
	list, err := s.client().Backups(ctx, "m", "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "stopped", list[0].Quiesce, "its services were scaled to 0 for the copy")
	assert.Equal(t, state, answers(t, addr2, "/state", time.Minute), "and it runs again, the same")
	assert.Empty(t, sw.helperServices(t), "no helper service left")

	// 2. The move to node 3.
	step = time.Now()
	code, out, errOut := sw.sh(t, "app", "move", "m", "--node", sw.hosts[2])
	require.Equal(t, exitOK, code, "%s\n%s", out, errOut)
	t.Logf("move of m from node 2 to node 3: %s: %s", time.Since(step).Round(time.Millisecond), strings.TrimSpace(out))
	assert.Contains(t, out, "moved m from node "+sw.hosts[1]+" to "+sw.hosts[2])
	s.waitStatusWithin(t, "m", "1", time.Minute)
	_, addr3 := sw.appNode(t, "m", 2)
	assert.Equal(t, state, answers(t, addr3, "/state", time.Minute), "the same data answers on node 3")
	assert.Equal(t, "moving", appEnv(t, addr3)["APP_MESSAGE"], "with its settings")
	assert.Equal(t, before, sw.nodeSums(t, 2, "m"), "every file, owner and mode on node 3")
	_, containers, _, vols := sw.leftOnNodes(t, "m")
	for _, c := range containers {
		assert.NotContains(t, c, "node 2:", "nothing of m on node 2")
	}
	assert.Empty(t, vols[1], "its volumes on node 2 are removed once it runs on node 3")
	assert.Equal(t, volumeNames("m", "data", "dbdata"), vols[2])
	assert.Empty(t, sw.helperServices(t))

	// An app on the manager's own node moves the same way: its volumes
	// there go through the local engine once it runs on node 2.
	_, err = s.client().InstallAppOn(ctx, "demo", "l", sw.hosts[0], nil)
	require.NoError(t, err)
	s.waitStatusWithin(t, "l", "1", 2*time.Minute)
	_, addr1 := sw.appNode(t, "l", 0)
	lState := answers(t, addr1, "/state", 30*time.Second)
	step = time.Now()
	code, out, errOut = sw.sh(t, "app", "move", "l", "--node", sw.hosts[1])
	require.Equal(t, exitOK, code, "%s\n%s", out, errOut)
	t.Logf("move of l from node 1 (the manager's) to node 2: %s", time.Since(step).Round(time.Millisecond))
	s.waitStatusWithin(t, "l", "1", time.Minute)
	_, addrL := sw.appNode(t, "l", 1)
	assert.Equal(t, lState, answers(t, addrL, "/state", time.Minute), "l's data answers on node 2")
	_, _, _, vols = sw.leftOnNodes(t, "l")
	assert.Empty(t, vols[0], "l's volumes on node 1 are removed")
	s.requireUninstall(t, "l")
	vols = sw.requireGone(t, "l", 30*time.Second)
	assert.Empty(t, vols, "l purged on node 2")

	// 3. A restore in place on node 3 replaces changed data.
	writeKnownData(t, sw.clients[2], sw.webContainer(t, 2, "m"), "/data", map[string]int{"later.txt": 100})
	require.NotEqual(t, before, sw.nodeSums(t, 2, "m"))
	step = time.Now()
	_, _, restored := restore(t, s, backupID, "")
	require.Equal(t, "succeeded", restored["status"], "%v", restored)
	t.Logf("restore in place of m on node 3: %s", time.Since(step).Round(time.Millisecond))
	outputs := restored["outputs"].(map[string]any)
	assert.NotEmpty(t, outputs["safety"], "the data it replaced was backed up first")
	s.waitStatusWithin(t, "m", "1", time.Minute)
	_, addr3 = sw.appNode(t, "m", 2)
	assert.Equal(t, state, answers(t, addr3, "/state", time.Minute))
	assert.Equal(t, before, sw.nodeSums(t, 2, "m"), "the backup's data replaced the changed data on node 3")

	// 4. Node 3 lost during a backup: a clear failure, no backup made,
	// the app as it was once the node is back.
	list, err = s.client().Backups(ctx, "m", "")
	require.NoError(t, err)
	backups := len(list)
	status, body, hdr := s.api(t, http.MethodPost, "/api/v1/apps/m/backups", `{}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	require.Eventually(t, func() bool { return len(sw.helperServices(t)) > 0 }, time.Minute, 20*time.Millisecond, "a helper task starts on node 3")
	step = time.Now()
	require.NoError(t, sw.nodes[2].Stop())
	job = s.waitJob(t, hdr.Get("Location"), 3*time.Minute)
	t.Logf("backup with node 3 lost during the transfer: %s %s after: %v", job["status"], time.Since(step).Round(time.Millisecond), job)
	assert.Equal(t, "failed", job["status"])
	log := runLogOf(t, s, job["id"].(string))
	t.Logf("its log: %s", log)
	assert.Regexp(t, `node|volume`, fmt.Sprint(job["message"])+log, "the failure says what was lost")
	list, err = s.client().Backups(ctx, "m", "")
	require.NoError(t, err)
	assert.Len(t, list, backups, "no backup was recorded")
	r := s.call(t, "/getAppInfo", url.Values{"appName": {"m"}}, nil)
	assert.NotEqual(t, "failed", r.Data["state"], "the app is not failed by a failed backup: %v", r.Data)
	t.Logf("node 3 ready again %s after its dockerd started", sw.restart(t, 2).Round(time.Millisecond))
	s.waitStatusWithin(t, "m", "1", 2*time.Minute)
	assert.Equal(t, state, answers(t, addr3, "/state", 90*time.Second), "the app runs as before on node 3")
	assert.Equal(t, before, sw.nodeSums(t, 2, "m"), "with its data")
	require.Eventually(t, func() bool { return len(sw.helperServices(t)) == 0 }, 30*time.Second, 200*time.Millisecond, "the helper service goes")

	// 5. Node 2 lost while the move back to it restores: the move fails
	// and says so, and the app runs on node 3 again, with its data.
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	step = time.Now()
	go func() {
		code, out, errOut := cli(context.WithoutCancel(ctx), s.url, "app", "move", "m", "--node", sw.hosts[1], "--token", s.token)
		done <- result{code, out, errOut}
	}()
	require.Eventually(t, func() bool { return sw.helperOn(t, sw.ids[1]) }, 2*time.Minute, 20*time.Millisecond, "the restore's helper starts on node 2")
	require.NoError(t, sw.nodes[1].Stop())
	var moved result
	select {
	case moved = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the move did not end within 5 minutes of node 2's loss")
	}
	why := moved.errOut
	if i := strings.LastIndex(why, "move m:"); i >= 0 {
		why = why[i:]
	}
	t.Logf("move to node 2, lost during its restore: exit %d after %s: %s", moved.code, time.Since(step).Round(time.Millisecond), strings.TrimSpace(why))
	assert.NotEqual(t, exitOK, moved.code)
	assert.Contains(t, moved.errOut, "it runs on node "+sw.hosts[2]+" again")
	s.waitStatusWithin(t, "m", "1", 2*time.Minute)
	_, addr3 = sw.appNode(t, "m", 2)
	assert.Equal(t, state, answers(t, addr3, "/state", 90*time.Second), "back on node 3, the same")
	assert.Equal(t, before, sw.nodeSums(t, 2, "m"), "with its data")
	t.Logf("node 2 ready again %s after its dockerd started", sw.restart(t, 1).Round(time.Millisecond))
	// What the restore's helper had made on node 2 before its loss stays
	// there (nothing reaches a lost node; docs/swarm-apps.md): at most
	// m's volumes, which the test removes through node 2's engine.
	require.Eventually(t, func() bool {
		_, c, _, _ := sw.leftOnNodes(t, "m")
		return !slices.ContainsFunc(c, func(x string) bool { return strings.HasPrefix(x, "node 2:") })
	}, time.Minute, 250*time.Millisecond, "no container of m on node 2 once it is back")
	_, _, _, vols = sw.leftOnNodes(t, "m")
	t.Logf("left on node 2 by the failed restore: %v", vols[1])
	assert.Subset(t, volumeNames("m", "data", "dbdata"), vols[1])
	for _, v := range vols[1] {
		_, err := sw.clients[1].VolumeRemove(ctx, v, client.VolumeRemoveOptions{})
		assert.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(sw.helperServices(t)) == 0 }, 30*time.Second, 200*time.Millisecond, "no helper service left")

	// 6. Purge: nothing of m on any node.
	cs, err := sw.clients[2].ContainerList(ctx, client.ContainerListOptions{All: true})
	require.NoError(t, err)
	for _, c := range cs.Items {
		// At times the task history from before node 3's restart: its
		// containers exited, which Swarm leaves; the purge removes them.
		t.Logf("on node 3 before the purge: %s %s %s", c.ID[:12], c.Names, c.State)
	}
	step = time.Now()
	job = s.requireUninstall(t, "m")
	t.Logf("uninstall m with purge on node 3: %s", time.Since(step).Round(time.Millisecond))
	assert.Equal(t, volumeNames("m", "data", "dbdata"), toStrings(job["outputs"].(map[string]any)["removedVolumes"]))
	vols = sw.requireGone(t, "m", 30*time.Second)
	assert.Empty(t, vols, "no volume of m on any node")
	services, containers, networks, volumes := sw.leftOnNodes(t, "")
	assert.Empty(t, services)
	assert.Empty(t, containers)
	assert.Empty(t, networks)
	assert.Empty(t, volumes)
	assert.Empty(t, sw.helperServices(t))
	assert.Zero(t, reservedPorts(t, s))
	t.Logf("TestSwarmVolumes: %s", time.Since(began).Round(time.Millisecond))
}
