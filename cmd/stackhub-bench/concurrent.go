package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Batch is Batch installs started at once.
type Batch struct {
	Apps      int `json:"apps"`
	Succeeded int `json:"succeeded"`
	// WallMs is the first request → the last app answering HTTP (of those
	// that succeeded).
	WallMs Num `json:"wallMs"`
	// AppMs is request → HTTP 200, per app.
	AppMs  []Num    `json:"appMs"`
	Errors []string `json:"errors,omitempty"`
}

// Concurrent is the N installs, batch by batch, and the port check.
type Concurrent struct {
	Batches []Batch `json:"batches"`
	// Apps and Succeeded count every app.
	Apps      int `json:"apps"`
	Succeeded int `json:"succeeded"`
	// HostPorts is the number of host ports Docker publishes for the
	// apps' containers, DistinctPorts how many of them differ.
	HostPorts     int `json:"hostPorts"`
	DistinctPorts int `json:"distinctPorts"`
	// StoppedEarly says why fewer than Apps installs were tried.
	StoppedEarly string `json:"stoppedEarly,omitempty"`
}

// portsOK tells whether no two containers publish the same host port and
// every app that succeeded publishes its two. An app whose job outlived the
// bench's wait may publish its ports too: more than 2×Succeeded is fine.
func (c Concurrent) portsOK() bool {
	return c.DistinctPorts == c.HostPorts && c.HostPorts >= 2*c.Succeeded
}

// portsVerdict says what portsOK found.
func (c Concurrent) portsVerdict() string {
	switch {
	case c.DistinctPorts != c.HostPorts:
		return fmt.Sprintf("COLLISION (%d ports published twice or more)", c.HostPorts-c.DistinctPorts)
	case c.HostPorts < 2*c.Succeeded:
		return fmt.Sprintf("MISSING ports (%d expected)", 2*c.Succeeded)
	case c.HostPorts > 2*c.Succeeded:
		return "no collision (the ports beyond 2 per app are those of an install that finished after the bench's wait)"
	}
	return "no collision"
}

// benchConcurrent installs Apps demo apps through the API, Batch at a
// time: each app's request, job and HTTP answer run in their own
// goroutine. Then it reads the published host ports back from Docker.
func (b *bench) benchConcurrent(ctx context.Context, res *Results) error {
	c := &res.Concurrent
	for start := 1; start <= b.o.Apps; start += b.o.Batch {
		n := min(b.o.Batch, b.o.Apps-start+1)
		batch := Batch{Apps: n, AppMs: make([]Num, n)}
		errs := make([]error, n)
		t0 := time.Now()
		var last time.Time
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			name := fmt.Sprintf("%s-app-%d", b.o.Prefix, start+i)
			wg.Go(func() {
				ready, err := b.installOne(ctx, name)
				if err != nil {
					errs[i] = err
					batch.AppMs[i] = missing
					return
				}
				batch.AppMs[i] = ms(ready.Sub(t0))
				mu.Lock()
				if ready.After(last) {
					last = ready
				}
				b.installed = append(b.installed, name)
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, err := range errs {
			if err != nil {
				batch.Errors = append(batch.Errors, fmt.Sprintf("%s-app-%d: %v", b.o.Prefix, start+i, err))
			} else {
				batch.Succeeded++
			}
		}
		batch.WallMs = missing
		if batch.Succeeded > 0 {
			batch.WallMs = ms(last.Sub(t0))
		}
		b.logf("installs %d-%d at once: %d/%d succeeded, wall %s ms", start, start+n-1, batch.Succeeded, n, f0(batch.WallMs))
		for _, e := range batch.Errors {
			b.logf("  failed: %s", e)
		}
		c.Batches = append(c.Batches, batch)
		c.Apps += n
		c.Succeeded += batch.Succeeded
		if 2*batch.Succeeded < n && start+n <= b.o.Apps {
			// The host is full (or failing): more batches would only
			// fail slower and weigh on the rest of the bench.
			c.StoppedEarly = fmt.Sprintf("stopped after %d apps: fewer than half of the last batch succeeded", c.Apps)
			b.logf("%s", c.StoppedEarly)
			break
		}
	}
	// The world's view of the ports: every host port Docker publishes for
	// the apps' containers, once each.
	cs, err := b.docker.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "sh.websoft9.app")})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, ct := range cs.Items {
		if !b.ours(ct.Labels) {
			continue
		}
		for _, p := range ct.Ports {
			if p.PublicPort == 0 {
				continue
			}
			c.HostPorts++
			seen[p.IP.String()+":"+strconv.Itoa(int(p.PublicPort))] = true
		}
	}
	c.DistinctPorts = len(seen)
	if len(b.installed) == 0 {
		return fmt.Errorf("all %d installs failed, the first with: %s", c.Apps, c.Batches[0].Errors[0])
	}
	return nil
}

// installOne installs app name, waits for its job and for its web port to
// answer 200, and returns when it did.
func (b *bench) installOne(ctx context.Context, name string) (time.Time, error) {
	app, job, err := b.srv.install(ctx, manyApp, name)
	if err != nil {
		return time.Time{}, err
	}
	if _, err := b.srv.waitJob(ctx, job, 100*time.Millisecond); err != nil {
		return time.Time{}, err
	}
	return waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/", app.Ports["port"]), time.Minute)
}

// Loaded is the server and dockerd at N apps, idle.
type Loaded struct {
	IdleRSSKiB int `json:"idleRssKiB"`
	// IdleServerCPU is the server's CPU use over IdleCPU after Settle,
	// before any install.
	IdleServerCPU Num `json:"idleServerCpu"`
	LoadedRSSKiB  int `json:"loadedRssKiB"`
	// AfterReadsRSSKiB is read after the wrk runs.
	AfterReadsRSSKiB int `json:"afterReadsRssKiB"`
	// ServerCPU and DockerdCPU are their CPU use (1.0 = one core) over
	// IdleCPU with N apps installed and no request.
	ServerCPU  Num `json:"serverCpu"`
	DockerdCPU Num `json:"dockerdCpu"`
}

// benchLoaded reads the server's RSS once N apps are installed and it has
// idled Settle, then samples server and dockerd CPU over IdleCPU.
func (b *bench) benchLoaded(ctx context.Context, res *Results) error {
	if err := sleep(ctx, b.o.Settle); err != nil {
		return err
	}
	var err error
	if res.Memory.LoadedRSSKiB, err = rssKiB(b.srv.pid()); err != nil {
		return err
	}
	res.Memory.ServerCPU, res.Memory.DockerdCPU, err = b.cpu(ctx, pidOf("dockerd"), b.o.IdleCPU)
	if err != nil {
		return err
	}
	b.logf("at %d apps: RSS %d KiB; idle CPU server %.2f, dockerd %.2f cores", len(b.installed), res.Memory.LoadedRSSKiB,
		res.Memory.ServerCPU, res.Memory.DockerdCPU)
	return nil
}

// serverCPU is the server's CPU use (cores) over d with no request.
func (b *bench) serverCPU(ctx context.Context, d time.Duration) (Num, error) {
	s, _, err := b.cpu(ctx, 0, d)
	return s, err
}

// cpu samples the server's CPU use and that of process other (0: none)
// over d, in cores; missing when a process could not be read.
func (b *bench) cpu(ctx context.Context, other int, d time.Duration) (server, otherUse Num, err error) {
	server, otherUse = missing, missing
	s0, serr0 := cpuTicks(b.srv.pid())
	o0, oerr0 := cpuTicks(other)
	t0 := time.Now()
	if err := sleep(ctx, d); err != nil {
		return server, otherUse, err
	}
	secs := time.Since(t0).Seconds()
	if s1, err := cpuTicks(b.srv.pid()); err == nil && serr0 == nil {
		server = Num(float64(s1-s0) / userHZ / secs)
	}
	if o1, err := cpuTicks(other); err == nil && oerr0 == nil && other != 0 {
		otherUse = Num(float64(o1-o0) / userHZ / secs)
	}
	return server, otherUse, nil
}
