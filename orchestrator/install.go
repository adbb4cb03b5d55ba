package orchestrator

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

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
	// Parameters are values for the bundle's parameters, checked against
	// its definitions (CheckParameters); a port parameter asks for that
	// host port. Generated secrets fill the sensitive ones left out.
	Parameters map[string]any
	// Node places the install on this Swarm node (its ID or hostname);
	// empty lets StackHub pick one when the engine is a Swarm manager
	// (placement.go). A node given to an engine that is not a manager is
	// refused.
	Node string
}

// Install validates req, reserves the installation, its ports and container
// names in one transaction, starts the CNAB install as a job and returns at
// once with the reserved installation (state installing). Its steps are
// installLifecycle's.
//
// Returns EINVALID for a bad name, ENOTFOUND for an unknown app,
// EUNAVAILABLE when Docker does not answer, and ECONFLICT when the name is
// installed, a container of that name exists or no port is free.
func (e *Engine) Install(ctx context.Context, req InstallRequest) (Installation, error) {
	r := &runState{name: req.Name, appName: req.App, reference: req.Reference, force: req.Force, request: req.Parameters, node: req.Node}
	acc, err := e.start(ctx, e.installLifecycle(), r)
	if err != nil {
		return Installation{}, err
	}
	return acc.inst, nil
}

// installLifecycle is the steps of an install (see run_lifecycle.go).
func (e *Engine) installLifecycle() *lifecycle {
	return &lifecycle{
		kind: "install",
		prepare: []step{
			{"resolve app", e.resolveInstallApp},
			{"check parameters", e.checkInstallParameters},
			{"check permissions granted", e.checkGranted},
			{"place on a node", e.placeInstall},
			{"check host", e.checkInstall},
		},
		reserve:    []step{{"reserve installation, ports and names", e.reserveInstall}},
		failpoint:  failpoint.InstallAfterCommit,
		act:        []step{{"run action", e.act}},
		record:     []step{{"record outcome", e.recordInstall}},
		compensate: []step{{"remove what the run created", e.removeFailedInstall}},
	}
}

// resolveInstallApp checks the names and finds the app: in the catalog, or
// pulled by reference.
func (e *Engine) resolveInstallApp(ctx context.Context, r *runState) error {
	if r.reference != "" && r.appName != "" {
		return Errorf(EINVALID, "give appName or reference, not both")
	}
	if r.name != "" {
		if err := validateName("name", r.name); err != nil {
			return err
		}
	}
	if r.reference != "" {
		// The bundle the reference names, even when the catalog shows a
		// newer version of it.
		pulled, err := e.PullBundle(ctx, r.reference, AddOptions{})
		if err != nil {
			return fmt.Errorf("install %s: %w", r.reference, err)
		}
		r.app, r.appName = pulled, pulled.Name
	}
	if err := validateName("appName", r.appName); err != nil {
		return err
	}
	if r.name == "" {
		r.name = r.appName // checked just above
	}
	if r.reference == "" {
		app, err := e.d.Catalog.App(ctx, r.appName)
		if err != nil {
			return fmt.Errorf("install %s: %w", r.name, err)
		}
		r.app = app
	}
	return nil
}

// checkInstallParameters checks the request's parameter values against
// the bundle's definitions, all at once (CheckParameters).
func (e *Engine) checkInstallParameters(ctx context.Context, r *runState) error {
	if len(r.request) == 0 {
		return nil
	}
	bun, err := e.bundle(ctx, r.app)
	if err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	checked, err := CheckParameters(bun, r.app, ActionInstall, r.request)
	if err != nil {
		return err
	}
	r.request = checked
	return nil
}

// checkInstall checks that the install can go ahead: recovery done, Docker
// answering, the host meeting the app's requirements (unless forced), the
// name free in the store and on the host.
func (e *Engine) checkInstall(ctx context.Context, r *runState) error {
	if err := e.notReady(ctx); err != nil {
		return err
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	if !r.force && e.d.Stats != nil && !r.place.OnSwarm() {
		// (On a Swarm, placement checked the node's figures instead.)
		sample, sampled := e.d.Stats.Latest()
		if err := Preflight(r.app, sample, sampled); err != nil {
			return fmt.Errorf("install %s: %w", r.name, err)
		}
	}
	if cur, err := e.d.Installations.Installation(ctx, r.name); err == nil && cur.State.Live() {
		return Errorf(ECONFLICT, "%s already exists (state %s)", r.name, cur.State)
	}
	names := ContainerNames(r.name, r.app)
	existing, err := e.d.Host.ExistingContainers(ctx, names)
	if err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	if len(existing) > 0 {
		return Errorf(ECONFLICT, "%s already exists: container %s is on the host", r.name, strings.Join(existing, ", "))
	}
	return nil
}

// reserveInstall records the installation with its ports, names and run.
// An install that never runs leaves it failed with its ports released.
func (e *Engine) reserveInstall(ctx context.Context, r *runState) error {
	e.reserving.Lock()
	defer e.reserving.Unlock()
	if err := e.placeAgain(ctx, r); err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	inst, run, err := e.reserve(ctx, r.name, r.app, r.request, r.action, r.place, r.localNode)
	if err != nil {
		return fmt.Errorf("install %s: %w", r.name, err)
	}
	r.inst, r.run = inst, run
	r.state, r.release = StateFailed, true
	return nil
}

// PullBundle adds the bundle at ref to the catalog (see BundleSource).
// Returns ECONFLICT when the catalog holds the same name and version with
// another digest, unless opts.Force.
func (e *Engine) PullBundle(ctx context.Context, ref string, opts AddOptions) (App, error) {
	if e.d.Bundles == nil {
		return App{}, Errorf(EINVALID, "this server does not take bundles by reference")
	}
	return e.d.Bundles.Resolve(ctx, ref, opts)
}

// ImportBundle adds the bundle of a CNAB archive to the catalog, as
// PullBundle does.
func (e *Engine) ImportBundle(ctx context.Context, archive io.Reader, opts AddOptions) (App, error) {
	if e.d.Bundles == nil {
		return App{}, Errorf(EINVALID, "this server does not import bundle archives")
	}
	return e.d.Bundles.Import(ctx, archive, opts)
}

// AddBundleDir adds a bundle directory, its files as a tar, to the catalog
// (see BundleSource.AddDir). Returns EINVALID for a bad tar or a bundle
// with lint errors or policy violations, ECONFLICT when its name is an app
// of the catalog directory, or its name and version are in the catalog
// with another digest and opts.Force is not set.
func (e *Engine) AddBundleDir(ctx context.Context, files io.Reader, opts AddOptions) (App, error) {
	if e.d.Bundles == nil {
		return App{}, Errorf(EINVALID, "this server does not add bundle directories")
	}
	return e.d.Bundles.AddDir(ctx, files, opts)
}

// reserve observes, plans and records the installation with its ports.
// The caller holds e.reserving: no other install plans between this one's
// observing and recording, so none can take the ports it planned.
//
// action is the run's action when it is not a plain install (a restore
// into a new installation installs too). place is the Swarm node the
// installation goes on (zero: the single host), local the node StackHub
// runs on: the ports are planned against that node's ledger and what is
// busy there.
func (e *Engine) reserve(ctx context.Context, name string, app App, request map[string]any, action Action, place Placement, local string) (Installation, Run, error) {
	reserved, err := e.d.Installations.ReservedPorts(ctx, ledgerNodes(place, local)...)
	if err != nil {
		return Installation{}, Run{}, err
	}
	busy, err := e.busyPorts(ctx, place, local)
	if err != nil {
		return Installation{}, Run{}, err
	}
	plan, err := PlanInstall(name, app, Observed{Reserved: reserved, HostBusy: busy, Requested: request})
	if err != nil {
		return Installation{}, Run{}, err
	}
	now := e.d.Now()
	inst := Installation{Name: name, App: app.Name, Version: app.Version, State: StateInstalling,
		Ports: plan.Ports, Containers: plan.Containers, Node: place, Created: now, Updated: now}
	run := Run{ID: e.d.NewID(), Installation: name, Action: plan.Action, Revision: e.d.NewID(),
		Status: RunRunning, Parameters: plan.Parameters, Created: now, Version: app.Version, Digest: app.Digest}
	// The request's values, sensitive ones sealed apart; generated
	// secrets fill the sensitive parameters it left out or empty.
	plain, secrets := splitSecrets(request, app.Sensitive)
	if app.Web.Address != "" {
		// A new installation has no domain (a clone's backup may say
		// otherwise): its web port is published on every address.
		plain[app.Web.Address] = AnyAddress
	}
	for k, v := range plain {
		if _, port := plan.Parameters[k]; !port {
			run.Parameters[k] = v
		}
	}
	for k, v := range generateSecrets(app) {
		if given, ok := secrets[k]; !ok || given == "" {
			secrets[k] = v
		}
	}
	if len(secrets) > 0 {
		run.Secrets = secrets
	}
	if action != "" {
		run.Action = action
	}
	inst.LastRunID = run.ID
	if err := e.d.Installations.BeginInstall(ctx, inst, run); err != nil {
		return Installation{}, Run{}, err
	}
	return inst, run, nil
}

// recordInstall records an install's outcome: running with its outputs,
// or failed (canceled) with the reason, its ports to be released once
// removeFailedInstall has cleaned up.
func (e *Engine) recordInstall(ctx context.Context, r *runState) error {
	if r.err == nil && r.res.Status == RunSucceeded {
		r.run.Outputs, r.run.Values = r.res.Visible(), r.res.Outputs
		r.status, r.state, r.reason, r.release = RunSucceeded, StateRunning, "", false
		e.keepBundle(ctx, r.app)
		return nil
	}
	reason := r.out.reason(r.res.Message)
	if r.err != nil {
		reason = ErrorMessage(r.err)
	}
	status := RunFailed
	if ctx.Err() != nil {
		status, reason = RunCanceled, "canceled: "+reason
	}
	e.log.Warn("install failed", "installation", r.inst.Name, "run", r.run.ID, "reason", reason)
	r.status, r.state, r.reason, r.release = status, StateFailed, reason, true
	return nil
}

// removeFailedInstall removes what a failed install's run created. If that
// fails, the reservations are kept: the host may still hold what the run
// made.
func (e *Engine) removeFailedInstall(ctx context.Context, r *runState) error {
	fmt.Fprintf(r.out, "stackhub: install failed: %s\nstackhub: removing what the run created\n", r.reason)
	// An install that failed because dockerd went away is cleaned up when
	// it is back: the removal is tried again, with a growing pause, for
	// up to CleanupRetry.
	limit := e.d.CleanupRetry
	if limit == 0 {
		limit = DefaultCleanupRetry
	}
	deadline := e.d.Now().Add(limit)
	var removed Removed
	var err error
	for pause := 250 * time.Millisecond; ; pause = min(pause*2, 5*time.Second) {
		removed, err = e.d.Host.RemoveApp(context.WithoutCancel(ctx), r.inst.Name, r.run.Revision, false)
		if err == nil || limit < 0 || e.d.Now().Add(pause).After(deadline) {
			break
		}
		fmt.Fprintf(r.out, "stackhub: cleanup failed (%s), trying again in %s\n", ErrorMessage(err), pause)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			deadline = time.Time{} // canceled or shutting down: one last try
		}
	}
	fmt.Fprintf(r.out, "stackhub: removed containers %v, networks %v, volumes %v\n", removed.Containers, removed.Networks, removed.Volumes)
	if err != nil {
		r.reason, r.release = fmt.Sprintf("%s; cleanup failed: %s", r.reason, ErrorMessage(err)), false
		return fmt.Errorf("cleanup after a failed install: %w", err)
	}
	return nil
}

// hostPorts returns the values of app's port parameters among params.
func hostPorts(app App, params map[string]any) []int {
	var out []int
	for _, p := range app.Ports {
		switch v := params[p.Name].(type) {
		case int:
			out = append(out, v)
		case int64:
			out = append(out, int(v))
		case float64:
			out = append(out, int(v))
		}
	}
	return out
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
