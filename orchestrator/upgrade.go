package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// UpgradeRequest asks to upgrade an installation to its app's catalog version.
type UpgradeRequest struct {
	Name string
	// Parameters override stored values; they are kept for later runs.
	// Port parameters cannot be set: the installation keeps its ports.
	Parameters map[string]any
}

// ActionRequest asks to run a custom action (start, stop, restart, …).
type ActionRequest struct {
	Name string
	// Action is a custom action (ParseAction makes one from text).
	Action Action
}

// Upgrade runs the bundle's upgrade action on an installation as a job and
// returns the run at once. The installation keeps its ports; parameters
// come in Porter's order (earlier outputs by parameter source, the last
// successful run's values). A failed upgrade keeps ports and volumes and
// leaves the installation failed with the reason. Its steps are
// upgradeLifecycle's.
//
// Returns EINVALID, ENOTFOUND, EUNAVAILABLE when Docker does not answer,
// and ECONFLICT when a run is in progress or the installation never came up.
func (e *Engine) Upgrade(ctx context.Context, req UpgradeRequest) (Run, error) {
	r := &runState{name: req.Name, action: ActionUpgrade, request: req.Parameters}
	acc, err := e.start(ctx, e.upgradeLifecycle(), r)
	if err != nil {
		return Run{}, err
	}
	return acc.run, nil
}

// Action runs a custom action of the installation's bundle as a job and
// returns the run at once. The installation's state is unchanged; the
// run records the outcome. Its steps are customActionLifecycle's.
//
// Returns EINVALID for a bad name or an action the bundle does not have,
// ENOTFOUND, EUNAVAILABLE, and ECONFLICT when a run is in progress.
func (e *Engine) Action(ctx context.Context, req ActionRequest) (Run, error) {
	if _, err := ParseAction(string(req.Action)); err != nil {
		return Run{}, err
	}
	if !req.Action.Custom() {
		return Run{}, Errorf(EINVALID, "%s is not a custom action: use the %s endpoint", req.Action, req.Action)
	}
	r := &runState{name: req.Name, action: req.Action}
	acc, err := e.start(ctx, e.customActionLifecycle(), r)
	if err != nil {
		return Run{}, err
	}
	return acc.run, nil
}

// upgradeLifecycle is the steps of an upgrade (see run_lifecycle.go).
func (e *Engine) upgradeLifecycle() *lifecycle {
	return &lifecycle{
		kind: "upgrade",
		prepare: []step{
			{"check installation", e.checkModify},
			{"check permissions granted", e.checkGranted},
			{"resolve parameters", e.modifyParameters},
		},
		reserve: []step{{"begin run", e.beginModify}},
		act: []step{
			{"back up before upgrading", e.preUpgradeBackup},
			{"run action", e.actUpgrade},
		},
		record:     []step{{"record outcome", e.recordModify}},
		compensate: []step{{"roll back", e.rollBack}},
	}
}

// customActionLifecycle is the steps of a custom action (see
// run_lifecycle.go).
func (e *Engine) customActionLifecycle() *lifecycle {
	return &lifecycle{
		kind: "action",
		prepare: []step{
			{"check installation", e.checkModify},
			{"look up permissions granted", e.lookupGranted},
			{"resolve parameters", e.modifyParameters},
		},
		reserve: []step{{"begin run", e.beginModify}},
		act:     []step{{"run action", e.act}},
		record:  []step{{"record outcome", e.recordModify}},
	}
}

// checkModify checks that r.action can run on the installation: it is
// installed, its app still has the action and no new port parameter, the
// request sets only settable parameters, and Docker answers.
func (e *Engine) checkModify(ctx context.Context, r *runState) error {
	name, action := r.name, r.action
	if err := validateName("name", name); err != nil {
		return err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	if err := e.notReady(ctx); err != nil {
		return err
	}
	if inst.State != StateRunning && !(inst.State == StateFailed && len(inst.Ports) > 0) {
		return Errorf(ECONFLICT, "%s is %s: only an installed app can run %s (install it again)", name, inst.State, action)
	}
	app, err := e.d.Catalog.App(ctx, inst.App)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	if action != ActionUpgrade && !slices.Contains(app.Actions, string(action)) {
		return Errorf(EINVALID, "app %s has no action %q (actions: %s)", app.Name, action, strings.Join(app.Actions, ", "))
	}
	for _, p := range app.Ports {
		if inst.Port(p.Name) == 0 {
			return Errorf(EINVALID, "%s %s: version %s adds port parameter %s, which has no reserved port: uninstall and install again", action, name, app.Version, p.Name)
		}
	}
	if len(r.request) > 0 {
		bun, err := e.bundle(ctx, app)
		if err != nil {
			return fmt.Errorf("%s %s: %w", action, name, err)
		}
		if r.request, err = CheckParameters(bun, app, action, r.request); err != nil {
			return err
		}
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	r.inst, r.app = inst, app
	return nil
}

// modifyParameters builds the run: the last successful run's values, the
// request's, then the ports; sensitive values kept apart.
func (e *Engine) modifyParameters(ctx context.Context, r *runState) error {
	params, err := e.d.Runs.LastParameters(ctx, r.name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return fmt.Errorf("%s %s: %w", r.action, r.name, err)
	}
	if params == nil {
		params = map[string]any{}
	}
	delete(params, "purge")
	for k, v := range r.request {
		params[k] = v
	}
	if a := r.app.Web.Address; a != "" {
		// Published on the loopback while the gateway serves a domain of
		// the app, on every address else. On a Swarm node always on every
		// address: Swarm cannot publish on a loopback, the gateway reaches
		// the app at its node's address (see upstream).
		params[a] = AnyAddress
		if e.d.Domains != nil && !r.inst.Node.OnSwarm() {
			ds, err := e.d.Domains.Domains(ctx, r.name, false)
			if err != nil {
				return fmt.Errorf("%s %s: %w", r.action, r.name, err)
			}
			if len(ds) > 0 {
				params[a] = LoopbackAddress
			}
		}
	}
	for _, p := range r.inst.Ports {
		params[p.Param] = p.Port
	}
	run := Run{ID: e.d.NewID(), Installation: r.name, Action: r.action, Revision: e.d.NewID(),
		Status: RunRunning, Created: e.d.Now()}
	if r.action == ActionUpgrade {
		run.Version, run.Digest = r.app.Version, r.app.Digest
	}
	run.Parameters, run.Secrets = splitSecrets(params, r.app.Sensitive)
	r.run = run
	return nil
}

// beginModify records the run; one that never runs leaves the
// installation as it was.
func (e *Engine) beginModify(ctx context.Context, r *runState) error {
	if err := e.d.Runs.BeginRun(ctx, r.run, r.inst.State); err != nil {
		return fmt.Errorf("%s %s: %w", r.action, r.name, err)
	}
	r.state, r.release = r.inst.State, false
	return nil
}

// recordModify records an upgrade's or a custom action's outcome. An
// upgrade that succeeds leaves the installation running with its new
// outputs, one that fails leaves it failed; a custom action leaves the
// installation as it was. Outputs (porter-state) are kept even after a
// failure.
func (e *Engine) recordModify(ctx context.Context, r *runState) error {
	status, state, reason := RunSucceeded, r.inst.State, ""
	switch {
	case r.err != nil:
		status, reason = RunFailed, ErrorMessage(r.err)
	case r.res.Status != RunSucceeded:
		status, reason = r.res.Status, r.out.reason(r.res.Message)
	}
	r.run.Values = r.res.Outputs
	switch {
	case r.run.Action == ActionUpgrade && status == RunSucceeded:
		state, r.run.Outputs = StateRunning, r.res.Visible()
		e.keepBundle(ctx, r.app)
	case r.run.Action == ActionUpgrade:
		state, reason = StateFailed, "upgrade failed: "+reason
	case status == RunSucceeded:
		reason = r.inst.Reason // a custom action leaves the installation as it was
	default:
		reason = string(r.run.Action) + " failed: " + reason
	}
	if status != RunSucceeded {
		e.log.Warn("run failed", "installation", r.inst.Name, "action", r.run.Action, "run", r.run.ID, "reason", reason)
	}
	r.status, r.state, r.reason, r.release = status, state, reason, false
	return nil
}

// Run returns run id (a job). Returns EINVALID or ENOTFOUND.
func (e *Engine) Run(ctx context.Context, id string) (Run, error) {
	if err := validateName("job", id); err != nil {
		return Run{}, err
	}
	return e.d.Runs.Run(ctx, id)
}

// MaxRunsLimit bounds one page of an installation's run history.
const MaxRunsLimit = 500

// Runs returns the runs of installation name, newest first, at most limit
// (1…MaxRunsLimit). Parameters are the non-sensitive ones, outputs the
// visible ones, as Run gives them.
//
// Returns EINVALID for a bad name or limit and ENOTFOUND when there is no
// such installation.
func (e *Engine) Runs(ctx context.Context, name string, limit int) ([]Run, error) {
	if err := validateName("appName", name); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxRunsLimit {
		return nil, Errorf(EINVALID, "limit must be between 1 and %d", MaxRunsLimit)
	}
	if _, err := e.d.Installations.Installation(ctx, name); err != nil {
		return nil, fmt.Errorf("runs of %s: %w", name, err)
	}
	runs, err := e.d.Runs.Runs(ctx, name, limit)
	if err != nil {
		return nil, fmt.Errorf("runs of %s: %w", name, err)
	}
	return runs, nil
}

// splitSecrets moves the values of sensitive parameters out of params.
func splitSecrets(params map[string]any, sensitive []string) (plain, secrets map[string]any) {
	plain, secrets = map[string]any{}, map[string]any{}
	for k, v := range params {
		if slices.Contains(sensitive, k) {
			secrets[k] = v
		} else {
			plain[k] = v
		}
	}
	return plain, secrets
}
