package dockerpolicy

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

// TestPermissionKindsAreRules keeps one format of permissions: every kind
// orchestrator.ParsePermission accepts is a rule of this table that a
// grant lifts (granting the kind lets each of the rule's cases through),
// and no other rule can be declared or granted. A few cases of a
// grantable rule stay refused whatever is granted (unliftable).
func TestPermissionKindsAreRules(t *testing.T) {
	unliftable := map[string][]int{
		RuleNetworkDriver: {1}, // a bridge named by hand may be the host's docker0
	}
	kinds := orchestrator.PermissionKinds()
	for _, k := range kinds {
		assert.True(t, slices.ContainsFunc(Rules, func(r Rule) bool { return r.Name == k }), "kind %s is no rule", k)
	}
	saved := testPolicy
	t.Cleanup(func() { testPolicy = saved })
	for _, r := range Rules {
		_, err := orchestrator.ParsePermission(r.Name)
		grantable := slices.Contains(kinds, r.Name)
		assert.Equal(t, grantable, err == nil, "rule %s", r.Name)
		if !grantable {
			continue
		}
		testPolicy = saved
		testPolicy.Granted = []string{r.Name}
		for i, fn := range ruleCases(t)[r.Name] {
			if slices.Contains(unliftable[r.Name], i) {
				assert.NotEmpty(t, fn(), "case %d of %s is refused whatever is granted", i, r.Name)
				continue
			}
			for _, f := range fn() {
				assert.NotEqual(t, r.Name, f.Rule, "case %d of %s is refused though granted: %s", i, r.Name, f.Detail)
			}
		}
	}
}

// TestGrantedValues: a permission as a bundle may spell it, once
// canonical, lets through the setting it names and nothing next to it.
func TestGrantedValues(t *testing.T) {
	devices := func(p string) container.HostConfig {
		return container.HostConfig{Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: p}}}}
	}
	tests := []struct {
		declared     string
		needs, other func(t *testing.T, p Policy) []Refusal
	}{
		{"CAP-ADD:cap_net_admin", hostCall(container.HostConfig{CapAdd: []string{"cap_net_admin"}}), hostCall(container.HostConfig{CapAdd: []string{"SYS_ADMIN"}})},
		{"devices:/dev/net/tun/", hostCall(devices("/dev/net/tun")), hostCall(devices("/dev/sda"))},
		{"devices:nvidia", hostCall(container.HostConfig{Resources: container.Resources{DeviceRequests: []container.DeviceRequest{{Driver: "nvidia"}}}}), hostCall(devices("/dev/nvidia0"))},
		{"bind-mount:/srv/backup/", hostCall(container.HostConfig{Binds: []string{"/srv/backup:/backup"}}), hostCall(container.HostConfig{Binds: []string{"/srv:/backup"}})},
		{"bind-mount:/srv/backup", hostCall(container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/srv/backup", Target: "/b"}}}), hostCall(container.HostConfig{Binds: []string{"/srv/backup/../..:/b"}})},
		{"host-namespace:PID=host", hostCall(container.HostConfig{PidMode: "host"}), hostCall(container.HostConfig{NetworkMode: "host"})},
		{"security-opt:seccomp=unconfined", hostCall(container.HostConfig{SecurityOpt: []string{"seccomp=unconfined"}}), hostCall(container.HostConfig{SecurityOpt: []string{"apparmor=unconfined"}})},
		{"sysctls:kernel.domainname", hostCall(container.HostConfig{Sysctls: map[string]string{"kernel.domainname": "x"}}), hostCall(container.HostConfig{Sysctls: map[string]string{"kernel.panic": "1"}})},
		{"runtime:runsc", hostCall(container.HostConfig{Runtime: "runsc"}), hostCall(container.HostConfig{Runtime: "nvidia"})},
		{"privileged", hostCall(container.HostConfig{Privileged: true}), hostCall(container.HostConfig{CapAdd: []string{"NET_ADMIN"}})},
		{"docker-socket", hostCall(container.HostConfig{Binds: []string{"/var/run/docker.sock:/var/run/docker.sock"}}), hostCall(container.HostConfig{Binds: []string{"/var/run:/r"}})},
		{"volume-driver:rexray",
			func(_ *testing.T, p Policy) []Refusal {
				return CheckVolume(p, &volume.CreateRequest{Name: "websoft9-app_x", Driver: "rexray"})
			},
			func(_ *testing.T, p Policy) []Refusal {
				return CheckVolume(p, &volume.CreateRequest{Name: "websoft9-app_x", Driver: "nfs"})
			}},
		{"network-driver:macvlan",
			func(_ *testing.T, p Policy) []Refusal {
				return CheckNetwork(p, &network.CreateRequest{Name: "websoft9-app_lan", Driver: "macvlan"})
			},
			func(_ *testing.T, p Policy) []Refusal {
				return CheckNetwork(p, &network.CreateRequest{Name: "websoft9-app_lan", Driver: "ipvlan"})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.declared, func(t *testing.T) {
			perm, err := orchestrator.ParsePermission(tc.declared)
			require.NoError(t, err)
			assert.NotEmpty(t, tc.needs(t, testPolicy), "refused without the grant")
			p := testPolicy
			p.Granted = orchestrator.PermissionStrings([]orchestrator.Permission{perm})
			assert.Empty(t, tc.needs(t, p), "allowed with %s", perm)
			assert.NotEmpty(t, tc.other(t, p), "what %s does not name stays refused", perm)
		})
	}
}

func hostCall(hc container.HostConfig) func(t *testing.T, p Policy) []Refusal {
	return func(t *testing.T, p Policy) []Refusal {
		t.Helper()
		h := hc
		out, err := CheckContainer(t.Context(), p, known, "websoft9-app", &container.CreateRequest{Config: &container.Config{}, HostConfig: &h})
		require.NoError(t, err)
		return out
	}
}
