package dockerhost

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/websoft9/stackhub/orchestrator"
)

// VersionAPI is the part of the moby client the sampler uses.
type VersionAPI interface {
	ServerVersion(ctx context.Context, options client.ServerVersionOptions) (client.ServerVersionResult, error)
}

// Sampler implements orchestrator.HostStats with gopsutil: Run takes a
// sample every Every and keeps the last Keep of them.
type Sampler struct {
	// DataDir is the directory whose filesystem is reported as hdd.
	DataDir string
	Every   time.Duration
	Keep    time.Duration
	Docker  VersionAPI

	mu         sync.Mutex
	samples    []orchestrator.HostSample
	version    string
	versionErr error
}

var _ orchestrator.HostStats = (*Sampler)(nil)

// NewSampler samples every 10 s and keeps an hour.
func NewSampler(dataDir string, docker VersionAPI) *Sampler {
	return &Sampler{DataDir: dataDir, Every: 10 * time.Second, Keep: time.Hour, Docker: docker}
}

// Run samples every Every until ctx is done. CPU use is measured between
// two samples, so requests never wait for it. Call Sample once before, so
// that the first request has figures.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sample(ctx)
		}
	}
}

// Sample takes one sample now (the first one's CPU figure is 0: there is
// no earlier reading to measure from).
func (s *Sampler) Sample(ctx context.Context) {
	now := time.Now()
	smp := orchestrator.HostSample{Time: now, CPUs: runtime.NumCPU()}
	if p, err := cpu.PercentWithContext(ctx, 0, false); err == nil && len(p) == 1 {
		smp.CPUPercent = p[0]
	}
	if m, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		smp.MemPercent, smp.MemTotal, smp.MemUsed = m.UsedPercent, m.Total, m.Used
	}
	if d, err := disk.UsageWithContext(ctx, s.DataDir); err == nil {
		smp.DiskPercent, smp.DiskTotal, smp.DiskUsed = d.UsedPercent, d.Total, d.Used
	}
	if l, err := load.AvgWithContext(ctx); err == nil {
		smp.Load1, smp.Load5, smp.Load15 = l.Load1, l.Load5, l.Load15
	}
	if u, err := host.UptimeWithContext(ctx); err == nil {
		smp.Uptime = time.Duration(u) * time.Second
	}
	version, verr := s.dockerVersion(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version, s.versionErr = version, verr
	s.samples = append(s.samples, smp)
	cut := 0
	for cut < len(s.samples) && now.Sub(s.samples[cut].Time) > s.Keep {
		cut++
	}
	s.samples = s.samples[cut:]
}

// Latest implements orchestrator.HostStats.
func (s *Sampler) Latest() (orchestrator.HostSample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return orchestrator.HostSample{}, false
	}
	return s.samples[len(s.samples)-1], true
}

// History implements orchestrator.HostStats.
func (s *Sampler) History() []orchestrator.HostSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]orchestrator.HostSample(nil), s.samples...)
}

// DockerVersion implements orchestrator.HostStats: the version read at the
// last sample, so a request never calls Docker.
func (s *Sampler) DockerVersion(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == "" && s.versionErr == nil {
		return "", orchestrator.Errorf(orchestrator.EUNAVAILABLE, "not sampled yet")
	}
	return s.version, s.versionErr
}

func (s *Sampler) dockerVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := s.Docker.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", orchestrator.WrapError(orchestrator.EUNAVAILABLE, err, "Docker is not answering")
	}
	return v.Version, nil
}
