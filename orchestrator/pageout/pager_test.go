package pageout_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/websoft9/stackhub/orchestrator/pageout"
)

// TestPager: a burst of kicks makes one page-out, Quiet after the last;
// nothing happens without a kick; a later kick makes another; a pending
// one is dropped when Run ends.
func TestPager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		p := pageout.NewPager(2*time.Second, func() { n.Add(1) })
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { p.Run(ctx) })

		time.Sleep(time.Minute)
		assert.Zero(t, n.Load(), "no kick, no page-out")

		for range 5 {
			p.Kick()
			time.Sleep(time.Second) // each before the last's Quiet is over
		}
		synctest.Wait()
		assert.Zero(t, n.Load(), "1 s after the last kick")
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		assert.Equal(t, int32(1), n.Load(), "Quiet after the last kick")

		p.Kick()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		assert.Equal(t, int32(2), n.Load(), "a later kick")

		p.Kick()
		cancel()
		wg.Wait()
		time.Sleep(time.Minute)
		assert.Equal(t, int32(2), n.Load(), "dropped when Run ends")
	})
}
