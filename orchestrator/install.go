package orchestrator

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/cnabio/cnab-go/bundle"

	"github.com/websoft9/stackhub/orchestrator/failpoint"
)

// InstallRequest asks for one app.
type InstallRequest struct {
	// App is the catalog name.
	App string
	// Name is the instance name; empty means App.
	Name string
	// Force skips the preflight check of the app's requirements.
	Force bool
	// Reference, instead of App, names a bundle in an OCI registry
	// (REGISTRY/REPO:TAG or @sha256:…): it is pulled, verified and added
	// to the catalog under its bundle name, then installed.
	Reference string
}

// Install validates req, reserves the installation, its ports and container
// names in one transaction, starts the CNAB install as a job and returns at
// once with the reserved installation (state installing).
//
// Returns EINVALID for a bad name, ENOTFOUND for an unknown app,
// EUNAVAILABLE when Docker does not answer, and ECONFLICT when the name is
// installed, a container of that name exists or no port is free.
func (e *Engine) Install(ctx context.Context, req InstallRequest) (Installation, error) {
	if req.Reference != "" && req.App != "" {
		return Installation{}, Errorf(EINVALID, "give appName or reference, not both")
	}
	if req.Name != "" {
		if err := validateName("name", req.Name); err != nil {
			return Installation{}, err
		}
	}
	var app App
	if req.Reference != "" {
		// The bundle the reference names, even when the catalog shows a
		// newer version of it.
		pulled, err := e.PullBundle(ctx, req.Reference)
		if err != nil {
			return Installation{}, fmt.Errorf("install %s: %w", req.Reference, err)
		}
		app, req.App = pulled, pulled.Name
	}
	if err := validateName("appName", req.App); err != nil {
		return Installation{}, err
	}
	if req.Name == "" {
		req.Name = req.App // checked just above
	}
	if req.Reference == "" {
		var err error
		if app, err = e.d.Catalog.App(ctx, req.App); err != nil {
			return Installation{}, fmt.Errorf("install %s: %w", req.Name, err)
		}
	}
	if err := e.notReady(ctx); err != nil {
		return Installation{}, err
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return Installation{}, fmt.Errorf("install %s: %w", req.Name, err)
	}
	if !req.Force && e.d.Stats != nil {
		sample, sampled := e.d.Stats.Latest()
		if err := Preflight(app, sample, sampled); err != nil {
			return Installation{}, fmt.Errorf("install %s: %w", req.Name, err)
		}
	}
	if cur, err := e.d.Installations.Installation(ctx, req.Name); err == nil && cur.State.Live() {
		return Installation{}, Errorf(ECONFLICT, "%s already exists (state %s)", req.Name, cur.State)
	}
	names := ContainerNames(req.Name, app)
	existing, err := e.d.Host.ExistingContainers(ctx, names)
	if err != nil {
		return Installation{}, fmt.Errorf("install %s: %w", req.Name, err)
	}
	if len(existing) > 0 {
		return Installation{}, Errorf(ECONFLICT, "%s already exists: container %s is on the host", req.Name, strings.Join(existing, ", "))
	}

	inst, run, err := e.reserve(ctx, req.Name, app)
	if err != nil {
		return Installation{}, fmt.Errorf("install %s: %w", req.Name, err)
	}
	failpoint.Hit(failpoint.InstallAfterCommit)
	e.log.Info("install accepted", "installation", inst.Name, "app", app.Name, "run", run.ID, "ports", inst.Ports)
	e.feeds.open(run.ID).add(queued)
	if !e.jobs.Start(ctx, run.ID, func(ctx context.Context) { e.runInstall(ctx, app, inst, run) }) {
		err := Errorf(EUNAVAILABLE, "StackHub is shutting down")
		e.finish(ctx, run, RunFailed, StateFailed, err.Message, true)
		return Installation{}, err
	}
	return inst, nil
}

// PullBundle adds the bundle at ref to the catalog (see BundleSource).
func (e *Engine) PullBundle(ctx context.Context, ref string) (App, error) {
	if e.d.Bundles == nil {
		return App{}, Errorf(EINVALID, "this server does not take bundles by reference")
	}
	return e.d.Bundles.Resolve(ctx, ref)
}

// ImportBundle adds the bundle of a CNAB archive to the catalog.
func (e *Engine) ImportBundle(ctx context.Context, archive io.Reader) (App, error) {
	if e.d.Bundles == nil {
		return App{}, Errorf(EINVALID, "this server does not import bundle archives")
	}
	return e.d.Bundles.Import(ctx, archive)
}

// reserve observes, plans and records the installation with its ports,
// under e.reserving: no other install plans between this one's observing
// and recording, so none can take the ports it planned.
func (e *Engine) reserve(ctx context.Context, name string, app App) (Installation, Run, error) {
	e.reserving.Lock()
	defer e.reserving.Unlock()
	reserved, err := e.d.Installations.ReservedPorts(ctx)
	if err != nil {
		return Installation{}, Run{}, err
	}
	busy, err := e.d.Host.BusyPorts(ctx)
	if err != nil {
		return Installation{}, Run{}, err
	}
	plan, err := PlanInstall(name, app, Observed{Reserved: reserved, HostBusy: busy})
	if err != nil {
		return Installation{}, Run{}, err
	}
	now := e.d.Now()
	inst := Installation{Name: name, App: app.Name, Version: app.Version, State: StateInstalling,
		Ports: plan.Ports, Containers: plan.Containers, Created: now, Updated: now}
	run := Run{ID: e.d.NewID(), Installation: name, Action: plan.Action, Revision: e.d.NewID(),
		Status: RunRunning, Parameters: plan.Parameters, Created: now, Version: app.Version}
	if secrets := generateSecrets(app); len(secrets) > 0 {
		run.Secrets = secrets
	}
	inst.LastRunID = run.ID
	if err := e.d.Installations.BeginInstall(ctx, inst, run); err != nil {
		return Installation{}, Run{}, err
	}
	return inst, run, nil
}

// runInstall is the install job: build, run the CNAB action, record. A
// failed install removes what its run created and releases its ports.
func (e *Engine) runInstall(ctx context.Context, app App, inst Installation, run Run) {
	out, closer := e.runOutput(run)
	defer closer.Close()
	res, err := e.runAction(ctx, app, run, out)
	if err == nil && res.Status == RunSucceeded {
		run.Outputs, run.Values = res.Visible(), res.Outputs
		e.finish(ctx, run, RunSucceeded, StateRunning, "", false)
		return
	}
	reason := out.reason(res.Message)
	if err != nil {
		reason = ErrorMessage(err)
	}
	status := RunFailed
	if ctx.Err() != nil {
		status, reason = RunCanceled, "canceled: "+reason
	}
	e.log.Warn("install failed", "installation", inst.Name, "run", run.ID, "reason", reason)
	fmt.Fprintf(out, "stackhub: install failed: %s\nstackhub: removing what the run created\n", reason)
	cctx := context.WithoutCancel(ctx)
	removed, cerr := e.d.Host.RemoveApp(cctx, inst.Name, run.Revision, false)
	fmt.Fprintf(out, "stackhub: removed containers %v, networks %v, volumes %v\n", removed.Containers, removed.Networks, removed.Volumes)
	if cerr != nil {
		// Keep the reservations: the host may still hold what the run made.
		e.log.Error("cleanup after a failed install", "installation", inst.Name, "run", run.ID, "err", cerr)
		e.finish(ctx, run, status, StateFailed, fmt.Sprintf("%s; cleanup failed: %s", reason, ErrorMessage(cerr)), false)
		return
	}
	e.finish(ctx, run, status, StateFailed, reason, true)
}

// runAction builds the bundle, resolves parameters (earlier outputs by
// parameter source, then the run's own) and runs the CNAB action.
func (e *Engine) runAction(ctx context.Context, app App, run Run, out interface{ Write([]byte) (int, error) }) (RunResult, error) {
	bun, err := e.bundle(ctx, app)
	if err != nil {
		return RunResult{}, err
	}
	outputs, err := e.d.Runs.LastOutputs(ctx, run.Installation)
	if err != nil {
		return RunResult{}, fmt.Errorf("%s %s: earlier outputs: %w", run.Action, run.Installation, err)
	}
	params := resolveParameters(bun, string(run.Action), outputs, run.Parameters, run.Secrets)
	return e.d.Runner.Run(ctx, RunRequest{RunID: run.ID, Revision: run.Revision, Installation: run.Installation,
		Action: run.Action, Bundle: bun, Parameters: params, Relocation: relocation(app, bun, e.d.Relocation), Out: out})
}

// relocation is what a run of app's bundle gets: where a pulled or
// imported bundle's images are, overridden by the operator's mapping.
func relocation(app App, bun *bundle.Bundle, operator map[string]string) map[string]string {
	out := relocationFor(bun, operator)
	if len(app.Relocation) == 0 {
		return out
	}
	merged := maps.Clone(app.Relocation)
	maps.Copy(merged, out)
	return merged
}

// relocationFor returns the entries of mapping that name bun's images or
// invocation images, nil when there are none.
func relocationFor(bun *bundle.Bundle, mapping map[string]string) map[string]string {
	var out map[string]string
	add := func(ref string) {
		if to, ok := mapping[ref]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[ref] = to
		}
	}
	for _, img := range bun.Images {
		add(img.Image)
	}
	for _, img := range bun.InvocationImages {
		add(img.Image)
	}
	return out
}

func (e *Engine) bundle(ctx context.Context, app App) (*bundle.Bundle, error) {
	if app.Bundle != nil {
		return app.Bundle, nil
	}
	bun, err := e.d.Builder.Bundle(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("build bundle %s: %w", app.Name, err)
	}
	return bun, nil
}

// finish records a run's outcome even when ctx was cancelled.
func (e *Engine) finish(ctx context.Context, run Run, status RunStatus, state State, reason string, release bool) {
	run.Status, run.Message, run.Finished = status, reason, e.d.Now()
	if e.d.Observer != nil && state == StateRunning {
		// The view of the containers catches up before the state says running.
		if err := e.d.Observer.Refresh(context.WithoutCancel(ctx), run.Installation); err != nil {
			e.log.Warn("refresh the container view", "installation", run.Installation, "err", err)
		}
	}
	if f := e.feeds.get(run.ID); f != nil {
		defer f.end(stageOf(status), reason)
	}
	failpoint.Hit(failpoint.RunBeforeResult)
	if err := e.d.Runs.FinishRun(context.WithoutCancel(ctx), run, state, reason, release); err != nil {
		e.log.Error("record run result", "run", run.ID, "installation", run.Installation, "err", err)
		return
	}
	e.log.Info("run finished", "run", run.ID, "installation", run.Installation, "action", run.Action, "status", status, "state", state)
}
