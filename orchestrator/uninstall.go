package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/websoft9/stackhub/orchestrator/failpoint"
)

// UninstallRequest asks to remove an installation.
type UninstallRequest struct {
	Name string
	// Purge removes the app's volumes too; without it they are kept.
	Purge bool
}

// UninstallResult says what went.
type UninstallResult struct {
	Installation Installation
	Removed      Removed
}

// Uninstall runs the bundle's uninstall action, then removes anything
// labelled with the app that is still on the host (volumes only with
// Purge), and releases the ports once Docker shows nothing left. It runs to
// the end even if ctx is cancelled.
//
// Returns EINVALID, ENOTFOUND, EUNAVAILABLE when Docker does not answer,
// ECONFLICT when a run is in progress, and EINTERNAL with a message saying
// what still runs and on which port when containers remain.
func (e *Engine) Uninstall(ctx context.Context, req UninstallRequest) (UninstallResult, error) {
	if err := validateName("appName", req.Name); err != nil {
		return UninstallResult{}, err
	}
	inst, err := e.d.Installations.Installation(ctx, req.Name)
	if err != nil {
		return UninstallResult{}, fmt.Errorf("uninstall %s: %w", req.Name, err)
	}
	if err := e.notReady(ctx); err != nil {
		return UninstallResult{}, err
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return UninstallResult{}, fmt.Errorf("uninstall %s: %w", req.Name, err)
	}
	// The bundle's uninstall sees the values the app was installed or
	// upgraded with (as Porter does), then the ports.
	params, err := e.d.Runs.LastParameters(ctx, inst.Name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return UninstallResult{}, fmt.Errorf("uninstall %s: %w", req.Name, err)
	}
	if params == nil {
		params = map[string]any{}
	}
	for _, p := range inst.Ports {
		params[p.Param] = p.Port
	}
	var sensitive []string
	if app, err := e.d.Catalog.App(ctx, inst.App); err == nil {
		sensitive = app.Sensitive
	}
	run := Run{ID: e.d.NewID(), Installation: inst.Name, Action: ActionUninstall, Revision: e.d.NewID(),
		Status: RunRunning, Created: e.d.Now()}
	run.Parameters, run.Secrets = splitSecrets(params, sensitive)
	if err := e.d.Runs.BeginRun(ctx, run, StateUninstalling); err != nil {
		return UninstallResult{}, fmt.Errorf("uninstall %s: %w", req.Name, err)
	}
	failpoint.Hit(failpoint.UninstallAfterMark)
	ctx = context.WithoutCancel(ctx)
	e.feeds.open(run.ID).add(queued)
	out, closer := e.runOutput(run)
	defer closer.Close()

	before, err := e.d.Host.AppObjects(ctx, inst.Name)
	var runErr string
	if err == nil && inst.State != StateFailed {
		runErr = e.uninstallAction(ctx, inst, req.Purge, &run, out)
	}
	var after Objects
	if err == nil {
		_, err = e.d.Host.RemoveApp(ctx, inst.Name, "", req.Purge)
	}
	if err == nil {
		after, err = e.d.Host.AppObjects(ctx, inst.Name)
	}
	if err == nil && len(after.Containers) > 0 {
		err = Errorf(EINTERNAL, "%s could not be removed: still on the host: %s", inst.Name, describe(after.Containers))
	}
	if err != nil {
		reason := "uninstall failed: " + ErrorMessage(err)
		if runErr != "" {
			reason += " (bundle: " + runErr + ")"
		}
		e.finish(ctx, run, RunFailed, StateFailed, reason, false)
		return UninstallResult{}, fmt.Errorf("uninstall %s: %w", inst.Name, err)
	}
	status := RunSucceeded
	if runErr != "" {
		status = RunFailed
		fmt.Fprintf(out, "stackhub: the bundle's uninstall failed (%s); removed the app's objects directly\n", runErr)
	}
	e.finish(ctx, run, status, StateUninstalled, runErr, true)
	inst.State = StateUninstalled
	return UninstallResult{Installation: inst, Removed: Removed{
		Containers:  minus(before.ContainerNames(), after.ContainerNames()),
		Networks:    minus(before.Networks, after.Networks),
		Volumes:     minus(before.Volumes, after.Volumes),
		KeptVolumes: after.Volumes,
	}}, nil
}

// uninstallAction runs the bundle's uninstall; it returns why it failed, or "".
func (e *Engine) uninstallAction(ctx context.Context, inst Installation, purge bool, run *Run, out *firstError) string {
	app, err := e.d.Catalog.App(ctx, inst.App)
	if err != nil {
		return fmt.Sprintf("app %s is no longer in the catalog", inst.App)
	}
	if app.HasPurge {
		run.Parameters["purge"] = purge
	}
	res, err := e.runAction(ctx, app, *run, out)
	switch {
	case err != nil:
		return ErrorMessage(err)
	case res.Status != RunSucceeded:
		return out.reason(res.Message)
	}
	return ""
}

// minus returns the items of a that are not in b.
func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func describe(cs []Container) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		s := fmt.Sprintf("%s (%s", c.Name, c.State)
		if len(c.Ports) > 0 {
			s += fmt.Sprintf(", port %v", strings.Trim(fmt.Sprint(c.Ports), "[]"))
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}
