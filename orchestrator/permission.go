package orchestrator

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Permission is one thing a bundle needs beyond StackHub's default bundle
// policy, as a bundle declares it in custom.sh.websoft9.permissions and as
// an operator grants it: "<kind>" or "<kind>:<value>", e.g.
// "cap-add:NET_ADMIN", "devices:/dev/dri", "bind-mount:/srv/backup",
// "privileged". The kinds are the names of the rules of the bundle policy
// (orchestrator/dockerpolicy) that an operator may lift; the value narrows
// the kind to one capability, device, path, … and a kind without a value
// grants all of it. The policed Docker socket compares a call's setting
// with these strings, so ParsePermission's canonical form is the one
// format everywhere: manifest, lint, store, API, CLI and socket.
type Permission string

// The kinds of permission, named as the bundle policy's rules.
const (
	// PermPrivileged runs a container or exec privileged; it takes no
	// value. It also lets a bundle's invocation container run privileged
	// (io.cnab.docker privileged: true).
	PermPrivileged = "privileged"
	// PermHostNamespace shares one of the host's namespaces:
	// network_mode=host, pid=host, ipc=host, uts=host, userns_mode=host or
	// cgroup=host.
	PermHostNamespace = "host-namespace"
	// PermCapAdd adds a Linux capability beyond Docker's default set, by
	// name without CAP_ (NET_ADMIN).
	PermCapAdd = "cap-add"
	// PermDevices gives a host device by path (/dev/dri), or devices of a
	// driver by name (nvidia); without a value also device cgroup rules.
	PermDevices = "devices"
	// PermSecurityOpt sets a security option that lifts a confinement, as
	// written (seccomp=unconfined).
	PermSecurityOpt = "security-opt"
	// PermSysctls sets a sysctl that is not namespaced, by key.
	PermSysctls = "sysctls"
	// PermBindMount bind-mounts a host path, exactly that path.
	PermBindMount = "bind-mount"
	// PermDockerSocket mounts the host's Docker socket; it takes no value.
	PermDockerSocket = "docker-socket"
	// PermVolumeDriver uses a volume driver other than local, by name.
	PermVolumeDriver = "volume-driver"
	// PermNetworkDriver uses a network driver other than bridge, by name.
	PermNetworkDriver = "network-driver"
	// PermRuntime uses another container runtime, by name.
	PermRuntime = "runtime"
)

// permissionKind is what ParsePermission accepts of one kind and how
// Describe says it.
type permissionKind struct {
	// value checks and canonicalizes a value; nil: the kind takes none.
	value func(string) (string, error)
	// any describes the kind without a value; one describes it with v.
	any string
	one func(v string) string
}

var (
	capName     = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	plainName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	sysctlKey   = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*$`)
	hostNSModes = []string{"cgroup=host", "ipc=host", "network_mode=host", "pid=host", "userns_mode=host", "uts=host"}
)

// capMeaning says in plain words what a capability lets a process do, for
// the ones bundles ask for; others are named only.
var capMeaning = map[string]string{
	"NET_ADMIN":       "configure network interfaces, routes and firewall rules",
	"SYS_ADMIN":       "mount filesystems and administer much of the system: close to root on the host",
	"SYS_PTRACE":      "trace and inspect other processes",
	"SYS_TIME":        "set the host's clock",
	"SYS_MODULE":      "load modules into the host's kernel: root on the host",
	"SYS_RAWIO":       "raw access to I/O ports and memory",
	"SYS_NICE":        "raise process priorities and pin processes to CPUs",
	"SYS_RESOURCE":    "go beyond resource limits",
	"IPC_LOCK":        "lock memory so it is never swapped out",
	"NET_BROADCAST":   "broadcast and listen to multicast",
	"DAC_READ_SEARCH": "read any file, whatever its permissions",
	"BPF":             "load eBPF programs into the host's kernel",
	"PERFMON":         "read performance counters of the whole host",
	"SYSLOG":          "read and clear the kernel's log",
}

// absPath checks a host path and cleans it.
func absPath(v string) (string, error) {
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "\x00\n") {
		return "", fmt.Errorf("%q is not an absolute path", v)
	}
	return path.Clean(v), nil
}

func matching(re *regexp.Regexp, what string) func(string) (string, error) {
	return func(v string) (string, error) {
		if !re.MatchString(v) {
			return "", fmt.Errorf("%q is not a %s", v, what)
		}
		return v, nil
	}
}

var permissionKinds = map[string]permissionKind{
	PermPrivileged:   {any: "run a container privileged: every device and capability of the host, which makes it root on the host"},
	PermDockerSocket: {any: "use the host's Docker socket: full control of Docker, which makes it root on the host"},
	PermHostNamespace: {
		value: func(v string) (string, error) {
			v = strings.ToLower(v)
			if !slices.Contains(hostNSModes, v) {
				return "", fmt.Errorf("%q is not one of %s", v, strings.Join(hostNSModes, ", "))
			}
			return v, nil
		},
		any: "share any of the host's namespaces (network, processes, IPC, hostname, users, cgroups)",
		one: func(v string) string {
			what, _, _ := strings.Cut(v, "=")
			words := map[string]string{"network_mode": "network: it sees and can bind every interface of the host",
				"pid": "processes: it sees and can signal every process of the host", "ipc": "shared memory and IPC",
				"uts": "hostname", "userns_mode": "user namespace", "cgroup": "cgroup namespace"}
			return fmt.Sprintf("share the host's %s (%s)", words[what], v)
		},
	},
	PermCapAdd: {
		value: func(v string) (string, error) {
			v = strings.TrimPrefix(strings.ToUpper(v), "CAP_")
			if !capName.MatchString(v) {
				return "", fmt.Errorf("%q is not a capability name", v)
			}
			return v, nil
		},
		any: "add any Linux capability beyond Docker's default set to a container",
		one: func(v string) string {
			if m, ok := capMeaning[v]; ok {
				return fmt.Sprintf("add the Linux capability %s to a container: %s", v, m)
			}
			return fmt.Sprintf("add the Linux capability %s to a container", v)
		},
	},
	PermDevices: {
		value: func(v string) (string, error) {
			if strings.HasPrefix(v, "/") {
				return absPath(v)
			}
			return matching(plainName, "device path or driver name")(v)
		},
		any: "use any device of the host, device request (GPU) or device cgroup rule",
		one: func(v string) string {
			if strings.HasPrefix(v, "/") {
				return fmt.Sprintf("use the host's device %s", v)
			}
			return fmt.Sprintf("use devices of the host's %s driver (such as GPUs)", v)
		},
	},
	PermSecurityOpt: {
		value: func(v string) (string, error) {
			if v == "" || strings.ContainsAny(v, " \x00\n") {
				return "", fmt.Errorf("%q is not a security option", v)
			}
			return v, nil
		},
		any: "run a container with any security option, lifting its confinement (AppArmor, seccomp, SELinux)",
		one: func(v string) string {
			return fmt.Sprintf("run a container with the security option %s, which lifts part of its confinement", v)
		},
	},
	PermSysctls: {
		value: matching(sysctlKey, "sysctl key"),
		any:   "change any kernel setting of the host (sysctl)",
		one:   func(v string) string { return fmt.Sprintf("change the host's kernel setting %s (sysctl)", v) },
	},
	PermBindMount: {
		value: absPath,
		any:   "read and write any path of the host (bind mounts)",
		one: func(v string) string {
			return fmt.Sprintf("read and write the host's %s (a bind mount of exactly that path)", v)
		},
	},
	PermVolumeDriver: {
		value: matching(plainName, "volume driver name"),
		any:   "use any volume driver or driver options, which can mount host paths or network shares",
		one:   func(v string) string { return fmt.Sprintf("store volumes with the %s volume driver", v) },
	},
	PermNetworkDriver: {
		value: matching(plainName, "network driver name"),
		any:   "use any network driver (host, macvlan, ipvlan, overlay reach outside the app)",
		one: func(v string) string {
			return fmt.Sprintf("create networks with the %s driver, which reach outside the app", v)
		},
	},
	PermRuntime: {
		value: matching(plainName, "runtime name"),
		any:   "run containers with any runtime or cgroup parent",
		one:   func(v string) string { return fmt.Sprintf("run containers with the %s runtime", v) },
	},
}

// PermissionKinds returns the kinds a bundle may declare, sorted.
func PermissionKinds() []string {
	out := make([]string, 0, len(permissionKinds))
	for k := range permissionKinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ParsePermission checks s and returns its canonical form: the kind in
// lower case; a capability upper case without CAP_; a path cleaned; a
// namespace mode in lower case. Returns EINVALID for an unknown kind, a
// value where the kind takes none, or a malformed value.
func ParsePermission(s string) (Permission, error) {
	kind, value, hasValue := strings.Cut(strings.TrimSpace(s), ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	value = strings.TrimSpace(value)
	k, ok := permissionKinds[kind]
	switch {
	case !ok:
		return "", Errorf(EINVALID, "permission %q: unknown kind %q (known: %s)", s, kind, strings.Join(PermissionKinds(), ", "))
	case hasValue && k.value == nil:
		return "", Errorf(EINVALID, "permission %q: %s takes no value", s, kind)
	case !hasValue:
		return Permission(kind), nil
	}
	v, err := k.value(value)
	if err != nil {
		return "", WrapError(EINVALID, err, "permission %q: %v", s, err)
	}
	return Permission(kind + ":" + v), nil
}

// ParsePermissions parses every entry of list and returns the canonical
// set: sorted, without duplicates, nil when list is empty. Returns
// EINVALID naming the first bad entry.
func ParsePermissions(list []string) ([]Permission, error) {
	var out []Permission
	for _, s := range list {
		p, err := ParsePermission(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Kind is the permission's kind, e.g. cap-add.
func (p Permission) Kind() string {
	k, _, _ := strings.Cut(string(p), ":")
	return k
}

// Value is what the permission narrows its kind to, "" for all of it.
func (p Permission) Value() string {
	_, v, _ := strings.Cut(string(p), ":")
	return v
}

// Describe says in plain words what the permission lets a bundle do, for
// the operator who grants it.
func (p Permission) Describe() string {
	k, ok := permissionKinds[p.Kind()]
	switch {
	case !ok:
		return string(p)
	case p.Value() == "" || k.one == nil:
		return k.any
	}
	return k.one(p.Value())
}

// Missing returns the permissions of declared that granted lacks.
func Missing(granted, declared []Permission) []Permission {
	var out []Permission
	for _, p := range declared {
		if !slices.Contains(granted, p) {
			out = append(out, p)
		}
	}
	return out
}

// PermissionStrings returns ps as strings, e.g. for the bundle policy.
func PermissionStrings(ps []Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
