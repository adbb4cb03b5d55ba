package swarmspec

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/volume"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// APIVersion is the Docker Engine API version the specs are written for:
// the oldest StackHub negotiates (Docker 20.10). An engine silently drops
// the fields of a request that are newer than the version the client
// negotiated, so a compose key that needs a newer field is refused here
// rather than lost there.
const APIVersion = "1.41"

// StackLabel is the label docker stack groups a stack's objects by; every
// object of an app carries it with the project name, so that docker stack
// ls, ps and services show the app's services and tasks.
const StackLabel = "com.docker.stack.namespace"

// Node is the Swarm node an app is placed on: its ID (preferred: unique
// and stable) or its hostname. Exactly one is set.
type Node struct {
	ID       string
	Hostname string
}

var (
	nodeIDRE       = regexp.MustCompile(`^[a-z0-9]+$`)
	nodeHostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$`)
)

// Constraint returns the placement constraint that keeps a task on n:
// node.id==<ID>, or node.hostname==<Hostname> when n has no ID.
func (n Node) Constraint() string {
	if n.ID != "" {
		return "node.id==" + n.ID
	}
	return "node.hostname==" + n.Hostname
}

func (n Node) validate() error {
	switch {
	case n.ID != "" && n.Hostname != "":
		return errors.New("node: give its ID or its hostname, not both")
	case n.ID != "":
		if !nodeIDRE.MatchString(n.ID) {
			return fmt.Errorf("node ID %q: a Swarm node ID is lowercase letters and digits", n.ID)
		}
	case n.Hostname != "":
		if !nodeHostnameRE.MatchString(n.Hostname) {
			return fmt.Errorf("node hostname %q is not a host name", n.Hostname)
		}
	default:
		return errors.New("node: neither an ID nor a hostname")
	}
	return nil
}

// LoopbackPorts says what Convert does with a port a service publishes on
// a loopback address (127.0.0.1:3307:3306, or ${WEB_ADDRESS} set to
// 127.0.0.1). Swarm publishes a host-mode port on every address of the
// node and cannot bind one address, so a loopback port cannot be kept as
// it is; publishing it on every address would expose what the bundle
// keeps private (every catalog database port is such a port).
type LoopbackPorts int

const (
	// RefuseLoopbackPorts makes a loopback port an Unsupported problem.
	// It is the zero value: a caller who has not decided gets an error,
	// never a port that is silently gone.
	RefuseLoopbackPorts LoopbackPorts = iota
	// OmitLoopbackPorts leaves a loopback port unpublished and lists it in
	// Plan.Unpublished. The port stays reachable on the app's overlay
	// network (attachable: StackHub's gateway and tools can join it) at
	// <service>:<target>.
	OmitLoopbackPorts
)

// Options are the inputs of one conversion besides the project.
type Options struct {
	// App is the installation name (naming.ValidateApp): services are
	// named websoft9-<app> (Main) and websoft9-<app>-<service>.
	App string
	// Main is the compose service whose Swarm service is websoft9-<app>.
	Main string
	// Node is where every service of the app runs: its volumes are local
	// to that node.
	Node Node
	// RunID, when set, is the sh.websoft9.run label of the services and
	// the network. It never goes on a container spec or a volume mount:
	// a task spec that changes on every run would restart every task of
	// every upgrade.
	RunID string
	// AllowBindMounts accepts bind mounts of node paths (refused
	// otherwise, as the single-host mixin refuses them). The path must
	// exist on Node: Swarm never creates it.
	AllowBindMounts bool
	// LoopbackPorts is what happens to ports published on a loopback
	// address; the zero value refuses them.
	LoopbackPorts LoopbackPorts
}

// Plan is what the mixin creates on a Swarm for one app: the networks and
// configs, then the services in Services' order, waiting before each as its Waits
// say. Volumes are created by the tasks on the node (see Volume).
type Plan struct {
	// App and Project (websoft9-<app>) name the app.
	App     string
	Project string
	// Node is where every service runs.
	Node Node
	// Networks are the app's overlay networks, by compose key: one,
	// <project>_default, unless the compose file declares others.
	Networks []Network
	// Volumes are the app's named volumes, by compose key.
	Volumes []Volume
	// Configs are the app's configs its services read, by compose key,
	// to create before the services (whose references lack the configs'
	// IDs until SetConfigIDs).
	Configs []Config `json:",omitempty"`
	// Services are in dependency order: a service comes after every
	// service it depends on, ties by name.
	Services []Service
	// Unpublished lists the loopback ports OmitLoopbackPorts left out.
	Unpublished []UnpublishedPort
}

// Network is one overlay network to create (NetworkCreate) before the
// services: attachable, swarm-scoped, labelled with the app.
type Network struct {
	// Key is the network's key in the compose file.
	Key  string
	Spec network.CreateRequest
}

// Volume is one named volume of the app. Swarm has no cluster-wide local
// volumes: the engine of the node creates a volume when a task first
// mounts it, with the driver and labels of the mount (Spec's, plus the
// mount's own volume.labels when the compose file gives some), and keeps
// it when the task goes. Spec is what that volume is, for the mixin to
// find and remove it on that node (purge).
type Volume struct {
	// Key is the volume's key in the compose file.
	Key  string
	Spec volume.CreateRequest
}

// Service is one compose service as a Swarm service.
type Service struct {
	// Name is the compose service name, the alias other services reach
	// it by; Spec.Annotations.Name is the Swarm service name.
	Name string
	// Main tells whether this is Options.Main.
	Main bool
	Spec swarm.ServiceSpec
	// Waits are what to wait for before creating this service: Swarm
	// starts services in no order, so the mixin creates them one by one
	// in Plan order and waits for each dependency's condition first.
	Waits []Wait
}

// Condition is what a Wait waits for.
type Condition string

const (
	// Running: the dependency's task is running (compose's
	// service_started).
	Running Condition = "running"
	// Healthy: the dependency's task's container is healthy (compose's
	// service_healthy).
	Healthy Condition = "healthy"
)

// Wait is one dependency of a service.
type Wait struct {
	// Service is the dependency's compose name, SwarmService its Swarm
	// service name.
	Service      string
	SwarmService string
	Condition    Condition
	// Restart is compose's depends_on restart: when the mixin restarts
	// the dependency, it restarts this service too.
	Restart bool
}

// UnpublishedPort is a loopback port left out by OmitLoopbackPorts.
type UnpublishedPort struct {
	// Service is the compose service.
	Service string
	// HostIP, Published, Target and Protocol are the compose binding.
	HostIP    string
	Published uint32
	Target    uint32
	Protocol  string
}

// String reads like the compose binding it came from.
func (u UnpublishedPort) String() string {
	return fmt.Sprintf("%s %s:%d:%d/%s", u.Service, u.HostIP, u.Published, u.Target, u.Protocol)
}

// String lists the plan for a person: the node, the networks and volumes,
// then each service in creation order with its image, what it waits for
// and the ports it publishes on the node, then the ports left out. It
// shows no environment (it holds secrets).
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "app %s (%s) on %s\n", p.App, p.Project, p.Node.Constraint())
	for _, n := range p.Networks {
		fmt.Fprintf(&b, "network %s (%s, attachable)\n", n.Spec.Name, n.Spec.Driver)
	}
	for _, v := range p.Volumes {
		fmt.Fprintf(&b, "volume %s (%s)\n", v.Spec.Name, v.Spec.Driver)
	}
	for _, c := range p.Configs {
		fmt.Fprintf(&b, "config %s (%d bytes)\n", c.Spec.Name, len(c.Spec.Data))
	}
	for _, s := range p.Services {
		main := ""
		if s.Main {
			main = ", main"
		}
		fmt.Fprintf(&b, "service %s (%s%s): %s", s.Spec.Name, s.Name, main, s.Spec.TaskTemplate.ContainerSpec.Image)
		for i, w := range s.Waits {
			sep := ", "
			if i == 0 {
				sep = ", after "
			}
			fmt.Fprintf(&b, "%s%s %s", sep, w.Service, w.Condition)
		}
		if s.Spec.EndpointSpec != nil {
			for i, port := range s.Spec.EndpointSpec.Ports {
				sep := ", "
				if i == 0 {
					sep = ", publishes "
				}
				fmt.Fprintf(&b, "%s%d:%d/%s", sep, port.PublishedPort, port.TargetPort, port.Protocol)
			}
		}
		b.WriteString("\n")
	}
	for _, u := range p.Unpublished {
		fmt.Fprintf(&b, "left unpublished: %s\n", u)
	}
	return b.String()
}

// swarmNameRE and maxSwarmName are what a Swarm manager accepts as the
// name of a service or a network (a DNS label, underscores allowed
// inside).
var swarmNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)

const maxSwarmName = 63

// checkSwarmName returns why name cannot name a Swarm service or network,
// or "".
func checkSwarmName(name string) string {
	switch {
	case len(name) > maxSwarmName:
		return fmt.Sprintf("the Swarm name %s is %d characters; Swarm allows %d (shorten the app or the compose name)", name, len(name), maxSwarmName)
	case !swarmNameRE.MatchString(name):
		return fmt.Sprintf("the Swarm name %s is not a DNS label (letters, digits, '-' and '_' inside; no '.', no '-' at the end)", name)
	}
	return ""
}

// Convert turns project, loaded by compose-go for app (project name
// websoft9-<app>, as the mixin loads it), into the Swarm objects of
// Plan. It does no I/O and keeps no state; project is not modified.
//
// Every compose setting a Swarm service cannot honour is an Unsupported;
// Convert checks the whole project and returns them all at once as an
// *UnsupportedError (errors.Is(err, ErrUnsupported) holds). Any other
// error means opts do not fit project: a bad app name or node, a main
// service the project lacks, a project named for another app.
func Convert(project *types.Project, opts Options) (*Plan, error) {
	if err := opts.check(project); err != nil {
		return nil, fmt.Errorf("swarm spec: %w", err)
	}
	c := &converter{project: project, opts: opts}
	plan := &Plan{App: opts.App, Project: project.Name, Node: opts.Node}
	var problems []Unsupported
	nets, p := c.networks()
	plan.Networks, problems = nets, append(problems, p...)
	vols, p := c.volumes()
	plan.Volumes, problems = vols, append(problems, p...)
	cfgs, names, p := c.configs()
	plan.Configs, c.configNames, problems = cfgs, names, append(problems, p...)

	order, dependsOn := c.order()
	services := map[string]Service{}
	for _, name := range slices.Sorted(maps.Keys(project.Services)) {
		s := project.Services[name]
		spec, unpublished, p := c.service(s)
		problems = append(problems, p...)
		problems = append(problems, dependsOn[name]...)
		plan.Unpublished = append(plan.Unpublished, unpublished...)
		services[name] = Service{Name: name, Main: name == opts.Main, Spec: spec, Waits: c.waits(s)}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("swarm spec of %s: %w", opts.App, &UnsupportedError{Problems: problems})
	}
	for _, name := range order {
		plan.Services = append(plan.Services, services[name])
	}
	return plan, nil
}

// check returns why opts do not fit project, or nil.
func (o Options) check(project *types.Project) error {
	if project == nil {
		return errors.New("no project")
	}
	if err := naming.ValidateApp(o.App); err != nil {
		return err
	}
	if want := naming.Project(o.App); project.Name != want {
		return fmt.Errorf("project %q is not app %s's (load it as %s)", project.Name, o.App, want)
	}
	if err := o.Node.validate(); err != nil {
		return err
	}
	if _, ok := project.Services[o.Main]; !ok {
		if _, off := project.DisabledServices[o.Main]; off {
			return fmt.Errorf("main service %q is disabled in the model", o.Main)
		}
		return fmt.Errorf("main service %q is not a service of the model (services: %s)", o.Main,
			strings.Join(slices.Sorted(maps.Keys(project.Services)), ", "))
	}
	switch o.LoopbackPorts {
	case RefuseLoopbackPorts, OmitLoopbackPorts:
	default:
		return fmt.Errorf("loopback ports: unknown choice %d", o.LoopbackPorts)
	}
	return nil
}

// converter holds one conversion's inputs.
type converter struct {
	project *types.Project
	opts    Options
	// configNames are the Swarm names of the app's configs, by key.
	configNames map[string]string
}

// swarmName returns the Swarm service name of a compose service.
func (c *converter) swarmName(service string) string {
	return naming.Container(c.opts.App, service, service == c.opts.Main)
}

// objectName returns the name of the app's network or volume key, as
// compose names it on a single host (<project>_<key>), so that backups
// and tools find the same volume names on either.
func (c *converter) objectName(key string) string { return ObjectName(c.project, key) }

// ObjectName is the name of the app's volume or network key in project,
// as compose names it: <project>_<key>.
func ObjectName(project *types.Project, key string) string { return project.Name + "_" + key }

// appLabels are on every object of the app.
func (c *converter) appLabels() map[string]string {
	return map[string]string{naming.LabelApp: c.opts.App, StackLabel: c.project.Name}
}

// networks returns the project's networks as overlay networks.
func (c *converter) networks() ([]Network, []Unsupported) {
	var out []Network
	var problems []Unsupported
	for _, key := range slices.Sorted(maps.Keys(c.project.Networks)) {
		n := c.project.Networks[key]
		prefix := "networks." + key + "."
		problems = append(problems, refusals(n, "", prefix, networkRules)...)
		name := c.objectName(key)
		if !n.External && n.Name != "" && n.Name != name {
			problems = append(problems, Unsupported{Key: prefix + "name", Reason: fmt.Sprintf("StackHub names the app's networks itself (%s)", name)})
		}
		if n.Driver != "" && n.Driver != "overlay" {
			problems = append(problems, Unsupported{Key: prefix + "driver", Reason: fmt.Sprintf("a Swarm app's networks are overlay networks, not %s", n.Driver)})
		}
		if why := checkSwarmName(name); why != "" {
			problems = append(problems, Unsupported{Key: "networks." + key, Reason: why})
		}
		labels := maps.Clone(map[string]string(n.Labels))
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, c.appLabels())
		if c.opts.RunID != "" {
			labels[naming.LabelRun] = c.opts.RunID
		}
		out = append(out, Network{Key: key, Spec: network.CreateRequest{
			Name: name, Driver: "overlay", Scope: "swarm", Attachable: true, Internal: n.Internal, Labels: labels,
		}})
	}
	return out, problems
}

// volumes returns the project's named volumes.
func (c *converter) volumes() ([]Volume, []Unsupported) {
	var out []Volume
	var problems []Unsupported
	for _, key := range slices.Sorted(maps.Keys(c.project.Volumes)) {
		v := c.project.Volumes[key]
		prefix := "volumes." + key + "."
		problems = append(problems, refusals(v, "", prefix, volumeRules)...)
		name := c.objectName(key)
		if !v.External && v.Name != "" && v.Name != name {
			problems = append(problems, Unsupported{Key: prefix + "name", Reason: fmt.Sprintf("StackHub names the app's volumes itself (%s)", name)})
		}
		if v.Driver != "" && v.Driver != "local" {
			problems = append(problems, Unsupported{Key: prefix + "driver", Reason: fmt.Sprintf("StackHub creates local volumes only, not %s", v.Driver)})
		}
		out = append(out, Volume{Key: key, Spec: volume.CreateRequest{Name: name, Driver: "local", Labels: c.volumeLabels(key)}})
	}
	return out, problems
}

// volumeLabels are the labels of volume key: the compose file's, then the
// app's. No run id: they are part of every task spec that mounts it.
func (c *converter) volumeLabels(key string) map[string]string {
	labels := maps.Clone(map[string]string(c.project.Volumes[key].Labels))
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, c.appLabels())
	return labels
}
