package dockerhost

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	cerrdefs "github.com/containerd/errdefs"
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
// node) and returns their names. Removing a task's container alone would
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
	return out, nil
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
