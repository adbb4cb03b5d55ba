package portermixin

// The Swarm path. StackHub sets naming.EnvSwarmNode in the invocation
// container of an installation it placed on a Swarm node; when the step's
// engine is then a Swarm manager, the runtime verbs deploy the app as
// Swarm services on that node instead of compose containers. The compose
// project is loaded exactly as on a single host (the same interpolation,
// the same Check rules), then swarmspec.Convert turns it into the
// networks and services to create. Without the variable (and under
// Porter) nothing changes.
//
// Waiting. Swarm starts services in no order: the services are created
// one by one in the plan's order, and before each the conditions of its
// Waits hold (the dependency's task running, or healthy). The manager
// sees tasks, not containers: a task's container health is only on the
// node's engine. But Swarm's executor reports a task running only once
// its container's health check has passed (a task with a check stays
// starting until it is healthy, and fails when it turns unhealthy), so
// "healthy" is observed from the manager as "the task is running" for a
// service with a health check. The step's wait bounds the whole deploy.
//
// Volumes. A named volume is created on the node by the task that first
// mounts it and stays there. The manager's API reaches only its own
// engine: uninstall with purge removes the app's volumes when the app is
// on the manager's own node, and otherwise says which volumes it kept on
// which node (StackHub's engine-side cleanup does the same).
//
// Containers. A task's container is <service>.<slot>.<task id> on its
// node. Outputs and exec commands that need the container (port,
// jsonPath, exec) find it by the labels sh.websoft9.app and
// sh.websoft9.service on the manager's engine, so they work for apps on
// the manager's node; for another node a port output is read from the
// task's published ports, and exec is refused with the reason.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/porter-mixin/events"
	"github.com/websoft9/stackhub/porter-mixin/naming"
	"github.com/websoft9/stackhub/porter-mixin/swarmspec"
)

// SwarmAPI is the part of the moby client the Swarm path uses.
type SwarmAPI interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	NetworkInspect(ctx context.Context, id string, options client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	ServiceInspect(ctx context.Context, id string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceUpdate(ctx context.Context, id string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceRemove(ctx context.Context, id string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, id string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
	ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
}

// swarmDeployer deploys one app on one node of the Swarm the engine
// manages.
type swarmDeployer struct {
	api SwarmAPI
	out io.Writer
	// node is the app's node ID; local the manager's own.
	node, local string
	// poll is the pause between two looks at the tasks.
	poll time.Duration
}

// swarmFor returns the Swarm deployer for p when StackHub placed its app
// on a node (p.Node) and the engine is a Swarm manager; ok is false
// otherwise, and the compose path serves p.
func (c *SDK) swarmFor(ctx context.Context, p Plan) (*swarmDeployer, bool, error) {
	if p.Node == "" {
		return nil, false, nil
	}
	_, dockerCLI, err := c.service()
	if err != nil {
		return nil, false, err
	}
	api := dockerCLI.Client()
	info, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("docker info: %w", err)
	}
	sw := info.Info.Swarm
	if sw.LocalNodeState != swarm.LocalNodeStateActive || !sw.ControlAvailable {
		fmt.Fprintf(c.Out, "%s: warning: %s is set (node %s) but the engine is not a Swarm manager: compose deploys on this engine\n", Name, naming.EnvSwarmNode, p.Node)
		return nil, false, nil
	}
	return &swarmDeployer{api: api, out: c.Out, node: p.Node, local: sw.NodeID, poll: 250 * time.Millisecond}, true, nil
}

func (d *swarmDeployer) logf(format string, a ...any) {
	fmt.Fprintf(d.out, Name+": "+format+"\n", a...)
}

func (d *swarmDeployer) emit(stage events.Stage, resource, status string) {
	_, _ = d.out.Write(events.Format(events.Event{Stage: stage, Resource: resource, Status: status}))
}

// plan loads p's project as the compose path does and converts it.
func (d *swarmDeployer) plan(ctx context.Context, svc api.Compose, p Plan) (*swarmspec.Plan, *types.Project, error) {
	project, err := load(ctx, svc, p)
	if err != nil {
		return nil, nil, err
	}
	plan, err := swarmspec.Convert(project, swarmspec.Options{App: p.App, Main: p.Main, Node: swarmspec.Node{ID: d.node},
		RunID: p.RunID, LoopbackPorts: swarmspec.OmitLoopbackPorts})
	if err != nil {
		return nil, nil, err
	}
	return plan, project, nil
}

// up creates or updates the app's networks and services in plan order,
// waiting for each service's dependencies first and, at the end, for
// every service's task to run; with orphans, services of the app the
// plan no longer has are removed (compose's remove-orphans; not when the
// step's start leaves services out of the plan).
func (d *swarmDeployer) up(ctx context.Context, plan *swarmspec.Plan, wait time.Duration, orphans bool) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for _, line := range strings.Split(strings.TrimSpace(plan.String()), "\n") {
		d.logf("swarm: %s", line)
	}
	for _, n := range plan.Networks {
		if err := d.network(ctx, n); err != nil {
			return err
		}
	}
	if err := d.configs(ctx, plan); err != nil {
		return err
	}
	if orphans {
		if err := d.removeOrphans(ctx, plan); err != nil {
			return err
		}
	}
	for _, s := range plan.Services {
		for _, w := range s.Waits {
			if err := d.waitRunning(ctx, w.SwarmService, string(w.Condition)); err != nil {
				return fmt.Errorf("service %s waits for %s %s: %w", s.Name, w.Service, w.Condition, err)
			}
		}
		if err := d.service(ctx, s); err != nil {
			return err
		}
	}
	for _, s := range plan.Services {
		cond := "running"
		if hc := s.Spec.TaskTemplate.ContainerSpec.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
			cond = "healthy"
		}
		if err := d.waitRunning(ctx, s.Spec.Name, cond); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	if orphans {
		// The services read the plan's configs now: an upgrade's old
		// ones (another content hash) go.
		keep := map[string]bool{}
		for _, c := range plan.Configs {
			keep[c.Spec.Name] = true
		}
		return d.removeConfigs(ctx, plan.App, keep)
	}
	return nil
}

// configs creates the plan's configs the Swarm does not have yet (a
// config of the same name is the same content: the name carries its
// hash) and gives the services' references their IDs.
func (d *swarmDeployer) configs(ctx context.Context, plan *swarmspec.Plan) error {
	if len(plan.Configs) == 0 {
		return nil
	}
	have, err := d.appConfigs(ctx, plan.App)
	if err != nil {
		return err
	}
	ids := map[string]string{}
	for _, c := range have {
		ids[c.Spec.Name] = c.ID
	}
	for _, c := range plan.Configs {
		if _, ok := ids[c.Spec.Name]; ok {
			continue
		}
		res := "Config " + c.Spec.Name
		d.emit(events.StageCreating, res, api.StatusCreating)
		created, err := d.api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: c.Spec})
		if err != nil {
			return fmt.Errorf("create config %s: %w", c.Spec.Name, err)
		}
		ids[c.Spec.Name] = created.ID
		d.logf("%s Created", res)
		d.emit(events.StageCreating, res, api.StatusCreated)
	}
	return plan.SetConfigIDs(ids)
}

// appConfigs lists the configs labelled with app.
func (d *swarmDeployer) appConfigs(ctx context.Context, app string) ([]swarm.Config, error) {
	list, err := d.api.ConfigList(ctx, client.ConfigListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return nil, fmt.Errorf("list the app's configs: %w", err)
	}
	out := slices.DeleteFunc(list.Items, func(c swarm.Config) bool { return c.Spec.Labels[naming.LabelApp] != app })
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// removeConfigs removes app's configs but those keep names. A config a
// service still names cannot be removed: the manager refuses it until
// the service is updated or gone, so it is tried again for a while.
func (d *swarmDeployer) removeConfigs(ctx context.Context, app string, keep map[string]bool) error {
	list, err := d.appConfigs(ctx, app)
	if err != nil {
		return err
	}
	for _, c := range list {
		if keep[c.Spec.Name] {
			continue
		}
		res := "Config " + c.Spec.Name
		d.emit(events.StageRemoving, res, api.StatusRemoving)
		if err := d.retry(ctx, func() error {
			_, err := d.api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{})
			if cerrdefs.IsNotFound(err) {
				return nil
			}
			return err
		}); err != nil {
			return fmt.Errorf("remove config %s: %w", c.Spec.Name, err)
		}
		d.logf("%s Removed", res)
		d.emit(events.StageRemoving, res, api.StatusRemoved)
	}
	return nil
}

// network creates n unless a network of its name exists (the app's own:
// the bundle policy refuses another's).
func (d *swarmDeployer) network(ctx context.Context, n swarmspec.Network) error {
	res := "Network " + n.Spec.Name
	if _, err := d.api.NetworkInspect(ctx, n.Spec.Name, client.NetworkInspectOptions{Scope: "swarm"}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", n.Spec.Name, err)
	}
	d.emit(events.StageCreating, res, api.StatusCreating)
	_, err := d.api.NetworkCreate(ctx, n.Spec.Name, client.NetworkCreateOptions{Driver: n.Spec.Driver, Scope: n.Spec.Scope,
		Attachable: n.Spec.Attachable, Internal: n.Spec.Internal, Labels: n.Spec.Labels, Options: n.Spec.Options, IPAM: n.Spec.IPAM})
	if err != nil {
		return fmt.Errorf("create network %s: %w", n.Spec.Name, err)
	}
	d.logf("%s Created", res)
	d.emit(events.StageCreating, res, api.StatusCreated)
	return nil
}

// service creates s, or updates it in place (its version index guards
// the write) when it exists: its volumes are kept, and its task is
// replaced only when the task spec changed (stop-first).
func (d *swarmDeployer) service(ctx context.Context, s swarmspec.Service) error {
	name := s.Spec.Name
	res := "Service " + name
	cur, err := d.api.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		d.emit(events.StageCreating, res, api.StatusCreating)
		created, err := d.api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: s.Spec})
		if err != nil {
			return fmt.Errorf("create service %s: %w", name, err)
		}
		for _, w := range created.Warnings {
			d.logf("%s: warning: %s", res, w)
		}
		d.logf("%s Created", res)
		d.emit(events.StageCreating, res, api.StatusCreated)
		return nil
	case err != nil:
		return fmt.Errorf("inspect service %s: %w", name, err)
	}
	if cur.Service.Spec.Labels[naming.LabelApp] != s.Spec.Labels[naming.LabelApp] {
		return fmt.Errorf("service %s exists and is not this app's", name)
	}
	d.emit(events.StageCreating, res, "Recreate")
	updated, err := d.api.ServiceUpdate(ctx, cur.Service.ID, client.ServiceUpdateOptions{Version: cur.Service.Version, Spec: s.Spec})
	if err != nil {
		return fmt.Errorf("update service %s: %w", name, err)
	}
	for _, w := range updated.Warnings {
		d.logf("%s: warning: %s", res, w)
	}
	d.logf("%s Updated", res)
	d.emit(events.StageCreating, res, "Recreated")
	return nil
}

// removeOrphans removes the app's services that plan does not have.
func (d *swarmDeployer) removeOrphans(ctx context.Context, plan *swarmspec.Plan) error {
	list, err := d.appServices(ctx, plan.App)
	if err != nil {
		return err
	}
	for _, svc := range list {
		if slices.ContainsFunc(plan.Services, func(s swarmspec.Service) bool { return s.Spec.Name == svc.Spec.Name }) {
			continue
		}
		if err := d.removeService(ctx, svc); err != nil {
			return err
		}
	}
	return nil
}

// appServices lists the services labelled with app.
func (d *swarmDeployer) appServices(ctx context.Context, app string) ([]swarm.Service, error) {
	list, err := d.api.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return nil, fmt.Errorf("list the app's services: %w", err)
	}
	out := slices.DeleteFunc(list.Items, func(s swarm.Service) bool { return s.Spec.Labels[naming.LabelApp] != app })
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

// removeService removes svc and waits until its tasks are gone.
func (d *swarmDeployer) removeService(ctx context.Context, svc swarm.Service) error {
	res := "Service " + svc.Spec.Name
	d.emit(events.StageRemoving, res, api.StatusRemoving)
	if _, err := d.api.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove service %s: %w", svc.Spec.Name, err)
	}
	for {
		tasks, err := d.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID)})
		if cerrdefs.IsNotFound(err) {
			break // the manager forgot the service: its tasks are gone
		}
		if err != nil {
			return fmt.Errorf("tasks of %s: %w", svc.Spec.Name, err)
		}
		if len(tasks.Items) == 0 {
			break
		}
		if err := d.pause(ctx); err != nil {
			return fmt.Errorf("service %s: its tasks are still there: %w", svc.Spec.Name, err)
		}
	}
	d.logf("%s Removed", res)
	d.emit(events.StageRemoving, res, api.StatusRemoved)
	return nil
}

func (d *swarmDeployer) pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d.poll):
		return nil
	}
}

// waitRunning waits until service (a Swarm service name) has a task that
// should run and runs, the newest spec's when an update is under way. cond
// (running or healthy) is for the message: a task with a health check
// runs only once healthy. A task that failed with restart condition none
// will not come back: that is an error at once.
func (d *swarmDeployer) waitRunning(ctx context.Context, service, cond string) error {
	res := "Service " + service
	d.emit(events.StageWaiting, res, api.StatusWaiting)
	var last string
	for {
		cur, err := d.api.ServiceInspect(ctx, service, client.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect service %s: %w", service, err)
		}
		tasks, err := d.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", cur.Service.ID)})
		if err != nil {
			return fmt.Errorf("tasks of %s: %w", service, err)
		}
		updating := cur.Service.UpdateStatus != nil && cur.Service.UpdateStatus.State == swarm.UpdateStateUpdating
		switch u := cur.Service.UpdateStatus; {
		case u != nil && (u.State == swarm.UpdateStatePaused || u.State == swarm.UpdateStateRollbackCompleted || u.State == swarm.UpdateStateRollbackPaused):
			return fmt.Errorf("the update of %s %s: %s", service, u.State, u.Message)
		}
		running, failed, note := false, "", ""
		for _, t := range tasks.Items {
			switch {
			case t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning:
				running = true
			case t.DesiredState == swarm.TaskStateRunning && t.Status.Err != "" && !terminal(t.Status.State):
				// Pending: "no suitable node (host-mode port already in
				// use on 1 node)", an image the node cannot pull…
				note = fmt.Sprintf("%s: %s", t.Status.State, t.Status.Err)
			case t.DesiredState == swarm.TaskStateRunning && (t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected):
				// Still meant to run: Swarm will not replace it (restart
				// none), or has not yet.
				failed = taskError(t)
			}
		}
		if running && !updating {
			d.logf("%s %s", res, map[string]string{"running": "Running", "healthy": "Healthy"}[cond])
			d.emit(events.StageWaiting, res, map[string]string{"running": api.StatusRunning, "healthy": api.StatusHealthy}[cond])
			return nil
		}
		if failed != "" && failed != last {
			d.logf("%s: task failed: %s", res, failed)
			last = failed
			if rp := cur.Service.Spec.TaskTemplate.RestartPolicy; rp != nil && rp.Condition == swarm.RestartPolicyConditionNone {
				return fmt.Errorf("the task of %s failed and its restart policy is none: %s", service, failed)
			}
		}
		if note != "" {
			last = note
		}
		if err := d.pause(ctx); err != nil {
			if last != "" {
				return fmt.Errorf("%s is not %s (its task: %s): %w", service, cond, last, err)
			}
			return fmt.Errorf("%s is not %s: %w", service, cond, err)
		}
	}
}

// taskError says why task t failed.
func taskError(t swarm.Task) string {
	msg := t.Status.Err
	if msg == "" {
		msg = t.Status.Message
	}
	if cs := t.Status.ContainerStatus; cs != nil && cs.ExitCode != 0 {
		msg = fmt.Sprintf("%s (exit code %d)", msg, cs.ExitCode)
	}
	return msg
}

// down removes the app's services (waiting for their tasks to go), its
// configs, its networks, and with purge its volumes when it is on the manager's own
// node; on another node the volumes (named when known) are kept.
func (d *swarmDeployer) down(ctx context.Context, p Plan, volumes []string) error {
	list, err := d.appServices(ctx, p.App)
	if err != nil {
		return err
	}
	for _, svc := range list {
		if err := d.removeService(ctx, svc); err != nil {
			return err
		}
	}
	if err := d.removeConfigs(ctx, p.App, nil); err != nil {
		return err
	}
	label := client.Filters{}.Add("label", naming.LabelApp+"="+p.App)
	nets, err := d.api.NetworkList(ctx, client.NetworkListOptions{Filters: label})
	if err != nil {
		return fmt.Errorf("list the app's networks: %w", err)
	}
	for _, n := range nets.Items {
		if n.Labels[naming.LabelApp] != p.App {
			continue
		}
		res := "Network " + n.Name
		d.emit(events.StageRemoving, res, api.StatusRemoving)
		if err := d.retry(ctx, func() error {
			_, err := d.api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			if cerrdefs.IsNotFound(err) {
				return nil
			}
			return err
		}); err != nil {
			return fmt.Errorf("remove network %s: %w", n.Name, err)
		}
		d.logf("%s Removed", res)
		d.emit(events.StageRemoving, res, api.StatusRemoved)
	}
	if !p.Purge {
		return nil
	}
	if d.node != d.local {
		kept := "the app's volumes"
		if len(volumes) > 0 {
			kept = strings.Join(volumes, ", ")
		}
		// StackHub removes them after this run, through its volume helper
		// task on that node (docs/swarm-apps.md).
		d.logf("volumes left to StackHub: %s on node %s, whose engine the manager's API does not reach (without StackHub, remove them there: docker volume ls --filter label=%s=%s)",
			kept, d.node, naming.LabelApp, p.App)
		return nil
	}
	// The tasks' containers go a moment after their tasks.
	if err := d.retry(ctx, func() error {
		cs, err := d.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
		if err != nil {
			return err
		}
		if len(cs.Items) > 0 {
			return fmt.Errorf("%d containers of the app remain", len(cs.Items))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("wait for the app's containers to go: %w", err)
	}
	vols, err := d.api.VolumeList(ctx, client.VolumeListOptions{Filters: label})
	if err != nil {
		return fmt.Errorf("list the app's volumes: %w", err)
	}
	for _, v := range vols.Items {
		if v.Labels[naming.LabelApp] != p.App {
			continue
		}
		res := "Volume " + v.Name
		d.emit(events.StageRemoving, res, api.StatusRemoving)
		if _, err := d.api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove volume %s: %w", v.Name, err)
		}
		d.logf("%s Removed", res)
		d.emit(events.StageRemoving, res, api.StatusRemoved)
	}
	return nil
}

// retry calls fn until it succeeds, for up to 30 s or ctx's end.
func (d *swarmDeployer) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		if perr := d.pause(ctx); perr != nil {
			return errors.Join(err, perr)
		}
	}
}

// scale sets the replicas of the app's services (those of only, when
// given) to n: 0 stops an app on a Swarm, 1 starts it again.
func (d *swarmDeployer) scale(ctx context.Context, p Plan, n uint64, only []string) ([]swarm.Service, error) {
	list, err := d.appServices(ctx, p.App)
	if err != nil {
		return nil, err
	}
	var out []swarm.Service
	for _, svc := range list {
		if len(only) > 0 && !slices.Contains(only, svc.Spec.Labels[naming.LabelService]) {
			continue
		}
		spec := svc.Spec
		if spec.Mode.Replicated == nil {
			continue
		}
		res := "Service " + spec.Name
		if n == 0 {
			d.emit(events.StageStopping, res, api.StatusStopping)
		} else {
			d.emit(events.StageStarting, res, api.StatusStarting)
		}
		replicas := n
		spec.Mode.Replicated.Replicas = &replicas
		if _, err := d.api.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec}); err != nil {
			return nil, fmt.Errorf("scale service %s to %d: %w", spec.Name, n, err)
		}
		if n > 0 {
			if err := d.nudge(ctx, svc.ID); err != nil {
				return nil, err
			}
		}
		out = append(out, svc)
	}
	return out, nil
}

// nudge makes sure a service scaled up gets its task. Docker 20.10's
// Swarm may make none when a service whose restart condition is none
// (compose's default, restart: no) is scaled from 0 to 1 once its old
// task is gone; a forced update makes the orchestrator look again.
func (d *swarmDeployer) nudge(ctx context.Context, id string) error {
	for try := 0; ; try++ {
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			tasks, err := d.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", id).Add("desired-state", "running")})
			if err != nil {
				return fmt.Errorf("tasks of service %s: %w", id, err)
			}
			if len(tasks.Items) > 0 {
				return nil
			}
			if err := d.pause(ctx); err != nil {
				return fmt.Errorf("service %s makes no task: %w", id, err)
			}
		}
		cur, err := d.api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect service %s: %w", id, err)
		}
		spec := cur.Service.Spec
		spec.TaskTemplate.ForceUpdate++
		d.logf("Service %s has no task yet: forcing an update (%d)", spec.Name, try+1)
		if _, err := d.api.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: cur.Service.Version, Spec: spec}); err != nil {
			return fmt.Errorf("update service %s: %w", spec.Name, err)
		}
	}
}

// restart replaces the tasks of the app's services (only those of only,
// when given), as docker service update --force does.
func (d *swarmDeployer) restart(ctx context.Context, p Plan, only []string) ([]swarm.Service, error) {
	list, err := d.appServices(ctx, p.App)
	if err != nil {
		return nil, err
	}
	var out []swarm.Service
	for _, svc := range list {
		if len(only) > 0 && !slices.Contains(only, svc.Spec.Labels[naming.LabelService]) {
			continue
		}
		spec := svc.Spec
		spec.TaskTemplate.ForceUpdate++
		d.emit(events.StageStarting, "Service "+spec.Name, api.StatusRestarting)
		if _, err := d.api.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec}); err != nil {
			return nil, fmt.Errorf("restart service %s: %w", spec.Name, err)
		}
		out = append(out, svc)
	}
	return out, nil
}

// taskContainer returns the ID of the container of the running task of
// service (a compose name) on the manager's engine; ok is false when the
// app's task runs on another node.
func (d *swarmDeployer) taskContainer(ctx context.Context, p Plan, service string) (string, bool, error) {
	if d.node != d.local {
		return "", false, nil
	}
	f := client.Filters{}.Add("label", naming.LabelApp+"="+p.App).Add("label", naming.LabelService+"="+service).Add("status", "running")
	list, err := d.api.ContainerList(ctx, client.ContainerListOptions{Filters: f})
	if err != nil {
		return "", false, fmt.Errorf("list containers of %s: %w", service, err)
	}
	if len(list.Items) == 0 {
		return "", false, fmt.Errorf("service %s of app %s has no running container", service, p.App)
	}
	return list.Items[0].ID, true, nil
}

// inspect returns docker inspect of service's task container, or, for a
// task on another node, a document with what the manager knows of it:
// its name and the ports its task publishes (NetworkSettings.Ports), as
// port outputs read them.
func (d *swarmDeployer) inspect(ctx context.Context, p Plan, service string) (json.RawMessage, error) {
	id, local, err := d.taskContainer(ctx, p, service)
	if err != nil {
		return nil, err
	}
	if local {
		res, err := d.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspect container of %s: %w", service, err)
		}
		return res.Raw, nil
	}
	name := naming.Container(p.App, service, service == p.Main)
	cur, err := d.api.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect service %s: %w", name, err)
	}
	tasks, err := d.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", cur.Service.ID).Add("desired-state", "running")})
	if err != nil {
		return nil, fmt.Errorf("tasks of %s: %w", name, err)
	}
	type binding struct{ HostIP, HostPort string }
	ports := map[string][]binding{}
	for _, t := range tasks.Items {
		for _, pc := range t.Status.PortStatus.Ports {
			key := fmt.Sprintf("%d/%s", pc.TargetPort, pc.Protocol)
			ports[key] = append(ports[key], binding{HostPort: fmt.Sprint(pc.PublishedPort)})
		}
	}
	doc := map[string]any{"Name": "/" + name, "NetworkSettings": map[string]any{"Ports": ports},
		"Config": map[string]any{"Labels": cur.Service.Spec.TaskTemplate.ContainerSpec.Labels}}
	return json.Marshal(doc)
}

// started runs do (scale up or restart) and waits up to p.Wait for the
// services it touched to run again.
func (d *swarmDeployer) started(ctx context.Context, p Plan, do func(context.Context) ([]swarm.Service, error)) error {
	ctx, cancel := context.WithTimeout(ctx, p.Wait)
	defer cancel()
	list, err := do(ctx)
	if err != nil {
		return err
	}
	for _, svc := range list {
		cond := "running"
		if hc := svc.Spec.TaskTemplate.ContainerSpec.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
			cond = "healthy"
		}
		if err := d.waitRunning(ctx, svc.Spec.Name, cond); err != nil {
			return err
		}
	}
	return nil
}

// waitStopped waits until the tasks of services have stopped, as compose
// stop returns once the containers have.
func (d *swarmDeployer) waitStopped(ctx context.Context, services []swarm.Service) error {
	for _, svc := range services {
		for {
			tasks, err := d.api.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", svc.ID)})
			if err != nil {
				return fmt.Errorf("tasks of %s: %w", svc.Spec.Name, err)
			}
			if !slices.ContainsFunc(tasks.Items, func(t swarm.Task) bool { return !terminal(t.Status.State) }) {
				break
			}
			if err := d.pause(ctx); err != nil {
				return fmt.Errorf("service %s: its task does not stop: %w", svc.Spec.Name, err)
			}
		}
		res := "Service " + svc.Spec.Name
		d.logf("%s Stopped", res)
		d.emit(events.StageStopping, res, api.StatusStopped)
	}
	return nil
}

// terminal tells whether a task in state s has ended.
func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateShutdown, swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateRejected,
		swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		return true
	}
	return false
}
