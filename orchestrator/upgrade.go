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
// leaves the installation failed with the reason.
//
// Returns EINVALID, ENOTFOUND, EUNAVAILABLE when Docker does not answer,
// and ECONFLICT when a run is in progress or the installation never came up.
func (e *Engine) Upgrade(ctx context.Context, req UpgradeRequest) (Run, error) {
	return e.startAction(ctx, req.Name, ActionUpgrade, req.Parameters)
}

// Action runs a custom action of the installation's bundle as a job and
// returns the run at once. The installation's state is unchanged; the
// run records the outcome.
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
	return e.startAction(ctx, req.Name, req.Action, nil)
}

func (e *Engine) startAction(ctx context.Context, name string, action Action, request map[string]any) (Run, error) {
	if err := validateName("name", name); err != nil {
		return Run{}, err
	}
	inst, err := e.d.Installations.Installation(ctx, name)
	if err != nil {
		return Run{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	if err := e.notReady(ctx); err != nil {
		return Run{}, err
	}
	if inst.State != StateRunning && !(inst.State == StateFailed && len(inst.Ports) > 0) {
		return Run{}, Errorf(ECONFLICT, "%s is %s: only an installed app can run %s (install it again)", name, inst.State, action)
	}
	app, err := e.d.Catalog.App(ctx, inst.App)
	if err != nil {
		return Run{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	if action != ActionUpgrade && !slices.Contains(app.Actions, string(action)) {
		return Run{}, Errorf(EINVALID, "app %s has no action %q (actions: %s)", app.Name, action, strings.Join(app.Actions, ", "))
	}
	for _, p := range app.Ports {
		if inst.Port(p.Name) == 0 {
			return Run{}, Errorf(EINVALID, "%s %s: version %s adds port parameter %s, which has no reserved port: uninstall and install again", action, name, app.Version, p.Name)
		}
	}
	for k := range request {
		if !slices.Contains(app.Settable, k) {
			return Run{}, Errorf(EINVALID, "parameter %q cannot be set on %s (settable: %s)", k, app.Name, strings.Join(app.Settable, ", "))
		}
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return Run{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	params, err := e.d.Runs.LastParameters(ctx, name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return Run{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	if params == nil {
		params = map[string]any{}
	}
	delete(params, "purge")
	for k, v := range request {
		params[k] = v
	}
	for _, p := range inst.Ports {
		params[p.Param] = p.Port
	}
	run := Run{ID: e.d.NewID(), Installation: name, Action: action, Revision: e.d.NewID(),
		Status: RunRunning, Parameters: params, Created: e.d.Now()}
	if action == ActionUpgrade {
		run.Version = app.Version
	}
	run.Parameters, run.Secrets = splitSecrets(params, app.Sensitive)
	if err := e.d.Runs.BeginRun(ctx, run, inst.State); err != nil {
		return Run{}, fmt.Errorf("%s %s: %w", action, name, err)
	}
	e.log.Info("run accepted", "installation", name, "action", action, "run", run.ID)
	e.feeds.open(run.ID).add(queued)
	if !e.jobs.Start(ctx, run.ID, func(ctx context.Context) { e.runModify(ctx, app, inst, run) }) {
		e.finish(ctx, run, RunFailed, inst.State, "StackHub is shutting down", false)
		return Run{}, Errorf(EUNAVAILABLE, "StackHub is shutting down")
	}
	return run, nil
}

// runModify is the job of an upgrade or custom action.
func (e *Engine) runModify(ctx context.Context, app App, inst Installation, run Run) {
	out, closer := e.runOutput(run)
	defer closer.Close()
	res, err := e.runAction(ctx, app, run, out)
	status, state, reason := RunSucceeded, inst.State, ""
	switch {
	case err != nil:
		status, reason = RunFailed, ErrorMessage(err)
	case res.Status != RunSucceeded:
		status, reason = res.Status, out.reason(res.Message)
	}
	run.Values = res.Outputs // porter-state is kept even after a failure
	switch {
	case run.Action == ActionUpgrade && status == RunSucceeded:
		state, run.Outputs = StateRunning, res.Visible()
	case run.Action == ActionUpgrade:
		state, reason = StateFailed, "upgrade failed: "+reason
	case status == RunSucceeded:
		reason = inst.Reason // a custom action leaves the installation as it was
	default:
		reason = string(run.Action) + " failed: " + reason
	}
	if status != RunSucceeded {
		e.log.Warn("run failed", "installation", inst.Name, "action", run.Action, "run", run.ID, "reason", reason)
	}
	e.finish(ctx, run, status, state, reason, false)
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
