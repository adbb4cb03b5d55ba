package orchestrator_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator"
)

func TestParsePermission(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"cap-add:NET_ADMIN", "cap-add:NET_ADMIN"},
		{" CAP-ADD : cap_net_admin ", "cap-add:NET_ADMIN"},
		{"cap-add", "cap-add"},
		{"privileged", "privileged"},
		{"devices:/dev/dri/", "devices:/dev/dri"},
		{"devices:/dev/../dev/net/tun", "devices:/dev/net/tun"},
		{"devices:nvidia", "devices:nvidia"},
		{"bind-mount:/srv/backup/", "bind-mount:/srv/backup"},
		{"host-namespace:PID=host", "host-namespace:pid=host"},
		{"host-namespace:network_mode=host", "host-namespace:network_mode=host"},
		{"security-opt:seccomp=unconfined", "security-opt:seccomp=unconfined"},
		{"security-opt:apparmor:unconfined", "security-opt:apparmor:unconfined"},
		{"sysctls:kernel.domainname", "sysctls:kernel.domainname"},
		{"docker-socket", "docker-socket"},
		{"volume-driver:rexray", "volume-driver:rexray"},
		{"network-driver:macvlan", "network-driver:macvlan"},
		{"runtime:runsc", "runtime:runsc"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := orchestrator.ParsePermission(tc.in)
			require.NoError(t, err)
			assert.Equal(t, orchestrator.Permission(tc.want), got, "got %q, want %q", got, tc.want)
		})
	}
}

func TestParsePermissionRefusals(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `unknown kind ""`},
		{"cap:NET_ADMIN", `unknown kind "cap"`},
		{"endpoint", `unknown kind "endpoint"`}, // a rule, but none an operator may lift
		{"ports:80", `unknown kind "ports"`},
		{"privileged:yes", "privileged takes no value"},
		{"docker-socket:/var/run/docker.sock", "docker-socket takes no value"},
		{"cap-add:NET ADMIN", "not a capability name"},
		{"bind-mount:srv/backup", "not an absolute path"},
		{"devices:", "not a device path or driver name"},
		{"host-namespace:net=host", "is not one of"},
		{"sysctls:Kernel.X", "not a sysctl key"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := orchestrator.ParsePermission(tc.in)
			require.Error(t, err)
			assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
			assert.Contains(t, orchestrator.ErrorMessage(err), tc.want)
		})
	}
}

// ParsePermissions gives one canonical set: sorted, without duplicates
// however they were spelled.
func TestParsePermissionsCanonical(t *testing.T) {
	got, err := orchestrator.ParsePermissions([]string{"privileged", "cap-add:net_admin", "CAP-ADD:CAP_NET_ADMIN", "bind-mount:/srv/b/"})
	require.NoError(t, err)
	assert.Equal(t, []orchestrator.Permission{"bind-mount:/srv/b", "cap-add:NET_ADMIN", "privileged"}, got)
	none, err := orchestrator.ParsePermissions(nil)
	require.NoError(t, err)
	assert.Nil(t, none)
	_, err = orchestrator.ParsePermissions([]string{"privileged", "nope"})
	assert.Equal(t, orchestrator.EINVALID, orchestrator.ErrorCode(err))
}

func TestPermissionDescribe(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"cap-add:NET_ADMIN", "add the Linux capability NET_ADMIN to a container: configure network interfaces, routes and firewall rules"},
		{"cap-add:AUDIT_CONTROL", "add the Linux capability AUDIT_CONTROL to a container"},
		{"cap-add", "add any Linux capability beyond Docker's default set to a container"},
		{"devices:/dev/dri", "use the host's device /dev/dri"},
		{"devices:nvidia", "use devices of the host's nvidia driver (such as GPUs)"},
		{"bind-mount:/srv/backup", "read and write the host's /srv/backup (a bind mount of exactly that path)"},
		{"privileged", "run a container privileged: every device and capability of the host, which makes it root on the host"},
		{"host-namespace:network_mode=host", "share the host's network: it sees and can bind every interface of the host (network_mode=host)"},
		{"sysctls:kernel.domainname", "change the host's kernel setting kernel.domainname (sysctl)"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := orchestrator.ParsePermission(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.Describe())
		})
	}
	for _, k := range orchestrator.PermissionKinds() {
		assert.NotEqual(t, k, orchestrator.Permission(k).Describe(), "%s is described in words", k)
	}
}

func TestMissing(t *testing.T) {
	declared := []orchestrator.Permission{"cap-add:NET_ADMIN", "devices:/dev/net/tun"}
	assert.Equal(t, declared, orchestrator.Missing(nil, declared))
	assert.Equal(t, []orchestrator.Permission{"devices:/dev/net/tun"}, orchestrator.Missing([]orchestrator.Permission{"cap-add:NET_ADMIN"}, declared))
	assert.Empty(t, orchestrator.Missing(append(declared, "privileged"), declared))
	assert.Empty(t, orchestrator.Missing(nil, nil))
}
