//go:build integration

package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testImage = "stackhub-test/web:dev"

// TestCluster proves the harness: three engines on a bridge make a Swarm
// through the API, services on two nodes talk over an overlay network, the
// host reaches a host-mode published port on a node, the manager sees a
// stopped node go down and its task run again when it is back, and the
// teardown leaves nothing.
func TestCluster(t *testing.T) {
	RequireDocker(t)
	begin := time.Now()
	c := StartCluster(t, 3, testImage)
	t.Logf("cluster %s (%s) with 3 engines up in %s", c.Bridge, c.Subnet, time.Since(begin).Round(time.Millisecond))
	ctx := t.Context()
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	for i, n := range c.Nodes {
		assert.Equal(t, fmt.Sprintf("%sn%d", c.Bridge, i+1), n.Name)
		assert.True(t, c.Subnet.Contains(n.Addr), "%s in %s", n.Addr, c.Subnet)
		assert.Equal(t, byte(11+i), n.Addr.As4()[3])
		out, err := n.Exec(ctx, "ip", "route", "show", "default")
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "via "+c.Gateway.String())
	}

	// A Swarm through the API, as StackHub's cluster init will make one.
	step := time.Now()
	mgrAddr, token, err := c.InitSwarm(ctx)
	require.NoError(t, err)
	assert.Equal(t, n1.Addr.String()+":2377", mgrAddr)
	assert.NotEmpty(t, token)
	require.NoError(t, c.JoinAll(ctx))
	t.Logf("swarm of 3 ready in %s", time.Since(step).Round(time.Millisecond))
	mgr := mustClient(t, n1)
	nodes, err := mgr.NodeList(ctx, client.NodeListOptions{})
	require.NoError(t, err)
	hosts := map[string]string{} // hostname -> node ID
	for _, n := range nodes.Items {
		assert.Equal(t, swarm.NodeStateReady, n.Status.State, n.Description.Hostname)
		hosts[n.Description.Hostname] = n.ID
	}
	require.Len(t, hosts, 3, "three nodes with three hostnames")
	id2, id3 := hosts[n2.Name], hosts[n3.Name]
	require.NotEmpty(t, id2)
	require.NotEmpty(t, id3)
	sw, err := mgr.SwarmInspect(ctx, client.SwarmInspectOptions{})
	require.NoError(t, err)
	heartbeat := sw.Swarm.Spec.Dispatcher.HeartbeatPeriod

	// Two services on an overlay network: web on node 2, its port
	// published in host mode; client on node 3.
	step = time.Now()
	_, err = mgr.NetworkCreate(ctx, "shnet", client.NetworkCreateOptions{Driver: "overlay"})
	require.NoError(t, err)
	const published = 18080
	create := func(name, node string, ports []swarm.PortConfig) {
		_, err := mgr.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: name},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{Image: testImage, Args: []string{"http", "-addr", ":8080"}},
				Placement:     &swarm.Placement{Constraints: []string{"node.id==" + node}},
				Networks:      []swarm.NetworkAttachmentConfig{{Target: "shnet"}},
			},
			// DNS round robin: a VIP needs IPVS, which this kernel
			// lacks (no CONFIG_IP_VS): the name resolves, but
			// nothing answers on the VIP.
			EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR, Ports: ports},
		}})
		require.NoError(t, err, name)
	}
	create("web", id2, []swarm.PortConfig{{Protocol: network.TCP, TargetPort: 8080, PublishedPort: published, PublishMode: swarm.PortConfigPublishModeHost}})
	create("client", id3, nil)
	webURL := fmt.Sprintf("http://%s/healthz", netJoin(n2.Addr.String(), published))
	waitTask(t, mgr, "client", id3)
	waitTask(t, mgr, "web", id2)
	waitHTTP(t, webURL, 30*time.Second)
	t.Logf("services running, node 2's published port answers the host, in %s", time.Since(step).Round(time.Millisecond))

	// The client on node 3 reaches web on node 2 by its service name.
	step = time.Now()
	c3 := mustClient(t, n3)
	ctr := taskContainer(t, c3, "client")
	var out string
	ok := assert.Eventually(t, func() bool {
		var err error
		out, err = execIn(ctx, c3, ctr, "/testapp", "probe", "http", "http://web:8080/healthz")
		if err != nil {
			out = err.Error()
		}
		return err == nil
	}, 30*time.Second, 250*time.Millisecond)
	require.True(t, ok, "node 3 reaches web on node 2 over the overlay: %s", out)
	t.Logf("node 3 reached web on node 2 over the overlay in %s", time.Since(step).Round(time.Millisecond))

	// A node cut off the bridge is unreachable until plugged back in.
	require.NoError(t, n2.LinkDown(ctx))
	_, err = (&http.Client{Timeout: time.Second}).Get(webURL)
	require.Error(t, err, "node 2 unreachable with its link down")
	require.NoError(t, n2.LinkUp(ctx))
	waitHTTP(t, webURL, 15*time.Second)

	// Node 3's dockerd stops: the manager reports it down.
	step = time.Now()
	require.NoError(t, n3.Stop())
	stopped := time.Since(step)
	step = time.Now()
	require.Eventually(t, func() bool {
		n, err := mgr.NodeInspect(ctx, id3, client.NodeInspectOptions{})
		return err == nil && n.Node.Status.State == swarm.NodeStateDown
	}, 60*time.Second, 100*time.Millisecond)
	down := time.Since(step)
	t.Logf("node 3's dockerd stopped in %s; the manager reported node 3 down %s later, %s after SIGTERM (dispatcher heartbeat period %s)",
		stopped.Round(time.Millisecond), down.Round(time.Millisecond), (stopped + down).Round(time.Millisecond), heartbeat)
	assert.Less(t, stopped+down, 30*time.Second, "a lost node is seen within 30 s")

	// Back again: it rejoins and its task runs again.
	step = time.Now()
	require.NoError(t, n3.Start())
	require.NoError(t, c.WaitNodes(ctx, 3))
	t.Logf("node 3 ready again %s after its dockerd started", time.Since(step).Round(time.Millisecond))
	waitTask(t, mgr, "client", id3)
	c3 = mustClient(t, n3)
	taskContainer(t, c3, "client")
	t.Logf("node 3's task running again %s after its dockerd started", time.Since(step).Round(time.Millisecond))

	// Teardown leaves nothing.
	step = time.Now()
	var pids []int
	for _, n := range c.Nodes {
		pids = append(pids, n.cmd.Process.Pid)
	}
	dir := c.dir
	require.NoError(t, c.Close())
	t.Logf("teardown in %s", time.Since(step).Round(time.Millisecond))
	assert.Empty(t, c.leftovers(), "nothing of the cluster is left")
	for _, pid := range pids {
		assert.NoFileExists(t, "/proc/"+strconv.Itoa(pid)+"/status", "dockerd %d is gone", pid)
	}
	assert.Empty(t, processesMentioning(dir), "no process runs from the cluster's directory")
	t.Logf("TestCluster took %s", time.Since(begin).Round(time.Millisecond))
}

func netJoin(host string, port int) string { return host + ":" + strconv.Itoa(port) }

func mustClient(t *testing.T, n *Node) *client.Client {
	t.Helper()
	cli, err := n.Client()
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// waitTask waits until service has a running task on node.
func waitTask(t *testing.T, mgr *client.Client, service, node string) {
	t.Helper()
	var last string
	ok := assert.Eventually(t, func() bool {
		tasks, err := mgr.TaskList(t.Context(), client.TaskListOptions{Filters: make(client.Filters).Add("service", service).Add("desired-state", "running")})
		if err != nil {
			last = err.Error()
			return false
		}
		var states []string
		for _, tk := range tasks.Items {
			states = append(states, fmt.Sprintf("task %s on node %q: %s/%s %s", tk.ID, tk.NodeID, tk.Status.State, tk.DesiredState, tk.Status.Message))
			if tk.NodeID == node && tk.Status.State == swarm.TaskStateRunning {
				return true
			}
			if tk.Status.Err != "" {
				states = append(states, tk.Status.Err)
			}
		}
		last = strings.Join(states, "; ")
		return false
	}, 60*time.Second, 200*time.Millisecond)
	require.True(t, ok, "%s running on %s: %s", service, node, last)
}

// taskContainer returns the running container of service's task on the
// engine of cli.
func taskContainer(t *testing.T, cli *client.Client, service string) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		list, err := cli.ContainerList(t.Context(), client.ContainerListOptions{Filters: make(client.Filters).Add("label", "com.docker.swarm.service.name="+service)})
		if err != nil || len(list.Items) == 0 {
			return false
		}
		id = list.Items[0].ID
		return true
	}, 30*time.Second, 200*time.Millisecond)
	return id
}

// execIn runs argv in container ctr and returns its output; an exit
// status other than 0 is an error.
func execIn(ctx context.Context, cli *client.Client, ctr string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ex, err := cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", err
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", err
	}
	defer att.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, att.Reader)
	insp, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return out.String(), err
	}
	if insp.ExitCode != 0 {
		return out.String(), fmt.Errorf("%v: exit status %d: %s", argv, insp.ExitCode, out.String())
	}
	return out.String(), nil
}

func waitHTTP(t *testing.T, url string, within time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	var last error
	ok := assert.Eventually(t, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			last = err
			return false
		}
		resp.Body.Close()
		last = fmt.Errorf("status %d", resp.StatusCode)
		return resp.StatusCode == http.StatusOK
	}, within, 200*time.Millisecond)
	require.True(t, ok, "GET %s: %v", url, last)
}

// processesMentioning lists the processes whose command line names dir.
func processesMentioning(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(dir)) {
			found = append(found, e.Name()+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return found
}
