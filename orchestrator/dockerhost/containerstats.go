package dockerhost

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/websoft9/stackhub/orchestrator"
)

var _ orchestrator.StatsSource = (*Host)(nil)

// ContainerStats implements orchestrator.StatsSource: one sample per
// container with Docker's previous sample beside it (the daemon takes the
// two a second apart), all containers at once.
func (h *Host) ContainerStats(ctx context.Context, containers []string) ([]orchestrator.ContainerStats, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	out := make([]*orchestrator.ContainerStats, len(containers))
	errs := make([]error, len(containers))
	var wg sync.WaitGroup
	for i, name := range containers {
		wg.Go(func() { out[i], errs[i] = h.sample(ctx, name) })
	}
	wg.Wait()
	var stats []orchestrator.ContainerStats
	for i, s := range out {
		if err := errs[i]; err != nil {
			if orchestrator.ErrorCode(err) == orchestrator.ENOTFOUND {
				continue // removed by hand meanwhile
			}
			return nil, err
		}
		if s != nil {
			stats = append(stats, *s)
		}
	}
	return stats, nil
}

// sample reads one container's stats; nil when it is not running.
func (h *Host) sample(ctx context.Context, name string) (*orchestrator.ContainerStats, error) {
	res, err := h.api.ContainerStats(ctx, name, client.ContainerStatsOptions{IncludePreviousSample: true})
	if cerrdefs.IsNotFound(err) {
		// An app placed on this Swarm node: name is its service's, the
		// container its running task's (<service>.<slot>.<task>).
		if id, ok := h.taskContainer(ctx, name); ok {
			res, err = h.api.ContainerStats(ctx, id, client.ContainerStatsOptions{IncludePreviousSample: true})
		}
	}
	if err != nil {
		return nil, h.classify("container stats", "stats of "+name, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("stats of %s: %w", name, err)
	}
	if s.Read.IsZero() || s.PidsStats.Current == 0 && s.CPUStats.CPUUsage.TotalUsage == 0 {
		return nil, nil // a stopped container answers with zeroes
	}
	st := statsOf(s)
	st.Name = name
	return &st, nil
}

// statsOf computes what docker stats shows from one response.
func statsOf(s container.StatsResponse) orchestrator.ContainerStats {
	var st orchestrator.ContainerStats
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta > 0 && sysDelta > 0 {
		st.CPUPercent = cpuDelta / sysDelta * cpus * 100
	}
	// As the docker CLI does: the page cache is not the container's use
	// (cgroup v1 counts it as total_inactive_file, v2 as inactive_file).
	cache := s.MemoryStats.Stats["total_inactive_file"]
	if cache == 0 {
		cache = s.MemoryStats.Stats["inactive_file"]
	}
	if s.MemoryStats.Usage > cache {
		st.MemoryBytes = s.MemoryStats.Usage - cache
	}
	st.MemoryLimit = s.MemoryStats.Limit
	for _, n := range s.Networks {
		st.NetRxBytes += n.RxBytes
		st.NetTxBytes += n.TxBytes
	}
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			st.BlockReadBytes += e.Value
		case "write":
			st.BlockWriteBytes += e.Value
		}
	}
	st.PIDs = s.PidsStats.Current
	return st
}

// swarmServiceLabel is the label Swarm puts on a task's container: its
// service's name.
const swarmServiceLabel = "com.docker.swarm.service.name"

// taskContainer returns the ID of the running container of service's task
// on this engine, if there is one.
func (h *Host) taskContainer(ctx context.Context, service string) (string, bool) {
	list, err := h.api.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", swarmServiceLabel+"="+service)})
	if err != nil || len(list.Items) == 0 {
		return "", false
	}
	return list.Items[0].ID, true
}
