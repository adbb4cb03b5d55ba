package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// State is an installation's lifecycle state.
type State string

const (
	StateInstalling   State = "installing"
	StateRunning      State = "running"
	StateFailed       State = "failed"
	StateUninstalling State = "uninstalling"
	StateUninstalled  State = "uninstalled"
)

// Live tells whether the state blocks a new install of the same name.
func (s State) Live() bool { return s != StateFailed && s != StateUninstalled }

// Installation is one installed instance of a catalog app.
type Installation struct {
	// Name is the instance name: containers are websoft9-<Name>.
	Name    string
	App     string
	Version string
	// Digest is the bundle digest of the last successful install or
	// upgrade ("" for one made before StackHub recorded it).
	Digest string
	State  State
	// Reason says why the last run failed.
	Reason string
	Ports  []PortBinding
	// Node is the Swarm node the installation is placed on (zero: the
	// single host); its ports are reserved on that node. It never
	// changes: moving an app is a backup and a restore.
	Node Placement
	// Containers are the container names reserved for this installation.
	Containers []string
	// Outputs are the visible outputs of the last successful install or upgrade.
	Outputs   map[string]string
	LastRunID string
	// Active is the action of the run in progress, or "".
	Active Action
	// Observed are the containers Docker shows for a running installation,
	// when ObservedKnown. For an app on another Swarm node they are its
	// services, each in the state of its task as the manager sees it.
	Observed      []Container
	ObservedKnown bool
	// NodeState is the state of the Swarm node the installation is placed
	// on as the manager last saw it (ready, down, disconnected, unknown;
	// "removed" once the Swarm no longer has it), for a running
	// installation on a node other than the one StackHub runs on; "" when
	// not known. NodeMessage is the manager's reason, if any.
	NodeState   string
	NodeMessage string
	Created     time.Time
	Updated     time.Time
}

// MainContainer is the name of the installation's main container.
func (i Installation) MainContainer() string { return naming.MainContainer(i.Name) }

// Port returns the host port of parameter name, or 0.
func (i Installation) Port(name string) int {
	for _, p := range i.Ports {
		if p.Param == name {
			return p.Port
		}
	}
	return 0
}

// PortBinding is a host port reserved for a port parameter.
type PortBinding struct {
	Param string
	Port  int
}

// Run is one CNAB action on an installation (a claim and its result).
type Run struct {
	ID           string
	Installation string
	Action       Action
	Revision     string
	// Version is the bundle version an install or upgrade brings, Digest
	// its bundle's digest; on success they become the installation's.
	Version string
	Digest  string
	// Status is running until the result is written: succeeded, failed or canceled.
	Status  RunStatus
	Message string
	// Parameters are the run's non-sensitive parameter values.
	Parameters map[string]any
	// Secrets are its sensitive parameter values, stored sealed.
	Secrets map[string]any
	// Outputs are the visible outputs (see RunResult.Visible).
	Outputs map[string]string
	// Values are every output to store, sealed when sensitive.
	Values   []Output
	Created  time.Time
	Finished time.Time
}

// RunStatus is where a run is: running until its result is written, then
// one of CNAB's result statuses succeeded, failed or canceled.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCanceled  RunStatus = "canceled"
)

// ParseRunStatus returns s as a RunStatus. Returns EINVALID for anything
// but running, succeeded, failed and canceled.
func ParseRunStatus(s string) (RunStatus, error) {
	switch st := RunStatus(s); st {
	case RunRunning, RunSucceeded, RunFailed, RunCanceled:
		return st, nil
	}
	return "", Errorf(EINVALID, "run status %q must be running, succeeded, failed or canceled", s)
}

// Installations stores installations with their port and name reservations.
type Installations interface {
	// BeginInstall creates (or revives a failed or uninstalled) installation
	// in state installing together with its port and container-name
	// reservations and its running install run, in one transaction.
	// Returns ECONFLICT if a live installation of that name exists, or a
	// port or container name is held by another installation.
	BeginInstall(ctx context.Context, inst Installation, run Run) error
	// Installation returns the installation called name. Returns ENOTFOUND
	// if there is none or it was uninstalled.
	Installation(ctx context.Context, name string) (Installation, error)
	// ReservedPorts returns the host ports reserved on any of nodes (Swarm
	// node IDs; "" is the single host) with their installation; with no
	// nodes, on every node (a port reserved on two nodes appears once).
	ReservedPorts(ctx context.Context, nodes ...string) (map[int]string, error)
	// Installations lists every installation but uninstalled ones, by name.
	Installations(ctx context.Context) ([]Installation, error)
}

// Runs stores runs and moves installations through their states.
type Runs interface {
	// BeginRun inserts an active run for an existing installation and sets
	// its state. Returns ErrRunInProgress (wrapped in ECONFLICT) when the
	// installation already has an active run.
	BeginRun(ctx context.Context, run Run, state State) error
	// FinishRun writes run's result and moves its installation to state
	// with reason. With release, the installation's port and name
	// reservations are deleted. Outputs are stored on the installation when
	// state is running.
	FinishRun(ctx context.Context, run Run, state State, reason string, release bool) error
	// ActiveRuns returns the runs without a result (after a crash: to resolve).
	ActiveRuns(ctx context.Context) ([]Run, error)
	// Run returns run id. Returns ENOTFOUND if there is none.
	Run(ctx context.Context, id string) (Run, error)
	// Runs returns the installation's runs, newest first, at most limit
	// (an installation without runs has none: no error).
	Runs(ctx context.Context, installation string, limit int) ([]Run, error)
	// LastOutputs returns, per output name, the value of the installation's
	// most recent run that produced it, sensitive ones opened.
	LastOutputs(ctx context.Context, installation string) (map[string][]byte, error)
	// LastParameters returns the parameters of the installation's most
	// recent succeeded install or upgrade run, its secrets opened and
	// merged in.
	LastParameters(ctx context.Context, installation string) (map[string]any, error)
}

// Sealer seals secrets at rest.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// NotRunning returns the observed containers that are not running, and
// false when nothing is observed.
func (i Installation) NotRunning() ([]Container, bool) {
	if !i.ObservedKnown {
		return nil, false
	}
	var out []Container
	seen := map[string]bool{}
	for _, c := range i.Observed {
		seen[c.Name] = true
		if c.State != "running" {
			out = append(out, c)
		}
	}
	for _, n := range i.Containers { // reserved but gone: removed by hand
		if !seen[n] {
			out = append(out, Container{Name: n, State: "missing"})
		}
	}
	return out, true
}

// Condition is how an installation looks to a person: its recorded state,
// or "stopped" when the host shows some of its containers not running
// (stopped or removed by hand, or a stop action), or "unreachable" when
// it runs on a Swarm node that is lost, and a few words why.
// Every client (API, seed endpoints, CLI, console) shows this one answer.
type Condition struct {
	// State is the recorded state, ConditionStopped or
	// ConditionUnreachable.
	State string
	// Running tells whether the app is up: recorded running and every
	// container observed running (or nothing observed).
	Running bool
	// Detail is the failure's reason, the containers that are down, the
	// run in progress, or the state.
	Detail string
}

// ConditionStopped is Condition.State of an installation whose containers
// are not all running.
const ConditionStopped = "stopped"

// ConditionUnreachable is Condition.State of an installation recorded
// running on a Swarm node that the manager marks down (it hears no
// heartbeat from it) or no longer has: whatever its containers do there,
// nothing of it can be reached or changed until the node is back.
const ConditionUnreachable = "unreachable"

// NodeRemoved is Installation.NodeState for a node the Swarm no longer
// has.
const NodeRemoved = "removed"

// Condition returns how the installation looks to a person.
func (i Installation) Condition() Condition {
	c := Condition{State: string(i.State), Running: i.State == StateRunning}
	switch i.State {
	case StateFailed:
		c.Detail = i.Reason
	default:
		c.Detail = string(i.State)
	}
	if down, ok := i.NotRunning(); ok && len(down) > 0 {
		parts := make([]string, 0, len(down))
		for _, d := range down {
			parts = append(parts, d.Name+" ("+d.State+")")
		}
		c.State, c.Running = ConditionStopped, false
		c.Detail = "not running: " + strings.Join(parts, ", ")
	}
	if i.Unreachable() {
		c.State, c.Running = ConditionUnreachable, false
		c.Detail = fmt.Sprintf("node %s is %s: the app cannot be reached", cmp.Or(i.Node.Hostname, i.Node.NodeID), i.NodeState)
		if i.NodeMessage != "" {
			c.Detail += " (" + i.NodeMessage + ")"
		}
	}
	if i.Active != "" && i.State == StateRunning {
		c.Detail = string(i.Active) + " in progress"
	}
	return c
}

// Unreachable tells whether the installation runs on a Swarm node the
// manager does not hear from (down, disconnected) or no longer has.
func (i Installation) Unreachable() bool {
	return i.State == StateRunning && i.Node.OnSwarm() && i.NodeState != "" && i.NodeState != NodeReady
}

// Upgrades tells whether the catalog's app a is a newer version of what
// the installation runs.
func (a App) Upgrades(i Installation) bool {
	return a.Name == i.App && NewerVersion(a.Version, i.Version)
}
