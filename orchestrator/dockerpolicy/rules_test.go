package dockerpolicy

import (
	"context"
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// owners is a fixed answer about who owns what.
type owners map[string]string

func (o owners) lookup(ref string) (string, bool, error) {
	owner, ok := o[ref]
	return owner, ok, nil
}
func (o owners) ContainerOwner(_ context.Context, ref string) (string, bool, error) {
	return o.lookup(ref)
}
func (o owners) VolumeOwner(_ context.Context, ref string) (string, bool, error) {
	return o.lookup(ref)
}
func (o owners) NetworkOwner(_ context.Context, ref string) (string, bool, error) {
	return o.lookup(ref)
}
func (o owners) ConfigOwner(_ context.Context, ref string) (string, bool, error) {
	return o.lookup(ref)
}

var testPolicy = Policy{Installation: "app", Images: []string{"redmine:5.1.3", "registry.example.com/x/db@sha256:abc"}, HostPorts: []int{9001}}

var known = owners{
	"websoft9-app": "app", "websoft9-app_default": "app", "websoft9-app_data": "app",
	"websoft9-other": "other", "websoft9-other_default": "other", "websoft9-other_data": "other",
	"websoft9-app_cfg-0123456789ab": "app", "cfgidapp": "app", "websoft9-other_cfg-0123456789ab": "other", "cfgidother": "other",
	"websoft9-app_unlabelled-0123456789ab": "",
}

func port(t *testing.T, p string) network.Port {
	t.Helper()
	n, err := network.ParsePort(p)
	require.NoError(t, err)
	return n
}

func checkHost(t *testing.T, hc container.HostConfig) []Refusal {
	t.Helper()
	out, err := CheckContainer(t.Context(), testPolicy, known, "websoft9-app", &container.CreateRequest{Config: &container.Config{}, HostConfig: &hc})
	require.NoError(t, err)
	return out
}

// ruleCases break one rule each. TestEveryRuleRefuses fails when a rule's
// check is removed (its case passes) and when a rule has no case.
func ruleCases(t *testing.T) map[string][]func() []Refusal {
	host := func(hc container.HostConfig) func() []Refusal { return func() []Refusal { return checkHost(t, hc) } }
	return map[string][]func() []Refusal{
		RuleObjectName: {
			func() []Refusal {
				out, err := CheckContainer(t.Context(), testPolicy, known, "websoft9-apple", &container.CreateRequest{})
				require.NoError(t, err)
				return out
			},
			func() []Refusal { return CheckNetwork(testPolicy, &network.CreateRequest{Name: "evil"}) },
			func() []Refusal { return CheckVolume(testPolicy, &volume.CreateRequest{Name: "data"}) },
		},
		RuleForeign: {
			host(container.HostConfig{Binds: []string{"websoft9-other_data:/data"}}),
			func() []Refusal {
				out, err := CheckContainer(t.Context(), testPolicy, known, "websoft9-app", &container.CreateRequest{HostConfig: &container.HostConfig{},
					NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"websoft9-other_default": {}}}})
				require.NoError(t, err)
				return out
			},
		},
		RulePrivileged: {
			host(container.HostConfig{Privileged: true}),
			func() []Refusal { return CheckExec(testPolicy, &container.ExecCreateRequest{Privileged: true}) },
		},
		RuleHostNamespace: {
			host(container.HostConfig{NetworkMode: "host"}), host(container.HostConfig{PidMode: "host"}),
			host(container.HostConfig{IpcMode: "host"}), host(container.HostConfig{UTSMode: "host"}),
			host(container.HostConfig{UsernsMode: "host"}), host(container.HostConfig{CgroupnsMode: "host"}),
		},
		RuleCapAdd:  {host(container.HostConfig{CapAdd: []string{"NET_ADMIN"}}), host(container.HostConfig{CapAdd: []string{"ALL"}})},
		RuleDevices: {host(container.HostConfig{Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: "/dev/sda"}}}}), host(container.HostConfig{Resources: container.Resources{DeviceRequests: []container.DeviceRequest{{Driver: "nvidia"}}}}), host(container.HostConfig{Resources: container.Resources{DeviceCgroupRules: []string{"c 1:3 mr"}}})},
		RuleSecurityOpt: {
			host(container.HostConfig{SecurityOpt: []string{"apparmor=unconfined"}}), host(container.HostConfig{SecurityOpt: []string{"seccomp:unconfined"}}),
			host(container.HostConfig{SecurityOpt: []string{"label=disable"}}), host(container.HostConfig{SecurityOpt: []string{"systempaths=unconfined"}}),
			host(container.HostConfig{MaskedPaths: []string{}}),
		},
		RuleSysctls:      {host(container.HostConfig{Sysctls: map[string]string{"kernel.panic": "1"}}), host(container.HostConfig{Sysctls: map[string]string{"vm.overcommit_memory": "1"}})},
		RuleBindMount:    {host(container.HostConfig{Binds: []string{"/:/host"}}), host(container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/etc", Target: "/x"}}}), host(container.HostConfig{Binds: []string{"./data:/data"}})},
		RuleDockerSocket: {host(container.HostConfig{Binds: []string{"/var/run/docker.sock:/var/run/docker.sock"}}), host(container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/run/docker.sock", Target: "/s"}}})},
		RuleVolumeDriver: {
			func() []Refusal {
				return CheckVolume(testPolicy, &volume.CreateRequest{Name: "websoft9-app_etc", DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/etc"}})
			},
			func() []Refusal {
				return CheckVolume(testPolicy, &volume.CreateRequest{Name: "websoft9-app_nfs", DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.0.0.1", "device": ":/x"}})
			},
			func() []Refusal {
				return CheckVolume(testPolicy, &volume.CreateRequest{Name: "websoft9-app_x", Driver: "rexray"})
			},
			host(container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "websoft9-app_v", Target: "/v", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Options: map[string]string{"device": "/"}}}}}}),
		},
		RuleVolumesFrom: {
			host(container.HostConfig{VolumesFrom: []string{"websoft9-other:ro"}}), host(container.HostConfig{Links: []string{"websoft9-other:db"}}),
			host(container.HostConfig{NetworkMode: "container:websoft9-other"}),
		},
		RulePorts: {
			host(container.HostConfig{PortBindings: network.PortMap{port(t, "80/tcp"): {{HostPort: "9002"}}}}),
			host(container.HostConfig{PortBindings: network.PortMap{port(t, "80/tcp"): {{HostPort: ""}}}}),
			host(container.HostConfig{PortBindings: network.PortMap{port(t, "80/tcp"): {{HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: "9001"}}}}),
			host(container.HostConfig{PublishAllPorts: true}),
		},
		RuleNetworkDriver: {
			func() []Refusal {
				return CheckNetwork(testPolicy, &network.CreateRequest{Name: "websoft9-app_lan", Driver: "macvlan"})
			},
			func() []Refusal {
				return CheckNetwork(testPolicy, &network.CreateRequest{Name: "websoft9-app_br", Options: map[string]string{"com.docker.network.bridge.name": "docker0"}})
			},
		},
		RuleImagePull: {func() []Refusal { return CheckPull(testPolicy, "alpine:3") }, func() []Refusal { return CheckPull(testPolicy, "redmine:6") }},
		RuleRuntime:   {host(container.HostConfig{Runtime: "nvidia"}), host(container.HostConfig{Resources: container.Resources{CgroupParent: "/"}})},
		// The endpoint rule is the socket router's: socket.TestRouterRefusesEndpoints.
		RuleEndpoint:  nil,
		RulePlacement: placementCases(t),
	}
}

func TestEveryRuleRefuses(t *testing.T) {
	cases := ruleCases(t)
	for _, r := range Rules {
		t.Run(r.Name, func(t *testing.T) {
			fns, ok := cases[r.Name]
			require.True(t, ok, "rule %s has no test case", r.Name)
			for i, fn := range fns {
				out := fn()
				require.NotEmpty(t, out, "case %d of %s was allowed", i, r.Name)
				var rules []string
				for _, f := range out {
					rules = append(rules, f.Rule)
					assert.NotEmpty(t, f.Detail)
				}
				assert.Contains(t, rules, r.Name, "case %d", i)
			}
		})
	}
	assert.Len(t, cases, len(Rules), "a case list per rule, no more")
}

// TestAllowed: what the websoft9 mixin and compose ask for an app passes.
func TestAllowed(t *testing.T) {
	assert.Empty(t, checkHost(t, container.HostConfig{
		NetworkMode:  "websoft9-app_default",
		Binds:        []string{"websoft9-app_data:/data", "websoft9-app_new:/new"},
		Mounts:       []mount.Mount{{Type: mount.TypeVolume, Source: "websoft9-app_data", Target: "/d"}, {Type: mount.TypeTmpfs, Target: "/tmp"}},
		PortBindings: network.PortMap{port(t, "80/tcp"): {{HostPort: "9001"}}, port(t, "81/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "9001"}}},
		CapAdd:       []string{"CAP_NET_BIND_SERVICE", "chown"},
		SecurityOpt:  []string{"no-new-privileges:true"},
		Sysctls:      map[string]string{"net.core.somaxconn": "1024"},
		VolumesFrom:  []string{"websoft9-app"},
	}))
	assert.Empty(t, CheckNetwork(testPolicy, &network.CreateRequest{Name: "websoft9-app_default", Driver: "bridge"}))
	assert.Empty(t, CheckVolume(testPolicy, &volume.CreateRequest{Name: "websoft9-app_data"}))
	assert.Empty(t, CheckVolume(testPolicy, &volume.CreateRequest{Name: "websoft9-app_tmp", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=64m"}}))
	assert.Empty(t, CheckPull(testPolicy, "docker.io/library/redmine:5.1.3"), "docker.io/library is implied")
	assert.Empty(t, CheckPull(testPolicy, "registry.example.com/x/db@sha256:abc"))
	assert.Empty(t, CheckExec(testPolicy, &container.ExecCreateRequest{Cmd: []string{"true"}}))
}

// TestGranted: an operator's grant lets exactly what it names through.
func TestGranted(t *testing.T) {
	p := testPolicy
	p.Granted = []string{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}
	hc := container.HostConfig{CapAdd: []string{"NET_ADMIN"}, Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: "/dev/net/tun"}}}}
	out, err := CheckContainer(t.Context(), p, known, "websoft9-app", &container.CreateRequest{Config: &container.Config{}, HostConfig: &hc})
	require.NoError(t, err)
	assert.Empty(t, out)
	hc.CapAdd = append(hc.CapAdd, "SYS_ADMIN")
	out, err = CheckContainer(t.Context(), p, known, "websoft9-app", &container.CreateRequest{Config: &container.Config{}, HostConfig: &hc})
	require.NoError(t, err)
	require.Len(t, out, 1, "only what was granted")
	assert.Equal(t, RuleCapAdd, out[0].Rule)
}

// TestRecreateName: compose's temporary name for a recreated container is
// allowed only when the container it replaces is the installation's.
func TestRecreateName(t *testing.T) {
	o := owners{"0123456789ab": "app", "ba9876543210": "other"}
	out, err := CheckContainer(t.Context(), testPolicy, o, "0123456789ab_websoft9-app", &container.CreateRequest{})
	require.NoError(t, err)
	assert.Empty(t, out)
	out, err = CheckContainer(t.Context(), testPolicy, o, "ba9876543210_websoft9-app", &container.CreateRequest{})
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, RuleObjectName, out[0].Rule)
	out, err = CheckContainer(t.Context(), testPolicy, o, "0123456789ab_websoft9-other", &container.CreateRequest{})
	require.NoError(t, err)
	require.Len(t, out, 1)
}
