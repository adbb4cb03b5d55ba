package orchestrator

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// What the engine tells operators about itself: job completions (for
// metrics), the port pool's use, and whether it is ready to take work.
// None of it imports a metrics library: cmd/stackhub wires a JobObserver
// to one.

// JobEnd is one run that ended: its action, its outcome and how long it
// took from being accepted to its result.
type JobEnd struct {
	Action Action
	// Outcome is succeeded, failed or canceled.
	Outcome RunStatus
	// Duration runs from the run's creation to its result. A run that
	// start-up recovery resolves (Recovered) spans the restart.
	Duration  time.Duration
	Recovered bool
}

// JobObserver is told of every run that ends, once, after its outcome is
// written (or failed to be). JobEnded must be quick and safe for
// concurrent use: it is called from the job's goroutine.
type JobObserver interface {
	JobEnded(JobEnd)
}

// jobEnded tells the observer, if any, that run ended with status.
func (e *Engine) jobEnded(run Run, status RunStatus, recovered bool) {
	if e.d.JobObserver == nil {
		return
	}
	var d time.Duration
	if !run.Created.IsZero() && run.Finished.After(run.Created) {
		d = run.Finished.Sub(run.Created)
	}
	e.d.JobObserver.JobEnded(JobEnd{Action: run.Action, Outcome: status, Duration: d, Recovered: recovered})
}

// PortPool is the use of the host ports StackHub hands out.
type PortPool struct {
	// Reserved is how many host ports the ledger holds for installations,
	// on every node: a port held on two Swarm nodes counts twice.
	Reserved int
	// Size is how many distinct ports the catalog's port parameters may
	// be given: the union of their ranges.
	Size int
}

// PortPool returns the port ledger's use against the catalog's ranges: one
// store read and the catalog in memory.
func (e *Engine) PortPool(ctx context.Context) (PortPool, error) {
	// ReservedPorts without a node merges the nodes' ledgers by port:
	// count each node's, the single host's and those of the nodes the
	// installations are placed on.
	list, err := e.d.Installations.Installations(ctx)
	if err != nil {
		return PortPool{}, fmt.Errorf("port pool: %w", err)
	}
	nodes := map[string]bool{"": true}
	for _, inst := range list {
		nodes[inst.Node.NodeID] = true
	}
	reserved := 0
	for node := range nodes {
		ports, err := e.d.Installations.ReservedPorts(ctx, node)
		if err != nil {
			return PortPool{}, fmt.Errorf("port pool: %w", err)
		}
		reserved += len(ports)
	}
	apps, err := e.d.Catalog.Apps(ctx)
	if err != nil {
		return PortPool{}, fmt.Errorf("port pool: %w", err)
	}
	var ranges [][2]int
	for _, a := range apps {
		for _, p := range a.Ports {
			if p.Min >= 1 && p.Max >= p.Min {
				ranges = append(ranges, [2]int{p.Min, p.Max})
			}
		}
	}
	return PortPool{Reserved: reserved, Size: unionSize(ranges)}, nil
}

// unionSize counts the integers in the union of closed ranges.
func unionSize(ranges [][2]int) int {
	slices.SortFunc(ranges, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	n, end := 0, 0 // end: the highest port counted so far
	for _, r := range ranges {
		if lo := max(r[0], end+1); r[1] >= lo {
			n += r[1] - lo + 1
			end = r[1]
		}
	}
	return n
}

// Readiness check names, as ReadyCheck.Name gives them.
const (
	CheckStore    = "store"
	CheckDocker   = "docker"
	CheckCatalog  = "catalog"
	CheckRecovery = "recovery"
)

// ReadyCheck is one condition of readiness: OK, or the reason it is not.
type ReadyCheck struct {
	Name   string
	OK     bool
	Reason string
}

// Readiness is every check's answer, in a fixed order: store, docker,
// catalog, recovery.
type Readiness []ReadyCheck

// Ready tells whether every check passed.
func (r Readiness) Ready() bool {
	for _, c := range r {
		if !c.OK {
			return false
		}
	}
	return true
}

// StorePinger is implemented by an Installations store that can say it
// answers with a cheap query; Readiness asks it, and skips the check for
// a store without it.
type StorePinger interface {
	Ping(ctx context.Context) error
}

// DockerPingTTL is how long Readiness reuses Docker's last answer, so that
// a storm of probes costs dockerd one ping per interval.
const DockerPingTTL = 1500 * time.Millisecond

// dockerPingTimeout bounds Readiness's Docker ping.
const dockerPingTimeout = 2 * time.Second

// pingCache keeps Docker's last answer to a readiness ping.
type pingCache struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// Readiness says whether the engine can take work: the store answers a
// query, Docker answers a ping (at most one every DockerPingTTL, each
// bounded by two seconds), the catalog answers, and start-up recovery is
// done. Every check runs, so the answer names each one that failed; a
// reason is the error's ErrorMessage (safe to show: readyz is public). Safe
// for concurrent use; concurrent callers share one Docker ping.
func (e *Engine) Readiness(ctx context.Context) Readiness {
	out := make(Readiness, 0, 4)
	check := func(name string, err error) {
		c := ReadyCheck{Name: name, OK: err == nil}
		if err != nil {
			c.Reason = ErrorMessage(err)
		}
		out = append(out, c)
	}
	if p, ok := e.d.Installations.(StorePinger); ok {
		check(CheckStore, p.Ping(ctx))
	} else {
		check(CheckStore, nil)
	}
	check(CheckDocker, e.pingDocker(ctx))
	var catErr error
	if e.d.Catalog == nil {
		catErr = Errorf(EUNAVAILABLE, "no catalog is loaded")
	} else if _, err := e.d.Catalog.Apps(ctx); err != nil {
		catErr = err
	}
	check(CheckCatalog, catErr)
	var recErr error
	if !e.ready.Load() {
		recErr = Errorf(EUNAVAILABLE, "start-up recovery is not done yet (reconciling)")
	}
	check(CheckRecovery, recErr)
	return out
}

// pingDocker returns Docker's answer to a ping, reusing one younger than
// DockerPingTTL. The lock is held across the ping: callers that arrive
// meanwhile wait for it and share its answer.
func (e *Engine) pingDocker(ctx context.Context) error {
	now := e.now()
	e.dockerPing.mu.Lock()
	defer e.dockerPing.mu.Unlock()
	if !e.dockerPing.at.IsZero() && now.Sub(e.dockerPing.at) < DockerPingTTL && now.Sub(e.dockerPing.at) >= 0 {
		return e.dockerPing.err
	}
	pctx, cancel := context.WithTimeout(ctx, dockerPingTimeout)
	defer cancel()
	err := e.d.Host.Ping(pctx)
	if ctx.Err() != nil {
		return err // the caller went away: not Docker's answer, keep none
	}
	e.dockerPing.at, e.dockerPing.err = e.now(), err
	return err
}

// now is the engine's clock, or time.Now without one.
func (e *Engine) now() time.Time {
	if e.d.Now == nil {
		return time.Now()
	}
	return e.d.Now()
}
