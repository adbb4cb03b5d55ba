package dockerpolicy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Swarm services. A run of an installation StackHub placed on a Swarm
// node (Policy.Node) may create, update and remove its own services
// through the manager, and a service spec is held to the rules of a
// container: no privilege or host-reaching settings, the installation's
// own names and labels, its own overlay network, the host ports reserved
// for it (on its node), images the bundle lists or the manager's engine
// already has; and one more, placement: a service runs one task, on the
// installation's node and nowhere else. Runs of an installation that is
// not placed may not touch services at all. Its services may read, as
// files, Swarm configs of its own (CheckConfig), never secrets.

// Images tells whether the engine the run talks to has an image, for the
// images a service may run beyond the bundle's own.
type Images interface {
	ImagePresent(ctx context.Context, ref string) (bool, error)
}

// ConfigOwners answers who owns an existing Swarm config (the value of its
// naming.LabelApp label); exists is false when there is no such config.
type ConfigOwners interface {
	ConfigOwner(ctx context.Context, idOrName string) (owner string, exists bool, err error)
}

// CheckConfig returns every rule a Swarm config create request breaks: a
// run of an installation placed on a node may create configs named and
// labelled as its own (the files its services read, which the websoft9
// mixin makes from the compose configs), plain, not templates (a template
// is filled in on the node with the values of the task, its node and its
// secrets).
func CheckConfig(p Policy, spec *swarm.ConfigSpec) []Refusal {
	c := &checker{p: p, call: "POST /configs/create"}
	if p.Node == "" {
		c.refuse(RuleEndpoint, "this installation is not placed on a Swarm node: it has no Swarm configs")
		return c.out
	}
	if !p.OwnName(spec.Name) {
		c.refuse(RuleObjectName, "config name %q: a config of this installation is named %s_<name>", spec.Name, naming.Project(p.Installation))
	}
	c.ownLabels("config", spec.Labels)
	if spec.Templating != nil {
		c.refuse(RuleEndpoint, "a templated config is filled in on the node with the values of the task, its node and its secrets: give the content itself")
	}
	return c.out
}

// CheckService returns every rule a service create or update request
// breaks; call names it ("POST /services/create"). A spec that does not
// name the installation in its labels gets it from the socket (as a
// container's does); one that names another installation is refused.
func CheckService(ctx context.Context, p Policy, owners Owners, configs ConfigOwners, images Images, call string, spec *swarm.ServiceSpec) ([]Refusal, error) {
	c := &checker{ctx: ctx, p: p, owners: owners, call: call}
	if p.Node == "" {
		c.refuse(RuleEndpoint, "this installation is not placed on a Swarm node: it runs containers, not services")
		return c.out, nil
	}
	if !p.OwnName(spec.Name) {
		c.refuse(RuleObjectName, "service name %q: a service of this installation is named %s or starts with %s-", spec.Name,
			naming.Project(p.Installation), naming.Project(p.Installation))
	}
	c.ownLabels("service", spec.Labels)
	c.serviceMode(spec.Mode)
	tt := spec.TaskTemplate
	c.placement(tt.Placement)
	switch {
	case tt.Runtime != "" && tt.Runtime != swarm.RuntimeContainer, tt.PluginSpec != nil, tt.NetworkAttachmentSpec != nil:
		c.refuse(RuleRuntime, "task runtime %q: a service of an app runs a container", tt.Runtime)
	case tt.ContainerSpec == nil:
		c.refuse(RuleEndpoint, "the service has no container spec")
	default:
		if err := c.containerSpec(images, tt.ContainerSpec); err != nil {
			return nil, err
		}
		if err := c.configRefs(configs, tt.ContainerSpec.Configs); err != nil {
			return nil, err
		}
	}
	if r := tt.Resources; r != nil && r.Reservations != nil && len(r.Reservations.GenericResources) > 0 {
		c.refuseUnless(RuleDevices, "", "generic resources (GPUs and other devices of the node)")
	}
	for _, n := range tt.Networks {
		c.network(n.Target) // the installation's own, as for a container
	}
	if e := spec.EndpointSpec; e != nil {
		for _, port := range e.Ports {
			c.swarmPort(port)
		}
	}
	return c.out, c.err
}

// ownLabels refuses labels that name another installation.
func (c *checker) ownLabels(what string, labels map[string]string) {
	if app, ok := labels[naming.LabelApp]; ok && app != c.p.Installation {
		c.refuse(RuleForeign, "%s label %s=%s names another installation", what, naming.LabelApp, app)
	}
}

func (c *checker) serviceMode(m swarm.ServiceMode) {
	switch {
	case m.Global != nil, m.GlobalJob != nil, m.ReplicatedJob != nil:
		c.refuse(RulePlacement, "only replicated services with one task: a global service or a job runs on other nodes or more than once")
	case m.Replicated != nil && m.Replicated.Replicas != nil && *m.Replicated.Replicas > 1:
		c.refuse(RulePlacement, "%d replicas: an app's service runs one task (0 while it is stopped)", *m.Replicated.Replicas)
	}
}

// placement requires exactly the constraint node.id==<the node>.
func (c *checker) placement(pl *swarm.Placement) {
	want := "node.id==" + c.p.Node
	if pl == nil || len(pl.Constraints) == 0 {
		c.refuse(RulePlacement, "no placement constraint: the service must run on the installation's node (%s)", want)
		return
	}
	for _, con := range pl.Constraints {
		if strings.ReplaceAll(con, " ", "") != want {
			c.refuse(RulePlacement, "constraint %q: the service must run on the installation's node (%s) only", con, want)
		}
	}
	if len(pl.Preferences) > 0 {
		c.refuse(RulePlacement, "placement preferences spread tasks over nodes")
	}
}

// containerSpec applies the container rules to a task's container.
func (c *checker) containerSpec(images Images, cs *swarm.ContainerSpec) error {
	c.ownLabels("container", cs.Labels)
	if err := c.serviceImage(images, cs.Image); err != nil {
		return err
	}
	if pr := cs.Privileges; pr != nil {
		if pr.CredentialSpec != nil {
			c.refuseUnless(RuleSecurityOpt, "", "a credential spec")
		}
		if s := pr.SELinuxContext; s != nil && (s.Disable || s.Type != "" || s.User != "" || s.Role != "") {
			c.refuseUnless(RuleSecurityOpt, "", "SELinux options unconfine the container")
		}
		if s := pr.Seccomp; s != nil && s.Mode == swarm.SeccompModeUnconfined {
			c.refuseUnless(RuleSecurityOpt, "seccomp=unconfined", "seccomp unconfined")
		}
		if a := pr.AppArmor; a != nil && a.Mode == swarm.AppArmorModeDisabled {
			c.refuseUnless(RuleSecurityOpt, "apparmor=unconfined", "AppArmor disabled")
		}
	}
	for _, capName := range cs.CapabilityAdd {
		norm := strings.TrimPrefix(strings.ToUpper(capName), "CAP_")
		if !slices.Contains(defaultCaps, norm) {
			c.refuseUnless(RuleCapAdd, norm, "cap_add %s is outside Docker's default set", capName)
		}
	}
	for k := range cs.Sysctls {
		if !slices.ContainsFunc(namespacedSysctls, func(p string) bool { return strings.HasPrefix(k, p) }) {
			c.refuseUnless(RuleSysctls, k, "sysctl %s is not namespaced: it would change the node", k)
		}
	}
	if len(cs.Secrets) > 0 {
		c.refuse(RuleEndpoint, "Swarm secrets are cluster objects StackHub does not hand to bundles (pass a secret through the environment)")
	}
	for _, m := range cs.Mounts {
		c.mount(m)
	}
	return nil
}

// serviceImage allows the bundle's images, and images the manager's
// engine has (a node that lacks one pulls it; the bundle's own are what
// may come from a registry).
func (c *checker) serviceImage(images Images, ref string) error {
	if ref == "" {
		c.refuse(RuleImagePull, "the service names no image")
		return nil
	}
	if slices.ContainsFunc(c.p.Images, func(img string) bool { return sameImage(img, ref) }) {
		return nil
	}
	if images != nil {
		present, err := images.ImagePresent(c.ctx, ref)
		if err != nil {
			return err
		}
		if present {
			return nil
		}
	}
	c.refuse(RuleImagePull, "image %s is not among the bundle's images %v nor on the manager", ref, c.p.Images)
	return nil
}

// swarmPort requires a host-mode port StackHub reserved for the
// installation (on its node): the routing mesh would publish it on every
// node, and port 0 lets Swarm pick one StackHub did not reserve.
func (c *checker) swarmPort(port swarm.PortConfig) {
	what := fmt.Sprintf("%d/%s", port.TargetPort, port.Protocol)
	if port.PublishMode != swarm.PortConfigPublishModeHost {
		c.refuse(RulePorts, "%s published in %q mode: the routing mesh publishes it on every node; publish it in host mode", what, port.PublishMode)
	}
	if !slices.Contains(c.p.HostPorts, int(port.PublishedPort)) {
		c.refuse(RulePorts, "%s published on host port %d, which StackHub did not reserve for this installation on its node (reserved: %v)",
			what, port.PublishedPort, c.p.HostPorts)
	}
}

// swarmNetwork tells whether req is the overlay network a placed
// installation may create: swarm-scoped, not ingress, not config-only.
func swarmNetwork(p Policy, req *network.CreateRequest) bool {
	return p.Node != "" && req.Driver == "overlay" && req.Scope == "swarm" && !req.Ingress && !req.ConfigOnly && req.ConfigFrom == nil
}

// configRefs allows a task the installation's own configs, as files: a
// config another installation labelled, or none did, is refused, as is a
// runtime config (a credential spec's).
func (c *checker) configRefs(configs ConfigOwners, refs []*swarm.ConfigReference) error {
	for _, ref := range refs {
		if ref == nil {
			continue
		}
		name := cmp.Or(ref.ConfigName, ref.ConfigID)
		if ref.File == nil || ref.Runtime != nil {
			c.refuse(RuleEndpoint, "config %q: a service reads a config as a file only", name)
		}
		if ref.ConfigName != "" && !c.p.OwnName(ref.ConfigName) {
			c.refuse(RuleObjectName, "config %q: a config of this installation is named %s_<name>", ref.ConfigName, naming.Project(c.p.Installation))
			continue
		}
		if configs == nil {
			c.refuse(RuleForeign, "config %q: whose it is cannot be told", name)
			continue
		}
		owner, exists, err := configs.ConfigOwner(c.ctx, cmp.Or(ref.ConfigID, ref.ConfigName))
		switch {
		case err != nil:
			return err
		case !exists:
			c.refuse(RuleForeign, "config %q does not exist", name)
		case owner != c.p.Installation:
			c.refuse(RuleForeign, "config %q is not this installation's", name)
		}
	}
	return nil
}
