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

	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// EventsAPI is the part of the moby client the watcher uses.
type EventsAPI interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
}

// Watcher keeps an in-memory view of every container labelled
// sh.websoft9.app, fed by Docker's event stream: a container event makes
// it list that app's containers again (level-triggered, so a lost event
// costs nothing once the next one or the periodic full list comes). It
// implements orchestrator.Observer.
type Watcher struct {
	api EventsAPI
	log *slog.Logger
	// Resync is the period of the full list that catches lost events.
	Resync time.Duration
	// CallTimeout bounds each list (0: callTimeout), as Host.CallTimeout.
	CallTimeout time.Duration
	// OnError is told of every failed Docker call, as Host.OnError.
	OnError ErrorFunc

	mu    sync.RWMutex
	ready bool
	apps  map[string][]orchestrator.Container
	// version moves after every change of ready or apps (Version).
	version atomic.Uint64
}

var _ orchestrator.Observer = (*Watcher)(nil)

// NewWatcher returns a Watcher that lists everything again every 60 s.
func NewWatcher(api EventsAPI, log *slog.Logger) *Watcher {
	return &Watcher{api: api, log: log.With("component", "watcher"), Resync: time.Minute, apps: map[string][]orchestrator.Container{}}
}

func sameContainer(a, b orchestrator.Container) bool {
	return a.Name == b.Name && a.State == b.State && a.Health == b.Health && slices.Equal(a.Ports, b.Ports)
}

func (w *Watcher) classify(op, what string, err error) error {
	return classifyErr(w.OnError, op, what, err)
}

// Version implements orchestrator.Versioned.
func (w *Watcher) Version() uint64 { return w.version.Load() }

// AppContainers implements orchestrator.Observer.
func (w *Watcher) AppContainers(app string) ([]orchestrator.Container, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.ready {
		return nil, false
	}
	return append([]orchestrator.Container(nil), w.apps[app]...), true
}

// Run watches until ctx is done, reconnecting after a second when the
// stream breaks (Docker restarted, socket gone).
func (w *Watcher) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := w.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.ready = false // what we hold may be stale until the next full list
		w.version.Add(1)
		w.mu.Unlock()
		w.log.Warn("Docker event stream lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (w *Watcher) watch(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	label := client.Filters{}.Add("label", naming.LabelApp)
	// Subscribe first, then list: nothing that happens in between is lost.
	stream := w.api.Events(ctx, client.EventsListOptions{Filters: label.Add("type", "container")})
	if err := w.listAll(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(w.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-stream.Err:
			return err
		case <-tick.C:
			if err := w.listAll(ctx); err != nil {
				return err
			}
		case msg := <-stream.Messages:
			// Take every event already waiting, then list each app once:
			// a busy host (many installs) sends bursts of events.
			apps := map[string]bool{}
			for more := true; more; {
				if app := msg.Actor.Attributes[naming.LabelApp]; app != "" {
					apps[app] = true
				}
				select {
				case msg = <-stream.Messages:
				default:
					more = false
				}
			}
			for app := range apps {
				if err := w.refresh(ctx, app); err != nil {
					return err
				}
			}
		}
	}
}

func (w *Watcher) list(ctx context.Context, f client.Filters) (map[string][]orchestrator.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, orCallTimeout(w.CallTimeout))
	defer cancel()
	res, err := w.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, w.classify("list containers", "", err)
	}
	out := map[string][]orchestrator.Container{}
	for _, c := range taskContainers(res.Items) {
		app := c.Labels[naming.LabelApp]
		out[app] = append(out[app], toContainer(c))
	}
	for app := range out {
		sort.Slice(out[app], func(i, j int) bool { return out[app][i].Name < out[app][j].Name })
	}
	return out, nil
}

func (w *Watcher) listAll(ctx context.Context) error {
	apps, err := w.list(ctx, client.Filters{}.Add("label", naming.LabelApp))
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ready && maps.EqualFunc(w.apps, apps, func(a, b []orchestrator.Container) bool { return slices.EqualFunc(a, b, sameContainer) }) {
		return nil // the periodic list found what the events had brought
	}
	w.apps, w.ready = apps, true
	w.version.Add(1)
	return nil
}

// Refresh implements orchestrator.Observer: it lists app's containers now,
// so that the view is current when a run has just changed them.
func (w *Watcher) Refresh(ctx context.Context, app string) error {
	w.mu.RLock()
	ready := w.ready
	w.mu.RUnlock()
	if !ready {
		return nil // the next full list brings everything
	}
	return w.refresh(ctx, app)
}

func (w *Watcher) refresh(ctx context.Context, app string) error {
	apps, err := w.list(ctx, client.Filters{}.Add("label", naming.LabelApp+"="+app))
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cs, ok := apps[app]
	// Health checks and execs send events too: only a change of what the
	// view holds moves the version.
	if old, had := w.apps[app]; had == ok && slices.EqualFunc(old, cs, sameContainer) {
		return nil
	}
	if ok {
		w.apps[app] = cs
	} else {
		delete(w.apps, app)
	}
	w.version.Add(1)
	return nil
}
