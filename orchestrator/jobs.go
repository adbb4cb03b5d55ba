package orchestrator

import (
	"context"
	"sync"
	"time"
)

// Jobs runs work that outlives the request that started it. Every job has
// an owner (this manager): Shutdown cancels them all and waits.
type Jobs struct {
	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	wg      sync.WaitGroup
	closed  bool
}

// NewJobs returns an empty job manager.
func NewJobs() *Jobs { return &Jobs{cancels: map[string]context.CancelFunc{}} }

// RunTimeout bounds every job, pulls included (reliability.md R6).
const RunTimeout = 30 * time.Minute

// Start hands work to the manager and returns at once. The job keeps the
// request's values but not its deadline or cancellation; it gets
// RunTimeout of its own. It returns false, without running work, after
// Shutdown.
func (j *Jobs) Start(reqCtx context.Context, id string, work func(context.Context)) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), RunTimeout)
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		cancel()
		return false
	}
	j.cancels[id] = cancel
	j.wg.Add(1) // under the lock: Shutdown cannot slip between the check and the Add
	j.mu.Unlock()
	go func() {
		defer j.wg.Done()
		defer func() {
			j.mu.Lock()
			delete(j.cancels, id)
			j.mu.Unlock()
			cancel()
		}()
		work(ctx)
	}()
	return true
}

// Cancel cancels job id; it reports whether the job was running.
func (j *Jobs) Cancel(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	cancel, ok := j.cancels[id]
	if ok {
		cancel()
	}
	return ok
}

// Shutdown refuses new jobs, cancels the running ones when ctx is done, and
// waits for all of them to return.
func (j *Jobs) Shutdown(ctx context.Context) {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	done := make(chan struct{})
	go func() { j.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	j.mu.Lock()
	for _, cancel := range j.cancels {
		cancel()
	}
	j.mu.Unlock()
	<-done
}
