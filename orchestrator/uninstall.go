package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// StartUninstall marks the installation uninstalling and starts a job that
// runs the bundle's uninstall action, then removes anything labelled with
// the app that is still on the host (volumes only with Purge), and releases
// the ports once Docker shows nothing left. It returns at once with the
// installation as marked (its LastRunID is the job). The job records what
// it removed as its outputs (OutputRemovedContainers, …); canceled
// (CancelJob), it stops before removing more and leaves the installation
// failed with its ports, to be uninstalled again. Its steps are
// uninstallLifecycle's.
//
// Returns EINVALID, ENOTFOUND, EUNAVAILABLE when Docker does not answer,
// and ECONFLICT when a run is in progress.
func (e *Engine) StartUninstall(ctx context.Context, req UninstallRequest) (Installation, error) {
	_, acc, err := e.startUninstall(ctx, req)
	if err != nil {
		return Installation{}, err
	}
	inst := acc.inst
	inst.State, inst.LastRunID, inst.Active = StateUninstalling, acc.run.ID, ActionUninstall
	return inst, nil
}

// Uninstall is StartUninstall that waits for the job's outcome. The job
// goes on if ctx ends first (ctx's error is returned then).
//
// Returns what StartUninstall does, ECONFLICT when the job was canceled,
// and EINTERNAL with a message saying what still runs and on which port
// when containers remain.
func (e *Engine) Uninstall(ctx context.Context, req UninstallRequest) (UninstallResult, error) {
	r, _, err := e.startUninstall(ctx, req)
	if err != nil {
		return UninstallResult{}, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return UninstallResult{}, fmt.Errorf("uninstall %s: the job goes on: %w", req.Name, ctx.Err())
	}
	return r.uninstallResult()
}

func (e *Engine) startUninstall(ctx context.Context, req UninstallRequest) (*runState, accepted, error) {
	r := &runState{name: req.Name, purge: req.Purge}
	acc, err := e.start(ctx, e.uninstallLifecycle(), r)
	return r, acc, err
}

// UninstallResultOf is the outcome of one uninstall among several.
type UninstallResultOf struct {
	Name   string
	Result UninstallResult
	Err    error
}

// MaxParallelUninstalls bounds the uninstall jobs UninstallAll runs at once.
const MaxParallelUninstalls = 4

// UninstallAll uninstalls every installation, at most
// MaxParallelUninstalls jobs at a time, and reports each outcome in the
// list's order; one failure does not stop the others. Once the list is
// read, every app is tried even if ctx ends.
func (e *Engine) UninstallAll(ctx context.Context, purge bool) ([]UninstallResultOf, error) {
	list, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	out := make([]UninstallResultOf, len(list))
	slots := make(chan struct{}, MaxParallelUninstalls)
	var wg sync.WaitGroup
	for i, inst := range list {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			res, err := e.Uninstall(ctx, UninstallRequest{Name: inst.Name, Purge: purge})
			out[i] = UninstallResultOf{Name: inst.Name, Result: res, Err: err}
		})
	}
	wg.Wait()
	return out, nil
}

// The outputs of a completed uninstall run: what it removed and kept, each
// a comma-separated list (ports in decimal), "" when empty.
const (
	OutputRemovedContainers = "removedContainers"
	OutputRemovedNetworks   = "removedNetworks"
	OutputRemovedVolumes    = "removedVolumes"
	OutputKeptVolumes       = "keptVolumes"
	OutputFreedPorts        = "freedPorts"
)

// uninstallOutputs are the outputs recording what an uninstall removed.
func uninstallOutputs(removed Removed, freed []PortBinding) map[string]string {
	ports := make([]string, 0, len(freed))
	for _, p := range freed {
		ports = append(ports, strconv.Itoa(p.Port))
	}
	return map[string]string{
		OutputRemovedContainers: strings.Join(removed.Containers, ","),
		OutputRemovedNetworks:   strings.Join(removed.Networks, ","),
		OutputRemovedVolumes:    strings.Join(removed.Volumes, ","),
		OutputKeptVolumes:       strings.Join(removed.KeptVolumes, ","),
		OutputFreedPorts:        strings.Join(ports, ","),
	}
}

// uninstallResult is what a finished uninstall run removed, or why it
// could not complete.
func (r *runState) uninstallResult() (UninstallResult, error) {
	if r.failure != nil {
		return UninstallResult{}, fmt.Errorf("uninstall %s: %w", r.inst.Name, r.failure)
	}
	inst := r.inst
	inst.State = StateUninstalled
	return UninstallResult{Installation: inst, Removed: r.removed}, nil
}

// uninstallLifecycle is the steps of an uninstall (see run_lifecycle.go).
func (e *Engine) uninstallLifecycle() *lifecycle {
	return &lifecycle{
		kind:      "uninstall",
		prepare:   []step{{"check installation", e.checkUninstall}, {"resolve parameters", e.uninstallParameters}},
		reserve:   []step{{"mark uninstalling", e.beginUninstall}},
		failpoint: failpoint.UninstallAfterMark,
		act: []step{
			{"list the app's objects", e.listAppObjects},
			{"run the bundle's uninstall", e.uninstallBundle},
			{"remove what is left", e.removeAppObjects},
		},
		record: []step{{"record outcome", e.recordUninstall}},
	}
}

// checkUninstall finds the installation and its app (an app gone from the
// catalog is no refusal: its objects are removed without the bundle).
func (e *Engine) checkUninstall(ctx context.Context, r *runState) error {
	if err := validateName("appName", r.name); err != nil {
		return err
	}
	inst, err := e.d.Installations.Installation(ctx, r.name)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", r.name, err)
	}
	if err := e.notReady(ctx); err != nil {
		return err
	}
	if err := e.d.Host.Ping(ctx); err != nil {
		return fmt.Errorf("uninstall %s: %w", r.name, err)
	}
	r.inst = inst
	r.app, r.appErr = e.d.Catalog.App(ctx, inst.App)
	return nil
}

// uninstallParameters builds the run: the bundle's uninstall sees the
// values the app was installed or upgraded with (as Porter does), then the
// ports.
func (e *Engine) uninstallParameters(ctx context.Context, r *runState) error {
	params, err := e.d.Runs.LastParameters(ctx, r.inst.Name)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return fmt.Errorf("uninstall %s: %w", r.name, err)
	}
	if params == nil {
		params = map[string]any{}
	}
	for _, p := range r.inst.Ports {
		params[p.Param] = p.Port
	}
	var sensitive []string
	if r.appErr == nil {
		sensitive = r.app.Sensitive
	}
	r.run = Run{ID: e.d.NewID(), Installation: r.inst.Name, Action: ActionUninstall, Revision: e.d.NewID(),
		Status: RunRunning, Created: e.d.Now()}
	r.run.Parameters, r.run.Secrets = splitSecrets(params, sensitive)
	return nil
}

// beginUninstall records the run and marks the installation uninstalling;
// one that never runs leaves the installation as it was.
func (e *Engine) beginUninstall(ctx context.Context, r *runState) error {
	if err := e.d.Runs.BeginRun(ctx, r.run, StateUninstalling); err != nil {
		return fmt.Errorf("uninstall %s: %w", r.name, err)
	}
	r.state, r.release = r.inst.State, false
	return nil
}

// listAppObjects notes what the host holds of the app before anything is
// removed.
func (e *Engine) listAppObjects(ctx context.Context, r *runState) error {
	before, err := e.d.Host.AppObjects(ctx, r.inst.Name)
	r.before = before
	return err
}

// uninstallBundle runs the bundle's uninstall, unless the installation
// never came up. Its failure is noted, not fatal: what is left is removed
// directly.
func (e *Engine) uninstallBundle(ctx context.Context, r *runState) error {
	if r.inst.State == StateFailed {
		return nil
	}
	if r.appErr != nil {
		r.bundleErr = fmt.Sprintf("app %s is no longer in the catalog", r.inst.App)
		return nil
	}
	if r.app.HasPurge {
		r.run.Parameters["purge"] = r.purge
	}
	// Removing needs nothing beyond the default policy: an uninstall gets
	// no granted permissions.
	res, err := e.runAction(ctx, r.app, r.run, nil, r.out)
	r.res = res
	switch {
	case err != nil:
		r.bundleErr = ErrorMessage(err)
	case res.Status != RunSucceeded:
		r.bundleErr = r.out.reason(res.Message)
	}
	return nil
}

// removeAppObjects removes what is left of the app (volumes only with
// purge) and checks that no container remains. A canceled job stops
// before removing.
func (e *Engine) removeAppObjects(ctx context.Context, r *runState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := e.d.Host.RemoveApp(ctx, r.inst.Name, "", r.purge); err != nil {
		return err
	}
	if r.purge && r.inst.Node.OnSwarm() && e.d.NodeVolumes != nil {
		// On another node the manager's engine holds none of the app's
		// volumes: StackHub's volume helper removes them there.
		removed, err := e.d.NodeVolumes.PurgeVolumes(ctx, r.inst.Node.NodeID, r.inst.Name)
		switch {
		case ErrorCode(err) == EPRECONDITION:
			// A lost node: its volumes stay there, as its containers do
			// until it is back; the log says which and why.
			fmt.Fprintf(r.out, "stackhub: volumes kept on node %s: %s\n", r.inst.Node.Hostname, ErrorMessage(err))
		case err != nil:
			return err
		}
		if len(removed) > 0 {
			r.nodeVolumes = removed
			fmt.Fprintf(r.out, "stackhub: removed volumes %s on node %s\n", strings.Join(removed, ", "), r.inst.Node.Hostname)
		}
	}
	after, err := e.d.Host.AppObjects(ctx, r.inst.Name)
	if err != nil {
		return err
	}
	r.after = after
	if len(after.Containers) > 0 {
		return Errorf(EINTERNAL, "%s could not be removed: still on the host: %s", r.inst.Name, describe(after.Containers))
	}
	return nil
}

// recordUninstall records an uninstall's outcome. When everything is gone
// the installation is uninstalled and its ports released, even if the
// bundle's own uninstall failed (the run then says so); otherwise it is
// failed, keeping its ports, and can be uninstalled again.
func (e *Engine) recordUninstall(ctx context.Context, r *runState) error {
	if r.err != nil {
		reason := "uninstall failed: " + ErrorMessage(r.err)
		status, failure := RunFailed, r.err
		if ctx.Err() != nil {
			status, reason = RunCanceled, "uninstall canceled before everything was removed: uninstall again"
			failure = WrapError(ECONFLICT, r.err, "the uninstall of %s was canceled before everything was removed: uninstall it again", r.inst.Name)
		}
		if r.bundleErr != "" {
			reason += " (bundle: " + r.bundleErr + ")"
		}
		r.status, r.state, r.reason, r.release, r.failure = status, StateFailed, reason, false, failure
		e.log.Warn("uninstall failed", "installation", r.name, "run", r.run.ID, "err", r.err)
		return nil
	}
	status := RunSucceeded
	if r.bundleErr != "" {
		status = RunFailed
		fmt.Fprintf(r.out, "stackhub: the bundle's uninstall failed (%s); removed the app's objects directly\n", r.bundleErr)
	}
	r.status, r.state, r.reason, r.release = status, StateUninstalled, r.bundleErr, true
	e.dropDomains(ctx, r.inst.Name)
	r.removed = Removed{
		Containers:  minus(r.before.ContainerNames(), r.after.ContainerNames()),
		Networks:    minus(r.before.Networks, r.after.Networks),
		Volumes:     append(minus(r.before.Volumes, r.after.Volumes), r.nodeVolumes...),
		KeptVolumes: r.after.Volumes,
	}
	r.run.Outputs = uninstallOutputs(r.removed, r.inst.Ports)
	return nil
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
