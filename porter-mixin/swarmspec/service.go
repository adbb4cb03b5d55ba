package swarmspec

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// check collects the problems of one service.
type check struct {
	service string
	list    []Unsupported
}

func (k *check) add(key, reason string) {
	k.list = append(k.list, Unsupported{Service: k.service, Key: key, Reason: reason})
}

func (k *check) refuse(v any, prefix string, rules map[string]string) {
	k.list = append(k.list, refusals(v, k.service, prefix, rules)...)
}

// service converts one compose service. It returns the spec even with
// problems; Convert discards it then.
func (c *converter) service(s types.ServiceConfig) (swarm.ServiceSpec, []UnpublishedPort, []Unsupported) {
	k := &check{service: s.Name}
	k.refuse(s, "", serviceRules)
	name := c.swarmName(s.Name)
	if why := checkSwarmName(name); why != "" {
		k.add("name", why)
	}
	if s.Image == "" {
		k.add("image", "a Swarm service runs an image: name one")
	}
	switch s.PullPolicy {
	case "", types.PullPolicyMissing:
	default:
		k.add("pull_policy", fmt.Sprintf("a Swarm node pulls an image when it lacks it, and only then; %q has no equivalent", s.PullPolicy))
	}
	if s.ContainerName != "" && s.ContainerName != name {
		k.add("container_name", fmt.Sprintf("StackHub names containers itself; on a Swarm a task's container is %s.<slot>.<task id>", name))
	}
	if n := s.GetScale(); n != 1 {
		key := "scale"
		if s.Scale == nil {
			key = "deploy.replicas"
		}
		k.add(key, fmt.Sprintf("StackHub runs one task per service (its volumes are on one node), not %d", n))
	}

	command, args := commandLine(k, s)
	hostname := s.Hostname
	if hostname == "" {
		hostname = name // stable across tasks, where a container ID is not
	}
	cs := &swarm.ContainerSpec{
		Image:           s.Image,
		Labels:          c.containerLabels(s),
		Command:         command,
		Args:            args,
		Hostname:        hostname,
		Env:             environment(s.Environment),
		Dir:             s.WorkingDir,
		User:            s.User,
		Groups:          slices.Clone(s.GroupAdd),
		Init:            clonePtr(s.Init),
		StopSignal:      s.StopSignal,
		TTY:             s.Tty,
		OpenStdin:       s.StdinOpen,
		ReadOnly:        s.ReadOnly,
		Mounts:          c.mounts(k, s),
		StopGracePeriod: duration(s.StopGracePeriod),
		Healthcheck:     healthcheck(k, s.HealthCheck),
		Hosts:           extraHosts(s.ExtraHosts),
		DNSConfig:       dnsConfig(k, s),
		Sysctls:         maps.Clone(map[string]string(s.Sysctls)),
		CapabilityAdd:   slices.Clone(s.CapAdd),
		CapabilityDrop:  slices.Clone(s.CapDrop),
		Ulimits:         ulimits(s.Ulimits),
		Configs:         c.configRefs(k, s),
	}
	ports, unpublished := c.ports(k, s)
	serviceLabels, endpointMode := c.deploy(k, s)
	one := uint64(1)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: serviceLabels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Resources:     resources(k, s),
			RestartPolicy: restartPolicy(k, s),
			Placement:     &swarm.Placement{Constraints: []string{c.opts.Node.Constraint()}},
			Networks:      c.attachments(k, s),
			LogDriver:     logDriver(k, s.Logging),
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		// One task, its volumes and host ports on one node: the old task
		// must stop before the new one starts (stop-first), or both would
		// open the same data and bind the same ports.
		UpdateConfig:   &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst},
		EndpointSpec:   &swarm.EndpointSpec{Mode: endpointMode, Ports: ports},
	}
	return spec, unpublished, k.list
}

// containerLabels are the compose file's labels, then StackHub's (app,
// stack, service), which win. No run id: it would change the task spec,
// and so restart the task, on every upgrade.
func (c *converter) containerLabels(s types.ServiceConfig) map[string]string {
	labels := maps.Clone(map[string]string(s.Labels))
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, c.appLabels())
	labels[naming.LabelService] = s.Name
	return labels
}

// deploy checks the deploy section and returns the service's labels
// (deploy.labels, then StackHub's with the run id) and endpoint mode.
// Resources and restart_policy are read by resources and restartPolicy.
func (c *converter) deploy(k *check, s types.ServiceConfig) (map[string]string, swarm.ResolutionMode) {
	labels := map[string]string{}
	// DNS round robin unless the bundle asks for a virtual IP: with one
	// task, a VIP adds nothing, and it needs IPVS in the node's kernel,
	// which some lack (the VIP then resolves and nothing answers on it);
	// host-mode published ports work with either.
	mode := swarm.ResolutionModeDNSRR
	if d := s.Deploy; d != nil {
		k.refuse(d, "deploy.", deployRules)
		maps.Copy(labels, d.Labels)
		switch d.Mode {
		case "", "replicated":
		default:
			k.add("deploy.mode", fmt.Sprintf("StackHub runs replicated services with one task, not %s", d.Mode))
		}
		switch d.EndpointMode {
		case "", "dnsrr":
		case "vip":
			mode = swarm.ResolutionModeVIP
		default:
			k.add("deploy.endpoint_mode", fmt.Sprintf("unknown endpoint mode %q", d.EndpointMode))
		}
	}
	maps.Copy(labels, c.appLabels())
	labels[naming.LabelService] = s.Name
	if c.opts.RunID != "" {
		labels[naming.LabelRun] = c.opts.RunID
	}
	return labels, mode
}

// commandLine returns the Swarm Command (compose's entrypoint) and Args
// (compose's command).
func commandLine(k *check, s types.ServiceConfig) (command, args []string) {
	const why = "an empty %s clears the image's on a single host; a Swarm spec cannot say so (an empty one keeps the image's)"
	if s.Entrypoint != nil && len(s.Entrypoint) == 0 {
		k.add("entrypoint", fmt.Sprintf(why, "entrypoint"))
	}
	if s.Command != nil && len(s.Command) == 0 {
		k.add("command", fmt.Sprintf(why, "command"))
	}
	return slices.Clone([]string(s.Entrypoint)), slices.Clone([]string(s.Command))
}

// environment returns KEY=value entries sorted by key; a variable without
// a value (environment: [NAME] with NAME unset where compose ran) is NAME
// alone, which unsets it in the container, as compose passes it.
func environment(env types.MappingWithEquals) []string {
	var out []string
	for _, key := range slices.Sorted(maps.Keys(env)) {
		if v := env[key]; v != nil {
			out = append(out, key+"="+*v)
		} else {
			out = append(out, key)
		}
	}
	return out
}

// clonePtr returns a pointer to a copy of *p, so that a spec shares no
// memory with the project.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func duration(d *types.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := time.Duration(*d)
	return &v
}

// healthcheck converts a health check; disable is the test NONE.
func healthcheck(k *check, h *types.HealthCheckConfig) *container.HealthConfig {
	if h == nil {
		return nil
	}
	k.refuse(h, "healthcheck.", healthRules)
	if h.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	out := &container.HealthConfig{Test: slices.Clone([]string(h.Test))}
	if d := duration(h.Interval); d != nil {
		out.Interval = *d
	}
	if d := duration(h.Timeout); d != nil {
		out.Timeout = *d
	}
	if d := duration(h.StartPeriod); d != nil {
		out.StartPeriod = *d
	}
	if h.Retries != nil {
		if *h.Retries > math.MaxInt32 {
			k.add("healthcheck.retries", fmt.Sprintf("%d retries is out of range", *h.Retries))
		} else {
			out.Retries = int(*h.Retries)
		}
	}
	return out
}

// extraHosts returns hosts(5) lines, "IP name", the format of a Swarm
// container spec (compose writes name:IP or name=IP). host-gateway is
// passed as written: the node's engine resolves it.
func extraHosts(hosts types.HostsList) []string {
	var out []string
	for name, ips := range hosts {
		for _, ip := range ips {
			out = append(out, ip+" "+name)
		}
	}
	slices.Sort(out)
	return out
}

// dnsConfig returns dns, dns_search and dns_opt, or nil when none is set.
func dnsConfig(k *check, s types.ServiceConfig) *swarm.DNSConfig {
	if len(s.DNS) == 0 && len(s.DNSSearch) == 0 && len(s.DNSOpts) == 0 {
		return nil
	}
	out := &swarm.DNSConfig{Search: slices.Clone([]string(s.DNSSearch)), Options: slices.Clone(s.DNSOpts)}
	for i, d := range s.DNS {
		addr, err := netip.ParseAddr(d)
		if err != nil {
			k.add(fmt.Sprintf("dns[%d]", i), fmt.Sprintf("%q is not an IP address", d))
			continue
		}
		out.Nameservers = append(out.Nameservers, addr)
	}
	return out
}

// ulimits returns the ulimits by name; a single value is both limits.
func ulimits(in map[string]*types.UlimitsConfig) []*container.Ulimit {
	var out []*container.Ulimit
	for _, name := range slices.Sorted(maps.Keys(in)) {
		u := in[name]
		if u == nil {
			continue
		}
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		out = append(out, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	return out
}

// resources returns the limits and reservations, nil when none is set.
// deploy.resources wins over cpus, mem_limit, mem_reservation and
// pids_limit, as compose reads them on a single host (compose-go refuses
// distinct values of cpus and mem_limit there already).
func resources(k *check, s types.ServiceConfig) *swarm.ResourceRequirements {
	lim := swarm.Limit{NanoCPUs: nanoCPUs(s.CPUS), MemoryBytes: int64(s.MemLimit), Pids: max(s.PidsLimit, 0)}
	res := swarm.Resources{MemoryBytes: int64(s.MemReservation)}
	if d := s.Deploy; d != nil {
		k.refuse(d.Resources, "deploy.resources.", resourcesRules)
		if l := d.Resources.Limits; l != nil {
			k.refuse(l, "deploy.resources.limits.", limitRules)
			lim.NanoCPUs = cmpOr(nanoCPUs(float32(l.NanoCPUs)), lim.NanoCPUs)
			lim.MemoryBytes = cmpOr(int64(l.MemoryBytes), lim.MemoryBytes)
			lim.Pids = cmpOr(max(l.Pids, 0), lim.Pids)
		}
		if r := d.Resources.Reservations; r != nil {
			k.refuse(r, "deploy.resources.reservations.", reservationRules)
			res.NanoCPUs = nanoCPUs(float32(r.NanoCPUs))
			res.MemoryBytes = cmpOr(int64(r.MemoryBytes), res.MemoryBytes)
		}
	}
	out := &swarm.ResourceRequirements{}
	if lim != (swarm.Limit{}) {
		out.Limits = &lim
	}
	if res.NanoCPUs != 0 || res.MemoryBytes != 0 {
		out.Reservations = &res
	}
	if out.Limits == nil && out.Reservations == nil {
		return nil
	}
	return out
}

// cmpOr returns a when it is not zero, else b.
func cmpOr(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

// nanoCPUs converts compose's CPUs (a float32, 0.5) to billionths of a
// CPU, through the decimal the file wrote, so 1.1 is 1100000000 and not
// float32's 1100000023.
func nanoCPUs(cpus float32) int64 {
	if cpus <= 0 {
		return 0
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(cpus), 'f', -1, 32), 64)
	return int64(math.Round(f * 1e9))
}

// restartPolicy maps compose's restart (or deploy.restart_policy, which
// wins as it does for compose on a single host) to Swarm's:
// no (compose's default) is none, always and unless-stopped are any,
// on-failure[:N] is on-failure with at most N attempts.
//
// Swarm has no "unless stopped": stopping an app on a Swarm scales its
// services to 0 replicas, which restart conditions do not undo.
func restartPolicy(k *check, s types.ServiceConfig) *swarm.RestartPolicy {
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		rp := s.Deploy.RestartPolicy
		k.refuse(rp, "deploy.restart_policy.", restartPolicyRules)
		out := &swarm.RestartPolicy{Delay: duration(rp.Delay), Window: duration(rp.Window), MaxAttempts: clonePtr(rp.MaxAttempts)}
		switch rp.Condition {
		case "", "any":
			out.Condition = swarm.RestartPolicyConditionAny
		case "on-failure":
			out.Condition = swarm.RestartPolicyConditionOnFailure
		case "none":
			out.Condition = swarm.RestartPolicyConditionNone
		default:
			k.add("deploy.restart_policy.condition", fmt.Sprintf("unknown condition %q (none, on-failure or any)", rp.Condition))
		}
		return out
	}
	policy, arg, hasArg := strings.Cut(s.Restart, ":")
	out := &swarm.RestartPolicy{}
	switch policy {
	case "", types.RestartPolicyNo:
		out.Condition = swarm.RestartPolicyConditionNone
	case types.RestartPolicyAlways, types.RestartPolicyUnlessStopped:
		out.Condition = swarm.RestartPolicyConditionAny
	case types.RestartPolicyOnFailure:
		out.Condition = swarm.RestartPolicyConditionOnFailure
		if !hasArg {
			return out
		}
		n, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			k.add("restart", fmt.Sprintf("%q: the attempts of on-failure are a number", s.Restart))
			return out
		}
		out.MaxAttempts = &n
		return out
	default:
		k.add("restart", fmt.Sprintf("unknown restart policy %q (no, always, unless-stopped or on-failure[:N])", s.Restart))
		return out
	}
	if hasArg {
		k.add("restart", fmt.Sprintf("%q: only on-failure takes a number of attempts", s.Restart))
	}
	return out
}

// logDriver returns the logging driver and its options; options without
// a driver are refused, as Swarm applies options only with their driver.
func logDriver(k *check, l *types.LoggingConfig) *swarm.Driver {
	if l == nil {
		return nil
	}
	k.refuse(l, "logging.", loggingRules)
	if l.Driver == "" {
		if len(l.Options) > 0 {
			k.add("logging.options", "Swarm takes log options only with the driver they are for: name logging.driver")
		}
		return nil
	}
	return &swarm.Driver{Name: l.Driver, Options: maps.Clone(map[string]string(l.Options))}
}

// attachments returns the service's networks, by name, each with the
// compose service name as an alias (services find each other by it, as
// on a single host) and compose's aliases.
func (c *converter) attachments(k *check, s types.ServiceConfig) []swarm.NetworkAttachmentConfig {
	var out []swarm.NetworkAttachmentConfig
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		prefix := "networks." + key
		if _, ok := c.project.Networks[key]; !ok {
			k.add(prefix, fmt.Sprintf("network %s is not declared under networks", key))
			continue
		}
		aliases := []string{s.Name}
		if cfg := s.Networks[key]; cfg != nil {
			k.refuse(cfg, prefix+".", attachmentRules)
			for _, a := range cfg.Aliases {
				if !slices.Contains(aliases, a) {
					aliases = append(aliases, a)
				}
			}
		}
		out = append(out, swarm.NetworkAttachmentConfig{Target: c.objectName(key), Aliases: aliases})
	}
	return out
}
