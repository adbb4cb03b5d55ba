package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// ServicesAPI is the part of the moby client the apps' services need.
type ServicesAPI interface {
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceRemove(ctx context.Context, id string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	TaskLogs(ctx context.Context, id string, options client.TaskLogsOptions) (client.TaskLogsResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
}

var _ orchestrator.ServiceLogSource = (*Swarm)(nil)

// ServiceLogs implements orchestrator.ServiceLogSource: the logs of
// service's current task, on whichever node it runs, as the manager
// gathers them (Docker 20.10 serves them for every node). They come as a
// container's do: the lines of one container (the task that is to run,
// else the last one), stdout and stderr multiplexed, tail counted on it.
// The service's own logs would mix every task Swarm still remembers (an
// upgrade's old one too), each with its own tail.
func (s *Swarm) ServiceLogs(ctx context.Context, service string, opts orchestrator.LogOptions, w io.Writer) error {
	if s.Services == nil {
		return classifyErr(s.OnError, "service logs", "logs of "+service, errNoServices)
	}
	task, err := s.currentTask(ctx, service)
	if err != nil {
		return err
	}
	tail := "all"
	if opts.Tail > 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	rc, err := s.Services.TaskLogs(ctx, task, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail, Follow: opts.Follow})
	if err != nil {
		return classifyErr(s.OnError, "task logs", "logs of "+service, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", service, err)
	}
	return nil
}

// currentTask returns the ID of service's task that is to run (the newest
// when there are several), else of its newest. Returns ENOTFOUND when the
// service has none.
func (s *Swarm) currentTask(ctx context.Context, service string) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	tasks, err := s.Services.TaskList(lctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", service)})
	if err != nil {
		return "", classifyErr(s.OnError, "list tasks", "tasks of "+service, err)
	}
	var best *swarm.Task
	for i := range tasks.Items {
		t := &tasks.Items[i]
		if t.ServiceID == "" {
			continue
		}
		if best == nil {
			best = t
			continue
		}
		bestRuns, runs := best.DesiredState == swarm.TaskStateRunning, t.DesiredState == swarm.TaskStateRunning
		if runs != bestRuns {
			if runs {
				best = t
			}
			continue
		}
		if t.Meta.CreatedAt.After(best.Meta.CreatedAt) {
			best = t
		}
	}
	if best == nil {
		return "", orchestrator.Errorf(orchestrator.ENOTFOUND, "%s has no task whose logs to read", service)
	}
	return best.ID, nil
}

// errNoServices is NodePorts' answer without Swarm.Services.
var errNoServices = errors.New("dockerhost: this Swarm view has no services API")

// NodePorts implements orchestrator.SwarmPlacement: the host ports published on
// node by the tasks placed there (those they publish, and those their
// services' specs publish in host mode, for tasks not started yet), and
// the routing mesh's ports, which every node publishes. The manager
// cannot see a node's own listeners: the ledger and this are what is
// known of a remote node.
func (s *Swarm) NodePorts(ctx context.Context, node string) (map[int]bool, error) {
	if s.Services == nil {
		return nil, errNoServices
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	tasks, err := s.Services.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("node", node).Add("desired-state", "running")})
	if err != nil {
		return nil, classifyErr(s.OnError, "list tasks", "", err)
	}
	services, err := s.Services.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, classifyErr(s.OnError, "list services", "", err)
	}
	busy := map[int]bool{}
	onNode := map[string]bool{}
	for _, t := range tasks.Items {
		onNode[t.ServiceID] = true
		for _, p := range t.Status.PortStatus.Ports {
			if p.PublishedPort != 0 {
				busy[int(p.PublishedPort)] = true
			}
		}
	}
	for _, svc := range services.Items {
		ports := svc.Endpoint.Ports
		if svc.Spec.EndpointSpec != nil {
			ports = append(slices.Clone(ports), svc.Spec.EndpointSpec.Ports...)
		}
		for _, p := range ports {
			mesh := p.PublishMode == "" || p.PublishMode == swarm.PortConfigPublishModeIngress
			if p.PublishedPort != 0 && (mesh || onNode[svc.ID]) {
				busy[int(p.PublishedPort)] = true
			}
		}
	}
	return busy, nil
}

// removeServices removes the Swarm services labelled with app when the
// engine is a manager (their tasks' containers go with them, on every
// node), then its configs, and returns the services' names. Removing a task's container alone would
// only make Swarm start another.
func (s *Swarm) removeServices(ctx context.Context, app string) ([]string, error) {
	if s.Services == nil {
		return nil, nil
	}
	st, err := s.SwarmStatus(ctx)
	if err != nil || st.Swarm != orchestrator.SwarmManager {
		return nil, err
	}
	list, err := s.Services.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return nil, classifyErr(s.OnError, "list services", "", err)
	}
	var out, ids []string
	for _, svc := range list.Items {
		if svc.Spec.Labels[naming.LabelApp] != app {
			continue
		}
		if _, err := s.Services.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return out, classifyErr(s.OnError, "remove service", "", err)
		}
		out, ids = append(out, svc.Spec.Name), append(ids, svc.ID)
	}
	sort.Strings(out)
	// The app's network can go only once no task is attached to it.
	for _, id := range ids {
		if err := s.waitNoTasks(ctx, id); err != nil {
			return out, err
		}
	}
	// Its configs, once no service names them.
	return out, s.removeConfigs(ctx, app)
}

// removeConfigs removes the Swarm configs labelled with app (the files
// of its services, created by the websoft9 mixin).
func (s *Swarm) removeConfigs(ctx context.Context, app string) error {
	list, err := s.Services.ConfigList(ctx, client.ConfigListOptions{Filters: client.Filters{}.Add("label", naming.LabelApp+"="+app)})
	if err != nil {
		return classifyErr(s.OnError, "list configs", "", err)
	}
	for _, c := range list.Items {
		if c.Spec.Labels[naming.LabelApp] != app {
			continue
		}
		if _, err := s.Services.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return classifyErr(s.OnError, "remove config", "config "+c.Spec.Name, err)
		}
	}
	return nil
}

// waitNoTasks waits until the removed service id has no task left, up to
// ctx's deadline.
func (s *Swarm) waitNoTasks(ctx context.Context, id string) error {
	for {
		tasks, err := s.Services.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", id)})
		if cerrdefs.IsNotFound(err) {
			return nil // the manager forgot the service: its tasks are gone
		}
		if err != nil {
			return classifyErr(s.OnError, "list tasks", "", err)
		}
		if len(tasks.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return classifyErr(s.OnError, "list tasks", "tasks of a removed service", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ServiceLabel is the label Swarm puts on a task's container: the name of
// its service.
const ServiceLabel = "com.docker.swarm.service.name"

// taskContainers keeps, of the containers of Swarm tasks, one per service
// (the running one, else the newest): Swarm keeps a service's old tasks'
// containers stopped for a while (its task history), and a task's
// container is named <service>.<slot>.<task id>; StackHub shows it under
// its service's name, websoft9-<app>[-<service>], as on a single host.
// Other containers are kept as they are.
func taskContainers(items []container.Summary) []container.Summary {
	best := map[string]int{}
	var out []container.Summary
	for _, c := range items {
		svc := c.Labels[ServiceLabel]
		if svc == "" {
			out = append(out, c)
			continue
		}
		c.Names = []string{"/" + svc}
		i, seen := best[svc]
		switch {
		case !seen:
			best[svc] = len(out)
			out = append(out, c)
		case better(c, out[i]):
			out[i] = c
		}
	}
	return out
}

// better tells whether task container a says more of its service than b:
// running beats not running, then the newer wins.
func better(a, b container.Summary) bool {
	ar, br := a.State == container.StateRunning, b.State == container.StateRunning
	if ar != br {
		return ar
	}
	return a.Created > b.Created
}
