package dockerhost

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
)

// TestHealthOf reads the health check's verdict from API 1.41's status text.
func TestHealthOf(t *testing.T) {
	for status, want := range map[string]string{
		"Up 5 minutes (healthy)":          "healthy",
		"Up 2 seconds (health: starting)": "starting",
		"Up 1 hour (unhealthy)":           "unhealthy",
		"Up 3 minutes":                    "",
		"Exited (0) 2 minutes ago":        "",
	} {
		assert.Equal(t, want, healthOf(status), status)
	}
}

func TestStatsOf(t *testing.T) {
	var s container.StatsResponse
	s.PreCPUStats.CPUUsage.TotalUsage, s.CPUStats.CPUUsage.TotalUsage = 1_000, 51_000
	s.PreCPUStats.SystemUsage, s.CPUStats.SystemUsage = 0, 200_000
	s.CPUStats.OnlineCPUs = 2
	s.MemoryStats.Usage, s.MemoryStats.Limit = 300<<20, 1<<30
	s.MemoryStats.Stats = map[string]uint64{"inactive_file": 100 << 20} // cgroup v2's page cache
	s.Networks = map[string]container.NetworkStats{"eth0": {RxBytes: 10, TxBytes: 20}, "eth1": {RxBytes: 1, TxBytes: 2}}
	s.BlkioStats.IoServiceBytesRecursive = []container.BlkioStatEntry{{Op: "Read", Value: 7}, {Op: "write", Value: 9}, {Op: "Total", Value: 16}}
	s.PidsStats.Current = 4
	st := statsOf(s)
	assert.InDelta(t, 50.0, st.CPUPercent, 1e-9, "50k of 200k system ticks on 2 CPUs")
	assert.Equal(t, uint64(200<<20), st.MemoryBytes, "without the page cache")
	assert.Equal(t, uint64(1<<30), st.MemoryLimit)
	assert.Equal(t, [4]uint64{11, 22, 7, 9}, [4]uint64{st.NetRxBytes, st.NetTxBytes, st.BlockReadBytes, st.BlockWriteBytes})
	assert.Equal(t, uint64(4), st.PIDs)

	s.MemoryStats.Stats = map[string]uint64{"total_inactive_file": 400 << 20} // cgroup v1, more cache than use
	s.PreCPUStats = container.CPUStats{}
	s.CPUStats.SystemUsage = 0
	st = statsOf(s)
	assert.Zero(t, st.MemoryBytes)
	assert.Zero(t, st.CPUPercent, "no previous sample: no share")
}
