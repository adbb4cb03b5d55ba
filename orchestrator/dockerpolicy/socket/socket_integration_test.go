//go:build integration

package socket

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

const testImage = "stackhub-test/web:dev"

type policyEnv struct {
	inst    string
	port    int
	real    *client.Client // the host's engine
	policed *client.Client // through the policy
	mu      sync.Mutex
	audit   []dockerpolicy.Refusal
}

func (e *policyEnv) audited() []dockerpolicy.Refusal {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]dockerpolicy.Refusal(nil), e.audit...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newPolicyEnv serves a policed socket for a fresh installation name and
// removes whatever carries that installation's label afterwards.
func newPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	real, err := client.New(client.FromEnv)
	require.NoError(t, err)
	t.Cleanup(func() { real.Close() })
	_, err = real.Ping(t.Context(), client.PingOptions{NegotiateAPIVersion: true})
	require.NoError(t, err, "a Docker engine must answer")
	e := &policyEnv{inst: fmt.Sprintf("pol%d", time.Now().UnixNano()%1_000_000), port: freePort(t), real: real}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	srv, err := Listen(Options{Socket: sock, Upstream: "/var/run/docker.sock",
		Policy: dockerpolicy.Policy{Installation: e.inst, Images: []string{"example.com/allowed/app:1.0"}, HostPorts: []int{e.port}},
		Audit:  func(r dockerpolicy.Refusal) { e.mu.Lock(); e.audit = append(e.audit, r); e.mu.Unlock() }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	e.policed, err = client.New(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() {
		e.policed.Close()
		cleanupLabel(t, real, naming.LabelApp+"="+e.inst)
	})
	return e
}

func cleanupLabel(t *testing.T, c *client.Client, label string) {
	ctx := context.WithoutCancel(t.Context())
	f := client.Filters{}.Add("label", label)
	if cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, x := range cs.Items {
			_, _ = c.ContainerRemove(ctx, x.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	if ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
		for _, n := range ns.Items {
			_, _ = c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	}
	if vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
		for _, v := range vs.Items {
			_, _ = c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		}
	}
}

// TestPolicedSocketAllowsAnApp makes what the websoft9 mixin makes for an
// app through the policed socket: a network, a volume and a container
// publishing the reserved port, started, listed, stopped and removed. Each
// object carries the installation's label, set by the policy.
func TestPolicedSocketAllowsAnApp(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		// Closing the socket drops its connections to the engine: a run
		// leaves no goroutine behind (the client's own are closed too).
		assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 5*time.Second, 50*time.Millisecond,
			"goroutines %d → %d", before, runtime.NumGoroutine())
	})
	e := newPolicyEnv(t)
	ctx := t.Context()
	project := naming.Project(e.inst)

	_, err := e.policed.NetworkCreate(ctx, project+"_default", client.NetworkCreateOptions{Driver: "bridge"})
	require.NoError(t, err)
	_, err = e.policed.VolumeCreate(ctx, client.VolumeCreateOptions{Name: project + "_data"})
	require.NoError(t, err)
	port, err := network.ParsePort("8080/tcp")
	require.NoError(t, err)
	created, err := e.policed.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   project,
		Config: &container.Config{Image: testImage, ExposedPorts: network.PortSet{port: {}}},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(e.port)}}},
			Mounts:       []mount.Mount{{Type: mount.TypeVolume, Source: project + "_data", Target: "/data"}},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{project + "_default": {}}},
	})
	require.NoError(t, err)
	_, err = e.policed.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err)

	inspect, err := e.real.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, e.inst, inspect.Container.Config.Labels[naming.LabelApp], "the policy labels what the run creates")
	net, err := e.real.NetworkInspect(ctx, project+"_default", client.NetworkInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, e.inst, net.Network.Labels[naming.LabelApp])
	vol, err := e.real.VolumeInspect(ctx, project+"_data", client.VolumeInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, e.inst, vol.Volume.Labels[naming.LabelApp])

	list, err := e.policed.ContainerList(ctx, client.ContainerListOptions{All: true})
	require.NoError(t, err)
	require.Len(t, list.Items, 1, "the run sees its own containers only")
	assert.Equal(t, created.ID, list.Items[0].ID)

	_, err = e.policed.ContainerStop(ctx, created.ID, client.ContainerStopOptions{})
	require.NoError(t, err)
	_, err = e.policed.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{})
	require.NoError(t, err)
	_, err = e.policed.VolumeRemove(ctx, project+"_data", client.VolumeRemoveOptions{})
	require.NoError(t, err)
	_, err = e.policed.NetworkRemove(ctx, project+"_default", client.NetworkRemoveOptions{})
	require.NoError(t, err)
	assert.Empty(t, e.audited(), "nothing refused")
}

// TestPolicedSocketRefuses tries, through the policed socket, each thing
// a hostile bundle would: every call is refused with its rule, audited,
// and leaves nothing on the host.
func TestPolicedSocketRefuses(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := t.Context()
	project := naming.Project(e.inst)

	// Another installation's container, made on the real engine.
	other := naming.Project(e.inst + "x")
	foreign, err := e.real.ContainerCreate(ctx, client.ContainerCreateOptions{Name: other,
		Config: &container.Config{Image: testImage, Labels: map[string]string{naming.LabelApp: e.inst + "x"}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = e.real.ContainerRemove(context.WithoutCancel(t.Context()), foreign.ID, client.ContainerRemoveOptions{Force: true})
	})

	port, err := network.ParsePort("8080/tcp")
	require.NoError(t, err)
	create := func(name string, hc container.HostConfig) error {
		_, err := e.policed.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
			Config: &container.Config{Image: testImage}, HostConfig: &hc})
		return err
	}
	cases := []struct {
		rule string
		call func() error
	}{
		{dockerpolicy.RuleObjectName, func() error { return create("evil", container.HostConfig{}) }},
		{dockerpolicy.RulePrivileged, func() error { return create(project, container.HostConfig{Privileged: true}) }},
		{dockerpolicy.RuleHostNamespace, func() error { return create(project, container.HostConfig{NetworkMode: "host"}) }},
		{dockerpolicy.RuleHostNamespace, func() error { return create(project, container.HostConfig{PidMode: "host"}) }},
		{dockerpolicy.RuleCapAdd, func() error { return create(project, container.HostConfig{CapAdd: []string{"SYS_ADMIN"}}) }},
		{dockerpolicy.RuleDevices, func() error {
			return create(project, container.HostConfig{Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "r"}}}})
		}},
		{dockerpolicy.RuleSecurityOpt, func() error {
			return create(project, container.HostConfig{SecurityOpt: []string{"seccomp=unconfined"}})
		}},
		{dockerpolicy.RuleSysctls, func() error {
			return create(project, container.HostConfig{Sysctls: map[string]string{"kernel.panic": "1"}})
		}},
		{dockerpolicy.RuleBindMount, func() error { return create(project, container.HostConfig{Binds: []string{"/etc:/host-etc"}}) }},
		{dockerpolicy.RuleDockerSocket, func() error {
			return create(project, container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}})
		}},
		{dockerpolicy.RuleVolumesFrom, func() error { return create(project, container.HostConfig{VolumesFrom: []string{other}}) }},
		{dockerpolicy.RulePorts, func() error {
			return create(project, container.HostConfig{PortBindings: network.PortMap{port: {{HostPort: strconv.Itoa(e.port + 1)}}}})
		}},
		{dockerpolicy.RulePorts, func() error { return create(project, container.HostConfig{PublishAllPorts: true}) }},
		{dockerpolicy.RuleRuntime, func() error { return create(project, container.HostConfig{Runtime: "nvidia"}) }},
		{dockerpolicy.RuleVolumeDriver, func() error {
			_, err := e.policed.VolumeCreate(ctx, client.VolumeCreateOptions{Name: project + "_etc", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/etc"}})
			return err
		}},
		{dockerpolicy.RuleNetworkDriver, func() error {
			_, err := e.policed.NetworkCreate(ctx, project+"_lan", client.NetworkCreateOptions{Driver: "macvlan"})
			return err
		}},
		{dockerpolicy.RuleObjectName, func() error {
			_, err := e.policed.NetworkCreate(ctx, "evil", client.NetworkCreateOptions{})
			return err
		}},
		{dockerpolicy.RuleForeign, func() error {
			_, err := e.policed.ContainerStop(ctx, other, client.ContainerStopOptions{})
			return err
		}},
		{dockerpolicy.RuleForeign, func() error {
			_, err := e.policed.ContainerInspect(ctx, other, client.ContainerInspectOptions{})
			return err
		}},
		{dockerpolicy.RuleForeign, func() error {
			_, err := e.policed.ContainerRemove(ctx, other, client.ContainerRemoveOptions{Force: true})
			return err
		}},
		{dockerpolicy.RuleImagePull, func() error {
			resp, err := e.policed.ImagePull(ctx, "docker.io/library/alpine:3", client.ImagePullOptions{})
			if err == nil {
				err = resp.Wait(ctx)
			}
			return err
		}},
		{dockerpolicy.RuleEndpoint, func() error {
			_, err := e.policed.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "127.0.0.1"})
			return err
		}},
		{dockerpolicy.RuleEndpoint, func() error {
			_, err := e.policed.ContainerCommit(ctx, other, client.ContainerCommitOptions{Reference: "evil:1"})
			return err
		}},
		{dockerpolicy.RuleEndpoint, func() error {
			_, err := e.policed.ImageRemove(ctx, testImage, client.ImageRemoveOptions{})
			return err
		}},
	}
	for i, tc := range cases {
		err := tc.call()
		require.Error(t, err, "case %d (%s) was allowed", i, tc.rule)
		assert.Contains(t, err.Error(), "rule "+tc.rule, "case %d", i)
	}
	audit := e.audited()
	require.Len(t, audit, len(cases), "one audited refusal per call")
	for i, tc := range cases {
		assert.Equal(t, tc.rule, audit[i].Rule, "case %d audited", i)
		assert.NotEmpty(t, audit[i].Call)
	}

	// Nothing of the refused calls is on the host.
	f := client.Filters{}.Add("label", naming.LabelApp+"="+e.inst)
	cs, err := e.real.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	require.NoError(t, err)
	assert.Empty(t, cs.Items)
	_, err = e.real.NetworkInspect(ctx, "evil", client.NetworkInspectOptions{})
	assert.Error(t, err, "no network evil")
	_, err = e.real.VolumeInspect(ctx, project+"_etc", client.VolumeInspectOptions{})
	assert.Error(t, err, "no bind volume")
	_, err = e.real.ContainerInspect(ctx, foreign.ID, client.ContainerInspectOptions{})
	assert.NoError(t, err, "the other installation's container is untouched")
}
