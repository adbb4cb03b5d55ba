package orchestrator

import (
	"context"
	"fmt"
	"io"
	"maps"

	"github.com/websoft9/stackhub/orchestrator/failpoint"
)

// Every run — install, upgrade, uninstall and the custom actions — goes
// through one lifecycle, in this order:
//
//	in the request (Engine.start)
//	  1. prepare     check the request, resolve the app and the run's
//	                 parameters; nothing is recorded yet, so an error just
//	                 refuses the request
//	  2. reserve     record the run (an install records its installation,
//	                 ports and container names with it, in one transaction);
//	                 from here the run is in the store and step 7 always
//	                 ends it. The lifecycle's fail point fires here.
//	  3. start       open the job's event feed ("queued") and hand the rest
//	                 to the job manager; the request returns
//	in the job (Engine.execute)
//	  4. act         run the CNAB action (an uninstall also removes what is
//	                 left on the host)
//	  5. record      turn the outcome into the run's status and outputs and
//	                 the installation's state and reason
//	  6. compensate  only when the run did not succeed: undo what it made
//	                 (a failed install removes its objects and frees its ports)
//	  7. finish      write the result, even after a cancel, and end the feed
//
// Each phase is a list of named steps, so a feature hooks in by adding a
// step to a kind's list (a snapshot before an upgrade's action, a route
// after an install's record, a rollback among an upgrade's compensations)
// rather than by a flag. The step names appear in the engine's log.

// Phase names, as the log shows them.
const (
	phasePrepare    = "prepare"
	phaseReserve    = "reserve"
	phaseAct        = "act"
	phaseRecord     = "record"
	phaseCompensate = "compensate"
)

// step is one named step of a run's lifecycle. An error ends its phase:
// in prepare and reserve it refuses the request, in act it is the reason
// the run could not run (runState.err); record and compensate steps set the
// outcome themselves and an error they return is logged.
type step struct {
	name string
	do   func(ctx context.Context, r *runState) error
}

// lifecycle is the steps of one kind of run, by phase.
type lifecycle struct {
	// kind names the lifecycle in the log: install, upgrade, uninstall or
	// action.
	kind    string
	prepare []step
	reserve []step
	// failpoint is the fail point hit once the run is reserved, or "".
	failpoint string
	act       []step
	record    []step
	// compensate runs when the recorded status is not succeeded.
	compensate []step
}

// runState is one run on its way through its lifecycle: what the request
// asked, what prepare resolved, what the action did and the outcome that
// finish writes.
type runState struct {
	// The request.
	name      string // installation name
	appName   string // install: the catalog app
	reference string // install: an OCI reference instead of appName
	force     bool   // install: skip the preflight check
	node      string // install: the Swarm node asked for
	// nodeVolumes are the volumes a purge removed on the app's remote node.
	nodeVolumes []string
	action      Action         // upgrade or a custom action
	request     map[string]any // upgrade: parameters to set
	purge       bool           // uninstall: remove volumes too
	// snap carries a backup's or a restore's repository, record and
	// volumes between its steps.
	snap *snapshotState

	// Resolved by prepare and reserve.
	app App
	// place is where an install goes (placeInstall), localNode the Swarm
	// node StackHub runs on, nodes the Swarm's nodes placeInstall saw.
	place     Placement
	localNode string
	nodes     []Node
	// appErr says why the app could not be found (uninstall goes on
	// without its bundle).
	appErr error
	inst   Installation // as the run found it (install: as reserved)
	run    Run
	// granted are the permissions the run may use beyond the default
	// bundle policy (checkGranted, lookupGranted).
	granted []Permission

	// What the job did.
	out *firstError // the run's output: log file, feed, failure reason
	res RunResult   // the action's result
	err error       // why the action could not run at all
	// bundleErr is why an uninstall's bundle action failed ("" if it did
	// not); the uninstall then removes the app's objects directly.
	bundleErr string
	// before, after and removed are the app's objects around an uninstall.
	before, after Objects
	removed       Removed

	// The outcome finish writes. state and release start as what a run
	// that never ran leaves (reserve sets them); record sets all four.
	status  RunStatus
	state   State
	reason  string
	release bool
	// failure is why an uninstall could not complete (the synchronous
	// Uninstall returns it).
	failure error

	// done is closed once the run is finished.
	done chan struct{}
}

// accepted is a run as the request that started it sees it: a copy taken
// before the job began, which the job does not touch.
type accepted struct {
	inst Installation
	run  Run
}

// start runs the request side of lc for r: prepare, reserve, then the job.
// It returns once the job is started, with the installation and run as
// reserved; r belongs to the job from then on, until r.done is closed. An
// error from prepare or reserve leaves nothing recorded; a job the manager
// refuses (shutdown) is recorded as failed and answered EUNAVAILABLE.
func (e *Engine) start(ctx context.Context, lc *lifecycle, r *runState) (accepted, error) {
	for _, phase := range []struct {
		name  string
		steps []step
	}{{phasePrepare, lc.prepare}, {phaseReserve, lc.reserve}} {
		for _, s := range phase.steps {
			if err := s.do(ctx, r); err != nil {
				e.log.Debug("run refused", "kind", lc.kind, "installation", r.name, "phase", phase.name, "step", s.name, "err", err)
				return accepted{}, err
			}
		}
	}
	if lc.failpoint != "" {
		failpoint.Hit(lc.failpoint)
	}
	e.log.Info("run accepted", "kind", lc.kind, "installation", r.run.Installation, "action", r.run.Action, "run", r.run.ID,
		"app", r.app.Name, "ports", r.inst.Ports)
	r.done = make(chan struct{})
	acc := accepted{inst: r.inst, run: r.run}
	acc.run.Parameters, acc.run.Secrets = maps.Clone(r.run.Parameters), maps.Clone(r.run.Secrets)
	e.feeds.open(r.run.ID).add(queued)
	if !e.jobs.Start(ctx, r.run.ID, func(ctx context.Context) { e.execute(ctx, lc, r) }) {
		err := Errorf(EUNAVAILABLE, "StackHub is shutting down")
		r.status, r.reason, r.failure = RunFailed, err.Message, err
		e.finishRun(ctx, r)
		close(r.done)
		return accepted{}, err
	}
	return acc, nil
}

// execute is the job side of lc for r: act, record, compensate when the
// run did not succeed, finish.
func (e *Engine) execute(ctx context.Context, lc *lifecycle, r *runState) {
	defer close(r.done)
	out, closer := e.runOutput(r.run)
	defer closer.Close()
	r.out = out
	for _, s := range lc.act {
		e.log.Debug("run step", "run", r.run.ID, "phase", phaseAct, "step", s.name)
		if err := s.do(ctx, r); err != nil {
			r.err = err
			e.log.Debug("run step failed", "run", r.run.ID, "phase", phaseAct, "step", s.name, "err", err)
			break
		}
	}
	e.runSteps(ctx, r, phaseRecord, lc.record)
	if r.status != RunSucceeded {
		e.runSteps(ctx, r, phaseCompensate, lc.compensate)
	}
	e.finishRun(ctx, r)
}

// runSteps runs steps in order until one fails, logging the failure.
func (e *Engine) runSteps(ctx context.Context, r *runState, phase string, steps []step) {
	for _, s := range steps {
		e.log.Debug("run step", "run", r.run.ID, "phase", phase, "step", s.name)
		if err := s.do(ctx, r); err != nil {
			e.log.Error("run step failed", "run", r.run.ID, "installation", r.run.Installation, "phase", phase, "step", s.name, "err", err)
			return
		}
	}
}

// finishRun writes r's outcome (step 7).
func (e *Engine) finishRun(ctx context.Context, r *runState) {
	e.finish(ctx, r.run, r.status, r.state, r.reason, r.release)
}

// act runs the app's CNAB action for the run (the act step of install,
// upgrade and the custom actions). A bundle that ran and failed is a result,
// not an error; an error means it could not run.
func (e *Engine) act(ctx context.Context, r *runState) error {
	res, err := e.runAction(ctx, r.app, r.run, r.granted, r.out)
	r.res = res
	return err
}

// runAction builds the bundle, resolves parameters (earlier outputs by
// parameter source, then the run's own) and runs the CNAB action with the
// permissions granted.
func (e *Engine) runAction(ctx context.Context, app App, run Run, granted []Permission, out io.Writer) (RunResult, error) {
	bun, err := e.bundle(ctx, app)
	if err != nil {
		return RunResult{}, err
	}
	outputs, err := e.d.Runs.LastOutputs(ctx, run.Installation)
	if err != nil {
		return RunResult{}, fmt.Errorf("%s %s: earlier outputs: %w", run.Action, run.Installation, err)
	}
	params := resolveParameters(bun, string(run.Action), outputs, run.Parameters, run.Secrets)
	// Every run of an installation placed on a Swarm node acts on that
	// node: an upgrade never moves an app.
	var node string
	if inst, err := e.d.Installations.Installation(ctx, run.Installation); err == nil {
		node = inst.Node.NodeID
	}
	return e.d.Runner.Run(ctx, RunRequest{RunID: run.ID, Revision: run.Revision, Installation: run.Installation,
		Action: run.Action, Bundle: bun, Parameters: params, Relocation: relocation(app, bun, e.d.Relocation),
		HostPorts: hostPorts(app, params), Granted: granted, Node: node, Out: out})
}

// finish records a run's outcome even when ctx was cancelled.
func (e *Engine) finish(ctx context.Context, run Run, status RunStatus, state State, reason string, release bool) {
	run.Status, run.Finished = status, e.d.Now()
	// A run that leaves its installation as it was (a failed backup of a
	// running app) keeps its own message: the installation has no reason.
	if reason != "" || status == RunSucceeded {
		run.Message = reason
	}
	if e.d.Observer != nil && state == StateRunning {
		// The view of the containers catches up before the state says running.
		if err := e.d.Observer.Refresh(context.WithoutCancel(ctx), run.Installation); err != nil {
			e.log.Warn("refresh the container view", "installation", run.Installation, "err", err)
		}
	}
	if e.d.Nodes != nil && state == StateRunning {
		// And the view of its tasks, for an app on another Swarm node.
		if err := e.d.Nodes.Refresh(context.WithoutCancel(ctx), run.Installation); err != nil {
			e.log.Warn("refresh the Swarm tasks view", "installation", run.Installation, "err", err)
		}
	}
	if f := e.feeds.get(run.ID); f != nil {
		defer f.end(stageOf(status), reason)
	}
	failpoint.Hit(failpoint.RunBeforeResult)
	// Before start-up recovery is done, the only runs that end are those
	// it resolves; no job starts until it is.
	defer e.jobEnded(run, status, !e.ready.Load())
	if err := e.d.Runs.FinishRun(context.WithoutCancel(ctx), run, state, reason, release); err != nil {
		e.log.Error("record run result", "run", run.ID, "installation", run.Installation, "err", err)
		return
	}
	e.log.Info("run finished", "run", run.ID, "installation", run.Installation, "action", run.Action, "status", status, "state", state)
	// The gateway reads the app's upstream again (its node and port as
	// recorded now) when the app has a domain.
	if e.d.Domains != nil {
		if ds, err := e.d.Domains.Domains(context.WithoutCancel(ctx), run.Installation, false); err == nil && len(ds) > 0 {
			e.routesChanged()
		}
	}
}
