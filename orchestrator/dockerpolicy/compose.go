package dockerpolicy

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
)

// Located is a refusal found in a compose model before any run, with the
// path of the key that breaks the rule, e.g. services.web.privileged.
type Located struct {
	Refusal
	Path string `json:"path"`
}

// ruleKeys is the compose key a rule's setting is written under, for
// locating a refusal in the file.
var ruleKeys = map[string]string{
	RulePrivileged: "privileged", RuleCapAdd: "cap_add", RuleDevices: "devices", RuleSecurityOpt: "security_opt",
	RuleSysctls: "sysctls", RuleRuntime: "runtime", RuleHostNamespace: "network_mode", RuleVolumesFrom: "volumes_from",
	RuleBindMount: "volumes", RuleDockerSocket: "volumes", RuleVolumeDriver: "volumes", RulePorts: "ports",
	RuleForeign: "volumes",
}

// CheckProject applies the rules to a compose project as the websoft9
// mixin would run it, so that an author sees every violation before a
// run: the settings each service's container would be created with, its
// mounts, the volumes and networks it declares, and its published ports,
// which must be among hostPorts (the values the lint gave the bundle's port
// parameters: StackHub chooses host ports). dir is the bundle directory;
// configs and secrets read from files outside it are refused. granted are
// the permissions the bundle declares it needs: they are allowed, as the
// operator's grant would allow them.
func CheckProject(project *types.Project, hostPorts []int, dir string, granted []string) []Located {
	var out []Located
	add := func(path string, rs []Refusal) {
		for _, r := range rs {
			p := path
			if key, ok := ruleKeys[r.Rule]; ok && strings.HasPrefix(p, "services.") && strings.Count(p, ".") == 1 {
				if r.Rule == RuleHostNamespace {
					// The detail starts with the key: "pid: host …".
					key, _, _ = strings.Cut(r.Detail, ":")
				}
				p += "." + key
			}
			out = append(out, Located{Refusal: r, Path: p})
		}
	}
	owners := projectOwners{project: project}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range project.Services {
			if !yield(n) {
				return
			}
		}
	}) {
		s := project.Services[name]
		c := &checker{ctx: context.Background(), p: Policy{Installation: "lint", HostPorts: hostPorts, Granted: granted}, owners: owners, call: "compose"}
		c.settings(serviceHostConfig(s))
		if s.UseAPISocket {
			c.refuseUnless(RuleDockerSocket, "", "use_api_socket gives the service the Docker socket: whoever holds it is root on the host")
		}
		for _, v := range s.Volumes {
			c.serviceVolume(project, v)
		}
		for _, from := range s.VolumesFrom {
			if kind, ref, _ := strings.Cut(from, ":"); kind == "container" {
				c.refuse(RuleVolumesFrom, "volumes_from %s: a container outside the app", ref)
			}
		}
		if len(s.ExternalLinks) > 0 {
			c.refuse(RuleVolumesFrom, "external_links %v reach containers outside the app", s.ExternalLinks)
		}
		for _, p := range s.Ports {
			c.servicePort(p)
		}
		add("services."+name, c.out)
	}
	for key, v := range project.Volumes {
		c := &checker{p: Policy{Granted: granted}}
		if bool(v.External) {
			c.refuse(RuleForeign, "external volume %s is not the app's own", v.Name)
		}
		c.driver(v.Driver, v.DriverOpts)
		add("volumes."+key, c.out)
	}
	for key, n := range project.Networks {
		c := &checker{p: Policy{Granted: granted}}
		switch {
		case bool(n.External):
			c.refuse(RuleForeign, "external network %s is not the app's own", n.Name)
		case n.Driver != "" && n.Driver != "bridge":
			c.refuseUnless(RuleNetworkDriver, n.Driver, "network driver %q", n.Driver)
		}
		add("networks."+key, c.out)
	}
	files := map[string]string{}
	for key, f := range project.Configs {
		files["configs."+key] = f.File
	}
	for key, f := range project.Secrets {
		files["secrets."+key] = f.File
	}
	for path, file := range files {
		if file == "" {
			continue
		}
		c := &checker{p: Policy{Granted: granted}}
		if rel, err := filepath.Rel(dir, file); err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			c.refuseUnless(RuleBindMount, file, "%s reads %s, outside the bundle", path, file)
		}
		add(path, c.out)
	}
	slices.SortStableFunc(out, func(a, b Located) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// serviceHostConfig is the part of a service's container settings the
// rules look at, as compose would create the container.
func serviceHostConfig(s types.ServiceConfig) *container.HostConfig {
	hc := &container.HostConfig{
		Privileged: s.Privileged, NetworkMode: container.NetworkMode(s.NetworkMode), PidMode: container.PidMode(s.Pid),
		IpcMode: container.IpcMode(s.Ipc), UTSMode: container.UTSMode(s.Uts), UsernsMode: container.UsernsMode(s.UserNSMode),
		CgroupnsMode: container.CgroupnsMode(s.Cgroup), CapAdd: s.CapAdd, SecurityOpt: s.SecurityOpt,
		Sysctls: map[string]string(s.Sysctls), Runtime: s.Runtime,
	}
	hc.CgroupParent = s.CgroupParent
	hc.DeviceCgroupRules = s.DeviceCgroupRules
	for _, d := range s.Devices {
		hc.Devices = append(hc.Devices, container.DeviceMapping{PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: d.Permissions})
	}
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
		for _, d := range s.Deploy.Resources.Reservations.Devices {
			hc.DeviceRequests = append(hc.DeviceRequests, container.DeviceRequest{Driver: d.Driver, Capabilities: [][]string{d.Capabilities}})
		}
	}
	// service:<name> shares another service's namespace: the app's own.
	if strings.HasPrefix(s.NetworkMode, "service:") {
		hc.NetworkMode = ""
	}
	return hc
}

func (c *checker) serviceVolume(project *types.Project, v types.ServiceVolumeConfig) {
	switch v.Type {
	case types.VolumeTypeBind:
		c.hostPath(v.Source)
	case types.VolumeTypeVolume:
		if v.Source == "" {
			return // anonymous: the mixin's own lint refuses it
		}
		if _, ok := project.Volumes[v.Source]; !ok {
			c.refuse(RuleForeign, "volume %s is not declared by the app", v.Source)
		}
	case types.VolumeTypeTmpfs:
	default:
		c.refuseUnless(RuleBindMount, v.Type, "a mount of type %s", v.Type)
	}
}

func (c *checker) servicePort(p types.ServicePortConfig) {
	if p.Published == "" {
		return // not published: reachable inside the app's network only
	}
	n, err := strconv.Atoi(p.Published)
	if err != nil || !slices.Contains(c.p.HostPorts, n) {
		c.refuse(RulePorts, "port %d published on host port %q: StackHub chooses host ports, publish one set from a port parameter", p.Target, p.Published)
		return
	}
	if p.HostIP != "" && p.HostIP != "0.0.0.0" && p.HostIP != "::" && p.HostIP != "127.0.0.1" && p.HostIP != "::1" {
		c.refuse(RulePorts, "port %d published on %s: only all addresses or loopback", p.Target, p.HostIP)
	}
}

// projectOwners answers for a compose model: its services' containers
// are the app's, nothing else exists.
type projectOwners struct{ project *types.Project }

func (o projectOwners) ContainerOwner(_ context.Context, ref string) (string, bool, error) {
	if _, ok := o.project.Services[ref]; ok {
		return "lint", true, nil
	}
	return "", false, nil
}

func (o projectOwners) VolumeOwner(context.Context, string) (string, bool, error) {
	return "", false, nil
}

func (o projectOwners) NetworkOwner(context.Context, string) (string, bool, error) {
	return "", false, nil
}
