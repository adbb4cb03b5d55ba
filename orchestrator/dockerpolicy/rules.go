package dockerpolicy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Rule is one thing a bundle may not do through its Docker socket, named
// so that a refusal, the audit log and the lint say which rule it broke.
type Rule struct {
	Name    string
	Summary string
}

// Rule names.
const (
	RuleEndpoint      = "endpoint"
	RuleForeign       = "foreign-object"
	RuleObjectName    = "object-name"
	RulePrivileged    = "privileged"
	RuleHostNamespace = "host-namespace"
	RuleCapAdd        = "cap-add"
	RuleDevices       = "devices"
	RuleSecurityOpt   = "security-opt"
	RuleSysctls       = "sysctls"
	RuleBindMount     = "bind-mount"
	RuleDockerSocket  = "docker-socket"
	RuleVolumeDriver  = "volume-driver"
	RuleVolumesFrom   = "volumes-from"
	RulePorts         = "ports"
	RuleNetworkDriver = "network-driver"
	RuleImagePull     = "image-pull"
	RuleRuntime       = "runtime"
	RulePlacement     = "placement"
)

// Rules is the table every refusal comes from, in the order a reader
// meets them in a compose file.
var Rules = []Rule{
	{RuleEndpoint, "a Docker API call that installing, upgrading and running an app does not need (swarm, plugins, builds, commits, system prune, …)"},
	{RuleForeign, "a container, network or volume that is not this installation's (label " + naming.LabelApp + ")"},
	{RuleObjectName, "a container, network or volume name outside " + naming.Prefix + "<installation>"},
	{RulePrivileged, "a privileged container or exec"},
	{RuleHostNamespace, "the host's network, pid, ipc, uts, user or cgroup namespace, or another container's"},
	{RuleCapAdd, "a capability outside Docker's default set"},
	{RuleDevices, "a host device, a device request (GPU) or a device cgroup rule"},
	{RuleSecurityOpt, "a security option that unconfines (apparmor, seccomp, SELinux labels, system paths)"},
	{RuleSysctls, "a sysctl that is not namespaced to the container"},
	{RuleBindMount, "a bind mount of a host path"},
	{RuleDockerSocket, "the Docker socket itself, by mount or use_api_socket"},
	{RuleVolumeDriver, "a volume driver other than local, or driver options that mount a host path or a network share"},
	{RuleVolumesFrom, "volumes_from, links or a namespace of another installation's container"},
	{RulePorts, "a published port StackHub did not reserve for the installation, or on an address other than all or loopback"},
	{RuleNetworkDriver, "a network driver other than bridge (host, macvlan, ipvlan, overlay reach outside the app), but the app's own overlay network on a Swarm"},
	{RuleImagePull, "pulling an image the bundle does not list in images"},
	{RuleRuntime, "another container runtime or cgroup parent"},
	{RulePlacement, "a Swarm service placed anywhere but on the installation's node, or with more than one task (global services, jobs, replicas)"},
}

// Refusal is one broken rule: which, by which call, and why.
type Refusal struct {
	Rule string `json:"rule"`
	// Call is the Docker API call, e.g. "POST /containers/create".
	Call string `json:"call"`
	// Detail says what in the call broke the rule.
	Detail string `json:"detail"`
}

func (r Refusal) Error() string {
	return fmt.Sprintf("refused by StackHub's bundle policy, rule %s: %s", r.Rule, r.Detail)
}

// Policy is what one run of one installation may do.
type Policy struct {
	// Installation owns everything the run creates or touches.
	Installation string
	// Images are the references the run may pull: the bundle's images
	// after relocation. Images already on the host may be run.
	Images []string
	// HostPorts are the host ports StackHub reserved for the installation.
	HostPorts []int
	// Granted are the permissions the operator granted this bundle, as
	// "<rule>" or "<rule>:<value>" (e.g. "cap-add:NET_ADMIN"): the
	// canonical form of orchestrator.ParsePermission, whose kinds are the
	// rules a grant lifts (privileged, host-namespace, cap-add, devices,
	// security-opt, sysctls, bind-mount, docker-socket, volume-driver,
	// network-driver, runtime). A rule without a value grants all of it.
	Granted []string
	// Node is the Swarm node ID the installation is placed on ("" for the
	// single host): its run may then create Swarm services placed there,
	// and its overlay network (services.go).
	Node string
}

func (p Policy) granted(rule, value string) bool {
	return slices.Contains(p.Granted, rule) || value != "" && slices.Contains(p.Granted, rule+":"+value)
}

// OwnName reports whether name is one the installation may give a
// container, network or volume: websoft9-<installation>, or that followed
// by '-' or '_' (compose's <project>_<network> and <project>_<volume>).
func (p Policy) OwnName(name string) bool {
	name = strings.TrimPrefix(name, "/")
	base := naming.Project(p.Installation)
	return name == base || strings.HasPrefix(name, base+"-") || strings.HasPrefix(name, base+"_")
}

// Owners answers who owns existing objects (the value of their
// naming.LabelApp label); exists is false when there is no such object.
type Owners interface {
	ContainerOwner(ctx context.Context, idOrName string) (owner string, exists bool, err error)
	VolumeOwner(ctx context.Context, name string) (owner string, exists bool, err error)
	NetworkOwner(ctx context.Context, idOrName string) (owner string, exists bool, err error)
}

// checker collects the refusals of one call.
type checker struct {
	ctx    context.Context
	p      Policy
	owners Owners
	call   string
	out    []Refusal
	err    error
}

func (c *checker) refuse(rule, format string, args ...any) {
	c.out = append(c.out, Refusal{Rule: rule, Call: c.call, Detail: fmt.Sprintf(format, args...)})
}

// refuseUnless refuses unless the operator granted rule (or rule:value).
func (c *checker) refuseUnless(rule, value, format string, args ...any) {
	if !c.p.granted(rule, value) {
		c.refuse(rule, format, args...)
	}
}

// ownContainer refuses, under rule, a reference to a container that is
// not the installation's.
func (c *checker) ownContainer(rule, ref, what string) {
	owner, exists, err := c.owners.ContainerOwner(c.ctx, ref)
	switch {
	case err != nil:
		c.err = err
	case !exists:
		c.refuse(rule, "%s: no container %q", what, ref)
	case owner != c.p.Installation:
		c.refuse(rule, "%s: container %q is not this installation's", what, ref)
	}
}

// defaultCaps is Docker's default capability set (moby
// oci/caps/defaults.go): adding one of these changes nothing.
var defaultCaps = []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}

// namespacedSysctls are the sysctl prefixes Linux scopes to a container's
// own namespaces (Docker's own list); with the host network refused,
// net.* stays inside the container.
var namespacedSysctls = []string{"kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.", "net."}

// recreateName is the temporary name compose gives a container that
// replaces another: the old one's short id, '_', the name.
var recreateName = regexp.MustCompile(`^/?([0-9a-f]{12})_(.+)$`)

// CheckContainer returns every rule a container create request breaks.
// name is the requested container name ("" for Docker's choice).
func CheckContainer(ctx context.Context, p Policy, owners Owners, name string, req *container.CreateRequest) ([]Refusal, error) {
	c := &checker{ctx: ctx, p: p, owners: owners, call: "POST /containers/create"}
	if m := recreateName.FindStringSubmatch(name); m != nil && p.OwnName(m[2]) {
		// compose recreates a container under <old id[:12]>_<name>, then
		// renames it: the old container must be the installation's.
		c.ownContainer(RuleObjectName, m[1], "recreate "+m[2])
	} else if name == "" || !p.OwnName(name) {
		c.refuse(RuleObjectName, "container name %q: a container of this installation is named %s or starts with %s-", name,
			naming.Project(p.Installation), naming.Project(p.Installation))
	}
	if req.Config == nil {
		req.Config = &container.Config{}
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
		req.HostConfig = hc
	}
	c.hostConfig(hc)
	c.networking(hc, req.NetworkingConfig)
	return c.out, c.err
}

func (c *checker) hostConfig(hc *container.HostConfig) {
	c.settings(hc)
	for _, b := range hc.Binds {
		c.bind(b)
	}
	for _, m := range hc.Mounts {
		c.mount(m)
	}
	if hc.VolumeDriver != "" && hc.VolumeDriver != "local" {
		c.refuseUnless(RuleVolumeDriver, hc.VolumeDriver, "volume driver %q", hc.VolumeDriver)
	}
	for _, from := range hc.VolumesFrom {
		ref, _, _ := strings.Cut(from, ":")
		c.ownContainer(RuleVolumesFrom, ref, "volumes_from")
	}
	for _, l := range hc.Links {
		ref, _, _ := strings.Cut(l, ":")
		c.ownContainer(RuleVolumesFrom, strings.TrimPrefix(ref, "/"), "links")
	}
	c.ports(hc)
}

// settings checks what a container is run with, apart from its mounts,
// links and ports: privilege, namespaces, capabilities, devices, security
// options, sysctls and runtime.
func (c *checker) settings(hc *container.HostConfig) {
	if hc.Privileged {
		c.refuseUnless(RulePrivileged, "", "privileged: true gives the container every device and capability of the host")
	}
	c.namespaces(hc)
	for _, capName := range hc.CapAdd {
		norm := strings.TrimPrefix(strings.ToUpper(capName), "CAP_")
		if !slices.Contains(defaultCaps, norm) {
			c.refuseUnless(RuleCapAdd, norm, "cap_add %s is outside Docker's default set", capName)
		}
	}
	for _, d := range hc.Devices {
		c.refuseUnless(RuleDevices, d.PathOnHost, "device %s", d.PathOnHost)
	}
	for _, d := range hc.DeviceRequests {
		c.refuseUnless(RuleDevices, d.Driver, "device request (driver %q, capabilities %v)", d.Driver, d.Capabilities)
	}
	for _, r := range hc.DeviceCgroupRules {
		c.refuseUnless(RuleDevices, "", "device cgroup rule %q", r)
	}
	for _, o := range hc.SecurityOpt {
		if unconfines(o) {
			c.refuseUnless(RuleSecurityOpt, o, "security_opt %q unconfines the container", o)
		}
	}
	if hc.MaskedPaths != nil || hc.ReadonlyPaths != nil {
		c.refuseUnless(RuleSecurityOpt, "systempaths=unconfined", "masked or read-only paths set by hand unmask the host's /proc and /sys")
	}
	for k := range hc.Sysctls {
		if !slices.ContainsFunc(namespacedSysctls, func(p string) bool { return strings.HasPrefix(k, p) }) {
			c.refuseUnless(RuleSysctls, k, "sysctl %s is not namespaced: it would change the host", k)
		}
	}
	if hc.Runtime != "" && hc.Runtime != "runc" {
		c.refuseUnless(RuleRuntime, hc.Runtime, "runtime %q", hc.Runtime)
	}
	if hc.CgroupParent != "" {
		c.refuseUnless(RuleRuntime, "", "cgroup_parent %q places the container outside Docker's cgroups", hc.CgroupParent)
	}
}

func (c *checker) namespaces(hc *container.HostConfig) {
	type ns struct {
		what, mode string
	}
	for _, n := range []ns{
		{"network_mode", string(hc.NetworkMode)}, {"pid", string(hc.PidMode)}, {"ipc", string(hc.IpcMode)},
		{"uts", string(hc.UTSMode)}, {"userns_mode", string(hc.UsernsMode)}, {"cgroup", string(hc.CgroupnsMode)},
		{"cgroup", string(hc.Cgroup)},
	} {
		switch {
		case n.mode == "host":
			c.refuseUnless(RuleHostNamespace, n.what+"=host", "%s: host shares the host's namespace", n.what)
		case strings.HasPrefix(n.mode, "container:"):
			c.ownContainer(RuleVolumesFrom, strings.TrimPrefix(n.mode, "container:"), n.what)
		}
	}
}

// unconfines reports whether a security option turns a confinement off.
func unconfines(o string) bool {
	o = strings.ToLower(strings.ReplaceAll(o, " ", ""))
	k, v, ok := strings.Cut(o, "=")
	if !ok {
		k, v, _ = strings.Cut(o, ":")
	}
	switch k {
	case "apparmor", "seccomp", "systempaths":
		return v == "unconfined"
	case "label":
		return v == "disable" || strings.HasPrefix(v, "type:") || strings.HasPrefix(v, "user:") || strings.HasPrefix(v, "role:")
	case "no-new-privileges":
		return false
	}
	return true // an option we do not know is no option we allow
}

// bind checks a Binds entry: SOURCE:TARGET[:OPTIONS]. A source starting
// with / is a host path; otherwise it names a volume.
func (c *checker) bind(b string) {
	src, _, _ := strings.Cut(b, ":")
	if strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~") {
		c.hostPath(src)
		return
	}
	c.volume(src)
}

func (c *checker) hostPath(src string) {
	if strings.Contains(src, "docker.sock") || strings.HasSuffix(strings.TrimRight(src, "/"), "/run/docker") {
		c.refuseUnless(RuleDockerSocket, "", "%s is the Docker socket: whoever holds it is root on the host", src)
		return
	}
	c.refuseUnless(RuleBindMount, src, "bind mount of the host path %s", src)
}

func (c *checker) mount(m mount.Mount) {
	switch m.Type {
	case mount.TypeBind:
		c.hostPath(m.Source)
	case mount.TypeVolume, "":
		if m.Source != "" {
			c.volume(m.Source)
		}
		if m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil {
			c.driver(m.VolumeOptions.DriverConfig.Name, m.VolumeOptions.DriverConfig.Options)
		}
	case mount.TypeTmpfs:
	default:
		c.refuseUnless(RuleBindMount, string(m.Type), "mount of type %s", m.Type)
	}
}

// volume checks a named volume a container mounts: it must be the
// installation's, or not exist yet under one of its names (Docker then
// creates it, and the policy labels it).
func (c *checker) volume(name string) {
	owner, exists, err := c.owners.VolumeOwner(c.ctx, name)
	switch {
	case err != nil:
		c.err = err
	case exists && owner != c.p.Installation:
		c.refuse(RuleForeign, "volume %q is not this installation's", name)
	case !exists && !c.p.OwnName(name):
		c.refuse(RuleObjectName, "volume %q: a volume of this installation is named %s_<name>", name, naming.Project(c.p.Installation))
	}
}

// driver checks a volume driver and its options: local, and options
// only of a tmpfs (which mounts nothing of the host).
func (c *checker) driver(name string, opts map[string]string) {
	if name != "" && name != "local" {
		c.refuseUnless(RuleVolumeDriver, name, "volume driver %q", name)
		return
	}
	if len(opts) == 0 {
		return
	}
	tmpfs := opts["type"] == "tmpfs" && (opts["device"] == "" || opts["device"] == "tmpfs") && !strings.Contains(opts["o"], "bind")
	if !tmpfs {
		c.refuseUnless(RuleVolumeDriver, "", "driver options %v mount a host path or a network share (only a tmpfs is allowed)", opts)
	}
}

func (c *checker) ports(hc *container.HostConfig) {
	if hc.PublishAllPorts {
		c.refuse(RulePorts, "publish all ports: Docker would choose host ports StackHub did not reserve")
	}
	for port, bindings := range hc.PortBindings {
		for _, b := range bindings {
			n, err := strconv.Atoi(b.HostPort)
			if err != nil || !slices.Contains(c.p.HostPorts, n) {
				c.refuse(RulePorts, "%s published on host port %q, which StackHub did not reserve for this installation (reserved: %v)", port, b.HostPort, c.p.HostPorts)
				continue
			}
			if ip := b.HostIP; ip.IsValid() && !ip.IsUnspecified() && !ip.IsLoopback() {
				c.refuse(RulePorts, "%s published on %s: only all addresses or loopback", port, ip)
			}
		}
	}
}

func (c *checker) networking(hc *container.HostConfig, nc *network.NetworkingConfig) {
	mode := string(hc.NetworkMode)
	if mode != "" && mode != "default" && mode != "bridge" && mode != "none" && mode != "host" && !strings.HasPrefix(mode, "container:") {
		c.network(mode)
	}
	if nc == nil {
		return
	}
	for name := range nc.EndpointsConfig {
		if name != "bridge" && name != "none" && name != "host" {
			c.network(name)
		}
	}
}

func (c *checker) network(ref string) {
	owner, exists, err := c.owners.NetworkOwner(c.ctx, ref)
	switch {
	case err != nil:
		c.err = err
	case !exists:
		c.refuse(RuleForeign, "network %q does not exist", ref)
	case owner != c.p.Installation:
		c.refuse(RuleForeign, "network %q is not this installation's", ref)
	}
}

// CheckNetwork returns every rule a network create request breaks.
func CheckNetwork(p Policy, req *network.CreateRequest) []Refusal {
	c := &checker{p: p, call: "POST /networks/create"}
	if !p.OwnName(req.Name) {
		c.refuse(RuleObjectName, "network name %q: a network of this installation is named %s_<name>", req.Name, naming.Project(p.Installation))
	}
	switch {
	case swarmNetwork(p, req):
		// The app's own overlay network on a Swarm: its services' tasks
		// on its node reach each other over it.
	case req.Driver != "" && req.Driver != "bridge":
		c.refuseUnless(RuleNetworkDriver, req.Driver, "network driver %q", req.Driver)
	}
	if req.ConfigFrom != nil || req.ConfigOnly || req.Ingress || req.Scope == "swarm" && !swarmNetwork(p, req) {
		c.refuse(RuleNetworkDriver, "config-only, config-from, ingress and swarm networks (a swarm network only for an installation placed on a Swarm node)")
	}
	if v := req.Options["com.docker.network.bridge.name"]; v != "" {
		c.refuse(RuleNetworkDriver, "a bridge named %q by hand may be one of the host's", v)
	}
	return c.out
}

// CheckVolume returns every rule a volume create request breaks.
func CheckVolume(p Policy, req *volume.CreateRequest) []Refusal {
	c := &checker{p: p, call: "POST /volumes/create"}
	if !p.OwnName(req.Name) {
		c.refuse(RuleObjectName, "volume name %q: a volume of this installation is named %s_<name>", req.Name, naming.Project(p.Installation))
	}
	if req.ClusterVolumeSpec != nil {
		c.refuse(RuleVolumeDriver, "cluster volumes")
	}
	c.driver(req.Driver, req.DriverOpts)
	return c.out
}

// CheckExec returns every rule an exec create request breaks (the
// container's ownership is checked apart).
func CheckExec(p Policy, req *container.ExecCreateRequest) []Refusal {
	c := &checker{p: p, call: "POST /containers/{id}/exec"}
	if req.Privileged {
		c.refuseUnless(RulePrivileged, "", "a privileged exec")
	}
	return c.out
}

// CheckPull returns the refusal of pulling ref, if it is not among the
// policy's images.
func CheckPull(p Policy, ref string) []Refusal {
	if slices.ContainsFunc(p.Images, func(img string) bool { return sameImage(img, ref) }) {
		return nil
	}
	return []Refusal{{Rule: RuleImagePull, Call: "POST /images/create",
		Detail: fmt.Sprintf("image %s is not among the bundle's images %v", ref, p.Images)}}
}

// sameImage compares two references as Docker reads them: docker.io and
// library/ are implied, and a missing tag is latest.
func sameImage(a, b string) bool { return normalizeImage(a) == normalizeImage(b) }

func normalizeImage(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash || !strings.ContainsAny(first, ".:") && first != "localhost" {
		if !hasSlash {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	if hasDigest {
		return name + "@" + digest
	}
	if tag == "" {
		tag = "latest"
	}
	return name + ":" + tag
}
