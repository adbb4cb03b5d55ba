//go:build integration && chaos

package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/websoft9/stackhub/orchestrator/dockerhost/dockertest"
)

// TestChaosConcurrentInstalls: 60 installs, 20 at a time, on 64-port
// ranges, 0 collisions. make test has the quicker TestPortExhaustion (15
// at once) and TestSameNameInstall (50 at once).
func TestChaosConcurrentInstalls(t *testing.T) { concurrentInstalls(t, 3) }

// TestChaosRandomKill sends install and uninstall traffic over 8 names,
// SIGKILLs the server at a random moment, restarts it and checks it is
// consistent, for CHAOS_LOOP (default 5m). The seed is printed; CHAOS_SEED
// replays one.
func TestChaosRandomKill(t *testing.T) {
	c := dockertest.RequireDocker(t)
	loop := 5 * time.Minute
	if v := os.Getenv("CHAOS_LOOP"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		loop = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		_, err := fmt.Sscan(v, &seed)
		require.NoError(t, err)
	}
	t.Logf("CHAOS_SEED=%d CHAOS_LOOP=%s", seed, loop)
	rng := rand.New(rand.NewPCG(seed, seed))
	r := newCrashRig(t)
	names := make([]string, 8)
	for i := range names {
		names[i] = fmt.Sprintf("chaos-%d", i)
	}
	// acked[name]: the last answered change was an accepted install (true)
	// or an accepted uninstall (false: a job that may or may not be done).
	acked := map[string]bool{}
	var mu sync.Mutex
	kills := 0
	end := time.Now().Add(loop)
	for time.Now().Before(end) {
		p := r.start("")
		p.ready(t)
		for _, name := range names {
			state := r.consistent(t, c, p, name)
			mu.Lock()
			if acked[name] {
				assert.NotEmpty(t, state, "%s: an acknowledged install was lost", name)
			}
			mu.Unlock()
		}
		if t.Failed() {
			t.Fatalf("inconsistent after %d kills (CHAOS_SEED=%d)", kills, seed)
		}
		var wg sync.WaitGroup
		for range 1 + rng.IntN(5) {
			name := names[rng.IntN(len(names))]
			install := rng.IntN(2) == 0
			wg.Go(func() {
				var status int
				if install {
					status = p.try(http.MethodPost, "/api/v1/apps", fmt.Sprintf(`{"app":"demo","name":%q}`, name))
				} else {
					status = p.try(http.MethodDelete, "/api/v1/apps/"+name+"?purge=true", "")
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case install && status == http.StatusAccepted:
					acked[name] = true
				case !install && status == http.StatusAccepted:
					acked[name] = false
				case !install && status == 0:
					// Unanswered: the restart may finish the uninstall.
					delete(acked, name)
				}
			})
		}
		time.Sleep(time.Duration(200+rng.IntN(2800)) * time.Millisecond)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		wg.Wait()
		kills++
	}
	t.Logf("%d kills in %s, consistent after each (CHAOS_SEED=%d)", kills, loop, seed)
	p := r.start("")
	p.ready(t)
	for _, name := range names {
		r.consistent(t, c, p, name)
		status, body := p.uninstallJob(t, name)
		assert.Contains(t, []int{http.StatusAccepted, http.StatusNotFound}, status, "%v", body)
		if status == http.StatusAccepted {
			assert.Equal(t, "succeeded", body["status"], "%v", body)
		}
		assert.Empty(t, publishedPorts(t, c, name))
	}
}
