package dockerhost

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// SwarmWatcher keeps, while the engine is a Swarm manager, the nodes'
// states and the states of the tasks of the apps' services, listed from
// the manager every Period. Apps on other nodes have their containers on
// those nodes' engines, which the Watcher (the local engine's events)
// does not see; this is what the manager knows of them. A node the
// manager stops hearing from is marked down after three heartbeat
// periods (10 to 16.5 s with Swarm's default 5 s), so an app there shows
// unreachable about a Period later. It implements
// orchestrator.NodeObserver.
type SwarmWatcher struct {
	swarm *Swarm
	log   *slog.Logger
	// Period is the pause between two lists while the engine is a
	// manager; Idle the pause between two looks while it is not.
	Period, Idle time.Duration

	mu    sync.RWMutex
	known bool
	nodes map[string]orchestrator.Node
	apps  map[string][]orchestrator.Container
	// version moves after every change of what the watcher returns.
	version atomic.Uint64
}

var _ orchestrator.NodeObserver = (*SwarmWatcher)(nil)

// NewSwarmWatcher returns a watcher of s (whose Services must be set)
// that lists every 2 s on a manager and looks every 10 s whether the
// engine became one.
func NewSwarmWatcher(s *Swarm, log *slog.Logger) *SwarmWatcher {
	return &SwarmWatcher{swarm: s, log: log.With("component", "swarm-watcher"), Period: 2 * time.Second, Idle: 10 * time.Second}
}

// Version implements orchestrator.Versioned.
func (w *SwarmWatcher) Version() uint64 { return w.version.Load() }

// SwarmNode implements orchestrator.NodeObserver.
func (w *SwarmWatcher) SwarmNode(id string) (orchestrator.Node, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.known {
		return orchestrator.Node{}, false
	}
	n, ok := w.nodes[id]
	if !ok {
		return orchestrator.Node{ID: id, State: orchestrator.NodeRemoved}, true
	}
	return n, true
}

// AppTasks implements orchestrator.NodeObserver.
func (w *SwarmWatcher) AppTasks(app string) ([]orchestrator.Container, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.known {
		return nil, false
	}
	return slices.Clone(w.apps[app]), true
}

// Run lists until ctx is done.
func (w *SwarmWatcher) Run(ctx context.Context) {
	for {
		pause := w.Idle
		manager, err := w.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.log.Debug("swarm view", "err", err)
		case manager:
			pause = w.Period
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// poll lists the nodes and the apps' tasks when the engine is a manager,
// and forgets them otherwise (or when Docker does not answer).
func (w *SwarmWatcher) poll(ctx context.Context) (manager bool, err error) {
	st, err := w.swarm.SwarmStatus(ctx)
	if err != nil || st.Swarm != orchestrator.SwarmManager {
		w.forget()
		return false, err
	}
	nodes, err := w.swarm.Nodes(ctx)
	if err != nil {
		w.forget()
		return true, err
	}
	apps, err := w.list(ctx, "")
	if err != nil {
		w.forget()
		return true, err
	}
	byID := make(map[string]orchestrator.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := !w.known || !maps.EqualFunc(w.nodes, byID, sameNode) || !maps.EqualFunc(w.apps, apps, sameContainers)
	w.known, w.nodes, w.apps = true, byID, apps
	if changed {
		w.version.Add(1)
	}
	return true, nil
}

func (w *SwarmWatcher) forget() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.known {
		w.known, w.nodes, w.apps = false, nil, nil
		w.version.Add(1)
	}
}

// Refresh implements orchestrator.NodeObserver.
func (w *SwarmWatcher) Refresh(ctx context.Context, app string) error {
	w.mu.RLock()
	known := w.known
	w.mu.RUnlock()
	if !known {
		return nil
	}
	apps, err := w.list(ctx, app)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.known || sameContainers(w.apps[app], apps[app]) {
		return nil
	}
	if cs, ok := apps[app]; ok {
		w.apps[app] = cs
	} else {
		delete(w.apps, app)
	}
	w.version.Add(1)
	return nil
}

// list reads the services of every app (of app, when given) and their
// tasks, and returns each app's services as containers.
func (w *SwarmWatcher) list(ctx context.Context, app string) (map[string][]orchestrator.Container, error) {
	s := w.swarm
	if s.Services == nil {
		return nil, errNoServices
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	label := naming.LabelApp
	if app != "" {
		label += "=" + app
	}
	services, err := s.Services.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", label)})
	if err != nil {
		return nil, classifyErr(s.OnError, "list services", "", err)
	}
	out := map[string][]orchestrator.Container{}
	if len(services.Items) == 0 {
		return out, nil
	}
	tasks, err := s.Services.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return nil, classifyErr(s.OnError, "list tasks", "", err)
	}
	byService := map[string][]swarm.Task{}
	for _, t := range tasks.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	for _, svc := range services.Items {
		a := svc.Spec.Labels[naming.LabelApp]
		if a == "" || (app != "" && a != app) {
			continue
		}
		out[a] = append(out[a], serviceContainer(svc, byService[svc.ID]))
	}
	for _, cs := range out {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	}
	return out, nil
}

// serviceContainer is a service as StackHub shows an app's container:
// named as the service, in the state of its current task (the newest
// that should run; running only once a health check passed, Swarm's
// executor waits for it), exited when scaled to 0, with the host ports
// its task publishes.
func serviceContainer(svc swarm.Service, tasks []swarm.Task) orchestrator.Container {
	c := orchestrator.Container{Name: svc.Spec.Name}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas == 0 {
		c.State = string(container.StateExited)
		return c
	}
	var cur *swarm.Task
	for i := range tasks {
		t := &tasks[i]
		if t.DesiredState != swarm.TaskStateRunning {
			continue
		}
		if cur == nil || t.Meta.CreatedAt.After(cur.Meta.CreatedAt) {
			cur = t
		}
	}
	if cur == nil {
		c.State = "missing"
		return c
	}
	c.State = string(cur.Status.State)
	if cur.Status.State == swarm.TaskStateRunning {
		if hc := svc.Spec.TaskTemplate.ContainerSpec; hc != nil && hc.Healthcheck != nil && len(hc.Healthcheck.Test) > 0 && hc.Healthcheck.Test[0] != "NONE" {
			c.Health = "healthy"
		}
	}
	for _, p := range cur.Status.PortStatus.Ports {
		if p.PublishedPort != 0 && !slices.Contains(c.Ports, int(p.PublishedPort)) {
			c.Ports = append(c.Ports, int(p.PublishedPort))
		}
	}
	sort.Ints(c.Ports)
	return c
}

func sameNode(a, b orchestrator.Node) bool {
	return a.State == b.State && a.Message == b.Message && a.Availability == b.Availability && a.Hostname == b.Hostname && a.Addr == b.Addr
}

func sameContainers(a, b []orchestrator.Container) bool {
	return slices.EqualFunc(a, b, sameContainer)
}
