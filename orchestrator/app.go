package orchestrator

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cnabio/cnab-go/bundle"
)

// App is one catalog entry: a bundle and what the engine reads from it.
type App struct {
	Name        string
	Version     string
	Title       string
	Description string
	// Ports are the bundle's port parameters, in declaration order.
	Ports []PortParam
	// Web is the bundle's web endpoint (custom.sh.websoft9.web).
	Web WebEndpoint
	// Services are the compose services the bundle creates; Main is the one
	// whose container is websoft9-<app>.
	Services []string
	Main     string
	// HasPurge tells whether the bundle takes a boolean purge parameter on
	// uninstall.
	HasPurge bool
	// Actions are the bundle's custom actions (start, stop, ...), sorted.
	Actions []string
	// Parameters describe the bundle's parameters as porter.yaml defines
	// them, in its order: what an install form asks for.
	Parameters []ParameterSpec
	// Texts are the app's words in other languages, by language tag
	// ("zh", "en"): custom["sh.websoft9"].i18n. Title, Description and
	// each parameter's Description are the default (English) ones.
	Texts map[string]AppTexts
	// Form groups and orders the install form's fields
	// (custom["sh.websoft9"].form); parameters it does not name are shown
	// after it, folded away as advanced.
	Form []FormGroup
	// Settable are the parameters a request may set on upgrade: every
	// parameter but the port parameters (StackHub allocates those) and
	// purge (an uninstall option).
	Settable []string
	// Sensitive are the parameters whose values are secrets: stored sealed,
	// never logged nor returned.
	Sensitive []string
	// Requirements are what the app needs of the host, as the bundle's
	// custom["sh.websoft9"].requirements says (cpu, memory, disk).
	Requirements Requirements
	// Generate are the sensitive parameters the engine fills with a fresh
	// random value at install when the request gives none
	// (custom["sh.websoft9"].generate); upgrades reuse the stored value.
	Generate []string
	// SensitiveOutputs are the bundle's sensitive outputs: the credentials
	// an install shows once.
	SensitiveOutputs []string
	// Images are the bundle's images as references (repository:tag or
	// @digest), by alias order.
	Images []string
	// Meta is the catalog metadata for people: category, icon, links and
	// where to log in.
	Meta AppMeta
	// Dir is the bundle directory (for the builder); for a bundle pulled
	// from a registry or an archive, the copy of its /cnab/app.
	Dir string
	// Source says where a bundle that was not built here came from: a
	// registry reference with its digest, an archive, or `catalog add`.
	// "" for catalog directories.
	Source string
	// Origin is the store app the bundle was converted from
	// (custom["sh.websoft9"].source, as storeconv writes it); zero when
	// the bundle does not say.
	Origin Origin
	// Digest identifies the bundle: a pulled one by its manifest's digest
	// in the registry, an imported one by the sha256 of its archive's
	// bundle.json, one of the catalog directory by the sha256 of its
	// files (catalog.DirDigest). Grants are given to a digest.
	Digest string
	// Permissions are what the bundle declares it needs beyond StackHub's
	// default bundle policy (custom["sh.websoft9"].permissions), canonical
	// (ParsePermissions); nil for none. Installs and upgrades need a grant
	// of them (Grant).
	Permissions []Permission
	// Bundle is the bundle.json of a bundle that was not built here
	// (pulled or imported); the builder is not asked for it.
	Bundle *bundle.Bundle
	// Relocation maps the images of such a bundle to where they are (its
	// registry copies, or the images an archive loaded).
	Relocation map[string]string
}

// BundleSource brings in bundles that are not built from the catalog
// directory, verifies them and adds them to the catalog under their bundle
// name, so that later actions on their installations find them.
type BundleSource interface {
	// Resolve pulls the bundle at ref (REGISTRY/REPO:TAG or @sha256:…):
	// bundle.json, the invocation image (its contentDigest checked) and
	// its /cnab/app.
	Resolve(ctx context.Context, ref string, opts AddOptions) (App, error)
	// Import reads a CNAB archive (bundle.json and every image in an OCI
	// layout, as `stackhub bundle archive` writes), verifies every image
	// against its contentDigest and loads them into Docker.
	Import(ctx context.Context, archive io.Reader, opts AddOptions) (App, error)
	// AddDir reads a bundle directory's files as a tar (gzip-compressed
	// or not: porter.yaml, its compose files, an icon), lints it as
	// `stackhub bundle lint` does (Porter's rules, the websoft9 mixin,
	// the bundle policy) and builds it with the server's runtimes. A
	// tar that is not one or holds links, absolute or escaping paths or
	// too much, and a bundle with lint errors, are EINVALID with every
	// reason; nothing is kept on failure.
	AddDir(ctx context.Context, files io.Reader, opts AddOptions) (App, error)
}

// Origin names the app of another store a bundle was converted from.
type Origin struct {
	// Store is the store's format: websoft9, casaos, runtipi, umbrel,
	// compose.
	Store string
	// ID is the app's id (its folder) in that store.
	ID string
	// Version is the store app's version, when it has one.
	Version string
}

// AddOptions say how a pulled or imported bundle joins the catalog.
type AddOptions struct {
	// Force replaces an entry of the same name and version whose bundle
	// digest differs; without it that is ECONFLICT: a bundle never
	// silently replaces what the catalog holds under the same version.
	Force bool
}

// Requirements are an app's declared needs, as written ("2", "4Gi", "10Gi").
type Requirements struct {
	CPU    string
	Memory string
	Disk   string
}

// AppMeta is what the catalog shows of an app beyond its name and version.
type AppMeta struct {
	Category      string
	Homepage      string
	Documentation string
	// Icon is the path of the icon file inside the bundle directory, or "".
	Icon  string
	Login Login
}

// Login tells an operator where and how to sign in to an installed app.
type Login struct {
	// Path is the login page's path on the app's main port, e.g. /login.
	Path     string
	User     string
	Password string
}

// WebEndpoint is where an app's web interface is: the port parameter a
// domain goes to (default: the first port), and whether the app wants a
// domain ("required": it works only under one, "optional").
type WebEndpoint struct {
	Port   string
	Domain string
	// Address is the string parameter the web port is published on:
	// StackHub sets it to LoopbackAddress while the app has a domain (the
	// gateway is then the way in) and to AnyAddress when it has none.
	Address string
}

// The addresses a web port is published on.
const (
	LoopbackAddress = "127.0.0.1"
	AnyAddress      = "0.0.0.0"
)

// PortParam is an integer bundle parameter that takes a host port.
type PortParam struct {
	Name string
	Min  int
	Max  int
}

// Catalog finds apps.
type Catalog interface {
	// App returns the app called name. Returns ENOTFOUND if there is none.
	App(ctx context.Context, name string) (App, error)
	// Apps lists the catalog, sorted by name.
	Apps(ctx context.Context) ([]App, error)
}

// Builder turns an app into a runnable CNAB bundle whose invocation image is
// present in the engine.
type Builder interface {
	// Bundle builds (or reuses) app's bundle.json and invocation image.
	Bundle(ctx context.Context, app App) (*bundle.Bundle, error)
}

// RunRequest is one CNAB action to run.
type RunRequest struct {
	// RunID is the claim id; Revision changes with every modifying action.
	RunID    string
	Revision string
	// Installation is the instance name (also PORTER_INSTALLATION_NAME).
	Installation string
	Action       Action
	Bundle       *bundle.Bundle
	// Parameters are typed values for bundle parameters; defaults fill the rest.
	Parameters map[string]any
	// Relocation maps the bundle's original image references to where
	// they are found instead (CNAB's relocation mapping, as Porter uses for
	// air-gapped installs); the runtime resolves bundle.images through it.
	Relocation map[string]string
	// HostPorts are the host ports reserved for the installation: the
	// only ones the run's containers may publish.
	HostPorts []int
	// Granted are the permissions an operator granted the bundle, among
	// those it declares: the run may do exactly these beyond the default
	// bundle policy (the policed socket allows them, and privileged lets
	// the invocation container run privileged), nothing more.
	Granted []Permission
	// Node is the Swarm node ID the installation is placed on, "" for the
	// single host: the run deploys there (the websoft9 mixin learns it
	// from naming.EnvSwarmNode) and may publish its ports only there.
	Node string
	// Out receives the invocation image's output.
	Out io.Writer
}

// RunResult is the outcome of a CNAB action that ran.
type RunResult struct {
	// Status is a CNAB result status: succeeded, failed or canceled.
	Status  RunStatus
	Message string
	// Outputs holds every output the run produced, internal and sensitive
	// ones included (the store seals sensitive ones).
	Outputs []Output
}

// Output is one output value of a run.
type Output struct {
	Name  string
	Value []byte
	// Sensitive outputs (writeOnly in bundle.json) are stored sealed and
	// never shown again after the run.
	Sensitive bool
	// Internal outputs (porter-state, io.cnab.*) feed later runs and are
	// hidden from users.
	Internal bool
}

// Visible returns the outputs a user may see, by name.
func (r RunResult) Visible() map[string]string {
	out := map[string]string{}
	for _, o := range r.Outputs {
		if !o.Sensitive && !o.Internal {
			out[o.Name] = string(o.Value)
		}
	}
	return out
}

// Runner runs CNAB actions.
type Runner interface {
	// Run runs req. A bundle that ran and failed is a RunResult with status
	// failed, not an error; an error means it could not run at all
	// (EUNAVAILABLE when Docker does not answer).
	Run(ctx context.Context, req RunRequest) (RunResult, error)
}

// Removed lists what a cleanup removed and kept.
type Removed struct {
	Containers  []string
	Networks    []string
	Volumes     []string
	KeptVolumes []string
}

// Host observes and cleans the Docker host.
type Host interface {
	// Ping returns EUNAVAILABLE when Docker does not answer.
	Ping(ctx context.Context) error
	// BusyPorts returns the TCP ports published by containers or bound by
	// listeners on the host.
	BusyPorts(ctx context.Context) (map[int]bool, error)
	// ExistingContainers returns those of names that are containers.
	ExistingContainers(ctx context.Context, names []string) ([]string, error)
	// AppObjects returns the containers (with their state), networks and
	// volumes labelled with app.
	AppObjects(ctx context.Context, app string) (Objects, error)
	// RemoveApp removes the containers and networks labelled with app, and
	// its volumes: those labelled with runID when runID is set, all of them
	// when purge is set, none otherwise (those are listed as kept).
	RemoveApp(ctx context.Context, app, runID string, purge bool) (Removed, error)
}

// Objects are the Docker objects labelled with one app.
type Objects struct {
	Containers []Container
	Networks   []string
	Volumes    []string
}

// ContainerNames returns the names of o's containers.
func (o Objects) ContainerNames() []string {
	out := make([]string, 0, len(o.Containers))
	for _, c := range o.Containers {
		out = append(out, c.Name)
	}
	return out
}

// LogOptions select container logs.
type LogOptions struct {
	// Tail is how many lines from the end; 0 means all.
	Tail int
	// Follow keeps streaming until ctx ends.
	Follow bool
}

// LogSource reads container logs.
type LogSource interface {
	// Logs writes container's stdout and stderr to w, following when asked
	// until ctx ends. Returns ENOTFOUND for an unknown container and
	// EUNAVAILABLE when Docker does not answer.
	Logs(ctx context.Context, container string, opts LogOptions, w io.Writer) error
}

// ServiceLogSource reads the logs of a Swarm service's tasks through the
// manager, on whichever node they run.
type ServiceLogSource interface {
	// ServiceLogs writes service's tasks' stdout and stderr to w, as
	// LogSource.Logs does for a container. Returns ENOTFOUND for an
	// unknown service and EUNAVAILABLE when Docker does not answer.
	ServiceLogs(ctx context.Context, service string, opts LogOptions, w io.Writer) error
}

// BundleVault keeps the bundle of every version an installation ran, by
// digest, so that a rollback, a restore or a clone can run that version
// again after the catalog moved on.
type BundleVault interface {
	// Keep stores app's bundle (once per digest).
	Keep(ctx context.Context, app App) error
	// Kept returns the bundle of app name kept under digest, ENOTFOUND
	// when there is none.
	Kept(ctx context.Context, name, digest string) (App, error)
	// KeepDir keeps the bundle in dir (one saved in a backup) under digest
	// and returns it as kept.
	KeepDir(ctx context.Context, dir, digest string) (App, error)
}

// StatsSource samples containers' resource use.
type StatsSource interface {
	// ContainerStats samples each of containers over about a second, all
	// at once. A container that is gone or stopped is left out. Returns
	// EUNAVAILABLE when Docker does not answer.
	ContainerStats(ctx context.Context, containers []string) ([]ContainerStats, error)
}

// ContainerStats is one container's resource use as Docker samples it.
type ContainerStats struct {
	Name string
	// CPUPercent is the share of one CPU over the sample, as docker stats
	// shows it (200 is two CPUs busy).
	CPUPercent float64
	// MemoryBytes is the memory in use without the page cache;
	// MemoryLimit is the container's limit, or the host's memory.
	MemoryBytes, MemoryLimit uint64
	// Network and block I/O are totals since the container started.
	NetRxBytes, NetTxBytes          uint64
	BlockReadBytes, BlockWriteBytes uint64
	PIDs                            uint64
	// Unavailable, when set, says why the container was not sampled (an
	// app on a Swarm node other than StackHub's: the manager's API serves
	// no stats of another node's containers); the figures above are then
	// not measured and Node, when known, is the node's as the manager
	// reports it (what it has, not what it uses).
	Unavailable string
	Node        *Node
}

// Observer keeps an in-memory view of our containers, so that reads need
// no Docker call and reflect changes made by hand.
type Observer interface {
	// AppContainers returns app's containers; false while the view is not
	// complete (before the first full list, or after the stream broke).
	AppContainers(app string) ([]Container, bool)
	// Refresh reads app's containers from Docker now (after a run changed
	// them, so the view is not behind the recorded state).
	Refresh(ctx context.Context, app string) error
}

// NodeObserver keeps, on a Swarm manager, a view of the Swarm's nodes and
// of the tasks of the apps placed on them, as the manager sees them: an
// app on another node has its containers on that node's engine, which
// the Observer (the local engine's) does not see.
type NodeObserver interface {
	// SwarmNode returns node id as last seen. ok is false while nothing is
	// known (the engine is no manager, or the first list has not come);
	// a node the Swarm no longer has is returned with State NodeRemoved.
	SwarmNode(id string) (n Node, ok bool)
	// AppTasks returns app's services as containers, one per service,
	// named as the service (websoft9-<app>[-<service>]), in the state of
	// its current task (running, or pending, starting, failed...; exited
	// for a service scaled to 0); false while nothing is known.
	AppTasks(app string) ([]Container, bool)
	// Refresh reads app's services and tasks from the manager now.
	Refresh(ctx context.Context, app string) error
}

// Container is an observed container.
type Container struct {
	Name  string
	State string // running, exited, ...
	// Health is the health check's verdict: healthy, unhealthy,
	// starting, or "" when the container has no health check.
	Health string
	Ports  []int // published host ports
}

// Clock and IDs are injected so tests are deterministic.
type (
	Clock func() time.Time
	IDGen func() string
)

// NewerVersion tells whether version a is newer than b, comparing
// dot-separated numeric parts (an optional leading v and any -suffix
// ignored). Versions that do not parse are newer only when different.
func NewerVersion(a, b string) bool {
	pa, oka := versionParts(a)
	pb, okb := versionParts(b)
	if !oka || !okb {
		return a != b && a != ""
	}
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x > y
		}
	}
	return false
}

func versionParts(v string) ([]int, bool) {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "-")
	v, _, _ = strings.Cut(v, "+")
	if v == "" {
		return nil, false
	}
	var out []int
	for _, f := range strings.Split(v, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// ParameterSpec is one bundle parameter as a form shows it.
type ParameterSpec struct {
	Name        string
	Description string
	// Type is the JSON Schema type: string, integer, number, boolean, file.
	Type string
	// Default is the bundle's default (never shown for a sensitive one).
	Default any
	// Rules are the JSON Schema keywords that check a value: minimum,
	// maximum, enum, pattern, minLength, maxLength.
	Rules map[string]any
	// ApplyTo are the actions it reaches; empty means all.
	ApplyTo   []string
	Sensitive bool
	// Port: StackHub picks the host port unless the install asks for one.
	Port bool
	// Generated: StackHub fills it with a random secret when left empty.
	Generated bool
	// Settable: a request may set it (not purge, not Porter's own).
	Settable bool
	// Required: an install must give it (no default, not a port, not
	// generated).
	Required bool
}

// AppTexts are an app's catalog texts in one language.
type AppTexts struct {
	Title       string
	Description string
	// Parameters are each parameter's label and help, by name.
	Parameters map[string]ParameterText
	// Form are the form groups' labels, by group ID.
	Form map[string]string
}

// FormGroup is one group of an install form: an ID, its default (English)
// label, its fields in order, and whether it is folded away.
type FormGroup struct {
	ID       string
	Label    string
	Fields   []string
	Advanced bool
}

// ParameterText is a parameter's label and help in one language.
type ParameterText struct {
	Label string
	Help  string
}
