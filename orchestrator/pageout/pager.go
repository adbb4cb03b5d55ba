package pageout

import (
	"context"
	"time"
)

// Pager runs PageOut once nothing has kicked it for Quiet: a burst of
// kicks (jobs that end one after another) makes one page-out, after the
// last. A server kicks it when something that runs code nothing else runs
// has ended (a build, a CNAB run, a backup), so that code's pages go back
// to the kernel too, not only start-up's.
type Pager struct {
	// Quiet is how long after the last kick PageOut runs.
	Quiet time.Duration
	// PageOut does the work: Executable and logging what it did.
	PageOut func()

	kick chan struct{}
}

// NewPager returns a Pager; Run must run for its kicks to have an effect.
func NewPager(quiet time.Duration, pageOut func()) *Pager {
	return &Pager{Quiet: quiet, PageOut: pageOut, kick: make(chan struct{}, 1)}
}

// Kick asks for a page-out Quiet from now (later if kicked again
// meanwhile). It never blocks and is safe for concurrent use.
func (p *Pager) Kick() {
	select {
	case p.kick <- struct{}{}:
	default: // one is pending already
	}
}

// Run serves the kicks until ctx ends; a page-out that is pending then is
// dropped.
func (p *Pager) Run(ctx context.Context) {
	t := time.NewTimer(p.Quiet)
	t.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.kick:
			t.Reset(p.Quiet)
		case <-t.C:
			p.PageOut()
		}
	}
}
