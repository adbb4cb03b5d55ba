package orchestrator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// Deps are the adapters an Engine drives.
type Deps struct {
	Catalog Catalog
	Builder Builder
	Runner  Runner
	Host    Host
	// Swarm is the Swarm the engine manages when it is a manager: installs
	// are placed on its nodes (placement.go). nil: never placed.
	Swarm         SwarmPlacement
	Installations Installations
	Runs          Runs
	// Relocation maps original image references to local or mirrored
	// ones; each run gets the entries of its bundle's images.
	Relocation map[string]string
	// Bundles brings in bundles by OCI reference or archive; nil refuses
	// them.
	Bundles BundleSource
	// Credentials hands out sensitive outputs once; nil shows none.
	Credentials CredentialStore
	Logger      *slog.Logger
	// RunLogDir receives one <run id>.log per run with the bundle's output.
	RunLogDir string
	Now       Clock
	NewID     IDGen
	// Stats samples the host; nil reports no host figures.
	Stats HostStats
	// Observer watches our containers; nil reports recorded states only.
	Observer Observer
	// Nodes watches the Swarm's nodes and the tasks of apps placed on
	// nodes other than StackHub's own; nil: such apps show their recorded
	// state only.
	Nodes NodeObserver
	// Logs reads container logs.
	Logs LogSource
	// ServiceLogs reads the logs of the services of apps placed on Swarm
	// nodes (their tasks' containers are not the local engine's, nor
	// named as on a single host); nil: no such logs.
	ServiceLogs ServiceLogSource
	// Backups opens the backup repositories, Volumes copies apps' volumes
	// in and out through Docker; nil for either: no backups here.
	Backups BackupRepositories
	Volumes VolumeHost
	// NodeVolumes reaches the volumes of apps placed on Swarm nodes; nil:
	// Volumes serves them too (which sees the local engine's only).
	NodeVolumes NodeVolumeHosts
	// Policies keeps when apps are backed up; nil: no schedules.
	Policies BackupPolicies
	// Vault keeps every bundle an installation ran; nil keeps none (no
	// rollback to a version the catalog no longer has).
	Vault BundleVault
	// Domains keeps the gateway's domains; nil: no gateway here.
	Domains DomainStore
	// RoutesChanged tells the gateway to load the routes again.
	RoutesChanged func()
	// ContainerStats samples containers' resource use; nil: none to show.
	ContainerStats StatsSource
	// NeedsSetup tells whether no console user exists (a risk); nil skips it.
	NeedsSetup func(context.Context) (bool, error)
	// Exposure says how the API is reached, for the risk list.
	Exposure Exposure
	// Audit keeps the bundle policy's refusals; nil keeps none.
	Audit AuditLog
	// Grants keeps the operator's grants of bundle permissions; nil keeps
	// none, and bundles that declare permissions cannot be installed.
	Grants Grants
	// JobObserver is told of every run that ends (metrics); nil: no one.
	JobObserver JobObserver
	// CleanupRetry bounds how long the removal of a failed install's
	// objects is tried again (dockerd may be restarting): 0 means
	// DefaultCleanupRetry, a negative value one try.
	CleanupRetry time.Duration
}

// DefaultCleanupRetry is how long a failed install's cleanup is retried.
const DefaultCleanupRetry = time.Minute

// Engine is StackHub's use cases: install, uninstall, info. It is safe for
// concurrent use; the store's constraints arbitrate races.
type Engine struct {
	d     Deps
	log   *slog.Logger
	jobs  *Jobs
	feeds feeds
	ready atomic.Bool
	// reserving serialises planning and recording installs, so that
	// concurrent installs never plan the same free port (one process owns
	// a data directory; the store's UNIQUE constraints stay the backstop).
	reserving sync.Mutex
	// pruning serialises prunes: a repository's maintenance has one runner.
	pruning sync.Mutex
	// scheduled are the prunes scheduled backups started.
	scheduled sync.WaitGroup
	// dockerPing is Docker's last answer to a readiness ping.
	dockerPing pingCache
	// localNode is the Swarm node ID of the engine StackHub runs on, as
	// last learnt from the manager ("" when it is not one; nil before).
	localNode atomic.Pointer[string]
}

// New returns an Engine over d.
func New(d Deps) *Engine {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{d: d, log: log.With("component", "engine"), jobs: NewJobs()}
}

// Shutdown stops taking jobs, cancels running ones when ctx ends, and waits
// for them to record their outcome.
func (e *Engine) Shutdown(ctx context.Context) { e.jobs.Shutdown(ctx) }

func validateName(field, name string) error {
	if err := naming.ValidateApp(name); err != nil {
		return WrapError(EINVALID, err, "%s: %s", field, err.Error())
	}
	return nil
}

// runOutput returns the writer of a run's output: its log file and its
// live feed, with the run's secret values masked (whatever the bundle
// runtime masked already) and the first error line kept as the failure
// reason. Close closes the log file.
func (e *Engine) runOutput(run Run) (*firstError, io.Closer) {
	logFile := e.runLog(run.ID)
	var w io.Writer = logFile
	if f := e.feeds.get(run.ID); f != nil {
		w = io.MultiWriter(logFile, f)
	}
	var secrets []string
	for _, v := range run.Secrets {
		if s, ok := v.(string); ok && len(s) >= 4 {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) > 0 {
		w = &masker{w: w, secrets: secrets}
	}
	return &firstError{w: w}, logFile
}

// runLog opens the log of run id; output goes nowhere if it cannot be made.
func (e *Engine) runLog(id string) io.WriteCloser {
	if e.d.RunLogDir == "" {
		return nopCloser{io.Discard}
	}
	f, err := os.OpenFile(filepath.Join(e.d.RunLogDir, id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		e.log.Warn("run log", "run", id, "err", err)
		return nopCloser{io.Discard}
	}
	return f
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// keepBundle keeps app's bundle in the vault after a run of it succeeded.
// Failing to keep it fails nothing: the app runs; only a later rollback to
// this version would find no bundle, which the log says.
func (e *Engine) keepBundle(ctx context.Context, app App) {
	if e.d.Vault == nil || app.Digest == "" {
		return
	}
	if err := e.d.Vault.Keep(ctx, app); err != nil {
		e.log.Warn("bundle not kept: a rollback to this version will not find it", "app", app.Name, "version", app.Version, "digest", app.Digest, "err", err)
	}
}

// Info returns the installation called name. Returns EINVALID for a bad
// name and ENOTFOUND when nothing of that name is installed.
func (e *Engine) Info(ctx context.Context, name string) (Installation, error) {
	if err := validateName("appName", name); err != nil {
		return Installation{}, err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return Installation{}, fmt.Errorf("info %s: %w", name, err)
	}
	e.observe(&inst)
	return inst, nil
}

// observe attaches what Docker shows of a running installation: its
// containers on the local engine, or, for an app on another Swarm node,
// its node's state and its services' tasks as the manager sees them.
func (e *Engine) observe(inst *Installation) {
	if inst.State != StateRunning {
		return
	}
	if e.isLocal(*inst) {
		if e.d.Observer == nil {
			return
		}
		if cs, ok := e.d.Observer.AppContainers(inst.Name); ok {
			inst.Observed, inst.ObservedKnown = cs, true
		}
		return
	}
	if e.d.Nodes == nil {
		return
	}
	if n, ok := e.d.Nodes.SwarmNode(inst.Node.NodeID); ok {
		inst.NodeState, inst.NodeMessage = n.State, n.Message
	}
	if cs, ok := e.d.Nodes.AppTasks(inst.Name); ok {
		inst.Observed, inst.ObservedKnown = cs, true
	}
}

// ListStamp identifies what List returns, with the catalog beside it:
// while it stays the same, so do the list and the catalog (a cache of a
// rendered list is good as long as its stamp).
type ListStamp struct{ Store, Observed, Catalog, Nodes uint64 }

// Versioned is implemented by an Installations store, an Observer or a
// Catalog that counts its changes: the count moves, after the change is
// visible, every time what it returns may have changed.
type Versioned interface{ Version() uint64 }

// ListStamp returns the stamp of what List and Catalog return from now
// on, and false when the store, the observer or the catalog does not count
// its changes (nothing may be cached then). Read it before List: a list
// made after a stamp is at least as new as the stamp.
func (e *Engine) ListStamp() (ListStamp, bool) {
	var st ListStamp
	for _, part := range []struct {
		dep any
		to  *uint64
	}{{e.d.Installations, &st.Store}, {e.d.Observer, &st.Observed}, {e.d.Catalog, &st.Catalog}, {e.d.Nodes, &st.Nodes}} {
		if part.dep == nil {
			continue // no observer: nothing observed changes
		}
		v, ok := part.dep.(Versioned)
		if !ok {
			return ListStamp{}, false
		}
		*part.to = v.Version()
	}
	return st, true
}

// List returns every installation but uninstalled ones, by name.
func (e *Engine) List(ctx context.Context) ([]Installation, error) {
	list, err := e.d.Installations.Installations(ctx)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	for i := range list {
		e.observe(&list[i])
	}
	return list, nil
}

// Catalog lists the apps that can be installed.
func (e *Engine) Catalog(ctx context.Context) ([]App, error) {
	return e.d.Catalog.Apps(ctx)
}

// CatalogApp returns one catalog app. Returns EINVALID or ENOTFOUND.
func (e *Engine) CatalogApp(ctx context.Context, name string) (App, error) {
	if err := validateName("appName", name); err != nil {
		return App{}, err
	}
	return e.d.Catalog.App(ctx, name)
}

// LogsRequest asks for the logs of one container of an installation.
type LogsRequest struct {
	Name string
	// Container is one of the installation's containers; empty means the
	// main one, websoft9-<name>.
	Container string
	LogOptions
}

// Logs writes an installation's container logs to w (for an app placed on
// a Swarm node, its service's tasks' logs, through the manager). Returns
// EINVALID for
// a bad name, tail, or a container that is not the installation's,
// ENOTFOUND, and EUNAVAILABLE.
func (e *Engine) Logs(ctx context.Context, req LogsRequest, w io.Writer) error {
	if err := validateName("name", req.Name); err != nil {
		return err
	}
	if req.Tail < 0 || req.Tail > 100000 {
		return Errorf(EINVALID, "tail must be 0 (all) to 100000 lines")
	}
	inst, err := e.d.Installations.Installation(ctx, req.Name)
	if err != nil {
		return fmt.Errorf("logs %s: %w", req.Name, err)
	}
	c := req.Container
	if c == "" {
		c = naming.MainContainer(req.Name)
	}
	if !slices.Contains(inst.Containers, c) {
		return Errorf(EINVALID, "%s is not a container of %s (containers: %s)", c, req.Name, strings.Join(inst.Containers, ", "))
	}
	if inst.Node.OnSwarm() {
		// On a Swarm node, the node StackHub runs on included, c is the
		// name of a service: its task's logs come through the manager.
		if e.d.ServiceLogs == nil {
			return Errorf(EUNAVAILABLE, "logs of apps on Swarm nodes are not available")
		}
		return e.d.ServiceLogs.ServiceLogs(ctx, c, req.LogOptions, w)
	}
	if e.d.Logs == nil {
		return Errorf(EUNAVAILABLE, "logs are not available")
	}
	return e.d.Logs.Logs(ctx, c, req.LogOptions, w)
}
