package dockerhost

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// deafLister is a Docker that never answers a list; it records the
// deadline it was given.
type deafLister struct{ deadline time.Duration }

func (d *deafLister) ContainerList(ctx context.Context, _ client.ContainerListOptions) (client.ContainerListResult, error) {
	if dl, ok := ctx.Deadline(); ok {
		d.deadline = time.Until(dl)
	}
	<-ctx.Done()
	return client.ContainerListResult{}, ctx.Err()
}

func (d *deafLister) Events(context.Context, client.EventsListOptions) client.EventsResult {
	return client.EventsResult{}
}

// TestWatcherListHonoursCallTimeout: the watcher's lists are bounded by
// the server's --docker-timeout, and by the built-in minute without one.
func TestWatcherListHonoursCallTimeout(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &deafLister{}
	w := NewWatcher(d, log)
	w.CallTimeout = 20 * time.Millisecond
	if err := w.listAll(t.Context()); err == nil {
		t.Fatal("a deaf Docker: listAll returned no error")
	}
	if d.deadline <= 0 || d.deadline > 20*time.Millisecond {
		t.Errorf("CallTimeout 20ms: the list's deadline was %v away", d.deadline)
	}

	d = &deafLister{}
	w = NewWatcher(d, log)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel) // do not wait the minute
	if err := w.listAll(ctx); err == nil {
		t.Fatal("a deaf Docker: listAll returned no error")
	}
	if d.deadline < callTimeout-time.Second || d.deadline > callTimeout {
		t.Errorf("no CallTimeout: the list's deadline was %v away, want %v", d.deadline, callTimeout)
	}
}

// oneLister answers every list with one container of app demo, in state.
type oneLister struct {
	deafLister
	state container.ContainerState
}

func (l *oneLister) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{{Names: []string{"/websoft9-demo"}, State: l.state,
		Labels: map[string]string{naming.LabelApp: "demo"}}}}, nil
}

// TestWatcherVersionMovesWithTheView: every change of the view moves
// Version after the change is visible (the list cache relies on it).
func TestWatcherVersionMovesWithTheView(t *testing.T) {
	l := &oneLister{state: "running"}
	w := NewWatcher(l, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v0 := w.Version()
	if _, ok := w.AppContainers("demo"); ok {
		t.Fatal("the view is complete before the first list")
	}
	if err := w.listAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	v1 := w.Version()
	if cs, ok := w.AppContainers("demo"); !ok || len(cs) != 1 || v1 <= v0 {
		t.Fatalf("after the full list: %v %v, version %d → %d", cs, ok, v0, v1)
	}
	if err := w.Refresh(t.Context(), "demo"); err != nil {
		t.Fatal(err)
	}
	if v2 := w.Version(); v2 != v1 {
		t.Errorf("a refresh that found the same containers moved the version (%d → %d): health checks would empty the list cache", v1, v2)
	}
	l.state = "exited"
	if err := w.Refresh(t.Context(), "demo"); err != nil {
		t.Fatal(err)
	}
	if v3 := w.Version(); v3 <= v1 {
		t.Errorf("a container that exited did not move the version (%d → %d)", v1, v3)
	}
	if cs, _ := w.AppContainers("demo"); len(cs) != 1 || cs[0].State != "exited" {
		t.Errorf("the view holds %v", cs)
	}
	v3 := w.Version()
	if err := w.listAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v4 := w.Version(); v4 != v3 {
		t.Errorf("a periodic list that found the same containers moved the version (%d → %d)", v3, v4)
	}
}
