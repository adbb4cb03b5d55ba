package main

import (
	"context"
	"errors"
	"fmt"
)

// Start is one server start.
type Start struct {
	// HealthyMs is exec → the first 200 from /healthz.
	HealthyMs Num `json:"healthyMs"`
	// IdleRSSKiB is VmRSS after Settle with no app installed.
	IdleRSSKiB int `json:"idleRssKiB"`
}

// benchStartup starts the server Starts times, each on a fresh data dir
// that `token create` has initialised, times exec → healthy /healthz and
// reads its RSS after Settle. The last server stays up for the bench.
func (b *bench) benchStartup(ctx context.Context, res *Results) error {
	for i := 1; i <= b.o.Starts; i++ {
		s, err := b.startServer(ctx, fmt.Sprintf("server-%d", i), nil)
		if err != nil {
			return err
		}
		b.srv = s // stopped by close if anything below fails
		st := Start{HealthyMs: ms(s.healthy.Sub(s.started))}
		if err := sleep(ctx, b.o.Settle); err != nil {
			return err
		}
		if st.IdleRSSKiB, err = rssKiB(s.pid()); err != nil {
			return err
		}
		b.logf("start %d/%d: healthy in %.0f ms, idle RSS %d KiB", i, b.o.Starts, st.HealthyMs, st.IdleRSSKiB)
		res.Startup = append(res.Startup, st)
		if i < b.o.Starts {
			if err := s.stop(); err != nil {
				return err
			}
			b.srv = nil
		}
	}
	res.Memory.IdleRSSKiB = res.Startup[len(res.Startup)-1].IdleRSSKiB
	var err error
	res.Memory.IdleServerCPU, err = b.serverCPU(ctx, b.o.IdleCPU)
	b.logf("idle CPU before any install: server %.3f cores", res.Memory.IdleServerCPU)
	return err
}

// Restarted is the server started again on the data dir that holds the N
// apps: a process that has run no CNAB action and built no bundle.
type Restarted struct {
	HealthyMs Num `json:"healthyMs"`
	// RSSKiB is read after Settle; ServerCPU is sampled over IdleCPU.
	RSSKiB    int   `json:"rssKiB"`
	ServerCPU Num   `json:"serverCpu"`
	Reads     Reads `json:"reads"`
}

// benchRestart stops the server that made the installs and starts it again
// on the same data dir, then reads its start-up time, RSS and idle CPU and
// runs the reads again.
func (b *bench) benchRestart(ctx context.Context, res *Results) error {
	if len(b.installed) == 0 {
		return errors.New("no app is installed")
	}
	prev := b.srv
	if err := prev.stop(); err != nil {
		return err
	}
	s, err := b.startServer(ctx, "server-restarted", prev)
	if err != nil {
		return err
	}
	b.srv = s
	r := &res.Restarted
	r.HealthyMs = ms(s.healthy.Sub(s.started))
	if err := sleep(ctx, b.o.Settle); err != nil {
		return err
	}
	if r.RSSKiB, err = rssKiB(s.pid()); err != nil {
		return err
	}
	if r.ServerCPU, err = b.serverCPU(ctx, b.o.IdleCPU); err != nil {
		return err
	}
	b.logf("restarted at %d apps: healthy in %.0f ms, RSS %d KiB, idle CPU %.3f cores", len(b.installed), r.HealthyMs, r.RSSKiB, r.ServerCPU)
	r.Reads, err = b.reads(ctx)
	return err
}
